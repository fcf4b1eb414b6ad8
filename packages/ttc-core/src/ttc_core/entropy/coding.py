r"""Exact rANS coding of autoregressive latents: serial raster and wavefront orders.

A 5×5 type-A masked convolution makes position ``(i, j)`` depend on the rows ``i−2, i−1``
(columns ``j−2 … j+2``) and on row ``i`` left of ``j``. Every such position has a smaller
``t = 3i + j``, so all positions on one anti-diagonal line ``3i + j = t`` can be decoded
together::

    t:  0  1  2  3  4  5  6 …          raster order: H·W steps
        3  4  5  6  7  8  9 …          wavefront:    3(H−1) + W steps
        6  7  8  9 10 11 12 …

Both orders are implemented by the same loop (:func:`_run`); they differ only in the list of
steps. The encoder writes symbols in the order the decoder will read them.

Exactness (the decoder must rebuild the encoder's ŷ bit for bit) is designed in, not hoped for:

1. **Same computation on both sides.** The encoder does not compute the entropy parameters
   with one big convolution over the known ŷ; it runs the *same* step loop as the decoder,
   over a buffer that holds only what the decoder will have decoded at that step, with the
   same tensor shapes per step. Both sides therefore evaluate identical operations on
   identical inputs.
2. **Float64 on the CPU.** Parameters are computed with float64 copies of the weights on the
   CPU, whatever device the model trains on, so an encoder on a GPU and a decoder on a laptop
   agree; float64 also makes thread-count dependent summation orders (which change float32
   results in the last bits) practically irrelevant once parameters are quantised.
3. **Quantised parameters.** What the coder uses is discrete: the symbol is ``ŷ − round(μ)``
   (the integer mean the training loss models too) and σ becomes an index into CompressAI's
   scale table. A float difference matters only if it moves μ across a ``.5`` or σ across a
   table entry.
4. **Detected, never silent.** The container (:mod:`ttc_core.bitstream`) stores a CRC of the
   decoded latent; a mismatch raises :class:`~ttc_core.bitstream.BitstreamError` instead of
   producing a wrong image.

Only the 12 causal taps of the 5×5 mask are gathered and multiplied, and the 1×1 parameter
stack runs as matrix products on the gathered positions, batched over positions and channels.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from compressai.ans import RansDecoder, RansEncoder
from torch import Tensor, nn

if TYPE_CHECKING:
    from ._base import AutoregressiveEntropyModel

__all__ = ["ORDERS", "EntropyCoder", "compress", "decompress", "steps", "num_steps"]

ORDERS = ("wavefront", "raster")
_PAD = 2  # half of the 5×5 context kernel


def _check_order(order: str) -> None:
    if order not in ORDERS:
        raise ValueError(f"unknown coding order {order!r}; choose one of {ORDERS}")


@lru_cache(maxsize=32)
def steps(height: int, width: int, order: str = "wavefront") -> tuple[tuple[Tensor, Tensor], ...]:
    """(rows, cols) index tensors of each coding step, in coding order."""
    _check_order(order)
    if order == "raster":
        return tuple(
            (torch.tensor([i]), torch.tensor([j])) for i in range(height) for j in range(width)
        )
    out = []
    for t in range(3 * (height - 1) + width):
        rows = torch.arange(max(0, (t - width + 3) // 3), min(height - 1, t // 3) + 1)
        if rows.numel():  # lines can be empty when width < 3
            out.append((rows, t - 3 * rows))
    return tuple(out)


def num_steps(height: int, width: int, order: str = "wavefront") -> int:
    """Sequential steps: ``H·W`` in raster order, ``3(H−1) + W`` for the wavefront (W ≥ 3)."""
    return len(steps(height, width, order))


class _ParameterNetwork:
    """Float64 CPU copy of an entropy model's per-position parameter computation."""

    def __init__(self, model: AutoregressiveEntropyModel):
        conv = model.context_prediction
        mask = conv.mask.detach().cpu().bool()[0, 0]
        taps = mask.nonzero()  # (12, 2) causal taps of the 5×5 type-A mask
        self.tap_y, self.tap_x = taps[:, 0], taps[:, 1]
        w = (conv.weight.detach() * conv.mask).cpu().double()
        self.ctx_weight = w[:, :, self.tap_y, self.tap_x].reshape(w.shape[0], -1)
        self.ctx_bias = conv.bias.detach().cpu().double()
        self.layers: list[tuple[Tensor, Tensor] | nn.Module] = []
        for layer in model.entropy_parameters:
            if isinstance(layer, nn.Conv2d):
                if layer.kernel_size != (1, 1):
                    raise TypeError("entropy_parameters must consist of 1×1 convolutions")
                self.layers.append(
                    (
                        layer.weight.detach().cpu().double().flatten(1),
                        layer.bias.detach().cpu().double(),
                    )
                )
            else:
                self.layers.append(copy.deepcopy(layer).cpu().double())
        side_net = getattr(model, "side_network", None)
        self.side_network = None if side_net is None else copy.deepcopy(side_net).cpu().double()
        self.side_input = getattr(model, "side_input", None)
        gc = model.gaussian_conditional
        self.scale_bound = float(gc.lower_bound_scale.bound)
        table = gc.scale_table.detach().cpu().double()
        self.table = table[:-1].contiguous()

    def side_features(self, side: Tensor | None, like: Tensor) -> Tensor | None:
        """Side features of one image ``(C, H, W)``, or None for a context-only model."""
        if self.side_network is None:
            return None
        side_in = self.side_input(None if side is None else side.cpu().double(), like)
        return self.side_network(side_in)[0]

    def __call__(
        self, buf: Tensor, rows: Tensor, cols: Tensor, side: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Scale-table indexes and integer means (both ``(n, M)``) at the given positions."""
        n = rows.numel()
        patch = buf[:, rows[:, None] + self.tap_y, cols[:, None] + self.tap_x]  # (M, n, 12)
        x = F.linear(patch.permute(1, 0, 2).reshape(n, -1), self.ctx_weight, self.ctx_bias)
        if side is not None:
            x = torch.cat([x, side[:, rows, cols].t()], dim=1)
        for layer in self.layers:
            x = F.linear(x, *layer) if isinstance(layer, tuple) else layer(x)
        scales, means = x.chunk(2, dim=1)
        # == GaussianConditional.build_indexes: index of the first table entry >= σ
        indexes = torch.searchsorted(self.table, scales.clamp_min(self.scale_bound).contiguous())
        return indexes.int(), torch.round(means)


def _tables(model: AutoregressiveEntropyModel) -> tuple[list, list, list]:
    gc = model.gaussian_conditional
    if not model.is_updated:
        raise RuntimeError(
            f"{type(model).__name__} has no CDF tables: call update() after training or "
            "loading weights, before compress/decompress"
        )
    return (
        gc.quantized_cdf.tolist(),
        gc.cdf_length.reshape(-1).int().tolist(),
        gc.offset.reshape(-1).int().tolist(),
    )


def _run(
    net: _ParameterNetwork,
    shape: tuple[int, int, int],
    side: Tensor | None,
    order: str,
    code_step,
) -> Tensor:
    """Drive ``code_step(indexes, means, rows, cols) -> values (n, M)`` over all steps."""
    m, h, w = shape
    buf = torch.zeros(m, h + 2 * _PAD, w + 2 * _PAD, dtype=torch.float64)
    for rows, cols in steps(h, w, order):
        indexes, means = net(buf, rows, cols, side)
        values = code_step(indexes, means, rows, cols)
        buf[:, rows + _PAD, cols + _PAD] = values.t()
    return buf[:, _PAD : _PAD + h, _PAD : _PAD + w]


class EntropyCoder:
    """An entropy model's coding state, built once: its float64 parameter network and CDFs.

    Coding many tensors with one model (the tiles of a latent, the images of a batch) builds
    them once instead of per call. The model's weights and tables must not change while the
    coder is in use (build a new one after training or ``update()``).
    """

    def __init__(self, model: AutoregressiveEntropyModel):
        self.cdfs, self.lengths, self.offsets = _tables(model)
        self.net = _ParameterNetwork(model)
        self.latent_channels = model.latent_channels

    @torch.no_grad()
    def compress(self, y_hat: Tensor, side: Tensor | None, order: str) -> list[bytes]:
        """One rANS string per image of the integer latent ``y_hat``."""
        _check_order(order)
        net = self.net
        y = y_hat.detach().cpu().double()
        if not torch.equal(y, torch.round(y)):
            raise ValueError("compress expects a quantised (integer-valued) latent ŷ")
        strings = []
        for b in range(y.shape[0]):
            yb = y[b]
            side_b = net.side_features(None if side is None else side[b : b + 1], yb[None])
            symbols: list[Tensor] = []
            indexes_all: list[Tensor] = []

            def encode_step(indexes, means, rows, cols, yb=yb, symbols=symbols, idx=indexes_all):
                values = yb[:, rows, cols].t()  # (n, M)
                symbols.append((values - means).int().reshape(-1))
                idx.append(indexes.reshape(-1))
                return values

            _run(net, tuple(yb.shape), side_b, order, encode_step)
            encoder = RansEncoder()
            strings.append(
                encoder.encode_with_indexes(
                    torch.cat(symbols).tolist(),
                    torch.cat(indexes_all).tolist(),
                    self.cdfs,
                    self.lengths,
                    self.offsets,
                )
            )
        return strings

    @torch.no_grad()
    def decompress(
        self, strings: list[bytes], shape: tuple[int, int], side: Tensor | None, order: str
    ) -> Tensor:
        """ŷ ``(N, M, H, W)`` (float32) from one string per image."""
        _check_order(order)
        cdfs, lengths, offsets = self.cdfs, self.lengths, self.offsets
        m = self.latent_channels
        h, w = (int(s) for s in shape)
        out = []
        for b, string in enumerate(strings):
            like = torch.zeros(1, m, h, w, dtype=torch.float64)
            side_b = self.net.side_features(None if side is None else side[b : b + 1], like)
            decoder = RansDecoder()
            decoder.set_stream(string)

            def decode_step(indexes, means, rows, cols, decoder=decoder):
                # pybind copies every CDF passed on each call: pass only the ones this step uses
                used, local = torch.unique(indexes.reshape(-1), return_inverse=True)
                used = used.tolist()
                symbols = decoder.decode_stream(
                    local.tolist(),
                    [cdfs[i] for i in used],
                    [lengths[i] for i in used],
                    [offsets[i] for i in used],
                )
                return torch.tensor(symbols, dtype=torch.float64).view_as(means) + means

            out.append(_run(self.net, (m, h, w), side_b, order, decode_step))
        return torch.stack(out).float()


def compress(
    model: AutoregressiveEntropyModel, y_hat: Tensor, side: Tensor | None, order: str
) -> list[bytes]:
    """One rANS string per image of ``y_hat`` (see :class:`EntropyCoder`)."""
    _check_order(order)
    return EntropyCoder(model).compress(y_hat, side, order)


def decompress(
    model: AutoregressiveEntropyModel,
    strings: list[bytes],
    shape: tuple[int, int],
    side: Tensor | None,
    order: str,
) -> Tensor:
    """ŷ from one string per image (see :class:`EntropyCoder`)."""
    _check_order(order)
    return EntropyCoder(model).decompress(strings, shape, side, order)
