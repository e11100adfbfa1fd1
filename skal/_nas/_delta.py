"""δ schedules for ProbCover-like strategies across rounds (the reference's DeltaScheduler)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions

__all__ = ["DeltaSchedule"]

# Rows of the distance matrix scored at a time by the degree count.
_ROW_BLOCK = 1024

_POLICIES = {"constant", "linear_descent", "exponential_descent",
             "max_support_size_take_max", "max_support_size_take_min"}


class DeltaSchedule(BaseEstimator):
    """How ProbCover's ball radius δ changes from one round to the next.

    The policies of the NAS reference implementation's ``DeltaScheduler``.
    With ``x = |L| / N`` the labeled share of the pool and ``δ0`` the first
    round's δ:

    * ``"constant"``: δ stays ``δ0``;
    * ``"linear_descent"``: ``δ = (1 - x) δ0 + x δ_min``;
    * ``"exponential_descent"``: ``δ = c δ0 + (1 - c) δ_min`` with
      ``c = (e^{-k} - e^{-k x}) / (e^{-k} - 1)``;
    * ``"max_support_size_take_max"`` / ``"..._take_min"``: over the grid
      ``δ_min, δ_min + resolution, ..., max_delta`` (and the current δ), the
      δ whose graph, once the points covered by the labeled set are removed,
      has the largest maximum degree: the largest such δ, or the smallest.

    The degree-based policies are computed on a random sample of at most
    ``n_sample`` pool points (the labeled points always included): an
    estimate of the degrees, exact when the pool is smaller than the sample.

    Parameters
    ----------
    policy : str, default="constant"
    min_delta : float, default=0.05
        ``δ_min``, the grid's smallest value (the reference's resolution).
    max_delta : float, default=1.1
    resolution : float, default=0.05
    k : float, default=5.0
        Steepness of the exponential descent.
    consider_noise : bool, default=True
        Count only the labels the filter believes as covering.
    n_sample : int, default=4000
    random_state : int or None, default=None
    """

    _parameter_constraints: dict = {
        "policy": [StrOptions(_POLICIES)],
        "min_delta": [Interval(Real, 0, None, closed="neither")],
        "max_delta": [Interval(Real, 0, None, closed="neither")],
        "resolution": [Interval(Real, 0, None, closed="neither")],
        "k": [Interval(Real, 0, None, closed="neither")],
        "consider_noise": ["boolean"],
        "n_sample": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, policy: str = "constant", *, min_delta: float = 0.05,
                 max_delta: float = 1.1, resolution: float = 0.05, k: float = 5.0,
                 consider_noise: bool = True, n_sample: int = 4000, random_state=None):
        self.policy = policy
        self.min_delta = min_delta
        self.max_delta = max_delta
        self.resolution = resolution
        self.k = k
        self.consider_noise = consider_noise
        self.n_sample = n_sample
        self.random_state = random_state

    def next_delta(self, X: np.ndarray, labeled: np.ndarray, *, initial: float,
                   current: float) -> float:
        """The δ for the next round.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            The pool (as the strategy sees it: ProbCover uses unit rows).
        labeled : ndarray of int
            Pool indices of the labels that cover.
        initial, current : float
            The first round's δ and the current one.
        """
        self._validate_params()
        x = labeled.size / X.shape[0]
        if self.policy == "constant":
            return float(current)
        if self.policy == "linear_descent":
            return float((1 - x) * initial + x * self.min_delta)
        if self.policy == "exponential_descent":
            k = float(self.k)
            c = (np.exp(-k) - np.exp(-k * x)) / (np.exp(-k) - 1)
            return float(c * initial + (1 - c) * self.min_delta)
        grid = np.arange(self.min_delta, self.max_delta + self.resolution / 2, self.resolution)
        grid = np.unique(np.r_[grid, current])[::-1]          # descending, as the reference
        max_degree = self._max_degrees(X, labeled, grid)
        best = np.flatnonzero(max_degree == max_degree.max())
        pick = best[0] if self.policy == "max_support_size_take_max" else best[-1]
        return float(grid[pick])

    def _max_degrees(self, X: np.ndarray, labeled: np.ndarray, grid: np.ndarray) -> np.ndarray:
        from ..neighbors import sq_dists_block, unit_normalize
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        if n > self.n_sample:
            others = np.setdiff1d(np.arange(n), labeled)
            take = rng.choice(others, size=max(self.n_sample - labeled.size, 1), replace=False)
            rows = np.union1d(take, labeled)
        else:
            rows = np.arange(n)
        Xs = unit_normalize(np.asarray(X[rows], dtype=np.float64), dtype=np.float64)
        d2 = np.maximum(sq_dists_block(Xs, Xs), 0.0)
        np.fill_diagonal(d2, np.inf)
        return _max_uncovered_degrees(d2, np.isin(rows, labeled), grid)


def _max_uncovered_degrees(d2: np.ndarray, is_labeled: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """For every δ in ``grid``: the largest number of uncovered points within δ of one point.

    A point ``j`` is covered at δ when it is labeled or a labeled point lies
    strictly within δ of it; an unlabeled point ``i`` counts ``j`` when
    ``d2[i, j] < δ²`` and ``j`` is uncovered. Entry ``(i, j)`` therefore counts
    for exactly the δ with ``d2[i, j] < δ² <= min_l d2[l, j]``: a contiguous
    run of the sorted grid. One pass marks each run's ends and a cumulative
    sum gives every δ's degrees, instead of one pass over the matrix per δ
    (the same comparisons, so the same integers).
    """
    order = np.argsort(grid)
    sq = grid[order] * grid[order]                              # ascending δ²
    n, g = d2.shape[0], sq.size
    if is_labeled.any():
        to_labeled = d2[is_labeled].min(axis=0)
        to_labeled[is_labeled] = -np.inf                        # a labeled point is covered
    else:
        to_labeled = np.full(n, np.inf)
    # Column j counts while δ² <= to_labeled[j]: grid positions below stop[j];
    # an entry can count at all only when d2 < sq[stop[j] - 1], so one cheap
    # comparison leaves the grid search to the entries that count somewhere.
    stop = np.searchsorted(sq, to_labeled, side="right")
    last_sq = np.where(stop > 0, sq[np.maximum(stop - 1, 0)], -np.inf)
    best = np.zeros(g, dtype=np.int64)
    for lo in range(0, n, _ROW_BLOCK):                          # bounded temporaries
        block = d2[lo:lo + _ROW_BLOCK]
        row, col = np.nonzero(block < last_sq)
        row_labeled = is_labeled[lo + row]
        row, col = row[~row_labeled], col[~row_labeled]          # labeled rows score 0
        if row.size == 0:
            continue
        start = np.searchsorted(sq, block[row, col], side="right")
        offset = row * (g + 1)
        size = block.shape[0] * (g + 1)
        marks = np.bincount(offset + start, minlength=size)
        marks -= np.bincount(offset + stop[col], minlength=size)
        degrees = np.cumsum(marks.reshape(block.shape[0], g + 1)[:, :g], axis=1)
        np.maximum(best, degrees.max(axis=0), out=best)
    out = np.empty(g)
    out[order] = best
    return out
