"""FINE (Kim et al., 2021): alignment with each class's principal feature direction."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.utils._param_validation import Interval

from ._base import MIN_CLASS_COUNT, RANDOM_STATE, NoiseFilter, row_normalize

__all__ = ["FINEFilter", "fine_scores"]


def fine_scores(X: np.ndarray, y: np.ndarray, n_classes: int, *,
                basis_mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """FINE alignment of every sample with its given class's principal direction.

    For each class ``c`` the principal eigenvector ``u_c`` of the gram matrix
    ``Z_cᵀ Z_c`` of its row-normalised (uncentred) features is computed; the
    score of a sample is ``|<u_{y_i}, x_i / ‖x_i‖>|``, the cosine between the
    sample and that direction. Clean samples of a class share its dominant
    direction; mislabeled ones point elsewhere.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of int, shape (n_samples,)
        Labels in ``[0, n_classes)``.
    n_classes : int
    basis_mask : ndarray of bool, shape (n_samples,), optional
        Only these samples build the gram matrices (all of them when a class
        would be left empty). Every sample is scored.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        Alignment in ``[0, 1]``.
    directions : ndarray of shape (n_classes, n_features)
        Unit principal direction of each class (zero for an empty class).
    """
    Z = row_normalize(X if sp.issparse(X) else np.asarray(X, dtype=np.float64))
    use = np.ones(Z.shape[0], dtype=bool) if basis_mask is None else np.asarray(basis_mask, dtype=bool)
    directions = np.zeros((n_classes, Z.shape[1]))
    scores = np.zeros(Z.shape[0])
    for c in range(n_classes):
        in_class = y == c
        members = Z[in_class & use] if np.any(in_class & use) else Z[in_class]
        if members.shape[0] == 0:
            continue
        directions[c] = _principal_direction(members)
        scores[in_class] = np.abs(np.asarray(Z[in_class] @ directions[c]).ravel())
    return scores, directions


def _principal_direction(M) -> np.ndarray:
    """Top right singular vector of ``M`` (dense or CSR), unit length."""
    n, d = M.shape
    if d <= n and not sp.issparse(M):
        # The principal eigenvector of the d x d gram matrix: cheap and exact.
        _, vecs = np.linalg.eigh(M.T @ M)
        return vecs[:, -1]
    # Wide or sparse: go through the n x n gram M M^T instead; its top
    # eigenvector v gives the direction M^T v (TF-IDF has d >> n).
    G = M @ M.T
    G = G.toarray() if sp.issparse(G) else np.asarray(G)
    _, vecs = np.linalg.eigh(G)
    u = np.asarray(M.T @ vecs[:, -1]).ravel()
    norm = np.linalg.norm(u)
    return u / norm if norm > 0 else u


class FINEFilter(NoiseFilter):
    """FINE: keep the labels aligned with their class's principal direction.

    Kim et al., "FINE Samples for Learning with Noisy Labels", NeurIPS 2021.
    The alignment score of each label is computed by :func:`fine_scores`;
    then, class by class, a two-component Gaussian mixture is fitted to the
    scores and a label is kept when its posterior of belonging to the
    higher-mean (aligned) component is at least ``p_threshold``.

    In the paper the clean set found at one epoch shapes the features of the
    next. On fixed embeddings the analogue is to re-estimate each class's
    direction from the labels kept by the previous pass (``n_iter`` passes):
    the wrong labels then stop pulling the direction towards themselves. On
    the digits benchmark three passes raise the F1 of noisy-label detection
    from about 0.76 to 0.80 (30% symmetric noise, 500 labels).

    Parameters
    ----------
    n_iter : int, default=3
        Passes of (directions from the kept labels, scores, mixtures);
        ``n_iter=1`` is the single-shot FINE score.
    standardize : bool, default=False
        Centre and scale each feature over the labeled set first. The paper
        uses raw (uncentred) features, and on the digits benchmark that is
        also measurably better; the option is there for embeddings whose
        features live on very different scales.
    p_threshold : float in [0, 1], default=0.5
        Posterior of the aligned component above which a label is kept (the
        value of the FINE paper).
    min_class_count : int, default=4
        Classes with fewer labels are kept unjudged: a two-component mixture
        needs a few points to mean anything.
    random_state : int, numpy Generator or None, default=None
        Seeds the mixtures' initialisation.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Posterior probability that the label belongs to its class's aligned
        component (1.0 for unjudged labels).
    threshold_ : float
        ``p_threshold``.
    alignment_ : ndarray of shape (n_samples,)
        The raw FINE alignment scores.
    directions_ : ndarray of shape (n_classes, n_features)
        Principal direction of each class.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import FINEFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:500], 0.3, random_state=0)
    >>> keep = FINEFilter(random_state=0).fit_filter(X[:500], y_noisy)
    >>> bool((~keep[is_noisy]).mean() > 0.6)
    True
    """

    _parameter_constraints: dict = {
        "n_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "standardize": ["boolean"],
        "p_threshold": [Interval(numbers.Real, 0, 1, closed="both")],
        "min_class_count": MIN_CLASS_COUNT,
        "random_state": RANDOM_STATE,
    }
    accepts_sparse = True

    def __init__(self, *, n_iter=3, standardize=False, p_threshold=0.5, min_class_count=4,
                 random_state=None):
        self.n_iter = n_iter
        self.standardize = standardize
        self.p_threshold = p_threshold
        self.min_class_count = min_class_count
        self.random_state = random_state

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        if sp.issparse(X) and self.standardize:
            raise ValueError("FINEFilter(standardize=True) centres every feature, which would "
                             "densify the sparse X: use standardize=False or pass a dense X")
        Z = X if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        if self.standardize:
            std = Z.std(axis=0)
            Z = (Z - Z.mean(axis=0)) / np.where(std > 1e-12, std, 1.0)
        counts = np.bincount(y, minlength=n_classes)
        judged = np.flatnonzero(counts >= max(self.min_class_count, 2))
        # One seed per class, drawn once, so every pass fits its mixtures alike.
        seeds = rng.integers(0, 2**31 - 1, size=n_classes)
        kept = np.ones(X.shape[0], dtype=bool)
        for _ in range(self.n_iter):
            alignment, directions = fine_scores(Z, y, n_classes, basis_mask=kept)
            posterior = np.ones(X.shape[0])
            for c in judged:
                idx = np.flatnonzero(y == c)
                posterior[idx] = _aligned_posterior(alignment[idx], int(seeds[c]))
            kept = posterior >= self.p_threshold
        self.alignment_ = alignment
        self.directions_ = directions
        threshold = float(self.p_threshold)
        return posterior, threshold, posterior >= threshold


def _aligned_posterior(scores: np.ndarray, seed: int) -> np.ndarray:
    """Posterior of the higher-mean component of a 2-Gaussian mixture on 1-D scores."""
    if np.ptp(scores) < 1e-9:
        return np.ones(scores.size)  # identical scores: nothing to separate, keep them all
    a = scores.reshape(-1, 1)
    # Start the two components at the lower and upper quartiles: a 1-D split
    # needs no k-means initialisation (and its thread pool), and the start is
    # deterministic.
    start = np.percentile(scores, [25, 75]).reshape(2, 1)
    gmm = GaussianMixture(n_components=2, covariance_type="full", tol=1e-6, max_iter=100,
                          reg_covar=1e-6, means_init=start, random_state=seed)
    with warnings.catch_warnings():
        # A class whose scores are nearly unimodal converges slowly; the
        # posterior is still meaningful.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm.fit(a)
    return gmm.predict_proba(a)[:, int(np.argmax(gmm.means_.ravel()))]
