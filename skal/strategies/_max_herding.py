"""MaxHerding (Bae et al.): greedy maximisation of kernel coverage."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ..neighbors import (
    block_rows_for,
    iter_row_blocks,
    kernel_block,
    median_bandwidth,
    row_sq_norms,
)
from ..neighbors._tiles import _resolve_torch_device
from ._base import RANDOM_STATE_CONSTRAINT, CoverageStrategyMixin, QueryStrategy

__all__ = ["MaxHerding"]

# Relative inflation of the gains of the symmetric first pass when they serve
# as upper bounds: its tiles round differently from a row re-evaluation
# (float32 kernel values, other BLAS blocking), by far less than this.
_SYMMETRIC_UB_SLACK = 1e-5


class _KernelRows:
    """Kernel rows ``k(x_i, .)`` against the whole pool, computed in tiles.

    Only ``block_rows x n`` kernel values exist at any time; rows are
    recomputed whenever they are needed again, which costs one BLAS product
    per tile and keeps memory linear in the pool size.
    """

    def __init__(self, X, bandwidth, kernel, block_rows, device, cache_bytes=0):
        self.X = X
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.sq = row_sq_norms(X)
        n = X.shape[0]
        self.block_rows = block_rows or block_rows_for(n, itemsize=X.dtype.itemsize)
        self.torch = None
        if device is not None:
            import torch

            dev = _resolve_torch_device(device)
            self.torch = torch
            self.Xt = torch.from_numpy(X).to(dev)
            self.sqt = torch.from_numpy(self.sq).to(dev).to(self.Xt.dtype)
        self.n_rows_computed = 0
        self.cache_bytes = int(cache_bytes)
        self.K = None
        # Rows kept for the lazy greedy's likeliest re-evaluations (pin_rows):
        # pool index -> row of hot_K, -1 when not kept.
        self.hot_K = None
        self.hot_pos = None
        self.hot_owner = None
        # Pool-length "how likely is this row to be asked for again" (the lazy
        # greedy's upper bounds, -inf once picked), set when rows are kept;
        # decides which kept row a freshly computed one replaces.
        self.priority = None
        if self.torch is None and n * n * X.dtype.itemsize <= cache_bytes:
            # Small pools: the dense kernel fits the user's cache budget, so
            # every later row is a memory read instead of a product and an exp.
            self.K = np.empty((n, n), dtype=X.dtype)
            for sl in iter_row_blocks(n, self.block_rows):
                self.K[sl] = kernel_block(X[sl], X, bandwidth, kernel, a_sq=self.sq[sl], b_sq=self.sq)

    def _block_numpy(self, idx):
        if self.K is not None:
            return self.K[idx]
        idx = np.asarray(idx)
        if self.hot_pos is None:
            return kernel_block(self.X[idx], self.X, self.bandwidth, self.kernel,
                                a_sq=self.sq[idx], b_sq=self.sq)
        pos = self.hot_pos[idx]
        kept = pos >= 0
        if kept.all():
            return self.hot_K[pos]
        out = np.empty((idx.size, self.X.shape[0]), dtype=self.X.dtype)
        out[kept] = self.hot_K[pos[kept]]
        miss = idx[~kept]
        out[~kept] = kernel_block(self.X[miss], self.X, self.bandwidth, self.kernel,
                                  a_sq=self.sq[miss], b_sq=self.sq)
        self._keep(miss, out[~kept])
        return out

    def _keep(self, idx: np.ndarray, K: np.ndarray) -> None:
        """Keep freshly computed rows in place of the least promising kept ones.

        The front-runners move as picks cover one region after another; a row
        that had to be computed is likely to be asked for again, while a kept
        row whose candidate was picked or fell far behind (``priority``) is not.
        """
        owners_prio = np.where(self.hot_owner >= 0,
                               self.priority[np.maximum(self.hot_owner, 0)], -np.inf)
        take = min(idx.size, owners_prio.size)
        order = np.argsort(-self.priority[idx], kind="stable")[:take]
        victims = np.argpartition(owners_prio, take - 1)[:take] if take < owners_prio.size \
            else np.arange(owners_prio.size)
        victims = victims[np.argsort(owners_prio[victims], kind="stable")]
        better = self.priority[idx[order]] > owners_prio[victims]
        order, victims = order[better], victims[better]
        old = self.hot_owner[victims]
        self.hot_pos[old[old >= 0]] = -1
        self.hot_K[victims] = K[order]
        self.hot_owner[victims] = idx[order]
        self.hot_pos[idx[order]] = victims

    def pin_rows(self, idx: np.ndarray, priority: np.ndarray) -> int:
        """Compute the rows of ``idx`` once and keep them, within ``cache_bytes``.

        The lazy greedy re-evaluates the same few thousand front-runners after
        every pick; each re-evaluation of a kept row is then a memory read
        instead of a product and an ``exp`` over the whole pool. Rows are
        kept in the order given (most promising first) until the budget is
        spent; rows computed later replace the least promising kept ones
        (:meth:`_keep`), judged by ``priority`` (pool-length; the caller
        updates it in place as its bounds change). NumPy path without a dense
        kernel only; returns the number of rows kept.
        """
        n = self.X.shape[0]
        if self.torch is not None or self.K is not None or n == 0:
            return 0
        h = min(np.asarray(idx).size, self.cache_bytes // (n * self.X.dtype.itemsize))
        # On overlapping clusters the lazy greedy ends up re-evaluating nearly
        # every candidate a few times: kept rows pay when they are most of
        # them (20k x 512: 23.9 s -> 16.1 s with 65 % kept), not when they
        # are a tenth (50k x 512: no faster, 1 GiB more memory).
        if h <= 0 or 2 * h < np.asarray(idx).size:
            return 0
        keep = np.asarray(idx[:h], dtype=np.int64)
        self.hot_K = np.empty((h, n), dtype=self.X.dtype)
        for sl in iter_row_blocks(h, self.block_rows):
            rows = keep[sl]
            self.hot_K[sl] = kernel_block(self.X[rows], self.X, self.bandwidth, self.kernel,
                                          a_sq=self.sq[rows], b_sq=self.sq)
        self.hot_pos = np.full(n, -1, dtype=np.int64)
        self.hot_pos[keep] = np.arange(h)
        self.hot_owner = keep.copy()
        self.priority = priority
        return h

    def _block_torch(self, idx):
        torch = self.torch
        it = torch.from_numpy(np.asarray(idx)).to(self.Xt.device)
        d2 = self.sqt[it][:, None] + self.sqt[None, :] - 2.0 * (self.Xt[it] @ self.Xt.T)
        d2.clamp_(min=0.0)
        if self.kernel == "rbf":
            return torch.exp(d2 * (-1.0 / self.bandwidth ** 2))
        return torch.exp(torch.sqrt(d2) * (-1.0 / self.bandwidth))

    def gains(self, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
        """``mean_y max(k(x, y) - m(y), 0)`` for every ``x`` in ``idx``."""
        out = np.empty(idx.size, dtype=np.float64)
        mt = None
        if self.torch is not None:
            mt = self.torch.from_numpy(m).to(self.Xt.device).to(self.Xt.dtype)
        for sl in iter_row_blocks(idx.size, self.block_rows):
            if self.torch is None:
                K = self._block_numpy(idx[sl])
                K -= m.astype(K.dtype, copy=False)[None, :]
                np.maximum(K, 0.0, out=K)
                out[sl] = K.mean(axis=1, dtype=np.float64)
            else:
                K = self._block_torch(idx[sl])
                K.sub_(mt[None, :]).clamp_(min=0.0)
                out[sl] = K.double().mean(dim=1).cpu().numpy()
        self.n_rows_computed += idx.size
        return out

    def all_gains_symmetric(self, m: np.ndarray) -> np.ndarray:
        """``mean_y max(k(x, y) - m(y), 0)`` for every pool point, from upper-triangle tiles.

        The kernel is symmetric: tile ``(I, J)`` gives rows ``I`` against
        ``m[J]`` and, transposed, rows ``J`` against ``m[I]``, so the first pass
        costs half the products of ``gains(arange(n), m)``. NumPy path only.
        """
        n = self.X.shape[0]
        b = max(256, min(n, int(np.sqrt(self.block_rows * n))))
        acc = np.zeros(n, dtype=np.float64)
        has_m = bool(np.any(m > 0))
        m32 = m.astype(self.X.dtype)
        entries = 0
        for i0 in range(0, n, b):
            rows_i = slice(i0, min(n, i0 + b))
            for j0 in range(i0, n, b):
                rows_j = slice(j0, min(n, j0 + b))
                K = kernel_block(self.X[rows_i], self.X[rows_j], self.bandwidth, self.kernel,
                                 a_sq=self.sq[rows_i], b_sq=self.sq[rows_j])
                entries += K.size
                if not has_m:  # k >= 0: the clip is a no-op
                    acc[rows_i] += K.sum(axis=1, dtype=np.float64)
                    if j0 != i0:
                        acc[rows_j] += K.sum(axis=0, dtype=np.float64)
                    continue
                if j0 != i0:
                    T = K - m32[rows_i][:, None]
                    np.maximum(T, 0.0, out=T)
                    acc[rows_j] += T.sum(axis=0, dtype=np.float64)
                    del T
                K -= m32[rows_j][None, :]
                np.maximum(K, 0.0, out=K)
                acc[rows_i] += K.sum(axis=1, dtype=np.float64)
        self.n_rows_computed += int(round(entries / n))
        return acc / n

    def max_over(self, idx: np.ndarray) -> np.ndarray:
        """``max_{x in idx} k(x, y)`` for every pool point ``y`` (0 when empty)."""
        out = np.zeros(self.X.shape[0], dtype=np.float64)
        for sl in iter_row_blocks(idx.size, self.block_rows):
            if self.torch is None:
                np.maximum(out, self._block_numpy(idx[sl]).max(axis=0), out=out)
            else:
                blk = self._block_torch(idx[sl]).max(dim=0).values.double().cpu().numpy()
                np.maximum(out, blk, out=out)
        self.n_rows_computed += idx.size
        return out


def lazy_greedy_herding(rows: _KernelRows, m: np.ndarray, candidates: np.ndarray, budget: int,
                        rng: np.random.Generator, *, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Exact greedy on the facility-location objective ``mean_y max_x k(x, y)``.

    The objective is monotone submodular, so a candidate's gain can only
    shrink as picks accumulate: stale gains are valid upper bounds. A pick is
    accepted when its freshly computed gain beats every other upper bound
    (within a relative tolerance, so that ties go to a uniformly random
    member of the tied set, as the plain greedy would). Stale candidates are
    re-evaluated ``batch`` at a time in one tile.

    Parameters
    ----------
    rows : _KernelRows
    m : ndarray of shape (n_samples,)
        Current coverage ``max_x k(x, y)`` of every pool point; updated in place.
    candidates : ndarray of int
        Selectable pool indices.
    budget : int
    rng : numpy Generator
    batch : int, default=64

    Returns
    -------
    picks : ndarray of int64, shape (budget,)
    gains : ndarray of float64, shape (budget,)
        The marginal gain of every pick.
    """
    n = m.size
    if rows.torch is None and rows.K is None and candidates.size > n // 2:
        # Most of the pool is a candidate: one symmetric pass (half the
        # products) gives every gain; they enter as slightly inflated upper
        # bounds, so each pick is still confirmed by a fresh row evaluation.
        ub = rows.all_gains_symmetric(m)[candidates] * (1.0 + _SYMMETRIC_UB_SLACK)
        fresh = np.zeros(candidates.size, dtype=bool)
        # Submodularity keeps the front-runners in front: keep their rows.
        priority = np.full(n, -np.inf)
        priority[candidates] = ub
        rows.pin_rows(candidates[np.argsort(-ub, kind="stable")], priority)
    else:
        ub = rows.gains(candidates, m)
        fresh = np.ones(candidates.size, dtype=bool)
    # A zero upper bound is exact (gains are >= 0), so those entries never go stale.
    alive = np.ones(candidates.size, dtype=bool)
    picks = np.empty(budget, dtype=np.int64)
    gains = np.empty(budget, dtype=np.float64)
    for t in range(budget):
        while True:
            val = np.where(alive, ub, -np.inf)
            known = alive & (fresh | (ub <= 0.0))
            best = val[known].max() if known.any() else -np.inf
            tol = 1e-12 * max(1.0, abs(best)) if np.isfinite(best) else 0.0
            stale = alive & ~known & (ub >= best - tol)
            if not stale.any():
                break
            st = np.flatnonzero(stale)
            if st.size > batch:
                st = st[np.argpartition(-ub[st], batch - 1)[:batch]]
            ub[st] = rows.gains(candidates[st], m)
            fresh[st] = True
            if rows.priority is not None:
                rows.priority[candidates[st]] = ub[st]
        ties = np.flatnonzero(known & (val >= best - tol))
        j = int(ties[rng.integers(ties.size)]) if ties.size > 1 else int(ties[0])
        picks[t] = candidates[j]
        gains[t] = ub[j]
        alive[j] = False
        np.maximum(m, rows.max_over(candidates[j:j + 1]), out=m)
        if rows.priority is not None:
            rows.priority[candidates[j]] = -np.inf
        fresh[:] = False
    return picks, gains


class MaxHerding(CoverageStrategyMixin, QueryStrategy):
    """MaxHerding: greedily maximise the kernel coverage of the pool.

    With kernel ``k`` and coverage ``m(y) = max_x k(x, y)`` over the covering
    labeled points ``x``, each pick is the unlabeled ``x`` maximising
    ``mean_y max(k(x, y) - m(y), 0)`` over the *whole* pool. The objective is
    submodular, so the greedy is run lazily and exactly: the kernel is never
    held as an ``N x N`` matrix, its rows are recomputed in tiles when needed,
    and the whole pool is used (the reference code subsamples to 35,000
    points because it builds the dense kernel).

    Parameters
    ----------
    bandwidth : float or "auto", default="auto"
        Kernel width ``sigma``. ``"auto"`` is the median heuristic (the median
        pairwise distance of a 2,000-point sample), so the strategy never
        fails for want of a width.
    kernel : {"rbf", "laplacian"}, default="rbf"
        ``"rbf"``: ``exp(-(||x - y|| / sigma)**2)``, the paper's kernel.
    noisy_weight : float in [0, 1], default=0.0
        Labeled points outside ``covering`` cover with their kernel scaled by
        this weight: ``m(y) = max(max_c k(c, y), w * max_n k(n, y))``.
        0 ignores them (NAS), 1 counts them fully.
    n_candidates : int or None, default=None
        When set, only this many unlabeled points drawn at random are
        candidates (the objective still averages over the whole pool).
        ``None`` considers every unlabeled point.
    block_rows : int or None, default=None
        Kernel rows per tile (``None``: about 256 MiB per tile).
    cache_bytes : int, default=1 GiB
        When the dense ``N x N`` kernel takes at most this many bytes it is
        computed once and kept for the call (re-evaluations become reads);
        above it, rows are recomputed tile by tile. 0 never caches.
    device : str or None, default=None
        ``None`` uses NumPy/BLAS; a torch device string (``"cuda"``,
        ``"cpu"``, ``"auto"``) computes the kernel tiles with torch there.
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking, the bandwidth sample and candidate subsampling.

    Attributes
    ----------
    bandwidth_ : float
        The width used by the last call.
    gains_ : ndarray of shape (budget,)
        Marginal coverage gain of each pick of the last call.
    objective_ : float
        ``mean_y m(y)`` after the last call's picks.
    n_kernel_rows_ : int
        Kernel rows evaluated by the last call (shows the lazy greedy's savings
        against ``budget x n_candidates``).

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import MaxHerding
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> MaxHerding(random_state=0).select(X, 4).shape
    (4,)
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "kernel": [StrOptions({"rbf", "laplacian"})],
        "noisy_weight": [Interval(Real, 0, 1, closed="both")],
        "n_candidates": [Interval(Integral, 1, None, closed="left"), None],
        "block_rows": [Interval(Integral, 1, None, closed="left"), None],
        "cache_bytes": [Interval(Integral, 0, None, closed="left")],
        "device": [str, None],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    def __init__(self, bandwidth="auto", kernel="rbf", *, noisy_weight=0.0, n_candidates=None,
                 block_rows=None, cache_bytes=2**30, device=None, random_state=None):
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.noisy_weight = noisy_weight
        self.n_candidates = n_candidates
        self.block_rows = block_rows
        self.cache_bytes = cache_bytes
        self.device = device
        self.random_state = random_state

    graded_coverage = True

    def initial_coverage(self, rows: _KernelRows, labeled: np.ndarray,
                         covering: np.ndarray,
                         covering_weight: np.ndarray | None = None) -> np.ndarray:
        """``m(y)`` from the covering points and the down-weighted other labeled points.

        With ``covering_weight``, a covering point ``c`` counts as
        ``w_c * k(c, y)``: ``m(y) = max_c w_c k(c, y)``.
        """
        if covering_weight is None or (covering_weight >= 1.0).all():
            m = rows.max_over(covering)
        else:
            m = rows.max_over(covering[covering_weight >= 1.0])
            partial = covering_weight < 1.0
            # One kernel pass per distinct weight (NAS passes one or two).
            for w in np.unique(covering_weight[partial]):
                np.maximum(m, w * rows.max_over(covering[covering_weight == w]), out=m)
        noisy = np.setdiff1d(labeled, covering)
        if noisy.size and self.noisy_weight > 0:
            np.maximum(m, self.noisy_weight * rows.max_over(noisy), out=m)
        return m

    def _select(self, X, budget, *, labeled, covering, estimator, rng, covering_weight=None):
        if self.bandwidth == "auto":
            self.bandwidth_ = median_bandwidth(X, random_state=rng)
        else:
            self.bandwidth_ = float(self.bandwidth)
        rows = _KernelRows(X, self.bandwidth_, self.kernel, self.block_rows, self.device,
                           cache_bytes=self.cache_bytes)
        m = self.initial_coverage(rows, labeled, covering, covering_weight)
        selectable = np.ones(X.shape[0], dtype=bool)
        selectable[labeled] = False
        candidates = np.flatnonzero(selectable)
        if self.n_candidates is not None and self.n_candidates < candidates.size:
            keep = max(self.n_candidates, budget)
            candidates = np.sort(rng.choice(candidates, size=keep, replace=False))
        picks, gains = lazy_greedy_herding(rows, m, candidates, budget, rng)
        self.gains_ = gains
        self.objective_ = float(m.mean())
        self.n_kernel_rows_ = int(rows.n_rows_computed)
        return picks
