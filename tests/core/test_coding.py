"""Exact rANS coding: round trips, both orders, thread counts, actual vs estimated bits."""

import pytest
import torch

from ttc_core.entropy import coding

from .conftest import smooth_images


def test_wavefront_schedule_respects_the_causal_mask():
    h, w = 5, 9
    seen = torch.zeros(h, w, dtype=torch.bool)
    order = torch.zeros(h, w, dtype=torch.long)
    for t, (rows, cols) in enumerate(coding.steps(h, w, "wavefront")):
        assert not seen[rows, cols].any()
        seen[rows, cols] = True
        order[rows, cols] = t
    assert seen.all()
    assert len(coding.steps(h, w, "wavefront")) == coding.num_steps(h, w) == 3 * (h - 1) + w
    mask = torch.ones(5, 5, dtype=torch.bool)
    mask[2, 2:] = False
    mask[3:] = False
    for i in range(h):
        for j in range(w):
            for dy, dx in mask.nonzero().tolist():
                a, b = i + dy - 2, j + dx - 2
                if 0 <= a < h and 0 <= b < w:
                    assert order[a, b] < order[i, j]


@pytest.mark.parametrize("threads", [1, 2])
def test_round_trip_is_bit_exact_for_odd_sizes(trained_pair, threads):
    base, enh, _ = trained_pair
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(threads)
        for k in range(20):
            h, w = (int(v) for v in torch.randint(17, 90, (2,), generator=g))
            h, w = h | 1, w | 1  # odd, never a multiple of 16
            x = smooth_images(1, h, w, seed=1000 + k)
            results = {}
            for order in coding.ORDERS:
                strings, y_b = base.compress(x, order=order)
                y_b2 = base.decompress(strings, y_b.shape[-2:], order=order)
                assert torch.equal(y_b, y_b2), (h, w, order)
                e_strings, y_e = enh.compress(x, y_b, order=order)
                y_e2 = enh.decompress(e_strings, y_e.shape[-2:], y_b2, order=order)
                assert torch.equal(y_e, y_e2), (h, w, order)
                results[order] = (y_b2, y_e2)
            assert torch.equal(results["wavefront"][0], results["raster"][0])
            assert torch.equal(results["wavefront"][1], results["raster"][1])
    finally:
        torch.set_num_threads(old)


def test_decoding_with_wrong_side_information_does_not_reproduce(trained_pair):
    base, enh, _ = trained_pair
    x = smooth_images(1, 64, 64, seed=5)
    _, y_b = base.compress(x)
    strings, y_e = enh.compress(x, y_b)
    wrong = enh.decompress(strings, y_e.shape[-2:], torch.zeros_like(y_b))
    assert not torch.equal(wrong, y_e)


def test_actual_bits_match_the_estimate_within_one_percent(trained_pair):
    base, enh, _ = trained_pair
    x = smooth_images(1, 384, 512, seed=99)
    with torch.no_grad():
        out = base(x, reconstruct=False)
        e_out = enh(x, out.y_hat)
    strings, y_b = base.compress(x)
    e_strings, _ = enh.compress(x, y_b)
    for estimate, string in ((out.bits, strings[0]), (e_out.bits, e_strings[0])):
        actual = 8 * len(string)
        assert abs(actual / estimate.item() - 1) < 0.01, (actual, estimate.item())


def test_coding_requires_update_and_integer_latents():
    from ttc_core.entropy import ContextEntropyModel

    model = ContextEntropyModel(latent_channels=4)
    with pytest.raises(RuntimeError, match="call update"):
        model.compress(torch.zeros(1, 4, 2, 2))
    model.update()
    with pytest.raises(ValueError, match="integer-valued"):
        model.compress(torch.full((1, 4, 2, 2), 0.5))
    with pytest.raises(ValueError, match="coding order"):
        model.compress(torch.zeros(1, 4, 2, 2), order="zigzag")


def test_checkpoint_saved_after_update_loads_into_fresh_model(trained_pair):
    base, _, _ = trained_pair
    from .conftest import tiny_base

    fresh = tiny_base()
    fresh.load_state_dict(base.state_dict())
    assert fresh.entropy_model.is_updated
    x = smooth_images(1, 40, 40, seed=3)
    assert base.compress(x)[0] == fresh.compress(x)[0]
