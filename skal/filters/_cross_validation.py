"""Cross-validation filter: a label is noisy when held-out models disagree with it."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import HasMethods, Interval

from ._base import MIN_CLASS_COUNT, RANDOM_STATE, NoiseFilter

__all__ = ["CrossValidationFilter"]


class CrossValidationFilter(NoiseFilter):
    """Flag a label as noisy when most held-out fold models disagree with it.

    The labeled set is split into ``n_splits`` stratified folds; for each fold a
    clone of ``estimator`` is trained on the *other* ``n_splits - 1`` folds and
    predicts the held-out one. With ``n_repeats > 1`` the split is redrawn, so
    every sample is judged by ``n_repeats`` models that never saw it. A label is
    noisy when more than half of those models predict another class.

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier; ``None`` uses
        ``LogisticRegression(max_iter=1000)``.
    n_splits : int, default=3
        Number of folds (at least 2). Reduced to the labeled-set size if needed.
    n_repeats : int, default=3
        Number of independent splits; each sample gets one vote per repeat.
    min_class_count : int, default=3
        Labels of classes with fewer examples are always kept: no held-out
        model can judge a class it has (almost) never seen.
    random_state : int, numpy Generator or None, default=None

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Fraction of held-out models that agree with the given label.
    threshold_ : float
        0.5: a label is kept when at least half of the models agree with it.
    proba_given_ : ndarray of shape (n_samples,)
        Held-out probability of the given label, averaged over repeats.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import CrossValidationFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:300], 0.3, random_state=0)
    >>> keep = CrossValidationFilter(random_state=0).fit_filter(X[:300], y_noisy)
    >>> bool((~keep[is_noisy]).mean() > 0.5)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
        "n_repeats": [Interval(numbers.Integral, 1, None, closed="left")],
        "min_class_count": MIN_CLASS_COUNT,
        "random_state": RANDOM_STATE,
    }
    accepts_sparse = True

    def __init__(self, estimator=None, *, n_splits=3, n_repeats=3, min_class_count=3,
                 random_state=None):
        self.estimator = estimator
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.min_class_count = min_class_count
        self.random_state = random_state

    def _make_estimator(self, seed: int | None = None):
        if self.estimator is None:
            return LogisticRegression(max_iter=1000)
        est = clone(self.estimator)
        # An unseeded estimator (a random forest) would make the filter's
        # decisions change from run to run despite the filter's random_state.
        params = est.get_params(deep=False)
        if seed is not None and "random_state" in params and params["random_state"] is None:
            est.set_params(random_state=seed)
        return est

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        n = X.shape[0]
        counts = np.bincount(y, minlength=n_classes)
        agree = np.zeros(n)
        proba_given = np.zeros(n)
        n_votes = np.zeros(n)
        n_splits = min(self.n_splits, n)
        for _ in range(self.n_repeats):
            seed = int(rng.integers(0, 2**31 - 1))
            if counts.min() >= n_splits:
                splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
            else:  # stratification impossible; plain folds still hold out each sample once
                splitter = KFold(n_splits, shuffle=True, random_state=seed)
            for fold, (train, test) in enumerate(splitter.split(X, y)):
                if np.unique(y[train]).size < 2:
                    continue  # a one-class model cannot judge anything
                model = self._make_estimator(seed + fold).fit(X[train], y[train])
                pred = np.asarray(model.predict(X[test]))
                agree[test] += pred == y[test]
                n_votes[test] += 1
                if hasattr(model, "predict_proba"):
                    proba = model.predict_proba(X[test])
                    col = np.searchsorted(model.classes_, y[test])
                    col = np.clip(col, 0, len(model.classes_) - 1)
                    known = model.classes_[col] == y[test]
                    proba_given[test] += np.where(known, proba[np.arange(test.size), col], 0.0)
        voted = n_votes > 0
        scores = np.ones(n)
        scores[voted] = agree[voted] / n_votes[voted]
        self.proba_given_ = np.where(voted, proba_given / np.maximum(n_votes, 1), 1.0)
        threshold = 0.5
        # Labels of classes below min_class_count are kept by NoiseFilter.fit_filter.
        return scores, threshold, scores >= threshold
