r"""The input policy: what ``ttc compress`` does to an image file before coding it.

::

    file ─ open (header only) ─ size check ─ decode ─ EXIF orientation ─ mode → RGB ─ [0, 1]
            │ unreadable / bomb     │ > max_pixels            │            │ alpha: composite
            └──────────────── ImageError (exit code 2) ───────┘            │   or refuse
                                                                           └ 16-bit: ÷ 65535

Every step that changes the pixels is recorded in :attr:`LoadedImage.notes` (shown by
``ttc compress``, ``ttc info IMAGE`` and stored in version-2 ``.ttc`` files), so nothing is
dropped silently:

- **Orientation**: the EXIF ``Orientation`` tag is applied (``ImageOps.exif_transpose``); the
  coded size is the displayed one.
- **Greyscale** (``1``, ``L``, ``I;16``, ``I``) is replicated to three channels.
- **16-bit** greyscale is scaled by ``1/65535`` (not clipped to 8 bits). Pillow reads 16-bit
  RGB PNGs as 8-bit RGB (it keeps the high byte); that is what gets coded, and it is noted.
- **Palette / CMYK / YCbCr / LAB / HSV** are converted to RGB by Pillow.
- **Alpha** (``RGBA``, ``LA``, ``PA``, a palette or greyscale with a transparency key):
  ``alpha="white"`` (default) or ``"black"`` composites on that background; ``"refuse"``
  raises :class:`ImageError`. A fully opaque alpha channel is dropped (noted).
- **32-bit float** (``F``) images have no defined range and are refused.
- **Size**: more than ``max_pixels`` pixels (default Pillow's ``MAX_IMAGE_PIXELS``,
  89,478,485) is refused from the header, before the pixels are decoded, as are decompression
  bombs Pillow itself detects.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "ALPHA_CHOICES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageError",
    "LoadedImage",
    "read_image",
    "resize_shortest_edge",
    "write_image",
]

ALPHA_CHOICES = ("white", "black", "refuse")
#: Pillow's own decompression-bomb threshold (it warns above it and refuses at twice it)
DEFAULT_MAX_PIXELS = 89_478_485
#: file extensions treated as images when a folder is compressed
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm")
_BACKGROUNDS = {"white": 255, "black": 0}
_GREY_16 = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageError(ValueError):
    """An image file cannot be read, or the input policy refuses it (exit code 2)."""


@dataclass
class LoadedImage:
    """An image as the codec takes it, and what was done to get there."""

    tensor: torch.Tensor  #: (1, 3, H, W) float32 in [0, 1], RGB
    format: str  #: file format Pillow detected ("PNG", "JPEG", ...)
    mode: str  #: Pillow mode of the file ("RGBA", "I;16", ...)
    file_size: tuple[int, int]  #: (height, width) as stored in the file, before orientation
    notes: list[str] = field(default_factory=list)  #: every change to the pixels, in words

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) that is coded (after EXIF orientation)."""
        return int(self.tensor.shape[-2]), int(self.tensor.shape[-1])


def _open(path: str, max_pixels: int) -> Image.Image:
    if not os.path.isfile(path):
        raise ImageError(f"cannot read image {path}: no such file")
    pillow_limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # our limit replaces Pillow's (it warns above it, and refuses at twice it)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = max_pixels
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"refused {path}: {exc} (the limit is {max_pixels} pixels: raise --max-pixels if "
            "you trust the file)"
        ) from None
    except UnidentifiedImageError:
        raise ImageError(
            f"cannot read image {path}: not an image format Pillow recognises "
            "(PNG, JPEG, BMP, TIFF, WebP, ...), whatever its extension"
        ) from None
    except OSError as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = pillow_limit
    w, h = im.size
    if w * h > max_pixels:
        im.close()
        raise ImageError(
            f"refused {path}: {w}×{h} = {w * h} pixels is more than the limit of {max_pixels} "
            "(a decompression bomb, or a very large photograph: raise --max-pixels if you "
            "trust the file, and consider --tile)"
        )
    if w == 0 or h == 0:
        im.close()
        raise ImageError(f"cannot read image {path}: it has no pixels ({w}×{h})")
    return im


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_rgb(im: Image.Image, alpha: str, notes: list[str], path: str) -> np.ndarray:
    """(H, W, 3) float32 in [0, 1] from any supported Pillow mode."""
    mode = im.mode
    if mode == "F":
        raise ImageError(
            f"refused {path}: 32-bit floating-point images have no defined range; save it as "
            "an 8- or 16-bit image"
        )
    if mode in _GREY_16 or mode == "I":
        grey = np.asarray(im, dtype=np.float64)
        if mode == "I" and (grey.min() < 0 or grey.max() > 65535):
            raise ImageError(
                f"refused {path}: 32-bit integer pixels outside [0, 65535]; save it as an 8- or "
                "16-bit image"
            )
        notes.append("16-bit greyscale scaled to [0, 1] (÷ 65535) and replicated to RGB")
        grey = (grey / 65535.0).astype(np.float32)
        if "transparency" in im.info:
            notes.append("transparency key ignored (16-bit greyscale)")
        return np.repeat(grey[..., None], 3, axis=2)
    if _has_alpha(im):
        rgba = im.convert("RGBA")
        a = np.asarray(rgba.getchannel("A"))
        if a.min() == 255:
            notes.append(f"{mode} alpha channel fully opaque: dropped")
        elif alpha == "refuse":
            raise ImageError(
                f"refused {path}: it has transparent pixels ({mode}); choose a background with "
                "--alpha white or --alpha black to composite it on"
            )
        else:
            bg = Image.new("RGBA", rgba.size, (_BACKGROUNDS[alpha],) * 3 + (255,))
            rgba = Image.alpha_composite(bg, rgba)
            notes.append(f"{mode} alpha composited on {alpha}")
        rgb = rgba.convert("RGB")
    else:
        if mode in ("1", "L"):
            notes.append(f"greyscale ({mode}) replicated to RGB")
        elif mode == "P":
            notes.append("palette converted to RGB")
        elif mode not in ("RGB",):
            notes.append(f"{mode} converted to RGB")
        rgb = im.convert("RGB")
    return np.asarray(rgb, dtype=np.float32) / 255.0


def read_image(
    path: str | os.PathLike, alpha: str = "white", max_pixels: int = DEFAULT_MAX_PIXELS
) -> LoadedImage:
    """Read an image file under the input policy of the module docstring.

    Raises :class:`ImageError` (with what was wrong and what to do) on anything it cannot
    code: a missing, truncated or unrecognised file, a decompression bomb, a refused alpha
    channel or pixel format.
    """
    path = os.fspath(path)
    if alpha not in ALPHA_CHOICES:
        raise ValueError(f"alpha must be one of {ALPHA_CHOICES}, got {alpha!r}")
    im = _open(path, max_pixels)
    notes: list[str] = []
    try:
        with im:
            fmt, mode, (w, h) = im.format or "?", im.mode, im.size
            if fmt == "PNG" and mode == "RGB" and im.info.get("bits", 8) == 16:
                notes.append("16-bit RGB read as 8-bit by Pillow (high byte)")
            try:
                im.load()
                orientation = im.getexif().get(0x0112, 1)
                oriented = ImageOps.exif_transpose(im)
            except (OSError, SyntaxError, ValueError) as exc:  # truncated / corrupt data
                raise ImageError(f"cannot read image {path}: {exc}") from None
            if orientation in range(2, 9):
                notes.append(f"EXIF orientation {orientation} applied")
            arr = _to_rgb(oriented, alpha, notes, path)
    except ImageError:
        raise
    except (OSError, SyntaxError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None
    tensor = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1)[None].contiguous()
    return LoadedImage(tensor, fmt, mode, (h, w), notes)


def write_image(tensor: torch.Tensor, path: str | os.PathLike) -> None:
    """Save ``(1, 3, H, W)`` in [0, 1] as an 8-bit RGB image (format from the extension)."""
    arr = (tensor[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    Image.fromarray(arr).save(os.fspath(path))


def resize_shortest_edge(x: torch.Tensor, short: int, max_size: int) -> torch.Tensor:
    """Resize like Detectron2's test-time ``ResizeShortestEdge`` (bilinear, antialiased).

    Each side stays at least 1 pixel (a 1×5000 strip capped at ``max_size`` wide would round
    its height to 0).
    """
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    scale = short / min(h, w)
    if max(h, w) * scale > max_size:
        scale = max_size / max(h, w)
    size = (max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5)))
    if size == (h, w):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
