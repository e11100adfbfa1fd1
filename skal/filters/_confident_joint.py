"""Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) as pure functions.

Given out-of-fold class probabilities ``P`` (n × K) and the given labels
``y``, confident learning

1. sets a per-class threshold ``t_k``: the mean probability of class ``k``
   over the samples labeled ``k`` (the model's average self-confidence);
2. counts the *confident joint* ``C[i, j]``: samples labeled ``i`` whose
   probability of ``j`` reaches ``t_j`` (the largest such probability when
   several do), i.e. samples confidently believed to belong to ``j``;
3. calibrates ``C`` so that its rows sum to the label counts and the whole to
   ``n``, an estimate of how many samples of each given label truly belong
   to each class;
4. flags, for every off-diagonal cell ``(i, j)``, the ``C[i, j]`` samples
   labeled ``i`` with the largest margin ``P[:, j] - P[:, i]`` ("prune by
   noise rate"), or other rules built on the same counts.

Every flag whose given label is still the model's top prediction is lifted.
"""

from __future__ import annotations

import numpy as np

__all__ = ["confident_thresholds", "confident_joint", "calibrate_joint",
           "find_label_issues", "FILTER_BY"]

FILTER_BY = ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
             "predicted_neq_given", "low_normalized_margin", "low_self_confidence")

# Thresholds never drop below this, so that a class the model never predicts
# cannot make every sample "confidently" belong to it.
_MIN_THRESHOLD = 2e-6
# Comparisons of probabilities allow this much round-off.
_EPS = 1e-6


def confident_thresholds(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Per-class mean probability of the class over the samples labeled with it.

    A class with no label gets threshold 2 (no sample can reach it).
    """
    n_classes = proba.shape[1]
    counts = np.bincount(y, minlength=n_classes)
    sums = np.zeros(n_classes)
    np.add.at(sums, y, proba[np.arange(y.size), y])
    thr = np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)
    return np.maximum(thr, _MIN_THRESHOLD)


def confident_joint(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of (given label, confidently guessed class), before calibration.

    Returns
    -------
    joint : ndarray of int, shape (K, K)
        ``joint[i, j]``: samples labeled ``i`` confidently in class ``j``;
        every diagonal entry is at least 1.
    off_diagonal : ndarray of int
        Indices of the samples counted off the diagonal.
    """
    n_classes = proba.shape[1]
    above = proba >= confident_thresholds(y, proba) - _EPS
    n_above = above.sum(axis=1)
    # One class above its threshold: that class; several: the most probable.
    guess = np.where(n_above > 1, proba.argmax(axis=1), above.argmax(axis=1))
    counted = n_above > 0
    joint = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(joint, (y[counted], guess[counted]), 1)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1))
    off = np.flatnonzero(counted & (guess != y))
    return joint, off


def _round_keeping_row_sums(M: np.ndarray) -> np.ndarray:
    """Round each row to integers whose sum is the row's rounded sum.

    Entries are rounded to the nearest integer, then the ones whose rounding
    moved them furthest from the side the row total needs are adjusted by 1.
    """
    out = np.empty(M.shape, dtype=np.int64)
    for r, row in enumerate(np.asarray(M, dtype=np.float64)):
        ints = np.round(row)
        missing = int(np.round(np.round(row.sum()) - ints.sum()))
        while missing != 0:
            step = 1 if missing > 0 else -1
            changes = min(abs(missing), row.size)
            # Largest remainders get +1; most over-rounded entries get -1.
            order = np.argsort(row - ints)[::-step][:changes]
            ints[order] += step
            missing = int(np.round(np.round(row.sum()) - ints.sum()))
        out[r] = ints.astype(np.int64)
    return out


def calibrate_joint(joint: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Scale the confident joint to the label counts (rows) and to ``n`` (total)."""
    counts = np.bincount(y, minlength=joint.shape[0]).astype(np.float64)
    rows = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1e-100) * counts[:, None]
    rows = rows / max(float(rows.sum()), 1e-100) * counts.sum()
    return _round_keeping_row_sums(rows)


def _prune_counts(joint: np.ndarray, min_per_class: int, frac_noise: float) -> np.ndarray:
    """``prune[j, i]``: how many samples labeled ``i`` to flag as truly ``j``.

    The transposed calibrated joint, with each class's diagonal raised to at
    least ``min_per_class`` (taken evenly from that column's non-zero noise
    cells) and the noise cells scaled by ``frac_noise``.
    """
    M = joint.T.astype(np.float64)
    diag = M.diagonal().copy()
    raised = np.maximum(diag, min_per_class)
    n_noise_cells = np.maximum(np.count_nonzero(M, axis=0) - 1.0, 1.0)
    M = np.maximum(M - (raised - diag) / n_noise_cells, 0.0)
    np.fill_diagonal(M, raised)
    scaled = M * frac_noise
    # What the noise cells give up goes back to the diagonal, so that every
    # column keeps its total; counts are whole samples (truncated).
    np.fill_diagonal(scaled, raised)
    np.fill_diagonal(scaled, raised + (M - scaled).sum(axis=0))
    return scaled.astype(np.int64)


def _top_prediction_agrees(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Samples whose given label is (within round-off) the most probable class."""
    P = proba.copy()
    P[np.arange(y.size), y] += _EPS
    return P.argmax(axis=1) == y


def find_label_issues(y: np.ndarray, proba: np.ndarray, *,
                      filter_by: str = "prune_by_noise_rate", frac_noise: float = 1.0,
                      min_examples_per_class: int = 1) -> np.ndarray:
    """Boolean mask of the labels confident learning calls wrong.

    Parameters
    ----------
    y : ndarray of int, shape (n_samples,)
        Given labels in ``[0, K)``.
    proba : ndarray of shape (n_samples, K)
        Out-of-fold class probabilities.
    filter_by : str, default="prune_by_noise_rate"
        ``"prune_by_noise_rate"``: per off-diagonal cell of the calibrated
        joint, the samples with the largest margin towards that class;
        ``"prune_by_class"``: per class, its estimated number of wrong labels
        with the lowest self-confidence; ``"both"``: flagged by both;
        ``"confident_learning"``: the off-diagonal samples of the joint;
        ``"predicted_neq_given"``: the top prediction is another class;
        ``"low_self_confidence"`` / ``"low_normalized_margin"``: the estimated
        number of wrong labels, lowest score first.
    frac_noise : float in (0, 1], default=1.0
        Flag only this fraction of the estimated noise (pruning rules).
    min_examples_per_class : int, default=1
        Pruning leaves at least this many labels in each class; a class with
        no more labels than this (or with a single label) is not pruned.

    Returns
    -------
    issues : ndarray of bool, shape (n_samples,)
    """
    if filter_by not in FILTER_BY:
        raise ValueError(f"filter_by must be one of {FILTER_BY}, got {filter_by!r}")
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n, n_classes = proba.shape
    issues = np.zeros(n, dtype=bool)
    joint, off = confident_joint(y, proba)
    if filter_by in ("low_self_confidence", "low_normalized_margin"):
        off_mask = np.zeros(n, dtype=bool)
        off_mask[off] = True
        n_issues = int((off_mask & ~_top_prediction_agrees(y, proba)).sum())
        own = proba[np.arange(n), y]
        if filter_by == "low_normalized_margin":
            others = proba.copy()
            others[np.arange(n), y] = -np.inf
            # cleanlab's normalised margin, the same floats, so that exact ties
            # (coarse probabilities) sort in the same order as cleanlab's.
            own = (own - others.max(axis=1) + 1.0) / 2.0
        issues[np.argsort(own)[:n_issues]] = True
        return issues
    if filter_by == "confident_learning":
        issues[off] = True
    elif filter_by == "predicted_neq_given":
        issues = proba.argmax(axis=1) != y
    else:
        prune = _prune_counts(calibrate_joint(joint, y), min_examples_per_class, frac_noise)
        by_rate = np.zeros(n, dtype=bool)
        by_class = np.zeros(n, dtype=bool)
        for k in range(n_classes):
            members = np.flatnonzero(y == k)
            if members.size <= max(min_examples_per_class, 1):
                # Too few labels to spare any (and a lone label has no
                # classmates to be ranked against: cleanlab never flags it either).
                continue
            P = proba[members]
            for j in range(n_classes):
                count = int(prune[j, k])
                if j != k and count > 0:
                    margin = P[:, j] - P[:, k]
                    by_rate[members[np.argsort(-margin)[:count]]] = True
            n_wrong = members.size - int(prune[k, k])
            if n_wrong >= 1:
                by_class[members[np.argsort(P[:, k])[:n_wrong]]] = True
        issues = {"prune_by_noise_rate": by_rate, "prune_by_class": by_class,
                  "both": by_rate & by_class}[filter_by]
    issues = issues.copy()
    issues[_top_prediction_agrees(y, proba)] = False
    return issues
