"""Run a study: data, bases, enhancements, controls, measurements, report. Resumable.

Each phase starts when the previous one has finished, because it trains on the checkpoints the
previous phase selected::

    data ─▶ pretrain ─▶ bases ─▶ enhancements ─▶ Standalone + Continued ─▶ measure ─▶ report
            (cached)          (selected base      (selected conditional
                               checkpoint)         checkpoint)

``pretrain`` trains the plain detector the detection bases start from, once per machine
(:mod:`ttc_core.study.pretrain`, cached across studies).

A run that finished earlier (its ``ttc_sweep_done.json`` marker exists) is skipped, so an
interrupted study continues where it stopped; ``--only-report`` redoes the last two phases.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..provenance import checkout_commit
from ..rd.sweep import SweepPoint, alpha_run_name, run_sweep
from ..selection import read_report
from . import report as rep
from .plan import (
    BASE_METHODS,
    EXPERIMENTS,
    Scale,
    base_points,
    control_points,
    enhancement_points,
    middle_alpha,
    run_dir,
)
from .pretrain import ensure_pretrained

__all__ = ["StudyError", "run_study", "selected_checkpoint"]


class StudyError(RuntimeError):
    """A study cannot go on; the message says what is missing."""


def _log(msg: str) -> None:
    print(f"[study {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def selected_checkpoint(run: Path) -> Path:
    """The checkpoint a run's report names (chosen on its selection split)."""
    report = read_report(run)
    if report is None or not report.get("checkpoint"):
        raise StudyError(f"{run} has no ttc_report.json naming a checkpoint: did it finish?")
    path = Path(report["checkpoint"])
    path = path if path.is_absolute() else run / path
    if not path.is_file():
        raise StudyError(f"{run}: its report names {path}, which does not exist")
    return path


def _data(scale: Scale, data: Path, seed: int = 0) -> None:
    from ..datasets import write_cityscapes_dataset, write_coco_dataset

    marker = data / "ttc_study_data.json"
    want = {"cityscapes": list(scale.cityscapes), "coco": list(scale.coco), "seed": seed}
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(want)):
        _log(f"data: {data} exists, reused")
        return
    n, v, size = scale.cityscapes
    write_cityscapes_dataset(data / "cityscapes", n, v, size, seed, overwrite=True)
    n, v, size = scale.coco
    write_coco_dataset(data / "coco", n, v, size, seed, overwrite=True)
    marker.write_text(json.dumps(want))
    _log(f"data: generated under {data}")


def _threads(points: list[SweepPoint], jobs: int) -> list[SweepPoint]:
    # one thread per run and `jobs` runs at a time: small models use the cores best this way
    threads = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    for p in points:
        p.env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    return points


def _phase(name: str, points: list[SweepPoint], jobs: int, env: dict, timings: dict) -> None:
    started = time.time()
    for p in points:
        p.env.update(env)
    todo = [p for p in points if not p.done]
    _log(f"{name}: {len(points)} runs ({len(todo)} to train, {jobs} at a time)")
    run_sweep(_threads(points, jobs), jobs=jobs, log=lambda m: _log(f"{name} {m}"))
    timings[name] = round(time.time() - started, 1)


def _pretrain(scale: Scale, repo: Path, state: dict, timings: dict) -> dict[str, Path]:
    """The pretrained detector of the scale (built or cached); experiment → weights."""
    p = scale.pretraining
    if p is None or not set(p.experiments) & set(scale.experiments):
        return {}
    t0 = time.time()
    # one training on all cores, as nothing else runs beside it
    threads = str(os.cpu_count() or 1)
    record = ensure_pretrained(
        p,
        repo,
        device=scale.device,
        env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
        log=_log,
    )
    timings["pretrain"] = round(time.time() - t0, 1)
    state["pretrained"] = {k: v for k, v in record.items() if k != "folder"}
    return {name: Path(record["path"]) for name in p.experiments}


def run_study(
    scale: Scale,
    out: str | os.PathLike,
    *,
    repo: str | os.PathLike = ".",
    only_report: bool = False,
    command: str | None = None,
    log: Callable[[str], None] = _log,
) -> Path:
    """Run (or resume) ``scale`` in ``out``; returns the path of ``summary.json``."""
    out, repo = Path(out).resolve(), Path(repo).resolve()
    data = out / "data"
    state_path = out / "study.json"
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    timings: dict[str, float] = state.get("timings", {})
    started = time.time()
    env = {"CITYSCAPES_ROOT": str(data / "cityscapes")}
    if not only_report:
        # the code that trained: every commit a (resumed) study's training phases ran at
        commits = state.setdefault("training_commits", [])
        commit = checkout_commit(repo)
        if commit not in commits:
            commits.append(commit)
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(state, indent=2))
        t0 = time.time()
        _data(scale, data)
        timings["data"] = round(time.time() - t0, 1)
        pretrained = _pretrain(scale, repo, state, timings)
        points = base_points(scale, out, data, repo, pretrained)
        _phase("bases", points, scale.jobs, env, timings)

        def base_ckpt(experiment: str, method: str, seed: int) -> Path:
            folder = run_dir(out, experiment, method, seed)
            return selected_checkpoint(folder / alpha_run_name(middle_alpha(scale, experiment)))

        points = enhancement_points(scale, out, data, repo, base_ckpt)
        _phase("enhancements", points, scale.jobs, env, timings)

        def conditional_ckpt(experiment: str, method: str, seed: int, alpha: float) -> Path:
            folder = run_dir(out, experiment, f"{method}-base", seed, "conditional")
            return selected_checkpoint(folder / alpha_run_name(alpha))

        points = control_points(scale, out, data, repo, base_ckpt, conditional_ckpt)
        _phase("controls", points, scale.jobs, env, timings)
        state["wall_time_s"] = state.get("wall_time_s", 0.0) + (time.time() - started)
    t0 = time.time()
    measured = _measure(scale, out, data)
    timings["measure"] = round(time.time() - t0, 1)
    state.update(timings=timings, scale=scale.name)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.write_text(json.dumps(state, indent=2))
    summary = _summarise(scale, out, measured, state, command or "", checkout_commit(repo))
    summary["example"] = _example(scale, out, data)
    path = rep.write_json(out / "summary.json", summary)
    (out / "report.md").write_text(rep.render_report(json.loads(path.read_text())))
    _plots(scale, out)
    log(f"report: {out / 'report.md'}")
    return path


def _example(scale: Scale, out: Path, data: Path) -> dict[str, Any] | None:
    """A real ``.ttc`` file of both layers and the image it decodes to (``OUT/example/``)."""
    import contextlib
    import io
    import shutil

    from PIL import Image

    from ..cli import main as ttc

    name = "cityscapes_scalable_reconstruction"
    if name not in scale.experiments:
        return None
    folder = run_dir(out, name, "Proposed-base", scale.seeds[0], "conditional")
    run = folder / alpha_run_name(middle_alpha(scale, name))
    if not (run / "ttc_report.json").is_file():
        return None
    ckpt = selected_checkpoint(run)
    image = _images(data, name)[1][0]
    example = out / "example"
    example.mkdir(parents=True, exist_ok=True)
    shutil.copy(image, example / "input.png")
    stream, decoded = example / "frame.ttc", example / "decoded.png"
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()):
        rc = ttc(["compress", str(image), "-c", str(ckpt), "-o", str(stream), "--layers", "all"])
        rc = rc or ttc(["info", str(stream)])
        rc = rc or ttc(["decompress", str(stream), "-c", str(ckpt), "-o", str(decoded)])
    if rc:
        raise StudyError(f"coding the example with {ckpt} failed (exit {rc})")
    return {
        "checkpoint": str(ckpt),
        "input": str(example / "input.png"),
        "input_size": list(Image.open(image).size[::-1]),
        "decoded": str(decoded),
        "decoded_size": list(Image.open(decoded).size[::-1]),
        "bytes": stream.stat().st_size,
        "info": text.getvalue().strip(),
    }


def _images(data: Path, experiment: str) -> tuple[list[Path], list[Path]]:
    if EXPERIMENTS[experiment].framework == "detectron2":
        root = data / "coco"
        return sorted((root / "train2017").glob("*")), sorted((root / "val2017").glob("*"))
    root = data / "cityscapes" / "leftImg8bit"
    return sorted((root / "train").rglob("*.png")), sorted((root / "val").rglob("*.png"))


def _measure(scale: Scale, out: Path, data: Path) -> dict[str, Any]:
    """Trivial predictors and the side-information measurement of every conditional model."""
    from . import side_information, trivial

    city = data / "cityscapes"
    measured: dict[str, Any] = {"trivial": {}, "side_information": {}}
    for name in scale.experiments:
        exp = EXPERIMENTS[name]
        train, val = _images(data, name)
        if name == "cityscapes_depth":
            measured["trivial"][name] = (
                "mean training disparity",
                trivial.mean_disparity_rmse(city),
            )
            measured["trivial"]["cityscapes_direct_reconstruction"] = (
                "mean training colour (at the coded half resolution)",
                trivial.mean_colour_psnr(train, val, scale=0.5),
            )
        elif name == "cityscapes_segmentation":
            measured["trivial"][name] = (
                "majority training class",
                trivial.majority_class_miou(city),
            )
        elif name == "cityscapes_scalable_reconstruction":
            measured["trivial"][name] = (
                "mean training colour (at the coded half resolution)",
                trivial.mean_colour_psnr(train, val, scale=0.5),
            )
        elif name == "coco_detection":
            measured["trivial"][name] = ("no detections", trivial.no_detection_ap())
            measured["trivial"]["coco_direct_reconstruction"] = (
                "mean training colour (images as stored)",
                trivial.mean_colour_psnr(train, val),
            )
        elif name == "coco_scalable_reconstruction":
            measured["trivial"][name] = (
                "mean training colour (images as stored)",
                trivial.mean_colour_psnr(train, val),
            )
        if not exp.is_enhancement:
            continue
        for method in BASE_METHODS:
            for seed in scale.seeds:
                folder = run_dir(out, name, f"{method}-base", seed, "conditional")
                for alpha in scale.alphas[name]:
                    run = folder / alpha_run_name(alpha)
                    if not (run / "ttc_report.json").is_file():
                        continue
                    value = side_information.side_information_bits(selected_checkpoint(run), val)
                    key = f"{method}|{seed}|{alpha:g}"
                    measured["side_information"].setdefault(name, {})[key] = value
    return measured


def _summarise(
    scale: Scale, out: Path, measured: dict, state: dict, command: str, commit: str
) -> dict[str, Any]:
    curves = rep.collect_study(scale, out)
    summary: dict[str, Any] = {
        "scale": scale.name,
        "command": command,
        "commit": commit,
        "training_commits": state.get("training_commits", []),
        "seeds": list(scale.seeds),
        "alphas": {k: list(v) for k, v in scale.alphas.items()},
        "data": {"cityscapes": list(scale.cityscapes), "coco": list(scale.coco)},
        "wall_time_s": state.get("wall_time_s", 0.0),
        "timings_s": state.get("timings", {}),
        "pretrained": state.get("pretrained"),
        "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
        f"{scale.jobs} runs at a time",
        "bd_rates": {},
        "side_information": {},
        "trivial": {},
        "points": {},
    }
    for name, variants in curves.items():
        summary["points"][name] = {
            v: {s: rep.curve_points(c) for s, c in seeds.items()} for v, seeds in variants.items()
        }
        if {"Proposed", "Baseline"} <= set(variants):
            bd = rep.bd_over_seeds(variants, scale.seeds)
            summary["bd_rates"][name] = {
                "pchip": bd["summary"]["pchip"],
                "cubic": bd["summary"]["cubic"],
                "overlap": rep.spread(
                    [100 * v for v in bd["overlap"].values], len(scale.seeds), signed=False
                ),
                "per_seed": bd["per_seed"],
            }
        if name in EXPERIMENTS and EXPERIMENTS[name].is_enhancement:
            si = measured["side_information"].get(name, {})
            by_method = {}
            for method in BASE_METHODS:
                controls = rep.side_information_savings(variants, method, scale.seeds)

                def per_seed(field: str, method: str = method, si: dict = si) -> rep.Spread:
                    values = []
                    for seed in scale.seeds:
                        rows = [
                            v[field] for k, v in si.items() if k.startswith(f"{method}|{seed}|")
                        ]
                        values.append(100 * sum(rows) / len(rows) if rows else None)
                    return rep.spread(values, len(scale.seeds))

                by_method[f"{method} base"] = {
                    "controls": rep.spread(
                        [100 * v for v in controls["summary"].values], len(scale.seeds)
                    ),
                    "controls_per_seed": controls["per_seed"],
                    "measured_zeros": per_seed("saving_zeros"),
                    "measured_other": per_seed("saving_other"),
                }
            summary["side_information"][name] = by_method
        if name in measured["trivial"]:
            predictor, value = measured["trivial"][name]
            curve = next(iter(next(iter(variants.values())).values()))
            info = curve.info()

            # a Baseline's direct reconstruction is its probe's: a measurement of how much of
            # the image ŷ_b holds, not a model of the comparison (METHOD §2); it is reported
            # beside the trivial predictor, not required to beat it
            probe = name in _DIRECT_RECONSTRUCTIONS
            models = ("Proposed",) if probe else BASE_METHODS
            values = _metric_values(summary["points"][name], models)
            summary["trivial"][name] = {
                "metric": curve.metric,
                "predictor": predictor,
                "trivial": value,
                "models": ", ".join(models),
                **_span(values),
                "all_beat": bool(values)
                and all(
                    rep.beats_trivial(curve.metric, x, value, info.higher_is_better) for x in values
                ),
            }
            if probe:
                probes = _metric_values(summary["points"][name], ("Baseline",))
                summary["trivial"][name]["baseline_probe"] = _span(probes)
    return summary


def _metric_values(points: dict, methods: tuple[str, ...]) -> list[float]:
    """Every RD point's metric of ``methods`` (all seeds) from a summary's ``points[name]``."""
    return [p["metric"] for m in methods for pts in points.get(m, {}).values() for p in pts]


def _span(values: list[float]) -> dict[str, float | None]:
    return {"min": min(values) if values else None, "max": max(values) if values else None}


#: the curves of the bases' direct reconstructions g_a(ŷ_b) (the Baseline's: its probe)
_DIRECT_RECONSTRUCTIONS = {a for e in EXPERIMENTS.values() for a in e.also}


def _plots(scale: Scale, out: Path) -> None:
    from ..rd.format import load_rd
    from ..rd.plot import plot_rd

    for folder in sorted((out / "rd").glob("*")):
        files = sorted(folder.glob("*.json"))
        curves = []
        for f in files:
            c = load_rd(f)
            if " " in c.name:  # controls: in the tables, not the figure
                continue
            c.name = f"{c.name} s{f.stem.rsplit('seed', 1)[-1]}"
            curves.append(c)
        if curves:
            plot_rd(
                curves, out / "figures" / f"{folder.name}.png", title=folder.name.replace("_", " ")
            )


def shell_command(argv: list[str]) -> str:
    return shlex.join(["ttc", "study", *argv])
