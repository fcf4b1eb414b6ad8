"""Issue 12 through Detectron2's real trainer (``TTCTrainer``, in-process, tiny CPU runs):

- probe isolation: a Baseline's probe g_a changes no other parameter, even under a global
  gradient-norm clip; a Proposed β does change the encoder;
- model selection apart from the reported split: the fit / selection datasets, periodic
  ``selection/`` metrics, the best checkpoint chosen on them only, and the reported split
  evaluated once, at the end, with real bits (``ttc_report.json``).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from .conftest import TRAIN, VAL, read_metrics, tiny_cfg

PROBE = "backbone.bottleneck.reconstruction_synthesis."
ENCODER = "backbone.bottleneck.analysis."


def _trainer(out, *opts, mode="proposed"):
    from detectron2.utils.env import seed_all_rng

    from ttc_detectron2.engine import TTCTrainer

    cfg = tiny_cfg("OUTPUT_DIR", str(out), *opts, mode=mode)
    cfg.freeze()
    seed_all_rng(0)  # model init, data order, flips, proposal sampling: the same in every run
    trainer = TTCTrainer(cfg)
    trainer.resume_or_load(resume=False)
    return trainer


def _train_state(out, *opts, mode="proposed", steps=3):
    """Parameters after ``steps`` iterations of Adam with the global clip (no evaluations)."""
    trainer = _trainer(
        out,
        "SOLVER.MAX_ITER",
        steps,
        "SOLVER.CHECKPOINT_PERIOD",
        1000,
        "SOLVER.CLIP_GRADIENTS.ENABLED",
        True,
        "SOLVER.CLIP_GRADIENTS.CLIP_TYPE",
        "full_model",
        # small enough that both clip groups are clipped at every step
        "SOLVER.CLIP_GRADIENTS.CLIP_VALUE",
        0.05,
        "DATASETS.SELECTION.ENABLED",
        False,
        "DATASETS.TEST",
        "()",
        *opts,
        mode=mode,
    )
    trainer.train()
    return {k: v.detach().clone() for k, v in trainer.model.state_dict().items()}


def _differing(a, b, keep=lambda k: True):
    return sorted(
        k for k in a if keep(k) and a[k].is_floating_point() and not torch.equal(a[k], b[k])
    )


# -- probe isolation ----------------------------------------------------------------------------
def test_baseline_groups_the_probe_apart_and_proposed_does_not():
    from detectron2.modeling import build_model

    from ttc_core.optim import CLIP_GROUP_KEY
    from ttc_detectron2.solver import build_optimizer, probe_parameters

    torch.manual_seed(0)
    baseline = build_model(tiny_cfg(mode="baseline"))
    probe = {id(p) for p in baseline.backbone.bottleneck.reconstruction_synthesis.parameters()}
    assert {id(p) for p in probe_parameters(baseline)} == probe
    opt = build_optimizer(tiny_cfg(mode="baseline"), baseline)
    tagged = {}
    for group in opt.param_groups:
        for p in group["params"]:
            tagged[id(p)] = group[CLIP_GROUP_KEY]
    assert {i for i, g in tagged.items() if g == "probe"} == probe
    assert len(tagged) == sum(1 for p in baseline.parameters() if p.requires_grad)
    # Proposed: g_a is part of the objective, one clip group
    proposed = build_model(tiny_cfg())
    assert probe_parameters(proposed) == []
    groups = build_optimizer(tiny_cfg(), proposed).param_groups
    assert {g[CLIP_GROUP_KEY] for g in groups} == {"model"}


def test_baseline_probe_weight_leaves_every_other_parameter_bit_identical(
    registered, tmp_path, monkeypatch
):
    with_probe = _train_state(tmp_path / "p1", "MODEL.TTC.PROBE_WEIGHT", 1.0, mode="baseline")
    without = _train_state(tmp_path / "p0", "MODEL.TTC.PROBE_WEIGHT", 0.0, mode="baseline")
    # the probe itself learned (so the comparison is not vacuous) ...
    assert _differing(with_probe, without, lambda k: k.startswith(PROBE))
    # ... and nothing else moved by a single bit: encoder, entropy model, g_b, detector
    assert _differing(with_probe, without, lambda k: not k.startswith(PROBE)) == []
    assert _differing(with_probe, _train_state(tmp_path / "x", mode="baseline")) == []  # seeded

    # control: one global clip over all parameters (the old behaviour) lets the probe's gradient
    # norm scale every step, and the same comparison fails
    from ttc_detectron2 import solver

    monkeypatch.setattr(solver, "tag_probe_groups", lambda groups, probe: list(groups))
    leaky1 = _train_state(tmp_path / "l1", "MODEL.TTC.PROBE_WEIGHT", 1.0, mode="baseline")
    leaky0 = _train_state(tmp_path / "l0", "MODEL.TTC.PROBE_WEIGHT", 0.0, mode="baseline")
    leaked = _differing(leaky1, leaky0, lambda k: not k.startswith(PROBE))
    assert any(k.startswith(ENCODER) for k in leaked), leaked


def test_a_reconstruction_loss_of_weight_zero_skips_g_a_in_training(registered):
    """Baseline without probe (and Proposed with β = 0): g_a is frozen and never run in
    training (its forward and backward are the avoidable part of the step), the loss keys stay."""
    from detectron2.data import DatasetCatalog, DatasetMapper
    from detectron2.modeling import build_model
    from detectron2.utils.events import EventStorage

    mapper = DatasetMapper(tiny_cfg(), is_train=True)
    inputs = [mapper(d) for d in DatasetCatalog.get(registered[0])[:2]]
    for mode, key in (("baseline", "MODEL.TTC.PROBE_WEIGHT"), ("proposed", "MODEL.TTC.BETA")):
        for weight in (0.0, 1.0):
            torch.manual_seed(0)
            model = build_model(tiny_cfg(key, weight, mode=mode)).train()
            g_a = model.backbone.bottleneck.reconstruction_synthesis
            calls = []
            g_a.register_forward_hook(lambda *args, calls=calls: calls.append(1))
            with EventStorage():
                losses = model(inputs)
            assert "loss_recon" in losses
            assert bool(calls) == (weight > 0), (mode, weight)
            assert all(p.requires_grad == (weight > 0) for p in g_a.parameters())
            if weight == 0:
                assert float(losses["loss_recon"]) == 0.0
            sum(losses.values()).backward()
            assert model.backbone.bottleneck.analysis[0].weight.grad.abs().sum() > 0


def test_proposed_beta_changes_the_encoder(registered, tmp_path):
    rewarded = _train_state(tmp_path / "b1", "MODEL.TTC.BETA", 4.0)
    plain = _train_state(tmp_path / "b0", "MODEL.TTC.BETA", 0.0)
    assert _differing(rewarded, plain, lambda k: k.startswith(ENCODER))


# -- the selection split --------------------------------------------------------------------------
def test_fit_and_selection_datasets_partition_the_training_split(registered):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from ttc_detectron2 import TTCConfigError
    from ttc_detectron2.data import register_selection_splits

    cfg = tiny_cfg("DATASETS.SELECTION.SIZE", 1.0)
    (fit,), (sel,) = register_selection_splits(cfg)
    assert (fit, sel) == (f"{TRAIN}:fit", f"{TRAIN}:selection")
    files = lambda name: {d["file_name"] for d in DatasetCatalog.get(name)}  # noqa: E731
    everything = files(TRAIN)
    assert len(files(sel)) == 1 and len(files(fit)) == len(everything) - 1
    assert files(fit) | files(sel) == everything and not files(fit) & files(sel)
    # the same again (deterministic), another seed may pick another image
    assert register_selection_splits(cfg) == ((fit,), (sel,)) and len(files(sel)) == 1
    # metadata copied, but not json_file: COCOEvaluator must build the subset's ground truth
    src, meta = MetadataCatalog.get(TRAIN), MetadataCatalog.get(sel)
    assert meta.evaluator_type == "coco" and meta.thing_classes == src.thing_classes
    assert hasattr(src, "json_file") and not hasattr(MetadataCatalog.get(fit), "json_file")
    # a file list names the selection images instead
    chosen = sorted(everything)[2].rsplit("/", 1)[-1]
    listed = tiny_cfg("DATASETS.SELECTION.FILES", f"['{chosen}']")
    (_,), (sel,) = register_selection_splits(listed)
    assert [f.rsplit("/", 1)[-1] for f in files(sel)] == [chosen]
    missing = tiny_cfg("DATASETS.SELECTION.FILES", "['nope.jpg']")
    register_selection_splits(missing)
    with pytest.raises(TTCConfigError, match="nope.jpg"):
        DatasetCatalog.get(sel)
    with pytest.raises(TTCConfigError, match="one training dataset"):
        register_selection_splits(tiny_cfg("DATASETS.TRAIN", f"('{TRAIN}', '{VAL}')"))
    off = tiny_cfg("DATASETS.SELECTION.ENABLED", False)
    assert register_selection_splits(off) == ((TRAIN,), ())


@pytest.fixture()
def spied_loaders(monkeypatch):
    """Every test loader TTCTrainer builds: (dataset, training iteration) in call order."""
    from detectron2.utils.events import get_event_storage

    from ttc_detectron2.engine import TTCTrainer

    calls = []
    original = TTCTrainer.build_test_loader.__func__

    def spy(cls, cfg, dataset_name):
        try:
            iteration = get_event_storage().iter
        except AssertionError:  # outside training
            iteration = None
        calls.append((dataset_name, iteration))
        return original(cls, cfg, dataset_name)

    monkeypatch.setattr(TTCTrainer, "build_test_loader", classmethod(spy))
    return calls


def test_best_checkpoint_uses_only_the_selection_split_and_the_report_comes_once_at_the_end(
    registered, tmp_path, spied_loaders
):
    from ttc_core.selection import read_report

    out = tmp_path / "run"
    trainer = _trainer(
        out,
        "SOLVER.MAX_ITER",
        5,
        "SOLVER.CHECKPOINT_PERIOD",
        1000,
        "TEST.EVAL_PERIOD",
        1,
        "DATASETS.SELECTION.SIZE",
        1.0,
        # a metric that moves at every step (here not monotonically), so that "best" is a real
        # choice; a contrived rule ("max" rate), only to see the choice follow it
        "DATASETS.SELECTION.METRIC",
        "ttc/bpp_estimated",
        "DATASETS.SELECTION.MODE",
        "max",
        # selection evaluations estimate the rate; the reported one must code real bits anyway
        "MODEL.TTC.TEST_ACTUAL_BITS",
        False,
    )
    assert trainer.cfg.DATASETS.TRAIN == (f"{TRAIN}:fit",)
    trainer.train()

    # the reported split: one test loader, after training, after every selection evaluation
    selection = f"{TRAIN}:selection"
    assert [name for name, _ in spied_loaders] == [selection] * 5 + [VAL]
    # (Detectron2 logs the evaluation after the last iteration at iteration MAX_ITER)
    assert [it for name, it in spied_loaders if name == selection] == [0, 1, 2, 3, 5]

    # the event storage (behind metrics.json, TensorBoard, and BestCheckpointer): the periodic
    # evaluations are all selection/...; nothing of the reported split
    history = trainer.storage.history("selection/ttc/bpp_estimated").values()
    values = {it: v for v, it in history}
    assert list(values) == [0, 1, 2, 3, 5]
    logged = set(trainer.storage.histories())
    assert {k for m in read_metrics(out / "metrics.json") for k in m} <= logged | {"iteration"}
    assert not {k for k in logged if k.startswith(("bbox/", "ttc/"))}, logged
    assert {"selection/bbox/AP", "selection/ttc/psnr_direct"} <= logged
    assert "selection/ttc/bpp" not in logged  # no real bits were coded on the selection split

    # the best checkpoint is the (first) argmax of the selection metric, and nothing else
    best_iter = max(values, key=lambda i: (values[i], -i))
    report = read_report(out)
    assert report["selection"] == {
        "metric": "selection/ttc/bpp_estimated",
        "value": pytest.approx(values[best_iter]),
        "rule": "best",
        "mode": "max",
        "dataset": selection,
    }
    assert report["iteration"] == best_iter
    assert report["checkpoint"] == str(out / "model_best.pth")
    best = torch.load(out / "model_best.pth", weights_only=True)
    assert best["iteration"] == best_iter
    print(f"selection/ttc/bpp_estimated per iteration {values}: best {best_iter}")

    # the report: the reported split, the chosen checkpoint, real bits, the vocabulary
    assert report["split"] == "report" and report["dataset"] == VAL
    assert report["num_images"] == 2 and report["ttc/num_images"] == 2
    assert {"bbox/AP", "bbox/AP50", "ttc/bpp", "ttc/bpp_estimated", "ttc/psnr_direct"} <= set(
        report
    )
    assert report["ttc/bpp"] > 0 and report["ttc/bpp"] != report["ttc/bpp_estimated"]
    assert not any("recon_psnr" in k or "actual" in k for k in report)
    assert trainer._last_eval_results["ttc"]["bpp"] == report["ttc/bpp"]
    # ... and they are the chosen checkpoint's numbers
    again = type(trainer).test_checkpoint(trainer.cfg, report["checkpoint"])["ttc"]
    assert again["bpp"] == report["ttc/bpp"]
    assert math.isclose(again["bpp_estimated"], report["ttc/bpp_estimated"], rel_tol=1e-6)


def test_without_a_selection_split_the_final_model_is_reported_once(
    registered, tmp_path, spied_loaders
):
    from ttc_core.selection import read_report

    out = tmp_path / "run"
    trainer = _trainer(
        out,
        "SOLVER.MAX_ITER",
        2,
        "TEST.EVAL_PERIOD",
        1,
        "DATASETS.SELECTION.ENABLED",
        False,
    )
    assert trainer.cfg.DATASETS.TRAIN == (TRAIN,)
    trainer.train()
    # no periodic evaluation at all (never on the reported split), one at the end
    assert spied_loaders == [(VAL, 2)]
    report = read_report(out)
    final = torch.load(out / "model_final.pth", weights_only=True)
    assert report["selection"] is None and report["iteration"] == final["iteration"] == 1
    assert report["checkpoint"] == str(out / "model_final.pth") and "ttc/bpp" in report
    assert not (out / "model_best.pth").exists()


def test_a_selection_metric_that_is_not_reported_stops_training_clearly(registered, tmp_path):
    from ttc_detectron2 import TTCConfigError

    trainer = _trainer(
        tmp_path,
        "SOLVER.MAX_ITER",
        2,
        "TEST.EVAL_PERIOD",
        1,
        "DATASETS.SELECTION.METRIC",
        "ttc/psnr_scalable",
        "MODEL.TTC.TEST_ACTUAL_BITS",
        False,
    )
    with pytest.raises(TTCConfigError, match="reports no 'selection/ttc/psnr_scalable'"):
        trainer.train()


def test_resume_continues_the_best_so_far(registered, tmp_path):
    from ttc_detectron2.engine import SelectionCheckpointer

    record = tmp_path / "model_best.json"
    record.write_text(json.dumps({"metric": "selection/bbox/AP", "value": 12.5, "iteration": 3}))
    cfg_opts = ("SOLVER.MAX_ITER", 8, "TEST.EVAL_PERIOD", 2)
    trainer = _trainer(tmp_path, *cfg_opts)
    hook = next(h for h in trainer._hooks if isinstance(h, SelectionCheckpointer))
    for start, restored in ((0, None), (2, None), (3, 12.5), (4, 12.5)):
        hook.best_metric = hook.best_iter = None
        trainer.start_iter = start
        hook.before_train()
        assert hook.best_metric == restored, start  # only a best from before the resumed step


def test_report_choice_without_a_finite_selection_value(tmp_path):
    """A selection split whose metric was never finite (e.g. AP NaN): the final model is
    reported, and the report says it was not chosen on the selection split."""
    from types import SimpleNamespace

    from ttc_detectron2.engine import ReportHook, SelectionCheckpointer

    cfg = tiny_cfg("OUTPUT_DIR", str(tmp_path))
    best = SelectionCheckpointer(
        10, SimpleNamespace(save_dir=str(tmp_path)), "selection/bbox/AP", "max", "x:selection"
    )
    hook = ReportHook(cfg, best)
    hook.trainer = SimpleNamespace(max_iter=20)
    choice = hook._choice()
    assert choice["checkpoint"] == str(tmp_path / "model_final.pth")
    assert choice["iteration"] == 19
    assert choice["selection"] == {
        "metric": "selection/bbox/AP",
        "value": None,
        "rule": "last",
        "mode": "max",
        "dataset": "x:selection",
    }
    # once a best exists (and its file), it is the choice
    best.best_metric, best.best_iter = 3.5, 9
    (tmp_path / "model_best.pth").write_bytes(b"")
    choice = hook._choice()
    assert choice["checkpoint"] == str(tmp_path / "model_best.pth") and choice["iteration"] == 9
    assert choice["selection"]["rule"] == "best" and choice["selection"]["value"] == 3.5
    with pytest.raises(Exception, match="one dataset"):
        ReportHook(tiny_cfg("DATASETS.TEST", f"('{VAL}', '{TRAIN}')"), None)
