"""The COCO reconstruction enhancement layer (issue 5, Detectron2 half), CPU, generated data.

A detection base is trained by tools/train_net.py (tiny config, a higher learning rate and a
strong reconstruction reward, so that ŷ_b carries information); the enhancement layer is then
trained from it by tools/train_net.py, then its Standalone variant from that, and both
checkpoints are coded with ``ttc compress --layers all`` / ``ttc decompress``.
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


@pytest.fixture(scope="module")
def standalone(data, base_ckpt, run) -> dict:
    """Standalone: 4 iterations from the conditional model, one command."""
    out = run["base"] / "standalone"
    log = _train_net(
        TINY_ENH_YAML,
        data,
        out,
        "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
        str(base_ckpt),
        "MODEL.TTC.ENHANCEMENT.STANDALONE",
        "True",
        "MODEL.WEIGHTS",
        str(run["dir"] / "model_final.pth"),
    )
    return {"dir": out, "log": log}


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


def _eval_record(path: Path) -> dict:
    evals = [m for m in read_metrics(path / "metrics.json") if "ttc/psnr" in m]
    assert evals, "no evaluation in metrics.json"
    return evals[-1]


# -- config ---------------------------------------------------------------------------------
def test_every_enhancement_key_has_a_default_and_a_comment():
    import inspect
    import re

    from detectron2.config import get_cfg

    from ttc_detectron2 import add_ttc_config, config

    keys = set(add_ttc_config(get_cfg()).MODEL.TTC.ENHANCEMENT.keys())
    assert {"BASE_WEIGHTS", "LATENT_CHANNELS", "ALPHA", "STANDALONE", "SYNTHESIS_BLOCKS"} <= keys
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


def test_missing_or_wrong_base_says_what_to_set(tmp_path):
    from detectron2.modeling import build_model

    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="BASE_WEIGHTS"):
        build_model(enh_cfg(""))
    with pytest.raises(TTCConfigError, match="not found"):
        build_model(enh_cfg(tmp_path / "nothing.pth"))
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "plain.pth")
    with pytest.raises(TTCConfigError, match="no ttc codec spec"):
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
    if e.STANDALONE:
        assert cfg.MODEL.WEIGHTS.endswith("recon_proposed-base_1x_coco/model_final.pth")
    # reference widths; the tiny base stands in for the trained R-50 one
    cfg.MODEL.DEVICE = "cpu"
    e.BASE_WEIGHTS = str(base_ckpt)
    model = build_model(cfg)
    assert isinstance(model, TTCReconstructionEnhancement)
    assert model.enhancement.latent_channels == 192 and model.standalone == e.STANDALONE
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
        model.rate_loss.alpha * scalars["enhancement/bpp_estimated"], rel=1e-5
    )
    assert scalars["enhancement/bpp_total_estimated"] == pytest.approx(
        scalars["enhancement/bpp_estimated"] + scalars["enhancement/bpp_base_estimated"]
    )
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


def test_enhancement_evaluator_averages_per_image_records(tmp_path):
    from ttc_detectron2 import TTCEnhancementEvaluator

    ev = TTCEnhancementEvaluator(distributed=False, output_dir=str(tmp_path))
    ev.reset()
    recs = [
        dict(psnr=30.0, bpp=0.5, bpp_base=0.2, bpp_enhancement=0.3, actual_bpp=0.6),
        dict(psnr=20.0, bpp=0.7, bpp_base=0.3, bpp_enhancement=0.4, actual_bpp=0.8),
    ]
    for r in recs:
        r.update(
            actual_bpp_base=r["bpp_base"] + 0.01, actual_bpp_enhancement=r["actual_bpp"] - 0.21
        )
    ev.process([{"image_id": 1}, {"image_id": 2}], [{"ttc": r} for r in recs])
    res = ev.evaluate()["ttc"]
    assert res["psnr"] == pytest.approx(25.0)
    assert res["bpp_estimated"] == pytest.approx(0.6)
    assert res["bpp_base_estimated"] == pytest.approx(0.25)
    assert res["bpp_enhancement_estimated"] == pytest.approx(0.35)
    assert res["bpp"] == pytest.approx(0.7) and res["bpp_base"] == pytest.approx(0.26)
    assert "base_recon_psnr" not in res and res["num_images"] == 2
    assert len(json.loads((tmp_path / "ttc_enhancement.json").read_text())["images"]) == 2
    with pytest.raises(KeyError, match="TTCReconstructionEnhancement"):
        ev.process([{}], [{"ttc": {"bpp": 0.1}}])


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
        assert math.isfinite(m["loss_recon"]) and math.isfinite(m["loss_rate"])


def test_train_net_evaluation_prints_psnr_with_total_bpp(run):
    log = run["log"]
    assert "copypaste: Task: ttc" in log
    header = next(line for line in log.splitlines() if "copypaste: psnr," in line)
    assert "bpp_estimated" in header and "bpp_base" in header and "bpp_enhancement" in header
    r = _eval_record(run["dir"])
    print(
        f"conditional (4 iterations): PSNR {r['ttc/psnr']:.2f} dB, total bpp "
        f"{r['ttc/bpp']:.4f} actual / {r['ttc/bpp_estimated']:.4f} estimated "
        f"(base {r['ttc/bpp_base']:.4f}, enhancement {r['ttc/bpp_enhancement']:.4f})"
    )
    assert r["ttc/psnr"] > 0 and r["ttc/num_images"] == 4
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


def test_standalone_changes_only_the_entropy_model(run, standalone):
    cond = _state(run["dir"] / "model_final.pth")
    final = _state(standalone["dir"] / "model_final.pth")
    changed = {k for k, v in cond.items() if v.is_floating_point() and not torch.equal(final[k], v)}
    assert changed, "standalone training changed nothing"
    assert all(k.startswith("enhancement.entropy_model.") for k in changed), changed
    assert "enhancement.entropy_model.context_prediction.weight" in changed
    train = [m for m in read_metrics(standalone["dir"] / "metrics.json") if "total_loss" in m]
    assert train and all("loss_recon" not in m for m in train)
    for m in train:  # the loss is ALPHA (1.0 here) · bpp_e alone
        assert m["total_loss"] == pytest.approx(m["enhancement/bpp_estimated"], rel=1e-5)
    spec = torch.load(standalone["dir"] / "model_final.pth", weights_only=True)["ttc_codec"]
    assert spec["enhancement"]["kwargs"]["standalone"] is True
    assert "ttc/psnr" in _eval_record(standalone["dir"])
    # loading the conditional model raised no false alarm (its spec differs: standalone False)
    assert "Skip loading parameter" not in standalone["log"]
    assert "different base layer" not in standalone["log"]


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
        est = torch.tensor([o["ttc"]["bits_enhancement"] for o in model(val)])
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
    assert info["actual_bits_base"] == header.layers["base"].bits
    assert info["actual_bits_enhancement"] == header.layers["enhancement"].bits
    print(
        f"{variant}: file {stream.stat().st_size} bytes; base {header.layers['base'].bits} bits "
        f"(estimated {info['bits_base']:.0f}), enhancement {header.layers['enhancement'].bits} "
        f"bits (estimated {info['bits_enhancement']:.0f})"
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
    assert "ttc/psnr" in _eval_record(tmp_path)
