"""Checks on what a person or an oracle hands the learner: indices and labels.

Every check runs before the learner changes anything, so that a refused call
leaves the state exactly as it was.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.utils.multiclass import type_of_target

from .._validation import check_labels

__all__ = ["label_kind", "check_answer_labels", "check_pool_indices", "check_round_budget"]


def label_kind(labels: np.ndarray) -> str:
    """``"number"``, ``"string"`` or ``"object"``: what kind of values the labels are."""
    if labels.dtype == object:
        # Python ints or strings in an object array: judge the values, not the box.
        labels = np.array(labels.tolist())
    kind = labels.dtype.kind
    if kind in "biuf":
        return "number"
    if kind in "US":
        return "string"
    return "object"


def check_answer_labels(labels: Any, n_expected: int, *, name: str, previous: np.ndarray,
                        classes: np.ndarray | None) -> np.ndarray:
    """Validate an annotator's answer: class labels of one kind, in ``classes`` when fixed.

    Parameters
    ----------
    labels : array-like
        The answer.
    n_expected : int
        How many labels were asked for.
    name : str
        What to call the answer in messages.
    previous : ndarray
        Labels bought before (their kind must match).
    classes : ndarray or None
        The fixed label set, or None when any label is accepted.
    """
    labels = check_labels(labels, n_expected, name)
    if labels.dtype == object:
        kinds = {label_kind(np.array([v])) for v in labels.tolist()}
        if len(kinds) > 1:
            raise TypeError(f"{name} mix label types ({sorted(kinds)}); every label must be of "
                            "one type, all numbers or all strings")
    if label_kind(labels) == "number" and labels.size:
        numeric = np.asarray(labels.tolist(), dtype=np.float64)
        if not np.array_equal(numeric, np.round(numeric)):
            bad = numeric[numeric != np.round(numeric)][:5].tolist()
            raise ValueError(f"{name} hold non-integer numbers {bad}: class labels must be "
                             f"integers or strings (type of target: {type_of_target(numeric)!r})")
    if previous.size and label_kind(labels) != label_kind(previous):
        # Mixing, say, ints and strings would silently turn every label into
        # a string when the labels are gathered into one array.
        raise TypeError(f"{name} have dtype {labels.dtype}, but earlier labels are "
                        f"{label_kind(previous)}s; every answer must use the same label type")
    if classes is not None and classes.size and labels.size:
        unknown = ~np.isin(labels, classes)
        if unknown.any():
            raise ValueError(f"{name} hold label(s) {np.unique(labels[unknown])[:5].tolist()} "
                             f"outside the known classes {classes.tolist()}")
    return labels


def check_pool_indices(indices: Any, n_pool: int, name: str = "indices") -> np.ndarray:
    """Validate pool indices: 1-D integers in ``[0, n_pool)``, no duplicates."""
    if indices is None:
        raise TypeError(f"{name} must be an array of pool indices, got None")
    arr = np.asarray(indices)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and (arr.dtype == bool or arr.dtype.kind not in "iu"):
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer pool indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_pool):
        bad = arr[(arr < 0) | (arr >= n_pool)][:5].tolist()
        raise ValueError(f"{name} hold {bad}, outside the pool of {n_pool} points")
    unique, counts = np.unique(arr, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"{name} hold duplicates: {unique[counts > 1][:5].tolist()}")
    return arr


def check_round_budget(budget: Any, n_available: int, name: str = "budget") -> int:
    """A round's budget: a positive integer (no bools, no floats) within what is left."""
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {budget!r}")
    budget = int(budget)
    if budget < 1:
        raise ValueError(f"{name} must be a positive integer, got {budget}")
    if budget > n_available:
        raise ValueError(f"{name}={budget} is larger than the {n_available} unlabeled point(s) "
                         "that can still be selected")
    return budget
