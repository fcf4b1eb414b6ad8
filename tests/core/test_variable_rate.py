"""Variable-rate layers (gain units, Cui et al., CVPR 2021): gains, training, exact coding,
.ttc version 3."""

from __future__ import annotations

import math

import pytest
import torch

from ttc_core import bitstream
from ttc_core.bitstream import BitstreamError, LayerStream, StreamHeader
from ttc_core.bottleneck import BaseBottleneck
from ttc_core.checkpoint import make_codec_spec
from ttc_core.cli import main as cli_main
from ttc_core.codec import ScalableCodec
from ttc_core.enhancement import EnhancementBottleneck
from ttc_core.losses import RateLoss
from ttc_core.scalable import scalable_actual_bits, scalable_forward
from ttc_core.variable_rate import GainUnits, VariableRate, canonical_rate

SMALL = dict(
    latent_channels=8,
    analysis_channels=(8, 8, 8),
    analysis_blocks=1,
    synthesis_channels=(8, 8, 8),
    recon_blocks=1,
)
ENH = dict(
    latent_channels=8,
    side_channels=8,
    analysis_channels=(8, 8, 8),
    analysis_blocks=1,
    synthesis_channels=(8, 8, 8),
    synthesis_blocks=1,
)
#: large enough gains that an untrained model codes non-zero symbols at every rate
GAINS = (8.0, 64.0)


# -- gains ------------------------------------------------------------------------------------
def test_integer_rate_positions_select_the_stored_gains():
    units = GainUnits(3, 4)
    with torch.no_grad():
        units.log_gain.normal_()
        units.log_inverse_gain.normal_()
    log_gain, log_inverse = units.log_gains()
    for r in range(3):
        gain, inverse = units.vectors(r)
        assert torch.allclose(gain.flatten(), log_gain[r].exp())
        assert torch.allclose(inverse.flatten(), log_inverse[r].exp())


def test_interpolation_keeps_gains_that_invert_each_other_inverse():
    units = GainUnits(4, 5)
    with torch.no_grad():  # arbitrary gains whose inverses are exact reciprocals at each point
        units.log_gain.copy_(torch.randn(4, 5) / units.param_scale)
        units.log_inverse_gain.copy_(-units.log_gain)
    for q in (0.0, 0.25, 1.5, 2.9, 3.0):
        gain, inverse = units.vectors(q)
        assert torch.allclose(gain * inverse, torch.ones_like(gain), atol=1e-6)
        # exponential interpolation: the log-gain is linear in q between neighbours
        low = min(int(math.floor(q)), 2)
        frac = q - low
        table = units.log_gains()[0]
        expected = (1 - frac) * table[low] + frac * table[low + 1]
        assert torch.allclose(gain.flatten().log(), expected, atol=1e-6)


def test_initial_gains_grow_monotonically_with_the_rate_position():
    units = GainUnits(3, 2, gain_range=(0.5, 2.0))
    qs = torch.linspace(0, 2, 17).tolist()
    gains = [float(units.vectors(q)[0][0, 0]) for q in qs]
    assert all(b > a for a, b in zip(gains, gains[1:], strict=False))
    assert gains[0] == pytest.approx(0.5) and gains[-1] == pytest.approx(2.0)


@pytest.mark.parametrize("rate", [-0.5, 2.01, float("nan"), "1", True])
def test_rate_positions_outside_the_model_are_refused(rate):
    with pytest.raises(ValueError, match="rate position"):
        GainUnits(3, 2).vectors(rate)


def test_exact_vectors_are_float64_on_the_cpu_from_the_float32_position():
    units = GainUnits(3, 2)
    gain, _ = units.vectors(1.1, exact=True)
    assert gain.dtype == torch.float64 and gain.device.type == "cpu"
    same, _ = units.vectors(canonical_rate(1.1), exact=True)
    assert torch.equal(gain, same)


@pytest.mark.parametrize(
    "alphas, match",
    [
        ([1.0], "at least two"),
        ([1.0, 2.0], "strictly decreasing"),
        ([1.0, -1.0], ">= 0"),
        ([2.0, 2.0], "strictly decreasing"),
        ("abc", "list of numbers"),
    ],
)
def test_bad_rate_weights_are_refused(alphas, match):
    with pytest.raises(ValueError, match=match):
        VariableRate(alphas)


def test_one_rate_index_per_batch_is_drawn_reproducibly():
    schedule = VariableRate([4.0, 2.0, 1.0])
    draws = [schedule.sample(torch.Generator().manual_seed(s)) for s in range(40)]
    assert set(draws) == {0, 1, 2}
    again = [schedule.sample(torch.Generator().manual_seed(s)) for s in range(40)]
    assert draws == again
    assert [schedule.alpha(i) for i in range(3)] == [4.0, 2.0, 1.0]


# -- layers -----------------------------------------------------------------------------------
def test_a_per_alpha_layer_is_unchanged_and_refuses_a_rate():
    torch.manual_seed(0)
    base = BaseBottleneck(**SMALL)
    assert base.num_rates == 0 and not any("gain" in k for k in base.state_dict())
    with pytest.raises(ValueError, match="per-α"):
        base(torch.rand(1, 3, 32, 32), rate=1)
    enh = EnhancementBottleneck(**ENH)
    assert not any("gain" in k for k in enh.state_dict())
    with pytest.raises(ValueError, match="side_rate"):
        enh(torch.rand(1, 3, 32, 32), torch.zeros(1, 8, 2, 2), side_rate=1.0)


def test_a_variable_rate_layer_needs_its_rate():
    base = BaseBottleneck(**SMALL, num_rates=3)
    with pytest.raises(ValueError, match="variable-rate with 3 rate points"):
        base(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="num_rates"):
        BaseBottleneck(**SMALL, num_rates=1)


def test_gradients_reach_the_gains_of_the_drawn_rate_only():
    torch.manual_seed(0)
    base = BaseBottleneck(**SMALL, num_rates=3, gain_range=GAINS)
    x = torch.rand(2, 3, 32, 48)
    out = base(x, rate=1)
    loss = RateLoss(0.5)(out.bpp, alpha=2.0)["loss_rate"] + out.reconstruction.pow(2).mean()
    loss.backward()
    g, gi = base.gain_units.log_gain.grad, base.gain_units.log_inverse_gain.grad
    assert g[1].abs().sum() > 0 and gi[1].abs().sum() > 0  # rate and synthesis both reach them
    assert g[0].abs().sum() == 0 and g[2].abs().sum() == 0
    assert base.analysis[0].weight.grad.abs().sum() > 0


def test_the_batch_alpha_weighs_the_rate_term():
    bpp = torch.tensor([1.0, 3.0])
    loss = RateLoss(0.5)
    assert float(loss(bpp)["loss_rate"]) == pytest.approx(1.0)
    assert float(loss(bpp, alpha=4.0)["loss_rate"]) == pytest.approx(8.0)


def test_higher_rate_positions_cost_more_bits_at_initialisation():
    torch.manual_seed(0)
    base = BaseBottleneck(**SMALL, num_rates=3, gain_range=GAINS).eval()
    x = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        bits = [float(base(x, rate=q).bits) for q in (0, 0.5, 1, 1.5, 2)]
    assert all(b > a for a, b in zip(bits, bits[1:], strict=False)), bits


# -- exact coding through the container ----------------------------------------------------------
def _codec(base_rates: int = 3, enh_rates: int = 2) -> ScalableCodec:
    torch.manual_seed(0)
    base_kwargs = dict(SMALL, num_rates=base_rates, gain_range=list(GAINS))
    enh_kwargs = dict(ENH, num_rates=enh_rates, side_rates=base_rates, gain_range=list(GAINS))
    if not base_rates:
        base_kwargs = dict(SMALL)
        enh_kwargs.pop("side_rates")
    if not enh_rates:
        enh_kwargs.pop("num_rates")
    spec = make_codec_spec(
        base_kwargs,
        "base.",
        base_alphas=[4.0, 2.0, 1.0][:base_rates] if base_rates else None,
        enhancement=dict(
            kwargs=enh_kwargs, prefix="enhancement.", alphas=[8.0, 1.0] if enh_rates else None
        ),
    )
    base = BaseBottleneck(**base_kwargs)
    enh = EnhancementBottleneck(**enh_kwargs)
    with torch.no_grad():  # side gains off their initial ones, so that the base rate matters
        if enh.side_gains is not None:
            enh.side_gains.log_gain.normal_(0, 0.5)
    codec = ScalableCodec(spec, base.eval(), None, enh.eval(), None)
    codec.update()
    return codec


@pytest.fixture(scope="module")
def codec():
    return _codec()


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, 40, 56, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("base_rate", [0.0, 1.0, 2.0, 1.25])
def test_every_rate_decodes_exactly_and_is_recorded(codec, image, base_rate):
    enc = codec.encode_stream(image, layers="all", rate=base_rate, enhancement_rate=1.0)
    header = bitstream.unpack(enc.data)
    assert header.version == 3
    assert header.rates == {"base": canonical_rate(base_rate), "enhancement": 1.0}
    y_b = codec.base.encode(codec.base_input(image), rate=base_rate)
    y_e = codec.enhancement.encode(codec.enhancement_input(image), rate=1.0)
    out = codec.decompress(enc.data)  # checks both latents' CRCs
    assert torch.equal(out.y_base, y_b) and torch.equal(out.y_enhancement, y_e)
    assert y_b.abs().sum() > 0 and y_e.abs().sum() > 0
    # decoded with the gains of the recorded rate
    _, recon = codec.base.decode(y_b, tuple(image.shape[-2:]), rate=base_rate)
    assert torch.allclose(out.reconstruction, recon.clamp(0, 1))


def test_bits_grow_with_the_rate_position_and_match_the_layers_actual_bits(codec, image):
    sizes = []
    for q in (0, 1, 2):
        enc = codec.encode_stream(image, layers="base", rate=q)
        sizes.append(enc.actual_bits["base"])
        bits, _ = codec.base.actual_bits(codec.base_input(image), rate=canonical_rate(q))
        assert bits[0] == enc.actual_bits["base"]
    assert sizes[0] < sizes[1] < sizes[2]


def test_the_enhancement_is_coded_given_the_base_rate(codec, image):
    # the same enhancement rate on two base rates: different side information, both exact
    streams = [
        codec.encode_stream(image, layers="all", rate=q, enhancement_rate=0.0) for q in (0, 2)
    ]
    for enc in streams:
        out = codec.decompress(enc.data)
        assert out.y_enhancement is not None
    y_b = [codec.base.encode(codec.base_input(image), rate=q) for q in (0, 2)]
    sides = [codec._coder_side(y, q) for y, q in zip(y_b, (0.0, 2.0), strict=True)]
    assert sides[0].dtype == torch.float64 and not torch.equal(sides[0], sides[1])
    b, e = scalable_actual_bits(
        codec.base, codec.enhancement, codec.base_input(image), rate=0.0, base_rate=2.0
    )
    assert e[0] == streams[1].actual_bits["enhancement"]


def test_tiled_variable_rate_streams_decode_exactly(codec, image):
    enc = codec.encode_stream(image, layers="all", rate=1.5, enhancement_rate=0.5, tile=16)
    out = codec.decompress(enc.data)
    assert torch.equal(out.y_base, codec.base.encode(codec.base_input(image), rate=1.5))


def test_the_training_forward_conditions_the_enhancement_on_the_base_rate(codec, image):
    with torch.no_grad():
        a = scalable_forward(codec.base, codec.enhancement, image, rate=1, base_rate=0)
        b = scalable_forward(codec.base, codec.enhancement, image, rate=1, base_rate=2)
    assert a.base_rate == 0 and b.base_rate == 2
    assert not torch.equal(a.enhancement.likelihoods, b.enhancement.likelihoods)


def test_the_codec_says_which_rate_to_choose(codec, image):
    with pytest.raises(ValueError, match=r"variable-rate with 3 rate points.*--rate"):
        codec.encode_stream(image)
    with pytest.raises(ValueError, match="--enhancement-rate"):
        codec.encode_stream(image, layers="all", rate=1)
    with pytest.raises(ValueError, match=r"outside \[0, 2\]"):
        codec.encode_stream(image, rate=3)


def test_a_per_alpha_codec_refuses_a_rate_and_writes_no_rate(image):
    codec = _codec(base_rates=0, enh_rates=0)
    with pytest.raises(ValueError, match="per-α"):
        codec.encode_stream(image, rate=1)
    data = codec.compress(image, layers="all")
    header = bitstream.unpack(data)
    assert header.version == 1 and header.rates == {}
    assert codec.decompress(data).y_enhancement is not None


def test_a_variable_rate_base_under_a_per_alpha_enhancement(image):
    codec = _codec(base_rates=3, enh_rates=0)
    enc = codec.encode_stream(image, layers="all", rate=2)
    assert enc.header.rates == {"base": 2.0}
    codec.decompress(enc.data)


def test_a_stream_without_its_rate_is_refused(codec, image):
    data = codec.compress(image, rate=1)
    header = bitstream.unpack(data)
    header.rates = {}
    for layer in header.layers.values():  # back to one string per layer (version 1)
        layer.string, layer.tiles = layer.strings[0], None
    stripped = bitstream.pack(header)
    with pytest.raises(BitstreamError, match="records no rate position"):
        codec.decompress(stripped)
    header.rates = {"base": 7.0}  # version 3 again: the tiled layout of version 2
    for layer in header.layers.values():
        layer.tiles, layer.string = [layer.string], b""
    with pytest.raises(BitstreamError, match="outside"):
        codec.decompress(bitstream.pack(header))


# -- the container ------------------------------------------------------------------------------
def _header(**kw) -> StreamHeader:
    h = StreamHeader(16, 16, "m", b"\0" * 16, **kw)
    h.layers["base"] = LayerStream(8, 1, 1, 0, b"ab")
    return h


def test_rates_round_trip_through_version_3():
    h = _header()
    h.layers["enhancement"] = LayerStream(8, 1, 1, 0, b"cd")
    h.rates = {"base": 1.5, "enhancement": 0.0}
    back = bitstream.unpack(bitstream.pack(h))
    assert back.version == 3 and back.rates == {"base": 1.5, "enhancement": 0.0}
    assert back.layers["enhancement"].strings == [b"cd"]
    h.rates = {"enhancement": 2.0}
    assert bitstream.unpack(bitstream.pack(h)).rates == {"enhancement": 2.0}


def test_streams_without_rates_keep_their_versions():
    assert bitstream.unpack(bitstream.pack(_header())).version == 1
    assert bitstream.unpack(bitstream.pack(_header(notes="x"))).version == 2


def test_bad_rate_fields_are_refused():
    h = _header()
    h.rates = {"enhancement": 1.0}
    with pytest.raises(ValueError, match="not in the stream"):
        bitstream.pack(h)
    h.rates = {"base": float("nan")}
    with pytest.raises(ValueError, match="finite"):
        bitstream.pack(h)
    h.rates = {"base": 1.0}
    data = bytearray(bitstream.pack(h))
    # the rate flags follow the notes length (version 2 fields): set an unknown flag bit
    pos = data.index(b"m" + b"\0" * 16) + 17 + 12
    data[pos] = 0b100
    import struct
    import zlib

    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(BitstreamError, match="rate flags"):
        bitstream.unpack(bytes(data))


# -- the command line ---------------------------------------------------------------------------
def test_ttc_compress_rate_chooses_the_rate_and_info_shows_it(codec, image, tmp_path, capsys):
    from PIL import Image

    ckpt = tmp_path / "vr.pth"
    codec.save(ckpt)
    png = tmp_path / "x.png"
    pixels = (image[0].permute(1, 2, 0) * 255).round().byte().numpy()
    Image.fromarray(pixels).save(png)
    for q in ("0", "2", "1.5"):
        out = tmp_path / f"x{q}.ttc"
        assert cli_main(["compress", str(png), "-c", str(ckpt), "-o", str(out), "--rate", q]) == 0
        assert bitstream.unpack(out.read_bytes()).rates == {"base": float(q)}
        dec = tmp_path / f"x{q}.png"
        assert cli_main(["decompress", str(out), "-c", str(ckpt), "-o", str(dec)]) == 0
    capsys.readouterr()
    assert cli_main(["info", str(tmp_path / "x2.ttc")]) == 0
    assert "base layer at rate position 2" in capsys.readouterr().out
    assert (tmp_path / "x0.ttc").stat().st_size < (tmp_path / "x2.ttc").stat().st_size
    # what is wrong and what to do, exit code 2
    assert cli_main(["compress", str(png), "-c", str(ckpt), "-o", str(tmp_path / "n.ttc")]) == 2
    assert "--rate" in capsys.readouterr().err
    bad = ["compress", str(png), "-c", str(ckpt), "-o", str(tmp_path / "n.ttc"), "--rate", "9"]
    assert cli_main(bad) == 2
    assert "outside [0, 2]" in capsys.readouterr().err
    bad[-1] = "-1"
    assert cli_main(bad) == 2
    assert "rate position" in capsys.readouterr().err
    both = ["compress", str(png), "-c", str(ckpt), "-o", str(tmp_path / "a.ttc"), "--rate", "1"]
    assert cli_main([*both, "--enhancement-rate", "1"]) == 2
    assert "--layers all" in capsys.readouterr().err
    assert cli_main([*both, "--layers", "all", "--enhancement-rate", "0.5"]) == 0


# -- rd sweep --variable-rate: the plan -------------------------------------------------------
def test_a_variable_rate_sweep_plans_one_training_and_an_evaluation_per_rate(tmp_path):
    from pathlib import Path

    from ttc_core.rd.sweep import SweepError, _eval_command, plan_variable_rate

    repo = Path(__file__).resolve().parents[2]
    cfg = tmp_path / "c.py"
    cfg.write_text("")
    plan = plan_variable_rate("mmseg", cfg, [1.0, 0.1], tmp_path / "out", tools_dir=repo / "tools")
    assert plan.train.run_dir == tmp_path / "out" / "variable_rate"
    assert plan.train.command[-1] == "model.codec_loss.alphas=[1.0, 0.1]"
    assert plan.rate_dirs == [tmp_path / "out" / "rate_0", tmp_path / "out" / "rate_1"]
    cmd = _eval_command(plan, 1, tmp_path / "ckpt.pth")
    assert cmd[1].endswith("test.py") and "model.test_cfg.rate=1.0" in cmd
    assert "model.test_cfg.actual_bits=True" in cmd
    d2 = plan_variable_rate(
        "detectron2", cfg, [1.0, 0.1], tmp_path / "d2", tools_dir=repo / "tools"
    )
    assert d2.train.command[-2:] == ["MODEL.TTC.VARIABLE_RATE.ALPHAS", "[1.0, 0.1]"]
    cmd = _eval_command(d2, 0, tmp_path / "ckpt.pth")
    assert "--eval-only" in cmd and cmd[cmd.index("MODEL.TTC.VARIABLE_RATE.TEST_RATE") + 1] == "0.0"
    with pytest.raises(SweepError, match="strictly decreasing"):
        plan_variable_rate("mmseg", cfg, [0.1, 1.0], tmp_path / "x", tools_dir=repo / "tools")


def test_rd_sweep_variable_rate_refuses_slurm(tmp_path, capsys):
    cfg = tmp_path / "c.py"
    cfg.write_text("")
    argv = ["rd", "sweep", "--framework", "mmseg", "--config", str(cfg), "--alphas", "1", "0.1"]
    argv += ["--out", str(tmp_path / "o"), "--variable-rate", "--slurm"]
    assert cli_main(argv) == 2
    assert "without --slurm" in capsys.readouterr().err
