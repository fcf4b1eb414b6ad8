"""The LazyConfig file, trained and evaluated by Detectron2's *stock* lazy trainer.

``tools/lazyconfig_train_net.py`` ships in the Detectron2 wheel (module
``tools.lazyconfig_train_net``); it is run here as it is, in a subprocess. The test shrinks the
shipped config in Python (ResNet-18, a 16-channel latent, the generated dataset) and saves it as
a LazyConfig YAML, which the stock script loads like a ``.py`` file.
"""

from __future__ import annotations

import importlib.util
import math
import re

import pytest
import torch

from .conftest import CONFIGS, TRAIN, VAL, read_metrics, run_script

LAZY = CONFIGS / "ttc_proposed_R_50_FPN_1x_coco_lazy.py"


def _stock_script() -> str:
    spec = importlib.util.find_spec("tools.lazyconfig_train_net")
    if spec is None or spec.origin is None:
        pytest.skip("this Detectron2 install does not ship tools/lazyconfig_train_net.py")
    return spec.origin


def _tiny_lazy(root, out, max_iter=4):
    from detectron2.config import LazyCall as L
    from detectron2.config import LazyConfig

    from ttc_detectron2.data import register_coco

    cfg = LazyConfig.load(str(LAZY))
    m = cfg.model
    m.backbone.bottleneck.update(
        latent_channels=16,
        analysis_channels=[8, 8, 16],
        analysis_blocks=1,
        synthesis_channels=[16, 8, 8],
        recon_blocks=1,
    )
    m.backbone.inner.bottom_up.stages.depth = 18
    del m.backbone.inner.bottom_up.stages["stride_in_1x1"]  # a BottleneckBlock option
    m.backbone.inner.out_channels = 32
    m.proposal_generator.head.in_channels = 32
    m.proposal_generator.anchor_generator.sizes = [[8], [16], [32], [64], [128]]
    m.proposal_generator.batch_size_per_image = 32
    m.proposal_generator.pre_nms_topk = (200, 100)
    m.proposal_generator.post_nms_topk = (50, 50)
    m.roi_heads.batch_size_per_image = 32
    m.roi_heads.box_head.input_shape.channels = 32
    m.roi_heads.box_head.fc_dims = [64, 64]
    m.roi_heads.box_predictor.input_shape.channels = 64
    m.roi_heads.box_predictor.test_score_thresh = 0.0
    m.backbone.actual_bits_at_test = True  # tiny images: real bitstreams are quick

    ann, img = root / "annotations", root
    train_name = L(register_coco)(
        name=TRAIN,
        json_file=str(ann / "instances_train2017.json"),
        image_root=str(img / "train2017"),
    )
    val_name = L(register_coco)(
        name=VAL, json_file=str(ann / "instances_val2017.json"), image_root=str(img / "val2017")
    )
    d = cfg.dataloader
    d.train.dataset.names = train_name
    d.train.mapper.augmentations[0].short_edge_length = (64,)
    d.train.mapper.augmentations[0].max_size = 96
    d.train.total_batch_size = 2
    d.train.num_workers = 0
    d.test.dataset.names = val_name
    d.test.mapper.augmentations[0].short_edge_length = 64
    d.test.mapper.augmentations[0].max_size = 96
    d.test.num_workers = 0
    d.evaluator.evaluators[0].dataset_name = val_name

    cfg.optimizer.lr = 1e-3
    cfg.train.update(
        output_dir=str(out),
        init_checkpoint="",
        max_iter=max_iter,
        device="cpu",
        eval_period=0,
        log_period=1,
        seed=1,
    )
    cfg.train.checkpointer.period = 2
    path = out.parent / f"{out.name}.yaml"
    LazyConfig.save(cfg, str(path))
    return path


@pytest.fixture(scope="module")
def lazy_run(coco_root, tmp_path_factory):
    script = _stock_script()
    base = tmp_path_factory.mktemp("lazy")
    cfg_path = _tiny_lazy(coco_root, base / "run")
    log = run_script([script, "--config-file", str(cfg_path)], cwd=base)
    return {"script": script, "cfg": cfg_path, "dir": base / "run", "base": base, "log": log}


def test_stock_lazy_trainer_trains_and_evaluates(lazy_run):
    from ttc_core.checkpoint import find_codec_spec

    metrics = read_metrics(lazy_run["dir"] / "metrics.json")
    train = [m for m in metrics if "total_loss" in m]
    assert len(train) == 4  # log_period 1
    assert all({"loss_rate", "loss_recon"} <= set(m) for m in train)
    final = [m for m in metrics if "ttc/bpp_estimated" in m][-1]
    assert {"bbox/AP", "ttc/bpp", "ttc/psnr_direct"} <= set(final)
    log = lazy_run["log"]
    assert "copypaste: Task: bbox" in log and "copypaste: Task: ttc" in log
    # the bottleneck trained, and the codec spec is in the stock checkpointer's file
    first = torch.load(lazy_run["dir"] / "model_0000001.pth", weights_only=True)
    last = torch.load(lazy_run["dir"] / "model_final.pth", weights_only=True)
    keys = [k for k in last["model"] if k.startswith("backbone.bottleneck.analysis.")]
    assert any(not torch.equal(first["model"][k], last["model"][k]) for k in keys)
    assert find_codec_spec(last)["base"]["kwargs"]["latent_channels"] == 16


def _printed_results(log: str) -> dict:
    # the stock script prints do_test's OrderedDict; read the ttc numbers from it
    found = {}
    for key in ("bpp_estimated", "bpp", "psnr_direct"):
        m = re.search(rf"'{key}': ([0-9.eE+-]+|nan)", log)
        assert m, f"{key} not printed"
        found[f"ttc/{key}"] = float(m.group(1))
    m = re.search(r"'AP': ([0-9.eE+-]+|nan)", log)
    found["bbox/AP"] = float(m.group(1))
    return found


def test_stock_eval_only_reproduces(lazy_run):
    log = run_script(
        [
            lazy_run["script"],
            "--config-file",
            str(lazy_run["cfg"]),
            "--eval-only",
            f"train.init_checkpoint={lazy_run['dir'] / 'model_final.pth'}",
            f"train.output_dir={lazy_run['base'] / 'eval'}",
        ],
        cwd=lazy_run["base"],
    )
    printed = _printed_results(log)
    final = [m for m in read_metrics(lazy_run["dir"] / "metrics.json") if "ttc/bpp" in m][-1]
    for key, value in printed.items():
        ref = final[key]
        assert (math.isnan(value) and math.isnan(ref)) or value == pytest.approx(ref, rel=1e-4), key


def test_lazy_optimizer_clips_the_baseline_probe_apart(coco_root, tmp_path):
    """``param_groups`` + ``adam`` of the LazyConfig: a Baseline's probe is its own clip group,
    a Proposed model is clipped as one (what the stock trainer instantiates)."""
    from detectron2.config import LazyConfig, instantiate

    from ttc_core.optim import CLIP_GROUP_KEY

    cfg = LazyConfig.load(str(_tiny_lazy(coco_root, tmp_path / "run")))
    for mode, beta, expected in (
        ("baseline", 0.0, {"model", "probe"}),
        ("proposed", 0.1, {"model"}),
    ):
        cfg.model.mode, cfg.model.beta = mode, beta
        model = instantiate(cfg.model)
        cfg.optimizer.params.model = model
        opt = instantiate(cfg.optimizer)
        assert "GlobalGradClip" in type(opt).__name__
        groups = {g[CLIP_GROUP_KEY] for g in opt.param_groups}
        assert groups == expected, mode
        probe = [g for g in opt.param_groups if g[CLIP_GROUP_KEY] == "probe"]
        ga = {id(p) for p in model.backbone.bottleneck.reconstruction_synthesis.parameters()}
        assert {id(p) for g in probe for p in g["params"]} == (ga if mode == "baseline" else set())
    # the Baseline refuses a β it would not use
    cfg.model.mode, cfg.model.beta = "baseline", 0.1
    from ttc_detectron2 import TTCConfigError

    with pytest.raises(TTCConfigError, match="β = 0"):
        instantiate(cfg.model)


def test_stock_resume_continues(lazy_run):
    import shutil

    resumed = lazy_run["base"] / "resumed"
    shutil.copytree(lazy_run["dir"], resumed)
    log = run_script(
        [
            lazy_run["script"],
            "--config-file",
            str(lazy_run["cfg"]),
            "--resume",
            "train.max_iter=6",
            f"train.output_dir={resumed}",
        ],
        cwd=lazy_run["base"],
    )
    assert "Starting training from iteration 4" in log
    final = torch.load(resumed / "model_final.pth", weights_only=True)
    assert final["trainer"]["iteration"] == 5


@pytest.mark.slow
def test_stock_lazy_trainer_two_cpu_processes(coco_root, tmp_path):
    """``train.ddp.device_ids=None`` of the LazyConfig lets the stock script run gloo on CPUs."""
    script = _stock_script()
    cfg_path = _tiny_lazy(coco_root, tmp_path / "run", max_iter=2)
    log = run_script(
        [
            script,
            "--config-file",
            str(cfg_path),
            "--num-gpus",
            "2",
            "--dist-url",
            "auto",
            "model.backbone.actual_bits_at_test=False",
        ],
        cwd=tmp_path,
    )
    assert "World size: 2" in log
    assert (tmp_path / "run" / "model_final.pth").is_file()
