"""Base class of the noise filters."""

from __future__ import annotations

import numbers
from abc import ABCMeta, abstractmethod
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._validation import check_random_state
from ._pool import pool_identity

__all__ = ["NoiseFilter"]

#: The constraint every ``min_class_count`` parameter shares.
MIN_CLASS_COUNT = [Interval(numbers.Integral, 0, None, closed="left")]
#: ``random_state`` as the filters accept it (a Generator is accepted too).
RANDOM_STATE = ["random_state", np.random.Generator]

_FLOAT_DTYPES = [np.float64, np.float32]


class NoiseFilter(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of every noise filter.

    A filter looks at labeled data ``(X, y)`` and decides which labels it
    believes. :meth:`fit_filter` returns the decision as a boolean mask
    (``True`` = kept as clean); the fitted filter keeps per-sample
    ``scores_`` (higher = more trustworthy) and the decision ``threshold_``.

    A scikit-learn transformer cannot drop rows, so :meth:`transform` is the
    identity and :meth:`fit_resample` returns the cleaned data (the convention
    of imbalanced-learn's samplers).

    With fewer than two classes in ``y`` there is nothing to compare a label
    against: every label is kept (a documented no-op, ``threshold_`` is NaN).
    Filters with a ``min_class_count`` parameter also keep, unjudged, every
    label of a class with fewer than ``min_class_count`` labels: a model, a
    neighbourhood or a centroid cannot say much about a class it has seen once
    or twice, and dropping the only examples of a class hurts more than a
    wrong label does. A filter has no fixed class list: a label value seen
    for the first time is simply a class with one label, kept this way.

    Parameters are declared in ``_parameter_constraints`` and checked by
    scikit-learn's machinery when :meth:`fit_filter` (or :meth:`fit`) runs:
    a wrong type or range raises
    :class:`~sklearn.utils._param_validation.InvalidParameterError`, a
    ``ValueError``.

    Subclasses implement :meth:`_fit_filter` on validated inputs with labels
    encoded as ``0 .. n_classes - 1``. A filter that sets ``uses_pool`` (or
    ``uses_sample_indices``) also receives ``sample_indices`` (and
    ``X_pool``) there.
    """

    _parameter_constraints: dict = {}

    #: Whether the filter can use unlabeled pool points (``X_unlabeled``).
    uses_unlabeled: bool = False
    #: Whether the filter uses the whole pool (``X_pool``, labeled rows
    #: included) and the pool indices of the labeled rows. A learner passes
    #: ``X_pool`` only to such filters.
    uses_pool: bool = False
    #: Whether the filter needs ``sample_indices`` (without the pool).
    uses_sample_indices: bool = False
    #: Whether the filter can walk a neighbourhood graph of the pool given
    #: as ``pool_graph`` (the coverage strategy's); it then also receives
    #: ``pool_graph`` (or ``None``) in ``_fit_filter``.
    uses_pool_graph: bool = False
    #: Whether ``_fit_filter`` accepts ``scipy.sparse`` CSR matrices.
    accepts_sparse: bool = False

    #: Whether the decision is ``scores_ >= threshold_`` (outside protected
    #: small classes). Filters whose decision is not a threshold on their
    #: scores (confident learning) set it to False.
    _threshold_decision: bool = True

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_filter(self, X: Any, y: Any, *, X_unlabeled: Any = None,
                   sample_indices: Any = None, X_pool: Any = None,
                   pool_graph: Any = None) -> np.ndarray:
        """Fit the filter and return which labels to keep.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Features (embeddings) of the labeled points. Sparse matrices are
            accepted by the filters whose ``accepts_sparse`` is True; the
            others say so and suggest a dense reduction.
        y : array-like of shape (n_samples,)
            The labels the annotator gave (any label values).
        X_unlabeled : {array-like, sparse matrix} of shape (n_unlabeled, n_features), optional
            Unlabeled pool points, for filters that use them (AUM draws its
            threshold samples there; pool filters treat ``[X; X_unlabeled]``
            as the pool when ``X_pool`` is not given).
        sample_indices : array-like of int, shape (n_samples,), optional
            Pool index of each labeled row: unique non-negative integers
            (within ``X_pool`` when it is given). Needed by filters that judge
            labels by pool position (:class:`IdealFilter`) and used by pool
            filters to find the labeled rows in ``X_pool``.
        X_pool : {array-like, sparse matrix} of shape (n_pool, n_features), optional
            The whole pool, labeled rows included (``X_pool[sample_indices]``
            are the rows of ``X``), for filters with ``uses_pool = True``;
            requires ``sample_indices``. Ignored by the other filters.
        pool_graph : sparse matrix of shape (n_pool, n_pool), optional
            A symmetric neighbourhood graph of ``X_pool`` (row ``i`` lists the
            neighbours of pool point ``i``), e.g. the δ-ball graph the coverage
            strategy built (:meth:`QueryStrategy.pool_graph
            <skal.strategies.QueryStrategy.pool_graph>`). Filters with
            ``uses_pool_graph = True`` walk it instead of building their own;
            requires ``X_pool``. Ignored by the other filters.

        Returns
        -------
        clean_mask : ndarray of bool, shape (n_samples,)
            ``True`` where the label is kept as clean.
        """
        X, y = self._validate_Xy(X, y)
        X_unlabeled = self._check_other(X_unlabeled, "X_unlabeled", X.shape[1])
        if X_unlabeled is not None and X_unlabeled.shape[0] == 0:
            X_unlabeled = None
        X_pool = self._check_other(X_pool, "X_pool", X.shape[1]) if self.uses_pool else None
        if X_pool is not None and sample_indices is None:
            raise ValueError("X_pool was given without sample_indices: pass the pool index of "
                             "every labeled row")
        if self.uses_sample_indices and sample_indices is None:
            raise ValueError(
                f"{type(self).__name__} needs sample_indices, the pool index of every labeled "
                "row (NoiseAwareActiveLearner passes them; when calling fit_filter yourself, "
                "pass sample_indices=...)"
            )
        n_pool = X_pool.shape[0] if X_pool is not None else None
        if pool_graph is not None and self.uses_pool_graph:
            pool_graph = _check_pool_graph(pool_graph, n_pool)
        else:
            pool_graph = None
        self.sample_indices_ = (None if sample_indices is None
                                else _check_sample_indices(sample_indices, y.shape[0], n_pool))
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        # Per-label extras a filter may give (proposed labels, clean
        # probabilities) must never outlive the fit that made them.
        for extra_attr in ("proposed_labels_", "proposal_proba_", "clean_proba_", "noise_rate_",
                           "pool_clean_proba_", "temperature_"):
            self.__dict__.pop(extra_attr, None)
        if n_classes < 2:
            scores = np.ones(X.shape[0])
            threshold = float("nan")
            mask = np.ones(X.shape[0], dtype=bool)
        else:
            rng = check_random_state(getattr(self, "random_state", None))
            y_enc = y_enc.astype(np.int64).ravel()
            extra = {}
            if self.uses_pool or self.uses_sample_indices:
                extra["sample_indices"] = self.sample_indices_
            if self.uses_pool:
                extra["X_pool"] = X_pool
            if self.uses_pool_graph:
                extra["pool_graph"] = pool_graph
            scores, threshold, mask = self._fit_filter(
                X, y_enc, n_classes, X_unlabeled=X_unlabeled, rng=rng, **extra
            )
            min_count = getattr(self, "min_class_count", 0)
            if min_count:
                mask = np.asarray(mask, dtype=bool) | _small_class_mask(y_enc, n_classes, min_count)
        self.scores_ = np.asarray(scores, dtype=np.float64)
        self.threshold_ = float(threshold)
        self.clean_mask_ = np.asarray(mask, dtype=bool)
        return self.clean_mask_.copy()

    def _validate_Xy(self, X: Any, y: Any):
        """scikit-learn's validation of ``(X, y)`` plus the label checks it lacks."""
        if y is None:
            # scikit-learn's wording, so that generic tooling recognises a
            # supervised estimator called without a target.
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        if sp.issparse(X) and not self.accepts_sparse:
            raise TypeError(_sparse_message(self, "X"))
        X, y = validate_data(self, X, y, accept_sparse="csr" if self.accepts_sparse else False,
                             dtype=_FLOAT_DTYPES, y_numeric=False)
        if y.dtype == object:
            # Label values are compared and sorted: None has no place among them.
            if any(v is None for v in y):
                raise ValueError("y contains None; every label must be a valid class")
        return X, y

    def _check_other(self, A: Any, name: str, n_features: int):
        """Validate an extra pool array (``X_unlabeled``, ``X_pool``)."""
        if A is None:
            return None
        if sp.issparse(A) and not self.accepts_sparse:
            raise TypeError(_sparse_message(self, name))
        # The learner hands the same pool array every round: scanning 10^5
        # rows for NaN each time would cost more than some filters' work, so
        # a pool is scanned once, while its identity stays the same.
        ident = (pool_identity(A) if name == "X_pool" and isinstance(A, np.ndarray)
                 and A.ndim == 2 and A.shape[0] else None)
        scanned = ident is not None and getattr(self, "_finite_pool", None) == ident
        A = check_array(A, accept_sparse="csr" if self.accepts_sparse else False,
                        dtype=_FLOAT_DTYPES, ensure_min_samples=0, input_name=name,
                        ensure_all_finite=not scanned)
        if A.shape[1] != n_features:
            raise ValueError(f"{name} has {A.shape[1]} features but X has {n_features}")
        if ident is not None:
            self._finite_pool = ident
        return A

    @abstractmethod
    def _fit_filter(self, X: np.ndarray, y: np.ndarray, n_classes: int, *,
                    X_unlabeled: np.ndarray | None,
                    rng: np.random.Generator, **pool) -> tuple[np.ndarray, float, np.ndarray]:
        """Return ``(scores, threshold, clean_mask)`` for encoded labels ``y``.

        ``pool`` holds ``sample_indices`` (filters with ``uses_pool`` or
        ``uses_sample_indices``) and ``X_pool`` (filters with ``uses_pool``).
        """

    def fit(self, X: Any, y: Any, X_unlabeled: Any = None, *, sample_indices: Any = None,
            X_pool: Any = None, pool_graph: Any = None) -> NoiseFilter:
        """Fit the filter (see :meth:`fit_filter`) and return ``self``."""
        # Subclasses written before pool_graph existed may override fit_filter
        # without it: pass it only when there is one.
        extra = {} if pool_graph is None else {"pool_graph": pool_graph}
        self.fit_filter(X, y, X_unlabeled=X_unlabeled, sample_indices=sample_indices,
                        X_pool=X_pool, **extra)
        return self

    def __getstate__(self):
        # Pool caches speed up the next round; they are not state, and a
        # pickled filter must not carry a copy of the whole pool.
        state = super().__getstate__()
        for cache in ("_pool_cache", "_finite_pool"):
            state.pop(cache, None)
        return state

    def transform(self, X: Any):
        """Identity: a transformer cannot drop rows (use :meth:`fit_resample`)."""
        check_is_fitted(self, "clean_mask_")
        if sp.issparse(X) and not self.accepts_sparse:
            raise TypeError(_sparse_message(self, "X"))
        return validate_data(self, X, reset=False, dtype=_FLOAT_DTYPES,
                             accept_sparse="csr" if self.accepts_sparse else False)

    def fit_resample(self, X: Any, y: Any, *, X_unlabeled: Any = None,
                     sample_indices: Any = None, X_pool: Any = None):
        """Fit the filter and return the samples it keeps.

        Returns
        -------
        X_kept : ndarray or sparse matrix of shape (n_kept, n_features)
        y_kept : ndarray of shape (n_kept,)
        """
        mask = self.fit_filter(X, y, X_unlabeled=X_unlabeled, sample_indices=sample_indices,
                               X_pool=X_pool)
        X = check_array(X, accept_sparse="csr", dtype=_FLOAT_DTYPES)
        return X[mask], np.asarray(y).ravel()[mask]

    def _more_tags(self):  # scikit-learn < 1.6
        return {"requires_y": True, "preserves_dtype": [np.float64, np.float32]}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = self.accepts_sparse
        return tags


def _sparse_message(est: Any, name: str) -> str:
    return (f"{type(est).__name__} does not accept sparse {name}: pass a dense array "
            f"({name}.toarray()), or reduce a wide sparse matrix (TF-IDF) first, e.g. with "
            "sklearn.decomposition.TruncatedSVD(n_components=256); KNNFilter, CentroidFilter, "
            "CrossValidationFilter, ConfidentLearningFilter and FINEFilter take sparse input")


def _check_sample_indices(indices: Any, n_samples: int, n_pool: int | None) -> np.ndarray:
    """Validate the pool indices of the labeled rows."""
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"sample_indices must be 1-D, got an array of shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"sample_indices must hold integers, got dtype {arr.dtype}")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"sample_indices has {arr.shape[0]} entries but y has {n_samples} labels"
        )
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise ValueError(f"sample_indices must be non-negative, got {int(arr.min())}")
    if n_pool is not None and arr.size and arr.max() >= n_pool:
        raise ValueError(
            f"sample_indices holds {int(arr.max())}, outside X_pool's {n_pool} rows"
        )
    if np.unique(arr).size != arr.size:
        raise ValueError("sample_indices must be unique: each labeled row is one pool point")
    return arr


def _check_pool_graph(graph: Any, n_pool: int | None) -> sp.csr_matrix:
    """A square sparse graph over the pool, as CSR; clear errors otherwise."""
    if n_pool is None:
        raise ValueError("pool_graph was given without X_pool: pass the pool it belongs to")
    if not sp.issparse(graph):
        raise TypeError(f"pool_graph must be a scipy sparse matrix, got {type(graph).__name__}")
    if graph.shape != (n_pool, n_pool):
        raise ValueError(f"pool_graph has shape {graph.shape} but the pool has {n_pool} points")
    return sp.csr_matrix(graph)


def _small_class_mask(y: np.ndarray, n_classes: int, min_class_count: int) -> np.ndarray:
    """True for labels whose class has fewer than ``min_class_count`` labels."""
    return np.bincount(y, minlength=n_classes)[y] < min_class_count


def row_normalize(X):
    """Rows projected onto the unit sphere (zero rows stay zero); dense or CSR."""
    if sp.issparse(X):
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
        scale = 1.0 / np.maximum(norms, 1e-12)
        return sp.csr_matrix(sp.diags(scale) @ X)
    X = np.asarray(X, dtype=np.float64)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
