"""What the evidence study trains: experiments, scales, and one command per run.

Every run goes through a framework's own launcher (``tools/train_net.py``, ``tools/train.py``)
with a shipped config, exactly as a user would run it; the scale only overrides the schedule
and the data. One run directory per (experiment, method, seed, stage, α)::

    OUT/runs/depth/proposed/seed_0/alpha_0.1/                 base layers (MMSeg, Detectron2)
    OUT/runs/segmentation/proposed-base/seed_0/conditional/alpha_0.3/
                                                   .../standalone/alpha_0.3/   zeros for ŷ_b
                                                   .../continued/alpha_0.3/    true ŷ_b

Every run evaluates its reported split once at the end (``ttc_report.json``, METHOD §8), and the
enhancement layers are trained on the base checkpoint its report names, the Standalone and
Continued controls on the conditional checkpoint its report names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..rd.sweep import SweepPoint, plan_sweep
from .pretrain import Pretraining

__all__ = [
    "BASE_METHODS",
    "CONTROL_STAGES",
    "EXPERIMENTS",
    "SCALES",
    "Experiment",
    "Scale",
    "base_points",
    "control_points",
    "enhancement_points",
]

#: the two ways of training a base layer (METHOD §2)
BASE_METHODS = ("Proposed", "Baseline")
#: retraining stages of a conditional enhancement model (only its entropy model trains)
CONTROL_STAGES = ("standalone", "continued")

_MMSEG_DEMO = "configs/mmseg/demo/"
_D2_DEMO = "configs/detectron2/demo/"


@dataclass(frozen=True)
class Experiment:
    """One RD comparison: a base task, or an enhancement task on a base task's models.

    Attributes:
        name: results tag (``cityscapes_depth``, ...).
        framework: ``"mmseg"`` or ``"detectron2"``.
        configs: config per method (bases: ``Proposed`` / ``Baseline``) or per stage
            (enhancements: ``conditional`` / ``standalone`` / ``continued``).
        base: for an enhancement, the name of the base experiment it is trained on.
        metric / metric_name / scale / direction: report key, stored name, factor, better-ness.
        rates: RD column → report key (``bpp``, ``bpp_estimated``, per layer ...).
        also: further curves from the same runs, ``{name: (key, stored name)}`` (e.g. the
            direct reconstruction of a base).
    """

    name: str
    framework: str
    configs: dict[str, str]
    metric: str
    metric_name: str
    direction: str
    rates: dict[str, str]
    base: str | None = None
    scale: float = 1.0
    also: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def is_enhancement(self) -> bool:
        return self.base is not None


def _mmseg_rates(layers: bool) -> dict[str, str]:
    rates = {"bpp": "bpp", "bpp_estimated": "bpp_estimated"}
    if layers:
        for layer in ("base", "enhancement"):
            rates[f"bpp_{layer}"] = f"bpp_{layer}"
            rates[f"bpp_{layer}_estimated"] = f"bpp_{layer}_estimated"
    return rates


def _d2_rates(layers: bool) -> dict[str, str]:
    return {k: f"ttc/{v}" for k, v in _mmseg_rates(layers).items()}


_SEG = _MMSEG_DEMO + "ttc-enh{}_deeplabv3_r18-d8_1xb4-30e_synthetic-cityscapes-seg-64x128.py"
_REC = (
    _MMSEG_DEMO
    + "ttc-enh-recon{}_synthesis-n3_1xb4-30e_synthetic-cityscapes-halfres-recon-64x128.py"
)
_DEPTH = _MMSEG_DEMO + "ttc-{}_lraspp_m-v3-d8_1xb4-35e_synthetic-cityscapes-disparity-64x128.py"
_DET = _D2_DEMO + "ttc_{}_R_18_FPN_demo_synthetic-coco.yaml"
_COCO_REC = _D2_DEMO + "ttc_enhancement-recon{}_demo_synthetic-coco.yaml"


def _stages(pattern: str, conditional: str, sep: str) -> dict[str, str]:
    """Config per enhancement stage: the conditional one and its controls, named alike."""
    return {
        "conditional": pattern.format(conditional),
        **{stage: pattern.format(f"{sep}{stage}") for stage in CONTROL_STAGES},
    }


#: every experiment of the study, in the order they are trained and reported
EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment(
            "cityscapes_depth",
            "mmseg",
            {"Proposed": _DEPTH.format("proposed"), "Baseline": _DEPTH.format("baseline")},
            metric="rmse",
            metric_name="rmse",
            direction="lower",
            rates=_mmseg_rates(False),
            also={"cityscapes_direct_reconstruction": ("psnr_direct", "psnr_direct")},
        ),
        Experiment(
            "cityscapes_segmentation",
            "mmseg",
            _stages(_SEG, "-proposed", "-"),
            base="cityscapes_depth",
            metric="mIoU",
            metric_name="mIoU",
            direction="higher",
            scale=0.01,
            rates=_mmseg_rates(True),
        ),
        Experiment(
            "cityscapes_scalable_reconstruction",
            "mmseg",
            _stages(_REC, "", "-"),
            base="cityscapes_depth",
            metric="psnr_scalable",
            metric_name="psnr_scalable",
            direction="higher",
            rates=_mmseg_rates(True),
        ),
        Experiment(
            "coco_detection",
            "detectron2",
            {"Proposed": _DET.format("proposed"), "Baseline": _DET.format("baseline")},
            metric="bbox/AP",
            metric_name="mAP",
            direction="higher",
            scale=0.01,
            rates=_d2_rates(False),
            also={"coco_direct_reconstruction": ("ttc/psnr_direct", "psnr_direct")},
        ),
        Experiment(
            "coco_scalable_reconstruction",
            "detectron2",
            _stages(_COCO_REC, "", "_"),
            base="coco_detection",
            metric="ttc/psnr_scalable",
            metric_name="psnr_scalable",
            direction="higher",
            rates=_d2_rates(True),
        ),
    )
}


@dataclass(frozen=True)
class Scale:
    """How big the study is: seeds, data, rate weights and schedules.

    ``options[experiment]`` are launcher overrides applied to every run of the experiment
    (MMSeg ``--cfg-options`` entries, Detectron2 ``KEY VALUE`` pairs); they set the schedule,
    identically for Proposed and Baseline and for Standalone and Continued (equal budgets).
    ``control_options[experiment]`` come after them in the Standalone and Continued runs only,
    the same for both (their budgets stay equal): the controls' own schedule.
    ``pretraining`` is the plain detector the detection bases start from (Proposed and Baseline
    alike; :mod:`ttc_core.study.pretrain`), or None to train them from scratch.
    """

    name: str
    seeds: tuple[int, ...]
    cityscapes: tuple[int, int, tuple[int, int]]  #: (train, val, (H, W))
    coco: tuple[int, int, tuple[int, int]]
    alphas: dict[str, tuple[float, ...]]
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    control_options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    experiments: tuple[str, ...] = tuple(EXPERIMENTS)
    jobs: int = 2
    device: str = "cpu"
    pretraining: Pretraining | None = None


_MMSEG_SMOKE = (
    "--cfg-options",
    "train_cfg.max_epochs=2",
    "train_cfg.val_interval=1",
    "default_hooks.checkpoint.interval=2",
)
_D2_SMOKE = ("SOLVER.MAX_ITER", "6", "TEST.EVAL_PERIOD", "3", "SOLVER.CHECKPOINT_PERIOD", "6")


def _mmseg_epochs(epochs: int) -> tuple[str, ...]:
    """MMSeg overrides of a schedule: ``epochs`` epochs, the checkpoint saved after the last."""
    return (
        "--cfg-options",
        f"train_cfg.max_epochs={epochs}",
        f"default_hooks.checkpoint.interval={epochs}",
    )


#: the demo's controls: half the conditional stage's schedule, for Standalone and Continued alike
#: (only the entropy model trains: in a 30-epoch Continued run its rate moved 0.5 % after epoch 15)
_MMSEG_DEMO_CONTROLS = _mmseg_epochs(15)
#: the demo's depth bases and segmentation enhancements: 20 epochs (the configs' 35 / 30 are the
#: study's), which leaves the /4 detection bases their 200 iterations inside 15 minutes; the
#: segmentation controls again take half
_MMSEG_DEMO_SHORT = _mmseg_epochs(20)
_MMSEG_DEMO_SHORT_CONTROLS = _mmseg_epochs(10)
_D2_DEMO_CONTROLS = ("SOLVER.MAX_ITER", "50", "SOLVER.CHECKPOINT_PERIOD", "50")

_PRETRAIN = _D2_DEMO + "faster_rcnn_R_18_FPN_pretrain_synthetic-coco.yaml"
#: the demo's and the study's pretrained detector: its own generated scenes (seed 1; the
#: study's data are seed 0) at the demo's image size, the schedule of its config
_DEMO_PRETRAINING = Pretraining(_PRETRAIN, coco=(400, 50, (128, 176)), seed=1)

#: rate weights of the study: 4 points per curve (the cubic fit needs 4); the paper records none
_STUDY_ALPHAS = {
    "cityscapes_depth": (0.01, 0.05, 0.2, 1.0),
    "cityscapes_segmentation": (0.03, 0.1, 0.3, 1.0),
    "cityscapes_scalable_reconstruction": (2.0, 8.0, 32.0, 128.0),
    # the /4 detection bases code 0.7-1.3 bpp at alpha 0.02-0.2 (results/synthetic/coco-s4;
    # a /16 one about 0.3 bpp at 0.05-1.0): lower weights than the /16 study's
    "coco_detection": (0.02, 0.05, 0.1, 0.2),
    "coco_scalable_reconstruction": (2.0, 8.0, 32.0, 128.0),
}

SCALES: dict[str, Scale] = {
    # the whole pipeline in a few minutes (tests/e2e): tiny data and schedules, learns nothing
    "smoke": Scale(
        "smoke",
        seeds=(0,),
        cityscapes=(12, 4, (64, 128)),
        coco=(12, 4, (128, 176)),
        alphas={
            "cityscapes_depth": (0.1, 1.0),
            "cityscapes_segmentation": (0.3, 3.0),
            "cityscapes_scalable_reconstruction": (4.0, 32.0),
            "coco_detection": (0.1, 1.0),
            "coco_scalable_reconstruction": (4.0, 32.0),
        },
        options={
            **{
                e: _MMSEG_SMOKE
                for e in (
                    "cityscapes_depth",
                    "cityscapes_segmentation",
                    "cityscapes_scalable_reconstruction",
                )
            },
            **{e: _D2_SMOKE for e in ("coco_detection", "coco_scalable_reconstruction")},
        },
        # the pretraining phase, as briefly as the rest
        pretraining=Pretraining(
            _PRETRAIN,
            coco=(8, 2, (128, 176)),
            seed=1,
            options=("SOLVER.MAX_ITER", "4", "SOLVER.WARMUP_ITERS", "0"),
        ),
    ),
    # `make demo`: one seed, every experiment, about 15 minutes on 2 CPU cores
    "demo": Scale(
        "demo",
        seeds=(0,),
        cityscapes=(48, 12, (64, 128)),
        coco=(48, 12, (128, 176)),
        # two points per curve (the PCHIP fit's minimum); the enhancements use the second base
        alphas={
            "cityscapes_depth": (0.01, 0.1),
            "cityscapes_segmentation": (0.1, 1.0),
            "cityscapes_scalable_reconstruction": (8.0, 64.0),
            "coco_detection": (0.05, 0.2),
            "coco_scalable_reconstruction": (8.0, 64.0),
        },
        options={
            "cityscapes_depth": _MMSEG_DEMO_SHORT,
            "cityscapes_segmentation": _MMSEG_DEMO_SHORT,
        },
        control_options={
            "cityscapes_segmentation": _MMSEG_DEMO_SHORT_CONTROLS,
            "cityscapes_scalable_reconstruction": _MMSEG_DEMO_CONTROLS,
            "coco_scalable_reconstruction": _D2_DEMO_CONTROLS,
        },
        pretraining=_DEMO_PRETRAINING,
    ),
    # the evidence study: 3 seeds, 4 rate points per curve (the cubic fit needs 4), the demo's
    # data and the configs' schedules; about 2 hours on 2 CPU cores (113.6 min at eb03d6d, with
    # the /16 detection configs; not yet measured with the /4 ones)
    "study": Scale(
        "study",
        seeds=(0, 1, 2),
        cityscapes=(48, 12, (64, 128)),
        coco=(48, 12, (128, 176)),
        alphas=_STUDY_ALPHAS,
        pretraining=_DEMO_PRETRAINING,
    ),
    # one CUDA GPU (with the 16 CPU cores of such a machine): the study's runs on twice the
    # data at twice the frame size, 8 at a time. Not yet measured on a GPU: run it when one is
    # lent and record the time under results/gpu/.
    "gpu": Scale(
        "gpu",
        seeds=(0, 1, 2),
        cityscapes=(96, 24, (128, 256)),
        coco=(96, 24, (160, 224)),
        alphas=_STUDY_ALPHAS,
        jobs=8,
        device="cuda",
        pretraining=Pretraining(_PRETRAIN, coco=(800, 100, (160, 224)), seed=1),
    ),
}


def _slug(method: str) -> str:
    return method.lower()


def _seed_options(framework: str, seed: int, device: str) -> list[str]:
    if framework == "detectron2":
        return ["SEED", str(seed), "MODEL.DEVICE", device]
    return ["--cfg-options", f"randomness.seed={seed}"]


def _d2_register(data: Path) -> list[str]:
    coco = data / "coco"
    return [
        "--register-coco",
        f"demo_coco_train={coco}/annotations/instances_train2017.json:{coco}/train2017",
        "--register-coco",
        f"demo_coco_val={coco}/annotations/instances_val2017.json:{coco}/val2017",
    ]


def _point(
    exp: Experiment,
    scale: Scale,
    config: str,
    alpha: float,
    out: Path,
    data: Path,
    seed: int,
    opts: Sequence[str] = (),
    repo: Path = Path("."),
) -> SweepPoint:
    """One run: the framework's launcher, the config, the scale's schedule, the seed, α."""
    options = list(scale.options.get(exp.name, ()))
    if exp.framework == "detectron2":
        extra = [*_d2_register(data), *_seed_options("detectron2", seed, scale.device)]
        extra += [*options, *opts]
        alpha_key = "MODEL.TTC.ENHANCEMENT.ALPHA" if exp.is_enhancement else None
    else:
        extra = _seed_options("mmseg", seed, scale.device)
        extra += [*options, *opts]
        alpha_key = None
    (point,) = plan_sweep(
        exp.framework,
        repo / config,
        [alpha],
        out,
        extra=extra,
        alpha_key=alpha_key,
        tools_dir=repo / "tools",
    )
    return point


def run_dir(out: Path, exp: str, method: str, seed: int, stage: str | None = None) -> Path:
    """Folder of one (experiment, method, seed[, stage]) sweep; its runs are ``alpha_*``."""
    path = out / "runs" / exp / _slug(method) / f"seed_{seed}"
    return path / stage if stage else path


def base_points(
    scale: Scale,
    out: Path,
    data: Path,
    repo: Path,
    pretrained: Mapping[str, Path] | None = None,
) -> list[SweepPoint]:
    """Every base-layer run of the scale; ``pretrained[experiment]`` are the weights its runs
    start from (the same for Proposed and Baseline)."""
    points = []
    for name in scale.experiments:
        exp = EXPERIMENTS[name]
        if exp.is_enhancement:
            continue
        start = (pretrained or {}).get(name)
        opts = _weights_option(exp, start) if start is not None else []
        for method in BASE_METHODS:
            for seed in scale.seeds:
                for alpha in scale.alphas[name]:
                    d = run_dir(out, name, method, seed)
                    config = exp.configs[method]
                    points.append(_point(exp, scale, config, alpha, d, data, seed, opts, repo))
    return points


def _base_option(exp: Experiment, checkpoint: Path) -> list[str]:
    if exp.framework == "detectron2":
        return ["MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS", str(checkpoint)]
    return ["--cfg-options", f"model.base.checkpoint={checkpoint}"]


def _weights_option(exp: Experiment, checkpoint: Path) -> list[str]:
    if exp.framework == "detectron2":
        return ["MODEL.WEIGHTS", str(checkpoint)]
    return ["--cfg-options", f"load_from={checkpoint}"]


def middle_alpha(scale: Scale, experiment: str) -> float:
    """The base rate point the enhancement layers are trained on (the middle one)."""
    alphas = scale.alphas[experiment]
    return alphas[len(alphas) // 2]


def enhancement_points(
    scale: Scale, out: Path, data: Path, repo: Path, base_checkpoint
) -> list[SweepPoint]:
    """Conditional enhancement runs; ``base_checkpoint(experiment, method, seed)`` gives the
    checkpoint each is trained on."""
    points = []
    for name in scale.experiments:
        exp = EXPERIMENTS[name]
        if not exp.is_enhancement or exp.base not in scale.experiments:
            continue
        for method in BASE_METHODS:
            for seed in scale.seeds:
                base = base_checkpoint(exp.base, method, seed)
                d = run_dir(out, name, f"{method}-base", seed, "conditional")
                for alpha in scale.alphas[name]:
                    points.append(
                        _point(
                            exp,
                            scale,
                            exp.configs["conditional"],
                            alpha,
                            d,
                            data,
                            seed,
                            _base_option(exp, base),
                            repo,
                        )
                    )
    return points


def control_points(
    scale: Scale, out: Path, data: Path, repo: Path, base_checkpoint, conditional_checkpoint
) -> list[SweepPoint]:
    """Standalone and Continued runs, each from the conditional model of the same α."""
    points = []
    for name in scale.experiments:
        exp = EXPERIMENTS[name]
        if not exp.is_enhancement or exp.base not in scale.experiments:
            continue
        for method in BASE_METHODS:
            for seed in scale.seeds:
                base = base_checkpoint(exp.base, method, seed)
                for alpha in scale.alphas[name]:
                    start = conditional_checkpoint(name, method, seed, alpha)
                    for stage in CONTROL_STAGES:
                        d = run_dir(out, name, f"{method}-base", seed, stage)
                        opts = [
                            *_base_option(exp, base),
                            *_weights_option(exp, start),
                            *scale.control_options.get(name, ()),
                        ]
                        points.append(
                            _point(exp, scale, exp.configs[stage], alpha, d, data, seed, opts, repo)
                        )
    return points
