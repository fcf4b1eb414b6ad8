"""Turn a study's runs into RD curves, BD-rates over seeds, side-information savings, a report.

For every experiment and seed, the reported-split evaluation of each run (``ttc_report.json``,
the checkpoint chosen on the selection split) gives one RD point; ``ttc rd collect --select
best`` semantics, via :func:`ttc_core.rd.collect.collect_runs`. Then:

- **BD-rate of Proposed vs Baseline** (anchor Baseline; negative = Proposed needs fewer bits)
  with PCHIP and with the classic cubic fit the paper used, per seed, summarised as mean,
  sample standard deviation and range over the seeds where it is defined, together with the
  share of the metric range the two curves have in common;
- **side information**: per enhancement rate point, the Standalone (zeros for ŷ_b) and the
  Continued (true ŷ_b) controls trained for the same steps from the same conditional model;
  their decoders are the same frozen one, so their quality is equal and the saving is a ratio
  of enhancement bits; plus the direct measurement of
  :func:`~ttc_core.study.side_information.side_information_bits` (true vs zeros vs another
  image's ŷ_b) on each conditional model;
- **trivial predictors** beside each task metric (:mod:`ttc_core.study.trivial`).

Everything lands in ``summary.json`` (data) and ``report.md`` (the same as tables).
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..rd.bd import BDError, compare
from ..rd.collect import collect_runs
from ..rd.format import RDCurve, save_rd
from .plan import BASE_METHODS, CONTROL_STAGES, EXPERIMENTS, Experiment, Scale, run_dir

__all__ = [
    "BD_METHODS",
    "CLEAR_MARGIN",
    "Spread",
    "beats_trivial",
    "bd_over_seeds",
    "collect_study",
    "curve_points",
    "render_report",
    "side_information_savings",
    "spread",
    "write_json",
]

BD_METHODS = ("pchip", "cubic")
#: how much better than the trivial predictor a model must be to "clearly" beat it
CLEAR_MARGIN = {"rmse": 0.9, "mIoU": 1.2, "psnr_scalable": 2.0, "psnr_direct": 2.0, "mAP": 0.02}


@dataclass
class Spread:
    """Mean, sample standard deviation and range of a quantity over seeds."""

    values: list[float]
    of: int  #: seeds tried (values may be fewer: undefined for some)
    signed: bool = True  #: a difference (BD-rate, saving) rather than a share

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "min": min(self.values) if self.values else None,
            "max": max(self.values) if self.values else None,
            "values": self.values,
            "defined_for": f"{self.n} of {self.of} seeds",
        }

    def text(self, unit: str = "", digits: int = 1, signed: bool = True) -> str:
        if not self.values:
            return f"n/a (0 of {self.of})"
        sign = "+" if signed else ""

        def num(x: float) -> str:  # a fit that blew up outside its data stays readable
            return f"{x:{sign}.{digits}f}" if abs(x) < 1e4 else f"{x:{sign}.2e}"

        mean = f"{num(self.mean)}{unit}"
        if self.std is None:
            return f"{mean} (1 of {self.of} seeds)"
        lo, hi = min(self.values), max(self.values)
        std = f"{self.std:.{digits}f}" if self.std < 1e4 else f"{self.std:.2e}"
        return f"{mean} ± {std}{unit} [{num(lo)}, {num(hi)}] ({self.n} of {self.of})"


def spread(values: Sequence[float | None], of: int | None = None, signed: bool = True) -> Spread:
    kept = [float(v) for v in values if v is not None and math.isfinite(v)]
    return Spread(kept, len(values) if of is None else of, signed)


def _curve(
    exp: Experiment,
    runs: Sequence[Path],
    name: str,
    metric: str,
    metric_name: str,
    experiment: str,
    scale: float = 1.0,
) -> RDCurve:
    rates = exp.rates
    return collect_runs(
        runs,
        name=name,
        metric=metric,
        metric_name=metric_name,
        metric_scale=scale,
        direction=None,
        bpp=rates.get("bpp"),
        bpp_estimated=rates.get("bpp_estimated"),
        bpp_base=rates.get("bpp_base"),
        bpp_enhancement=rates.get("bpp_enhancement"),
        bpp_base_estimated=rates.get("bpp_base_estimated"),
        bpp_enhancement_estimated=rates.get("bpp_enhancement_estimated"),
        select="best",
        experiment=experiment,
        dataset="generated (ttc data synth), reported split = val",
    )


def _alpha_runs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("alpha_*") if p.is_dir())


def collect_study(scale: Scale, out: Path) -> dict[str, dict[str, dict[int, RDCurve]]]:
    """``{experiment: {variant: {seed: curve}}}`` and the RD JSON files under ``OUT/rd/``.

    Variants: ``Proposed`` / ``Baseline`` for bases (and their ``also`` curves); for
    enhancements ``Proposed`` / ``Baseline`` (conditional, on that base) and
    ``<method> standalone`` / ``<method> continued``.
    """
    curves: dict[str, dict[str, dict[int, RDCurve]]] = {}
    for name in scale.experiments:
        exp = EXPERIMENTS[name]
        for method in BASE_METHODS:
            for seed in scale.seeds:
                stages = ("conditional", *CONTROL_STAGES) if exp.is_enhancement else (None,)
                for stage in stages:
                    slug = f"{method}-base" if exp.is_enhancement else method
                    runs = _alpha_runs(run_dir(out, name, slug, seed, stage))
                    if not runs:
                        continue
                    variant = method if stage in (None, "conditional") else f"{method} {stage}"
                    targets = [(name, exp.metric, exp.metric_name, exp.scale)]
                    if stage is None:
                        targets += [(k, key, stored, 1.0) for k, (key, stored) in exp.also.items()]
                    for tag, key, stored, factor in targets:
                        curve = _curve(exp, runs, variant, key, stored, tag, factor)
                        slug_v = variant.lower().replace(" ", "_")
                        save_rd(curve, out / "rd" / tag / f"{slug_v}_seed{seed}.json")
                        curves.setdefault(tag, {}).setdefault(variant, {})[seed] = curve
    return curves


def bd_over_seeds(
    variants: Mapping[str, Mapping[int, RDCurve]], seeds: Sequence[int]
) -> dict[str, Any]:
    """BD-rate (PCHIP and cubic) of Proposed vs Baseline per seed, and their spread."""
    per_seed: dict[int, dict[str, Any]] = {}
    for seed in seeds:
        anchor = variants.get("Baseline", {}).get(seed)
        test = variants.get("Proposed", {}).get(seed)
        if anchor is None or test is None:
            continue
        row: dict[str, Any] = {}
        for method in BD_METHODS:
            try:
                r = compare(anchor, test, method=method)
            except BDError as err:
                row[method] = {"bd_rate": None, "error": str(err)}
                continue
            row[method] = {
                "bd_rate": r.bd_rate,
                "bd_metric": r.bd_metric,
                "error": r.bd_rate_error,
                "metric_overlap": r.metric_overlap,
                "rate_key": r.rate_key,
                "notes": r.notes,
            }
        per_seed[seed] = row
    summary = {
        method: spread([per_seed[s][method]["bd_rate"] for s in per_seed], len(seeds))
        for method in BD_METHODS
    }
    overlap = spread([per_seed[s]["pchip"].get("metric_overlap") for s in per_seed], len(seeds))
    return {"per_seed": per_seed, "summary": summary, "overlap": overlap}


def side_information_savings(
    variants: Mapping[str, Mapping[int, RDCurve]], method: str, seeds: Sequence[int]
) -> dict[str, Any]:
    """Standalone vs Continued enhancement bits at each rate point, per seed, and the spread.

    Saving = ``1 − bits(Continued) / bits(Standalone)``: positive when the true ŷ_b saves bits.
    """
    per_seed: dict[int, list[dict[str, float]]] = {}
    for seed in seeds:
        alone = variants.get(f"{method} standalone", {}).get(seed)
        cont = variants.get(f"{method} continued", {}).get(seed)
        if alone is None or cont is None:
            continue
        key = (
            "bpp_enhancement" if "bpp_enhancement" in cont.results else "bpp_enhancement_estimated"
        )
        rows = []
        # points are matched by run (the α of the conditional model both started from)
        by_alpha = {_alpha_of(p): i for i, p in enumerate(alone.provenance or [])}
        for j, prov in enumerate(cont.provenance or []):
            i = by_alpha.get(_alpha_of(prov))
            if i is None:
                continue
            a, c = alone.results[key][i], cont.results[key][j]
            rows.append(
                {
                    "alpha": _alpha_of(prov),
                    "bpp_enhancement_standalone": a,
                    "bpp_enhancement_continued": c,
                    "saving": 1.0 - c / a if a > 0 else None,
                    "metric_standalone": alone.results[alone.metric][i],
                    "metric_continued": cont.results[cont.metric][j],
                }
            )
        per_seed[seed] = rows
    means = [
        statistics.fmean([r["saving"] for r in rows if r["saving"] is not None])
        for rows in per_seed.values()
        if any(r["saving"] is not None for r in rows)
    ]
    return {"per_seed": per_seed, "summary": spread(means, len(seeds))}


def _alpha_of(provenance: Mapping[str, Any]) -> str:
    return Path(str(provenance.get("run", ""))).name


def beats_trivial(metric: str, value: float, trivial: float, higher: bool) -> bool:
    """Whether ``value`` clearly beats the trivial predictor's score (:data:`CLEAR_MARGIN`)."""
    margin = CLEAR_MARGIN.get(metric)
    if metric == "rmse":
        return value <= margin * trivial
    if metric == "mIoU":
        return value >= margin * trivial
    if margin is not None:  # additive margins: dB, AP
        return value >= trivial + margin if higher else value <= trivial - margin
    return value > trivial if higher else value < trivial


def _fmt(x: Any, digits: int = 4) -> str:
    return f"{x:.{digits}g}" if isinstance(x, (int, float)) else "n/a"


def render_report(summary: Mapping[str, Any]) -> str:
    """``report.md`` from ``summary.json``'s data."""
    trained = ", ".join(f"`{c}`" for c in summary.get("training_commits") or []) or "unknown"
    lines = [
        f"# ttc evidence study: scale `{summary['scale']}`",
        "",
        f"Command: `{summary['command']}`  ",
        f"Trained at commit: {trained}; report written at `{summary['commit']}`  ",
        f"Seeds: {summary['seeds']}  ",
        f"Wall time: {summary['wall_time_s'] / 60:.1f} min on {summary['machine']}",
        "",
        "Every number is the **reported split** (val), evaluated once per run with the checkpoint",
        "chosen on a **selection split** carved from the training split; `bpp` counts the bits",
        "of real bitstreams. BD-rate: anchor Baseline, test Proposed; negative = Proposed needs",
        "fewer bits. Spread: mean ± sample std [min, max] over seeds (where defined).",
        "",
        "## BD-rate of Proposed vs Baseline",
        "",
        "| experiment | BD-rate, PCHIP [%] | BD-rate, cubic [%] | common metric range [%] |",
        "| --- | --- | --- | --- |",
    ]
    for name, bd in summary["bd_rates"].items():
        lines.append(
            f"| {name} | {bd['pchip']['text']} | {bd['cubic']['text']} | {bd['overlap']['text']} |"
        )
    errors = {
        f"{name}, seed {seed}, {m}": row[m]["error"]
        for name, bd in summary["bd_rates"].items()
        for seed, row in bd["per_seed"].items()
        for m in BD_METHODS
        if row[m].get("error")
    }
    if errors:
        lines += ["", "Where a BD-rate is missing, why:", ""]
        lines += [f"- {k}: {v}" for k, v in errors.items()]
    lines += [
        "",
        "## Side information (enhancement bits saved by the true ŷ_b)",
        "",
        "Standalone (zeros for ŷ_b) and Continued (true ŷ_b) both retrain only the entropy model",
        "of the same conditional model for the same steps; saving = 1 − bits(Continued) /",
        "bits(Standalone), mean over rate points per seed. The measured columns code the",
        "conditional model's ŷ_e with the true ŷ_b, zeros, or another image's ŷ_b (no training).",
        "",
        "| experiment | base | Standalone vs Continued | measured: vs zeros "
        "| measured: vs other ŷ_b |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, by_method in summary["side_information"].items():
        for method, entry in by_method.items():
            lines.append(
                f"| {name} | {method} | {entry['controls']['text']} | "
                f"{entry['measured_zeros']['text']} | {entry['measured_other']['text']} |"
            )
    lines += [
        "",
        "## Task metrics against trivial predictors",
        "",
        "| experiment | metric | trivial predictor | trivial | models | models (min … max) "
        "| all clearly better |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    probes = []
    for name, t in summary["trivial"].items():
        lines.append(
            f"| {name} | {t['metric']} | {t['predictor']} | {_fmt(t['trivial'])} | "
            f"{t.get('models', 'Proposed, Baseline')} | {_fmt(t['min'])} … {_fmt(t['max'])} | "
            f"{'yes' if t['all_beat'] else 'no'} |"
        )
        if t.get("baseline_probe"):
            b = t["baseline_probe"]
            probes.append(f"{name}: {_fmt(b['min'])} … {_fmt(b['max'])}")
    if probes:
        lines += [
            "",
            "The Baseline's direct reconstruction is its probe g_a on a detached ŷ_b: it measures "
            "how much of the image the base keeps, it is not a model of the comparison. Probe "
            f"scores (trivial as above): {'; '.join(probes)}.",
        ]
    pretrained = summary.get("pretrained")
    if pretrained:
        ap = (pretrained.get("box_AP") or {}).get("AP")
        lines += [
            "",
            f"The detection bases (Proposed and Baseline alike) start from a plain detector the "
            f"study pretrained on generated scenes of its own (seed {pretrained['data']['seed']},"
            f" {pretrained['data']['coco'][0]} images; box AP {_fmt(ap)} on its own held-out "
            f"scenes): `{pretrained['config']}`, sha256 `{pretrained['sha256'][:16]}…`, built in "
            f"{pretrained['seconds']['total']:.0f} s"
            + (" (cached from an earlier run)." if pretrained.get("cached") else "."),
        ]
    example = summary.get("example")
    if example:
        h, w = example["input_size"]
        dh, dw = example["decoded_size"]
        lines += [
            "",
            "## Example file",
            "",
            f"`{example['input']}` ({h}×{w}) coded with both layers of `{example['checkpoint']}`"
            f" into {example['bytes']} bytes; `ttc decompress` wrote `{example['decoded']}` "
            f"({dh}×{dw}: the input's size; the enhancement codes half the resolution and the "
            "decoder resizes back, `--coded-size` keeps it).",
            "",
            "```",
            example["info"],
            "```",
        ]
    lines += ["", "## RD points", ""]
    for name, variants in summary["points"].items():
        lines += [f"### {name}", "", "| variant | seed | bpp | bpp_estimated | metric |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for variant, seeds in variants.items():
            for seed, pts in seeds.items():
                for p in pts:
                    lines.append(
                        f"| {variant} | {seed} | {_fmt(p.get('bpp'))} | "
                        f"{_fmt(p.get('bpp_estimated'))} | {_fmt(p['metric'])} |"
                    )
        lines.append("")
    return "\n".join(lines) + "\n"


def write_json(path: Path, data: Any) -> Path:
    def default(obj: Any) -> Any:
        if isinstance(obj, Spread):
            return {**obj.to_json(), "text": obj.text("", 2, signed=obj.signed)}
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=default) + "\n", encoding="utf-8")
    return path


def curve_points(curve: RDCurve) -> list[dict[str, float]]:
    res = curve.results
    return [
        {
            "bpp": res["bpp"][i] if "bpp" in res else None,
            "bpp_estimated": res["bpp_estimated"][i] if "bpp_estimated" in res else None,
            "metric": res[curve.metric][i],
        }
        for i in range(len(curve))
    ]
