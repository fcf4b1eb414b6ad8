"""The demo's plain-words verdicts (tools/demo.py), on hand-made RD curves."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo():
    spec = importlib.util.spec_from_file_location("ttc_demo", REPO / "tools" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def curve(tmp_path, name, bpp, metric, direction="higher"):
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "name": name, "metric": "m", "metrics": {"m": {"direction": direction}},
        "results": {"bpp": bpp, "m": metric},
    }))  # fmt: skip
    return path


def test_bd_rate_decides_when_defined(demo, tmp_path):
    files = {"Proposed": curve(tmp_path, "p", [1], [1]), "Baseline": curve(tmp_path, "b", [1], [1])}
    assert demo.verdict(files, -12.0).startswith("yes")
    assert demo.verdict(files, 3.0).startswith("no")


@pytest.mark.parametrize(
    "direction, proposed, baseline, word",
    [
        ("higher", ([0.1, 0.2], [30, 32]), ([0.1, 0.2], [29, 31]), "yes"),  # better at equal bits
        ("higher", ([0.1, 0.2], [28, 30]), ([0.1, 0.2], [29, 31]), "no"),
        ("lower", ([0.1, 0.2], [5.0, 4.0]), ([0.1, 0.2], [6.0, 5.0]), "yes"),  # RMSE
        ("higher", ([0.3, 0.4], [35, 36]), ([0.1, 0.2], [29, 31]), "undecided"),  # disjoint
    ],
)
def test_dominance_verdicts(demo, tmp_path, direction, proposed, baseline, word):
    files = {
        "Proposed": curve(tmp_path, "p", *proposed, direction),
        "Baseline": curve(tmp_path, "b", *baseline, direction),
    }
    assert demo.verdict(files, None).startswith(word)


def test_side_information_pairs_points_of_equal_quality(demo, tmp_path):
    files = {
        "Proposed": curve(tmp_path, "p", [0.08, 0.12], [0.5, 0.6]),
        "Standalone": curve(tmp_path, "s", [0.10, 0.15], [0.5, 0.6]),
    }
    lines = demo.side_information(files)
    assert any("| 0.5000 | 0.0800 | 0.1000 | +20.0 % |" in line for line in lines)
    assert any("| 0.6000 | 0.1200 | 0.1500 | +20.0 % |" in line for line in lines)
