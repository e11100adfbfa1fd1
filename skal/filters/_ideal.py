"""The ideal filter: told the true noise, an upper bound for benchmarks."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import _num_samples

from ._base import NoiseFilter

__all__ = ["IdealFilter"]


class IdealFilter(NoiseFilter):
    """Flag exactly the labels known to be wrong (a ceiling, never a default).

    The reference NAS experiments run an "ideal" filter that knows which
    annotations are wrong, to measure how much a perfect filter could gain.
    This filter is told the truth by pool index (for instance
    ``NoisyOracle.is_noisy_``) and flags exactly the noisy labels among the
    ``sample_indices`` it is given. :meth:`fit_filter`, the filter contract a
    :class:`~skal.NoiseAwareActiveLearner` uses (it passes the indices to every
    filter), raises a ``ValueError`` when they are missing: judging labels by the
    wrong pool positions would silently give a false ceiling.

    As a plain scikit-learn transformer, ``fit(X, y)`` without
    ``sample_indices`` reads ``is_noisy`` row by row: row ``i`` of ``X`` is pool
    point ``i`` (so ``is_noisy`` needs at least ``len(X)`` entries).

    Parameters
    ----------
    is_noisy : array-like of bool, shape (n_pool,)
        ``True`` where the annotator's label of that pool point is wrong.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        1.0 for a clean label, 0.0 for a noisy one.
    threshold_ : float
        0.5.
    sample_indices_ : ndarray of int
        The pool indices judged.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from skal.filters import IdealFilter
    >>> is_noisy = np.array([False, True, False, True, False])
    >>> X = np.eye(5)[[0, 1, 3]]
    >>> IdealFilter(is_noisy).fit_filter(X, [0, 1, 1], sample_indices=[0, 1, 3])
    array([ True, False, False])
    """

    uses_sample_indices = True
    accepts_sparse = True

    _parameter_constraints: dict = {"is_noisy": ["array-like"]}

    def __init__(self, is_noisy):
        self.is_noisy = is_noisy

    def fit(self, X, y, X_unlabeled=None, *, sample_indices=None, X_pool=None):
        """Fit on rows ``0 .. len(X) - 1`` of ``is_noisy`` unless ``sample_indices`` is given.

        Returns
        -------
        self : IdealFilter
        """
        if sample_indices is None and y is not None:
            sample_indices = np.arange(_num_samples(y))
        return super().fit(X, y, X_unlabeled, sample_indices=sample_indices, X_pool=X_pool)

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng, sample_indices):
        truth = np.asarray(self.is_noisy)
        if truth.ndim != 1:
            raise ValueError(f"is_noisy must be 1-D (one flag per pool point), got shape "
                             f"{truth.shape}")
        if truth.dtype != bool:
            if not (np.issubdtype(truth.dtype, np.integer) and np.isin(truth, (0, 1)).all()):
                raise TypeError(f"is_noisy must hold booleans, got dtype {truth.dtype}")
            truth = truth.astype(bool)
        if sample_indices.size and sample_indices.max() >= truth.size:
            raise ValueError(
                f"sample_indices holds {int(sample_indices.max())}, but is_noisy covers only "
                f"{truth.size} pool points"
            )
        noisy = truth[sample_indices]
        scores = np.where(noisy, 0.0, 1.0)
        return scores, 0.5, ~noisy

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
