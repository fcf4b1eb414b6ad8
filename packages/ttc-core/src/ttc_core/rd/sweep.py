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

__all__ = ["FRAMEWORKS", "DONE_MARKER", "SweepError", "SweepPoint", "plan_sweep", "run_sweep"]

DONE_MARKER = "ttc_sweep_done.json"

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
