"""The metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from ttc_mmseg.metrics import DisparityRMSEMetric, RateMetric


def sample(pred, gt, **meta):
    return dict(
        pred_depth_map=dict(data=torch.tensor(pred)[None]),
        gt_depth_map=dict(data=torch.tensor(gt)[None]),
        **meta,
    )


def test_disparity_rmse_in_pixels_pools_valid_pixels():
    metric = DisparityRMSEMetric(scale=128.0)
    # image 1: errors 1/128 and 3/128 on two valid pixels (1 and 3 px), one invalid pixel
    # image 2: error 2/128 on its only valid pixel
    metric.process(
        None,
        [
            sample([[0.5, 0.1 + 1 / 128, 0.2 + 3 / 128]], [[0.0, 0.1, 0.2]]),
            sample([[0.3 - 2 / 128, 9.0]], [[0.3, 0.0]]),
        ],
    )
    m = metric.compute_metrics(metric.results)
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 9 + 4) / 3), rel=1e-6)
    assert m["rmse_image"] == pytest.approx((math.sqrt(5) + 2) / 2, rel=1e-6)
    # δ: ratios 1.078, 1.117, 1.054 — all < 1.25
    assert m["delta1"] == 1.0


def test_delta_thresholds_and_non_positive_predictions():
    metric = DisparityRMSEMetric(scale=1.0)
    metric.process(None, [sample([[1.0, 1.3, 2.0, -1.0]], [[1.0, 1.0, 1.0, 1.0]])])
    m = metric.compute_metrics(metric.results)
    # ratios 1, 1.3, 2, miss: δ1 = 1/4, δ2 (1.5625) = 2/4, δ3 (1.953) = 2/4
    assert (m["delta1"], m["delta2"], m["delta3"]) == (0.25, 0.5, 0.5)


def test_no_valid_pixel_is_an_error():
    metric = DisparityRMSEMetric()
    metric.process(None, [sample([[1.0]], [[0.0]])])
    with pytest.raises(ValueError, match="no valid"):
        metric.compute_metrics(metric.results)


def test_rate_metric_averages_per_image_values():
    metric = RateMetric()
    metric.process(
        None,
        [
            dict(bpp_estimated=0.1, psnr_direct=30.0, bpp=0.12),
            dict(bpp_estimated=0.3, psnr_direct=20.0, bpp=0.32),
        ],
    )
    m = metric.compute_metrics(metric.results)
    assert m == pytest.approx(dict(bpp_estimated=0.2, bpp=0.22, psnr_direct=25.0))


def test_rate_metric_has_no_bpp_without_real_bits():
    """``bpp`` is the rate of real bitstreams: without them the estimate is all there is, and it
    is called ``bpp_estimated``."""
    metric = RateMetric()
    metric.process(
        None,
        [
            dict(bpp_estimated=0.1, bpp_base_estimated=0.04, bpp_enhancement_estimated=0.06),
            dict(bpp_estimated=0.3, bpp_base_estimated=0.1, bpp_enhancement_estimated=0.2),
        ],
    )
    m = metric.compute_metrics(metric.results)
    assert set(m) == {"bpp_estimated", "bpp_base_estimated", "bpp_enhancement_estimated"}
    assert m["bpp_estimated"] == pytest.approx(0.2)


def test_rate_metric_refuses_real_bits_of_some_frames_only():
    metric = RateMetric()
    metric.process(None, [dict(bpp_estimated=0.1, bpp=0.12), dict(bpp_estimated=0.3)])
    with pytest.raises(ValueError, match="1 of 2 frames have 'bpp'"):
        metric.compute_metrics(metric.results)


def test_rate_metric_prefix_names_the_selection_split():
    metric = RateMetric(prefix="selection")
    metric.dataset_meta = {}
    metric.process(None, [dict(bpp_estimated=0.1)])
    assert metric.evaluate(1) == {"selection/bpp_estimated": pytest.approx(0.1)}


def test_rate_metric_needs_a_ttc_model():
    with pytest.raises(KeyError, match="TTCDepthEstimator"):
        RateMetric().process(None, [dict(pred_depth_map={})])


@pytest.mark.parametrize("metric", ["RateMetric", "DisparityRMSEMetric"])
def test_a_misspelled_metric_option_is_an_error(metric):
    from mmseg.registry import METRICS

    built = METRICS.build(dict(type=metric, prefix="selection", collect_dir=None))
    assert built.prefix == "selection"
    with pytest.raises(TypeError, match="prefx"):
        METRICS.build(dict(type=metric, prefx="selection"))
