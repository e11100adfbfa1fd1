"""The class-by-class gap script: its community table and the per-class records of a run."""

import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))


def _blobs(n_per_class=50, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(n_classes, 8) * 4.0
    X = np.vstack([c + rng.normal(0, 0.3, (n_per_class, 8)) for c in centres])
    return X / np.linalg.norm(X, axis=1, keepdims=True), np.repeat(np.arange(n_classes), n_per_class)


def test_community_table_counts_every_pool_row_once():
    from nas_gap_by_class import community_table

    X, y = _blobs()
    counts = community_table(X, y)
    assert counts.shape == (3, 3)
    assert counts.sum() == y.size
    # Separated blobs: each class is one community, so each row of the table
    # has a single non-zero entry, and no two classes share a community.
    assert (np.count_nonzero(counts, axis=1) == 1).all()
    assert sorted(counts.argmax(axis=1).tolist()) == [0, 1, 2]


@pytest.mark.parametrize("row", ["default", "ideal"])
def test_one_run_records_recall_purchases_and_verdicts(row):
    from nas_gap_by_class import LABEL_COLUMNS, one_run

    X, y = _blobs(seed=1)
    X_test, y_test = _blobs(n_per_class=20, seed=2)
    out = one_run("MaxHerding", row, 0.3, 0, X, y, X_test, y_test)
    assert out["recall"].shape == (5, 3)
    assert ((0 <= out["recall"]) & (out["recall"] <= 1)).all()
    # Cumulative budgets ceil(spc * 3 / 0.7) for spc 1..5: 22 labels after the last round.
    assert out["bought"].sum() == 22
    if row == "default":
        labels = out["labels"]
        assert labels.shape == (3, len(LABEL_COLUMNS))
        right, right_doubted, wrong, wrong_kept = labels.T
        np.testing.assert_array_equal(right + wrong, out["bought"])
        assert (right_doubted <= right).all() and (wrong_kept <= wrong).all()
    else:
        assert "labels" not in out
