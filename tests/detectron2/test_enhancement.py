"""The COCO reconstruction enhancement layer (issues 5 and 12, Detectron2 half), CPU, generated
data.

A detection base is trained by tools/train_net.py (tiny config, a higher learning rate and a
strong reconstruction reward, so that ŷ_b carries information); the enhancement layer is then
trained from it by tools/train_net.py, then its Standalone variant and its equal-budget control
(Continued) from that, and the checkpoints are coded with ``ttc compress --layers all`` /
``ttc decompress``. Standalone and Continued runs that do not start from a trained enhancement
model are refused.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from .conftest import REPO, TINY_YAML, TRAIN_NET, read_metrics, run_script

TINY_ENH_YAML = Path(__file__).with_name("tiny_ttc_enhancement.yaml")
CONFIGS = REPO / "configs" / "detectron2"
ENH_TRAIN, ENH_VAL = "ttc_enh_coco_train", "ttc_enh_coco_val"
ENH_CONFIGS = sorted(CONFIGS.glob("*nhancement*.yaml"))
DEMO_ENH_CONFIGS = sorted(CONFIGS.glob("demo/*nhancement*.yaml"))
#: Standalone / Continued select on the rate (their PSNR cannot change)
RETRAIN_SELECTION = (
    "DATASETS.SELECTION.METRIC",
    "ttc/bpp_enhancement_estimated",
    "DATASETS.SELECTION.MODE",
    "min",
)


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    """12 train + 4 val generated street scenes (64×96, the tiny configs' test size)."""
    from ttc_core.datasets import write_coco_dataset

    root = tmp_path_factory.mktemp("enh_coco")
    write_coco_dataset(root, num_train=12, num_val=4, size=(64, 96), seed=3)
    specs = [
        f"{ENH_TRAIN}={root}/annotations/instances_train2017.json:{root}/train2017",
        f"{ENH_VAL}={root}/annotations/instances_val2017.json:{root}/val2017",
    ]
    return {"root": root, "specs": specs}


def _train_net(config: Path, data: dict, out: Path, *opts: str, flags=()) -> str:
    args = [str(TRAIN_NET), "--config-file", str(config), *flags]
    for spec in data["specs"]:
        args += ["--register-coco", spec]
    args += ["DATASETS.TRAIN", f"('{ENH_TRAIN}',)", "DATASETS.TEST", f"('{ENH_VAL}',)"]
    return run_script(args + ["OUTPUT_DIR", str(out), *opts])


def _images(data: dict, split: str = "val2017") -> list[dict]:
    """Detectron2 inputs of the generated images (BGR, 0–255, already at the test size)."""
    from detectron2.data.detection_utils import read_image

    paths = sorted((data["root"] / split).glob("*.jpg"))
    out = []
    for path in paths:
        img = read_image(str(path), format="BGR")
        out.append(
            {"image": torch.as_tensor(img.transpose(2, 0, 1).copy()), "file_name": str(path)}
        )
    return out


def enh_cfg(base: str | Path, *opts):
    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config

    cfg = get_cfg()
    add_ttc_config(cfg)
    cfg.merge_from_file(str(TINY_ENH_YAML))
    cfg.merge_from_list(["MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS", str(base), *opts])
    return cfg


@pytest.fixture(scope="module")
def base_ckpt(data, tmp_path_factory) -> Path:
    """A tiny ttc detector trained by tools/train_net.py, whose ŷ_b carries information.

    At initialisation |f(x)| < 0.5, so ŷ_b is all zeros; 60 iterations of Adam at 5e-3 with a
    strong reconstruction reward and no rate term (β = 4, α = 0) make it a real base, about
    half of ŷ_b non-zero (checked below).
    """
    out = tmp_path_factory.mktemp("enh_base")
    _train_net(
        TINY_YAML,
        data,
        out,
        "SOLVER.MAX_ITER",
        "60",
        "SOLVER.BASE_LR",
        "0.005",
        "SOLVER.CHECKPOINT_PERIOD",
        "1000",
        "MODEL.TTC.BETA",
        "4.0",
        "MODEL.TTC.ALPHA",
        "0.0",
        "MODEL.TTC.TEST_ACTUAL_BITS",
        "False",
    )
    path = out / "model_final.pth"
    # the base must carry information for the conditioning checks to mean anything
    from ttc_detectron2.enhancement import load_frozen_base

    base, _, _ = load_frozen_base(str(path))
    x = torch.stack([i["image"].flip(0).float() / 255 for i in _images(data)])
    with torch.no_grad():
        y = base.encode(x)
    nonzero = (y != 0).float().mean().item()
    print(f"base: {100 * nonzero:.1f} % of ŷ_b non-zero on the val images")
    assert nonzero > 0.25, f"the tiny base codes almost nothing ({nonzero:.3f} non-zero)"
    return path


@pytest.fixture(scope="module")
def run(data, base_ckpt, tmp_path_factory) -> dict:
    """Initial weights saved, then 4 enhancement iterations + the final evaluation."""
    from detectron2.modeling import build_model

    out = tmp_path_factory.mktemp("enh_run")
    torch.manual_seed(0)
    init = build_model(enh_cfg(base_ckpt)).state_dict()
    torch.save({"model": init}, out / "init.pth")
    log = _train_net(
        TINY_ENH_YAML,
        data,
        out / "cond",
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(base_ckpt),
        "MODEL.WEIGHTS",
        str(out / "init.pth"),
    )
    return {"dir": out / "cond", "init": init, "log": log, "base": out}


def _retrain(data, base_ckpt, run, stage: str) -> dict:
    """Standalone or Continued: 4 iterations from the conditional model, one command."""
    out = run["base"] / stage.lower()
    log = _train_net(
        TINY_ENH_YAML,
        data,
        out,
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(base_ckpt),
        f"MODEL.TTC.ENHANCEMENT.{stage}",
        "True",
        "MODEL.WEIGHTS",
        str(run["dir"] / "model_final.pth"),
        *RETRAIN_SELECTION,
    )
    return {"dir": out, "log": log}


@pytest.fixture(scope="module")
def standalone(data, base_ckpt, run) -> dict:
    return _retrain(data, base_ckpt, run, "STANDALONE")


@pytest.fixture(scope="module")
def continued(data, base_ckpt, run) -> dict:
    return _retrain(data, base_ckpt, run, "CONTINUED")


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["model"]


def _masked(state: dict[str, torch.Tensor], key: str) -> torch.Tensor:
    """``state[key]``, with the masked taps of a masked convolution's weight zeroed.

    A training checkpoint holds arbitrary values there (CompressAI's ``MaskedConv2d`` applies
    its mask in place on every forward); the frozen base zeroes them once, at load.
    """
    value = state[key]
    if key.endswith("context_prediction.weight"):
        value = value * state[key[: -len("weight")] + "mask"]
    return value


def _report(path: Path) -> dict:
    """The reported evaluation of a run (``ttc_report.json``)."""
    from ttc_core.selection import read_report

    report = read_report(path)
    assert report is not None, f"no ttc_report.json in {path}"
    return report


# -- config ---------------------------------------------------------------------------------
def test_every_enhancement_key_has_a_default_and_a_comment():
    import inspect
    import re

    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config, config

    keys = set(add_ttc_config(get_cfg()).MODEL.TTC.ENHANCEMENT.keys())
    assert {
        "BASE_WEIGHTS",
        "LATENT_CHANNELS",
        "ALPHA",
        "STANDALONE",
        "CONTINUED",
        "SYNTHESIS_BLOCKS",
    } <= keys
    lines = inspect.getsource(config.add_ttc_config).splitlines()
    assigned = {}
    for i, line in enumerate(lines):
        m = re.match(r"\s*e\.([A-Z_0-9]+) = ", line)
        if m:
            assigned[m.group(1)] = lines[i - 1].strip()
    assert keys == set(assigned)
    for key, previous in assigned.items():
        assert previous.startswith("#"), f"ENHANCEMENT.{key} has no comment line above it"


@pytest.mark.parametrize(
    "key, value",
    [
        ("ALPHA", -1.0),
        ("STANDALONE", "yes"),
        ("CONTINUED", 1),
        ("LATENT_CHANNELS", 0),
        ("ANALYSIS_CHANNELS", [8, 8]),
        ("SYNTHESIS_BLOCKS", -1),
        ("ACTIVATION", "swish"),
    ],
)
def test_invalid_enhancement_values_raise_clear_errors(key, value):
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = enh_cfg("unused.pth")
    cfg.MODEL.TTC.ENHANCEMENT[key] = value
    with pytest.raises(TTCConfigError, match=f"MODEL.TTC.ENHANCEMENT.{key}"):
        validate_ttc_config(cfg)


def test_standalone_and_continued_exclude_each_other():
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    cfg = enh_cfg(
        "unused.pth",
        "MODEL.TTC.ENHANCEMENT.STANDALONE",
        True,
        "MODEL.TTC.ENHANCEMENT.CONTINUED",
        True,
    )
    with pytest.raises(TTCConfigError, match="STANDALONE and .*CONTINUED .*exclude each other"):
        validate_ttc_config(cfg)


def test_missing_or_wrong_base_says_what_to_set(tmp_path):
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="BASE_WEIGHTS"):
        build_model(enh_cfg(""))
    with pytest.raises(TTCConfigError, match="not found"):
        build_model(enh_cfg(tmp_path / "nothing.pth"))
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "plain.pth")
    with pytest.raises(TTCConfigError, match="no .ttc_codec. spec"):
        build_model(enh_cfg(tmp_path / "plain.pth"))


@pytest.mark.parametrize("path", ENH_CONFIGS, ids=lambda p: p.name)
def test_shipped_enhancement_configs_parse_and_build(path, base_ckpt):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCReconstructionEnhancement, validate_ttc_config
    from ttc_detectron2.config import add_ttc_config

    cfg = add_ttc_config(get_cfg())
    cfg.merge_from_file(str(path))
    validate_ttc_config(cfg)
    e = cfg.MODEL.TTC.ENHANCEMENT
    assert cfg.MODEL.META_ARCHITECTURE == "TTCReconstructionEnhancement"
    assert cfg.SOLVER.OPTIMIZER == "ADAM" and cfg.SOLVER.BASE_LR == 1e-4
    assert cfg.SOLVER.CLIP_GRADIENTS.ENABLED and cfg.SOLVER.CLIP_GRADIENTS.CLIP_VALUE == 1.0
    assert (cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST) == (800, 1333)
    if path.name.startswith("Base-"):
        return
    assert e.BASE_WEIGHTS.startswith("output/detectron2/ttc_")
    assert e.STANDALONE == ("standalone" in path.name)
    assert e.CONTINUED == ("continued" in path.name)
    if e.STANDALONE or e.CONTINUED:
        # both start from the conditional model its report names (best on the selection split)
        assert cfg.MODEL.WEIGHTS.endswith("recon_proposed-base_1x_coco/model_best.pth")
    assert e.BASE_WEIGHTS.endswith("_R_50_FPN_1x_coco/model_best.pth")
    # reference widths; the tiny base stands in for the trained R-50 one
    cfg.MODEL.DEVICE = "cpu"
    e.BASE_WEIGHTS = str(base_ckpt)
    model = build_model(cfg)
    assert isinstance(model, TTCReconstructionEnhancement)
    assert model.enhancement.latent_channels == 192 and model.standalone == e.STANDALONE
    assert model.stage == {(False, False): "conditional", (True, False): "standalone"}.get(
        (e.STANDALONE, e.CONTINUED), "continued"
    )
    spec = model.codec_spec()
    assert spec["enhancement"]["kwargs"]["side_channels"] == 16
    assert spec["input"]["resize_shortest_edge"] == [800, 1333]


# -- the model, in-process --------------------------------------------------------------------
def test_base_is_frozen_and_stays_in_eval_mode(base_ckpt):
    from detectron2.modeling import build_model

    from ttc_detectron2.solver import build_optimizer

    cfg = enh_cfg(base_ckpt)
    model = build_model(cfg)
    model.train()
    assert model.training and model.enhancement.training and not model.base.training
    assert not any(p.requires_grad for p in model.base.parameters())
    assert all(p.requires_grad for p in model.enhancement.parameters())
    opt = build_optimizer(cfg, model)
    in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
    assert in_opt == {id(p) for p in model.enhancement.parameters()}
    # the loaded base is the checkpoint's
    ckpt = _state(base_ckpt)
    for k, v in model.base.state_dict().items():
        assert torch.equal(v, _masked(ckpt, f"backbone.bottleneck.{k}")), k


def test_training_losses_and_logs(base_ckpt, data):
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    model = build_model(enh_cfg(base_ckpt))
    model.train()
    batch = _images(data, "train2017")[:3]
    batch[2]["image"] = batch[2]["image"][:, :48, :80].contiguous()  # a second image size
    with EventStorage() as storage:
        losses = model(batch)
        scalars = {k: v[0] for k, v in storage.latest().items()}
    assert set(losses) == {"loss_recon", "loss_rate"}
    assert all(v.dim() == 0 and torch.isfinite(v) and v.requires_grad for v in losses.values())
    assert losses["loss_rate"].item() == pytest.approx(
        model.rate_loss.alpha * scalars["enhancement/bpp_enhancement_estimated"], rel=1e-5
    )
    # the rate of the scalable system is base + enhancement; all training rates are estimates
    assert scalars["enhancement/bpp_estimated"] == pytest.approx(
        scalars["enhancement/bpp_enhancement_estimated"] + scalars["enhancement/bpp_base_estimated"]
    )
    assert not any(k.endswith(("/bpp", "/bpp_base", "/bpp_enhancement")) for k in scalars)
    assert "enhancement/psnr_scalable" in scalars
    assert scalars["enhancement/bpp_base_estimated"] > 0  # the base codes something
    assert losses["loss_recon"].item() == pytest.approx(scalars["enhancement/rmse"])


def test_base_weights_fall_back_to_model_weights(base_ckpt, run):
    """BASE_WEIGHTS "": the base comes from MODEL.WEIGHTS (a base or an enhancement checkpoint)."""
    from detectron2.modeling import build_model

    ckpt = _state(base_ckpt)
    for path in (base_ckpt, run["dir"] / "model_final.pth"):
        model = build_model(enh_cfg("", "MODEL.WEIGHTS", str(path)))
        for k, v in model.base.state_dict().items():
            assert torch.equal(v, _masked(ckpt, f"backbone.bottleneck.{k}")), (path, k)


def test_an_enhancement_checkpoint_brings_its_own_base(run, base_ckpt, tmp_path):
    """MODEL.WEIGHTS an enhancement checkpoint: the base is built from it; BASE_WEIGHTS (here a
    file that does not exist, as on a machine that has only the enhancement checkpoint) is not
    read."""
    from detectron2.modeling import build_model

    final = run["dir"] / "model_final.pth"
    missing = tmp_path / "base_not_here.pth"
    model = build_model(enh_cfg(missing, "MODEL.WEIGHTS", str(final)))
    state = _state(final)
    for k, v in model.base.state_dict().items():
        assert torch.equal(v, _masked(state, f"base.{k}")), k
    # a detection base as MODEL.WEIGHTS is no enhancement checkpoint: BASE_WEIGHTS is read
    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="not found"):
        build_model(enh_cfg(missing, "MODEL.WEIGHTS", str(base_ckpt)))


def test_eval_only_needs_no_base_weights_file(run, data, tmp_path):
    """``--eval-only`` on the reported (self-contained) enhancement checkpoint, with the config's
    BASE_WEIGHTS naming a file that does not exist, reproduces the reported evaluation."""
    report = _report(run["dir"])
    out = tmp_path / "eval_only"
    log = _train_net(
        TINY_ENH_YAML,
        data,
        out,
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(tmp_path / "base_not_here.pth"),
        "MODEL.WEIGHTS",
        report["checkpoint"],
        flags=["--eval-only"],
    )
    assert "is an enhancement checkpoint: its own base is used" in log
    results = json.loads((out / "eval_results.json").read_text())["ttc"]
    for key in ("psnr_scalable", "bpp", "bpp_base", "bpp_enhancement", "bpp_estimated"):
        assert results[key] == pytest.approx(report[f"ttc/{key}"], rel=1e-6), key


def test_enhancement_evaluator_averages_per_image_records(tmp_path):
    from ttc_detectron2 import TTCEnhancementEvaluator

    ev = TTCEnhancementEvaluator(distributed=False, output_dir=str(tmp_path))
    ev.reset()
    recs = [
        dict(
            psnr_scalable=30.0,
            bpp_estimated=0.5,
            bpp_base_estimated=0.2,
            bpp_enhancement_estimated=0.3,
            bpp=0.6,
        ),
        dict(
            psnr_scalable=20.0,
            bpp_estimated=0.7,
            bpp_base_estimated=0.3,
            bpp_enhancement_estimated=0.4,
            bpp=0.8,
        ),
    ]
    for r in recs:
        r.update(bpp_base=r["bpp_base_estimated"] + 0.01, bpp_enhancement=r["bpp"] - 0.21)
    ev.process([{"image_id": 1}, {"image_id": 2}], [{"ttc": r} for r in recs])
    res = ev.evaluate()["ttc"]
    assert res["psnr_scalable"] == pytest.approx(25.0)
    assert res["bpp_estimated"] == pytest.approx(0.6)
    assert res["bpp_base_estimated"] == pytest.approx(0.25)
    assert res["bpp_enhancement_estimated"] == pytest.approx(0.35)
    assert res["bpp"] == pytest.approx(0.7) and res["bpp_base"] == pytest.approx(0.26)
    assert "psnr_direct" not in res and res["num_images"] == 2
    assert len(json.loads((tmp_path / "ttc_enhancement.json").read_text())["images"]) == 2
    # without real bitstreams: no bpp, bpp_base, bpp_enhancement (never an estimate)
    ev.reset()
    for r in recs:
        for key in ("bpp", "bpp_base", "bpp_enhancement"):
            del r[key]
    ev.process([{"image_id": 1}, {"image_id": 2}], [{"ttc": r} for r in recs])
    res = ev.evaluate()["ttc"]
    assert set(res) == {
        "psnr_scalable",
        "bpp_estimated",
        "bpp_base_estimated",
        "bpp_enhancement_estimated",
        "num_images",
    }
    with pytest.raises(KeyError, match="TTCReconstructionEnhancement"):
        ev.process([{}], [{"ttc": {"bpp_estimated": 0.1}}])


@pytest.mark.parametrize("real_bits", [True, False])
def test_no_bpp_key_carries_an_estimate(base_ckpt, data, real_bits):
    """The model's per-image dicts and the evaluator's results, with and without real bits."""
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCEnhancementEvaluator

    model = build_model(enh_cfg(base_ckpt, "MODEL.TTC.TEST_ACTUAL_BITS", real_bits)).eval()
    images = _images(data)[:2]
    with torch.no_grad():
        outputs = model(images)
    actual = {"bits", "bits_base", "bits_enhancement", "bpp", "bpp_base", "bpp_enhancement"}
    for out in outputs:
        info = out["ttc"]
        assert {f"{k}_estimated" for k in actual} <= set(info)
        assert {"psnr_scalable", "psnr_direct", "num_pixels"} <= set(info)
        assert (actual <= set(info)) == real_bits and (actual & set(info) == set()) != real_bits
        assert info["bpp_estimated"] == pytest.approx(
            info["bpp_base_estimated"] + info["bpp_enhancement_estimated"]
        )
        if real_bits:  # whole bytes of real streams, not likelihoods
            assert info["bits_base"] % 8 == 0 and info["bits_enhancement"] % 8 == 0
            assert info["bits"] == info["bits_base"] + info["bits_enhancement"]
    ev = TTCEnhancementEvaluator(distributed=False)
    ev.reset()
    ev.process(images, outputs)
    res = ev.evaluate()["ttc"]
    assert ({"bpp", "bpp_base", "bpp_enhancement"} <= set(res)) == real_bits
    assert {"bpp", "bpp_base", "bpp_enhancement"} & set(res) == (
        {"bpp", "bpp_base", "bpp_enhancement"} if real_bits else set()
    )


# -- tools/train_net.py ------------------------------------------------------------------------
def test_train_net_trains_the_enhancement_and_leaves_the_base_bit_identical(run, base_ckpt):
    final = _state(run["dir"] / "model_final.pth")
    base = _state(base_ckpt)
    base_keys = [k for k in final if k.startswith("base.")]
    assert base_keys
    for k in base_keys:
        assert torch.equal(final[k], run["init"][k]), k  # bit-identical before / after
        assert torch.equal(final[k], _masked(base, k.replace("base.", "backbone.bottleneck.", 1)))
    changed = {
        part: any(
            not torch.equal(final[k], v)
            for k, v in run["init"].items()
            if k.startswith(f"enhancement.{part}.") and v.is_floating_point()
        )
        for part in ("analysis", "entropy_model", "synthesis")
    }
    assert all(changed.values()), changed
    train = [m for m in read_metrics(run["dir"] / "metrics.json") if "total_loss" in m]
    assert train and max(m["iteration"] for m in train) == 3
    for m in train:
        assert {"loss_recon", "loss_rate", "enhancement/bpp_base_estimated"} <= set(m)
        assert "enhancement/bpp_enhancement_estimated" in m
        assert math.isfinite(m["loss_recon"]) and math.isfinite(m["loss_rate"])


def test_train_net_evaluation_prints_psnr_with_total_bpp(run):
    log = run["log"]
    assert "copypaste: Task: ttc" in log
    header = next(line for line in log.splitlines() if "copypaste: psnr_scalable," in line)
    assert "bpp_estimated" in header and "bpp_base" in header and "bpp_enhancement" in header
    # selection on the selection split, logged with its prefix; the report on the val split
    selection = [m for m in read_metrics(run["dir"] / "metrics.json") if "total_loss" not in m]
    assert any("selection/ttc/psnr_scalable" in m for m in selection)
    r = _report(run["dir"])
    assert r["selection"]["metric"] == "selection/ttc/psnr_scalable"
    assert r["dataset"] == ENH_VAL and r["checkpoint"].endswith("model_best.pth")
    print(
        f"conditional (4 iterations): PSNR {r['ttc/psnr_scalable']:.2f} dB, total bpp "
        f"{r['ttc/bpp']:.4f} actual / {r['ttc/bpp_estimated']:.4f} estimated "
        f"(base {r['ttc/bpp_base']:.4f}, enhancement {r['ttc/bpp_enhancement']:.4f})"
    )
    assert r["ttc/psnr_scalable"] > 0 and r["ttc/num_images"] == 4 and "ttc/psnr_direct" in r
    assert r["ttc/bpp_estimated"] == pytest.approx(
        r["ttc/bpp_base_estimated"] + r["ttc/bpp_enhancement_estimated"]
    )
    assert r["ttc/bpp"] == pytest.approx(r["ttc/bpp_base"] + r["ttc/bpp_enhancement"])
    assert r["ttc/bpp_base"] > 0 and r["ttc/bpp_enhancement"] > 0
    ckpt = torch.load(run["dir"] / "model_final.pth", weights_only=True)
    spec = ckpt["ttc_codec"]
    assert spec["base"]["prefix"] == "base." and spec["enhancement"]["prefix"] == "enhancement."
    assert spec["enhancement"]["output"] == "image"
    assert spec["enhancement"]["kwargs"]["standalone"] is False
    assert spec["enhancement"]["kwargs"]["continued"] is False
    assert ckpt["ttc_objective"] == {"stage": "conditional", "alpha": 1.0}


@pytest.mark.parametrize("stage", ["standalone", "continued"])
def test_standalone_and_continued_change_only_the_entropy_model(run, stage, request):
    retrained = request.getfixturevalue(stage)
    cond = _state(run["dir"] / "model_final.pth")
    final = _state(retrained["dir"] / "model_final.pth")
    changed = {k for k, v in cond.items() if v.is_floating_point() and not torch.equal(final[k], v)}
    assert changed, f"{stage} training changed nothing"
    assert all(k.startswith("enhancement.entropy_model.") for k in changed), changed
    assert "enhancement.entropy_model.context_prediction.weight" in changed
    train = [m for m in read_metrics(retrained["dir"] / "metrics.json") if "total_loss" in m]
    assert train and all("loss_recon" not in m for m in train)
    for m in train:  # the loss is ALPHA (1.0 here) · bpp_enhancement_estimated alone
        assert m["total_loss"] == pytest.approx(
            m["enhancement/bpp_enhancement_estimated"], rel=1e-5
        )
    ckpt = torch.load(retrained["dir"] / "model_final.pth", weights_only=True)
    kwargs = ckpt["ttc_codec"]["enhancement"]["kwargs"]
    assert (kwargs["standalone"], kwargs["continued"]) == (
        stage == "standalone",
        stage == "continued",
    )
    assert ckpt["ttc_objective"]["stage"] == stage
    report = _report(retrained["dir"])
    assert "ttc/psnr_scalable" in report
    assert report["selection"]["metric"] == "selection/ttc/bpp_enhancement_estimated"
    # loading the conditional model raised no false alarm (its spec differs)
    assert "Skip loading parameter" not in retrained["log"]
    assert "different base layer" not in retrained["log"]


def test_continued_keeps_the_true_side_information(run, standalone, continued):
    """Same start, same steps: Continued codes ŷ_e given the true ŷ_b, Standalone given zeros,
    so their entropy models differ, and each run's estimate is its own."""
    s, c = (_state(r["dir"] / "model_final.pth") for r in (standalone, continued))
    key = "enhancement.entropy_model.context_prediction.weight"
    assert not torch.equal(s[key], c[key])
    steps = {
        name: max(
            m["iteration"] for m in read_metrics(r["dir"] / "metrics.json") if "total_loss" in m
        )
        for name, r in (("standalone", standalone), ("continued", continued))
    }
    assert steps["standalone"] == steps["continued"]  # the equal budget
    rs, rc = _report(standalone["dir"]), _report(continued["dir"])
    print(
        "bpp_enhancement after the same extra steps: standalone "
        f"{rs['ttc/bpp_enhancement']:.4f}, continued {rc['ttc/bpp_enhancement']:.4f}"
    )


# -- Standalone and Continued start from a trained enhancement model -------------------------------
@pytest.mark.parametrize("stage", ["STANDALONE", "CONTINUED"])
def test_retraining_stages_are_refused_without_trained_enhancement_weights(
    stage, data, base_ckpt, run, standalone, tmp_path
):
    from ttc_detectron2 import TTCConfigError
    from ttc_detectron2.data import register_coco_spec
    from ttc_detectron2.engine import TTCTrainer

    for spec in data["specs"]:
        register_coco_spec(spec)

    def trainer(weights, out=tmp_path / "out"):
        cfg = enh_cfg(
            base_ckpt,
            f"MODEL.TTC.ENHANCEMENT.{stage}",
            True,
            "MODEL.WEIGHTS",
            str(weights),
            "DATASETS.TRAIN",
            f"('{ENH_TRAIN}',)",
            "DATASETS.TEST",
            f"('{ENH_VAL}',)",
            "OUTPUT_DIR",
            str(out),
            *RETRAIN_SELECTION,
        )
        return TTCTrainer(cfg)

    key = f"MODEL.TTC.ENHANCEMENT.{stage} True"
    # from nothing, from a detection base alone (no enhancement.* weights)
    with pytest.raises(TTCConfigError, match=f"{key}.*MODEL.WEIGHTS is empty"):
        trainer("").resume_or_load(resume=False)
    with pytest.raises(TTCConfigError, match="holds no enhancement weights"):
        trainer(base_ckpt).resume_or_load(resume=False)
    # from the other retrained stage instead of the conditional model
    if stage == "CONTINUED":
        with pytest.raises(TTCConfigError, match="is a standalone model"):
            trainer(standalone["dir"] / "model_final.pth").resume_or_load(resume=False)
    # accepted: the trained conditional model; or resuming a run of this stage
    resumable = tmp_path / "resumable"
    t = trainer(run["dir"] / "model_final.pth", out=resumable)
    t.resume_or_load(resume=False)
    assert t.start_iter == 0
    t.checkpointer.save("model_final", iteration=0)  # a checkpoint of this stage's own run
    trainer("", out=resumable).resume_or_load(resume=True)
    with pytest.raises(TTCConfigError, match="MODEL.WEIGHTS is empty"):
        trainer("", out=resumable).resume_or_load(resume=False)  # no --resume: not a start


@pytest.mark.parametrize("stage", ["STANDALONE", "CONTINUED"])
def test_retraining_stages_cannot_select_on_a_psnr_they_cannot_change(stage, base_ckpt):
    from ttc_detectron2 import TTCConfigError
    from ttc_detectron2.engine import TTCTrainer

    cfg = enh_cfg(base_ckpt, f"MODEL.TTC.ENHANCEMENT.{stage}", True)
    assert cfg.DATASETS.SELECTION.METRIC == "ttc/psnr_scalable"  # the conditional model's
    with pytest.raises(TTCConfigError, match="ttc/bpp_enhancement_estimated"):
        TTCTrainer(cfg)


def test_train_net_refuses_an_untrained_standalone_run(data, base_ckpt, tmp_path):
    import os
    import subprocess
    import sys

    args = [str(TRAIN_NET), "--config-file", str(TINY_ENH_YAML)]
    for spec in data["specs"]:
        args += ["--register-coco", spec]
    args += [
        "DATASETS.TRAIN",
        f"('{ENH_TRAIN}',)",
        "DATASETS.TEST",
        f"('{ENH_VAL}',)",
        "OUTPUT_DIR",
        str(tmp_path),
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(base_ckpt),
        "MODEL.TTC.ENHANCEMENT.STANDALONE",
        "True",
        *RETRAIN_SELECTION,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    assert "TTCConfigError" in proc.stderr and "MODEL.WEIGHTS is empty" in proc.stderr
    assert not (tmp_path / "model_final.pth").exists()


@pytest.mark.parametrize("path", DEMO_ENH_CONFIGS, ids=lambda p: p.name)
def test_demo_enhancement_configs_build_on_the_tiny_base(path, base_ckpt):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model

    from ttc_detectron2 import validate_ttc_config
    from ttc_detectron2.config import add_ttc_config

    cfg = add_ttc_config(get_cfg())
    cfg.merge_from_file(str(path))
    validate_ttc_config(cfg)
    e = cfg.MODEL.TTC.ENHANCEMENT
    assert (e.STANDALONE, e.CONTINUED) == ("standalone" in path.name, "continued" in path.name)
    assert cfg.DATASETS.TRAIN == ("demo_coco_train",) and cfg.DATASETS.TEST == ("demo_coco_val",)
    assert cfg.TEST.EVAL_PERIOD > 0 and cfg.DATASETS.SELECTION.METRIC == (
        "ttc/bpp_enhancement_estimated" if e.STANDALONE or e.CONTINUED else "ttc/psnr_scalable"
    )
    if e.STANDALONE or e.CONTINUED:
        assert cfg.MODEL.WEIGHTS.endswith("model_best.pth")
    e.BASE_WEIGHTS = str(base_ckpt)
    cfg.MODEL.WEIGHTS = ""
    model = build_model(cfg)
    assert model.enhancement.latent_channels == e.LATENT_CHANNELS == 8


def test_demo_standalone_and_continued_have_the_same_budget():
    from detectron2.config import get_cfg

    from ttc_detectron2.config import add_ttc_config

    budgets = {}
    for stage in ("standalone", "continued"):
        cfg = add_ttc_config(get_cfg())
        cfg.merge_from_file(
            str(CONFIGS / "demo" / f"ttc_enhancement-recon_{stage}_demo_synthetic-coco.yaml")
        )
        budgets[stage] = (cfg.SOLVER.MAX_ITER, cfg.SOLVER.IMS_PER_BATCH, cfg.SOLVER.BASE_LR)
    assert budgets["standalone"] == budgets["continued"]


# -- conditioning --------------------------------------------------------------------------------
def test_conditioning_on_the_base_saves_bits(base_ckpt, data):
    """A briefly trained conditional model codes ŷ_e in fewer bits given the true ŷ_b than
    given zeros (or another image's ŷ_b) in its place, on held-out images."""
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from ttc_core.losses import bits_per_image

    torch.manual_seed(0)
    model = build_model(enh_cfg(base_ckpt))
    train, val = _images(data, "train2017"), _images(data, "val2017")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=2e-3)
    g = torch.Generator().manual_seed(0)
    model.train()
    with EventStorage():
        for _ in range(200):
            idx = torch.randperm(len(train), generator=g)[:4].tolist()
            flip = torch.rand(4, generator=g) < 0.5
            batch = [
                {"image": train[i]["image"].flip(-1) if f else train[i]["image"]}
                for i, f in zip(idx, flip)  # noqa: B905
            ]
            loss = sum(model(batch).values())
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
    model.eval()
    with torch.no_grad():
        x = torch.stack(model.images(val))
        y_b, y_e = model.base.encode(x), model.enhancement.encode(x)
        em = model.enhancement.entropy_model

        def bits(side):
            return bits_per_image(em(y_e, side).likelihoods)

        true, zeros, other = bits(y_b), bits(torch.zeros_like(y_b)), bits(y_b.roll(1, 0))
        # the model's own estimate is the true-ŷ_b one
        est = torch.tensor([o["ttc"]["bits_enhancement_estimated"] for o in model(val)])
    torch.testing.assert_close(est, true, rtol=1e-4, atol=1e-3)
    pixels = x.shape[-2] * x.shape[-1]
    print(
        f"enhancement bits per val image (mean of {len(val)}, {pixels} px): "
        f"true ŷ_b {true.mean():.1f} ({true.mean() / pixels:.4f} bpp), "
        f"zeros {zeros.mean():.1f} ({zeros.mean() / pixels:.4f} bpp), "
        f"another image's ŷ_b {other.mean():.1f}"
    )
    assert (y_e != 0).float().mean() > 0.1, "ŷ_e is nearly empty: nothing to condition"
    assert bool((true < zeros).all()), (true, zeros)
    assert true.mean() < 0.9 * zeros.mean(), (true.mean(), zeros.mean())
    assert true.mean() < other.mean(), (true.mean(), other.mean())


# -- real bits ------------------------------------------------------------------------------------
@pytest.mark.parametrize("variant", ["conditional", "standalone"])
def test_compress_all_layers_round_trips_and_matches_the_model(
    variant, run, standalone, base_ckpt, data, tmp_path
):
    from detectron2.modeling import build_model

    from ttc_core import bitstream
    from ttc_core.cli import main as ttc
    from ttc_detectron2 import TTCCheckpointer

    ckpt = (run if variant == "conditional" else standalone)["dir"] / "model_final.pth"
    image = _images(data, "val2017")[0]
    stream, decoded = tmp_path / "x.ttc", tmp_path / "x.pt"
    args = ["compress", image["file_name"], "-c", str(ckpt), "-o", str(stream), "--layers", "all"]
    assert ttc(args) == 0
    assert ttc(["decompress", str(stream), "-c", str(ckpt), "-o", str(decoded)]) == 0
    assert ttc(["decompress", str(stream), "-c", str(ckpt), "-o", str(tmp_path / "x.png")]) == 0
    header = bitstream.unpack(stream.read_bytes())
    assert set(header.layers) == {"base", "enhancement"}
    assert (header.height, header.width) == (64, 96)
    out = torch.load(decoded, weights_only=True)

    # the in-memory model (Detectron2, the checkpoint loaded the usual way)
    cfg = enh_cfg(
        base_ckpt,
        "MODEL.TTC.ENHANCEMENT.STANDALONE",
        str(variant == "standalone"),
    )
    model = build_model(cfg).eval()
    TTCCheckpointer(model).load(str(ckpt))
    x = torch.stack(model.images([image]))
    with torch.no_grad():
        y_b, y_e = model.base.encode(x), model.enhancement.encode(x)
        result = model([image])[0]
    assert torch.equal(out["y_base"], y_b) and torch.equal(out["y_enhancement"], y_e)
    torch.testing.assert_close(out["enhancement"][0], result["reconstruction"], rtol=0, atol=1e-5)
    # the actual bits the evaluator reports are this file's payload
    info = result["ttc"]
    assert info["bits_base"] == header.layers["base"].bits
    assert info["bits_enhancement"] == header.layers["enhancement"].bits
    print(
        f"{variant}: file {stream.stat().st_size} bytes; base {header.layers['base'].bits} bits "
        f"(estimated {info['bits_base_estimated']:.0f}), enhancement "
        f"{header.layers['enhancement'].bits} bits "
        f"(estimated {info['bits_enhancement_estimated']:.0f})"
    )


# -- multi-process -------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_cpu_processes_train_the_enhancement_with_the_base_frozen(data, base_ckpt, tmp_path):
    _train_net(
        TINY_ENH_YAML,
        data,
        tmp_path,
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(base_ckpt),
        "SOLVER.IMS_PER_BATCH",
        "4",
        "MODEL.TTC.TEST_ACTUAL_BITS",
        "False",
        flags=["--num-gpus", "2"],
    )
    final, base = _state(tmp_path / "model_final.pth"), _state(base_ckpt)
    for k in (k for k in final if k.startswith("base.")):
        assert torch.equal(
            final[k], _masked(base, k.replace("base.", "backbone.bottleneck.", 1))
        ), k
    assert "ttc/psnr_scalable" in _report(tmp_path)


def test_an_enhancement_on_a_base_of_another_downsampling_takes_the_bases(data, tmp_path):
    """MODEL.TTC.DOWNSAMPLING 8: the base codes a 2× finer latent grid, the enhancement layer
    built on it takes the base's stride from its codec spec (ŷ_e and ŷ_b must align), trains,
    and its codec round-trips both layers."""
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from ttc_core.codec import ScalableCodec

    from .conftest import tiny_cfg

    base = build_model(tiny_cfg("MODEL.TTC.DOWNSAMPLING", 8))
    assert base.backbone.bottleneck.stride == 8
    path = tmp_path / "base_s8.pth"
    torch.save({"model": base.state_dict()}, path)
    model = build_model(enh_cfg(path))
    assert model.enhancement.stride == model.base.stride == 8
    model.train()
    with EventStorage():
        losses = model(_images(data, "train2017")[:2])
    assert all(torch.isfinite(v) for v in losses.values())

    model.eval()
    enh_path = tmp_path / "enh_s8.pth"
    torch.save({"model": model.state_dict()}, enh_path)
    codec = ScalableCodec.from_checkpoint(enh_path)
    codec.update(force=True)
    assert codec.stride == 8 and codec.model_name.startswith("ttc-base-M16-s8")
    x = torch.rand(1, 3, 40, 72)
    assert codec.latent_size(40, 72) == (5, 9)
    stream = codec.encode_stream(x, layers="all", tile=16)
    decoded = codec.decompress(stream.data)
    assert decoded.y_base.shape[-2:] == decoded.y_enhancement.shape[-2:] == (5, 9)
    assert decoded.enhancement_output.shape[-2:] == (40, 72)
    with pytest.raises(ValueError, match="multiple of 8 pixels"):
        codec.encode_stream(x, tile=12)
