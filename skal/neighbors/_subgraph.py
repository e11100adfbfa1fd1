"""A smaller δ's graph from a larger one: compare only the pairs the larger graph holds.

When ProbCover's δ shrinks between rounds (a δ schedule), every edge of the
new graph is an edge of the graph it already has: ``‖x_i - x_j‖ < δ' <= δ``.
The new graph is then built by the usual screened tiles, but each row tile is
compared only with the columns its rows reach in the old graph. The pool is
put in reverse Cuthill-McKee order of the old graph first, so that the rows
of a tile share most of their neighbours and the column sets stay small; on
clustered embeddings this skips most products (a 50,000-point pool with
balls of about 500 points: 5 % of the half build's products are computed).
Nothing is approximated: the pairs left out are non-edges at the old δ, hence
at the new one, and every pair compared is decided exactly as in a full build.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._sparse import csr_gather_rows

__all__ = ["SupersetPlan"]

# Rows per row tile of the restricted build.
_TILE_ROWS = 1024


class SupersetPlan:
    """Row order, row tiles and the columns each tile must visit, from a superset graph.

    Same interface as :class:`~skal.strategies._prune.PrunePlan`, so the
    pruned build of :func:`~skal.neighbors.delta_ball_graph` runs it
    unchanged: ``perm``, ``starts``, ``tiles``, ``columns(t)`` and
    ``visited_fraction()``.

    Parameters
    ----------
    superset : scipy.sparse.csr_matrix of shape (n, n)
        A symmetric graph holding every edge of the graph to build (the
        δ-ball graph of the same pool at a radius at least as large).
    tile_rows : int, optional
        Rows per row tile (default 1024).

    Attributes
    ----------
    perm : ndarray of int64
        Pool index of each position of the build order.
    starts : ndarray of int64
        Chunk ``k`` is positions ``starts[k]:starts[k + 1]`` (one chunk per tile).
    tiles : list of (int, int)
        Row tiles as chunk ranges ``[lo, hi)``.
    """

    def __init__(self, superset: sp.csr_matrix, *, tile_rows: int | None = None):
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        graph = sp.csr_matrix(superset)
        n = graph.shape[0]
        tile_rows = _TILE_ROWS if tile_rows is None else max(1, int(tile_rows))
        self.perm = reverse_cuthill_mckee(graph, symmetric_mode=True).astype(np.int64)
        self._position = np.empty(n, dtype=np.int64)
        self._position[self.perm] = np.arange(n)
        self._graph = graph
        self.starts = np.append(np.arange(0, n, tile_rows), n).astype(np.int64)
        self.tiles = [(k, k + 1) for k in range(self.starts.size - 1)]

    def columns(self, tile: int) -> np.ndarray:
        """Positions (build order, sorted) row tile ``tile`` is compared with.

        The tile's own rows and every later position one of its rows reaches
        in the superset (upper triangle).
        """
        lo, hi = int(self.starts[tile]), int(self.starts[tile + 1])
        g = self._graph
        reached = self._position[csr_gather_rows(g.indptr, g.indices, self.perm[lo:hi])]
        mark = np.zeros(self.perm.size - lo, dtype=bool)
        mark[reached[reached >= lo] - lo] = True
        mark[:hi - lo] = True                       # the tile's own rows, always
        return np.flatnonzero(mark) + lo

    def visited_fraction(self, max_tiles: int = 16) -> float:
        """Products the plan computes, as a fraction of the unrestricted half build's.

        Measured on at most ``max_tiles`` evenly spaced row tiles (the build
        makes every tile's columns once more; this is only its go/no-go).
        """
        n = int(self.starts[-1])
        count = len(self.tiles)
        picked = np.unique(np.linspace(0, count - 1, min(count, max_tiles)).astype(np.int64))
        done = full = 0
        for t in picked.tolist():
            m = int(self.starts[t + 1] - self.starts[t])
            done += m * self.columns(t).size
            full += m * (n - int(self.starts[t]))
        return done / max(1, full)
