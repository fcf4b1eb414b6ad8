"""Collect the evaluation logs of several training runs (one run per rate point) into an RD curve.

de Andrade & Bajić, "Towards Task-Compatible Compressible Representations" (ICME 2024
workshops) train one model per rate point (METHOD §4); an RD curve is one evaluation of each.
This module reads what the frameworks already write, so no extra evaluation format is needed.

Input of one run (a directory, or directly a results file):

- **Detectron2**: ``{OUTPUT_DIR}/metrics.json``, JSON lines, one dict per logging step; the
  lines written after an evaluation carry its results (``"bbox/AP"``, the adapter's ``"bpp"``,
  ...) and ``"iteration"``.
- **MMEngine / MMSegmentation**: ``{work_dir}/{timestamp}/vis_data/scalars.json`` (JSON lines
  of training and validation scalars, with ``"step"``) and ``{work_dir}/{timestamp}/
  {timestamp}.json`` (one JSON dict, written by ``tools/test.py``); timestamps are
  ``YYYYMMDD_HHMMSS`` and are read in chronological order.
- anything else: name the file(s) with ``results_files`` (globs relative to the run
  directory). A file may hold one JSON dict, a JSON list of dicts, or JSON lines of dicts.
  Nested dicts are flattened with ``/`` (``{"bbox": {"AP": 40}}`` gives ``"bbox/AP"``).

An *evaluation* is a record that holds every requested key (metric and rates) as a finite
number. Selection rule per run (``select``):

- ``"last"`` (default): the last evaluation, in file order (the final model), as logged;
- ``"best"``: the checkpoint chosen on the **selection split** (carved from the training split,
  :mod:`ttc_core.selection`), evaluated once on the **reported split**: the run's
  ``ttc_report.json``, which both adapters write at the end of training (METHOD §8). The
  checkpoint was chosen by the selection metric (``selection/<metric>``); the numbers stored
  are the reported split's. A run without a report is an error: choosing the best of the
  reported split's own evaluations would make every point optimistic, so ttc does not offer it.

The curve records ``"split"`` (``"report"`` with ``best``, ``"as logged"`` with ``last``) and
each point's provenance its split and how its checkpoint was selected.

Checkpoint of the selected evaluation, first rule that applies:

1. the record's own ``"checkpoint"`` value (a path, relative to the run directory or absolute);
2. a checkpoint file (``*.pth``, ``*.pt``, ``*.ckpt``) in the run directory whose name ends in
   the record's iteration (``"iteration"``, ``"iter"``, ``"step"`` or ``"epoch"``): Detectron2's
   ``model_0004999.pth`` for iteration 4999, MMEngine's ``iter_8000.pth`` for step 8000;
3. for the run's last evaluation only: ``model_final.pth``, else the file named in
   ``last_checkpoint`` (both frameworks write one; a relative name is looked up in the run
   directory, then by its file name alone);
4. none: the provenance says ``null``.

Config of a run: ``config.yaml`` (Detectron2), else the only ``*.py`` at the top of the run
directory (MMEngine's dump). Checkpoints and configs are identified by SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..selection import REPORT_FILE, read_report
from .format import KNOWN_METRICS, MetricInfo, RDCurve, is_rate_key

__all__ = [
    "ITERATION_KEYS",
    "SELECT_RULES",
    "CollectError",
    "Record",
    "collect_runs",
    "find_checkpoint",
    "find_config",
    "read_records",
    "result_files",
    "select_record",
]

ITERATION_KEYS = ("iteration", "iter", "step", "epoch")
SELECT_RULES = ("last", "best")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt")
_TIMESTAMP = re.compile(r"\d{8}_\d{6}")
_TRAILING_INT = re.compile(r"(\d+)$")


class CollectError(ValueError):
    """The runs' evaluation outputs cannot be turned into an RD curve; the message says why."""


@dataclass
class Record:
    """One evaluation-log entry: its flattened values and where it came from."""

    values: dict[str, Any]
    file: Path
    line: int  #: 1-based line of a JSON-lines file; 0 for a whole-file JSON document

    @property
    def iteration(self) -> int | None:
        for key in ITERATION_KEYS:
            value = self.values.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
        return None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else str(self.file)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}/"))
        else:
            out[name] = value
    return out


def read_records(path: str | Path) -> list[Record]:
    """Records of one results file: a JSON dict, a JSON list of dicts, or JSON lines."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise CollectError(f"{path}: cannot read ({err.strerror or err})") from None
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    else:
        items = data if isinstance(data, list) else [data]
        if not all(isinstance(item, Mapping) for item in items):
            raise CollectError(f"{path}: expected JSON objects (dicts) of results")
        return [Record(_flatten(item), path, 0) for item in items]
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise CollectError(f"{path}:{number}: not a JSON line ({err.msg})") from None
        if not isinstance(item, Mapping):
            raise CollectError(f"{path}:{number}: expected a JSON object, got {line[:40]!r}")
        records.append(Record(_flatten(item), path, number))
    return records


def result_files(run: str | Path, patterns: Sequence[str] | None = None) -> list[Path]:
    """The results files of one run, in reading order (see the module docstring)."""
    run = Path(run)
    if run.is_file():
        return [run]
    if not run.is_dir():
        raise CollectError(f"{run}: no such run directory or results file")
    files: list[Path] = []
    if patterns:
        for pattern in patterns:
            files += [p for p in sorted(run.glob(pattern)) if p.is_file() and p not in files]
        if not files:
            raise CollectError(f"{run}: no file matches {', '.join(patterns)}")
        return files
    if (run / "metrics.json").is_file():
        files.append(run / "metrics.json")
    stamps = sorted(d for d in run.iterdir() if d.is_dir() and _TIMESTAMP.fullmatch(d.name))
    for stamp in stamps:
        for candidate in (stamp / "vis_data" / "scalars.json", stamp / f"{stamp.name}.json"):
            if candidate.is_file():
                files.append(candidate)
    if not files:
        raise CollectError(
            f"{run}: no evaluation results found (looked for metrics.json, "
            "<timestamp>/vis_data/scalars.json and <timestamp>/<timestamp>.json); "
            "name the file with --results-file"
        )
    return files


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def report_record(run: str | Path, keys: Sequence[str]) -> tuple[Record, dict[str, Any]]:
    """The reported-split evaluation of ``run`` (its ``ttc_report.json``) and the raw report."""
    run = Path(run)
    folder = run.parent if run.is_file() else run
    try:
        report = read_report(folder)
    except (ValueError, OSError) as err:
        raise CollectError(f"{folder}: unreadable {REPORT_FILE}: {err}") from None
    if report is None:
        raise CollectError(
            f"{folder}: no {REPORT_FILE}. --select best reports the reported split's evaluation "
            "of the checkpoint chosen on the selection split, which ttc's trainers write at the "
            "end of training (tools/train_net.py, tools/train.py with a selection split); "
            "train with them, or use --select last for the last evaluation as logged"
        )
    record = Record(
        _flatten({k: v for k, v in report.items() if k != "selection"}), folder / REPORT_FILE, 0
    )
    missing = [k for k in keys if not _is_number(record.values.get(k))]
    if missing:
        shown = ", ".join(sorted(k for k, v in record.values.items() if _is_number(v)))
        raise CollectError(
            f"{record.file}: the report has no number for {', '.join(missing)} "
            f"(it holds: {shown or 'nothing'})"
        )
    return record, report


def select_record(
    records: Sequence[Record],
    keys: Sequence[str],
    metric: str,
    higher_is_better: bool,
    rule: str = "last",
    run: str | Path = "",
) -> Record:
    """The evaluation chosen by ``rule`` among records holding every key in ``keys``.

    ``"best"`` here is the best *logged* evaluation by ``metric`` (use it on selection-split
    logs only); :func:`collect_runs` with ``select="best"`` reads the run's report instead.
    """
    if rule not in SELECT_RULES:
        raise CollectError(f"unknown selection rule {rule!r}; choose 'last' or 'best'")
    evaluations = [r for r in records if all(_is_number(r.values.get(k)) for k in keys)]
    if not evaluations:
        seen = sorted({k for r in records for k in r.values})
        missing = [k for k in keys if not any(_is_number(r.values.get(k)) for r in records)]
        shown = ", ".join(seen[:40]) + (" ..." if len(seen) > 40 else "")
        raise CollectError(
            f"{run}: no evaluation record holds all of {', '.join(keys)} "
            + (f"(never seen: {', '.join(missing)}; " if missing else "(never together; ")
            + f"keys seen: {shown or 'none'})"
        )
    if rule == "last":
        return evaluations[-1]
    sign = 1.0 if higher_is_better else -1.0
    best = max(range(len(evaluations)), key=lambda i: (sign * evaluations[i].values[metric], i))
    return evaluations[best]


def _resolve(run: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else run / path


def find_checkpoint(run: str | Path, record: Record, is_last: bool) -> Path | None:
    """The checkpoint that produced ``record`` (rules in the module docstring), or None."""
    run = Path(run)
    if not run.is_dir():
        return None
    named = record.values.get("checkpoint")
    if isinstance(named, str) and named:
        path = _resolve(run, named)
        return path if path.is_file() else None
    iteration = record.iteration
    if iteration is not None:
        matches = [
            p
            for p in run.iterdir()
            if p.is_file()
            and p.suffix in CHECKPOINT_SUFFIXES
            and (m := _TRAILING_INT.search(p.stem))
            and int(m.group(1)) == iteration
        ]
        if matches:  # e.g. iter_8000.pth before best_mIoU_iter_8000.pth: the plainest name
            return min(matches, key=lambda p: (len(p.name), p.name))
    if is_last:
        if (run / "model_final.pth").is_file():
            return run / "model_final.pth"
        pointer = run / "last_checkpoint"
        if pointer.is_file():
            named = pointer.read_text(encoding="utf-8").strip()
            # MMEngine writes work_dir/iter_N.pth, relative to where training ran
            for path in (_resolve(run, named), run / Path(named).name):
                if named and path.is_file():
                    return path
    return None


def find_config(run: str | Path) -> Path | None:
    """``config.yaml`` (Detectron2) or the only top-level ``*.py`` (MMEngine), else None."""
    run = Path(run)
    if not run.is_dir():
        return None
    if (run / "config.yaml").is_file():
        return run / "config.yaml"
    scripts = [p for p in run.glob("*.py") if p.is_file()]
    return scripts[0] if len(scripts) == 1 else None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _metric_info(metric: str, name: str, direction: str | None) -> MetricInfo:
    known = KNOWN_METRICS.get(name) or KNOWN_METRICS.get(metric)
    if direction is None:
        if known is None:
            raise CollectError(
                f"the direction of metric {metric!r} is unknown; say whether higher or lower "
                "is better (--direction)"
            )
        return MetricInfo(known.direction, known.label, known.unit)
    if direction not in ("higher", "lower"):
        raise CollectError(f"direction must be 'higher' or 'lower', not {direction!r}")
    return MetricInfo(direction, known.label if known else "", known.unit if known else "")


def collect_runs(
    runs: Sequence[str | Path],
    *,
    name: str,
    metric: str,
    bpp: str | None = "bpp",
    bpp_estimated: str | None = None,
    bpp_base: str | None = None,
    bpp_enhancement: str | None = None,
    bpp_base_estimated: str | None = None,
    bpp_enhancement_estimated: str | None = None,
    extra: Iterable[str] = (),
    select: str = "last",
    direction: str | None = None,
    metric_name: str | None = None,
    metric_scale: float = 1.0,
    results_files: Sequence[str] | None = None,
    description: str = "",
    dataset: str | None = None,
    num_images: int | None = None,
    experiment: str | None = None,
    hash_files: bool = True,
) -> RDCurve:
    """One RD curve from several runs, one rate point each (see the module docstring).

    ``metric`` etc. are keys of the evaluation records; the curve stores the metric as
    ``metric_name`` (default: the same key), multiplied by ``metric_scale`` (e.g. 0.01 to turn
    Detectron2's AP in percent into the paper's fraction). ``bpp`` etc. name the record keys of
    the actual rates (real bitstreams), ``*_estimated`` those of the likelihood estimates; the
    curve stores them as ``bpp``, ``bpp_estimated``, ``bpp_base``, ... Without ``bpp`` the curve
    has no ``bpp`` column (an estimate is never stored under that name).
    """
    if not runs:
        raise CollectError("no runs given")
    if bpp is None and bpp_estimated is None:
        raise CollectError("give the key of the actual rate (bpp) or of the estimate, or both")
    if not math.isfinite(metric_scale) or metric_scale <= 0:
        raise CollectError(f"metric scale must be a positive number, not {metric_scale}")
    out_metric = metric_name or metric
    info = _metric_info(metric, out_metric, direction)
    rate_keys = {
        "bpp": bpp,
        "bpp_estimated": bpp_estimated,
        "bpp_base": bpp_base,
        "bpp_enhancement": bpp_enhancement,
        "bpp_base_estimated": bpp_base_estimated,
        "bpp_enhancement_estimated": bpp_enhancement_estimated,
    }
    rate_keys = {k: v for k, v in rate_keys.items() if v is not None}
    if is_rate_key(out_metric):
        raise CollectError(f"metric name {out_metric!r} would be read as a rate column (bpp...)")
    extra = [k for k in dict.fromkeys(extra) if k not in (metric, out_metric, *rate_keys.values())]
    clash = [k for k in extra if k in rate_keys]
    if clash:
        raise CollectError(f"extra key {clash[0]!r} collides with a rate column of the same name")
    needed = list(dict.fromkeys([metric, *rate_keys.values(), *extra]))

    points = []
    for run in runs:
        run = Path(run)
        if select == "best":
            chosen, report = report_record(run, needed)
            folder = run.parent if run.is_file() else run
            entry: dict[str, Any] = {
                "run": str(run),
                "results_file": str(chosen.file),
                "line": 0,
                "iteration": chosen.iteration,
                "select": select,
                "split": "report",
                "dataset": report.get("dataset"),
                "selection": report.get("selection"),
            }
            named = report.get("checkpoint")
            checkpoint = _resolve(folder, named) if isinstance(named, str) and named else None
            if checkpoint is not None and not checkpoint.is_file():
                checkpoint = None
            config = find_config(folder)
        else:
            records = [r for f in result_files(run, results_files) for r in read_records(f)]
            chosen = select_record(records, needed, metric, info.higher_is_better, select, run)
            evaluations = [r for r in records if all(_is_number(r.values.get(k)) for k in needed)]
            is_last = chosen is evaluations[-1]
            entry = {
                "run": str(run),
                "results_file": str(chosen.file),
                "line": chosen.line,
                "iteration": chosen.iteration,
                "select": select,
                "split": "as logged",
                "evaluations": len(evaluations),
            }
            checkpoint = find_checkpoint(run, chosen, is_last)
            config = find_config(run)
        entry["config"] = str(config) if config else None
        if hash_files:
            entry["config_sha256"] = sha256_file(config) if config else None
        entry["checkpoint"] = str(checkpoint) if checkpoint else None
        if hash_files:
            entry["checkpoint_sha256"] = sha256_file(checkpoint) if checkpoint else None
        if _is_number(chosen.values.get("num_images")):
            entry["num_images"] = int(chosen.values["num_images"])
        row = {key: float(chosen.values[src]) for key, src in rate_keys.items()}
        row[out_metric] = float(chosen.values[metric]) * metric_scale
        row.update({key: float(chosen.values[key]) for key in extra})
        points.append((row, entry))

    points.sort(key=lambda p: p[0]["bpp" if bpp is not None else "bpp_estimated"])
    columns = list(points[0][0])
    results = {key: [row[key] for row, _ in points] for key in columns}
    if num_images is None:
        counts = {e.get("num_images") for _, e in points}
        if len(counts) == 1 and None not in counts:
            num_images = counts.pop()
    metrics = {out_metric: info}
    for key in extra:
        known = KNOWN_METRICS.get(key)
        if known is not None:
            metrics[key] = known
    return RDCurve(
        name=name,
        results=results,
        metric=out_metric,
        description=description,
        metrics=metrics,
        experiment=experiment,
        split="report" if select == "best" else "as logged",
        dataset=dataset,
        num_images=num_images,
        provenance=[entry for _, entry in points],
        extra={"source": "ttc rd collect"},
    )
