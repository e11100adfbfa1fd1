"""Confident learning (Northcutt et al., 2021) on out-of-fold probabilities."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from ._base import MIN_CLASS_COUNT, RANDOM_STATE, NoiseFilter
from ._confident_joint import FILTER_BY, find_label_issues

__all__ = ["ConfidentLearningFilter", "out_of_fold_proba"]


def out_of_fold_proba(estimator: Any, X: np.ndarray, y: np.ndarray, n_classes: int, *,
                      n_splits: int = 5, random_state: int | None = None) -> np.ndarray:
    """Class probabilities of every sample from a model that never saw it.

    The same computation as :func:`sklearn.model_selection.cross_val_predict`
    with ``method="predict_proba"`` and a shuffled :class:`StratifiedKFold`
    (plain :class:`KFold` when some class has fewer than ``n_splits``
    members): classes missing from a fold's training part get probability 0.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        Cloned for each fold.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of int, shape (n_samples,)
        Labels in ``[0, n_classes)``.
    n_classes : int
    n_splits : int, default=5
        Reduced to ``n_samples`` when larger.
    random_state : int or None
        Seed of the fold shuffle.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)
    """
    if not hasattr(estimator, "predict_proba"):
        raise TypeError(
            f"estimator must implement predict_proba, got {type(estimator).__name__}"
        )
    n = X.shape[0]
    n_splits = min(n_splits, n)
    counts = np.bincount(y, minlength=n_classes)
    if counts.min() >= n_splits:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    else:  # stratification impossible; plain folds still hold out each sample once
        splitter = KFold(n_splits, shuffle=True, random_state=random_state)
    proba = np.zeros((n, n_classes))
    for train, test in splitter.split(X, y):
        seen = np.unique(y[train])
        if seen.size < 2:
            # A one-class training part can only say "that class".
            proba[np.ix_(test, seen)] = 1.0
            continue
        model = clone(estimator).fit(X[train], y[train])
        cols = np.asarray(model.classes_, dtype=np.int64)
        proba[np.ix_(test, cols)] = model.predict_proba(X[test])
    return proba


class ConfidentLearningFilter(NoiseFilter):
    """Confident learning: flag the labels that out-of-fold probabilities contradict.

    Out-of-fold class probabilities are computed with any scikit-learn
    classifier (:func:`out_of_fold_proba`); confident learning
    (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
    Dataset Labels", JAIR 2021) then estimates from them how many labels of
    each class belong to each other class (the calibrated *confident joint*)
    and flags that many labels, those with the largest margin towards the
    other class (:func:`skal.filters._confident_joint.find_label_issues`).
    Implemented here on NumPy; the flags equal those of cleanlab's
    ``find_label_issues`` on the same probabilities (checked by the tests).

    Parameters
    ----------
    estimator : classifier, default=None
        Any scikit-learn classifier with ``predict_proba``; ``None`` uses
        ``LogisticRegression(C=10, max_iter=1000)`` (unit-normalised embeddings
        have small norms, so the default ``C=1`` underfits them).
    n_splits : int, default=5
        Folds of the out-of-fold predictions.
    filter_by : str, default="prune_by_noise_rate"
        The flagging rule: ``"prune_by_noise_rate"``, ``"prune_by_class"``,
        ``"both"``, ``"confident_learning"``, ``"predicted_neq_given"``,
        ``"low_normalized_margin"`` or ``"low_self_confidence"`` (see
        :func:`~skal.filters._confident_joint.find_label_issues`).
    frac_noise : float in (0, 1], default=1.0
        Flag only this fraction of the estimated noise (pruning rules).
    min_examples_per_class : int, default=1
        Pruning leaves at least this many labels in each class.
    min_class_count : int, default=3
        Labels of classes with fewer labels are kept unjudged.
    random_state : int, numpy Generator or None, default=None
        Seeds the folds.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Self-confidence: the out-of-fold probability of the given label.
    threshold_ : float
        NaN: the decision is not a single threshold on ``scores_``.
    pred_probs_ : ndarray of shape (n_samples, n_classes)
        The out-of-fold probabilities (columns follow ``classes_``).
    label_issues_ : ndarray of bool
        The flags before small classes are protected.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import ConfidentLearningFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:500], 0.3, random_state=0)
    >>> keep = ConfidentLearningFilter(random_state=0).fit_filter(X[:500], y_noisy)
    >>> bool((~keep[is_noisy]).mean() > 0.7)
    True
    """

    _threshold_decision = False
    accepts_sparse = True

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "n_splits": [Interval(numbers.Integral, 2, None, closed="left")],
        "filter_by": [StrOptions(set(FILTER_BY))],
        "frac_noise": [Interval(numbers.Real, 0, 1, closed="right")],
        "min_examples_per_class": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_class_count": MIN_CLASS_COUNT,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, estimator=None, *, n_splits=5, filter_by="prune_by_noise_rate",
                 frac_noise=1.0, min_examples_per_class=1, min_class_count=3,
                 random_state=None):
        self.estimator = estimator
        self.n_splits = n_splits
        self.filter_by = filter_by
        self.frac_noise = frac_noise
        self.min_examples_per_class = min_examples_per_class
        self.min_class_count = min_class_count
        self.random_state = random_state

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        estimator = (LogisticRegression(C=10.0, max_iter=1000) if self.estimator is None
                     else self.estimator)
        proba = out_of_fold_proba(estimator, X, y, n_classes, n_splits=self.n_splits,
                                  random_state=int(rng.integers(0, 2**31 - 1)))
        issues = find_label_issues(y, proba, filter_by=self.filter_by,
                                   frac_noise=float(self.frac_noise),
                                   min_examples_per_class=int(self.min_examples_per_class))
        self.pred_probs_ = proba
        self.label_issues_ = issues
        scores = proba[np.arange(y.size), y]
        return scores, float("nan"), ~issues
