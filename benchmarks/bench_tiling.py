"""Benchmark: tiled vs untiled ``.ttc`` streams (rate cost, decode time, peak memory).

Run on demand, on a quiet machine (not a test)::

    .venv/bin/python benchmarks/bench_tiling.py                      # the full benchmark
    .venv/bin/python benchmarks/bench_tiling.py --quick              # a one-minute check
    .venv/bin/python benchmarks/bench_tiling.py --checkpoint CKPT --images a.png b.jpg

Three measurements on one codec (``--checkpoint``: a trained ttc checkpoint; default: the
reference architecture, M = 192, random weights with each entropy model's last layer set to
predict μ = 0 and a per-channel σ as in ``bench_codec.py``; such a model ignores its context,
so the rate cost it shows is the per-tile string overhead only: pass a trained checkpoint to
also measure the context lost at tile borders):

1. **Rate cost**: bits of each image (``--images``, default smooth generated ones) coded
   untiled and with each ``--tiles`` size, same model, same latents; the cost in %.
2. **Decode time** of one ``--size`` image (default 4096×4096): entropy decoding of the
   latents alone (what tiling changes) and the whole ``decompress`` (with the synthesis
   transforms, which tiling does not change), untiled vs tiled with 1 and 2 workers.
3. **Peak memory** (max RSS) of encoding and of each decode, each run in a fresh process; for
   parallel decodes also the largest worker's.

Both layers are coded (``--layers all``) when the codec has an enhancement layer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def _peak_mib(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def _reference_codec(path: Path, enhancement: bool) -> None:
    """The reference architecture with calibrated entropy models, saved as a checkpoint."""
    sys.path.insert(0, str(HERE))
    from bench_codec import _calibrate

    from ttc_core.bottleneck import BaseBottleneck
    from ttc_core.checkpoint import make_codec_spec
    from ttc_core.codec import ScalableCodec
    from ttc_core.enhancement import EnhancementBottleneck

    torch.manual_seed(0)
    base = BaseBottleneck().eval()
    _calibrate(base.entropy_model)
    state = {f"base.{k}": v for k, v in base.state_dict().items()}
    enh_spec = None
    if enhancement:
        enh = EnhancementBottleneck().eval()
        _calibrate(enh.entropy_model)
        state.update({f"enh.{k}": v for k, v in enh.state_dict().items()})
        enh_spec = {"kwargs": {}, "prefix": "enh.", "output": "image"}
    spec = make_codec_spec({}, "base.", enhancement=enh_spec)
    ScalableCodec.from_spec(spec, state).save(path)


def _load(checkpoint: str):
    from ttc_core.codec import ScalableCodec

    codec = ScalableCodec.from_checkpoint(checkpoint)
    codec.update()
    return codec


def _image(h: int, w: int, seed: int) -> torch.Tensor:
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, max(2, h // 32), max(2, w // 32), generator=g)
    x = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    return (x + 0.03 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def _layers(codec) -> str:
    return "all" if codec.enhancement is not None else "base"


# -- one measurement per process (peak memory is per process) ---------------------------------
def _child(job: dict) -> dict:
    torch.set_num_threads(job["threads"])
    codec = _load(job["checkpoint"])
    t0 = time.perf_counter()
    if job["op"] == "encode":
        x = _image(job["height"], job["width"], seed=0)
        data = codec.compress(x, _layers(codec), tile=job["tile"], workers=job["workers"])
        Path(job["stream"]).write_bytes(data)
        out = {"bytes": len(data)}
    else:
        data = Path(job["stream"]).read_bytes()
        if job["op"] == "decode_latents":
            codec.decode_latents(data, workers=job["workers"])
        else:
            codec.decompress(data, workers=job["workers"])
        out = {}
    out.update(
        seconds=time.perf_counter() - t0,
        peak_mib=_peak_mib(),
        worker_peak_mib=_peak_mib(resource.RUSAGE_CHILDREN),
    )
    return out


def _run_child(job: dict) -> dict:
    cmd = [sys.executable, __file__, "--child", json.dumps(job)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode:
        raise RuntimeError(f"{job['op']} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


# -- the benchmark ----------------------------------------------------------------------------
def rate_cost(checkpoint: str, images: list[torch.Tensor], tiles: list[int]) -> None:
    codec = _load(checkpoint)
    print(f"\n== rate cost of tiling ({codec.model_name}, layers {_layers(codec)}) ==")
    totals = {0: 0, **{t: 0 for t in tiles}}
    for k, x in enumerate(images):
        untiled = len(codec.compress(x, _layers(codec)))
        totals[0] += untiled
        row = [f"image {k} {x.shape[-2]}×{x.shape[-1]}: untiled {8 * untiled} bits"]
        for t in tiles:
            n = len(codec.compress(x, _layers(codec), tile=t))
            totals[t] += n
            row.append(f"tile {t}: {100 * (n / untiled - 1):+.2f} %")
        print("  " + ", ".join(row))
    print(
        "  all images: "
        + ", ".join(f"tile {t}: {100 * (totals[t] / totals[0] - 1):+.3f} %" for t in tiles)
    )


def decode_times(args, checkpoint: str, tmp: Path) -> None:
    h, w = args.size
    print(f"\n== {h}×{w} image: encode, decode time and peak memory (fresh process each) ==")
    base = dict(checkpoint=checkpoint, height=h, width=w, threads=args.threads)
    streams = {}
    for tile in (0, args.tile):
        stream = str(tmp / f"tile{tile}.ttc")
        job = {**base, "op": "encode", "tile": tile or None, "workers": 1, "stream": stream}
        r = _run_child(job)
        streams[tile] = stream
        name = "untiled" if not tile else f"tile {tile}"
        print(
            f"  encode {name:<10} {r['seconds']:8.2f}s  {8 * r['bytes'] / (h * w):.4f} bpp  "
            f"peak {r['peak_mib']:8.0f} MiB"
        )
    for op in ("decode_latents", "decompress"):
        for tile, workers in ((0, 1), (args.tile, 1), (args.tile, 2)):
            job = {**base, "op": op, "tile": tile, "workers": workers, "stream": streams[tile]}
            r = _run_child(job)
            name = "untiled" if not tile else f"tile {tile}, {workers} worker(s)"
            extra = f", largest worker {r['worker_peak_mib']:.0f} MiB" if workers > 1 else ""
            print(
                f"  {op:<15} {name:<22} {r['seconds']:8.2f}s  peak {r['peak_mib']:8.0f} MiB{extra}"
            )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: check that it runs")
    p.add_argument("--checkpoint", help="a trained ttc checkpoint (default: reference model)")
    p.add_argument("--base-only", action="store_true", help="reference model without enhancement")
    p.add_argument("--images", nargs="*", help="images for the rate cost (default: generated)")
    p.add_argument("--tiles", type=int, nargs="+", default=[256, 512, 1024])
    p.add_argument("--size", default="4096x4096", help="HxW of the decode-time image")
    p.add_argument("--tile", type=int, default=512, help="tile of the decode-time runs")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0
    if args.quick:
        args.size, args.tile, args.tiles = "256x256", 128, [64, 128]
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    print(f"torch {torch.__version__}, {args.threads} thread(s) per process, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        checkpoint = args.checkpoint
        if checkpoint is None:
            checkpoint = str(tmp / "reference.pth")
            _reference_codec(Path(checkpoint), enhancement=not args.base_only)
        if args.images:
            from ttc_core.images import read_image

            images = [read_image(path).tensor for path in args.images]
        else:
            sizes = [(128, 192), (160, 128)] if args.quick else [(512, 768), (768, 1024)]
            images = [_image(h, w, seed=k + 1) for k, (h, w) in enumerate(sizes)]
        rate_cost(checkpoint, images, args.tiles)
        decode_times(args, checkpoint, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
