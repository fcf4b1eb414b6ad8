"""Variable-rate detector base and reconstruction enhancement (MODEL.TTC.VARIABLE_RATE), CPU.

One variable-rate ttc detector is trained by tools/train_net.py (4 iterations, three rate
weights); its checkpoint codes every configured rate bit-exactly. A variable-rate enhancement
is trained a few steps on it, conditioned on the base's rate. `ttc rd sweep --variable-rate`
turns one training into an RD curve of real bits (slow).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from ttc_core.bitstream import unpack
from ttc_core.codec import ScalableCodec
from ttc_core.rd.format import load_rd

from .conftest import REPO, TINY_YAML, TRAIN, TRAIN_NET, VAL, coco_specs, read_metrics, run_script

ALPHAS = [4.0, 1.0, 0.25]
#: large initial gains: after a few steps every rate codes non-zero symbols
VR = [
    "MODEL.TTC.VARIABLE_RATE.ALPHAS",
    repr(ALPHAS),
    "MODEL.TTC.VARIABLE_RATE.GAIN_RANGE",
    "[8.0, 32.0]",
]


def _args(root, out, *opts, config=TINY_YAML, flags=()):
    args = [str(TRAIN_NET), "--config-file", str(config), *flags]
    for spec in coco_specs(root):
        args += ["--register-coco", spec]
    return [*args, "DATASETS.TRAIN", f"('{TRAIN}',)", "DATASETS.TEST", f"('{VAL}',)",
            "OUTPUT_DIR", str(out), *opts]  # fmt: skip


def _image(root):
    from ttc_core.images import read_image

    return read_image(next((root / "val2017").glob("*.jpg"))).tensor


@pytest.fixture(scope="module")
def trained(coco_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("vr_train_net")
    log = run_script(_args(coco_root, out, *VR))
    return out, log


def test_train_net_trains_one_variable_rate_detector(trained):
    out, log = trained
    metrics = read_metrics(out / "metrics.json")
    train = [m for m in metrics if "total_loss" in m]
    assert train and all("bottleneck/rate_index" in m for m in train)
    # metrics.json holds window medians of the drawn indices (per batch: the test below)
    assert all(0.0 <= m["bottleneck/rate_index"] <= 2.0 for m in train)
    report = json.loads((out / "ttc_report.json").read_text())
    assert report["ttc/rate"] == 2.0  # evaluated at the default test rate, the highest
    assert report["ttc/bpp"] > 0


def test_its_checkpoint_codes_exactly_at_every_configured_rate(trained, coco_root):
    out, _ = trained
    codec = ScalableCodec.from_checkpoint(out / "model_final.pth")
    codec.update()
    assert codec.base.num_rates == 3 and codec.alphas() == ALPHAS
    x = _image(coco_root)
    sizes = []
    for q in (0.0, 1.0, 2.0, 0.5):
        enc = codec.encode_stream(x, rate=q)
        assert unpack(enc.data).rates == {"base": q}
        y = codec.base.encode(codec.base_input(x), rate=q)
        assert y.abs().sum() > 0
        assert torch.equal(codec.decompress(enc.data).y_base, y)
        sizes.append(enc.actual_bits["base"])
    assert len(set(sizes)) > 1


def test_each_batch_uses_the_alpha_of_its_drawn_rate(trained, registered):
    from detectron2.data import build_detection_train_loader
    from detectron2.modeling import build_model

    from ttc_core.variable_rate import VariableRate

    from .conftest import tiny_cfg

    cfg = tiny_cfg(*VR)
    model = build_model(cfg).train()
    batch = next(iter(build_detection_train_loader(cfg)))
    from detectron2.utils.events import EventStorage

    seen = set()
    with EventStorage():
        for seed in range(5):
            torch.manual_seed(seed)
            index = VariableRate(ALPHAS).sample()
            torch.manual_seed(seed)
            images = model.preprocess_image(batch)
            _, terms = model._features_and_terms(images, rate=index)
            torch.manual_seed(seed)
            losses = model(batch)
            expected = ALPHAS[index] * terms.bpp_estimated.mean()
            assert float(losses["loss_rate"]) == pytest.approx(float(expected), rel=1e-5)
            seen.add(index)
    assert len(seen) > 1
    assert model.objective()["alphas"] == ALPHAS


def test_bad_variable_rate_keys_say_what_is_wrong():
    from ttc_detectron2.errors import TTCConfigError

    from .conftest import tiny_cfg

    for opts, match in (
        (["MODEL.TTC.VARIABLE_RATE.ALPHAS", "[1.0, 2.0]"], "strictly decreasing"),
        (["MODEL.TTC.VARIABLE_RATE.TEST_RATE", "1.0"], "needs MODEL.TTC.VARIABLE_RATE.ALPHAS"),
        ([*VR, "MODEL.TTC.VARIABLE_RATE.TEST_RATE", "3.0"], "3 rate points"),
        ([*VR[:2], "MODEL.TTC.VARIABLE_RATE.GAIN_RANGE", "[2.0, 1.0]"], "increasing"),
    ):
        from ttc_detectron2.config import validate_ttc_config

        with pytest.raises(TTCConfigError, match=match):
            validate_ttc_config(tiny_cfg(*opts))


def test_a_per_alpha_config_writes_the_spec_it_always_wrote():
    from ttc_detectron2.config import bottleneck_kwargs

    from .conftest import tiny_cfg

    kwargs = bottleneck_kwargs(tiny_cfg())
    assert "num_rates" not in kwargs and "gain_range" not in kwargs


def test_a_variable_rate_enhancement_knows_the_base_rate(trained, coco_root, tmp_path):
    """A reconstruction enhancement with two rate points on the variable-rate base, a base
    rate drawn per batch: trained a few steps, exact at every (base, enhancement) rate."""
    from detectron2.config import get_cfg
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    from ttc_detectron2 import add_ttc_config

    from .test_enhancement import TINY_ENH_YAML

    out, _ = trained
    cfg = get_cfg()
    add_ttc_config(cfg)
    cfg.merge_from_file(str(TINY_ENH_YAML))
    cfg.merge_from_list(
        [
            "MODEL.TTC.ENHANCEMENT.BASE_WEIGHTS",
            str(out / "model_final.pth"),
            "MODEL.TTC.ENHANCEMENT.VARIABLE_RATE.ALPHAS",
            "[16.0, 2.0]",
            "MODEL.TTC.ENHANCEMENT.VARIABLE_RATE.GAIN_RANGE",
            "[8.0, 32.0]",
            "MODEL.TTC.ENHANCEMENT.SAMPLE_BASE_RATES",
            "True",
            "MODEL.TTC.ENHANCEMENT.BASE_RATE",
            "1.0",
        ]
    )
    model = build_model(cfg).train()
    assert model.enhancement.num_rates == 2 and model.enhancement.side_rates == 3
    from detectron2.data.detection_utils import read_image

    paths = sorted((coco_root / "train2017").glob("*.jpg"))[:2]
    batch = [
        {"image": torch.as_tensor(read_image(str(p), format="BGR").transpose(2, 0, 1).copy())}
        for p in paths
    ]
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    with EventStorage():
        for _ in range(3):
            losses = model(batch)
            opt.zero_grad()
            sum(losses.values()).backward()
            opt.step()
    assert model.enhancement.side_gains.log_gain.abs().sum() > 0  # it learned per base rate
    spec = model.codec_spec()
    assert spec["base"]["alphas"] == ALPHAS and spec["enhancement"]["alphas"] == [16.0, 2.0]
    path = tmp_path / "enh.pth"
    torch.save({"model": model.state_dict()}, path)
    codec = ScalableCodec.from_checkpoint(path)
    codec.update()
    x = _image(coco_root)
    for base_rate in (0.0, 2.0):
        for enh_rate in (0.0, 1.0):
            enc = codec.encode_stream(x, layers="all", rate=base_rate, enhancement_rate=enh_rate)
            y_e = codec.enhancement.encode(codec.enhancement_input(x), rate=enh_rate)
            assert torch.equal(codec.decompress(enc.data).y_enhancement, y_e)
    model.eval()
    with torch.no_grad():
        info = model(batch[:1])[0]["ttc"]
    assert info["rate"] == 1.0 and info["base_rate"] == 1.0


@pytest.mark.slow
def test_rd_sweep_turns_one_training_into_a_curve(coco_root, tmp_path):
    out, rd = tmp_path / "sweep", tmp_path / "vr.json"
    launcher = []
    for spec in coco_specs(coco_root):
        launcher += ["--register-coco", spec]
    launcher += ["DATASETS.TRAIN", f"('{TRAIN}',)", "DATASETS.TEST", f"('{VAL}',)"]
    launcher += VR[2:]
    cmd = [sys.executable, "-m", "ttc_core.cli", "rd", "sweep", "--framework", "detectron2"]
    cmd += ["--variable-rate", "--config", str(TINY_YAML), "--alphas", *map(str, ALPHAS)]
    cmd += ["--out", str(out), "--metric", "bbox/AP", "--bpp", "ttc/bpp", "--select", "best"]
    cmd += ["--name", "Proposed (variable rate)", "--no-hash", "-o", str(rd), "--", *launcher]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-4000:]
    curve = load_rd(rd)
    assert len(curve) == 3 and all(b > 0 for b in curve.results["bpp"])
    rates = [json.loads((out / f"rate_{i}" / "ttc_report.json").read_text()) for i in range(3)]
    assert [r["ttc/rate"] for r in rates] == [0.0, 1.0, 2.0]
    assert [r["alpha"] for r in rates] == ALPHAS
