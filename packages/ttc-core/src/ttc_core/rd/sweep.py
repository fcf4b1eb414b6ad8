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

**Variable rate** (:mod:`ttc_core.variable_rate`): :func:`plan_variable_rate` /
:func:`run_variable_rate` train **one** model with every α (``OUT/variable_rate/``, the α list
passed as the framework's ``ALPHAS`` key), then evaluate its chosen checkpoint (the one its
``ttc_report.json`` names, else the final one) once per rate index with real bitstreams
through the framework's evaluation launcher (``tools/train_net.py --eval-only`` /
``tools/test.py``, the test-rate key set to the index), each in ``OUT/rate_<i>/``, which gets
its own ``ttc_report.json`` (the evaluation's numbers, the training's selection, ``rate`` and
``alpha``). ``rd collect OUT/rate_*`` then reads them as it reads per-α runs::

    α₁ … α_N ─▶ OUT/variable_rate/ (one training) ─┬─ rate 0 ─▶ OUT/rate_0/ ─┐
                                                    ├─ rate 1 ─▶ OUT/rate_1/ ─┼─▶ rd.collect
                                                    └─ …                      ┘

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
    "VARIABLE_RATE_KEYS",
    "alpha_run_name",
    "VariableRatePlan",
    "load_plan",
    "plan_variable_rate",
    "run_variable_rate",
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


#: framework -> (config key of the α list, config key of the evaluated rate position) of a
#: variable-rate base; an enhancement's are given with ``alphas_key`` / ``rate_key``
VARIABLE_RATE_KEYS = {
    "detectron2": ("MODEL.TTC.VARIABLE_RATE.ALPHAS", "MODEL.TTC.VARIABLE_RATE.TEST_RATE"),
    "mmseg": ("model.codec_loss.alphas", "model.test_cfg.rate"),
}
#: config overrides that make an evaluation code real bitstreams
_ACTUAL_BITS = {
    "detectron2": ["MODEL.TTC.TEST_ACTUAL_BITS", "True"],
    "mmseg": ["model.test_cfg.actual_bits=True"],
}
_EVAL_SCRIPT = {"detectron2": "train_net.py", "mmseg": "test.py"}


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


def alpha_run_name(alpha: float) -> str:
    """The folder name of the run of rate weight ``alpha`` in a sweep (``alpha_0.05``)."""
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
        run = Path(out) / alpha_run_name(alpha)
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
    cpu = None
    with open(point.run_dir / "sweep.log", "w") as out:
        proc = subprocess.Popen(
            point.command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **point.env}
        )
        if hasattr(os, "wait4"):
            # the run's own CPU time (user + system), exact also while other runs share the
            # machine: the training cost a wall clock under load cannot give
            _, status, usage = os.wait4(proc.pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
        else:
            rc = proc.wait()
    elapsed = time.time() - started
    if rc != 0:
        raise SweepError(
            f"run α={point.alpha:g} failed with exit code {rc} after {elapsed:.0f}s; "
            f"see {point.run_dir / 'sweep.log'}"
        )
    marker = {"alpha": point.alpha, "command": point.command, "seconds": round(elapsed, 1)}
    if cpu is not None:
        marker["cpu_seconds"] = round(cpu, 1)
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


# -- variable rate: one training, one evaluation per rate point --------------------------------
@dataclass
class VariableRatePlan:
    """One variable-rate training and the evaluations of its rate points."""

    framework: str
    config: Path
    alphas: list[float]
    out: Path
    train: SweepPoint
    rate_key: str
    alphas_key: str
    extra: list[str]
    eval_script: Path
    python: str

    def rate_dir(self, index: int) -> Path:
        return self.out / f"rate_{index}"

    @property
    def rate_dirs(self) -> list[Path]:
        return [self.rate_dir(i) for i in range(len(self.alphas))]


def plan_variable_rate(
    framework: str,
    config: str | os.PathLike,
    alphas: Sequence[float],
    out: str | os.PathLike,
    *,
    num_gpus: int = 1,
    alphas_key: str | None = None,
    rate_key: str | None = None,
    extra: Sequence[str] = (),
    tools_dir: str | os.PathLike = "tools",
    python: str = sys.executable,
) -> VariableRatePlan:
    """The training of one variable-rate model with every α (strictly decreasing: rate index
    0 is the lowest rate) and the evaluation plan of its rate points."""
    from ..variable_rate import VariableRate

    try:
        schedule = VariableRate(alphas)
    except ValueError as exc:
        raise SweepError(str(exc)) from None
    default_alphas, default_rate = VARIABLE_RATE_KEYS.get(framework, (None, None))
    alphas_key = alphas_key or default_alphas
    values = list(schedule.alphas)
    # the training point: a per-α plan of one "α" whose config value is the whole list
    points = plan_sweep(
        framework,
        config,
        [values[0]],
        out,
        num_gpus=num_gpus,
        alpha_key=alphas_key,
        extra=extra,
        tools_dir=tools_dir,
        python=python,
    )
    train = points[0]
    train.run_dir = Path(out) / "variable_rate"
    train.command = _replace_alpha(train.command, framework, alphas_key, values, train.run_dir)
    eval_script = Path(tools_dir) / _EVAL_SCRIPT[framework]
    if not eval_script.is_file():
        raise SweepError(f"evaluation launcher {eval_script} not found")
    return VariableRatePlan(
        framework,
        Path(config),
        values,
        Path(out),
        train,
        rate_key or default_rate,
        alphas_key,
        list(extra),
        eval_script,
        python,
    )


def _replace_alpha(cmd: list[str], framework: str, key: str, values, run_dir: Path) -> list[str]:
    """The per-α command with the α list in place of the single α, in ``run_dir``."""
    cmd = list(cmd)
    if framework == "detectron2":
        cmd[-1] = repr(values)
        cmd[cmd.index("OUTPUT_DIR") + 1] = str(run_dir)
    else:
        cmd[-1] = f"{key}={values!r}"
        cmd[cmd.index("--work-dir") + 1] = str(run_dir)
    return cmd


def trained_checkpoint(run_dir: Path) -> tuple[Path, dict]:
    """The checkpoint a finished training chose (its ``ttc_report.json``'s, else the final
    one) and its report (empty without one)."""
    from ..selection import read_report

    report = read_report(run_dir) or {}
    named = report.get("checkpoint")
    candidates = []
    if isinstance(named, str) and named:
        candidates.append(Path(named) if Path(named).is_absolute() else run_dir / named)
    candidates.append(run_dir / "model_final.pth")
    pointer = run_dir / "last_checkpoint"
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8").strip()
        if name:
            candidates += [Path(name), run_dir / Path(name).name]
    for path in candidates:
        if path.is_file():
            return path.resolve(), report
    raise SweepError(f"{run_dir}: the training finished but no checkpoint was found")


def _eval_command(plan: VariableRatePlan, index: int, checkpoint: Path) -> list[str]:
    rate_dir = plan.rate_dir(index)
    rate = repr(float(index))  # a float: yacs refuses an int for a float key
    if plan.framework == "detectron2":
        return [
            plan.python,
            str(plan.eval_script),
            "--config-file",
            str(plan.config),
            "--eval-only",
            *plan.extra,
            "OUTPUT_DIR",
            str(rate_dir),
            "MODEL.WEIGHTS",
            str(checkpoint),
            plan.alphas_key,
            repr(plan.alphas),
            plan.rate_key,
            rate,
            *_ACTUAL_BITS["detectron2"],
        ]
    return [
        plan.python,
        str(plan.eval_script),
        str(plan.config),
        str(checkpoint),
        "--work-dir",
        str(rate_dir),
        *plan.extra,
        "--cfg-options",
        f"{plan.alphas_key}={plan.alphas!r}",
        f"{plan.rate_key}={rate}",
        *_ACTUAL_BITS["mmseg"],
    ]


def _eval_metrics(framework: str, rate_dir: Path) -> dict:
    """The flat metrics an evaluation launcher wrote into ``rate_dir``."""
    from .collect import read_records

    if framework == "detectron2":
        path = rate_dir / "eval_results.json"
    else:  # tools/test.py: <work_dir>/<timestamp>/<timestamp>.json, the newest
        stamps = sorted(
            p for p in rate_dir.iterdir() if p.is_dir() and (p / f"{p.name}.json").is_file()
        )
        if not stamps:
            raise SweepError(f"{rate_dir}: the evaluation wrote no <timestamp>/<timestamp>.json")
        path = stamps[-1] / f"{stamps[-1].name}.json"
    if not path.is_file():
        raise SweepError(f"{rate_dir}: the evaluation wrote no {path.name}")
    records = read_records(path)
    if not records:
        raise SweepError(f"{path}: no results")
    return dict(records[-1].values)


def run_variable_rate(
    plan: VariableRatePlan,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr, flush=True),
) -> list[Path]:
    """Train (unless finished earlier), then evaluate every unfinished rate point; returns the
    rate directories (``OUT/rate_<i>``), each with a ``ttc_report.json`` for ``rd collect``."""
    from ..selection import write_report

    if plan.train.done:
        log(f"[sweep] variable-rate training finished earlier ({plan.train.run_dir}), skipped")
    else:
        _run_one(plan.train, log)
    checkpoint, report = trained_checkpoint(plan.train.run_dir)
    for index, alpha in enumerate(plan.alphas):
        point = SweepPoint(alpha, plan.rate_dir(index), _eval_command(plan, index, checkpoint))
        if point.done:
            log(f"[sweep] rate {index} (α={alpha:g}) evaluated earlier, skipped")
            continue
        _run_one(point, log)
        metrics = _eval_metrics(plan.framework, point.run_dir)
        metrics = {k: v for k, v in metrics.items() if k not in ("checkpoint", "iteration")}
        metrics.update(rate=float(index), alpha=float(alpha))
        write_report(
            point.run_dir,
            {k: v for k, v in metrics.items() if k not in ("split", "dataset", "selection")},
            dataset=str(report.get("dataset") or "test"),
            checkpoint=str(checkpoint),
            iteration=report.get("iteration"),
            selection=report.get("selection"),
            num_images=_num_images(metrics),
        )
    return plan.rate_dirs


def _num_images(metrics: dict) -> int | None:
    for key in ("num_images", "ttc/num_images"):
        value = metrics.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.pop(key)
            return int(value)
    return None
