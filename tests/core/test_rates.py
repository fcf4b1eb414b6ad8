"""The rate vocabulary: one record builder for both adapters."""

import pytest

from ttc_core.rates import scalable_rates


def test_real_and_estimated_records_never_share_a_key():
    real = scalable_rates(80.0, 240.0, 64, estimated=False)
    est = scalable_rates(70.0, 230.0, 64, estimated=True)
    assert real == {
        "bits_base": 80.0,
        "bits_enhancement": 240.0,
        "bits": 320.0,
        "bpp_base": 1.25,
        "bpp_enhancement": 3.75,
        "bpp": 5.0,
    }
    assert all(k.endswith("_estimated") for k in est)
    assert not set(real) & set(est)
    assert est["bpp_estimated"] == pytest.approx(
        est["bpp_base_estimated"] + est["bpp_enhancement_estimated"]
    )
    with pytest.raises(ValueError, match="pixels"):
        scalable_rates(1.0, 1.0, 0, estimated=False)
