"""Bjøntegaard deltas (BD-rate, BD-metric) between RD curves, with the pitfalls made explicit.

BD-rate is the average relative rate difference of a *test* curve against an *anchor* curve
at equal quality, averaged over the quality interval both curves cover (Bjøntegaard, VCEG-M33,
2001). Negative means the test needs fewer bits. BD-metric is the average metric difference
(test − anchor, in the metric's own units) at equal rate, over the common log-rate interval.
In de Andrade & Bajić, "Towards Task-Compatible Compressible Representations" (ICME 2024
workshops), the anchor is the Baseline (β = 0) and the test the Proposed model (METHOD §5).

The fits come from the ``bjontegaard`` package (FAU), called with the curves prepared so that
it cannot fail in obscure ways:

- ``cubic``: the classic least-squares cubic polynomial of log-rate over the metric (what the
  paper's reference code used). It needs at least 4 points (a cubic has 4 coefficients; with
  fewer ``numpy.polyfit`` is under-determined).
- ``pchip`` and ``akima``: piecewise interpolation (MPEG / JVET practice). They need at least
  2 points, and they interpolate rate *as a function of the metric*, so the metric must
  improve strictly as the rate grows; otherwise scipy raises "`x` must be strictly increasing
  sequence". ttc checks this first. A point that is no better than a point with fewer (or as
  many) bits is *dominated*; by default (``non_monotonic="pareto"``) ttc drops dominated points
  (keeping the Pareto front) and says which; ``"cubic"`` switches the pair to the cubic fit,
  which takes all points as given; ``"error"`` refuses.

Lower-is-better metrics (e.g. disparity RMSE) are negated before fitting, so that in every case
the fitted quality increases with the rate and negative BD-rate still means "fewer bits for the
same quality"; BD-metric is reported back in the metric's own units and sign (for RMSE a
negative BD-metric means the test is better).

Curves that do not overlap in the metric have no BD-rate: :class:`NoOverlapError` names both
ranges. This matters for the paper: its direct-reconstruction curves on Cityscapes do not
overlap (Baseline PSNR ≤ 28.0 dB, Proposed ≥ 29.3 dB), yet the authors' slides report
"85 %". That number is what the classic cubic formula returns when it integrates between
max(min PSNR) = 29.3 dB and min(max PSNR) = 28.0 dB, an interval outside the common range of the
data (there is none), where both cubic fits are extrapolated: −84.8 % with the points in
``results/paper/``. It is an artefact of the formula, not a measured saving; ttc reports "no
overlap" instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .format import RDFormatError, common_rate_key

if TYPE_CHECKING:
    from .format import RDCurve

__all__ = [
    "METHODS",
    "MIN_POINTS",
    "NON_MONOTONIC_POLICIES",
    "BDError",
    "BDResult",
    "NoOverlapError",
    "NonMonotonicError",
    "TooFewPointsError",
    "bd_metric",
    "bd_rate",
    "compare",
    "compare_many",
    "format_table",
]

METHODS = ("pchip", "akima", "cubic")
#: fewest points per curve each fit accepts
MIN_POINTS = {"pchip": 2, "akima": 2, "cubic": 4}
NON_MONOTONIC_POLICIES = ("pareto", "cubic", "error")
#: bjontegaard's own threshold for warning about a small overlap
_SMALL_OVERLAP = 0.75


class BDError(ValueError):
    """A BD value cannot be computed for these curves; the message says why."""


class TooFewPointsError(BDError):
    """A curve has fewer points than the fit needs."""


class NoOverlapError(BDError):
    """The curves share no interval of the integration variable."""


class NonMonotonicError(BDError):
    """A curve's metric does not improve strictly with the rate (and the policy is "error")."""


@dataclass
class _Points:
    role: str  #: "anchor" or "test"
    name: str
    rate: np.ndarray
    metric: np.ndarray  #: as given
    score: np.ndarray  #: oriented so that higher is better

    @property
    def label(self) -> str:
        return f"{self.role} {self.name!r}"

    def subset(self, keep: np.ndarray) -> _Points:
        return _Points(self.role, self.name, self.rate[keep], self.metric[keep], self.score[keep])


def _points(
    role: str, name: str, rate: Sequence[float], metric: Sequence[float], higher_is_better: bool
) -> _Points:
    r = np.asarray(rate, dtype=float).ravel()
    m = np.asarray(metric, dtype=float).ravel()
    if r.size != m.size:
        raise BDError(f"{role} {name!r}: {r.size} rates but {m.size} metric values")
    if r.size == 0:
        raise TooFewPointsError(f"{role} {name!r} has no points")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(m))):
        raise BDError(f"{role} {name!r} has non-finite values")
    if np.any(r <= 0):
        raise BDError(f"{role} {name!r} has a rate <= 0; BD values use log-rates")
    return _Points(role, name, r, m, m if higher_is_better else -m)


def _dominated(p: _Points) -> list[tuple[int, int]]:
    """(dominated, dominating) index pairs: points no better than one with ≤ bits."""
    order = np.lexsort((-p.score, p.rate))  # rate ascending, then best score first
    out: list[tuple[int, int]] = []
    best = -1
    for i in order:
        if best >= 0 and p.score[i] <= p.score[best]:
            out.append((int(i), int(best)))
        else:
            best = int(i)
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _signed(x: float, spec: str) -> str:
    text = f"{x:{spec}}"
    return "+" + text[1:] if text.lstrip("-+0.") == "" and text.startswith("-") else text


def _describe(p: _Points, pairs: list[tuple[int, int]], metric_name: str) -> str:
    parts = [
        f"({_fmt(p.rate[i])} bpp, {metric_name} {_fmt(p.metric[i])}) is no better than "
        f"({_fmt(p.rate[j])} bpp, {_fmt(p.metric[j])})"
        for i, j in pairs
    ]
    return "; ".join(parts)


def _prepare(
    anchor: _Points,
    test: _Points,
    method: str,
    non_monotonic: str,
    metric_name: str,
    direction: str,
) -> tuple[_Points, _Points, str, list[str]]:
    """Check the pair for ``method``; return the points to fit, the fit used and notes."""
    if method not in METHODS:
        raise BDError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if non_monotonic not in NON_MONOTONIC_POLICIES:
        raise BDError(
            f"unknown non-monotonic policy {non_monotonic!r}; "
            f"choose one of {', '.join(NON_MONOTONIC_POLICIES)}"
        )
    notes: list[str] = []
    used = method
    bad = {p.role: _dominated(p) for p in (anchor, test)}
    flagged = [p for p in (anchor, test) if bad[p.role]]
    what = [
        f"{p.label} is not monotonic: {_describe(p, bad[p.role], metric_name)}." for p in flagged
    ]
    if flagged and method == "cubic":
        notes += what
        notes.append(
            "The cubic fit is a least-squares polynomial and uses all points as given, as the "
            "classic Bjontegaard computation does."
        )
    elif flagged and non_monotonic == "error":
        raise NonMonotonicError(
            f"{' '.join(what)} {method} interpolates rate as a function of {metric_name} "
            f"({direction} is better) and needs the metric to improve strictly with the rate; "
            "drop the dominated points (non-monotonic policy 'pareto') or use the cubic fit"
        )
    elif flagged and non_monotonic == "cubic":
        used = "cubic"
        notes += what
        notes.append(
            f"{method} needs the metric to improve strictly with the rate, so this pair uses "
            "the cubic least-squares fit on all points instead."
        )
    elif flagged:
        dropped = []
        for p in flagged:
            drop = {i for i, _ in bad[p.role]}
            keep = np.array([i not in drop for i in range(p.rate.size)])
            dropped.append(f"{len(drop)} from {p.label}")
            if p is anchor:
                anchor = p.subset(keep)
            else:
                test = p.subset(keep)
        notes += what
        notes.append(
            f"{method} needs the metric to improve strictly with the rate, so the dominated "
            f"points were dropped before fitting ({', '.join(dropped)}); the Pareto front is kept."
        )
    need = MIN_POINTS[used]
    for p, orig in ((anchor, bad[anchor.role]), (test, bad[test.role])):
        if p.rate.size < need:
            hint = ""
            if orig and p.rate.size == 1:
                better = "lower" if direction == "higher" else "higher"
                hint = (
                    f" (its {metric_name} gets worse as the rate grows: is the direction right? "
                    f"it was taken as {direction} is better, not {better})"
                )
            left = " left after dropping dominated points" if orig and used != "cubic" else ""
            raise TooFewPointsError(
                f"{p.label} has {p.rate.size} point(s){left}; the {used} fit needs at least "
                f"{need}{hint}"
            )
    return anchor, test, used, notes


def _call(
    fn: Any,
    a_rate: np.ndarray,
    a_val: np.ndarray,
    t_rate: np.ndarray,
    t_val: np.ndarray,
    method: str,
) -> float:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = fn(
                a_rate, a_val, t_rate, t_val, method, require_matching_points=False, min_overlap=0
            )
        except (ValueError, AssertionError, np.linalg.LinAlgError) as err:
            raise BDError(f"the {method} fit failed: {err or type(err).__name__}") from None
    value = float(value)
    if not math.isfinite(value):
        raise BDError(f"the {method} fit gave a non-finite value")
    return value


def _metric_overlap(a: _Points, t: _Points, metric_name: str) -> tuple[float, float, float]:
    """Common score interval and its share of the combined range; NoOverlapError if none."""
    lo = max(a.score.min(), t.score.min())
    hi = min(a.score.max(), t.score.max())
    if not hi > lo:
        raise NoOverlapError(
            f"the curves do not overlap in {metric_name}: {a.label} spans "
            f"{_fmt(a.metric.min())} to {_fmt(a.metric.max())}, {t.label} spans "
            f"{_fmt(t.metric.min())} to {_fmt(t.metric.max())}; BD-rate compares rates at "
            "equal quality and is undefined without a common range (extrapolating the fits "
            "gives arbitrary numbers)"
        )
    span = max(a.score.max(), t.score.max()) - min(a.score.min(), t.score.min())
    return lo, hi, (hi - lo) / span


def _rate_overlap(a: _Points, t: _Points) -> tuple[float, float, float]:
    la, lt = np.log10(a.rate), np.log10(t.rate)
    lo, hi = max(la.min(), lt.min()), min(la.max(), lt.max())
    if not hi > lo:
        raise NoOverlapError(
            f"the curves do not overlap in rate: {a.label} spans {_fmt(a.rate.min())} to "
            f"{_fmt(a.rate.max())} bpp, {t.label} spans {_fmt(t.rate.min())} to "
            f"{_fmt(t.rate.max())} bpp; BD-metric is undefined without a common rate range"
        )
    span = max(la.max(), lt.max()) - min(la.min(), lt.min())
    return 10**lo, 10**hi, (hi - lo) / span


def _bd_rate(a: _Points, t: _Points, method: str, metric_name: str) -> float:
    import bjontegaard

    _metric_overlap(a, t, metric_name)
    oa, ot = np.argsort(a.score, kind="stable"), np.argsort(t.score, kind="stable")
    return _call(bjontegaard.bd_rate, a.rate[oa], a.score[oa], t.rate[ot], t.score[ot], method)


def _bd_metric(a: _Points, t: _Points, method: str, higher_is_better: bool) -> float:
    import bjontegaard

    _rate_overlap(a, t)
    oa, ot = np.argsort(a.rate, kind="stable"), np.argsort(t.rate, kind="stable")
    value = _call(bjontegaard.bd_psnr, a.rate[oa], a.score[oa], t.rate[ot], t.score[ot], method)
    return (value if higher_is_better else -value) + 0.0  # no "-0"


def bd_rate(
    rate_anchor: Sequence[float],
    metric_anchor: Sequence[float],
    rate_test: Sequence[float],
    metric_test: Sequence[float],
    *,
    method: str = "pchip",
    higher_is_better: bool = True,
    non_monotonic: str = "pareto",
) -> float:
    """BD-rate in percent of the test curve against the anchor (negative = fewer bits).

    Raises :class:`BDError` (or a subclass) with an explanation when it cannot be computed.
    """
    direction = "higher" if higher_is_better else "lower"
    a = _points("anchor", "anchor", rate_anchor, metric_anchor, higher_is_better)
    t = _points("test", "test", rate_test, metric_test, higher_is_better)
    a, t, used, _ = _prepare(a, t, method, non_monotonic, "metric", direction)
    return _bd_rate(a, t, used, "metric")


def bd_metric(
    rate_anchor: Sequence[float],
    metric_anchor: Sequence[float],
    rate_test: Sequence[float],
    metric_test: Sequence[float],
    *,
    method: str = "pchip",
    higher_is_better: bool = True,
    non_monotonic: str = "pareto",
) -> float:
    """Mean metric difference test − anchor at equal rate (BD-PSNR for PSNR), metric units."""
    direction = "higher" if higher_is_better else "lower"
    a = _points("anchor", "anchor", rate_anchor, metric_anchor, higher_is_better)
    t = _points("test", "test", rate_test, metric_test, higher_is_better)
    a, t, used, _ = _prepare(a, t, method, non_monotonic, "metric", direction)
    return _bd_metric(a, t, used, higher_is_better)


@dataclass
class BDResult:
    """BD values of one test curve against an anchor, or the reasons they are missing."""

    anchor: str
    test: str
    metric: str
    higher_is_better: bool
    rate_key: str
    method: str  #: requested fit
    method_used: str  #: fit actually used (differs under the "cubic" non-monotonic policy)
    bd_rate: float | None = None  #: percent; negative = fewer bits at equal quality
    bd_metric: float | None = None  #: test − anchor at equal rate, in metric units
    metric_interval: tuple[float, float] | None = None  #: common metric range (as given)
    metric_overlap: float | None = None  #: its share of the combined metric range
    bd_rate_error: str | None = None
    bd_metric_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.bd_rate is not None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _direction_of(
    anchor: RDCurve, test: RDCurve, metric: str, higher_is_better: bool | None
) -> bool:
    if higher_is_better is not None:
        return higher_is_better
    infos = [(c, c.info(metric)) for c in (anchor, test)]
    known = [(c, i) for c, i in infos if i is not None]
    if not known:
        raise BDError(
            f"the direction of metric {metric!r} is unknown (neither file states it); "
            "say whether higher or lower is better"
        )
    dirs = {i.direction for _, i in known}
    if len(dirs) > 1:
        raise BDError(
            f"the files disagree on the direction of {metric!r}: "
            + ", ".join(f"{c.name!r} says {i.direction} is better" for c, i in known)
        )
    return known[0][1].higher_is_better


def compare(
    anchor: RDCurve,
    test: RDCurve,
    *,
    method: str = "pchip",
    metric: str | None = None,
    rate_key: str | None = None,
    higher_is_better: bool | None = None,
    non_monotonic: str = "pareto",
) -> BDResult:
    """BD-rate and BD-metric of ``test`` against ``anchor`` (two :class:`RDCurve` objects).

    Setup problems (a missing key, an unknown metric direction, a bad option) raise
    :class:`BDError`; problems of the data (too few points, no overlap, a non-monotonic curve
    under the "error" policy) are reported in the result's ``*_error`` fields and ``notes``.
    """
    metric = metric or anchor.metric
    if rate_key is None:  # real bits when both curves have them, else the estimate
        try:
            rate_key = common_rate_key([anchor, test])
        except RDFormatError as err:
            raise BDError(str(err)) from None
    for curve in (anchor, test):
        for key in (rate_key, metric):
            if key not in curve.results:
                where = curve.path or curve.name
                raise BDError(
                    f"{where}: no {key!r} in results (available: {', '.join(curve.results)})"
                )
    higher = _direction_of(anchor, test, metric, higher_is_better)
    direction = "higher" if higher else "lower"
    info = anchor.info(metric) or test.info(metric)
    metric_name = info.label if info and info.label else metric
    result = BDResult(anchor.name, test.name, metric, higher, rate_key, method, method)
    if anchor.rate_label(rate_key) != test.rate_label(rate_key):
        result.notes.append(
            f"the anchor's {rate_key} are {anchor.rate_label(rate_key)} bits and the test's "
            f"{test.rate_label(rate_key)} bits; the BD values mix the two."
        )
    a = _points("anchor", anchor.name, anchor.results[rate_key], anchor.results[metric], higher)
    t = _points("test", test.name, test.results[rate_key], test.results[metric], higher)
    try:
        a, t, used, notes = _prepare(a, t, method, non_monotonic, metric_name, direction)
    except BDError as err:
        if isinstance(err, (TooFewPointsError, NonMonotonicError)):
            result.bd_rate_error = result.bd_metric_error = str(err)
            return result
        raise
    result.method_used = used
    result.notes += notes
    try:
        lo, hi, share = _metric_overlap(a, t, metric_name)
        result.metric_interval = (lo, hi) if higher else (-hi, -lo)
        result.metric_overlap = share
        if share < _SMALL_OVERLAP:
            result.notes.append(
                f"the curves share only {share:.0%} of their combined {metric_name} range; "
                "BD-rate averages over that common part only."
            )
        result.bd_rate = _bd_rate(a, t, used, metric_name)
    except BDError as err:
        result.bd_rate_error = str(err)
    try:
        result.bd_metric = _bd_metric(a, t, used, higher)
    except BDError as err:
        result.bd_metric_error = str(err)
    return result


def compare_many(anchor: RDCurve, tests: Sequence[RDCurve], **kwargs: Any) -> list[BDResult]:
    """:func:`compare` for several test curves against one anchor."""
    return [compare(anchor, t, **kwargs) for t in tests]


def format_table(results: Sequence[BDResult], anchor: RDCurve | None = None) -> str:
    """A plain-text table of BD results against one anchor, with notes and reasons."""
    if not results:
        return ""
    first = results[0]
    metric = first.metric
    info = anchor.info(metric) if anchor is not None else None
    unit = f" [{info.unit}]" if info and info.unit else ""
    direction = "higher" if first.higher_is_better else "lower"
    bits = f" ({anchor.rate_label(first.rate_key)} bits)" if anchor is not None else ""
    where = f" ({anchor.path})" if anchor is not None and anchor.path else ""
    lines = [
        f"anchor: {first.anchor}{where}",
        f"metric: {metric} ({direction} is better), rate: {first.rate_key}{bits}, "
        f"fit: {first.method}",
        "",
    ]
    header = ["test", "BD-rate [%]", f"BD-{metric}{unit}", f"common {metric} range", "fit"]
    rows = [header]
    footnotes: list[str] = []

    def mark(text: str) -> str:
        footnotes.append(text)
        return f"n/a [{len(footnotes)}]"

    for r in results:
        if r.bd_rate is not None:
            rate = _signed(r.bd_rate, "+.1f")
        else:
            rate = mark(f"{r.test}: {r.bd_rate_error}")
        if r.bd_metric is not None:
            met = _signed(r.bd_metric, "+.4g")
        elif r.bd_metric_error == r.bd_rate_error:
            met = "n/a"
        else:
            met = mark(f"{r.test}: {r.bd_metric_error}")
        span = (
            f"{_fmt(r.metric_interval[0])} to {_fmt(r.metric_interval[1])} ({r.metric_overlap:.0%})"
            if r.metric_interval is not None and r.metric_overlap is not None
            else "-"
        )
        rows.append([r.test, rate, met, span, r.method_used])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    lines.append("")
    lines.append(
        f"BD-rate < 0: the test needs fewer bits for the same {metric}. "
        f"BD-{metric}: mean {metric} difference (test - anchor) at equal rate."
    )
    if footnotes:
        lines.append("not computed:")
        lines += [f"  [{i}] {text}" for i, text in enumerate(footnotes, 1)]
    notes: dict[str, list[str]] = {}
    for r in results:
        for note in r.notes:
            notes.setdefault(note, []).append(r.test)
    if notes:
        lines.append("notes:")
        lines += [f"  {', '.join(tests)}: {note}" for note, tests in notes.items()]
    return "\n".join(lines)
