"""Exact COCO polygons for binary masks.

``mask_to_polygons`` traces the pixel-edge outline of every 4-connected component of a mask.
Vertices lie on pixel corners (pixel ``(x, y)`` covers ``[x, x+1) x [y, y+1)``, the COCO
convention), so ``pycocotools`` rasterises the polygons back to exactly the same pixels. Holes
(a nearer object seen through a farther one) are kept: each hole is joined to the outline that
surrounds it by a zero-width slit, which COCO's even-odd rasteriser leaves empty, so one
component gives one polygon, as in real COCO annotations.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mask_to_polygons", "mask_bbox"]

Point = tuple[int, int]
Edge = tuple[Point, Point]


def mask_bbox(mask: np.ndarray) -> list[float]:
    """Tight COCO box ``[x, y, w, h]`` (pixel-corner convention) of the True pixels of ``mask``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("mask is empty: it has no box")
    x0, x1, y0, y1 = int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def _boundary_edges(mask: np.ndarray) -> dict[Point, list[tuple[Point, Point]]]:
    """Directed boundary edges, keyed by start vertex: ``start -> [(end, owner pixel)]``.

    Edges run with the foreground pixel on a fixed side, so outer outlines and hole outlines
    come out with opposite orientations.
    """
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    inner = padded[1:-1, 1:-1]
    out: dict[Point, list[tuple[Point, Point]]] = {}

    def add(sel: np.ndarray, start: tuple[int, int], end: tuple[int, int]) -> None:
        ys, xs = np.nonzero(inner & ~sel)
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            s = (x + start[0], y + start[1])
            e = (x + end[0], y + end[1])
            out.setdefault(s, []).append((e, (x, y)))

    add(padded[:-2, 1:-1], (1, 0), (0, 0))  # top edge, leftwards
    add(padded[1:-1, :-2], (0, 0), (0, 1))  # left edge, downwards
    add(padded[2:, 1:-1], (0, 1), (1, 1))  # bottom edge, rightwards
    add(padded[1:-1, 2:], (1, 1), (1, 0))  # right edge, upwards
    return out


def _trace_loops(mask: np.ndarray) -> list[list[Point]]:
    """Closed vertex loops (first vertex not repeated), one unit step per edge."""
    edges = _boundary_edges(mask)
    used: set[tuple[Point, Point]] = set()
    loops: list[list[Point]] = []
    for start in sorted(edges, key=lambda p: (p[1], p[0])):
        for end, owner in edges[start]:
            if (start, end) in used:
                continue
            loop: list[Point] = []
            cur, nxt, own = start, end, owner
            while (cur, nxt) not in used:
                used.add((cur, nxt))
                loop.append(cur)
                cands = [c for c in edges[nxt] if (nxt, c[0]) not in used]
                if not cands:
                    break
                if len(cands) > 1:
                    # a pinch (two pixels touching diagonally): stay around the same pixel, so
                    # diagonal neighbours are separate components (4-connectivity)
                    cands = [c for c in cands if c[1] == own] or cands
                cur, (nxt, own) = nxt, cands[0]
            loops.append(loop)
    return loops


def _signed_area(loop: list[Point]) -> int:
    xs = np.array([p[0] for p in loop], dtype=np.int64)
    ys = np.array([p[1] for p in loop], dtype=np.int64)
    return int((xs * np.roll(ys, -1) - np.roll(xs, -1) * ys).sum())


def _simplify(loop: list[Point]) -> list[Point]:
    """Drop vertices in the middle of straight runs (keeps slit turnarounds)."""
    n = len(loop)
    keep = []
    for i in range(n):
        (ax, ay), (bx, by), (cx, cy) = loop[i - 1], loop[i], loop[(i + 1) % n]
        d1 = (bx - ax, by - ay)
        d2 = (cx - bx, cy - by)
        same_dir = d1[0] * d2[1] - d1[1] * d2[0] == 0 and d1[0] * d2[0] + d1[1] * d2[1] > 0
        if not same_dir:
            keep.append(loop[i])
    return keep


def mask_to_polygons(mask: np.ndarray) -> list[list[float]]:
    """COCO polygons ``[[x0, y0, x1, y1, ...], ...]`` that rasterise exactly to ``mask``.

    One polygon per 4-connected component; holes are joined by zero-width slits.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    loops = _trace_loops(mask)
    # The single-pixel outline (0,0)->(0,1)->(1,1)->(1,0) has negative signed area here.
    outer = [lp for lp in loops if _signed_area(lp) < 0]
    holes = [lp for lp in loops if _signed_area(lp) > 0]

    polygons: list[list[Point]] = [list(lp) for lp in outer]
    owner_of_edge: dict[Edge, int] = {}
    for k, lp in enumerate(polygons):
        for i, p in enumerate(lp):
            owner_of_edge[(p, lp[(i + 1) % len(lp)])] = k
    hole_owner: list[int] = []  # hole j lives (after merging) in polygons[hole_owner[j]]

    def top_left(loop: list[Point]) -> Point:
        return min(loop, key=lambda p: (p[1], p[0]))

    holes.sort(key=lambda lp: (top_left(lp)[1], top_left(lp)[0]))
    for j, hole in enumerate(holes):
        for i, p in enumerate(hole):
            owner_of_edge[(p, hole[(i + 1) % len(hole)])] = -(j + 1)
        x, y = top_left(hole)
        # walk up column x through foreground pixels to the outline above the hole
        r0 = y - 1
        while r0 - 1 >= 0 and mask[r0 - 1, x]:
            r0 -= 1
        top_edge: Edge = ((x + 1, r0), (x, r0))
        key = owner_of_edge[top_edge]
        target = key if key >= 0 else hole_owner[-key - 1]
        hole_owner.append(target)
        poly = polygons[target]
        i = next(k for k in range(len(poly)) if (poly[k], poly[(k + 1) % len(poly)]) == top_edge)
        a = (i + 1) % len(poly)  # index of the outline vertex (x, r0) above the hole
        start = hole.index((x, y))
        down = [(x, r) for r in range(r0 + 1, y)]
        slit = down + hole[start:] + hole[:start] + [(x, y)] + down[::-1] + [poly[a]]
        polygons[target] = poly[: a + 1] + slit + poly[a + 1 :]

    result = []
    for poly in polygons:
        simple = _simplify(poly)
        result.append([float(c) for p in simple for c in p])
    return result
