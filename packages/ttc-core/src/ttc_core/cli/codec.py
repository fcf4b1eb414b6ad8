"""``ttc compress`` / ``ttc decompress`` / ``ttc info``: real bitstreams from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["compress_main", "decompress_main", "info_main"]

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _read_image(path: str):
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    except (FileNotFoundError, UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def _resize_shortest_edge(x, short: int, max_size: int):
    """Resize like Detectron2's ``ResizeShortestEdge`` at test time (bilinear)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    scale = short / min(h, w)
    if max(h, w) * scale > max_size:
        scale = max_size / max(h, w)
    size = (int(h * scale + 0.5), int(w * scale + 0.5))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


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


def _decoder_names() -> str:
    from ttc_core.task_decoders import available

    return ", ".join(sorted(available())) or "none installed"


def _write_image(tensor, path: str) -> None:
    import numpy as np
    from PIL import Image

    arr = (tensor[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(path)


def _load_codec(path: str):
    from ttc_core.codec import ScalableCodec

    t0 = time.perf_counter()
    codec = ScalableCodec.from_checkpoint(path)
    codec.update(force=True)
    _log(f"loaded {codec.model_name} from {path} in {time.perf_counter() - t0:.1f}s")
    return codec


def _run(func, argv: Sequence[str] | None) -> int:
    from ttc_core.bitstream import BitstreamError
    from ttc_core.checkpoint import CheckpointError

    try:
        return func(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    except (BitstreamError, CheckpointError, ValueError, FileNotFoundError) as exc:
        _log(f"error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # failure of ours, not of the input
        _log(f"failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILURE


def _compress(argv: Sequence[str] | None) -> int:
    p = argparse.ArgumentParser(
        prog="ttc compress", description="Encode an image into a .ttc file."
    )
    p.add_argument("image", help="input image (PNG, JPEG, ...)")
    p.add_argument("-c", "--checkpoint", required=True, help="checkpoint with a ttc_codec spec")
    p.add_argument("-o", "--output", required=True, help="output .ttc file")
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
    args = p.parse_args(argv)
    x = _read_image(args.image)
    codec = _load_codec(args.checkpoint)
    resize = None if args.no_resize else (args.resize or codec.resize_shortest_edge)
    if resize is not None:
        x = _resize_shortest_edge(x, *resize)
        _log(f"resized to {x.shape[-2]}×{x.shape[-1]} (shortest edge {resize[0]}, max {resize[1]})")
    t0 = time.perf_counter()
    data = codec.compress(x, layers=args.layers, order=args.order)
    elapsed = time.perf_counter() - t0
    with open(args.output, "wb") as f:
        f.write(data)
    h, w = x.shape[-2:]
    _log(
        f"wrote {args.output}: {len(data)} bytes, {8 * len(data) / (h * w):.4f} bpp "
        f"({h}×{w}, {args.layers}) in {elapsed:.2f}s"
    )
    return 0


def _decompress(argv: Sequence[str] | None) -> int:
    p = argparse.ArgumentParser(
        prog="ttc decompress",
        description="Decode a .ttc file. To an image (.png/.jpg): the enhancement output when the "
        "file has an enhancement layer, else the direct reconstruction g_a(ŷ_b), at the input's "
        "size. To a tensor file (.pt): every decoded tensor (latents, pseudo-image, "
        "reconstruction, enhancement).",
    )
    p.add_argument("stream", help=".ttc file")
    p.add_argument("-c", "--checkpoint", required=True, help="the checkpoint that encoded it")
    p.add_argument("-o", "--output", required=True, help="output image or .pt tensor file")
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
        "--coded-size",
        action="store_true",
        help="write an image at the size the layer coded it (e.g. half the input when a "
        "learned 2x downsample precedes the analysis transform); default: the input's size, "
        "recorded in the stream, by bilinear resizing",
    )
    args = p.parse_args(argv)
    with open(args.stream, "rb") as f:
        data = f.read()
    codec = _load_codec(args.checkpoint)
    t0 = time.perf_counter()
    out = codec.decompress(data, layers=args.layers)
    _log(f"decoded {args.stream} in {time.perf_counter() - t0:.2f}s")
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
        torch.save(tensors, args.output)
    else:
        image = out.reconstruction
        if out.enhancement_output is not None:
            if codec.spec["enhancement"].get("output") != "image":
                raise ValueError(
                    "this enhancement layer outputs a pseudo-image for a task network, not an "
                    "image: write a .pt tensor file instead"
                )
            image = out.enhancement_output
        size = (out.header.height, out.header.width)
        if not args.coded_size and tuple(image.shape[-2:]) != size:
            import torch.nn.functional as F

            _log(
                f"resized the decoded {image.shape[-2]}×{image.shape[-1]} image to the input's "
                f"{size[0]}×{size[1]} (--coded-size keeps the coded size)"
            )
            image = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
            image = image.clamp(0, 1)
        _write_image(image, args.output)
    _log(f"wrote {args.output}")
    return 0


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


def _info(argv: Sequence[str] | None) -> int:
    from ttc_core import bitstream

    p = argparse.ArgumentParser(prog="ttc info", description="Print the header of a .ttc file.")
    p.add_argument("stream", help=".ttc file")
    args = p.parse_args(argv)
    with open(args.stream, "rb") as f:
        data = f.read()
    h = bitstream.unpack(data)
    total = 8 * len(data)
    print(f"file:        {args.stream} ({len(data)} bytes, format v{h.version}, {h.order} order)")
    print(f"image:       {h.height}×{h.width} ({h.num_pixels} pixels)")
    print(f"model:       {h.model_name} [{h.model_digest.hex()}]")
    for key, layer in h.layers.items():
        print(
            f"{key + ':':<12} latent {layer.channels}×{layer.height}×{layer.width}, "
            f"{layer.bits} bits, {layer.bits / h.num_pixels:.4f} bpp"
        )
    payload = sum(layer.bits for layer in h.layers.values())
    print(
        f"total:       {total} bits, {total / h.num_pixels:.4f} bpp (header {total - payload} bits)"
    )
    return 0


def compress_main(argv: Sequence[str] | None = None) -> int:
    return _run(_compress, argv)


def decompress_main(argv: Sequence[str] | None = None) -> int:
    return _run(_decompress, argv)


def info_main(argv: Sequence[str] | None = None) -> int:
    return _run(_info, argv)
