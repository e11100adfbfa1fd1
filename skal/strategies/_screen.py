"""Exact δ-ball tiles: low-precision screening with a proven bound, fp64 confirmation.

The δ-ball relation is *defined* in float64 on the stored float32 unit
vectors: ``j`` is in the ball of ``i`` iff ``i == j`` or
``sqrt(sum((x_i - x_j) ** 2)) < delta`` with the differences, squares, sum
and square root taken in float64 (:func:`exact_sq_dists`). Computing that for
all pairs costs ``3 N^2 d`` float64 operations; instead every tile is
*screened* with one matrix product in a cheap precision (float32 BLAS, or
bfloat16 on tensor cores / AMX), and only the pairs the screen cannot decide
are measured with the definition.

Why the screen never loses an edge (see :func:`screen_bound`): let ``s`` be
the exact dot product of two stored vectors, ``s_hat`` the screened one, and
``E`` a bound on ``|s_hat - s|``. With ``|‖x‖² - 1| <= nu`` for every
non-zero row, ``‖x - y‖² = ‖x‖² + ‖y‖² - 2 s``, so with ``t = 1 - δ²/2``

* an edge needs ``s > t - nu - slack``, hence ``s_hat > t - nu - slack - E``
  (``lo``): pairs at or below ``lo`` are certainly outside;
* ``s_hat > t + nu + slack + E`` (``hi``) gives ``‖x - y‖² < δ² - 2 slack``,
  certainly inside even after float64 rounding of the definition;
* pairs in between are checked with the definition itself.

``slack`` covers the float64 rounding of the definition. Rows of norm zero
(no direction) break the ``nu`` argument; their pairs are always checked.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

__all__ = ["float32_tie_window", "screen_bound", "exact_sq_dists", "exact_within", "ScreenedTiles", "have_fast_bf16"]

# Unit roundoff of float32 accumulation, doubled so that accumulators that
# truncate instead of rounding to nearest (some tensor cores) are covered.
_U_ACC = 2.0**-23
# Relative rounding of a bfloat16 result (8 significant bits).
_U_BF16 = 2.0**-8
# Pairs per chunk of the float64 confirmation (bounds its temporaries).
_CONFIRM_ELEMS = 1 << 22


def have_fast_bf16(device=None) -> bool:
    """Whether bfloat16 products are faster than float32 ones on ``device``.

    True on CUDA (tensor cores) and on CPUs with AMX tiles; False elsewhere
    (AVX2 machines emulate bfloat16 about ten times slower than float32 BLAS).
    """
    if device is not None and str(device).split(":")[0] in ("cuda", "auto"):
        import torch

        if torch.cuda.is_available():
            return True
        if str(device).startswith("cuda"):
            return False
    # CPU: read the flags rather than import torch (seconds) for a default path.
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("flags"):
                return "amx_bf16" in line.split()
    return False


def screen_bound(n_features: int, *, max_norm: float, input_error: float,
                 output_rounding: float = 0.0) -> float:
    """Proven bound on ``|s_hat - x . y|`` for a screened dot product.

    Parameters
    ----------
    n_features : int
        Length ``d`` of the dot products.
    max_norm : float
        Largest Euclidean norm of a stored (float32) row, ``rho``.
    input_error : float
        Largest ``‖x_hat - x‖`` between a screened (rounded) row and the
        stored row, ``r`` (0 when the screen reads the float32 rows as they are).
    output_rounding : float, default=0
        Relative rounding of the product's output format (``2**-8`` when the
        product returns bfloat16).

    Returns
    -------
    E : float
        ``|x_hat . y_hat - x . y| <= 2 rho r + r**2`` (Cauchy-Schwarz), plus the
        accumulation error ``gamma_d sum_k |x_hat_k y_hat_k| <= gamma_d (rho + r)**2``
        of any summation order in float32 (``gamma_d = d u / (1 - d u)``), plus
        the output rounding of a value of magnitude at most ``(rho + r)**2``;
        inflated by one part in a million for the float64 evaluation of this
        formula.
    """
    rho, r = float(max_norm), float(input_error)
    du = n_features * _U_ACC
    if du >= 0.5:
        raise ValueError(f"n_features={n_features} is too large for a float32 screen bound")
    gamma = du / (1.0 - du)
    top = (rho + r) ** 2
    acc = gamma * top
    bound = 2.0 * rho * r + r * r + acc + output_rounding * (top + acc)
    return bound * (1.0 + 1e-6) + 1e-30


def float32_tie_window(Xn: np.ndarray) -> float:
    """Window, in float32 dot-product units, that surely holds the nearest neighbour.

    Among unit-ish rows (``|‖x‖² - 1| <= nu``), a point whose float64 distance
    is the smallest has a float32 dot product within ``2 E + 2 nu`` of the
    largest float32 dot product (``E`` from :func:`screen_bound`), so
    re-measuring every candidate in that window finds the exact minimum.
    """
    sq = np.einsum("ij,ij->i", Xn, Xn, dtype=np.float64)
    nz = sq[sq > 0]
    nu = (float(np.abs(nz - 1.0).max()) if nz.size else 0.0) + (Xn.shape[1] + 2) * 2.0**-51
    E = screen_bound(Xn.shape[1], max_norm=math.sqrt(1.0 + nu), input_error=0.0)
    return 2.0 * E + 2.0 * nu + 1e-7  # + float32 rounding of the subtraction below


def exact_sq_dists(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``sum((A[k] - B[k]) ** 2)`` in float64 for every row pair: the reference arithmetic.

    Every decision about a pair near the boundary is taken with this exact
    sequence of float64 operations (difference, square, NumPy's reduction
    over the contiguous feature axis), so the graph equals the dense float64
    definition bit for bit.
    """
    diff = np.asarray(A, dtype=np.float64) - np.asarray(B, dtype=np.float64)
    diff *= diff
    return np.add.reduce(diff, axis=1)


def exact_within(Xn: np.ndarray, rows: np.ndarray, cols: np.ndarray, delta: float) -> np.ndarray:
    """``sqrt(exact_sq_dists(Xn[rows], Xn[cols])) < delta``, in bounded memory."""
    out = np.empty(rows.size, dtype=bool)
    step = max(1, _CONFIRM_ELEMS // max(1, Xn.shape[1]))
    for s in range(0, rows.size, step):
        e = min(rows.size, s + step)
        out[s:e] = np.sqrt(exact_sq_dists(Xn[rows[s:e]], Xn[cols[s:e]])) < delta
    return out


def _f32_below(x: float) -> np.float32:
    """The largest float32 that is ``<= x``."""
    v = np.float32(x)
    return v if float(v) <= x else np.nextafter(v, np.float32(-np.inf))


def _f32_above(x: float) -> np.float32:
    """The smallest float32 that is ``>= x``."""
    v = np.float32(x)
    return v if float(v) >= x else np.nextafter(v, np.float32(np.inf))


class ScreenedTiles:
    """Exact edges of row tiles of the δ-ball graph of float32 unit vectors.

    Parameters
    ----------
    Xn : ndarray of shape (n, d), float32
        Unit-normalised rows (zero rows allowed).
    delta : float
        Ball radius.
    device : str or None
        ``None``: the screen is a NumPy float32 product; a torch device string
        runs it with torch there.
    screen : {"float32", "bfloat16"}
        Precision of the screening product (bfloat16 runs through torch).
    confirm_on_device : bool or None
        Measure the band in float64 on ``device`` (pairs within a 1e-10
        relative margin of δ still go to the host's reference arithmetic);
        ``None``: on CUDA only.

    Attributes
    ----------
    lo, hi : numpy.float32
        Screened values ``<= lo`` are outside, ``> hi`` inside, between are confirmed.
    bound : float
        The proven screening error ``E`` (:func:`screen_bound`).
    n_confirmed : int
        Pairs measured with the float64 definition so far.
    """

    def __init__(self, Xn: np.ndarray, delta: float, *, device=None, screen: str = "float32",
                 confirm_on_device: bool | None = None):
        if screen not in ("float32", "bfloat16"):
            raise ValueError(f"screen must be 'float32' or 'bfloat16', got {screen!r}")
        if screen == "bfloat16" and device is None:
            device = "cpu"
        self.Xn = np.ascontiguousarray(Xn, dtype=np.float32)
        self.delta = float(delta)
        self.device = device
        n, d = self.Xn.shape
        sq = np.einsum("ij,ij->i", self.Xn, self.Xn, dtype=np.float64)
        self.zero_rows = np.flatnonzero(sq == 0.0)
        nz = sq[sq > 0]
        # nu bounds |‖x‖² - 1| in exact arithmetic: the float64 sum's own
        # error is at most (d + 1) 2^-53 of a value below 2.
        nu = (float(np.abs(nz - 1.0).max()) if nz.size else 0.0) + (d + 2) * 2.0**-51
        rho = math.sqrt(1.0 + nu)
        r, out_round = 0.0, 0.0
        if device is not None:
            import torch

            from ..neighbors._tiles import _resolve_torch_device

            self.torch = torch
            dev = _resolve_torch_device(device)
            Xt = torch.from_numpy(self.Xn).to(dev)
            if screen == "bfloat16":
                self.Xs = Xt.to(torch.bfloat16)
                err = self.Xs.double() - Xt.double()
                r = float(torch.linalg.vector_norm(err, dim=1).max()) * (1.0 + 1e-6) if n else 0.0
                del err
                out_round = _U_BF16  # the product returns bfloat16
            else:
                self.Xs = Xt
        self.screen = screen
        # On CUDA the float64 check of the band runs there too (the host would
        # be the bottleneck at 10^6 points); None means "on CUDA only".
        if confirm_on_device is None:
            confirm_on_device = device is not None and self.Xs.device.type == "cuda"
        self.confirm_on_device = bool(confirm_on_device) and device is not None
        self.bound = screen_bound(d, max_norm=rho, input_error=r, output_rounding=out_round)
        slack = (d + 16) * 2.0**-48
        t = 1.0 - self.delta * self.delta / 2.0
        self.lo = _f32_below(t - nu - slack - self.bound)
        self.hi = _f32_above(t + nu + slack + self.bound)
        self.mid = np.float32((float(self.lo) + float(self.hi)) / 2.0)
        self._lower = {}
        self.n_confirmed = 0

    def _matmul(self, sl: slice, first: int, col_idx=None):
        if self.device is None:
            B = self.Xn[first:] if col_idx is None else self.Xn[col_idx]
            return self.Xn[sl] @ B.T
        torch = self.torch
        B = self.Xs[first:] if col_idx is None else \
            self.Xs[torch.from_numpy(col_idx).to(self.Xs.device)]
        with _exact_cuda_matmul(torch):
            return self.Xs[sl] @ B.T

    def _confirm_on_device(self, rows_t, cols_t):
        """Band pairs (device tensors) that are *outside* the ball, as a bool tensor."""
        torch = self.torch
        if getattr(self, "_X64", None) is None:
            self._X64 = torch.from_numpy(self.Xn).to(self.Xs.device).double()
        d2lim = self.delta * self.delta
        # The device's float64 sum may round differently from NumPy's pairwise
        # one, by far less than this relative margin (d 2^-52 ~ 1e-13 at d=512).
        margin = 1e-10 * d2lim
        out = torch.empty(rows_t.numel(), dtype=torch.bool, device=rows_t.device)
        step = max(1, _CONFIRM_ELEMS // max(1, self.Xn.shape[1]))
        for s in range(0, rows_t.numel(), step):
            r, c = rows_t[s:s + step], cols_t[s:s + step]
            diff = self._X64[r] - self._X64[c]
            d2 = (diff * diff).sum(dim=1)
            outside = d2 >= d2lim
            unsure = torch.nonzero((d2 - d2lim).abs() <= margin).flatten()
            if unsure.numel():
                ur, uc = r[unsure].cpu().numpy(), c[unsure].cpu().numpy()
                exact_in = exact_within(self.Xn, ur, uc, self.delta)
                outside[unsure] = torch.from_numpy(~exact_in).to(outside.device)
            out[s:s + step] = outside
        return torch.nonzero(out).flatten()

    def _lower_mask(self, m: int, like):
        if m not in self._lower:
            mask = np.tri(m, m, -1, dtype=bool)
            if self.device is not None:
                mask = self.torch.from_numpy(mask).to(like.device)
            self._lower[m] = mask
        return self._lower[m]

    def edges(self, sl: slice, *, upper: bool,
              col_idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Column indices (row-major, sorted per row) and per-row counts of rows ``sl``.

        With ``upper=True`` only columns ``j >= i`` are produced. ``col_idx``
        (sorted, holding every column of ``sl`` and none before it when
        ``upper``) restricts the columns compared; pairs outside it are
        taken to be non-edges (block pruning proves them so).
        """
        m = sl.stop - sl.start
        first = sl.start if upper else 0
        S = self._matmul(sl, first, col_idx)
        zr = self.zero_rows
        zr_tile = zr[(zr >= sl.start) & (zr < sl.stop)] - sl.start
        if col_idx is None:
            zc_tile = zr[zr >= first] - first
            offset = sl.start - first  # column of the tile's first diagonal entry
        else:
            zc_tile = np.flatnonzero(np.isin(col_idx, zr)) if zr.size else zr
            offset = int(np.searchsorted(col_idx, sl.start))
        diag = np.arange(m)
        if self.device is None:
            # Pairs with a zero row are undecidable by the screen: send them to
            # the float64 check by placing them inside the band.
            if zr_tile.size:
                S[zr_tile] = self.mid
            if zc_tile.size:
                S[:, zc_tile] = self.mid
            S[diag, diag + offset] = 2.0  # self-loops, whatever rounding says
            if upper:
                S[:, offset:offset + m][self._lower_mask(m, S)] = -np.inf
            mask = S > self.lo
            width = S.shape[1]
            flat = np.flatnonzero(mask)
            counts = np.count_nonzero(mask, axis=1)
            del mask
            vals = S.ravel()[flat]
            del S
            cols = flat - np.repeat(np.arange(m, dtype=np.int64) * width, counts)
            band = np.flatnonzero(vals <= self.hi)
            del vals, flat
            r_band = np.repeat(np.arange(m, dtype=np.int64), counts)[band] if band.size else band
        else:
            torch = self.torch
            S = S.float() if S.dtype != torch.float32 else S
            if zr_tile.size:
                S[torch.from_numpy(zr_tile).to(S.device)] = float(self.mid)
            if zc_tile.size:
                S[:, torch.from_numpy(zc_tile).to(S.device)] = float(self.mid)
            dt = torch.from_numpy(diag).to(S.device)
            S[dt, dt + offset] = 2.0
            if upper:
                S[:, offset:offset + m].masked_fill_(self._lower_mask(m, S), float("-inf"))
            nz = torch.nonzero(S > float(self.lo), as_tuple=True)
            vals = S[nz]
            in_band = torch.nonzero(vals <= float(self.hi)).flatten()
            rows_t, cols_t = nz
            del S, vals
            counts = torch.bincount(rows_t, minlength=m).cpu().numpy()
            if col_idx is not None:
                cols_t = torch.from_numpy(col_idx).to(cols_t.device)[cols_t]
                first = 0
            if in_band.numel() and self.confirm_on_device:
                # Decide the band on the device in float64; only pairs within
                # a rounding margin of delta go to the host's reference arithmetic.
                drop = self._confirm_on_device(rows_t[in_band] + sl.start,
                                               cols_t[in_band] + first)
                self.n_confirmed += int(in_band.numel())
                keep = torch.ones(cols_t.numel(), dtype=torch.bool, device=cols_t.device)
                keep[in_band[drop]] = False
                counts = counts - torch.bincount(rows_t[in_band[drop]], minlength=m).cpu().numpy()
                cols = (cols_t[keep] + first).cpu().numpy()
                return cols, counts
            band = in_band.cpu().numpy()
            r_band = rows_t[in_band].cpu().numpy()
            cols = cols_t.cpu().numpy()
            del nz
        if col_idx is None:
            cols = cols + first
        elif self.device is None:  # the torch path mapped its columns already
            cols = col_idx[cols]
        if band.size:
            inside = exact_within(self.Xn, r_band + sl.start, cols[band], self.delta)
            self.n_confirmed += int(band.size)
            if not inside.all():
                cols = np.delete(cols, band[~inside])
                counts = counts - np.bincount(r_band[~inside], minlength=m)
        return cols, counts


@contextlib.contextmanager
def _exact_cuda_matmul(torch):
    """Disable TF32 and reduced-precision bf16 reductions, which would void the bound."""
    if not torch.cuda.is_available():
        yield
        return
    m = torch.backends.cuda.matmul
    saved = (m.allow_tf32, m.allow_bf16_reduced_precision_reduction)
    m.allow_tf32 = False
    m.allow_bf16_reduced_precision_reduction = False
    try:
        yield
    finally:
        m.allow_tf32, m.allow_bf16_reduced_precision_reduction = saved
