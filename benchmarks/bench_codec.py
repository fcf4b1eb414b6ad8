"""Benchmark: serial vs wavefront rANS coding of the base and enhancement latents.

Run on demand (not a test)::

    .venv/bin/python benchmarks/bench_codec.py [--sizes 512x768 1024x2048] [--threads 2]

In one process, on the same models and the same latents, prints encode/decode time of the
serial raster path and the wavefront path and their ratio, CompressAI's ``mbt2018``
decompress at the same latent size as the outside reference, actual vs estimated bits, and
peak memory (RSS). Weights are random (reference widths, M = 192), except the last layer of
each entropy model, which is set to predict μ = 0 and a per-channel σ (0.3 … 4); latents are
drawn from exactly that distribution, so "actual vs estimated" compares the coder with a
likelihood that is correct for the data. The compute per position is that of the real model.
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from ttc_core.entropy import ConditionalEntropyModel, ContextEntropyModel
from ttc_core.losses import bits_per_image


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _sigmas(m: int) -> torch.Tensor:
    return torch.logspace(-0.5, 0.6, m)  # 0.32 … 4.0


def _calibrate(model) -> None:
    """Make the model predict μ = 0 and σ = _sigmas(M), whatever the context."""
    last = model.entropy_parameters[-1]
    m = model.latent_channels
    with torch.no_grad():
        last.weight.zero_()
        last.bias[:m] = _sigmas(m)
        last.bias[m:] = 0


def _latent(m: int, h: int, w: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.round(torch.randn(1, m, h, w, generator=g) * _sigmas(m).view(1, m, 1, 1))


def bench_size(height: int, width: int, serial: bool, mbt: bool) -> None:
    h, w = -(-height // 16), -(-width // 16)
    print(f"\n== {height}×{width} image → latent 192×{h}×{w} ==")
    torch.manual_seed(0)
    base = ContextEntropyModel().eval()
    enh = ConditionalEntropyModel().eval()
    _calibrate(base)
    _calibrate(enh)
    base.update()
    enh.update()
    y_b, y_e = _latent(192, h, w, 1), _latent(192, h, w, 2)
    with torch.no_grad():
        est_b = bits_per_image(base(y_b).likelihoods).item()
        est_e = bits_per_image(enh(y_e, y_b).likelihoods).item()
    rows = []
    for name, model, y, side, est in (
        ("base", base, y_b, None, est_b),
        ("enhancement", enh, y_e, y_b, est_e),
    ):
        times = {}
        for order in ("wavefront", "raster") if serial else ("wavefront",):
            strings, t_enc = _timed(model.compress, y, side, order)
            y2, t_dec = _timed(model.decompress, strings, (h, w), side, order)
            assert torch.equal(y, y2), f"{name} {order} round trip is not exact"
            times[order] = (t_enc, t_dec, 8 * len(strings[0]))
        t_enc, t_dec, bits = times["wavefront"]
        print(
            f"{name:<12} wavefront  encode {t_enc:7.2f}s  decode {t_dec:7.2f}s   "
            f"actual {bits} bits vs estimated {est:.0f} ({100 * (bits / est - 1):+.2f} %)"
        )
        if "raster" in times:
            s_enc, s_dec, _ = times["raster"]
            print(
                f"{'':<12} serial     encode {s_enc:7.2f}s  decode {s_dec:7.2f}s   "
                f"wavefront speed-up: encode {s_enc / t_enc:5.1f}×  decode {s_dec / t_dec:5.1f}×"
            )
        rows.append((name, times))
    print(f"peak RSS so far: {_peak_mib():.0f} MiB")
    if mbt:
        from compressai.zoo import mbt2018

        ref = mbt2018(quality=3, pretrained=False).eval()  # M = 192 at quality 3
        ref.update()
        x = torch.rand(1, 3, 16 * h, 16 * w)
        with torch.no_grad():
            enc, t_enc = _timed(ref.compress, x)
            _, t_dec = _timed(ref.decompress, enc["strings"], enc["shape"])
        t_ours = rows[0][1]["wavefront"][1]
        print(
            f"CompressAI mbt2018 (serial context loop) encode {t_enc:.2f}s decode {t_dec:.2f}s; "
            f"ttc wavefront base decode is {t_dec / t_ours:.1f}× faster"
        )
        print(f"peak RSS so far: {_peak_mib():.0f} MiB")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["512x768", "1024x2048"])
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--no-serial", action="store_true", help="skip the (slow) serial path")
    p.add_argument("--no-mbt", action="store_true", help="skip the CompressAI reference")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for size in args.sizes:
        hh, ww = (int(v) for v in size.lower().split("x"))
        bench_size(hh, ww, not args.no_serial, not args.no_mbt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
