r"""The compressible backbone: ttc's base layer in front of a stock Detectron2 backbone.

::

    images (normalised, padded) ─ undo normalisation ─ x ∈ [0,1] RGB, per image, unpadded
        x ─ f ─ ⌊·⌉ ─ ŷ_b ─┬─ g_b ─ pseudo-image ─ [normalise as the input] ─ pad ─ inner ─▶ FPN
                          ├─ g_a ─ x̂ (direct reconstruction; detached ŷ_b in the Baseline)
                          └─ p(ŷ_b) ─ bits_estimated, bpp_estimated (per image)

:class:`TTCBackbone` is a plain Detectron2 backbone: ``backbone(x)`` returns exactly what the
inner backbone returns (the FPN's ``p2 … p6``), so stock code that calls ``model.backbone(x)``
works. The meta-architecture (:class:`~ttc_detectron2.meta_arch.TTCGeneralizedRCNN`) calls
:meth:`TTCBackbone.forward_with_terms` instead, which returns the same features **and** the
codec's quantities of that batch, :class:`CodecTerms` (estimated bits and bpp per image, the
reconstructions and their targets, the actual bits of real bitstreams when asked), to turn into
losses and outputs. Nothing of a batch is kept on the module between calls: each call gets what
it needs as arguments and returns what it computed (reentrant, and test-time augmentation,
which calls ``inference(..., do_postprocess=False)``, leaves nothing behind).

**What is coded.** Each image is coded at its own (resized, unpadded) size, exactly as the real
coder (``ttc compress``) codes it: the meta-architecture passes the image sizes of the batch
(``images.image_sizes``) to :meth:`~TTCBackbone.forward_with_terms`, so the batch padding that
Detectron2 adds is neither coded nor counted, and bpp = bits / (H·W of the resized image)
(METHOD §5). Without sizes (``backbone(x)``), every batch entry is coded whole.

**Codec input.** The base layer sees RGB pixels in [0, 1] (the reference's input), whatever
``INPUT.FORMAT`` and ``PIXEL_MEAN/STD`` the detector uses: Detectron2's MSRA ResNets take
BGR values of ±128, a poor range for the codec. The checkpoint's codec spec says so
(``mean 0, std 1, scale 1, RGB``), so ``ttc compress`` feeds the codec the same way.

**Stock detector weights.** Parameters are named ``backbone.bottleneck.*`` and
``backbone.inner.*``. A checkpoint of the plain detector (e.g. Detectron2's COCO Faster R-CNN
R50-FPN, ``backbone.bottom_up.*``, ``backbone.fpn_lateral2.*``) loads through ``MODEL.WEIGHTS``
unchanged: keys of the inner backbone are mapped to ``backbone.inner.*`` on load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone
from torch import Tensor

from ttc_core.bottleneck import BaseBottleneck
from ttc_core.checkpoint import find_codec_spec, make_codec_spec, spec_to_tensor, to_plain
from ttc_core.losses import psnr
from ttc_core.scalable import group_by_size

from .config import bottleneck_kwargs as cfg_bottleneck_kwargs
from .config import validate_ttc_config
from .errors import TTCConfigError

__all__ = ["CodecTerms", "TTCBackbone", "build_ttc_backbone", "codec_spec_from_state_dict"]

#: name of the state-dict entry that carries the codec spec (``<prefix>_extra_state``)
_EXTRA_STATE = "_extra_state"


@dataclass
class CodecTerms:
    """The codec's quantities of one batch (index i = i-th image of the batch), as returned by
    :meth:`TTCBackbone.forward_with_terms`."""

    bits_estimated: Tensor  #: estimated bits per image, (N,), differentiable in training
    bpp_estimated: Tensor  #: estimated bits per pixel of the unpadded image, (N,)
    image_sizes: list[tuple[int, int]]  #: (H, W) coded per image
    #: (reconstruction, target) pairs, one per group of same-sized images, with the batch
    #: indices of each group; empty when no reconstruction was computed
    reconstructions: list[tuple[Tensor, Tensor, list[int]]] = field(default_factory=list)
    psnr_direct: Tensor | None = None  #: PSNR (dB) of g_a(ŷ_b) per image, (N,), no grad
    bits: Tensor | None = None  #: actual bits of the real rANS stream per image, (N,)
    rate: float | None = None  #: the rate position coded (None: a per-α bottleneck)


class TTCBackbone(Backbone):
    """Base layer (:class:`ttc_core.bottleneck.BaseBottleneck`) + any Detectron2 backbone.

    Args:
        bottleneck: the base layer, or the keyword arguments of a
            :class:`~ttc_core.bottleneck.BaseBottleneck` to build (then they are also recorded
            as ``bottleneck_kwargs``; the form LazyConfig files use).
        inner: the backbone that runs on the pseudo-image (e.g. ResNet-FPN).
        pixel_mean, pixel_std: the detector's input normalisation (``MODEL.PIXEL_MEAN/STD``).
        input_format: channel order of the detector input, ``"BGR"`` or ``"RGB"``.
        normalize_pseudo_image: treat the pseudo-image as an RGB image in [0, 1] and normalise
            it like the detector input (True), or feed it as it is (False).
        reconstruct_at_test: compute g_a and its PSNR at inference.
        actual_bits_at_test: also code each image with the real rANS coder at inference.
        coding_order: ``"wavefront"`` or ``"raster"`` (real coder only).
        bottleneck_kwargs: the constructor arguments of a ``bottleneck`` module, recorded in the
            codec spec of checkpoints (needed for ``ttc compress`` to rebuild the codec).
        prefix: this module's state-dict prefix in the detector (``"backbone."``).
        alphas: the rate weights of a variable-rate bottleneck (``num_rates`` in its kwargs),
            recorded in the codec spec (rate index i ↔ α_i).
    """

    def __init__(
        self,
        bottleneck: BaseBottleneck | Mapping[str, Any],
        inner: Backbone,
        *,
        pixel_mean: Sequence[float],
        pixel_std: Sequence[float],
        input_format: str = "BGR",
        normalize_pseudo_image: bool = True,
        reconstruct_at_test: bool = True,
        actual_bits_at_test: bool = False,
        coding_order: str = "wavefront",
        bottleneck_kwargs: dict[str, Any] | None = None,
        prefix: str = "backbone.",
        test_resize: tuple[int, int] | None = None,
        alphas: Sequence[float] | None = None,
    ):
        super().__init__()
        self.alphas = None if not alphas else [float(a) for a in alphas]
        # recorded in the codec spec so that `ttc compress` codes the evaluated image size
        self.test_resize = (
            None if test_resize is None else (int(test_resize[0]), int(test_resize[1]))
        )
        if isinstance(bottleneck, Mapping):
            bottleneck_kwargs = to_plain(bottleneck)
            bottleneck = BaseBottleneck(**bottleneck_kwargs)
        if not isinstance(bottleneck, BaseBottleneck):
            raise TypeError(
                "bottleneck must be a BaseBottleneck or its kwargs, "
                f"got {type(bottleneck).__name__}"
            )
        if not isinstance(inner, Backbone):
            raise TypeError(f"inner must be a Detectron2 Backbone, got {type(inner).__name__}")
        if input_format not in ("BGR", "RGB"):
            raise TTCConfigError(f"input_format must be 'BGR' or 'RGB', got {input_format!r}")
        if len(pixel_mean) != 3 or len(pixel_std) != 3:
            raise TTCConfigError("pixel_mean and pixel_std must have three values each")
        self.bottleneck = bottleneck
        self.inner = inner
        self.input_format = input_format
        self.normalize_pseudo_image = bool(normalize_pseudo_image)
        self.reconstruct_at_test = bool(reconstruct_at_test)
        self.actual_bits_at_test = bool(actual_bits_at_test)
        self.coding_order = coding_order
        self.bottleneck_kwargs = (
            to_plain(bottleneck_kwargs) if bottleneck_kwargs is not None else None
        )
        self.prefix = prefix
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 3, 1, 1), False)
        # The coder's CDF tables depend only on the fixed scale table: build them now, so every
        # state dict (before or after an evaluation) has the same shapes.
        self.bottleneck.update(force=True)
        # plain Detectron2 detector checkpoints (``backbone.bottom_up.*``) → ``backbone.inner.*``
        self.register_load_state_dict_pre_hook(_map_inner_keys)

    # -- Backbone contract: all delegated to the inner backbone -------------------------------
    @property
    def size_divisibility(self) -> int:
        return self.inner.size_divisibility

    @property
    def padding_constraints(self) -> dict[str, int]:
        return self.inner.padding_constraints

    def output_shape(self) -> dict[str, ShapeSpec]:
        return self.inner.output_shape()

    # -- colour spaces ----------------------------------------------------------------------------
    def to_unit_rgb(self, images: Tensor) -> Tensor:
        """Detector input (normalised, INPUT.FORMAT order) → RGB in [0, 1]."""
        x = (images * self.pixel_std + self.pixel_mean) / 255.0
        return x.flip(1) if self.input_format == "BGR" else x

    def from_unit_rgb(self, x: Tensor) -> Tensor:
        """RGB in [0, 1] → detector input space (the inverse of :meth:`to_unit_rgb`)."""
        x = x.flip(1) if self.input_format == "BGR" else x
        return (x * 255.0 - self.pixel_mean) / self.pixel_std

    # -- the batch -----------------------------------------------------------------------------
    @staticmethod
    def _sizes(x: Tensor, image_sizes: Sequence[tuple[int, int]] | None) -> list[tuple[int, int]]:
        """The (H, W) coded per image: the unpadded sizes given, or the whole batch tensor."""
        n, _, height, width = x.shape
        if image_sizes is None:
            return [(height, width)] * n
        sizes = [(int(h), int(w)) for h, w in image_sizes]
        if len(sizes) != n:
            raise ValueError(f"got {len(sizes)} image sizes for a batch of {n} images")
        for h, w in sizes:
            if not (0 < h <= height and 0 < w <= width):
                raise ValueError(
                    f"image size {(h, w)} does not fit the batch tensor {tuple(x.shape)}"
                )
        return sizes

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """The inner backbone's features of the pseudo-image of ``x`` (each entry coded whole).

        The plain Detectron2 backbone call; the codec's quantities are not computed beyond what
        the features need (see :meth:`forward_with_terms` for them).
        """
        features, _ = self.forward_with_terms(x, measure=False, rate=self.default_rate)
        return features

    @property
    def default_rate(self) -> float | None:
        """The highest rate position of a variable-rate bottleneck (what a plain
        ``backbone(x)`` call codes at); None for a per-α one."""
        n = self.bottleneck.num_rates
        return float(n - 1) if n else None

    def forward_with_terms(
        self,
        x: Tensor,
        image_sizes: Sequence[tuple[int, int]] | None = None,
        *,
        detach_reconstruction: bool = False,
        measure: bool = True,
        rate: float | None = None,
        train_reconstruction: bool = True,
    ) -> tuple[dict[str, Tensor], CodecTerms]:
        """Features of the pseudo-image of ``x`` and the codec's quantities of this batch.

        Args:
            x: the detector's input batch (normalised, padded), ``(N, 3, H, W)``.
            image_sizes: the unpadded (H, W) of each image (``ImageList.image_sizes``); each
                image is coded at its own size. None: each entry is coded whole.
            detach_reconstruction: feed g_a a detached ŷ_b (the Baseline's probe; the
                meta-architecture's :class:`~ttc_core.losses.ReconstructionLoss` says so).
            measure: at test time, compute what ``reconstruct_at_test`` / ``actual_bits_at_test``
                ask for (g_a's PSNR, real bitstreams). False where nobody reads them (raw
                inference outputs, e.g. under test-time augmentation).
            train_reconstruction: in training, compute g_a (its loss). The meta-architecture
                passes False where the loss has weight 0 (a Baseline without probe, β = 0):
                g_a's forward and backward then cost nothing.
            rate: the rate position of a variable-rate bottleneck (the meta-architecture
                passes the index drawn for the batch, or its test rate); None for per-α.
        """
        sizes = self._sizes(x, image_sizes)
        n, _, height, width = x.shape
        x01 = self.to_unit_rgb(x)
        if self.training:
            reconstruct = train_reconstruction
        else:
            reconstruct = measure and self.reconstruct_at_test

        pseudo: list[Tensor | None] = [None] * n
        bits_parts, order = [], []
        reconstructions = []
        psnr_parts = []
        for (h, w), idx in group_by_size(sizes).items():
            xg = x01[idx, :, :h, :w]
            # The codec runs in float32 also under mixed precision (SOLVER.AMP): likelihoods
            # down to 1e-9 underflow in float16, and the rate estimate must match the coder.
            with torch.autocast(device_type=x.device.type, enabled=False):
                out = self.bottleneck(
                    xg.float(),
                    detach_reconstruction=detach_reconstruction,
                    reconstruct=reconstruct,
                    rate=rate,
                )
            p = (
                self.from_unit_rgb(out.pseudo_image)
                if self.normalize_pseudo_image
                else out.pseudo_image
            )
            # pad with 0 in the detector's input space, as Detectron2 pads its images
            p = F.pad(p, (0, width - w, 0, height - h))
            for k, i in enumerate(idx):
                pseudo[i] = p[k]
            bits_parts.append(out.bits)
            order += idx
            if out.reconstruction is not None:
                reconstructions.append((out.reconstruction, xg, idx))
                psnr_parts.append(psnr(out.reconstruction.detach(), xg))

        inverse = torch.argsort(torch.tensor(order, device=x.device))
        bits = torch.cat(bits_parts)[inverse]
        pixels = torch.tensor([h * w for h, w in sizes], device=x.device, dtype=bits.dtype)
        terms = CodecTerms(
            bits_estimated=bits,
            bpp_estimated=bits / pixels,
            image_sizes=sizes,
            reconstructions=reconstructions,
            rate=None if rate is None else float(rate),
        )
        if psnr_parts:
            terms.psnr_direct = torch.cat(psnr_parts)[inverse]
        if not self.training and measure and self.actual_bits_at_test:
            terms.bits = self.coded_bits(x01, sizes, rate=rate)
        return self.inner(torch.stack(pseudo)), terms

    @torch.no_grad()
    def coded_bits(
        self, x01: Tensor, sizes: Sequence[tuple[int, int]], *, rate: float | None = None
    ) -> Tensor:
        """Bits of the real rANS stream of each image (8 · bytes), ``(N,)``.

        Each image is coded alone at its own size (``x01[i, :, :h, :w]``), as ``ttc compress``
        codes it; :meth:`~ttc_core.latent_codec.LatentCodec.actual_bits` builds the coder
        tables if they are missing.
        """
        out = []
        for i, (h, w) in enumerate(sizes):
            bits, _ = self.bottleneck.actual_bits(
                x01[i : i + 1, :, :h, :w], order=self.coding_order, rate=rate
            )
            out += bits
        return torch.tensor(out, dtype=torch.float64)

    # -- codec spec in every state dict --------------------------------------------------------
    def codec_spec(self) -> dict[str, Any]:
        """The framework-free ``"ttc_codec"`` description of this model's codec."""
        if self.bottleneck_kwargs is None:
            raise RuntimeError(
                "TTCBackbone was built without bottleneck_kwargs: its codec cannot be described; "
                "pass the BaseBottleneck's constructor arguments"
            )
        spec = make_codec_spec(
            self.bottleneck_kwargs,
            f"{self.prefix}bottleneck.",
            mean=(0.0, 0.0, 0.0),
            std=(1.0, 1.0, 1.0),
            scale=1.0,
            channel_order="RGB",
            resize_shortest_edge=self.test_resize,
            base_alphas=self.alphas,
        )
        return spec

    def get_extra_state(self) -> Tensor:
        # The spec travels with the weights (``backbone._extra_state``, UTF-8 JSON as uint8), so
        # any checkpointer (also Detectron2's stock lazy trainer) saves it.
        if self.bottleneck_kwargs is None:
            return torch.zeros(0, dtype=torch.uint8)
        return spec_to_tensor(self.codec_spec())

    def set_extra_state(self, state: Any) -> None:
        # the spec describes the module as built; a loaded one is informational only
        pass


def codec_spec_from_state_dict(state: dict[str, Any]) -> dict[str, Any] | None:
    """The codec spec carried in a model state dict (``*._extra_state``), or None."""
    return find_codec_spec({"state_dict": state})


def _map_inner_keys(module, state_dict, prefix, *args) -> None:
    """Load-time hook (``register_load_state_dict_pre_hook``), converting a **plain Detectron2
    detector's layout** to **this module's layout**.

    - From: a stock ``GeneralizedRCNN`` checkpoint, whose backbone keys sit directly under the
      backbone's prefix, e.g. ``backbone.bottom_up.res2.0.conv1.weight``,
      ``backbone.fpn_lateral2.weight`` (Detectron2's model-zoo R50-FPN).
    - To: ``TTCBackbone``'s, where that backbone is ``inner``:
      ``backbone.inner.bottom_up.res2.0.conv1.weight``, ``backbone.inner.fpn_lateral2.weight``.

    Only keys that name a tensor of the inner backbone are moved; keys already in this layout
    (``backbone.bottleneck.*``, ``backbone.inner.*``, the spec) are left alone, so a ttc
    checkpoint loads unchanged. A plain detector's state dict has no codec spec
    (``backbone._extra_state``): it gets the module's own, so that loading does not report it
    missing (the spec always describes the module as built, see ``set_extra_state``).
    """
    state_dict.setdefault(prefix + _EXTRA_STATE, module.get_extra_state())
    own = ("bottleneck.", "inner.", _EXTRA_STATE)
    inner_keys = set(module.inner.state_dict().keys())
    for key in [k for k in state_dict if k.startswith(prefix)]:
        rest = key[len(prefix) :]
        if rest.startswith(own) or rest not in inner_keys:
            continue
        target = f"{prefix}inner.{rest}"
        if target not in state_dict:
            state_dict[target] = state_dict.pop(key)


@BACKBONE_REGISTRY.register()
def build_ttc_backbone(cfg, input_shape: ShapeSpec) -> TTCBackbone:
    """``MODEL.BACKBONE.NAME: build_ttc_backbone``: the base layer + ``MODEL.TTC.INNER``."""
    validate_ttc_config(cfg)
    if input_shape.channels not in (None, 3):
        raise TTCConfigError(
            f"the ttc codec codes 3-channel images; the detector input has {input_shape.channels}"
        )
    kwargs = cfg_bottleneck_kwargs(cfg)
    t = cfg.MODEL.TTC
    inner = BACKBONE_REGISTRY.get(t.INNER)(cfg, ShapeSpec(channels=kwargs["task_channels"]))
    return TTCBackbone(
        kwargs,
        inner,
        pixel_mean=cfg.MODEL.PIXEL_MEAN,
        pixel_std=cfg.MODEL.PIXEL_STD,
        input_format=cfg.INPUT.FORMAT,
        normalize_pseudo_image=t.NORMALIZE_PSEUDO_IMAGE,
        reconstruct_at_test=t.TEST_RECONSTRUCTION,
        actual_bits_at_test=t.TEST_ACTUAL_BITS,
        coding_order=t.CODING_ORDER,
        test_resize=(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
        if cfg.INPUT.MIN_SIZE_TEST > 0
        else None,
        alphas=list(t.VARIABLE_RATE.ALPHAS) or None,
    )
