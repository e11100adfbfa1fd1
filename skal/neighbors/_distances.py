"""Squared distances, kernel rows and bandwidths between blocks of rows."""

from __future__ import annotations

import numpy as np

from .._validation import check_random_state
from ._tiles import block_rows_for, iter_row_blocks


def row_sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of every row, accumulated in float64."""
    X = np.asarray(X)
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def sq_dists_block(A: np.ndarray, B: np.ndarray, a_sq: np.ndarray | None = None,
                   b_sq: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``A`` and ``B`` (one BLAS product).

    Parameters
    ----------
    A : ndarray of shape (n_a, n_features)
    B : ndarray of shape (n_b, n_features)
    a_sq, b_sq : ndarray, optional
        Precomputed squared row norms (see :func:`row_sq_norms`).

    Returns
    -------
    d2 : ndarray of shape (n_a, n_b), dtype of ``A @ B.T``
        Clipped at zero (the expansion can go slightly negative by rounding).
    """
    if a_sq is None:
        a_sq = row_sq_norms(A)
    if b_sq is None:
        b_sq = row_sq_norms(B)
    G = A @ B.T
    G *= -2.0
    G += a_sq.astype(G.dtype, copy=False)[:, None]
    G += b_sq.astype(G.dtype, copy=False)[None, :]
    np.maximum(G, 0.0, out=G)
    return G


def kernel_block(A: np.ndarray, B: np.ndarray, bandwidth: float, kernel: str = "rbf", *,
                 a_sq: np.ndarray | None = None, b_sq: np.ndarray | None = None) -> np.ndarray:
    """Kernel values between the rows of ``A`` and ``B``.

    Parameters
    ----------
    A : ndarray of shape (n_a, n_features)
    B : ndarray of shape (n_b, n_features)
    bandwidth : float
        Kernel width ``sigma`` > 0.
    kernel : {"rbf", "laplacian"}, default="rbf"
        ``"rbf"``: ``exp(-(||a - b|| / sigma)**2)`` (MaxHerding's kernel);
        ``"laplacian"``: ``exp(-||a - b|| / sigma)``.
    a_sq, b_sq : ndarray, optional
        Precomputed squared row norms.

    Returns
    -------
    K : ndarray of shape (n_a, n_b)
    """
    K = sq_dists_block(A, B, a_sq, b_sq)
    if kernel == "rbf":
        K *= -1.0 / (bandwidth * bandwidth)
    elif kernel == "laplacian":
        np.sqrt(K, out=K)
        K *= -1.0 / bandwidth
    else:
        raise ValueError(f"kernel must be 'rbf' or 'laplacian', got {kernel!r}")
    np.exp(K, out=K)
    return K


def min_sq_dist_to(X: np.ndarray, centers: np.ndarray, *, x_sq: np.ndarray | None = None,
                   block_rows: int | None = None) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centers``.

    Tiles over the centres so that only ``n_samples x block_rows`` distances are
    held at a time.

    Returns
    -------
    d2 : ndarray of shape (n_samples,), float64
        ``inf`` when ``centers`` is empty.
    """
    n = X.shape[0]
    out = np.full(n, np.inf, dtype=np.float64)
    if centers.shape[0] == 0:
        return out
    if x_sq is None:
        x_sq = row_sq_norms(X)
    if block_rows is None:
        block_rows = block_rows_for(n, itemsize=X.dtype.itemsize)
    c_sq = row_sq_norms(centers)
    for sl in iter_row_blocks(centers.shape[0], block_rows):
        D = sq_dists_block(centers[sl], X, c_sq[sl], x_sq)
        np.minimum(out, D.min(axis=0), out=out)
    return out


def median_bandwidth(X: np.ndarray, *, n_sample: int = 2000, random_state=None) -> float:
    """Median heuristic: the median distance between distinct points of a sample.

    Used as the default kernel width of MaxHerding so that the kernel is never
    degenerate (the reference code crashes when no width is given).

    Returns
    -------
    sigma : float
        Positive; 1.0 when every sampled point coincides.
    """
    rng = check_random_state(random_state)
    n = X.shape[0]
    idx = rng.choice(n, size=min(n, n_sample), replace=False) if n > n_sample else np.arange(n)
    S = np.asarray(X[idx], dtype=np.float64)
    d2 = sq_dists_block(S, S)
    iu = np.triu_indices(S.shape[0], k=1)
    d = np.sqrt(d2[iu])
    d = d[d > 0]
    return float(np.median(d)) if d.size else 1.0
