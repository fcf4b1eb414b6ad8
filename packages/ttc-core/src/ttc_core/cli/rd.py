"""``ttc rd``: build and check RD JSON files.

- ``ttc rd collect``: evaluation logs of several runs (one per rate point) to one RD curve;
  inputs and selection rules are documented in :mod:`ttc_core.rd.collect`.
- ``ttc rd validate``: check RD files against the schema of :mod:`ttc_core.rd.format`.
- ``ttc rd upgrade``: rewrite RD files of an older format (``ttc-rd/1``) in the current one.
- ``ttc rd sweep``: one training run per α through the frameworks' launchers, resumable, then
  collect (:mod:`ttc_core.rd.sweep`); ``--slurm [--submit]`` writes (and submits) one Slurm
  array job instead, whose tasks call ``ttc rd task PLAN INDEX``. ``--variable-rate`` trains
  **one** variable-rate model with all the α and evaluates it at each rate point with real
  bits instead (:func:`ttc_core.rd.sweep.run_variable_rate`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ttc_core.rd.collect import SELECT_RULES, CollectError, collect_runs
from ttc_core.rd.format import FORMAT, RDFormatError, dumps, load_rd, save_rd
from ttc_core.rd.sweep import (
    FRAMEWORKS,
    VARIABLE_RATE_KEYS,
    SlurmOptions,
    SweepError,
    plan_sweep,
    plan_variable_rate,
    run_sweep,
    run_task,
    run_variable_rate,
    submit,
    write_slurm,
)

PROG = "ttc rd"

COLLECT_EPILOG = """\
input of one run (RUN is a run directory, or a results file):
  Detectron2   RUN/metrics.json (JSON lines; evaluation lines carry e.g. bbox/AP and iteration)
  MMEngine     RUN/<YYYYMMDD_HHMMSS>/vis_data/scalars.json (JSON lines, with step) and
               RUN/<YYYYMMDD_HHMMSS>/<YYYYMMDD_HHMMSS>.json (written by tools/test.py)
  other        --results-file GLOB (relative to RUN): a JSON dict, a list of dicts or JSON lines
  Nested dicts are flattened with '/': {"bbox": {"AP": 40}} is read as bbox/AP.

An evaluation is a record holding every requested key (--metric, the rates, --extra) as a
number. Each run contributes one point, chosen by --select:
  last   the last evaluation in file order (the final model), as logged   [default]
  best   the checkpoint chosen on the selection split (carved from the training split),
         evaluated once on the reported split: RUN/ttc_report.json, written by ttc's trainers
         at the end of training. Never the best of the reported split's own evaluations.

Rates: --bpp names the actual rate (real bitstreams), --bpp-estimated the likelihood estimate;
they are stored as bpp and bpp_estimated. With --estimated-only there is no bpp column.

Its checkpoint: the record's "checkpoint" value; else RUN/*.pth|*.pt|*.ckpt whose name ends in
the record's iteration (iteration/iter/step/epoch: model_0004999.pth, iter_8000.pth); else,
for the run's last evaluation, model_final.pth or the file named in RUN/last_checkpoint.
Its config: RUN/config.yaml, else the only RUN/*.py. Both are recorded with their SHA-256.

example (Detectron2 AP in percent, stored as the paper's fraction):
  ttc rd collect work/proposed_a* --metric bbox/AP --metric-name mAP --metric-scale 0.01 \\
      --bpp ttc/bpp --bpp-estimated ttc/bpp_estimated --select best --name Proposed \\
      --dataset coco_2017_val \\
      -o results/coco_detection_proposed.json
"""


def _add_collect_options(c: argparse.ArgumentParser, required: bool) -> None:
    """Options naming what to collect (shared by ``collect`` and ``sweep``)."""
    c.add_argument("--metric", required=required, metavar="KEY", help="metric key in the records")
    c.add_argument(
        "--metric-name",
        metavar="NAME",
        help="key to store the metric under (default: KEY), e.g. mAP or psnr-rgb",
    )
    c.add_argument(
        "--metric-scale",
        type=float,
        default=1.0,
        metavar="S",
        help="multiply the metric by S, e.g. 0.01 for AP in percent (default: 1)",
    )
    c.add_argument(
        "--direction",
        choices=("higher", "lower"),
        help="which metric values are better (default: known for PSNR, AP, mIoU, "
        "rmse, ...; required otherwise)",
    )
    c.add_argument(
        "--bpp",
        default="bpp",
        metavar="KEY",
        help="key of the actual rate from real bitstreams (default: %(default)s)",
    )
    c.add_argument("--bpp-estimated", metavar="KEY", help="key of the likelihood-estimated rate")
    c.add_argument(
        "--estimated-only",
        action="store_true",
        help="the runs coded no real bitstreams: store only bpp_estimated (no bpp column)",
    )
    c.add_argument("--bpp-base", metavar="KEY", help="key of the base layer's actual rate")
    c.add_argument(
        "--bpp-enhancement", metavar="KEY", help="key of the enhancement layer's actual rate"
    )
    c.add_argument("--bpp-base-estimated", metavar="KEY", help="key of the base layer's estimate")
    c.add_argument(
        "--bpp-enhancement-estimated", metavar="KEY", help="key of the enhancement's estimate"
    )
    c.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="KEY",
        help="copy another key into the results (repeatable)",
    )
    c.add_argument(
        "--select",
        choices=SELECT_RULES,
        default="last",
        help="which evaluation of each run to use (default: %(default)s; see below)",
    )
    c.add_argument(
        "--results-file",
        action="append",
        metavar="GLOB",
        help="results file(s) of each run, relative to RUN (repeatable)",
    )
    c.add_argument("--name", required=required, help="method name (the curve's legend)")
    c.add_argument("--description", default="")
    c.add_argument("--experiment", help="experiment tag, e.g. cityscapes_depth")
    c.add_argument("--dataset", help="evaluation dataset, e.g. cityscapes_val")
    c.add_argument("--num-images", type=int, help="number of evaluated images")
    c.add_argument(
        "--no-hash", action="store_true", help="do not hash checkpoints and configs (faster)"
    )
    c.add_argument("-o", "--output", help="RD JSON file to write (default: print it)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Build and check RD JSON files.")
    sub = parser.add_subparsers(dest="command", metavar="{collect,validate,upgrade,sweep,task}")

    c = sub.add_parser(
        "collect",
        prog=f"{PROG} collect",
        epilog=COLLECT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="evaluation logs of several runs (one per rate point) to one RD JSON file",
        description="Collect the evaluations of several runs, one rate point each, into one "
        "RD curve (one method).",
    )
    c.add_argument("runs", nargs="+", metavar="RUN", help="run directories or results files")
    _add_collect_options(c, required=True)

    v = sub.add_parser(
        "validate",
        prog=f"{PROG} validate",
        help="check RD JSON files",
        description="Check RD JSON files against ttc's RD schema.",
    )
    v.add_argument("files", nargs="+", metavar="FILE")

    u = sub.add_parser(
        "upgrade",
        prog=f"{PROG} upgrade",
        help="rewrite RD JSON files of an older format in the current one",
        description="Rewrite RD JSON files of format ttc-rd/1 as ttc-rd/2, in place: a curve "
        "that said bpp_source 'estimated' gets its rate columns renamed to bpp_estimated "
        "(bpp_base_estimated, ...), so bpp always means real bitstreams.",
    )
    u.add_argument("files", nargs="+", metavar="FILE")

    w = sub.add_parser(
        "sweep",
        prog=f"{PROG} sweep",
        help="train one model per rate weight α (resumable), then collect",
        description="Launch one training run per rate weight α through the framework's own "
        "launcher (tools/train_net.py or tools/train.py; torchrun for several GPUs), skipping "
        "runs that finished earlier, then collect them into one RD JSON file when --metric and "
        "--name are given. Arguments after '--' go to the launcher.",
    )
    w.add_argument("--framework", choices=sorted(FRAMEWORKS), required=True)
    w.add_argument("--config", required=True, help="the framework config of the method")
    w.add_argument("--alphas", type=float, nargs="+", required=True, metavar="A")
    w.add_argument("--out", required=True, help="sweep directory (one sub-directory per α)")
    w.add_argument("--num-gpus", type=int, default=1, help="GPUs per run (default: 1)")
    w.add_argument("--jobs", type=int, default=1, help="runs at a time (default: 1)")
    w.add_argument(
        "--alpha-key",
        help="config key of α (default: the framework's; with --variable-rate the key of the α "
        f"list, default {', '.join(f'{k}: {v[0]}' for k, v in VARIABLE_RATE_KEYS.items())})",
    )
    w.add_argument(
        "--variable-rate",
        action="store_true",
        help="train ONE variable-rate model with all the α (strictly decreasing: rate index 0 "
        "is the lowest rate) in OUT/variable_rate, then evaluate its chosen checkpoint at each "
        "rate index with real bits (tools/train_net.py --eval-only / tools/test.py) in "
        "OUT/rate_<i>, each with a ttc_report.json; collected like per-α runs",
    )
    w.add_argument(
        "--rate-key",
        help="with --variable-rate: config key of the evaluated rate position (default: "
        f"{', '.join(f'{k}: {v[1]}' for k, v in VARIABLE_RATE_KEYS.items())}; an enhancement's "
        "are MODEL.TTC.ENHANCEMENT.VARIABLE_RATE.* for Detectron2)",
    )
    w.add_argument("--tools-dir", default="tools", help="where the launchers are (default: tools)")
    w.add_argument(
        "--commands",
        action="store_true",
        help="print the commands of the unfinished runs (one per line, for a scheduler) and exit",
    )
    slurm = w.add_argument_group(
        "Slurm",
        "--slurm writes OUT/sweep.slurm, one array job with a task per unfinished rate point "
        "(each runs the launcher as a local sweep does, resumable), instead of running them; "
        "collect afterwards with `ttc rd collect` (or this command again with --metric).",
    )
    slurm.add_argument("--slurm", action="store_true", help="write a Slurm array job")
    slurm.add_argument("--submit", action="store_true", help="also submit it with sbatch")
    slurm.add_argument("--partition")
    slurm.add_argument(
        "--gpus-per-job", type=int, help="GPUs per array task (default: --num-gpus; 0: CPU)"
    )
    slurm.add_argument("--time", help="time limit per task, e.g. 24:00:00")
    slurm.add_argument("--cpus-per-task", type=int)
    slurm.add_argument("--account")
    slurm.add_argument("--max-parallel", type=int, help="at most this many tasks at a time")
    _add_collect_options(w, required=False)

    t = sub.add_parser(
        "task",
        prog=f"{PROG} task",
        help="run one point of a sweep plan (what a Slurm array task calls)",
        description="Run point INDEX of a sweep plan written by `ttc rd sweep --slurm` "
        "(OUT/sweep_plan.json), unless it finished earlier.",
    )
    t.add_argument("plan")
    t.add_argument("index", type=int)
    return parser


def _collect(args: argparse.Namespace) -> int:
    if args.estimated_only and not args.bpp_estimated:
        print(f"{PROG} collect: --estimated-only needs --bpp-estimated KEY", file=sys.stderr)
        return 2
    curve = collect_runs(
        args.runs,
        name=args.name,
        metric=args.metric,
        bpp=None if args.estimated_only else args.bpp,
        bpp_estimated=args.bpp_estimated,
        bpp_base=None if args.estimated_only else args.bpp_base,
        bpp_enhancement=None if args.estimated_only else args.bpp_enhancement,
        bpp_base_estimated=args.bpp_base_estimated,
        bpp_enhancement_estimated=args.bpp_enhancement_estimated,
        extra=args.extra,
        select=args.select,
        direction=args.direction,
        metric_name=args.metric_name,
        metric_scale=args.metric_scale,
        results_files=args.results_file,
        description=args.description,
        dataset=args.dataset,
        num_images=args.num_images,
        experiment=args.experiment,
        hash_files=not args.no_hash,
    )
    if args.output:
        print(save_rd(curve, args.output))
    else:
        print(dumps(curve.to_json()))
    return 0


def _variable_rate_sweep(args: argparse.Namespace, launcher_args: Sequence[str]) -> int:
    import shlex

    if args.slurm or args.submit:
        raise SweepError(
            "--variable-rate runs one training and then its evaluations, which depend on it: "
            "run it where it trains (a Slurm job of its own), without --slurm"
        )
    plan = plan_variable_rate(
        args.framework,
        args.config,
        args.alphas,
        args.out,
        num_gpus=args.num_gpus,
        alphas_key=args.alpha_key,
        rate_key=args.rate_key,
        extra=launcher_args,
        tools_dir=args.tools_dir,
    )
    if args.commands:
        if not plan.train.done:  # the evaluations need its checkpoint: printed by a rerun
            print(shlex.join(plan.train.command))
        return 0
    rate_dirs = run_variable_rate(plan)
    if args.metric and args.name:
        args.runs = [str(d) for d in rate_dirs]
        if args.framework == "detectron2" and args.select == "last" and not args.results_file:
            args.results_file = ["eval_results.json"]  # what --eval-only writes
        return _collect(args)
    return 0


def _sweep(args: argparse.Namespace, launcher_args: Sequence[str]) -> int:
    import shlex

    if args.variable_rate:
        return _variable_rate_sweep(args, launcher_args)
    if args.rate_key:
        raise SweepError("--rate-key applies to --variable-rate sweeps")
    points = plan_sweep(
        args.framework,
        args.config,
        args.alphas,
        args.out,
        num_gpus=args.num_gpus,
        alpha_key=args.alpha_key,
        extra=launcher_args,
        tools_dir=args.tools_dir,
    )
    if args.commands:
        for p in points:
            if not p.done:
                print(shlex.join(p.command))
        return 0
    if args.submit and not args.slurm:
        raise SweepError("--submit submits the Slurm array job of --slurm: add --slurm")
    if args.slurm:
        gpus = args.num_gpus if args.gpus_per_job is None else args.gpus_per_job
        if 0 < gpus < args.num_gpus:
            raise SweepError(f"--gpus-per-job {gpus} < --num-gpus {args.num_gpus} of each run")
        options = SlurmOptions(
            partition=args.partition,
            gpus_per_job=gpus,
            time=args.time,
            cpus_per_task=args.cpus_per_task,
            account=args.account,
            max_parallel=args.max_parallel,
        )
        script = write_slurm(points, args.out, options)
        if script is None:
            print(f"{PROG} sweep: every point has finished; nothing to submit", file=sys.stderr)
        elif args.submit:
            print(f"submitted {script} as Slurm job {submit(script)}")
        else:
            print(f"wrote {script}: submit it with `sbatch {script}`")
        if script is not None or not (args.metric and args.name):
            return 0
    else:
        run_sweep(points, jobs=args.jobs)
    if args.metric and args.name:
        args.runs = [str(p.run_dir) for p in points]
        return _collect(args)
    return 0


def _validate(args: argparse.Namespace) -> int:
    for path in args.files:
        curve = load_rd(path)
        info = curve.info()
        direction = f"{info.direction} is better" if info else "direction unknown"
        print(
            f"{path}: ok: {curve.name!r}, {len(curve)} points, {curve.metric} ({direction}), "
            f"rate {curve.rate_key} ({curve.rate_label()})"
        )
    return 0


def _upgrade(args: argparse.Namespace) -> int:
    for path in args.files:
        curve = load_rd(path)  # converts on load
        save_rd(curve, path)
        print(f"{path}: {curve.name!r} written as {FORMAT}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    launcher_args: list[str] = []
    if "--" in argv:  # everything after '--' belongs to the sweep's launcher
        cut = argv.index("--")
        argv, launcher_args = argv[:cut], argv[cut + 1 :]
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: choose a command: collect, validate, upgrade or sweep", file=sys.stderr)
        return 2
    try:
        if args.command == "sweep":
            return _sweep(args, launcher_args)
        if args.command == "task":
            run_task(args.plan, args.index)
            return 0
        commands = {"collect": _collect, "validate": _validate, "upgrade": _upgrade}
        return commands[args.command](args)
    except (CollectError, RDFormatError, SweepError) as err:
        print(f"{PROG} {args.command}: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(
            f"{PROG} {args.command}: {err.strerror or err}: {err.filename or ''}", file=sys.stderr
        )
        return 1
    except Exception as err:  # noqa: BLE001 - one line, never a traceback
        print(f"{PROG} {args.command}: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
