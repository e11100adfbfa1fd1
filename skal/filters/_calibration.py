"""A calibrated clean probability from per-class scores, fitted on the noisy labels themselves.

A filter that scores every labeled point against every class (a distance
to each class centre, say) can say more than keep/flag: how likely the
given label is right. The scores become class probabilities by a softmax
with a temperature ``tau``, ``P(t | x) = softmax(s(x) / tau)``, and the
annotator is the symmetric noisy channel: the given label is the true class
with probability ``1 - r`` and each other class with ``r / (C - 1)``. Both
``tau`` and ``r`` are chosen by maximum likelihood of the labels actually
given, ``sum_i log((1 - r) P(y_i | x_i) + r / (C - 1) (1 - P(y_i | x_i)))``:
no clean data is needed, and nothing is tuned per dataset. Bayes' rule then
gives

    P(clean_i) = (1 - r) P(y_i | x_i) / ((1 - r) P(y_i | x_i) + r / (C - 1) (1 - P(y_i | x_i))).

The temperature is searched on a grid spread over four decades around the
scores' own scale; for each, the best rate in ``[0.01, 0.6]`` is found by
bisection (the likelihood is concave in ``r``). A few thousand ``O(n)`` sums
for the 10-1,000 labels a filter judges.
"""

from __future__ import annotations

import numpy as np

__all__ = ["channel_calibrated_clean_proba"]

_RATE_BOUNDS = (0.01, 0.6)
_N_TAU = 49


def _slope(p_y: np.ndarray, n_classes: int) -> np.ndarray:
    """``d/dr`` of the likelihood of one label, ``(1 - p)/(C - 1) - p``."""
    return (1.0 - p_y) / (n_classes - 1) - p_y


def _best_rate(p_y: np.ndarray, n_classes: int, n_halvings: int = 30) -> np.ndarray:
    """Per row of ``p_y``: the rate in the bounds maximising ``sum log(p + r q)``.

    The sum is concave in ``r``, so its derivative ``sum q / (p + r q)``
    decreases: bisection on its sign, from the bounds (which win when the
    derivative does not change sign between them).
    """
    q = _slope(p_y, n_classes)

    def grad(r):
        return (q / np.maximum(p_y + r[:, None] * q, 1e-300)).sum(axis=1)

    lo = np.full(p_y.shape[0], _RATE_BOUNDS[0])
    hi = np.full(p_y.shape[0], _RATE_BOUNDS[1])
    at_lo, at_hi = grad(lo) <= 0.0, grad(hi) >= 0.0
    for _ in range(n_halvings):
        mid = 0.5 * (lo + hi)
        up = grad(mid) > 0.0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    return np.where(at_lo, _RATE_BOUNDS[0], np.where(at_hi, _RATE_BOUNDS[1], 0.5 * (lo + hi)))


def channel_calibrated_clean_proba(class_scores: np.ndarray, y: np.ndarray,
                                   judged: np.ndarray | None = None
                                   ) -> tuple[np.ndarray, float, float]:
    """``P(label is right)`` for every row, with the temperature and rate fitted by likelihood.

    Parameters
    ----------
    class_scores : ndarray of shape (n_samples, n_classes)
        Higher means more likely that class (e.g. minus a squared distance
        to each class centre). Only differences within a row matter.
    y : ndarray of int, shape (n_samples,)
        Given labels, encoded in ``[0, n_classes)``.
    judged : ndarray of bool, shape (n_samples,), optional
        Rows that take part in the fit (others, e.g. labels of classes too
        small to judge, get probability 1). All rows by default.

    Returns
    -------
    clean_proba : ndarray of shape (n_samples,)
    noise_rate : float
        The fitted ``r``.
    temperature : float
        The fitted ``tau``.
    """
    S = np.asarray(class_scores, dtype=np.float64)
    n, n_classes = S.shape
    y = np.asarray(y, dtype=np.int64)
    judged = np.ones(n, dtype=bool) if judged is None else np.asarray(judged, dtype=bool)
    out = np.ones(n)
    if n_classes < 2 or not judged.any():
        return out, 0.0, float("nan")
    S = S[judged] - S[judged].max(axis=1, keepdims=True)
    yj = y[judged]
    rows = np.arange(yj.size)
    # The scores' own scale: the typical gap between the best and second-best class.
    gaps = -np.sort(S, axis=1)[:, -2]
    scale = float(np.median(gaps[gaps > 0])) if np.any(gaps > 0) else 1.0
    taus = scale * np.geomspace(1e-2, 1e2, _N_TAU)
    best = (-np.inf, None, None, None)
    # Chunks of temperatures keep the (taus, labels, classes) block small.
    step = max(1, int(2**22 // max(1, S.size)))
    for s0 in range(0, taus.size, step):
        t = taus[s0:s0 + step]
        Z = np.exp(S[None, :, :] / t[:, None, None])
        p_y = Z[:, rows, yj] / Z.sum(axis=2)  # (taus, labels)
        r = _best_rate(p_y, n_classes)
        ll = np.log(np.maximum(p_y + r[:, None] * _slope(p_y, n_classes), 1e-300)).sum(axis=1)
        a = int(np.argmax(ll))
        if ll[a] > best[0]:
            best = (float(ll[a]), float(r[a]), float(t[a]), p_y[a])
    _, r, tau, p_y = best
    own = (1.0 - r) * p_y
    out[judged] = own / (own + r / (n_classes - 1) * (1.0 - p_y))
    return out, r, tau
