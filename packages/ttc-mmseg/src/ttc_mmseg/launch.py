"""What ``python -m ttc_mmseg.train`` / ``ttc_mmseg.test`` run (console scripts
``ttc-mmseg-train`` / ``ttc-mmseg-test``; the repository's ``tools/train.py`` and
``tools/test.py`` wrap them): MMSegmentation's launchers, plus the evaluation protocol and two
checks.

The commands take the same arguments as MMSeg's ``tools/train.py`` / ``tools/test.py`` and run
the same ``Runner``; the config argument is a file or the name of a config shipped in this
package (:mod:`ttc_mmseg.model_zoo`). The configs work with MMSeg's own tools as well (which
train, select on the selection split and stop, but write no report). Differences:

0. **The reported evaluation.** After ``runner.train()``, ``train`` evaluates the checkpoint
   chosen on the selection split (``best_ckpt``, else the final model) **once** on
   ``test_dataloader`` with real bitstreams and writes ``work_dir/ttc_report.json``
   (:func:`ttc_mmseg.selection.report`; ``--no-report`` skips it). Before training, a config
   that would select on the reported split is refused
   (:func:`ttc_mmseg.selection.check_protocol`).

1. **Config check.** A config that uses ttc types but lacks
   ``custom_imports = dict(imports=['ttc_mmseg'])`` fails up front with that fix in the
   message (MMSeg's tools would stop later with a registry ``KeyError``).
2. **Distributed training on CPU** (``torchrun ... --launcher pytorch`` without a GPU):
   MMEngine 0.10's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and its default
   DDP wrapper passes ``device_ids=[LOCAL_RANK]``, which both fail without CUDA. Here the
   launcher starts the gloo process group itself (the runner skips its own initialisation when a
   process group exists) and sets ``model_wrapper_cfg`` so that DDP gets no device ids. With a
   GPU nothing changes: the stock path runs.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import os.path as osp
from collections.abc import Iterator, Mapping, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log

from .model_zoo import ConfigNotFoundError, export_config_dir, resolve_config
from .selection import check_protocol, report

__all__ = [
    "TTCConfigError",
    "check_config",
    "config_types",
    "init_cpu_distributed",
    "ttc_types",
    "train",
    "test",
]

PLUGIN = "ttc_mmseg"
#: ``--amp``: the mixed-precision wrapper of each fp32 wrapper
AMP_WRAPPERS = {"OptimWrapper": "AmpOptimWrapper", "TTCOptimWrapper": "TTCAmpOptimWrapper"}
IMPORTS_HINT = f"custom_imports = dict(imports=['{PLUGIN}'], allow_failed_imports=False)"


class TTCConfigError(ValueError):
    """A config cannot work as written; the message says how to fix it."""


def ttc_types() -> set[str]:
    """Names of everything ttc_mmseg registers in mmseg's registries."""
    from mmseg import registry

    import ttc_mmseg  # noqa: F401  (registers every ttc type)

    names = set()
    for reg in (
        registry.MODELS,
        registry.DATASETS,
        registry.TRANSFORMS,
        registry.METRICS,
        registry.HOOKS,
        registry.OPTIM_WRAPPERS,
        registry.OPTIM_WRAPPER_CONSTRUCTORS,
    ):
        for name, cls in reg.module_dict.items():
            if getattr(cls, "__module__", "").startswith(PLUGIN + "."):
                names.add(name)
    return names


def config_types(cfg: Mapping | Sequence) -> Iterator[str]:
    """Every ``type=`` string in a config (nested dicts and lists)."""
    if isinstance(cfg, Mapping):
        t = cfg.get("type")
        if isinstance(t, str):
            yield t
        for value in cfg.values():
            if isinstance(value, (Mapping, list, tuple)):
                yield from config_types(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            if isinstance(value, (Mapping, list, tuple)):
                yield from config_types(value)


def check_config(cfg: Config, filename: str | None = None) -> None:
    """Raise :class:`TTCConfigError` when ``cfg`` uses ttc types without importing the plugin."""
    used = sorted({t.split(".")[-1] for t in config_types(cfg.to_dict())} & ttc_types())
    if not used:
        return
    imports = (cfg.get("custom_imports") or {}).get("imports", [])
    if isinstance(imports, str):
        imports = [imports]
    if not any(m == PLUGIN or m.startswith(PLUGIN + ".") for m in imports):
        where = filename or cfg.filename or "the config"
        raise TTCConfigError(
            f"{where} uses types registered by {PLUGIN} ({', '.join(used)}) but does not import "
            f"it, so MMSegmentation's registries cannot find them. Add\n    {IMPORTS_HINT}\n"
            "to the config (or inherit from a shipped config: python -m ttc_mmseg.model_zoo "
            "--list)."
        )


def init_cpu_distributed(cfg: Config) -> bool:
    """Start gloo and configure a CPU DDP wrapper when ``launcher='pytorch'`` has no GPU.

    Returns True when it did (the run is CPU-distributed), False otherwise (nothing changed).
    """
    if cfg.get("launcher", "none") != "pytorch" or torch.cuda.is_available():
        return False
    import torch.distributed as dist

    env_cfg = cfg.setdefault("env_cfg", {})
    dist_cfg = dict(env_cfg.get("dist_cfg") or {})
    if not dist.is_initialized():
        kwargs = {}
        if dist_cfg.get("timeout") is not None:
            kwargs["timeout"] = datetime.timedelta(seconds=dist_cfg["timeout"])
        dist.init_process_group(backend="gloo", **kwargs)  # env:// from torchrun
    dist_cfg["backend"] = "gloo"
    env_cfg["dist_cfg"] = dist_cfg
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper.setdefault("device_ids", None)  # CPU modules take no device ids
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
    cfg.model_wrapper_cfg = wrapper
    print_log(
        f"CPU distributed run: gloo process group of {dist.get_world_size()} started by "
        f"{PLUGIN}, DDP without device ids",
        logger="current",
        level=logging.INFO,
    )
    return True


def _common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", help="the dir to save logs and models")
    parser.add_argument(
        "--cfg-options",
        nargs="+",
        action=DictAction,
        help="override settings of the config, key=value pairs (as MMSeg's tools)",
    )
    parser.add_argument(
        "--launcher",
        choices=["none", "pytorch", "slurm", "mpi"],
        default="none",
        help="job launcher",
    )
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None):
    """The arguments, with a shipped config's name turned into its file."""
    args = parser.parse_args(argv)
    try:
        args.config = resolve_config(args.config)
    except ConfigNotFoundError as exc:
        parser.error(str(exc))
    return args


def _load(config: str, args) -> Config:
    # configs of the user's may inherit shipped ones through {{$TTC_MMSEG_CONFIGS:}}
    export_config_dir()
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    cfg = Config.fromfile(config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    check_config(cfg, config)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(config))[0])
    return cfg


def _build_runner(cfg: Config):
    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS

    init_cpu_distributed(cfg)
    return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)


def train(argv: Sequence[str] | None = None):
    """``tools/train.py``: train a model from a config (MMSeg's arguments)."""
    parser = argparse.ArgumentParser(description="Train a ttc model with MMSegmentation")
    parser.add_argument("config", help="train config file path, or a shipped config's name")
    parser.add_argument(
        "--resume",
        action="store_true",
        default=False,
        help="resume from the latest checkpoint in the work_dir automatically",
    )
    parser.add_argument(
        "--amp",
        action="store_true",
        default=False,
        help="enable automatic-mixed-precision training",
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        default=False,
        help="do not evaluate the chosen checkpoint on the test split after training "
        "(no ttc_report.json)",
    )
    _common_args(parser)
    args = _parse(parser, argv)
    cfg = _load(args.config, args)
    try:
        warning = check_protocol(cfg)
    except ValueError as exc:
        raise TTCConfigError(f"{args.config}: {exc}") from exc
    if warning:
        print_log(f"{args.config}: {warning}", logger="current", level=logging.WARNING)
    if args.amp:
        if cfg.optim_wrapper.type in AMP_WRAPPERS.values():
            print_log(
                "AMP training is already enabled in your config.",
                logger="current",
                level=logging.WARNING,
            )
        elif cfg.optim_wrapper.type not in AMP_WRAPPERS:
            raise TTCConfigError(
                f"--amp needs optim_wrapper.type in {sorted(AMP_WRAPPERS)}, got "
                f"{cfg.optim_wrapper.type!r}"
            )
        else:
            cfg.optim_wrapper.type = AMP_WRAPPERS[cfg.optim_wrapper.type]
            cfg.optim_wrapper.loss_scale = "dynamic"
    cfg.resume = args.resume
    runner = _build_runner(cfg)
    runner.train()
    if args.no_report:
        return runner
    if cfg.get("test_dataloader") is None:
        print_log(
            "no test_dataloader: no reported evaluation (ttc_report.json) for this run",
            logger="current",
            level=logging.WARNING,
        )
        return runner
    report(runner)
    return runner


def test(argv: Sequence[str] | None = None):
    """``tools/test.py``: evaluate a checkpoint (MMSeg's arguments, without ``--tta``/``--out``)."""
    parser = argparse.ArgumentParser(description="Test (and evaluate) a ttc model")
    parser.add_argument("config", help="test config file path, or a shipped config's name")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument("--show-dir", help="directory where painted images will be saved")
    parser.add_argument("--wait-time", type=float, default=2, help="the interval of show (s)")
    _common_args(parser)
    args = _parse(parser, argv)
    cfg = _load(args.config, args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        hook = cfg.default_hooks.get("visualization")
        if hook is None:
            raise TTCConfigError("--show / --show-dir need default_hooks.visualization")
        hook["draw"] = True
        if args.show:
            hook["show"] = True
            hook["wait_time"] = args.wait_time
        if args.show_dir:
            cfg.visualizer["save_dir"] = args.show_dir
    runner = _build_runner(cfg)
    runner.test()
    return runner
