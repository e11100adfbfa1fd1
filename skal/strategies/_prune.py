"""Exact block pruning for the δ-ball graph: skip tile pairs the triangle inequality rules out.

The pool is put in the order of coarse spherical k-means cells and cut into
chunks of at most a few hundred consecutive points. Every chunk gets a ball:
its float64 centroid ``c`` and radius ``R`` (largest member distance to
``c``). For points ``x`` of chunk ``I`` and ``y`` of chunk ``J``,
``‖x - y‖ >= ‖c_I - c_J‖ - R_I - R_J``; when that lower bound, minus a
rounding margin, is at least δ, no pair of the two chunks can be an edge and
their product is never computed. Nothing is approximated: the graph stays
exactly the float64 one, only fewer products are spent on far-apart chunks
(a large saving when balls are small against the spread of the data, none
when every ball holds a sizeable part of the pool).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["PrunePlan"]

# Largest chunk (points) and row tile (points) of the pruned build.
_MAX_CHUNK = 256
_TILE_ROWS = 1024


class PrunePlan:
    """Cell order, chunk balls and the column chunks each row tile must visit.

    Parameters
    ----------
    Xn : ndarray of shape (n, d), float32
        Unit-normalised pool.
    delta : float
        Ball radius.
    random_state : int
        Seeds the k-means sample.
    tile_rows : int, optional
        Default 1024.
        Rows per row tile (whole chunks; at least one chunk).

    Attributes
    ----------
    perm : ndarray of int64
        Pool index of each position of the cell order.
    starts : ndarray of int64
        Chunk ``k`` is positions ``starts[k]:starts[k + 1]``.
    tiles : list of (int, int)
        Row tiles as chunk ranges ``[lo, hi)``.
    """

    def __init__(self, Xn: np.ndarray, delta: float, *, random_state: int = 0,
                 tile_rows: int | None = None):
        from .._ann import _assign, _train_cells

        n, d = Xn.shape
        tile_rows = _TILE_ROWS if tile_rows is None else int(tile_rows)
        rng = np.random.default_rng(random_state)
        n_cells = int(max(1, min(n // _MAX_CHUNK, 4096)))
        C = _train_cells(Xn, n_cells, rng, n_train=min(n, max(10_000, 8 * n_cells)), n_iter=5)
        cell = _assign(Xn, C)
        self.perm = np.argsort(cell, kind="stable")
        bounds = np.searchsorted(cell[self.perm], np.arange(n_cells + 1))
        # Cells larger than a chunk are cut into equal pieces.
        starts = [np.linspace(a, b, max(1, math.ceil((b - a) / _MAX_CHUNK)) + 1).astype(np.int64)[:-1]
                  for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        self.starts = np.append(np.concatenate(starts), n).astype(np.int64)
        self.delta = float(delta)
        self._balls(Xn[self.perm], d)
        self.tiles = []
        lo = 0
        k = self.starts.size - 1
        while lo < k:
            hi = int(np.searchsorted(self.starts, self.starts[lo] + tile_rows, side="right")) - 1
            hi = min(max(hi, lo + 1), k)
            self.tiles.append((lo, hi))
            lo = hi

    def _balls(self, Xp: np.ndarray, d: int) -> None:
        k = self.starts.size - 1
        sizes = np.diff(self.starts)
        sums = np.add.reduceat(Xp.astype(np.float64), self.starts[:-1], axis=0)
        self.centers = sums / sizes[:, None]
        owner = np.repeat(np.arange(k), sizes)
        radii = np.zeros(k)
        step = max(1, (1 << 22) // max(1, d))
        for s in range(0, Xp.shape[0], step):
            e = min(Xp.shape[0], s + step)
            diff = Xp[s:e].astype(np.float64) - self.centers[owner[s:e]]
            np.maximum.at(radii, owner[s:e], np.sqrt(np.einsum("ij,ij->i", diff, diff)))
        self.radii = radii
        self.c_sq = np.einsum("ij,ij->i", self.centers, self.centers)
        # Float64 rounding of the centre distances, taken through the square
        # root of a cancelled difference (the worst case, near zero), plus
        # the rounding of radii and of the float64 definition itself.
        self.margin = 1e-9 + math.sqrt(16.0 * (d + 2) * 2.0**-52)

    def columns(self, tile: int) -> np.ndarray:
        """Positions (cell order, sorted) of the chunks row tile ``tile`` must be compared with.

        Only chunks from the tile's own first chunk on (upper triangle).
        """
        lo, hi = self.tiles[tile]
        C = self.centers
        d2 = self.c_sq[lo:hi, None] + self.c_sq[None, lo:] - 2.0 * (C[lo:hi] @ C[lo:].T)
        lb = np.sqrt(np.maximum(d2, 0.0)) - self.radii[lo:hi, None] - self.radii[None, lo:]
        keep = np.flatnonzero((lb - self.margin < self.delta).any(axis=0)) + lo
        keep = np.union1d(keep, np.arange(lo, hi))  # the tile's own chunks, always
        a, b = self.starts[keep], self.starts[keep + 1]
        lengths = b - a
        shift = a - np.concatenate([[0], np.cumsum(lengths)[:-1]])
        return np.repeat(shift, lengths) + np.arange(int(lengths.sum()))

    def visited_fraction(self) -> float:
        """Products the plan computes, as a fraction of the unpruned half build's (same tiles)."""
        n = int(self.starts[-1])
        done = full = 0
        for t, (lo, hi) in enumerate(self.tiles):
            m = int(self.starts[hi] - self.starts[lo])
            done += m * self.columns(t).size
            full += m * (n - int(self.starts[lo]))
        return done / max(1, full)
