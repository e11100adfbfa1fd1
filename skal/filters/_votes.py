"""From weighted votes of the other labels to a calibrated clean probability.

The pool filters (:class:`GraphFilter`, :class:`ClusterVoteFilter`) judge a
label by what the *other* labels say about its neighbourhood: a non-negative
weight ``W[i, j]`` (zero diagonal) says how much label ``j`` speaks for the
class of point ``i``. This module turns those votes into
``P(label i is right)`` under the symmetric noise model, so that the score
is a probability and 0.5 the natural threshold.

Model. Let ``r`` be the noise rate and ``C`` the number of classes; a given
label equals the true class with probability ``1 - r`` and each other class
with probability ``r / (C - 1)``. The neighbourhood of ``i`` is assumed to
share ``i``'s true class ``t``. Its votes, normalised to class shares ``v``
and worth ``n_eff = (Σ_j W_ij)² / Σ_j W_ij²`` independent votes (Kish's
effective sample size: one close vote is worth one, many far ones add up),
then have the likelihood ``Π_c T[t, c]^(n_eff v_c)``, which up to a constant
is ``exp(κ n_eff v_t)`` with ``κ = log((1 - r)(C - 1) / r)``. With the prior
``1 - r`` for ``t = y_i`` (the annotator's own word),

    P(clean_i) = (1 - r) e^{κ n v_y} / ((1 - r) e^{κ n v_y} + r/(C-1) Σ_{t≠y} e^{κ n v_t}).

A label with no vote at all gets ``1 - r``. The rate ``r`` is estimated as
the fixed point ``r = 1 - mean(P(clean))`` (an EM step per iteration),
bounded to ``[0.02, 0.5]``: above one half, a label with no evidence would
be flagged, and no evidence is no evidence against the annotator.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clean_posterior"]

_R_BOUNDS = (0.02, 0.5)


def clean_posterior(W: np.ndarray, y: np.ndarray, n_classes: int, *,
                    noise_rate: float | None = None, n_iter: int = 50,
                    tol: float = 1e-6) -> tuple[np.ndarray, float, np.ndarray]:
    """Probability that each label is right, given the other labels' votes.

    Parameters
    ----------
    W : ndarray of shape (n_samples, n_samples)
        Non-negative vote weights, ``W[i, j]`` = weight of label ``j`` for
        point ``i``; the diagonal is ignored (leave-one-out).
    y : ndarray of int, shape (n_samples,)
        Given labels in ``[0, n_classes)``.
    n_classes : int
    noise_rate : float or None, default=None
        Known symmetric noise rate; ``None`` estimates it.
    n_iter : int, default=50
        Iterations of the noise-rate estimate.
    tol : float, default=1e-6

    Returns
    -------
    p_clean : ndarray of shape (n_samples,)
    noise_rate : float
        The rate used (estimated or given).
    class_shares : ndarray of shape (n_samples, n_classes)
        The vote shares ``v`` (rows of zeros where there was no vote).
    """
    W = np.array(W, dtype=np.float64)
    np.fill_diagonal(W, 0.0)
    n = y.size
    rows = np.arange(n)
    F = np.zeros((n, n_classes))
    np.add.at(F.T, y, W.T)  # F[i, c] = Σ_{j : y_j = c} W[i, j]
    total = F.sum(axis=1)
    shares = F / np.where(total > 0, total, 1.0)[:, None]
    sq = np.einsum("ij,ij->i", W, W)
    n_eff = np.where(sq > 0, total**2 / np.where(sq > 0, sq, 1.0), 0.0)
    r = 0.2 if noise_rate is None else float(noise_rate)
    for _ in range(n_iter if noise_rate is None else 1):
        r = float(np.clip(r, *_R_BOUNDS))
        kappa = np.log((1.0 - r) * (n_classes - 1) / r)
        logits = kappa * n_eff[:, None] * shares
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        own = (1.0 - r) * e[rows, y]
        others = r / (n_classes - 1) * (e.sum(axis=1) - e[rows, y])
        p = own / (own + others)
        if noise_rate is not None:
            break
        r_new = float(np.clip(1.0 - p.mean(), *_R_BOUNDS))
        if abs(r_new - r) < tol:
            r = r_new
            break
        r = r_new
    return p, r, shares
