"""RD figures: one curve per method, optionally the paper's points and an "uncompressed" line.

Draws RD curves as in de Andrade & Bajić, "Towards Task-Compatible Compressible
Representations" (ICME 2024 workshops): rate in bits per pixel on x, the task metric on y,
one marker per trained rate point. The x label says whether the rates count real bitstream
bits or likelihood estimates (METHOD §5); when curves mix the two, each legend entry says it.
Curves read off the paper (``--paper``) are drawn dashed with open markers, in the colour of
the own curve of the same name if there is one.

matplotlib is imported only inside :func:`plot_rd`, with the Agg canvas (no display needed,
no pyplot state).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .format import RDCurve, RDFormatError

__all__ = ["FORMATS", "plot_rd"]

FORMATS = (".png", ".pdf", ".svg")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")
_RATE_WORDS = {"actual": "actual bits", "estimated": "estimated from likelihoods"}


def plot_rd(
    curves: Sequence[RDCurve],
    output: str | Path,
    *,
    paper: Sequence[RDCurve] = (),
    metric: str | None = None,
    rate_key: str | None = None,
    uncompressed: float | None = None,
    uncompressed_label: str = "uncompressed",
    title: str | None = None,
    logx: bool = False,
    figsize: tuple[float, float] = (6.4, 4.8),
    dpi: int = 150,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Write an RD plot of ``curves`` (and ``paper`` overlays) to ``output`` (.png/.pdf/.svg).

    ``metric`` defaults to the first curve's metric and must be in every curve. ``rate_key``
    defaults to each curve's own (:attr:`RDCurve.rate_key`: real bits where it has them, else the
    estimate; the legend says which when they are mixed). The
    uncompressed reference line is ``uncompressed`` if given, else the curves' own
    ``"uncompressed"`` values for the metric. Raises :class:`ValueError` on bad input.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    output = Path(output)
    if output.suffix.lower() not in FORMATS:
        raise ValueError(f"{output}: unsupported figure format; use one of {', '.join(FORMATS)}")
    everything = [*curves, *paper]
    if not everything:
        raise ValueError("nothing to plot: give at least one RD curve")
    metric = metric or everything[0].metric

    def rate_of(curve: RDCurve) -> str:
        return rate_key or curve.rate_key

    for curve in everything:
        for key in (rate_of(curve), metric):
            if key not in curve.results:
                raise RDFormatError(
                    f"{curve.path or curve.name}: no {key!r} in results "
                    f"(available: {', '.join(curve.results)})"
                )
    info = next((c.info(metric) for c in everything if c.info(metric)), None)
    ylabel = info.axis_label(metric) if info else metric
    if info:
        ylabel += f" ({info.direction} is better)"
    sources = {c.rate_label(rate_of(c)) for c in everything}
    mixed = len(sources) > 1
    rate_name = "rate" if rate_key in (None, "bpp", "bpp_estimated") else rate_key.replace("_", " ")
    xlabel = f"{rate_name} [bpp]" if mixed else f"{rate_name} [bpp, {_RATE_WORDS[sources.pop()]}]"

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    colours: dict[str, str] = {}
    cycle = [f"C{i}" for i in range(10)]

    def draw(curve: RDCurve, index: int, is_paper: bool) -> None:
        pairs = sorted(zip(curve.results[rate_of(curve)], curve.results[metric], strict=True))
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        colour = colours.get(curve.name) if is_paper else None
        if colour is None:
            colour = cycle[len(colours) % len(cycle)]
            colours.setdefault(curve.name, colour)
        label = f"{curve.name} (paper)" if is_paper else curve.name
        if mixed:
            label += f", {curve.rate_label(rate_of(curve))} bpp"
        ax.plot(
            xs,
            ys,
            label=label,
            color=colour,
            marker=_MARKERS[index % len(_MARKERS)],
            markersize=6,
            linestyle="--" if is_paper else "-",
            linewidth=1.2 if is_paper else 1.6,
            markerfacecolor="none" if is_paper else colour,
        )

    for i, curve in enumerate(curves):
        draw(curve, i, False)
    for i, curve in enumerate(paper):
        draw(curve, len(curves) + i, True)

    references = (
        [uncompressed]
        if uncompressed is not None
        else sorted({c.uncompressed[metric] for c in everything if metric in c.uncompressed})
    )
    for j, value in enumerate(references):
        ax.axhline(
            value,
            color="0.35",
            linestyle=":",
            linewidth=1.4,
            label=uncompressed_label if j == 0 else None,
        )

    if title is None:
        experiments = {c.experiment for c in everything}
        if len(experiments) == 1 and None not in experiments:
            title = str(experiments.pop()).replace("_", " ")
    if title:
        ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if xlim:
        ax.set_xlim(*xlim)
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(True, which="major", alpha=0.4)
    ax.grid(True, which="minor", alpha=0.15)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    return output
