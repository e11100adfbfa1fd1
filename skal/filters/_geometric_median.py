"""The geometric median: a class centre that up to half of its labels cannot drag away."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._pool import _dense

__all__ = ["geometric_median"]


def geometric_median(X: np.ndarray, *, max_iter: int = 100, tol: float = 1e-7,
                     init: np.ndarray | None = None) -> np.ndarray:
    """Point minimising the sum of Euclidean distances to the rows of ``X``.

    Weiszfeld's iteration, started at the coordinate-wise median. Unlike the
    mean, the geometric median has a breakdown point of 1/2: up to half of a
    class's labels can be wrong before its centre is dragged away.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    max_iter : int, default=100
    tol : float, default=1e-7
        Stop when the centre moves less than ``tol`` (relative to the data scale).
    init : ndarray of shape (n_features,), optional
        Starting point (default: the coordinate-wise median, or the mean for
        sparse input); a nearby answer, e.g. the median of a superset, saves
        iterations.

    Returns
    -------
    median : ndarray of shape (n_features,)
    """
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64)
        # The coordinate-wise median of a sparse matrix is not cheap; the mean
        # is an equally valid start for Weiszfeld's iteration.
        z = np.asarray(X.mean(axis=0)).ravel() if init is None else np.asarray(init, np.float64)
        x_sq = np.asarray(X.multiply(X).sum(axis=1)).ravel()
        scale = max(float(abs(X).max()), 1e-12) if X.nnz else 1e-12
    else:
        X = np.asarray(X, dtype=np.float64)
        z = np.median(X, axis=0) if init is None else np.asarray(init, dtype=np.float64)
        x_sq = np.einsum("ij,ij->i", X, X)
        scale = max(float(np.abs(X).max()), 1e-12)
    for _ in range(max_iter):
        # |x - z|^2 expanded, so that a sparse X is never densified.
        d = np.sqrt(np.maximum(x_sq - 2.0 * (X @ z) + z @ z, 0.0))
        # A centre sitting on a data point would divide by zero; that point
        # simply drops out of the weighted average (Vardi & Zhang's fix is not
        # needed for a filter's purposes).
        w = 1.0 / np.maximum(d, 1e-12 * scale)
        z_new = np.asarray(X.T @ w).ravel() / w.sum()
        if np.linalg.norm(z_new - z) <= tol * scale:
            return z_new
        z = z_new
    return z


def _leave_one_out_geometric_medians(M, start: np.ndarray, *, max_iter: int = 100,
                                     tol: float = 1e-6) -> np.ndarray:
    """Row ``k``: the geometric median of the rows of ``M`` other than ``k``.

    Weiszfeld's iteration run for every left-out row at once (one ``n x n``
    weight matrix per step), from the median of all rows, which is close.
    """
    n = M.shape[0]
    Md = np.asarray(_dense(M), dtype=np.float64)
    m_sq = np.einsum("ij,ij->i", Md, Md)
    scale = max(float(np.abs(Md).max()), 1e-12)
    Zc = np.repeat(np.asarray(start, dtype=np.float64)[None, :], n, axis=0)
    for _ in range(max_iter):
        d2 = np.einsum("ij,ij->i", Zc, Zc)[:, None] - 2.0 * (Zc @ Md.T) + m_sq[None, :]
        W = 1.0 / np.maximum(np.sqrt(np.maximum(d2, 0.0)), 1e-12 * scale)
        np.fill_diagonal(W, 0.0)
        new = (W @ Md) / W.sum(axis=1, keepdims=True)
        moved = float(np.sqrt(((new - Zc) ** 2).sum(axis=1)).max())
        Zc = new
        if moved <= tol * scale:
            break
    return Zc
