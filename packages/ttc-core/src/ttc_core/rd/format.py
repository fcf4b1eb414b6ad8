"""The RD results format: CompressAI's JSON schema, extended.

A result in learned compression is a rate-distortion (RD) curve: one point per trained model
(rate point). ttc stores one curve per file in CompressAI's results schema, so
``python -m compressai.utils.plot -f file.json -m psnr`` reads it unchanged::

    {"name": "Proposed",
     "description": "free text",
     "results": {"bpp": [...], "<metric>": [...], ...}}

ttc adds, all optional when *reading* (a plain CompressAI file loads too), and one rule:

- **Rate vocabulary** (METHOD §8): ``results["bpp"]`` is always the rate of **real
  bitstreams** (bits / coded pixels) and is present only when real bits were coded;
  ``results["bpp_estimated"]`` is the likelihood estimate. Per layer of a scalable codec:
  ``bpp_base``, ``bpp_enhancement`` and their ``_estimated``. The total (base + enhancement,
  METHOD §2) is what ``bpp`` / ``bpp_estimated`` hold for an enhancement-layer curve. A curve
  has at least one of the two; :attr:`RDCurve.rate_key` is the one plotted and used for
  BD-rates (the actual rate when there is one). The paper's curves have estimates only.
- ``"metric"``: the key in ``results`` that the curve is about, and ``"metrics"``:
  ``{key: {"direction": "higher" | "lower", "label": str, "unit": str}}``: which way is better.
- ``"split"``: which split the numbers come from: ``"report"`` (the reported split, evaluated
  once with the checkpoint chosen on a selection split, METHOD §8) or ``"as logged"``.
- provenance: ``"dataset"``, ``"num_images"`` and ``"provenance"``, a list aligned with the
  points (config, checkpoint path and SHA-256, run directory, which evaluation was used, its
  split and how the checkpoint was selected).
- ``"experiment"`` (a tag to group curves), ``"uncompressed"`` (``{metric: value}`` of the task
  on uncompressed input, drawn as a reference line) and ``"format": "ttc-rd/2"``.

**Files of format ``ttc-rd/1``** (ttc 0.1) load unchanged in meaning: where they say
``"bpp_source": "estimated"``, their ``bpp`` (and per-layer) columns were estimates and are
read as ``bpp_estimated`` (and ``bpp_base_estimated``, ...); saving writes ``ttc-rd/2``.
``ttc rd upgrade FILE...`` rewrites them in place.

Unknown top-level keys are kept on load and written back on save.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ESTIMATED_RATE_KEY",
    "FORMAT",
    "KNOWN_METRICS",
    "RATE_KEY",
    "MetricInfo",
    "RDCurve",
    "RDFormatError",
    "common_rate_key",
    "is_rate_key",
    "load_rd",
    "save_rd",
]

FORMAT = "ttc-rd/2"
#: formats this ttc reads (older ones are converted on load)
READABLE_FORMATS = ("ttc-rd/1", FORMAT)

DIRECTIONS = ("higher", "lower")
#: the rate columns: actual (real bitstreams) and the likelihood estimate
RATE_KEY = "bpp"
ESTIMATED_RATE_KEY = "bpp_estimated"


class RDFormatError(ValueError):
    """An RD file is unreadable or does not follow the schema."""


@dataclass(frozen=True)
class MetricInfo:
    """How to read one metric: which way is better, and how to label it."""

    direction: str  #: "higher" or "lower" (is better)
    label: str = ""
    unit: str = ""

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher"

    def axis_label(self, key: str) -> str:
        text = self.label or key
        return f"{text} [{self.unit}]" if self.unit else text

    def to_json(self) -> dict[str, str]:
        out = {"direction": self.direction}
        if self.label:
            out["label"] = self.label
        if self.unit:
            out["unit"] = self.unit
        return out


#: Metrics whose direction ttc knows without being told (CompressAI, Detectron2, MMSeg names).
KNOWN_METRICS: dict[str, MetricInfo] = {
    "psnr-rgb": MetricInfo("higher", "PSNR", "dB"),
    "psnr": MetricInfo("higher", "PSNR", "dB"),
    "psnr_direct": MetricInfo("higher", "PSNR of the direct reconstruction", "dB"),
    "psnr_scalable": MetricInfo("higher", "PSNR of the scalable reconstruction", "dB"),
    "ms-ssim-rgb": MetricInfo("higher", "MS-SSIM"),
    "ms-ssim": MetricInfo("higher", "MS-SSIM"),
    "mAP": MetricInfo("higher", "mAP@[.5:.95]"),
    "bbox/AP": MetricInfo("higher", "box AP"),
    "bbox/AP50": MetricInfo("higher", "box AP50"),
    "bbox/AP75": MetricInfo("higher", "box AP75"),
    "mIoU": MetricInfo("higher", "mIoU"),
    "mAcc": MetricInfo("higher", "mAcc"),
    "aAcc": MetricInfo("higher", "aAcc"),
    "rmse": MetricInfo("lower", "disparity RMSE"),
    "mse": MetricInfo("lower", "MSE"),
    "encoding_time": MetricInfo("lower", "encoding time", "s"),
    "decoding_time": MetricInfo("lower", "decoding time", "s"),
}


def common_rate_key(curves: Sequence[RDCurve]) -> str:
    """The rate column every curve has: ``"bpp"`` (real bits) if all have it, else the estimate.

    Raises :class:`RDFormatError` when some curve has neither (then they cannot be compared).
    """
    if all(RATE_KEY in c.results for c in curves):
        return RATE_KEY
    if all(ESTIMATED_RATE_KEY in c.results for c in curves):
        return ESTIMATED_RATE_KEY
    names = ", ".join(repr(c.name) for c in curves if ESTIMATED_RATE_KEY not in c.results)
    raise RDFormatError(
        f"no rate column is common to all curves: {names} have only real-bitstream 'bpp', "
        "others only 'bpp_estimated'; collect the estimate too (ttc rd collect "
        "--bpp-estimated KEY) or compare like with like"
    )


def is_rate_key(key: str) -> bool:
    """``bpp``, ``bpp_estimated``, ``bpp_base``, ... are rates, not metrics."""
    return key == "bpp" or key.startswith("bpp_")


@dataclass
class RDCurve:
    """One RD curve (one method), as stored in an RD JSON file."""

    name: str
    results: dict[str, list[float]]
    metric: str
    description: str = ""
    metrics: dict[str, MetricInfo] = field(default_factory=dict)
    experiment: str | None = None
    split: str | None = None  #: "report" or "as logged" (which split the numbers come from)
    dataset: str | None = None
    num_images: int | None = None
    provenance: list[dict[str, Any]] | None = None
    uncompressed: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  #: other top-level keys, kept as is
    path: Path | None = field(default=None, compare=False)  #: where it was loaded from

    def __post_init__(self) -> None:
        validate(self)

    def __len__(self) -> int:
        return len(self.results[self.rate_key])

    @property
    def rate_key(self) -> str:
        """``"bpp"`` (real bitstreams) when the curve has it, else ``"bpp_estimated"``."""
        return RATE_KEY if RATE_KEY in self.results else ESTIMATED_RATE_KEY

    @property
    def has_actual_rate(self) -> bool:
        return RATE_KEY in self.results

    def info(self, key: str | None = None) -> MetricInfo | None:
        """Direction and label of ``key`` (default: the curve's metric); None if unknown."""
        key = key or self.metric
        return self.metrics.get(key) or KNOWN_METRICS.get(key)

    def values(self, key: str | None = None) -> list[float]:
        key = key or self.metric
        if key not in self.results:
            available = ", ".join(self.results) or "none"
            raise RDFormatError(f"{self._where()}: no {key!r} in results (available: {available})")
        return list(self.results[key])

    def rate_label(self, key: str | None = None) -> str:
        """Says what a rate column counts: bits of real bitstreams or likelihood estimates."""
        return "estimated" if (key or self.rate_key).endswith("_estimated") else "actual"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        out["format"] = FORMAT
        if self.experiment is not None:
            out["experiment"] = self.experiment
        out["metric"] = self.metric
        out["metrics"] = {k: v.to_json() for k, v in self.metrics.items()}
        if self.split is not None:
            out["split"] = self.split
        out["dataset"] = self.dataset
        out["num_images"] = self.num_images
        if self.uncompressed:
            out["uncompressed"] = dict(self.uncompressed)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        if self.provenance is not None:
            out["provenance"] = self.provenance
        out["results"] = {k: list(v) for k, v in self.results.items()}
        return out

    def _where(self) -> str:
        return str(self.path) if self.path else f"RD curve {self.name!r}"


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def validate(curve: RDCurve) -> None:
    """Raise :class:`RDFormatError` unless ``curve`` follows the schema."""
    where = curve._where()
    if not isinstance(curve.name, str) or not curve.name:
        raise RDFormatError(f"{where}: 'name' must be a non-empty string")
    if not isinstance(curve.results, Mapping):
        raise RDFormatError(f"{where}: 'results' must be an object of lists")
    if RATE_KEY not in curve.results and ESTIMATED_RATE_KEY not in curve.results:
        raise RDFormatError(
            f"{where}: results have neither 'bpp' (real bitstreams) nor 'bpp_estimated' "
            "(likelihood estimate)"
        )
    n = None
    for key, values in curve.results.items():
        if not isinstance(values, Sequence) or isinstance(values, str):
            raise RDFormatError(f"{where}: results[{key!r}] must be a list of numbers")
        bad = [v for v in values if not _is_number(v)]
        if bad:
            raise RDFormatError(
                f"{where}: results[{key!r}] holds non-finite or non-numeric {bad[0]!r}"
            )
        if n is None:
            n = len(values)
        elif len(values) != n:
            raise RDFormatError(
                f"{where}: results lists differ in length "
                f"({key!r} has {len(values)}, others have {n})"
            )
    if not n:
        raise RDFormatError(f"{where}: the curve has no points")
    for key, values in curve.results.items():
        if is_rate_key(key) and any(v < 0 for v in values):
            raise RDFormatError(f"{where}: results[{key!r}] has a negative rate")
    if curve.metric not in curve.results or is_rate_key(curve.metric):
        raise RDFormatError(f"{where}: 'metric' {curve.metric!r} is not a metric in results")
    for key, info in curve.metrics.items():
        if info.direction not in DIRECTIONS:
            raise RDFormatError(
                f"{where}: metrics[{key!r}].direction must be 'higher' or 'lower', "
                f"not {info.direction!r}"
            )
    if curve.split is not None and not isinstance(curve.split, str):
        raise RDFormatError(f"{where}: 'split' must be a string or null")
    if curve.num_images is not None and (
        not isinstance(curve.num_images, int)
        or isinstance(curve.num_images, bool)
        or curve.num_images < 0
    ):
        raise RDFormatError(f"{where}: 'num_images' must be a non-negative integer or null")
    if curve.provenance is not None and (
        not isinstance(curve.provenance, list) or len(curve.provenance) != n
    ):
        raise RDFormatError(f"{where}: 'provenance' must be a list with one entry per point")
    for key, value in curve.uncompressed.items():
        if not _is_number(value):
            raise RDFormatError(f"{where}: uncompressed[{key!r}] must be a number")


_OWN_KEYS = {
    "name",
    "description",
    "format",
    "experiment",
    "metric",
    "metrics",
    "split",
    "dataset",
    "num_images",
    "uncompressed",
    "provenance",
    "results",
}


def _default_metric(results: Mapping[str, Any]) -> str:
    """CompressAI files name no metric: take PSNR if there, else the first non-rate key."""
    keys = [k for k in results if not is_rate_key(k)]
    for preferred in ("psnr-rgb", "psnr"):
        if preferred in keys:
            return preferred
    known = [k for k in keys if k in KNOWN_METRICS and not k.endswith("_time")]
    if known or keys:
        return (known or keys)[0]
    raise RDFormatError("results hold no metric besides rates")


def from_json(data: Any, path: Path | None = None) -> RDCurve:
    """Build an :class:`RDCurve` from parsed JSON (ttc or plain CompressAI)."""
    where = str(path) if path else "RD data"
    if not isinstance(data, Mapping):
        raise RDFormatError(f"{where}: expected a JSON object, got {type(data).__name__}")
    fmt = data.get("format", FORMAT)
    if fmt not in READABLE_FORMATS:
        raise RDFormatError(
            f"{where}: unsupported format {fmt!r} (this ttc reads {', '.join(READABLE_FORMATS)})"
        )
    results = data["results"] if "results" in data else data  # as compressai.utils.plot does
    if not isinstance(results, Mapping):
        raise RDFormatError(f"{where}: 'results' must be an object of lists")
    results = {k: v for k, v in results.items() if k not in _OWN_KEYS or "results" in data}
    bpp_source = data.get("bpp_source", "actual")
    if bpp_source not in ("actual", "estimated"):
        raise RDFormatError(
            f"{where}: 'bpp_source' must be 'actual' or 'estimated' (format ttc-rd/1), "
            f"not {bpp_source!r}"
        )
    if bpp_source == "estimated":
        results = _estimated_v1_columns(results)
    try:
        metric = data.get("metric") or _default_metric(results)
    except RDFormatError as err:
        raise RDFormatError(f"{where}: {err}") from None
    raw_metrics = data.get("metrics", {})
    if not isinstance(raw_metrics, Mapping):
        raise RDFormatError(f"{where}: 'metrics' must be an object")
    metrics = {}
    for key, spec in raw_metrics.items():
        if not isinstance(spec, Mapping) or "direction" not in spec:
            raise RDFormatError(f"{where}: metrics[{key!r}] needs a 'direction'")
        metrics[key] = MetricInfo(
            str(spec["direction"]), str(spec.get("label", "")), str(spec.get("unit", ""))
        )
    name = data.get("name") or (path.name.split(".")[0] if path else "")
    uncompressed = data.get("uncompressed") or {}
    if not isinstance(uncompressed, Mapping):
        raise RDFormatError(f"{where}: 'uncompressed' must be an object {{metric: value}}")
    return RDCurve(
        name=name,
        results={k: list(v) if isinstance(v, (list, tuple)) else v for k, v in results.items()},
        metric=metric,
        description=str(data.get("description", "")),
        metrics=metrics,
        experiment=data.get("experiment"),
        split=data.get("split"),
        dataset=data.get("dataset"),
        num_images=data.get("num_images"),
        provenance=data.get("provenance"),
        uncompressed=dict(uncompressed),
        extra={k: v for k, v in data.items() if k not in _OWN_KEYS and k != "bpp_source"},
        path=path,
    )


def _estimated_v1_columns(results: Mapping[str, Any]) -> dict[str, Any]:
    """A ttc-rd/1 curve with ``bpp_source: "estimated"``: its rate columns were estimates.

    ``bpp`` → ``bpp_estimated`` (kept as it is when that column exists: then the two were the
    same numbers), ``bpp_base`` → ``bpp_base_estimated``, ``bpp_enhancement`` →
    ``bpp_enhancement_estimated``. Nothing is left under a name that means real bits.
    """
    out = dict(results)
    for key in [k for k in out if is_rate_key(k) and not k.endswith("_estimated")]:
        values = out.pop(key)
        out.setdefault(f"{key}_estimated", values)
    return out


def load_rd(path: str | Path) -> RDCurve:
    """Read and validate one RD JSON file; :class:`RDFormatError` says what is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RDFormatError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RDFormatError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None
    return from_json(data, path)


def save_rd(curve: RDCurve, path: str | Path) -> Path:
    """Validate and write ``curve`` as JSON (creating parent directories)."""
    validate(curve)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(curve.to_json()) + "\n", encoding="utf-8")
    return path


# a list of numbers as json.dumps(indent=...) writes it; strings cannot hold a raw newline
_NUMBER_LIST = re.compile(r"\[\n\s*(-?[0-9][-+0-9.eE,\s]*?)\n\s*\]")


def dumps(data: Mapping[str, Any]) -> str:
    """JSON text with two-space indentation and lists of numbers kept on one line (ASCII only,
    so any locale's default encoding reads it)."""
    text = json.dumps(data, indent=2)
    return _NUMBER_LIST.sub(
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text
    )
