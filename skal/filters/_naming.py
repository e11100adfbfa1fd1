"""The posterior of a one-to-one naming of the pool's communities by noisy labels.

Each community of the pool (``_communities``) holds one class; which one, the
labels inside it say, each rightly with probability ``1 - r``. Under a
symmetric channel over ``C`` classes a naming (community -> class, one-to-one)
has likelihood proportional to ``ratio ** (labels agreeing with their
community's name)``, with ``ratio = (1 - r)(C - 1) / r``. With a uniform prior,
the posterior probability that community ``m`` is class ``c`` sums the
weights of every naming that gives ``m`` the name ``c``: a permanent-like sum,
computed exactly by dynamic programming over the sets of classes already used
when there are few classes, and approximated by Sinkhorn scaling (the
maximum-entropy doubly stochastic matrix of the weights) when there are many.

``CentroidFilter`` reads it for the labels it doubts in communities the labels
do not name (``soft_proposals``); ``benchmarks/nas_naming_bound.py`` for how
many names the labels hold.
"""

from __future__ import annotations

import functools

import numpy as np

from ._communities import community_votes, pulled_pairs
from ._pool import PoolView

__all__ = ["naming_posterior", "agreement_ratio", "unnamed_label_posteriors"]

# Up to this many classes the posterior is exact (2 ** n states of the
# dynamic programme: 16,384 at 14, a few milliseconds); above, Sinkhorn's.
EXACT_MAX_CLASSES = 14
_SINKHORN_ITER = 500
_SINKHORN_TOL = 1e-10


def agreement_ratio(noise_rate: float, n_classes: int) -> float:
    """Likelihood factor of a label that agrees with its community's name.

    ``(1 - r)(C - 1) / r`` for a symmetric channel of rate ``r`` over ``C``
    classes: how much likelier a right label makes the naming it agrees
    with than a wrong one does. Above 1 the labels carry evidence; at 1
    (``r = (C - 1) / C``, answers at random) none.
    """
    r = float(noise_rate)
    if not 0.0 < r < 1.0 or n_classes < 2:
        raise ValueError(f"noise_rate must lie strictly between 0 and 1 and n_classes be at "
                         f"least 2, got {noise_rate!r} and {n_classes!r}")
    return (1.0 - r) * (n_classes - 1) / r


def unnamed_label_posteriors(view: PoolView, positions: np.ndarray, y: np.ndarray,
                             n_classes: int, seed: int | None, noise_rate: float):
    """Each label's community posterior, and whether the labels leave that community unnamed.

    Parameters
    ----------
    view, positions, y, n_classes, seed
        The pool, each label's row in it, the encoded labels, their number of
        classes and the communities' seed, as
        :func:`~skal.filters._communities.anchor_centres` takes them.
    noise_rate : float
        The annotator's noise rate (a fitted one); clipped to [0.001, 0.999].

    Returns
    -------
    posterior : ndarray of shape (n_labels, n_classes)
        :func:`naming_posterior` of the community each label lies in.
    unnamed : ndarray of bool, shape (n_labels,)
        Whether no class is pulled toward the label's community
        (:func:`~skal.filters._communities.pulled_pairs`: no class holds two
        labels there and no fewer than any other).

    ``None`` when no class has two labels (the anchor then cuts no
    communities), when the pool cannot be cut, or when the noise rate is not
    a number or leaves the labels without evidence (``agreement_ratio <= 1``).
    """
    if (n_classes < 2 or not np.isfinite(noise_rate)
            or np.bincount(y, minlength=n_classes).max() < 2):
        return None
    ratio = agreement_ratio(min(max(float(noise_rate), 1e-3), 1.0 - 1e-3), n_classes)
    if ratio <= 1.0:
        return None
    votes = community_votes(view, positions, y, n_classes, seed)
    if votes is None:
        return None
    named = np.zeros(votes.counts.shape[0], dtype=bool)
    named[[m for m, _ in pulled_pairs(votes.counts)]] = True
    return naming_posterior(votes.counts, ratio)[votes.community], ~named[votes.community]


def naming_posterior(counts: np.ndarray, ratio: float, *,
                     exact_max_classes: int = EXACT_MAX_CLASSES) -> np.ndarray:
    """Posterior probability that community ``m`` is class ``c``, over one-to-one namings.

    Parameters
    ----------
    counts : array-like of shape (n_communities, n_classes), n_communities <= n_classes
        Labels of class ``c`` whose pool row lies in community ``m``.
    ratio : float
        Likelihood factor of one agreeing label (:func:`agreement_ratio`); a
        naming weighs ``ratio ** (agreeing labels)``. Must be positive.
    exact_max_classes : int, default=14
        Up to this many classes the sum over namings is exact; above it,
        Sinkhorn's approximation.

    Returns
    -------
    posterior : ndarray of shape (n_communities, n_classes)
        Rows sum to 1.

    Examples
    --------
    Two communities, one label of class 0 in the first; a right label is
    nine times likelier than a wrong one:

    >>> import numpy as np
    >>> naming_posterior(np.array([[1, 0], [0, 0]]), 9.0).round(2).tolist()
    [[0.9, 0.1], [0.1, 0.9]]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 2:
        raise ValueError(f"counts must be 2-D (communities x classes), got shape {counts.shape}")
    k, n = counts.shape
    if k > n:
        raise ValueError(f"counts: {k} communities for {n} classes; a one-to-one naming needs "
                         "at most as many communities as classes")
    if not np.all(np.isfinite(counts)) or (counts < 0).any():
        raise ValueError("counts must be finite and non-negative")
    if not ratio > 0 or not np.isfinite(ratio):
        raise ValueError(f"ratio must be a positive number, got {ratio!r}")
    if k == 0:
        return np.zeros((0, n))
    # Scaled per community, so that large counts neither overflow nor, in
    # the best namings, underflow; each row's scale cancels when it is
    # normalised.
    log_w = np.log(float(ratio)) * (counts - counts.max(axis=1, keepdims=True))
    if n <= exact_max_classes:
        return _exact(np.exp(log_w))
    return _sinkhorn(log_w)


@functools.lru_cache(maxsize=8)
def _transitions(n: int, k: int):
    """Per layer ``m < k``: every (set of ``m`` used classes, free class) pair.

    Returns a list of ``(source, target, cls)`` arrays: ``source`` a state
    with ``m`` bits set, ``cls`` a class not in it, ``target = source | 1 << cls``.
    """
    states = np.arange(1 << n)
    used = np.zeros(states.size, dtype=np.int64)
    for c in range(n):
        used += (states >> c) & 1
    layers = []
    for m in range(k):
        s = states[used == m]
        source = np.repeat(s, n)
        cls = np.tile(np.arange(n), s.size)
        free = ((source >> cls) & 1) == 0
        source, cls = source[free], cls[free]
        layers.append((source, source | (1 << cls), cls))
    return layers, states[used == k]


def _exact(w: np.ndarray) -> np.ndarray:
    """The sum over one-to-one namings, forward and backward over the used-class sets."""
    k, n = w.shape
    layers, full = _transitions(n, k)
    forward = np.zeros(1 << n)
    forward[0] = 1.0
    for m, (source, target, cls) in enumerate(layers):
        # Each layer is rescaled to a maximum of 1 (a factor common to every
        # naming, cancelled by the row normalisation below).
        top = forward[source].max()
        step = forward[source] * w[m, cls] / (top if top > 0 else 1.0)
        forward += np.bincount(target, weights=step, minlength=forward.size)
    backward = np.zeros(1 << n)
    backward[full] = 1.0
    for m in range(k - 1, -1, -1):
        source, target, cls = layers[m]
        acc = np.bincount(source, weights=w[m, cls] * backward[target], minlength=1 << n)
        top = acc[source].max()
        backward[source] = acc[source] / (top if top > 0 else 1.0)
    posterior = np.zeros((k, n))
    for m, (source, target, cls) in enumerate(layers):
        posterior[m] = np.bincount(cls, weights=forward[source] * w[m, cls] * backward[target],
                                   minlength=n)
    return _normalised_rows(posterior)


def _sinkhorn(log_w: np.ndarray) -> np.ndarray:
    """Sinkhorn's doubly stochastic scaling of the weights, in log space.

    Fewer communities than classes are padded with uniform rows (communities
    no label speaks for), so that every class is matched exactly once.
    """
    k, n = log_w.shape
    log_p = np.vstack([log_w, np.zeros((n - k, n))])
    for _ in range(_SINKHORN_ITER):
        log_p -= np.logaddexp.reduce(log_p, axis=1, keepdims=True)
        col = np.logaddexp.reduce(log_p, axis=0, keepdims=True)
        log_p -= col
        if np.max(np.abs(col)) < _SINKHORN_TOL:
            break
    return _normalised_rows(np.exp(log_p[:k]))


def _normalised_rows(p: np.ndarray) -> np.ndarray:
    total = p.sum(axis=1, keepdims=True)
    # A row whose every naming underflowed carries no information: uniform.
    return np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / p.shape[1])
