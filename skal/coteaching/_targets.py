"""Inputs and targets of the Co-Teaching classifier: validation, class codes, class weights."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, validate_data

from .._validation import check_finite_inputs


def is_skorch_native(X) -> bool:
    """Whether ``X`` goes to skorch unchanged instead of through ``validate_data``.

    Dicts (several inputs of a module's ``forward``), torch datasets and
    non-floating tensors (token ids for an embedding layer) are what skorch
    accepts beyond arrays; converting them to a float array would break them.
    """
    if sp.issparse(X):  # a dok matrix is a dict, but scikit-learn's message applies
        return False
    if isinstance(X, (dict, torch.utils.data.Dataset)):
        return True
    return isinstance(X, torch.Tensor) and not torch.is_floating_point(X)


def _check_not_empty(X) -> None:
    try:
        n = _num_samples(X)
    except TypeError:
        return  # validate_data says what is wrong with it
    if n == 0:
        shape = getattr(X, "shape", (0,))
        raise ValueError(
            f"Found array with 0 sample(s) (shape={tuple(shape)}): X must have at least "
            "1 sample"
        )


def validate_inputs(estimator, X, y="no_validation", *, reset: bool):
    """Validate ``X`` (and ``y`` unless ``"no_validation"``) the scikit-learn way.

    Arrays, lists and DataFrames become C-contiguous float32 arrays of 2 or
    more dimensions (the networks' dtype; images are 4-D), finite, with
    ``n_features_in_`` (the second dimension) and ``feature_names_in_`` set
    when ``reset`` and checked otherwise. Sparse input is refused with
    scikit-learn's message. ``y`` must be a classification target; ``None``
    is refused with scikit-learn's message.

    Returns
    -------
    X, y
        The validated inputs (``y`` as a 1-D array, or ``None`` when not
        validated).
    """
    no_y = isinstance(y, str) and y == "no_validation"
    if not is_skorch_native(X):
        _check_not_empty(X)
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        common = dict(reset=reset, dtype=np.float32, allow_nd=True, accept_sparse=False,
                      order="C")
        if no_y:
            return validate_data(estimator, X, **common), None
        X, y = validate_data(estimator, X, y, **common)
        check_classification_targets(y)
        return X, y
    if isinstance(X, torch.Tensor):
        check_finite_inputs(X, "X")
    if no_y:
        return X, None
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the "
                         "target y is None.")
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=False,
                                 input_name="y"), warn=True)
    check_classification_targets(y)
    return X, y


def encode_labels(classes: np.ndarray, y) -> np.ndarray:
    """Codes of the labels ``y`` in the sorted ``classes`` (``ValueError`` for unseen ones)."""
    classes = np.asarray(classes)
    y = np.asarray(y)
    order = np.argsort(classes, kind="stable")
    pos = np.clip(np.searchsorted(classes[order], y), 0, len(classes) - 1)
    codes = order[pos]
    unknown = classes[codes] != y
    if np.any(unknown):
        raise ValueError(
            f"y contains label(s) {np.unique(y[unknown])[:5].tolist()} not seen in the "
            f"classes {classes.tolist()[:10]} this estimator was fitted or configured with"
        )
    return codes.astype(np.int64)


def class_weights(class_weight, classes: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Per-class weights (in the order of ``classes``) from a ``class_weight`` parameter.

    Classes absent from ``y`` (possible with configured ``classes``) and
    classes a dict leaves out keep weight 1.
    """
    if class_weight is None:
        return None
    classes = np.asarray(classes)
    full = np.ones(len(classes))
    if isinstance(class_weight, str):  # "balanced"; the constraints allow nothing else
        from sklearn.utils.class_weight import compute_class_weight

        present = np.unique(y)
        full[encode_labels(classes, present)] = compute_class_weight(
            "balanced", classes=present, y=y)
        return full
    keys = np.asarray(list(class_weight.keys()))
    values = np.asarray(list(class_weight.values()), dtype=np.float64)
    if keys.size:
        full[encode_labels(classes, keys)] = values
    if not np.all(np.isfinite(full)) or np.any(full < 0):
        raise ValueError("class_weight values must be finite and non-negative")
    return full
