"""BD-rate / BD-metric: hand-computed cases, directions, and every way a BD value can fail."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ttc_core.cli import main as ttc
from ttc_core.rd.bd import (
    METHODS,
    BDError,
    NonMonotonicError,
    NoOverlapError,
    TooFewPointsError,
    bd_metric,
    bd_rate,
    compare,
    compare_many,
    format_table,
)
from ttc_core.rd.format import MetricInfo, RDCurve, save_rd

RATES = [0.1, 0.2, 0.4, 0.8, 1.6]
PSNR = [28.0, 30.5, 33.0, 35.0, 36.5]  # concave in log-rate, like a real codec
RMSE = [7.0, 6.4, 6.0, 5.8, 5.7]  # lower is better, improves with rate
DEPTH_BASELINE = ([0.046, 0.048, 0.157, 0.230], [6.378, 6.323, 6.058, 6.072])
DEPTH_PROPOSED = ([0.067, 0.090, 0.120, 0.150, 0.287], [6.178, 6.100, 5.943, 5.872, 5.840])


def curve(name, rates, values, metric="psnr-rgb", direction=None, **kw) -> RDCurve:
    metrics = {metric: MetricInfo(direction)} if direction else {}
    return RDCurve(
        name=name,
        results={"bpp": list(rates), metric: list(values)},
        metric=metric,
        metrics=metrics,
        **kw,
    )


@pytest.mark.parametrize("method", METHODS)
def test_identical_curves_give_zero(method):
    assert bd_rate(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-9)
    assert bd_metric(RATES, PSNR, RATES, PSNR, method=method) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_every_rate_halved_is_minus_50_percent(method):
    half = [r / 2 for r in RATES]
    assert bd_rate(RATES, PSNR, half, PSNR, method=method) == pytest.approx(-50.0, abs=1e-6)
    double = [r * 2 for r in RATES]
    assert bd_rate(RATES, PSNR, double, PSNR, method=method) == pytest.approx(100.0, abs=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_metric_shift_is_the_bd_metric(method):
    better = [p + 0.5 for p in PSNR]
    assert bd_metric(RATES, PSNR, RATES, better, method=method) == pytest.approx(0.5, abs=1e-9)
    assert bd_rate(RATES, PSNR, RATES, better, method=method) < 0


@pytest.mark.parametrize("method", METHODS)
def test_lower_is_better_keeps_negative_meaning_fewer_bits(method):
    half = [r / 2 for r in RATES]
    assert bd_rate(RATES, RMSE, half, RMSE, method=method, higher_is_better=False) == (
        pytest.approx(-50.0, abs=1e-6)
    )
    lower_error = [e - 0.1 for e in RMSE]  # better at every rate
    rate = bd_rate(RATES, RMSE, RATES, lower_error, method=method, higher_is_better=False)
    assert rate < 0
    delta = bd_metric(RATES, RMSE, RATES, lower_error, method=method, higher_is_better=False)
    assert delta == pytest.approx(-0.1, abs=1e-9)  # in RMSE units: the test's RMSE is lower
    worse = [e + 0.1 for e in RMSE]
    assert bd_rate(RATES, RMSE, RATES, worse, method=method, higher_is_better=False) > 0


def test_lower_is_better_curve_read_as_higher_is_better_is_explained():
    with pytest.raises(TooFewPointsError, match="is the direction right"):
        bd_rate(RATES, RMSE, RATES, RMSE, method="pchip")


def test_too_few_points():
    with pytest.raises(TooFewPointsError, match="needs at least 4"):
        bd_rate(RATES[:3], PSNR[:3], RATES, PSNR, method="cubic")
    with pytest.raises(TooFewPointsError, match="needs at least 2"):
        bd_rate(RATES, PSNR, RATES[:1], PSNR[:1], method="pchip")
    two = bd_rate(RATES[:2], PSNR[:2], [r / 2 for r in RATES[:2]], PSNR[:2], method="akima")
    assert two == pytest.approx(-50.0)


def test_no_overlap_names_both_ranges():
    with pytest.raises(NoOverlapError) as info:
        bd_rate(RATES, PSNR, RATES, [p + 20 for p in PSNR], method="cubic")
    message = str(info.value)
    assert "do not overlap" in message
    assert "28 to 36.5" in message and "48 to 56.5" in message


def test_bad_inputs():
    with pytest.raises(BDError, match="unknown method"):
        bd_rate(RATES, PSNR, RATES, PSNR, method="linear")
    with pytest.raises(BDError, match="rate <= 0"):
        bd_rate([0.0, *RATES[1:]], PSNR, RATES, PSNR)
    with pytest.raises(BDError, match="5 rates but 4"):
        bd_rate(RATES, PSNR[:4], RATES, PSNR)


def test_bjontegaard_itself_fails_on_the_non_monotonic_depth_baseline():
    """Why ttc checks first: the package raises a bare scipy / assertion error."""
    bjontegaard = pytest.importorskip("bjontegaard")
    (ra, da), (rt, dt) = DEPTH_BASELINE, DEPTH_PROPOSED
    with pytest.raises(ValueError, match="strictly increasing"):
        bjontegaard.bd_rate(
            ra, [-d for d in da], rt, [-d for d in dt], "pchip", require_matching_points=False
        )


def test_non_monotonic_policies():
    (ra, da), (rt, dt) = DEPTH_BASELINE, DEPTH_PROPOSED
    kw = dict(higher_is_better=False)
    cubic = bd_rate(ra, da, rt, dt, method="cubic", **kw)
    assert cubic == pytest.approx(-75.97, abs=0.05)
    # pareto (default): drop (0.230, 6.072), dominated by (0.157, 6.058), then PCHIP
    pareto = bd_rate(ra, da, rt, dt, method="pchip", **kw)
    assert pareto == pytest.approx(bd_rate(ra[:3], da[:3], rt, dt, method="pchip", **kw))
    assert bd_rate(ra, da, rt, dt, method="pchip", non_monotonic="cubic", **kw) == (
        pytest.approx(cubic)
    )
    with pytest.raises(NonMonotonicError, match=r"\(0.23 bpp, disparity RMSE 6.072\)|6.072"):
        bd_rate(ra, da, rt, dt, method="akima", non_monotonic="error", **kw)


def test_compare_reports_notes_and_errors_instead_of_raising():
    anchor = curve("Baseline", *DEPTH_BASELINE, metric="rmse", direction="lower")
    test = curve("Proposed", *DEPTH_PROPOSED, metric="rmse", direction="lower")
    r = compare(anchor, test, method="pchip")
    assert r.ok and r.method_used == "pchip" and r.bd_rate < 0
    assert any("not monotonic" in n and "6.072" in n for n in r.notes)
    assert any("dropped" in n for n in r.notes)
    assert r.metric_interval == pytest.approx((6.058, 6.178))
    assert any("share only" in n for n in r.notes)  # 22 % of the combined RMSE range

    r = compare(anchor, test, method="pchip", non_monotonic="error")
    assert not r.ok and "not monotonic" in r.bd_rate_error

    far = curve("Far", RATES, [p + 20 for p in PSNR], direction="higher")
    near = curve("Near", RATES, PSNR, direction="higher")
    r = compare(near, far, method="cubic")
    assert r.bd_rate is None and "do not overlap" in r.bd_rate_error
    assert r.bd_metric == pytest.approx(20.0)  # the rate ranges do overlap


def test_compare_setup_errors():
    unknown = curve("A", RATES, PSNR, metric="score")
    with pytest.raises(BDError, match="direction of metric 'score' is unknown"):
        compare(unknown, unknown)
    assert compare(unknown, unknown, higher_is_better=True).bd_rate == pytest.approx(0.0)
    a = curve("A", RATES, PSNR, metric="score", direction="higher")
    b = curve("B", RATES, PSNR, metric="score", direction="lower")
    with pytest.raises(BDError, match="disagree"):
        compare(a, b)
    with pytest.raises(BDError, match="no 'bpp_estimated'"):
        compare(a, a, rate_key="bpp_estimated")


def test_table_for_several_tests():
    anchor = curve("Baseline", RATES, PSNR, direction="higher")
    tests = [
        curve("Half", [r / 2 for r in RATES], PSNR),
        curve("Same", RATES, PSNR),
        curve("Far", RATES, [p + 20 for p in PSNR]),
    ]
    results = compare_many(anchor, tests, method="pchip")
    assert [r.test for r in results] == ["Half", "Same", "Far"]
    table = format_table(results, anchor)
    lines = table.splitlines()
    assert any(line.startswith("Half") and "-50.0" in line for line in lines)
    assert any(line.startswith("Same") and "+0.0" in line for line in lines)
    far = next(line for line in lines if line.startswith("Far"))
    assert "n/a [1]" in far and "%" not in far
    assert "[1] Far: the curves do not overlap" in table


def write(tmp_path, c: RDCurve, name: str):
    return str(save_rd(c, tmp_path / name))


def test_cli_table_json_and_exit_codes(tmp_path, capsys):
    anchor = write(tmp_path, curve("Baseline", RATES, PSNR, direction="higher"), "a.json")
    half = write(tmp_path, curve("Half", [r / 2 for r in RATES], PSNR), "h.json")
    far = write(tmp_path, curve("Far", RATES, [p + 20 for p in PSNR]), "f.json")

    assert ttc(["bd", anchor, half, "--method", "akima", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["bd_rate"] == pytest.approx(-50.0)

    assert ttc(["bd", anchor, half, far]) == 2
    captured = capsys.readouterr()
    assert "-50.0" in captured.out and "n/a" in captured.out
    assert captured.err.strip().count("\n") == 0  # one message for the one failure
    assert "'Far'" in captured.err and "do not overlap" in captured.err
    assert "Traceback" not in captured.err

    assert ttc(["bd", anchor, str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json" in err and "Traceback" not in err

    assert ttc(["bd", anchor, half, "--metric", "mIoU"]) == 2
    assert "no 'mIoU'" in capsys.readouterr().err

    assert ttc(["bd", anchor]) == 2  # usage: a test curve is required
    capsys.readouterr()
    assert ttc(["bd", "--help"]) == 0
    help_text = capsys.readouterr().out
    assert ">= 4 points" in help_text and "--non-monotonic" in help_text


def test_cli_direction_override(tmp_path, capsys):
    a = write(tmp_path, curve("A", RATES, RMSE, metric="err"), "a.json")
    t = write(tmp_path, curve("T", [r / 2 for r in RATES], RMSE, metric="err"), "t.json")
    assert ttc(["bd", a, t]) == 2
    assert "direction of metric 'err' is unknown" in capsys.readouterr().err
    assert ttc(["bd", a, t, "--lower-is-better", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert math.isclose(result["bd_rate"], -50.0, abs_tol=1e-6)
    assert result["higher_is_better"] is False
    assert np.isfinite(result["bd_metric"])
