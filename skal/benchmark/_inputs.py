"""``skal bench`` inputs: the user's files, read with errors that name the option."""

from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np

from ._options import BenchOptions

__all__ = ["load_data", "noise_settings"]

_CONTAINERS = (".npz", ".pt", ".pth")
# What reading a damaged or foreign file can raise: numpy (ValueError,
# EOFError on an empty or truncated .npy), zip containers, torch's unpickler.
_READ_ERRORS = (ValueError, TypeError, EOFError, OSError, RuntimeError, zipfile.BadZipFile,
                pickle.UnpicklingError)


def _check_file(opts: BenchOptions, key: str, array_key: str | None = None,
                path: str | None = None) -> str:
    """Check the file of option ``key`` before reading it; return its path."""
    path = opts[key] if path is None else path
    name = opts.name(key)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}: file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{name} {path} is a directory, not a file")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{name} {path} is empty")
    if array_key is not None and opts[array_key] is not None \
            and not path.lower().endswith(_CONTAINERS):
        # A .npy/.csv holds one array: a key there is a mistake, not a no-op.
        raise ValueError(f"{opts.name(array_key)} names an array inside an .npz/.pt container, "
                         f"but {name} {path} holds a single array")
    return path


def _reading(names: str, exc: BaseException, key_option: str) -> ValueError:
    reason = (str(exc) or type(exc).__name__).replace("with key=...", f"with {key_option}")
    if isinstance(exc, EOFError):
        reason = "the file is empty or truncated"
    # The loader may already say "cannot read <path>: ..."; say it once.
    path = names.split(" ", 1)[-1]
    for prefix in (f"cannot read {path}: ", f"cannot read embeddings file {path}: ",
                   f"cannot read labels file {path}: "):
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
    return ValueError(f"cannot read {names}: {reason}")


def _read(opts: BenchOptions, key: str, array_key: str, path: str | None = None):
    """The raw array of option ``key``'s file (``array_key`` names the array in a container)."""
    from ..datasets import _load_array

    path = _check_file(opts, key, array_key, path)
    try:
        return _load_array(path, opts[array_key], "embeddings" if "emb" in array_key else "labels")
    except _READ_ERRORS as exc:
        raise _reading(f"{opts.name(key)} {path}", exc, opts.name(array_key)) from exc


def _load_pair(opts: BenchOptions, x_key: str, y_key: str, y_path: str | None = None):
    """Embeddings and labels, each read on its own so that an error names its option."""
    from .._validation import check_embeddings, check_labels

    X = check_embeddings(_read(opts, x_key, "embeddings_key"), opts.name(x_key),
                         dtype=(np.float32, np.float64))
    if y_path is None:
        y, y_name = _read(opts, y_key, "labels_key"), opts.name(y_key)
    else:  # the labels are an array of the --dataset container
        y = _read(opts, x_key, "labels_key", y_path)
        y_name = f"{opts.name('labels_key')} {opts['labels_key']!r} of {opts.name(x_key)}"
    return X.astype(np.float32, copy=False), check_labels(y, X.shape[0], y_name)


def load_data(opts: BenchOptions):
    """The pool, its real noisy labels (or ``None``), the test set and a description.

    Returns
    -------
    X, y, y_noisy, X_test, y_test : ndarray
    meta : dict
        Paths and split parameters, for ``config.json``.
    """
    from ..datasets import load_digits_embeddings, load_noisy_labels

    if opts["dataset"] == "digits":
        X, y = load_digits_embeddings(return_X_y=True)
        meta = {"dataset": "digits"}
    else:
        labels = opts["labels"]
        if labels is None and opts["labels_key"] is None:
            raise ValueError("--dataset PATH needs --labels (or --labels-key for a container "
                             "holding both)")
        X, y = _load_pair(opts, "dataset", "labels",
                          y_path=opts["dataset"] if labels is None else None)
        meta = {"dataset": os.path.abspath(opts["dataset"]),
                "labels": os.path.abspath(labels or opts["dataset"])}
    y_noisy = None
    if opts["noisy_labels"] is not None:
        path = _check_file(opts, "noisy_labels", "noisy_labels_key")
        try:
            y_noisy = load_noisy_labels(path, key=opts["noisy_labels_key"], n_samples=X.shape[0])
        except _READ_ERRORS as exc:
            raise _reading(f"{opts.name('noisy_labels')} {path}", exc,
                           opts.name("noisy_labels_key")) from exc
        meta["noisy_labels"] = os.path.abspath(path)
    if opts["test_embeddings"] is not None:
        X_test, y_test = _load_pair(opts, "test_embeddings", "test_labels")
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(f"{opts.name('test_embeddings')} has {X_test.shape[1]} features "
                             f"but --dataset has {X.shape[1]}")
        meta["test"] = os.path.abspath(opts["test_embeddings"])
        return X, y, y_noisy, X_test, y_test, meta
    from sklearn.model_selection import train_test_split

    size = opts["test_size"]
    idx = np.arange(X.shape[0])
    try:
        idx_pool, idx_test = train_test_split(idx, test_size=size, stratify=y,
                                              random_state=opts["split_seed"])
    except ValueError as exc:  # e.g. a class with a single member cannot be stratified
        raise ValueError(f"{opts.name('test_size')} {size}: cannot split a stratified test set "
                         f"off the dataset: {exc}") from exc
    meta.update(test_size=size, split_seed=opts["split_seed"])
    return (X[idx_pool], y[idx_pool], None if y_noisy is None else y_noisy[idx_pool],
            X[idx_test], y[idx_test], meta)


def noise_settings(opts: BenchOptions, y_noisy) -> list:
    """The ``noise`` argument of the runner: real labels, simulated rates, or both."""
    settings = []
    if y_noisy is not None:
        settings.append({"noise_type": "real", "y_noisy": y_noisy, "name": "real"})
        if not opts.given("noise_rate"):
            return settings
    settings += [{"noise_type": opts["noise_type"], "noise_rate": float(r)}
                 for r in opts["noise_rate"]]
    return settings
