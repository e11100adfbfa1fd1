"""The ideal filter: told the true noise, an upper bound for benchmarks."""

from __future__ import annotations

import numpy as np

from ._base import NoiseFilter

__all__ = ["IdealFilter"]


class IdealFilter(NoiseFilter):
    """Flag exactly the labels known to be wrong (a ceiling, never a default).

    The reference NAS experiments run an "ideal" filter that knows which
    annotations are wrong, to measure how much a perfect filter could gain.
    This filter is told the truth by pool index (for instance
    ``NoisyOracle.is_noisy_``) and flags exactly the noisy labels among the
    ``sample_indices`` it is given. It cannot work without those indices:
    :meth:`fit_filter` raises a ``ValueError`` when they are missing (a
    :class:`~skal.NoiseAwareActiveLearner` passes them to every filter).

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
