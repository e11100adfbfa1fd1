"""The greedy of maximum coverage on a symmetric ball graph, with incremental scores."""

from __future__ import annotations

import numpy as np

from ..neighbors import subtract_neighbour_weights

__all__ = ["greedy_max_coverage"]


def greedy_max_coverage(graph, budget: int, selectable: np.ndarray, gain: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """Exact greedy max-coverage on a symmetric ball graph.

    Parameters
    ----------
    graph : scipy.sparse.csr_matrix of shape (n, n)
        Symmetric: row ``x`` lists the points in the ball of ``x``.
    budget : int
        Number of picks.
    selectable : ndarray of bool, shape (n,)
        Points that may be picked.
    gain : ndarray of float, shape (n,)
        Value of covering each point (1 = uncovered, 0 = already covered,
        in between for partially covered points). Modified in place.
    rng : numpy Generator
        Breaks ties uniformly at random.

    Returns
    -------
    picks : ndarray of int64, shape (budget,)

    Notes
    -----
    The score of a candidate (the total gain in its ball) is computed once,
    then updated incrementally: when a pick covers point
    ``y``, every candidate whose ball holds ``y`` loses ``gain[y]``; by symmetry
    those candidates are row ``y`` of the graph. Each edge is touched at most
    twice over the whole run, so the greedy costs ``O(E + budget * n)``.
    """
    indptr, indices = graph.indptr, graph.indices
    lengths = np.diff(indptr)
    lost = np.flatnonzero(gain < 1.0)
    live = np.flatnonzero(gain > 0.0)
    # By symmetry the score of x, the gain in its ball, is also the sum of
    # gain[y] over the balls of y that hold x: either start from the ball
    # sizes and remove what covered points no longer give (cheap early in a
    # run), or add up the rows of the points that still give something
    # (cheap when most of the pool is covered, e.g. after a restore).
    if int(lengths[lost].sum()) <= int(lengths[live].sum()):
        score = lengths.astype(np.float64)
        subtract_neighbour_weights(score, indptr, indices, lost, 1.0 - gain[lost])
    else:
        score = np.zeros(gain.size, dtype=np.float64)
        subtract_neighbour_weights(score, indptr, indices, live, -gain[live])
    score[~selectable] = -np.inf
    picks = np.empty(budget, dtype=np.int64)
    for t in range(budget):
        best = score.max()
        # Scores are sums of the same few gain values, so equal sums are
        # equal up to rounding; the tolerance only matters for fractional gains.
        ties = np.flatnonzero(score >= best - 1e-9 * max(1.0, abs(best)))
        x = int(ties[rng.integers(ties.size)]) if ties.size > 1 else int(ties[0])
        picks[t] = x
        ball = indices[indptr[x]:indptr[x + 1]]
        newly = ball[gain[ball] > 0]
        if newly.size:
            subtract_neighbour_weights(score, indptr, indices, newly, gain[newly])
            gain[newly] = 0.0
        score[x] = -np.inf
    return picks
