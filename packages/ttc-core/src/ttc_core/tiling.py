r"""Independent latent tiles: bounded coding memory and parallel coding.

A tiled ``.ttc`` layer codes its latent ŷ (``C × h × w``) as a grid of ``t × t`` tiles in raster
order (the last row / column of tiles may be smaller), each an independent rANS string::

    ŷ ┌────┬────┬──┐     tile k = ŷ[:, rows_k, cols_k]  ─ entropy model ─▶ string k
      │ 0  │ 1  │2 │     (side information ŷ_b sliced to the same tile)
      ├────┼────┼──┤
      │ 3  │ 4  │5 │     contexts never cross a tile border: any tile decodes alone
      └────┴────┴──┘

The grid is fully determined by ``(h, w, t)``: the container stores only ``t``
(:mod:`ttc_core.bitstream`, format version 2). ``t = 0`` means one tile, the whole latent.

:func:`map_tiles` runs a function over tiles in a pool of worker **processes** (forked, so they
share the parent's models without pickling them; one thread each) or, where fork is not
available or the models live on a GPU, threads. ``workers=1`` runs in the calling thread.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

__all__ = ["TileBox", "map_tiles", "tile_count", "tile_grid"]

#: (row slice, column slice) of one tile in latent coordinates
TileBox = tuple[slice, slice]

# what forked workers call: set by map_tiles just before the pool forks
_FN: Callable[[Any], Any] | None = None


def tile_grid(height: int, width: int, tile: int) -> list[TileBox]:
    """The tiles of an ``height × width`` latent with ``tile``-sided tiles, raster order.

    ``tile = 0`` (or a tile larger than the latent) gives a single tile covering it all.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"latent size must be positive, got {height}×{width}")
    if tile < 0:
        raise ValueError(f"tile size must be >= 0, got {tile}")
    t_h = tile or height
    t_w = tile or width
    return [
        (slice(i, min(i + t_h, height)), slice(j, min(j + t_w, width)))
        for i in range(0, height, t_h)
        for j in range(0, width, t_w)
    ]


def tile_count(height: int, width: int, tile: int) -> int:
    """``len(tile_grid(height, width, tile))``, without building the grid."""
    if tile <= 0:
        return 1
    return -(-height // tile) * -(-width // tile)


def _call(item: Any) -> Any:
    assert _FN is not None
    return _FN(item)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism


def _executor(workers: int, use_processes: bool) -> Executor:
    if use_processes and "fork" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("fork")
        return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker)
    return ThreadPoolExecutor(workers)


def map_tiles(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int = 1,
    use_processes: bool = True,
) -> list[Any]:
    """``[fn(item) for item in items]``, in order, over ``workers`` workers.

    ``fn`` may be any callable (a closure over the models): with processes it reaches the
    workers by fork, not by pickling; the items and results are pickled.
    """
    global _FN
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    workers = min(workers, len(items), os.cpu_count() or 1) or 1
    if workers == 1:
        return [fn(item) for item in items]
    _FN = fn
    try:
        with _executor(workers, use_processes) as pool:
            return list(pool.map(_call, items))
    finally:
        _FN = None
