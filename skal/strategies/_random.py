"""Uniform random sampling, the baseline every strategy is compared with."""

from __future__ import annotations

from ._base import QueryStrategy, random_choice_unlabeled

__all__ = ["RandomSampling"]


class RandomSampling(QueryStrategy):
    """Select unlabeled points uniformly at random.

    Parameters
    ----------
    random_state : int, numpy Generator or None, default=None
        Seed of the draw.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.strategies import RandomSampling
    >>> X = np.random.default_rng(0).normal(size=(20, 3))
    >>> RandomSampling(random_state=0).select(X, 3, labeled=[0, 1]).shape
    (3,)
    """

    # X is only counted: sparse pools pass through untouched.
    passes_X_to_estimator = True

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        return random_choice_unlabeled(X.shape[0], budget, labeled, rng)
