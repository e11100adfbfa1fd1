"""δ-ball sizes from a sample of rows: the graph's edge count before it is built."""

from __future__ import annotations

import numpy as np

from .._validation import check_random_state
from ._tiles import block_rows_for, iter_row_blocks


def sample_ball_sizes(Xn: np.ndarray, delta: float, rows: np.ndarray) -> tuple[np.ndarray, list]:
    """Exact δ-balls (``||x - y|| < delta``) of a few rows, by brute force.

    Parameters
    ----------
    Xn : ndarray of shape (n_samples, n_features)
        Unit-normalised embeddings.
    delta : float
    rows : ndarray of int
        The rows whose balls are computed.

    Returns
    -------
    sizes : ndarray of int64, shape (len(rows),)
    members : list of ndarray
        The sorted member indices of each ball.
    """
    from ..strategies._screen import ScreenedTiles, exact_within

    Xn = np.ascontiguousarray(Xn, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    # Same proven screen as the graph build, so sampled balls are exact too.
    screen = ScreenedTiles(Xn, delta)
    zero = screen.zero_rows
    members = []
    step = max(1, block_rows_for(Xn.shape[0]))
    # One tile buffer for every block: a fresh 256 MB product per block would
    # be page-faulted in each time (about a third of the product's cost).
    buf = np.empty((min(step, rows.size), Xn.shape[0]), dtype=np.float32)
    for sl in iter_row_blocks(rows.size, step):
        r = rows[sl]
        S = np.matmul(Xn[r], Xn.T, out=buf[:r.size])
        if zero.size:
            S[:, zero] = screen.mid
            S[np.isin(r, zero)] = screen.mid
        S[np.arange(r.size), r] = 2.0  # every point is in its own ball
        # A flat index search and a divmod: NumPy's 2-D nonzero is several
        # times slower on wide tiles (10^6 columns).
        flat = np.flatnonzero(S > screen.lo)
        ii, jj = np.divmod(flat, S.shape[1])
        keep = S.ravel()[flat] > screen.hi
        del flat
        band = np.flatnonzero(~keep)
        if band.size:
            keep[band] = exact_within(Xn, r[ii[band]], jj[band], delta)
        ii, jj = ii[keep], jj[keep]
        members.extend(np.split(jj.astype(np.int64), np.searchsorted(ii, np.arange(1, r.size))))
    sizes = np.array([m.size for m in members], dtype=np.int64)
    return sizes, members


def estimate_graph_bytes(Xn: np.ndarray, delta: float, *, n_sample: int = 256,
                         random_state=None) -> tuple[float, int]:
    """Estimate the edge count and memory of the δ-ball graph from a row sample.

    Returns
    -------
    n_edges : float
        Estimated number of stored edges (self-loops included).
    n_bytes : int
        Estimated size of the CSR arrays (int32 indices, bool data, int64 indptr).
    """
    rng = check_random_state(random_state)
    n = Xn.shape[0]
    rows = rng.choice(n, size=min(n, n_sample), replace=False)
    sizes, _ = sample_ball_sizes(Xn, delta, rows)
    n_edges = float(sizes.mean()) * n
    return n_edges, int(n_edges * 5 + 8 * (n + 1))
