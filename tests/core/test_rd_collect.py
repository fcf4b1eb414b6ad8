"""`ttc rd collect`: Detectron2 / MMEngine evaluation logs of several runs to one RD curve."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ttc_core.cli import main as ttc
from ttc_core.rd.collect import CollectError, collect_runs, read_records, result_files
from ttc_core.rd.format import load_rd
from ttc_core.selection import write_report


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def detectron2_run(root: Path, name: str, rate: float, aps=(30.0, 34.0, 33.0)) -> Path:
    """An OUTPUT_DIR as Detectron2 leaves it: metrics.json (JSON lines), checkpoints, config."""
    run = root / name
    run.mkdir(parents=True)
    lines = [{"iteration": 19, "total_loss": 2.0, "lr": 1e-4, "bpp_estimated": rate * 3}]
    for i, ap in enumerate(aps):
        iteration = 5000 * (i + 1) - 1
        lines.append({"iteration": iteration - 10, "total_loss": 1.0 / (i + 1)})
        lines.append(
            {
                "iteration": iteration,
                "bbox/AP": ap,
                "bbox/AP50": ap + 20,
                "bpp": rate * (1 + 0.1 * i),
                "bpp_estimated": rate * (0.98 + 0.1 * i),
                "bpp_base": rate * 0.6,
                "bpp_enhancement": rate * 0.4 * (1 + 0.1 * i),
                "num_images": 50,
            }
        )
    (run / "metrics.json").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    (run / "config.yaml").write_text(f"MODEL:\n  TTC:\n    ALPHA: {rate}\n")
    for iteration in (4999, 9999):
        (run / f"model_{iteration:07d}.pth").write_bytes(f"{name}-{iteration}".encode())
    (run / "model_final.pth").write_bytes(f"{name}-final".encode())
    (run / "last_checkpoint").write_text("model_final.pth")
    # what TTCTrainer writes at the end: the reported split, once, with the checkpoint chosen
    # by the selection split's AP (here that of iteration 9999)
    (run / "model_best.pth").write_bytes(f"{name}-best".encode())
    write_report(
        run,
        {"bbox/AP": 31.0, "bpp": rate * 1.02, "bpp_estimated": rate, "num_images": 8},
        dataset="coco_val_tiny",
        checkpoint="model_best.pth",
        iteration=9999,
        selection={"metric": "selection/bbox/AP", "value": 36.0, "rule": "best"},
    )
    return run


def mmengine_run(root: Path, name: str, rate: float) -> Path:
    """A work_dir as MMEngine leaves it: timestamped vis_data/scalars.json plus a test run."""
    run = root / name
    train, test = run / "20240101_120000", run / "20240102_090000"
    (train / "vis_data").mkdir(parents=True)
    test.mkdir(parents=True)
    scalars = [
        {"lr": 1e-4, "loss": 3.0, "step": 50},
        {"rmse": 6.4, "bpp": rate * 1.1, "step": 8000},
        {"lr": 1e-4, "loss": 2.0, "step": 8050},
        {"rmse": 6.1, "bpp": rate * 1.05, "step": 16000},
    ]
    (train / "vis_data" / "scalars.json").write_text("\n".join(map(json.dumps, scalars)))
    (test / "20240102_090000.json").write_text(json.dumps({"rmse": 6.2, "bpp": rate}))
    (run / f"{name}.py").write_text("alpha = 0.1\n")
    for step in (8000, 16000):
        (run / f"iter_{step}.pth").write_bytes(f"{name}-{step}".encode())
    (run / "best_rmse_iter_16000.pth").write_bytes(f"{name}-best".encode())
    (run / "last_checkpoint").write_text(str((run / "iter_16000.pth").resolve()))
    return run


@pytest.fixture
def d2_runs(tmp_path):
    # given out of rate order on purpose
    return [detectron2_run(tmp_path, n, r) for n, r in (("a2", 0.4), ("a0", 0.1), ("a1", 0.2))]


def test_detectron2_last_evaluation(d2_runs):
    curve = collect_runs(
        d2_runs,
        name="Proposed",
        metric="bbox/AP",
        metric_name="mAP",
        metric_scale=0.01,
        bpp_estimated="bpp_estimated",
        bpp_base="bpp_base",
        bpp_enhancement="bpp_enhancement",
        extra=["bbox/AP50"],
        dataset="coco_val_tiny",
    )
    assert curve.metric == "mAP" and curve.info().higher_is_better
    assert curve.results["bpp"] == pytest.approx([0.12, 0.24, 0.48])  # sorted by rate
    assert curve.results["mAP"] == pytest.approx([0.33] * 3)  # last evaluation, scaled
    assert curve.results["bpp_estimated"] == pytest.approx([0.118, 0.236, 0.472])
    assert curve.results["bpp_base"] == pytest.approx([0.06, 0.12, 0.24])
    assert curve.results["bbox/AP50"] == [53.0] * 3
    assert curve.rate_key == "bpp" and curve.split == "as logged"
    assert curve.dataset == "coco_val_tiny" and curve.num_images == 50
    first = curve.provenance[0]
    run = d2_runs[1]  # a0, the lowest rate
    assert first["run"] == str(run) and first["iteration"] == 14999
    assert first["select"] == "last" and first["evaluations"] == 3
    assert first["split"] == "as logged"
    assert first["checkpoint"] == str(run / "model_final.pth")  # rule 3: the run's last eval
    assert first["checkpoint_sha256"] == sha256(run / "model_final.pth")
    assert first["config"] == str(run / "config.yaml")
    assert first["config_sha256"] == sha256(run / "config.yaml")
    assert first["results_file"] == str(run / "metrics.json") and first["line"] == 7


def test_best_is_the_reported_split_of_the_checkpoint_chosen_on_the_selection_split(d2_runs):
    curve = collect_runs(
        d2_runs, name="P", metric="bbox/AP", bpp_estimated="bpp_estimated", select="best"
    )
    # the report's numbers, not the best of the logged evaluations (34.0)
    assert curve.results["bbox/AP"] == [31.0] * 3
    assert curve.results["bpp"] == pytest.approx([0.102, 0.204, 0.408])
    assert curve.split == "report" and curve.num_images == 8
    entry = curve.provenance[0]
    assert entry["split"] == "report" and entry["iteration"] == 9999
    assert entry["selection"]["metric"] == "selection/bbox/AP"
    assert entry["checkpoint"] == str(d2_runs[1] / "model_best.pth")
    assert entry["results_file"].endswith("ttc_report.json")


def test_best_without_a_report_is_refused(tmp_path):
    run = mmengine_run(tmp_path, "depth", 0.1)
    with pytest.raises(CollectError, match="no ttc_report.json.*selection split"):
        collect_runs([run], name="B", metric="rmse", select="best")
    write_report(run, {"rmse": 6.3}, dataset="val", checkpoint=None, iteration=None, selection=None)
    with pytest.raises(CollectError, match="no number for bpp"):
        collect_runs([run], name="B", metric="rmse", select="best")


def test_mmengine_work_dir_lower_is_better(tmp_path):
    runs = [mmengine_run(tmp_path, f"depth_{i}", r) for i, r in enumerate((0.05, 0.1))]
    files = result_files(runs[0])
    assert [f.name for f in files] == ["scalars.json", "20240102_090000.json"]

    last = collect_runs(runs, name="Baseline", metric="rmse", hash_files=False)
    assert last.results["rmse"] == [6.2, 6.2]  # the test run, written after training
    assert not last.info().higher_is_better
    assert last.provenance[0]["checkpoint"] == str((runs[0] / "iter_16000.pth").resolve())
    assert last.provenance[0]["config"] == str(runs[0] / "depth_0.py")
    assert "checkpoint_sha256" not in last.provenance[0]

    # MMEngine names the checkpoint relative to the directory training was started from
    (runs[1] / "last_checkpoint").write_text("work_dirs/depth_1/iter_16000.pth")
    moved = collect_runs(runs, name="Baseline", metric="rmse")
    assert moved.provenance[1]["checkpoint"] == str(runs[1] / "iter_16000.pth")

    for run in runs:
        write_report(
            run,
            {"rmse": 6.25, "bpp": 0.5},
            dataset="val",
            checkpoint="best_rmse_iter_16000.pth",
            iteration=16000,
            selection={"metric": "selection/rmse", "value": 6.1, "rule": "best"},
        )
    best = collect_runs(runs, name="Baseline", metric="rmse", select="best")
    assert best.results["rmse"] == [6.25, 6.25]
    assert best.provenance[0]["checkpoint"] == str(runs[0] / "best_rmse_iter_16000.pth")


def test_results_file_nested_and_json_list(tmp_path):
    run = tmp_path / "custom"
    run.mkdir()
    (run / "eval.json").write_text(
        json.dumps(
            [
                {"bbox": {"AP": 20.0}, "rate": {"bpp": 0.3}},
                {"bbox": {"AP": 25.0}, "rate": {"bpp": 0.35}, "checkpoint": "weights.pth"},
            ]
        )
    )
    (run / "weights.pth").write_bytes(b"w")
    records = read_records(run / "eval.json")
    assert records[0].values == {"bbox/AP": 20.0, "rate/bpp": 0.3}
    curve = collect_runs(
        [run], name="X", metric="bbox/AP", bpp="rate/bpp", results_files=["eval*.json"]
    )
    assert curve.results == {"bpp": [0.35], "bbox/AP": [25.0]}
    assert curve.provenance[0]["checkpoint"] == str(run / "weights.pth")  # rule 1


def test_estimated_only(d2_runs):
    curve = collect_runs(
        d2_runs, name="P", metric="bbox/AP", bpp=None, bpp_estimated="bpp_estimated"
    )
    # no real bits: no `bpp` column, never an estimate under that name
    assert "bpp" not in curve.results and curve.rate_key == "bpp_estimated"
    assert curve.results["bpp_estimated"] == pytest.approx([0.118, 0.236, 0.472])


def test_errors_are_explained(tmp_path, d2_runs):
    with pytest.raises(CollectError, match=r"never seen: bbox/APs;.*keys seen: .*bbox/AP"):
        collect_runs(d2_runs, name="P", metric="bbox/APs", direction="higher")
    with pytest.raises(CollectError, match="direction of metric 'score' is unknown"):
        collect_runs(d2_runs, name="P", metric="score")
    with pytest.raises(CollectError, match="no evaluation results found"):
        collect_runs([tmp_path], name="P", metric="bbox/AP")
    with pytest.raises(CollectError, match="no such run"):
        collect_runs([tmp_path / "nope"], name="P", metric="bbox/AP")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metrics.json").write_text('{"iteration": 1}\n{"bbox/AP": 3\n')
    with pytest.raises(CollectError, match=r"metrics.json:2: not a JSON line"):
        collect_runs([bad], name="P", metric="bbox/AP")
    with pytest.raises(CollectError, match="read as a rate"):
        collect_runs(d2_runs, name="P", metric="bbox/AP", metric_name="bpp_total")


def test_cli_collect_validate_and_compressai_reads_the_output(tmp_path, d2_runs, capsys):
    out = tmp_path / "rd" / "proposed.json"
    rc = ttc(
        [
            "rd",
            "collect",
            *map(str, d2_runs),
            "--metric",
            "bbox/AP",
            "--metric-name",
            "psnr-rgb",
            "--direction",
            "higher",
            "--bpp",
            "bpp",
            "--bpp-estimated",
            "bpp_estimated",
            "--select",
            "best",
            "--name",
            "Proposed",
            "--dataset",
            "toy",
            "-o",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    curve = load_rd(out)
    assert curve.results["psnr-rgb"] == [31.0] * 3

    assert ttc(["rd", "validate", str(out)]) == 0
    assert "ok: 'Proposed', 3 points" in capsys.readouterr().out

    plot_main = pytest.importorskip("compressai.utils.plot.__main__")
    parsed = plot_main.parse_json_file(out, "psnr")
    assert parsed["name"] == "Proposed"
    assert list(parsed["xs"]) == curve.results["bpp"]
    assert list(parsed["ys"]) == [31.0] * 3


def test_cli_errors_are_one_line(tmp_path, d2_runs, capsys):
    rc = ttc(
        [
            "rd",
            "collect",
            str(d2_runs[0]),
            "--metric",
            "bbox/APx",
            "--direction",
            "higher",
            "--name",
            "P",
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("ttc rd collect: ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert (
        ttc(
            [
                "rd",
                "collect",
                str(d2_runs[0]),
                "--metric",
                "bbox/AP",
                "--name",
                "P",
                "--estimated-only",
            ]
        )
        == 2
    )
    assert "--bpp-estimated" in capsys.readouterr().err
    assert ttc(["rd"]) == 2
    capsys.readouterr()
    assert ttc(["rd", "collect", "--help"]) == 0
    help_text = capsys.readouterr().out
    for phrase in ("metrics.json", "scalars.json", "last", "best", "model_final.pth"):
        assert phrase in help_text
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert ttc(["rd", "validate", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err
