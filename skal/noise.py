"""Noise models and simulated annotators.

An *oracle* is any callable ``oracle(indices) -> labels``. :class:`NoisyOracle`
simulates an annotator who makes mistakes: the labels are corrupted once, at
construction, so asking twice about the same point gives the same answer.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._validation import check_fraction, check_indices, check_labels, check_random_state

__all__ = ["make_noisy_labels", "NoisyOracle", "symmetric_transition_matrix"]

_NOISE_TYPES = ("symmetric", "asymmetric", "transition")


def symmetric_transition_matrix(n_classes: int, noise_rate: float) -> np.ndarray:
    """Transition matrix of symmetric noise: keep w.p. ``1 - r``, else a uniform other class."""
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2 for symmetric noise, got {n_classes}")
    T = np.full((n_classes, n_classes), noise_rate / (n_classes - 1))
    np.fill_diagonal(T, 1.0 - noise_rate)
    return T


def _default_pair_map(classes: np.ndarray) -> dict:
    # Each class flips into the next one (a common "pair" asymmetric model).
    return {c: classes[(i + 1) % classes.size] for i, c in enumerate(classes)}


def make_noisy_labels(y: Any, noise_rate: float, noise_type: str = "symmetric", *,
                      transition_matrix: Any = None, random_state: Any = None):
    """Corrupt a label vector with a noise model.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True labels (any values; the classes are those present in ``y``).
    noise_rate : float in [0, 1]
        Fraction of labels to flip (symmetric / asymmetric). Ignored for
        ``noise_type="transition"``, where the matrix says everything.
    noise_type : {"symmetric", "asymmetric", "transition"}, default="symmetric"
        * ``"symmetric"``: exactly ``floor(noise_rate * n)`` labels, chosen
          uniformly at random, are replaced by a class drawn uniformly from the
          *other* classes (a flip never keeps its class).
        * ``"asymmetric"``: exactly ``floor(noise_rate * n)`` labels are mapped
          ``c -> map[c]``. The map is ``transition_matrix`` when it is a dict
          ``{class: class}``; with a square array, the flipped class is drawn
          from row ``c`` with the diagonal removed; by default each class flips
          into the next one in sorted order. Points of classes that map to
          themselves are never chosen.
        * ``"transition"``: every label ``c`` is redrawn from row ``c`` of the
          (row-stochastic) ``transition_matrix``; the realised rate is random.
    transition_matrix : dict or array-like of shape (n_classes, n_classes), optional
        See ``noise_type``. Rows and columns follow ``np.unique(y)``.
    random_state : int, numpy Generator or None, default=None

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
        Same dtype as ``y``.
    is_noisy : ndarray of bool, shape (n_samples,)
        ``True`` where ``y_noisy != y``.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.noise import make_noisy_labels
    >>> y = np.repeat(np.arange(5), 20)
    >>> y_noisy, is_noisy = make_noisy_labels(y, 0.3, random_state=0)
    >>> int(is_noisy.sum()), bool(np.all(y_noisy[is_noisy] != y[is_noisy]))
    (30, True)
    """
    y = check_labels(y, name="y")
    if noise_type not in _NOISE_TYPES:
        raise ValueError(f"noise_type must be one of {_NOISE_TYPES}, got {noise_type!r}")
    rng = check_random_state(random_state)
    classes, y_enc = np.unique(y, return_inverse=True)
    n_classes, n = classes.size, y.shape[0]
    y_out = y_enc.copy()

    if noise_type == "transition":
        if transition_matrix is None:
            raise ValueError("noise_type='transition' needs transition_matrix")
        T = _check_matrix(transition_matrix, n_classes)
        cum = np.cumsum(T, axis=1)
        u = rng.random(n)
        y_out = (u[:, None] > cum[y_enc]).sum(axis=1)
        y_out = np.minimum(y_out, n_classes - 1)
    else:
        noise_rate = check_fraction(noise_rate, "noise_rate")
        n_flip = int(np.floor(noise_rate * n + 1e-9))
        if n_flip and n_classes < 2:
            raise ValueError("noise_rate > 0 needs at least two classes in y")
        if noise_type == "symmetric":
            flip = rng.choice(n, size=n_flip, replace=False)
            # Draw among the C - 1 other classes: shift by 1..C-1 modulo C.
            shift = rng.integers(1, n_classes, size=n_flip) if n_flip else np.empty(0, int)
            y_out[flip] = (y_enc[flip] + shift) % n_classes
        else:
            target, matrix = _asymmetric_targets(transition_matrix, classes)
            movable = np.flatnonzero(target[y_enc] >= 0)
            if n_flip > movable.size:
                raise ValueError(
                    f"noise_rate={noise_rate} asks for {n_flip} flips but only {movable.size} "
                    "labels belong to classes that the asymmetric map changes"
                )
            flip = rng.choice(movable, size=n_flip, replace=False)
            if matrix is None:
                y_out[flip] = target[y_enc[flip]]
            else:  # draw each flipped label from its class's off-diagonal row
                cum = np.cumsum(matrix[y_enc[flip]], axis=1)
                u = rng.random(n_flip) * cum[:, -1]
                y_out[flip] = np.minimum((u[:, None] > cum).sum(axis=1), n_classes - 1)
    y_noisy = classes[y_out]
    return y_noisy, y_out != y_enc


def _asymmetric_targets(mapping, classes):
    """``(target, matrix)``: a class-to-class map (``-1`` = never flipped), or
    a matrix with an empty diagonal to draw flipped labels from."""
    n_classes = classes.size
    if mapping is None:
        mapping = _default_pair_map(classes)
    if isinstance(mapping, Mapping):
        lookup = {c: i for i, c in enumerate(classes.tolist())}
        target = np.full(n_classes, -1, dtype=np.int64)
        for src, dst in mapping.items():
            src = src.item() if hasattr(src, "item") else src
            dst = dst.item() if hasattr(dst, "item") else dst
            if src not in lookup:
                continue  # a class absent from this y: nothing to flip
            if dst not in lookup:
                raise ValueError(f"transition_matrix maps {src!r} to {dst!r}, which is not a class of y")
            if lookup[dst] != lookup[src]:
                target[lookup[src]] = lookup[dst]
        return target, None
    T = _check_matrix(mapping, n_classes).copy()
    np.fill_diagonal(T, 0.0)
    return np.where(T.sum(axis=1) > 0, 0, -1), T


def _check_matrix(T, n_classes):
    T = np.asarray(T, dtype=np.float64)
    if T.shape != (n_classes, n_classes):
        raise ValueError(
            f"transition_matrix must have shape ({n_classes}, {n_classes}) for the classes of y, got {T.shape}"
        )
    if not np.all(np.isfinite(T)) or (T < 0).any():
        raise ValueError("transition_matrix must hold finite non-negative probabilities")
    sums = T.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=1e-6):
        raise ValueError(f"transition_matrix rows must sum to 1, got row sums {np.round(sums, 4).tolist()}")
    return T


class NoisyOracle:
    """A simulated annotator who gives wrong labels for a fixed set of points.

    The true labels are corrupted once, at construction, with
    :func:`make_noisy_labels`; ``oracle(indices)`` then returns the noisy
    labels of those pool indices (asking twice gives the same answer).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels of the whole pool.
    noise_rate : float in [0, 1], default=0.0
    noise_type : {"symmetric", "asymmetric", "transition"}, default="symmetric"
    transition_matrix : dict or array-like, optional
        See :func:`make_noisy_labels`.
    random_state : int, numpy Generator or None, default=None
    y_noisy : array-like of shape (n_samples,), optional
        A fixed vector of real noisy labels (e.g. CIFAR-10N) to serve instead
        of simulated noise; ``noise_rate`` is then ignored.

    Attributes
    ----------
    y_noisy_ : ndarray of shape (n_samples,)
        The label the annotator gives for every point.
    is_noisy_ : ndarray of bool, shape (n_samples,)
        Where that label is wrong.
    classes_ : ndarray
        The classes (of the true labels and the noisy ones).
    n_queries_ : int
        Number of labels handed out so far (repeats counted).
    queried_ : ndarray of int
        Every index asked for, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from skal.noise import NoisyOracle
    >>> oracle = NoisyOracle(np.repeat([0, 1], 5), noise_rate=0.4, random_state=0)
    >>> labels = oracle([0, 5, 9])
    >>> np.array_equal(labels, oracle([0, 5, 9])), oracle.n_queries_
    (True, 6)
    """

    def __init__(self, y_true: Any, noise_rate: float = 0.0, noise_type: str = "symmetric",
                 random_state: Any = None, *, transition_matrix: Any = None,
                 y_noisy: Any = None):
        self.y_true = check_labels(y_true, name="y_true")
        self.noise_rate = noise_rate
        self.noise_type = noise_type
        self.random_state = random_state
        self.transition_matrix = transition_matrix
        if y_noisy is not None:
            self.y_noisy_ = check_labels(y_noisy, self.y_true.shape[0], name="y_noisy")
            self.is_noisy_ = self.y_noisy_ != self.y_true
        else:
            self.y_noisy_, self.is_noisy_ = make_noisy_labels(
                self.y_true, noise_rate, noise_type,
                transition_matrix=transition_matrix, random_state=random_state,
            )
        self.classes_ = np.unique(np.concatenate([np.unique(self.y_true), np.unique(self.y_noisy_)]))
        self.n_queries_ = 0
        self._queried: list[np.ndarray] = []

    @property
    def queried_(self) -> np.ndarray:
        return np.concatenate(self._queried) if self._queried else np.empty(0, dtype=np.int64)

    @property
    def noise_rate_(self) -> float:
        """Realised fraction of wrong labels over the whole pool."""
        return float(self.is_noisy_.mean())

    def __len__(self) -> int:
        return self.y_true.shape[0]

    def __call__(self, indices: Any) -> np.ndarray:
        """Return the annotator's labels of pool ``indices``."""
        if isinstance(indices, numbers.Integral):
            indices = [indices]
        arr = np.asarray(indices)
        if arr.dtype == bool:
            raise TypeError("indices must be integer pool indices, not a boolean mask")
        if arr.size and arr.dtype.kind not in "iu":
            # 1.5 must not quietly become 1: a wrong index buys a wrong label.
            numeric = arr.dtype.kind == "f" and np.all(np.isfinite(arr))
            if not (numeric and np.all(arr == np.round(arr))):
                raise TypeError(f"indices must be integer pool indices, got {arr.ravel()[:5].tolist()} "
                                f"(dtype {arr.dtype})")
        idx = np.asarray(arr, dtype=np.int64).ravel() if arr.size else np.empty(0, np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            check_indices(idx, len(self), "indices")  # raises with a clear message
        self.n_queries_ += int(idx.size)
        self._queried.append(idx.copy())
        return self.y_noisy_[idx].copy()

    def __repr__(self) -> str:
        return (f"NoisyOracle(n_samples={len(self)}, noise_rate={self.noise_rate}, "
                f"noise_type={self.noise_type!r})")
