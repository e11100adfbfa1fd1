"""Pool rows on the unit sphere, and the tiles every blocked computation walks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

# Host tile of the δ-ball graph build (bytes) and its fewest rows.
_HOST_TILE_BYTES = 32 * 2**20
_MIN_TILE_ROWS = 128
# Default memory for one distance tile (bytes).
_TILE_BYTES = 256 * 2**20
# Float64 rows unit_normalize converts at a time.
_NORMALIZE_BLOCK_BYTES = 32 * 2**20


def unit_normalize(X: np.ndarray, *, dtype=np.float32) -> np.ndarray:
    """Divide by the largest norm, then project every row onto the unit sphere.

    This is ProbCover's feature normalisation. Rows of norm zero stay zero (they
    have no direction); they are never within any ball of positive radius of a
    unit vector except when ``delta > 1``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    dtype : numpy dtype, default=np.float32
        Output dtype (float32 halves the memory of the tiles and doubles BLAS speed).

    Returns
    -------
    Xn : ndarray of shape (n_samples, n_features)
    """
    X = np.asarray(X)
    n = X.shape[0]
    # Row blocks in float64: the same arithmetic, element by element, as on
    # the whole array, without three float64 copies of it (3 GB at 10^6 x 128).
    step = max(1, _NORMALIZE_BLOCK_BYTES // (8 * max(1, X.shape[1])))
    norms = np.empty(n, dtype=np.float64)
    for s in range(0, n, step):
        norms[s:s + step] = np.linalg.norm(np.asarray(X[s:s + step], dtype=np.float64), axis=1)
    max_norm = norms.max() if n else 0.0
    out = np.empty(X.shape, dtype=dtype)
    for s in range(0, n, step):
        Xb = np.asarray(X[s:s + step], dtype=np.float64)
        nb = norms[s:s + step]
        if max_norm > 0:
            Xb = Xb / max_norm
            nb = nb / max_norm
        safe = np.where(nb > 0, nb, 1.0)
        out[s:s + step] = Xb / safe[:, None]
    return out


def block_rows_for(n_cols: int, *, itemsize: int = 4, tile_bytes: int = _TILE_BYTES) -> int:
    """Number of rows of a tile with ``n_cols`` columns that fits in ``tile_bytes``."""
    return int(max(1, min(max(n_cols, 1), tile_bytes // max(1, n_cols * itemsize))))


def iter_row_blocks(n_rows: int, block_rows: int) -> Iterator[slice]:
    """Yield consecutive row slices covering ``range(n_rows)``, the last one included."""
    for start in range(0, n_rows, block_rows):
        yield slice(start, min(start + block_rows, n_rows))


def _resolve_torch_device(device):
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return dev
