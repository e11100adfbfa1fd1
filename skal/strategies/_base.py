"""Base class and shared plumbing for query strategies."""

from __future__ import annotations

import hashlib
from abc import ABCMeta, abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.base import BaseEstimator

from .._validation import check_budget, check_embeddings, check_indices, check_random_state

__all__ = ["QueryStrategy", "CoverageStrategyMixin", "pool_fingerprint"]

#: Constraint of every strategy's ``random_state`` (numpy Generators included).
RANDOM_STATE_CONSTRAINT = ["random_state", np.random.Generator]
# Largest dense copy (bytes) of a sparse pool that a coverage strategy makes
# by itself; above it the user is told to reduce the pool first.
_DENSIFY_MAX_BYTES = 2**30


def pool_fingerprint(X: np.ndarray) -> str:
    """A cheap identity of a pool, used to reuse per-pool structures across rounds."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((X.shape, X.dtype.str)).encode())
    h.update(memoryview(np.ascontiguousarray(X)).cast("B"))
    return h.hexdigest()


class QueryStrategy(BaseEstimator, metaclass=ABCMeta):
    """Base class of every query strategy.

    A strategy is a parameter holder: its ``__init__`` stores parameters only,
    and :meth:`select` picks a batch of pool indices. Structures that depend on
    the pool alone (a δ-ball graph, a kernel, a clustering) may be cached on the
    instance between calls on the same pool, in attributes ending with ``_``.

    Subclasses implement :meth:`_select`, which receives already validated
    inputs; :meth:`select` does the validation so that every strategy rejects
    bad input the same way.
    """

    #: Whether the strategy needs a fitted ``estimator`` with ``predict_proba``.
    requires_estimator: bool = False
    #: Whether the ``covering`` argument changes the strategy's picks (NAS).
    uses_covering: bool = False
    #: Whether coverage is graded, so that ``covering_weight`` can scale a
    #: covering point's share of it (MaxHerding's kernel). Other strategies
    #: count every covering point fully.
    graded_coverage: bool = False
    #: Whether the strategy reads ``X`` only through ``estimator`` (sparse
    #: pools are then passed through untouched) rather than as embeddings.
    passes_X_to_estimator: bool = False

    _parameter_constraints: dict = {"random_state": RANDOM_STATE_CONSTRAINT}

    def select(self, X: Any, budget: int, *, labeled: Any = None, covering: Any = None,
               estimator: Any = None, covering_weight: Any = None) -> np.ndarray:
        """Select ``budget`` pool indices to send to the annotator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The whole pool (embeddings), labeled points included.
        budget : int
            Number of points to select; at most the number of unlabeled points.
        labeled : array-like of int, optional
            Pool indices already bought; they are never selected again.
        covering : array-like of int, optional
            The subset of ``labeled`` whose coverage counts (NAS passes the
            predicted-clean points here). Defaults to all of ``labeled``.
        estimator : object, optional
            A fitted model, for model-based strategies.
        covering_weight : array-like of float in (0, 1], optional
            One weight per ``covering`` index: how much of its coverage counts
            (NAS passes less than 1 for labels it is unsure of). Strategies
            with graded coverage (``graded_coverage``, MaxHerding) scale the
            point's kernel by it; the others count every covering point
            fully. Defaults to 1 for all.

        Returns
        -------
        indices : ndarray of shape (budget,), dtype int64
            Unique pool indices, none of them in ``labeled``, in pick order.
        """
        # Same switch as scikit-learn's ``_fit_context``: declared constraints,
        # InvalidParameterError (a ValueError and TypeError) naming the parameter.
        if not get_config()["skip_parameter_validation"]:
            self._validate_params()
        X = self._check_pool(X)
        n = X.shape[0]
        labeled = check_indices(labeled, n, "labeled")
        if covering is None:
            covering = labeled
        else:
            covering = check_indices(covering, n, "covering")
            extra = np.setdiff1d(covering, labeled)
            if extra.size:
                raise ValueError(
                    f"covering must be a subset of labeled; {extra.size} index(es) are not labeled, "
                    f"e.g. {extra[:5].tolist()}"
                )
        covering_weight = _check_covering_weight(covering_weight, covering.size)
        budget = check_budget(budget, n - labeled.size)
        if self.requires_estimator:
            if estimator is None:
                raise ValueError(
                    f"{type(self).__name__} needs a fitted estimator with predict_proba; "
                    "pass estimator=..."
                )
            if not hasattr(estimator, "predict_proba"):
                raise TypeError(
                    f"estimator must implement predict_proba, got {type(estimator).__name__}"
                )
        rng = check_random_state(self.random_state)
        graded = {}
        if self.graded_coverage and covering_weight is not None:
            graded["covering_weight"] = covering_weight
        picks = np.asarray(
            self._select(X, budget, labeled=labeled, covering=covering,
                         estimator=estimator, rng=rng, **graded),
            dtype=np.int64,
        )
        self._check_picks(picks, budget, labeled, n)
        return picks

    def _check_pool(self, X: Any):
        """Validated pool: dense embeddings, or a CSR matrix for estimator-only strategies."""
        if not sp.issparse(X):
            return check_embeddings(X, "X")
        if self.passes_X_to_estimator:
            from sklearn.utils import check_array

            return check_array(X, accept_sparse="csr", dtype=(np.float64, np.float32),
                               input_name="X")
        # Coverage strategies measure distances between rows: a sparse pool
        # (TF-IDF, one-hot) is densified when that is cheap, else refused with
        # the usual remedy rather than a failure deep inside a kernel.
        n_bytes = X.shape[0] * X.shape[1] * 4
        if n_bytes > _DENSIFY_MAX_BYTES:
            raise ValueError(
                f"X is a sparse {X.shape[0]} x {X.shape[1]} matrix; {type(self).__name__} works on "
                f"dense embeddings and a dense copy would take {n_bytes / 2**30:.1f} GiB. Reduce it "
                "first, e.g. sklearn.decomposition.TruncatedSVD(n_components=256).fit_transform(X) "
                "(for TF-IDF, followed by sklearn.preprocessing.normalize), and pass the result."
            )
        return check_embeddings(X.astype(np.float32).toarray(), "X")

    def pool_graph(self, X: np.ndarray):
        """The neighbourhood graph this strategy built for pool ``X``, if any.

        Coverage strategies that build one (ProbCover's δ-ball graph) return
        it so that a filter can walk the same graph instead of building its
        own (:class:`~skal.filters.GraphFilter` with ``graph="auto"``).
        ``None`` when the strategy has no graph, or none for this pool.
        """
        return None

    # -- persistable per-pool cache -----------------------------------------
    def get_pool_cache(self) -> dict[str, np.ndarray]:
        """The expensive per-pool structures of the last call, as plain arrays.

        Returns
        -------
        arrays : dict of str to ndarray
            Numeric arrays plus ``"fingerprint"``, a string array identifying
            the pool and the parameters they were built for; empty when the
            strategy caches nothing (the default) or has not run yet. The
            learner stores them with its state and hands them back to
            :meth:`set_pool_cache` after loading.
        """
        return {}

    def set_pool_cache(self, X: Any, arrays: dict[str, np.ndarray]) -> bool:
        """Restore what :meth:`get_pool_cache` returned, if it belongs to pool ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool the next :meth:`select` will receive.
        arrays : dict of str to ndarray
            A cache saved earlier.

        Returns
        -------
        restored : bool
            Whether the cache matched ``X`` and the current parameters and was
            installed. A cache of another pool, other parameters, or one that
            fails its integrity checks is ignored (never trusted): the next
            :meth:`select` rebuilds what it needs.
        """
        return False

    def _cache_fingerprint(self, X: np.ndarray, params: tuple) -> np.ndarray:
        """String array tying a cache to pool ``X`` and the parameters in ``params``."""
        return np.array([self._pool_key(X), type(self).__name__, repr(params)])

    def _cache_matches(self, X: Any, arrays: Any, params: tuple) -> np.ndarray | None:
        """Validated pool ``X`` when ``arrays`` carries its fingerprint, else ``None``."""
        if not isinstance(arrays, dict) or "fingerprint" not in arrays:
            return None
        try:
            X = self._check_pool(X)
            fp = np.asarray(arrays["fingerprint"])
            want = self._cache_fingerprint(X, params)
        except (TypeError, ValueError):
            return None
        if fp.shape != want.shape or fp.dtype.kind not in "US" or not np.array_equal(fp, want):
            return None
        return X

    @abstractmethod
    def _select(self, X: np.ndarray, budget: int, *, labeled: np.ndarray,
                covering: np.ndarray, estimator: Any,
                rng: np.random.Generator) -> np.ndarray:
        """Pick ``budget`` unlabeled indices (inputs are validated)."""

    def _pool_key(self, X: np.ndarray) -> str:
        """Fingerprint of pool ``X``, memoised per array object.

        Hashing the whole pool costs about 0.1 s per 100 MB, and a NAS round
        calls ``select`` once per share on the same array, so the full hash is
        kept with the array's identity (address, data pointer, shape, strides)
        and a hash of 64 spread-out rows, and redone only when those change.
        A pool edited in place in other rows is not noticed: pass a new array
        (or a clone of the strategy) after editing one.
        """
        probe_rows = np.linspace(0, X.shape[0] - 1, min(X.shape[0], 64)).astype(np.int64)
        probe = hashlib.blake2b(np.ascontiguousarray(X[probe_rows]).tobytes(),
                                digest_size=8).hexdigest()
        ident = (id(X), X.__array_interface__["data"][0], X.shape, X.strides, X.dtype.str, probe)
        cached = getattr(self, "_pool_fp", None)
        if cached is not None and cached[0] == ident:
            return cached[1]
        key = pool_fingerprint(X)
        self._pool_fp = (ident, key)
        return key

    @staticmethod
    def _check_picks(picks: np.ndarray, budget: int, labeled: np.ndarray, n: int) -> None:
        # A broken strategy must never silently spend the user's budget twice.
        if picks.shape != (budget,) or np.unique(picks).size != budget:
            raise RuntimeError(f"internal error: strategy returned {picks.size} picks for budget {budget}")
        if picks.min() < 0 or picks.max() >= n or np.isin(picks, labeled).any():
            raise RuntimeError("internal error: strategy picked an index outside the unlabeled pool")

    def _more_tags(self):  # scikit-learn < 1.6
        return {"non_deterministic": False, "requires_fit": False}


class CoverageStrategyMixin:
    """Marker for coverage strategies (ProbCover, MaxHerding, Coreset, ...).

    These read ``covering`` so that NAS can rebuild coverage from the
    predicted-clean labeled points only, and accept ``noisy_weight``: the
    weight with which coverage by a labeled point that is *not* in
    ``covering`` still counts (0 = ignored, the plain NAS rule; ``p_hat``, the
    predicted clean rate, is the weighted variant of the design notes).
    """

    uses_covering = True


def _check_covering_weight(weight: Any, n_covering: int) -> np.ndarray | None:
    """``covering_weight`` as a float array, one value in (0, 1] per covering index."""
    if weight is None:
        return None
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("covering_weight must be an array of numbers, one per covering "
                        "index") from None
    if w.shape != (n_covering,):
        raise ValueError(f"covering_weight must hold one weight per covering index "
                         f"({n_covering}), got shape {w.shape}")
    if not np.all(np.isfinite(w)) or (w <= 0).any() or (w > 1).any():
        raise ValueError("covering_weight must lie in (0, 1]; leave a point out of covering "
                         "to ignore its coverage")
    return w


def random_choice_unlabeled(n: int, budget: int, labeled: np.ndarray,
                            rng: np.random.Generator) -> np.ndarray:
    """``budget`` distinct indices drawn uniformly from the unlabeled pool."""
    mask = np.ones(n, dtype=bool)
    mask[labeled] = False
    pool = np.flatnonzero(mask)
    return rng.choice(pool, size=budget, replace=False)
