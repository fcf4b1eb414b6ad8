r"""``ttc compress`` / ``ttc decompress`` / ``ttc info``: real bitstreams from the command line.

::

    image ─ input policy (ttc_core.images) ─ [resize] ─ size check ─ ScalableCodec ─▶ .ttc
    DIR/**/*.png … ──── the same, per file, resumable, progress bar ──▶ OUTDIR/**/*.ttc + summary
    .ttc ─ ScalableCodec ─ [resize to the file's size] ─▶ image / .pt / task output
    DIR/**/*.ttc ───── the same, per file, resumable ──▶ OUTDIR/**/*.png + summary

Exit codes: 0 success, 2 bad input (usage, an unreadable / refused / malformed file; in a
folder: any file refused, the others are still coded), 1 a failure of ttc's own. Outputs are
written to a temporary name and renamed, so an interrupted run leaves no partial file and a
rerun skips every output already written and valid.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["compress_main", "decompress_main", "info_main"]

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _read_image(path: str):
    """The image as a ``(1, 3, H, W)`` tensor under the default input policy."""
    from ttc_core.images import read_image

    return read_image(path).tensor


def _resize_shortest_edge(x, short: int, max_size: int):
    from ttc_core.images import resize_shortest_edge

    return resize_shortest_edge(x, short, max_size)


def _parse_resize(text: str) -> tuple[int, int]:
    try:
        short, _, max_size = text.partition(",")
        value = (int(short), int(max_size) if max_size else 10**9)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected SHORT[,MAX], e.g. 800,1333, got {text!r}"
        ) from None
    if min(value) <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _rate(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a rate position (a number >= 0, e.g. 2 or 1.5), got {text!r}"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"a rate position is a number >= 0, got {text!r}")
    return value


def _decoder_names() -> str:
    from ttc_core.task_decoders import available

    return ", ".join(sorted(available())) or "none installed"


def _write_atomic(path: Path, write) -> None:
    """``write(tmp_path)``, then rename: a reader never sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


#: the last codec loaded, by (path, mtime, size): in-process callers (tests, notebooks) that
#: run several commands with one checkpoint load it once; a changed file is loaded again
_LOADED: dict[tuple, object] = {}


def _load_codec(path: str):
    from ttc_core.checkpoint import CheckpointError
    from ttc_core.codec import ScalableCodec

    try:
        st = os.stat(path)
    except OSError:
        raise CheckpointError(f"checkpoint not found: {path}") from None
    key = (os.path.realpath(path), st.st_mtime_ns, st.st_size)
    if key in _LOADED:
        return _LOADED[key]
    t0 = time.perf_counter()
    codec = ScalableCodec.from_checkpoint(path)
    codec.update(force=True)
    _log(f"loaded {codec.model_name} from {path} in {time.perf_counter() - t0:.1f}s")
    _LOADED.clear()
    _LOADED[key] = codec
    return codec


def _bad_input_types() -> tuple[type[BaseException], ...]:
    from ttc_core.bitstream import BitstreamError
    from ttc_core.checkpoint import CheckpointError
    from ttc_core.images import ImageError

    return (BitstreamError, CheckpointError, ImageError, ValueError, FileNotFoundError)


def _run(func, argv: Sequence[str] | None) -> int:
    try:
        return func(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    except _bad_input_types() as exc:
        _log(f"error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # failure of ours, not of the input
        _log(f"failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILURE


# -- folders ---------------------------------------------------------------------------------
@dataclass
class _Summary:
    """What a folder run did, printed at the end and written by ``--json``."""

    command: str
    coded: int = 0
    skipped: int = 0
    refused: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    bpp: list[float] = field(default_factory=list)  # every output, coded now or skipped
    bits_actual: int = 0  # rANS payload bits of the files coded now
    bits_estimated: float = 0.0  # their likelihood estimate
    seconds: float = 0.0

    def as_dict(self) -> dict:
        n = len(self.bpp)
        out = {
            "command": self.command,
            "files": self.coded + self.skipped + len(self.refused) + len(self.failed),
            "coded": self.coded,
            "skipped": self.skipped,
            "refused": self.refused,
            "failed": self.failed,
            "bpp": None
            if not n
            else {"mean": sum(self.bpp) / n, "min": min(self.bpp), "max": max(self.bpp)},
            "seconds": round(self.seconds, 3),
        }
        if self.command == "compress":
            out["bits_actual"] = self.bits_actual
            out["bits_estimated"] = round(self.bits_estimated, 1)
            out["actual_over_estimated"] = (
                None if not self.bits_estimated else self.bits_actual / self.bits_estimated
            )
        return out

    def print(self) -> None:
        d = self.as_dict()
        lines = [
            f"{d['files']} files: {d['coded']} {self.command}ed, {d['skipped']} already done "
            f"(skipped), {len(self.refused)} refused, {len(self.failed)} failed, "
            f"in {d['seconds']:.1f}s"
        ]
        if d["bpp"]:
            b = d["bpp"]
            lines.append(f"bpp: mean {b['mean']:.4f}, min {b['min']:.4f}, max {b['max']:.4f}")
        if self.command == "compress" and self.coded:
            ratio = d["actual_over_estimated"]
            lines.append(
                f"bits of the files coded now: actual {self.bits_actual}, estimated "
                f"{self.bits_estimated:.0f}"
                + ("" if ratio is None else f" (actual / estimated = {ratio:.4f})")
            )
        for item in self.refused + self.failed:
            lines.append(f"  {item['file']}: {item['error']}")
        _log("\n".join(lines))

    def exit_code(self) -> int:
        if self.failed:
            return EXIT_FAILURE
        return EXIT_BAD_INPUT if self.refused else 0


def _pairs(root: Path, out: Path, suffixes: Sequence[str], new_suffix: str):
    """(input, output) pairs for every file under ``root`` with one of ``suffixes``."""
    pairs = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in suffixes and not path.name.startswith("."):
            pairs.append((path, out / path.relative_to(root).with_suffix(new_suffix)))
    targets: dict[Path, Path] = {}
    for src, dst in pairs:
        if dst in targets:
            raise ValueError(
                f"{targets[dst]} and {src} would both be written to {dst}: rename one of them"
            )
        targets[dst] = src
    if not pairs:
        raise ValueError(f"{root} holds no files ending in {', '.join(suffixes)}")
    if out.resolve() == root.resolve():
        raise ValueError("the output folder must differ from the input folder")
    return pairs


def _for_each(summary: _Summary, pairs, work, progress: bool) -> None:
    """Run ``work(src, dst) -> bpp | None`` (None: skipped) over pairs with a progress bar."""
    from tqdm import tqdm

    bad = _bad_input_types()
    t0 = time.perf_counter()
    bar = tqdm(pairs, desc=f"ttc {summary.command}", unit="file", file=sys.stderr)
    if not progress:
        bar.disable = True
    for src, dst in bar:
        try:
            bpp, done = work(src, dst)
        except bad as exc:
            summary.refused.append({"file": str(src), "error": str(exc)})
            bar.write(f"refused {src}: {exc}", file=sys.stderr)
            continue
        except Exception as exc:  # a failure of ours: report it, go on with the others
            summary.failed.append({"file": str(src), "error": f"{type(exc).__name__}: {exc}"})
            bar.write(f"failed {src}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        summary.bpp.append(bpp)
        if done:
            summary.coded += 1
        else:
            summary.skipped += 1
        bar.set_postfix(bpp=f"{bpp:.3f}")
    bar.close()
    summary.seconds = time.perf_counter() - t0


def _finish(summary: _Summary, json_path: str | None) -> int:
    summary.print()
    if json_path:
        text = json.dumps(summary.as_dict(), indent=2)
        if json_path == "-":
            print(text)
        else:
            Path(json_path).write_text(text + "\n")
    return summary.exit_code()


# -- compress --------------------------------------------------------------------------------
def _compress_parser() -> argparse.ArgumentParser:
    from ttc_core.images import ALPHA_CHOICES, DEFAULT_MAX_PIXELS

    p = argparse.ArgumentParser(
        prog="ttc compress",
        description="Encode an image, or every image under a folder, into .ttc files. Input "
        "policy: EXIF orientation applied, greyscale replicated to RGB, 16-bit greyscale scaled "
        "to [0, 1], palette / CMYK converted, alpha composited on --alpha (or refused); what was "
        "done is logged and recorded in the stream (`ttc info`). Sizes from 1×1 to 65536×65536 "
        "code; anything else is refused before coding.",
    )
    p.add_argument("input", help="input image (PNG, JPEG, ...), or a folder of them")
    p.add_argument("-c", "--checkpoint", required=True, help="checkpoint with a ttc_codec spec")
    p.add_argument(
        "-o", "--output", required=True, help="output .ttc file (a folder for a folder input)"
    )
    p.add_argument(
        "--layers",
        choices=("base", "all"),
        default="base",
        help="base layer only, or base + enhancement (default: base)",
    )
    p.add_argument(
        "--order",
        choices=("wavefront", "raster"),
        default="wavefront",
        help="coding order: fast wavefront (default) or serial raster",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--resize",
        type=_parse_resize,
        metavar="SHORT[,MAX]",
        help="resize the shortest edge to SHORT (longest at most MAX) before coding; default: "
        "the test-time resize recorded in the checkpoint, if any",
    )
    size.add_argument(
        "--no-resize",
        action="store_true",
        help="code the image at its own size even if the checkpoint records a resize",
    )
    p.add_argument(
        "--alpha",
        choices=ALPHA_CHOICES,
        default="white",
        help="transparent pixels: composite on white (default) or black, or refuse the image",
    )
    p.add_argument(
        "--max-pixels",
        type=_positive,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images before decoding them (default {DEFAULT_MAX_PIXELS}, "
        "Pillow's decompression-bomb limit)",
    )
    p.add_argument(
        "--tile",
        type=_positive,
        metavar="N",
        help="code each latent as independent N×N-pixel tiles (N a multiple of the model's stride, "
        "16 in the paper; a version-2 "
        "stream): coding memory bounded by the tile, tiles coded in parallel by --workers",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes coding the tiles of a tiled stream (default 1)",
    )
    p.add_argument(
        "--rate",
        type=_rate,
        metavar="Q",
        help="rate position of a variable-rate base layer, in [0, N-1] for its N rate points "
        "(0 = lowest rate; a fraction interpolates its neighbours); recorded in the stream. "
        "Required for a variable-rate checkpoint, refused for a per-α one",
    )
    p.add_argument(
        "--enhancement-rate",
        type=_rate,
        metavar="Q",
        help="rate position of a variable-rate enhancement layer (with --layers all), as --rate",
    )
    p.add_argument("--json", metavar="PATH", help="write a JSON summary ('-' for stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar for folders")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="re-code files whose output already exists and is valid (default: skip them)",
    )
    return p


def _read_input(args, path):
    from ttc_core.images import read_image

    return read_image(path, alpha=args.alpha, max_pixels=args.max_pixels)


def _prepare(args, codec, image) -> tuple:
    """The image tensor to code, its notes and its size in the file (resize + size check)."""
    from ttc_core.images import resize_shortest_edge

    x, notes = image.tensor, list(image.notes)
    source = image.size
    resize = None if args.no_resize else (args.resize or codec.resize_shortest_edge)
    if resize is not None:
        x = resize_shortest_edge(x, *resize)
        if tuple(x.shape[-2:]) != source:
            notes.append(
                f"resized from {source[0]}×{source[1]} to {x.shape[-2]}×{x.shape[-1]} "
                f"(shortest edge {resize[0]}, max {resize[1]})"
            )
    codec.check_size(int(x.shape[-2]), int(x.shape[-1]))  # before any coding
    return x, notes, source


def _encode(args, codec, x, notes, source):
    return codec.encode_stream(
        x,
        layers=args.layers,
        order=args.order,
        tile=args.tile,
        workers=args.workers,
        notes="; ".join(notes),
        source_size=source,
        rate=args.rate,
        enhancement_rate=args.enhancement_rate,
    )


def _expected_rates(args) -> dict[str, float]:
    from ttc_core.variable_rate import canonical_rate

    rates = {"base": args.rate, "enhancement": args.enhancement_rate}
    return {k: canonical_rate(v) for k, v in rates.items() if v is not None}


def _valid_stream(path: Path, codec, args) -> tuple[int, int] | None:
    """(bits, pixels) of an existing output that is valid for these settings, else None."""
    from ttc_core.bitstream import BitstreamError, unpack

    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
        h = unpack(data)
    except (OSError, BitstreamError):
        return None
    layers = {"base", "enhancement"} if args.layers == "all" else {"base"}
    if (
        h.model_digest != codec.model_digest()
        or set(h.layers) != layers
        or h.order != args.order
        or h.tile != (args.tile or 0) // codec.stride
        or h.rates != _expected_rates(args)
    ):
        return None
    return 8 * len(data), h.num_pixels


def _compress(argv: Sequence[str] | None) -> int:
    p = _compress_parser()
    args = p.parse_args(argv)
    if args.enhancement_rate is not None and args.layers != "all":
        raise ValueError("--enhancement-rate codes the enhancement layer: add --layers all")
    if os.path.isdir(args.input):
        return _compress_folder(args)
    image = _read_input(args, args.input)  # refuse a bad file before loading the model
    codec = _load_codec(args.checkpoint)
    codec.latent_tile(args.tile)  # a tile is a multiple of the model's stride: refuse it now
    x, notes, source = _prepare(args, codec, image)
    for note in notes:
        _log(f"input: {note}")
    t0 = time.perf_counter()
    encoded = _encode(args, codec, x, notes, source)
    elapsed = time.perf_counter() - t0
    _write_atomic(Path(args.output), lambda tmp: tmp.write_bytes(encoded.data))
    h, w = x.shape[-2:]
    data = encoded.data
    rates = "".join(f", {k} rate {q:g}" for k, q in encoded.header.rates.items())
    _log(
        f"wrote {args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
        f"({h}×{w}, {args.layers}{f', tiles of {args.tile}' if args.tile else ''}{rates}) "
        f"in {elapsed:.2f}s"
    )
    return 0


def _compress_folder(args) -> int:
    from ttc_core.images import IMAGE_EXTENSIONS

    pairs = _pairs(Path(args.input), Path(args.output), IMAGE_EXTENSIONS, ".ttc")
    codec = _load_codec(args.checkpoint)
    codec.latent_tile(args.tile)  # before the first image
    summary = _Summary("compress")

    def work(src: Path, dst: Path):
        if not args.overwrite:
            done = _valid_stream(dst, codec, args)
            if done is not None:
                bits, pixels = done
                return bits / pixels, False
        x, notes, source = _prepare(args, codec, _read_input(args, src))
        encoded = _encode(args, codec, x, notes, source)
        _write_atomic(dst, lambda tmp: tmp.write_bytes(encoded.data))
        summary.bits_actual += sum(encoded.actual_bits.values())
        summary.bits_estimated += sum(encoded.estimated_bits.values())
        return 8 * len(encoded.data) / encoded.header.num_pixels, True

    _for_each(summary, pairs, work, not args.no_progress)
    return _finish(summary, args.json)


# -- decompress ------------------------------------------------------------------------------
def _decompress_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ttc decompress",
        description="Decode a .ttc file, or every .ttc file under a folder. To an image "
        "(.png/.jpg): the enhancement output when the file has an enhancement layer, else the "
        "direct reconstruction g_a(ŷ_b), at the size of the file that was compressed (before "
        "any resize or learned downsample; --coded-size keeps the coded size). To a tensor "
        "file (.pt): every decoded tensor (latents, pseudo-image, reconstruction, "
        "enhancement). A folder decodes to PNG images.",
    )
    p.add_argument("stream", help=".ttc file, or a folder of them")
    p.add_argument("-c", "--checkpoint", required=True, help="the checkpoint that encoded it")
    p.add_argument(
        "-o", "--output", required=True, help="output image or .pt tensor file (or folder)"
    )
    p.add_argument(
        "--layers",
        choices=("base", "all"),
        default="all",
        help="decode only the base layer, or all layers present (default)",
    )
    p.add_argument(
        "--task-output",
        action="store_true",
        help="write the assisted task's output (e.g. a segmentation map) computed by the "
        "task decoder the checkpoint names, from the decoded enhancement layer; registered "
        f"decoders: {_decoder_names()}",
    )
    p.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="decode although the stream's model digest differs (a stream of ttc 0.1 written on "
        "another machine hashed coder tables computed there); only with the checkpoint that "
        "wrote it: each latent's CRC is still checked",
    )
    p.add_argument(
        "--coded-size",
        action="store_true",
        help="write an image at the size the layer coded it (e.g. half the input when a "
        "learned 2x downsample precedes the analysis transform, or the resized size); "
        "default: the compressed file's size, recorded in the stream, by bilinear resizing",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes decoding the tiles of a tiled stream (default 1)",
    )
    p.add_argument("--json", metavar="PATH", help="write a JSON summary ('-' for stdout)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar for folders")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="re-decode files whose output image already exists and is valid",
    )
    return p


def _output_image(codec, out, coded_size: bool):
    """The image a decoded stream is written as, at the file's size unless ``coded_size``."""
    image = out.reconstruction
    if out.enhancement_output is not None:
        if codec.spec["enhancement"].get("output") != "image":
            raise ValueError(
                "this enhancement layer outputs a pseudo-image for a task network, not an "
                "image: write a .pt tensor file (or use --layers base or --task-output)"
            )
        image = out.enhancement_output
    size = out.header.output_size
    if not coded_size and tuple(image.shape[-2:]) != size:
        import torch.nn.functional as F

        image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
        image = image.clamp(0, 1)
    return image


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder, not a .ttc file") from None


def _decompress(argv: Sequence[str] | None) -> int:
    args = _decompress_parser().parse_args(argv)
    if os.path.isdir(args.stream):
        return _decompress_folder(args)
    data = _read(args.stream)
    codec = _load_codec(args.checkpoint)
    t0 = time.perf_counter()
    out = codec.decompress(
        data, layers=args.layers, workers=args.workers, trust_checkpoint=args.trust_checkpoint
    )
    _log(f"decoded {args.stream} in {time.perf_counter() - t0:.2f}s")
    output = Path(args.output)
    if args.task_output:
        _write_task_output(codec, args.checkpoint, out, args.output)
    elif args.output.endswith(".pt"):
        import torch

        tensors = {
            "y_base": out.y_base,
            "pseudo_image": out.pseudo_image,
            "reconstruction": out.reconstruction,
        }
        if out.enhancement_output is not None:
            tensors.update(y_enhancement=out.y_enhancement, enhancement=out.enhancement_output)
        _write_atomic(output, lambda tmp: torch.save(tensors, tmp))
    else:
        from ttc_core.images import write_image

        image = _output_image(codec, out, args.coded_size)
        if tuple(image.shape[-2:]) != tuple(out.reconstruction.shape[-2:]):
            _log(
                f"resized the decoded {out.reconstruction.shape[-2]}×"
                f"{out.reconstruction.shape[-1]} image to the compressed file's "
                f"{image.shape[-2]}×{image.shape[-1]} (--coded-size keeps the coded size)"
            )
        _write_atomic(output, lambda tmp: write_image(image, tmp))
    _log(f"wrote {args.output}")
    return 0


def _valid_image(path: Path, size: tuple[int, int] | None) -> bool:
    from PIL import Image

    if not path.is_file():
        return False
    try:
        with Image.open(path) as im:
            im.verify()
            w, h = im.size
    except Exception:  # any defect: decode it again
        return False
    return size is None or (h, w) == tuple(size)


def _decompress_folder(args) -> int:
    from ttc_core.bitstream import unpack
    from ttc_core.images import write_image

    if args.task_output:
        raise ValueError("--task-output decodes one file at a time, not a folder")
    pairs = _pairs(Path(args.stream), Path(args.output), (".ttc",), ".png")
    codec = _load_codec(args.checkpoint)
    summary = _Summary("decompress")

    def work(src: Path, dst: Path):
        data = src.read_bytes()
        header = unpack(data)
        bpp = 8 * len(data) / header.num_pixels
        # the coded size is only known after decoding: with --coded-size any valid image counts
        size = None if args.coded_size else header.output_size
        if not args.overwrite and _valid_image(dst, size):
            return bpp, False
        out = codec.decompress(
            data, layers=args.layers, workers=args.workers, trust_checkpoint=args.trust_checkpoint
        )
        image = _output_image(codec, out, args.coded_size)
        _write_atomic(dst, lambda tmp: write_image(image, tmp))
        return bpp, True

    _for_each(summary, pairs, work, not args.no_progress)
    return _finish(summary, args.json)


def _write_task_output(codec, checkpoint: str, decoded, path: str) -> None:
    """Run the checkpoint's registered task decoder and save what it returns."""
    import numpy as np
    from PIL import Image

    from ttc_core.task_decoders import load

    enh = codec.spec.get("enhancement") or {}
    name = enh.get("task_decoder")
    if decoded.enhancement_output is None or not name:
        raise ValueError(
            "--task-output needs a stream with an enhancement layer and a checkpoint whose "
            "enhancement names a task decoder"
        )
    result = np.asarray(load(name)(checkpoint, decoded))
    if path.endswith(".npy"):
        np.save(path, result)
    else:
        Image.fromarray(result.astype(np.uint8)).save(path)


# -- info ------------------------------------------------------------------------------------
def _info(argv: Sequence[str] | None) -> int:
    from ttc_core import bitstream
    from ttc_core.images import ALPHA_CHOICES, DEFAULT_MAX_PIXELS

    p = argparse.ArgumentParser(
        prog="ttc info",
        description="Print the header of a .ttc file (with what the input policy did to the "
        "image), or, for an image file, what `ttc compress` would do to it.",
    )
    p.add_argument("file", help=".ttc file or image")
    p.add_argument("--alpha", choices=ALPHA_CHOICES, default="white", help="as ttc compress")
    p.add_argument("--max-pixels", type=_positive, default=DEFAULT_MAX_PIXELS)
    args = p.parse_args(argv)
    data = _read(args.file)
    if not data.startswith(bitstream.MAGIC):
        return _info_image(args)
    h = bitstream.unpack(data)
    total = 8 * len(data)
    print(f"file:        {args.file} ({len(data)} bytes, format v{h.version}, {h.order} order)")
    print(f"image:       {h.height}×{h.width} ({h.num_pixels} pixels)")
    if h.source_size:
        print(f"source:      {h.source_size[0]}×{h.source_size[1]} (decoded images: this size)")
    if h.tile:
        print(f"tiles:       {16 * h.tile}×{16 * h.tile} pixels ({h.tile} latent units)")
    print(f"model:       {h.model_name} [{h.model_digest.hex()}]")
    for key, q in h.rates.items():
        print(f"rate:        {key} layer at rate position {q:g} (variable-rate model)")
    for key, layer in h.layers.items():
        tiles = "" if layer.tiles is None else f" in {len(layer.tiles)} tiles"
        print(
            f"{key + ':':<12} latent {layer.channels}×{layer.height}×{layer.width}{tiles}, "
            f"{layer.bits} bits, {layer.bits / h.num_pixels:.4f} bpp"
        )
    payload = sum(layer.bits for layer in h.layers.values())
    print(
        f"total:       {total} bits, {total / h.num_pixels:.4f} bpp (header {total - payload} bits)"
    )
    if h.version == 1:  # this ttc writes v1 only for unchanged inputs; older ones recorded none
        print("input:       none recorded (a version-1 stream: no input changes, or older ttc)")
    else:
        print(f"input:       {h.notes or 'coded as read (8-bit RGB, no changes)'}")
    return 0


def _info_image(args) -> int:
    from ttc_core.images import read_image

    image = read_image(args.file, alpha=args.alpha, max_pixels=args.max_pixels)
    fh, fw = image.file_size
    h, w = image.size
    print(f"file:        {args.file} ({image.format} image, mode {image.mode}, {fh}×{fw})")
    print(f"coded as:    {h}×{w} RGB in [0, 1]")
    for note in image.notes or ["coded as read (8-bit RGB, no changes)"]:
        print(f"input:       {note}")
    return 0


def compress_main(argv: Sequence[str] | None = None) -> int:
    return _run(_compress, argv)


def decompress_main(argv: Sequence[str] | None = None) -> int:
    return _run(_decompress, argv)


def info_main(argv: Sequence[str] | None = None) -> int:
    return _run(_info, argv)
