"""Benchmark: one variable-rate model (gain units) against the per-α models it replaces.

Run on demand, on a quiet machine (not a test)::

    .venv/bin/python benchmarks/bench_variable_rate.py --out /tmp/vr_bench \\
        --json results/variable_rate/bench.json
    .venv/bin/python benchmarks/bench_variable_rate.py --quick   # a two-minute check

What it measures, on generated Cityscapes-layout data (the demo scale of ``ttc study``: 48
train and 12 val frames of 64×128) with the shipped MMSeg demo configs, unchanged but for the
rate settings, through the frameworks' own launchers (``ttc rd sweep``):

1. **Depth base (Proposed)**: N per-α models (``ttc rd sweep``) and one variable-rate model
   trained with all N α (``ttc rd sweep --variable-rate``), each for the demo config's 35
   epochs: *same data, same number of steps per model*. Every RD point is the reported split
   (val), real bitstreams, of the checkpoint chosen on the selection split. BD-rate of the
   variable-rate curve against the per-α curve (disparity RMSE vs bpp, PCHIP; negative =
   fewer bits). With ``--baseline`` the same for the Baseline (β = 0), and the Proposed-vs-
   Baseline BD-rate computed from per-α models and from variable-rate models.
2. **Enhancement** (``--enhancement``, default on): scalable half-resolution reconstruction.
   Per-α: N enhancements on the middle-α per-α base; variable rate: one enhancement with all
   N α on the variable-rate base at that α's rate index. BD-rate on total bpp (base +
   enhancement) vs PSNR.
3. **Training cost**: wall time of the variable-rate training against the sum of the N per-α
   trainings (each run's own time, all run ``--jobs`` at a time with one thread each), and
   the extra evaluations a variable-rate curve needs (one per rate point).

The runs write under ``--out``; the summary JSON (``--json``) holds every curve, BD value,
time, the commit, the seeds and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ttc_core.provenance import checkout_commit

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "configs" / "mmseg" / "demo"
DEPTH = {
    "Proposed": DEMO
    / "ttc-proposed_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128.py",
    "Baseline": DEMO
    / "ttc-baseline_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128.py",
}
RECON = DEMO / "ttc-enh-recon_synthesis-n3_1xb4-30e_synthetic-cityscapes-halfres-recon-64x128.py"
#: the evidence study's rate weights (ttc_core.study.plan), highest first (rate index 0 =
#: lowest rate)
DEPTH_ALPHAS = [1.0, 0.2, 0.05, 0.01]
RECON_ALPHAS = [128.0, 32.0, 8.0, 2.0]
#: the enhancement's base: the middle α of the study (0.2, as its enhancements use)
BASE_ALPHA = 0.2


def _log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _seconds(run_dir: Path, key: str = "seconds") -> float:
    """A finished run's wall time (``seconds``) or own CPU time (``cpu_seconds``)."""
    from ttc_core.rd.sweep import DONE_MARKER

    return float(json.loads((run_dir / DONE_MARKER).read_text())[key])


def _curve(name: str, runs, metric: str, bpp_keys: dict):
    from ttc_core.rd.collect import collect_runs

    return collect_runs(
        [str(r) for r in runs],
        name=name,
        metric=metric,
        select="best",
        hash_files=False,
        **bpp_keys,
    )


def _bd(anchor, test) -> dict:
    from ttc_core.rd.bd import compare

    result = compare(anchor, test, method="pchip")
    return {
        "anchor": anchor.name,
        "test": test.name,
        "bd_rate_percent": result.bd_rate,
        "bd_metric": result.bd_metric,
        "metric_overlap": result.metric_overlap,
        "error": result.bd_rate_error,
        "notes": result.notes,
    }


def _points(curve) -> list[dict]:
    keys = list(curve.results)
    return [{k: curve.results[k][i] for k in keys} for i in range(len(curve))]


def _experiment(
    name: str,
    config: Path,
    alphas: list[float],
    out: Path,
    jobs: int,
    extra: list[str],
    metric: str,
    bpp_keys: dict,
    vr_extra: list[str] | None = None,
) -> dict:
    """N per-α runs and one variable-rate run of ``config`` (all trainings ``jobs`` at a time),
    then the variable-rate model's evaluations; the two curves, their BD-rate and the times."""
    from ttc_core.rd.sweep import plan_sweep, plan_variable_rate, run_sweep, run_variable_rate

    tools = REPO / "tools"
    per_alpha = plan_sweep("mmseg", config, alphas, out / "per_alpha", extra=extra, tools_dir=tools)
    vr = plan_variable_rate(
        "mmseg", config, alphas, out / "vr", extra=[*extra, *(vr_extra or [])], tools_dir=tools
    )
    trainings = [*per_alpha, vr.train]
    _log(f"{name}: {len(per_alpha)} per-α trainings + 1 variable-rate training, {jobs} at a time")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(run_sweep, [p]) for p in trainings]:
            future.result()
    started = time.time()
    rate_dirs = run_variable_rate(vr)
    eval_seconds = sum(_seconds(d) for d in rate_dirs)
    eval_cpu = sum(_seconds(d, "cpu_seconds") for d in rate_dirs)
    _log(f"{name}: variable-rate evaluations done in {time.time() - started:.0f}s")
    anchor = _curve(f"{name} per-α", [p.run_dir for p in per_alpha], metric, bpp_keys)
    test = _curve(f"{name} variable rate", rate_dirs, metric, bpp_keys)
    per_alpha_seconds = [_seconds(p.run_dir) for p in per_alpha]
    per_alpha_cpu = [_seconds(p.run_dir, "cpu_seconds") for p in per_alpha]
    vr_seconds = _seconds(vr.train.run_dir)
    vr_cpu = _seconds(vr.train.run_dir, "cpu_seconds")
    return {
        "config": str(config.relative_to(REPO)),
        "alphas": alphas,
        "per_alpha": {
            "points": _points(anchor),
            "train_seconds": per_alpha_seconds,
            "train_cpu_seconds": per_alpha_cpu,
        },
        "variable_rate": {
            "points": _points(test),
            "train_seconds": vr_seconds,
            "train_cpu_seconds": vr_cpu,
            "eval_seconds": eval_seconds,
            "eval_cpu_seconds": eval_cpu,
        },
        "bd_variable_rate_vs_per_alpha": _bd(anchor, test),
        # each run's wall time, and its own CPU time (the fair measure when the machine is
        # shared); every training includes its own reported evaluation at one rate
        "train_time_ratio": vr_seconds / sum(per_alpha_seconds),
        "train_cpu_ratio": vr_cpu / sum(per_alpha_cpu),
        "total_time_ratio": (vr_seconds + eval_seconds) / sum(per_alpha_seconds),
        "total_cpu_ratio": (vr_cpu + eval_cpu) / sum(per_alpha_cpu),
        "_curves": (anchor, test),
        "_runs": {"per_alpha": per_alpha, "vr": vr},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="vr_bench_out", help="work folder (default: vr_bench_out)")
    p.add_argument("--json", help="write the summary here (e.g. results/variable_rate/bench.json)")
    p.add_argument("--jobs", type=int, default=2, help="trainings at a time (default 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of every run (default 0)")
    p.add_argument("--baseline", action="store_true", help="also the Baseline depth base")
    p.add_argument(
        "--no-enhancement", action="store_true", help="skip the reconstruction enhancement"
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a check of the pipeline: 12 train frames, 2 epochs, no enhancement (numbers "
        "mean nothing)",
    )
    args = p.parse_args(argv)

    from ttc_core.datasets import write_cityscapes_dataset

    out = Path(args.out).resolve()
    os.environ["OMP_NUM_THREADS"] = "1"  # every run one thread; --jobs of them at a time
    os.environ["MKL_NUM_THREADS"] = "1"
    frames = (12, 4) if args.quick else (48, 12)
    data = out / "data" / "cityscapes"
    if not (data / "leftImg8bit").is_dir():
        write_cityscapes_dataset(data, frames[0], frames[1], (64, 128), seed=0, overwrite=True)
    os.environ["CITYSCAPES_ROOT"] = str(data)
    opts = ["--cfg-options", f"randomness.seed={args.seed}"]
    if args.quick:
        opts += ["train_cfg.max_epochs=2", "train_cfg.val_interval=1"]
        opts += ["default_hooks.checkpoint.interval=2"]
    load_before = os.getloadavg()
    started = time.time()
    depth_keys = {"bpp": "bpp", "bpp_estimated": "bpp_estimated"}
    summary: dict = {
        "benchmark": "benchmarks/bench_variable_rate.py",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "commit": checkout_commit(REPO),
        "seed": args.seed,
        "data": {
            "layout": "cityscapes",
            "train": frames[0],
            "val": frames[1],
            "size": [64, 128],
            "seed": 0,
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads_per_run": 1,
            "jobs": args.jobs,
            "loadavg_before": load_before,
        },
        "method": "gain units (Cui et al., CVPR 2021), ttc_core.variable_rate; BD-rate: PCHIP, "
        "per-α curve as the anchor, negative = the variable-rate model needs fewer bits",
        "experiments": {},
    }
    methods = ["Proposed", "Baseline"] if args.baseline else ["Proposed"]
    depth = {}
    for method in methods:
        depth[method] = _experiment(
            f"depth {method}",
            DEPTH[method],
            DEPTH_ALPHAS,
            out / f"depth_{method.lower()}",
            args.jobs,
            opts,
            "rmse",
            depth_keys,
        )
    if args.baseline:
        pb = {}
        for kind, idx in (("per_alpha", 0), ("variable_rate", 1)):
            pb[kind] = _bd(depth["Baseline"]["_curves"][idx], depth["Proposed"]["_curves"][idx])
        summary["proposed_vs_baseline"] = pb
    if not (args.no_enhancement or args.quick):
        from ttc_core.rd.sweep import trained_checkpoint

        runs = depth["Proposed"]["_runs"]
        per_alpha_base = next(p for p in runs["per_alpha"] if p.alpha == BASE_ALPHA)
        base_ckpt, _ = trained_checkpoint(per_alpha_base.run_dir)
        vr_base, _ = trained_checkpoint(runs["vr"].train.run_dir)
        index = DEPTH_ALPHAS.index(BASE_ALPHA)
        enh_keys = {
            "bpp": "bpp",
            "bpp_estimated": "bpp_estimated",
            "bpp_base": "bpp_base",
            "bpp_enhancement": "bpp_enhancement",
        }
        # per-α enhancements on the per-α base; the variable-rate one on the variable-rate
        # base at that α's rate position (both bases trained for the same steps)
        summary["experiments"]["scalable_reconstruction"] = _experiment(
            "reconstruction",
            RECON,
            RECON_ALPHAS,
            out / "reconstruction",
            args.jobs,
            [*opts, f"model.base.checkpoint={base_ckpt}"],
            "psnr_scalable",
            enh_keys,
            vr_extra=[
                "--cfg-options",
                f"model.base.checkpoint={vr_base}",
                f"model.base.rate={float(index)}",
            ],
        )
        summary["experiments"]["scalable_reconstruction"]["base"] = {
            "per_alpha": f"α = {BASE_ALPHA}",
            "variable_rate": f"rate index {index} (α = {BASE_ALPHA})",
        }
    for method, result in depth.items():
        summary["experiments"][f"depth_{method.lower()}"] = result
    for result in summary["experiments"].values():
        result.pop("_curves", None)
        result.pop("_runs", None)
    summary["wall_seconds"] = round(time.time() - started, 1)
    summary["machine"]["loadavg_after"] = os.getloadavg()
    text = json.dumps(summary, indent=2, default=str)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
        _log(f"wrote {args.json}")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
