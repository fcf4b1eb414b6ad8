"""Mixed precision through Detectron2's own switch, ``SOLVER.AMP.ENABLED`` (issue 16).

On the CPU in bfloat16 (``SOLVER.AMP.PRECISION``): tools/train_net.py trains with
:class:`~ttc_detectron2.engine.TTCAMPTrainer`; on one batch, the rate under autocast equals the
float32 one (the codec runs in float32) and the gradients reach the encoder.
"""

from __future__ import annotations

import math

import pytest
import torch

from .conftest import TINY_YAML, TRAIN, TRAIN_NET, VAL, coco_specs, read_metrics, run_script
from .test_model import _batch, _model, _train_losses

AMP = ["SOLVER.AMP.ENABLED", "True", "SOLVER.AMP.PRECISION", "bfloat16"]


def test_the_rate_under_bfloat16_autocast_is_the_float32_rate():
    model = _model()
    batch = _batch()
    ref, _ = _train_losses(model, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        amp, _ = _train_losses(model, batch)
    assert amp["loss_rate"].dtype == torch.float32
    assert amp["loss_rate"].item() == pytest.approx(ref["loss_rate"].item(), rel=1e-6)
    assert all(math.isfinite(v.item()) for v in amp.values())
    model.zero_grad()
    sum(amp.values()).backward()
    grads = [p.grad for p in model.backbone.bottleneck.analysis.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_train_net_trains_in_bfloat16_on_the_cpu(coco_root, tmp_path):
    out = tmp_path / "amp"
    args = [str(TRAIN_NET), "--config-file", str(TINY_YAML)]
    for spec in coco_specs(coco_root):
        args += ["--register-coco", spec]
    args += [*AMP, "DATASETS.TRAIN", f"('{TRAIN}',)", "DATASETS.TEST", f"('{VAL}',)"]
    args += ["SOLVER.MAX_ITER", "3", "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.EVAL_PERIOD", "0"]
    run_script([*args, "OUTPUT_DIR", str(out)])
    train = [m for m in read_metrics(out / "metrics.json") if "total_loss" in m]
    assert train and train[-1]["iteration"] == 2
    assert all(math.isfinite(m["total_loss"]) and math.isfinite(m["loss_rate"]) for m in train)
    first = torch.load(out / "model_0000000.pth", weights_only=False)["model"]
    last = torch.load(out / "model_final.pth", weights_only=False)["model"]
    keys = [k for k in last if k.startswith("backbone.bottleneck.analysis.")]
    assert any(not torch.equal(first[k], last[k]) for k in keys)


def test_the_trainer_autocasts_on_the_model_device(registered, tmp_path):
    from ttc_detectron2.engine import TTCAMPTrainer, TTCTrainer

    from .conftest import tiny_cfg

    trainer = TTCTrainer(tiny_cfg(*AMP, "OUTPUT_DIR", str(tmp_path)))
    inner = trainer._trainer
    assert isinstance(inner, TTCAMPTrainer)
    assert (inner.device_type, inner.precision) == ("cpu", torch.bfloat16)
    assert not inner.grad_scaler.is_enabled()  # bfloat16 needs no loss scaling
    fp16 = TTCTrainer(tiny_cfg("SOLVER.AMP.ENABLED", "True", "OUTPUT_DIR", str(tmp_path / "h")))
    assert fp16._trainer.precision == torch.float16 and fp16._trainer.grad_scaler.is_enabled()


def test_an_unknown_precision_is_refused():
    from ttc_detectron2 import TTCConfigError, validate_ttc_config

    from .conftest import tiny_cfg

    with pytest.raises(TTCConfigError, match="SOLVER.AMP.PRECISION"):
        validate_ttc_config(tiny_cfg("SOLVER.AMP.PRECISION", "float8"))
