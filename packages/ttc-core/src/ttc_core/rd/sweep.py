"""Rate sweeps: one training run per rate weight α, through the frameworks' own launchers.

The paper trains one model per rate point (METHOD §4). A sweep plans one run directory per α,
launches each with the framework's launcher (``tools/train_net.py`` for Detectron2,
``tools/train.py`` for MMSegmentation, under ``torchrun`` for several GPUs), and records a
marker file when a run has finished, so that re-running the same sweep skips finished points
(resumable). ``commands`` lets a scheduler run the points as separate jobs instead.

::

    α₁ ─▶ OUT/alpha_α₁/ ─┐
    α₂ ─▶ OUT/alpha_α₂/ ─┼─▶ rd.collect ─▶ one RD JSON
    α₃ ─▶ OUT/alpha_α₃/ ─┘

On a Slurm cluster, :func:`write_slurm` writes the unfinished points as **one array job**
(``OUT/sweep.slurm``, one array task per point) and their plan (``OUT/sweep_plan.json``); each
task runs ``python -m ttc_core.cli rd task OUT/sweep_plan.json $SLURM_ARRAY_TASK_ID`` under
``srun``, which runs that point's launcher exactly as a local sweep does (:func:`run_task`:
skipped when finished, marker written on success), so a resubmitted array resumes too.
:func:`submit` hands the script to ``sbatch``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DONE_MARKER",
    "FRAMEWORKS",
    "PLAN_FILE",
    "SLURM_SCRIPT",
    "SlurmOptions",
    "SweepError",
    "SweepPoint",
    "load_plan",
    "plan_sweep",
    "run_sweep",
    "run_task",
    "submit",
    "write_plan",
    "write_slurm",
]

DONE_MARKER = "ttc_sweep_done.json"
PLAN_FILE = "sweep_plan.json"
SLURM_SCRIPT = "sweep.slurm"

#: framework -> (launcher script relative to the tools directory, default α config key)
FRAMEWORKS = {
    "detectron2": ("train_net.py", "MODEL.TTC.ALPHA"),
    "mmseg": ("train.py", "model.codec_loss.alpha"),
}


class SweepError(RuntimeError):
    """A sweep could not be planned or one of its runs failed."""


@dataclass
class SweepPoint:
    alpha: float
    run_dir: Path
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return (self.run_dir / DONE_MARKER).is_file()


def _alpha_tag(alpha: float) -> str:
    return f"alpha_{alpha:g}".replace("-", "m")


def plan_sweep(
    framework: str,
    config: str | os.PathLike,
    alphas: Sequence[float],
    out: str | os.PathLike,
    *,
    num_gpus: int = 1,
    alpha_key: str | None = None,
    extra: Sequence[str] = (),
    tools_dir: str | os.PathLike = "tools",
    python: str = sys.executable,
) -> list[SweepPoint]:
    """One :class:`SweepPoint` per α (duplicates removed, order kept)."""
    if framework not in FRAMEWORKS:
        raise SweepError(f"unknown framework {framework!r}; choose one of {sorted(FRAMEWORKS)}")
    if not alphas:
        raise SweepError("give at least one rate weight α")
    if any(not (a >= 0) for a in alphas):
        raise SweepError(f"rate weights must be >= 0, got {list(alphas)}")
    if num_gpus < 1:
        raise SweepError(f"num_gpus must be >= 1, got {num_gpus}")
    script_name, default_key = FRAMEWORKS[framework]
    script = Path(tools_dir) / script_name
    if not script.is_file():
        raise SweepError(
            f"launcher {script} not found (run from the repository root or set tools_dir)"
        )
    if not Path(config).is_file():
        raise SweepError(f"config {config} not found")
    key = alpha_key or default_key
    points = []
    for alpha in dict.fromkeys(float(a) for a in alphas):
        run = Path(out) / _alpha_tag(alpha)
        if framework == "detectron2":
            cmd = [
                python,
                str(script),
                "--config-file",
                str(config),
                "--num-gpus",
                str(num_gpus),
                *extra,
                "OUTPUT_DIR",
                str(run),
                key,
                repr(alpha),
            ]
        else:
            launch = [python, str(script)]
            dist: list[str] = []
            if num_gpus > 1:
                launch = [
                    python,
                    "-m",
                    "torch.distributed.run",
                    f"--nproc_per_node={num_gpus}",
                    str(script),
                ]
                dist = ["--launcher", "pytorch"]
            cmd = [
                *launch,
                str(config),
                "--work-dir",
                str(run),
                *dist,
                *extra,
                "--cfg-options",
                f"{key}={alpha!r}",
            ]
        points.append(SweepPoint(alpha, run, cmd))
    return points


def _run_one(point: SweepPoint, log: Callable[[str], None]) -> None:
    point.run_dir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    log(f"[sweep] α={point.alpha:g}: {' '.join(point.command)}")
    with open(point.run_dir / "sweep.log", "w") as out:
        rc = subprocess.call(
            point.command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **point.env}
        )
    elapsed = time.time() - started
    if rc != 0:
        raise SweepError(
            f"run α={point.alpha:g} failed with exit code {rc} after {elapsed:.0f}s; "
            f"see {point.run_dir / 'sweep.log'}"
        )
    marker = {"alpha": point.alpha, "command": point.command, "seconds": round(elapsed, 1)}
    (point.run_dir / DONE_MARKER).write_text(json.dumps(marker, indent=2))
    log(f"[sweep] α={point.alpha:g} finished in {elapsed:.0f}s")


def run_sweep(
    points: Sequence[SweepPoint],
    jobs: int = 1,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
) -> list[SweepPoint]:
    """Run the unfinished points (``jobs`` at a time); returns the points that ran."""
    todo = [p for p in points if not p.done]
    for p in points:
        if p.done:
            log(f"[sweep] α={p.alpha:g}: finished earlier ({p.run_dir / DONE_MARKER}), skipped")
    if jobs <= 1:
        for p in todo:
            _run_one(p, log)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for future in [pool.submit(_run_one, p, log) for p in todo]:
                future.result()
    return todo


# -- clusters ---------------------------------------------------------------------------------
def write_plan(points: Sequence[SweepPoint], path: str | os.PathLike) -> Path:
    """The points as JSON (what :func:`run_task` reads): α, run directory, command, env."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "format": "ttc-sweep-plan/1",
        "cwd": os.getcwd(),
        "points": [
            {"alpha": p.alpha, "run_dir": str(p.run_dir), "command": p.command, "env": p.env}
            for p in points
        ],
    }
    path.write_text(json.dumps(data, indent=2))
    return path


def load_plan(path: str | os.PathLike) -> list[SweepPoint]:
    try:
        data = json.loads(Path(path).read_text())
        return [
            SweepPoint(float(p["alpha"]), Path(p["run_dir"]), list(p["command"]), dict(p["env"]))
            for p in data["points"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SweepError(f"{path}: not a sweep plan ({exc})") from exc


def run_task(
    plan: str | os.PathLike,
    index: int,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
) -> SweepPoint:
    """Run point ``index`` of a plan (one Slurm array task) unless it finished earlier."""
    points = load_plan(plan)
    if not 0 <= index < len(points):
        raise SweepError(f"{plan} has {len(points)} points; there is no task {index}")
    point = points[index]
    if point.done:
        log(f"[sweep] α={point.alpha:g}: finished earlier ({point.run_dir / DONE_MARKER}), skipped")
    else:
        _run_one(point, log)
    return point


@dataclass
class SlurmOptions:
    """``#SBATCH`` settings of a sweep's array job (None: the cluster's default)."""

    partition: str | None = None
    gpus_per_job: int = 1  #: ``--gres=gpu:N`` (0: CPU-only jobs)
    time: str | None = None  #: ``--time``, e.g. ``"24:00:00"``
    cpus_per_task: int | None = None
    account: str | None = None
    job_name: str = "ttc-sweep"
    max_parallel: int | None = None  #: ``--array=0-N%K``: at most K tasks at a time


def _sbatch_value(value: object, what: str) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise SweepError(f"Slurm {what} must be a word without spaces, got {text!r}")
    return text


def write_slurm(
    points: Sequence[SweepPoint],
    out: str | os.PathLike,
    options: SlurmOptions | None = None,
    python: str = sys.executable,
) -> Path | None:
    """Write ``OUT/sweep.slurm`` (one array task per unfinished point) and its plan.

    Returns the script's path, or None when every point has finished.
    """
    import shlex

    options = options or SlurmOptions()
    todo = [p for p in points if not p.done]
    if not todo:
        return None
    out = Path(out)
    plan = write_plan(todo, out / PLAN_FILE)
    array = f"0-{len(todo) - 1}"
    if options.max_parallel:
        array += f"%{int(options.max_parallel)}"
    lines = [
        "#!/bin/bash",
        f"# ttc rd sweep: {len(todo)} rate points, one array task each (plan: {plan})",
        f"#SBATCH --job-name={_sbatch_value(options.job_name, 'job name')}",
        f"#SBATCH --array={array}",
        "#SBATCH --ntasks=1",
        f"#SBATCH --output={out.resolve()}/slurm-%A_%a.out",
    ]
    if options.gpus_per_job:
        lines.append(f"#SBATCH --gres=gpu:{int(options.gpus_per_job)}")
    for flag, value in (
        ("partition", options.partition),
        ("time", options.time),
        ("cpus-per-task", options.cpus_per_task),
        ("account", options.account),
    ):
        if value is not None:
            lines.append(f"#SBATCH --{flag}={_sbatch_value(value, flag)}")
    lines += [
        "set -euo pipefail",
        # the launchers' paths (tools/...) are relative to where the sweep was planned
        f"cd {shlex.quote(os.getcwd())}",
        f"srun --ntasks=1 {shlex.quote(python)} -m ttc_core.cli rd task "
        f'{shlex.quote(str(plan.resolve()))} "$SLURM_ARRAY_TASK_ID"',
        "",
    ]
    script = out / SLURM_SCRIPT
    script.write_text("\n".join(lines))
    return script


def submit(script: str | os.PathLike) -> str:
    """``sbatch --parsable SCRIPT``; returns the job id."""
    import shutil

    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise SweepError(
            f"sbatch not found on PATH: submit {script} from a Slurm login node (sbatch {script})"
        )
    proc = subprocess.run([sbatch, "--parsable", str(script)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SweepError(f"sbatch failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip().split(";")[0]
