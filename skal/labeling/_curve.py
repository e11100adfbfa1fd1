"""A session's learning curve on a labeled test file, and its small plot.

The state keeps, for every finished round, the labels bought and the
filter's verdicts at the round's end (``history_``). The curve retrains the
session's final estimator on each round's predicted-clean labels as recorded
there and scores it on the test set, so it shows what each round's model
knew, even after later corrections.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier

from .._nas._steps import default_estimator
from ._answers import parse_labels
from ._pool import LabelingError, _read_csv

__all__ = ["read_test", "learning_curve", "plot_curve"]


def read_test(path: str | os.PathLike, session, *, label_column: str = "label"):
    """A labeled test set: ``.npz`` with ``X`` and ``y``, or a CSV with the pool's
    feature columns and a ``label`` column.

    Returns
    -------
    X : ndarray of shape (n, n_features)
    y : ndarray
        Labels of the session's type, inside its classes.
    """
    path = os.fspath(path)
    where = f"test file {path!r}"
    if not os.path.isfile(path):
        raise LabelingError(f"{where} does not exist")
    n_features = session.pool.X.shape[1]
    try:
        if path.lower().endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if not {"X", "y"} <= set(z.files):
                    raise LabelingError(f"{where} must hold arrays 'X' and 'y', it holds "
                                        f"{list(z.files)}")
                X, raw = np.asarray(z["X"], dtype=np.float64), z["y"].tolist()
        elif path.lower().endswith(".csv"):
            header, rows = _read_csv(path)
            columns = session.pool.feature_columns or [f"x{k}" for k in range(n_features)]
            missing = [c for c in [*columns, label_column] if c not in header]
            if missing:
                raise LabelingError(f"{where} lacks column(s) {missing[:5]}")
            at = [header.index(c) for c in columns]
            X = np.asarray([[float(r[k]) for k in at] for r in rows], dtype=np.float64)
            raw = [r[header.index(label_column)] for r in rows]
        else:
            raise LabelingError(f"{where}: use a .npz (X, y) or a .csv with a "
                                f"{label_column!r} column")
    except (OSError, ValueError) as exc:
        if isinstance(exc, LabelingError):
            raise
        raise LabelingError(f"{where} cannot be read: {exc}") from None
    if X.ndim != 2 or X.shape[1] != n_features or X.shape[0] != len(raw) or not len(raw):
        raise LabelingError(f"{where}: expected {n_features} features and one label per row, "
                            f"got X of shape {X.shape} and {len(raw)} labels")
    y = parse_labels(raw, session.metadata["label_type"], session.classes, where)
    return X, y


def _fit(learner, X: np.ndarray, y: np.ndarray):
    if y.size == 0 or np.unique(y).size < 2:
        return DummyClassifier(strategy="most_frequent").fit(X, y)
    model = default_estimator() if learner.estimator is None else clone(learner.estimator)
    if "random_state" in model.get_params(deep=False) and model.get_params()["random_state"] is None:
        model.set_params(random_state=learner._estimator_seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        return model.fit(X, y)


def learning_curve(session, X_test: np.ndarray, y_test: np.ndarray) -> list[dict]:
    """Test accuracy after every finished round.

    Returns
    -------
    points : list of dict
        ``round``, ``n_labeled``, ``n_trained`` (labels the model learnt
        from), ``accuracy``.
    """
    learner = session.learner
    if not learner._initialised:
        return []
    X_pool = session.pool.X
    idx, labels, points = [], [], []
    use_clean = learner.train_on == "clean" and learner.noise_filter_ is not None
    for record in learner.history_:
        idx.extend(record["picks"])
        labels.extend(record["labels"])
        mask = np.asarray(record["clean_mask"], dtype=bool) if use_clean \
            else np.ones(len(idx), dtype=bool)
        rows = np.asarray(idx, dtype=np.int64)[mask]
        y = np.asarray(labels, dtype=y_test.dtype)[mask]
        model = _fit(learner, X_pool[rows], y)
        accuracy = float(np.mean(model.predict(X_test) == y_test))
        points.append({"round": int(record["round"]), "n_labeled": len(idx),
                       "n_trained": int(rows.size), "accuracy": accuracy})
    return points


def plot_curve(points: list[dict], path: str | os.PathLike, title: str = "") -> None:
    """Save a small learning-curve PNG (test accuracy against labels bought)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise LabelingError("the plot needs matplotlib: pip install 'skal[plot]'") from None
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LabelingError(f"cannot write {os.fspath(path)!r}: folder {folder!r} does not exist")
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    try:
        ax.plot([p["n_labeled"] for p in points], [p["accuracy"] for p in points], "o-")
        ax.set_xlabel("labels bought")
        ax.set_ylabel("test accuracy")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        if title:
            ax.set_title(title, fontsize=9)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
