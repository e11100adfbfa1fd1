"""The batched k-means: Lloyd fixed points, the inertia it reports, scikit-learn's quality."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from skal._kmeans import kmeans


def test_two_pairs_by_hand():
    X = np.array([[0.0, 0.0], [0.0, 0.2], [5.0, 5.0], [5.0, 5.2]])
    centres, labels, inertia = kmeans(X, 2, random_state=0)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    np.testing.assert_allclose(centres[labels[0]], [0.0, 0.1], atol=1e-6)
    np.testing.assert_allclose(centres[labels[2]], [5.0, 5.1], atol=1e-6)
    # Four rows, each 0.1 from its centre: 4 * 0.01.
    assert inertia == pytest.approx(0.04, abs=1e-6)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(3, 60), d=st.integers(1, 6), k=st.integers(1, 5),
       seed=st.integers(0, 2**16), n_init=st.integers(1, 4))
def test_result_is_a_lloyd_fixed_point(n, d, k, seed, n_init):
    k = min(k, n)
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    centres, labels, inertia = kmeans(X, k, n_init=n_init, tol=0.0, random_state=seed)
    assert centres.shape == (k, d) and labels.shape == (n,)
    assert np.all(np.isfinite(centres))
    sq = ((X[:, None, :] - centres[None, :, :].astype(np.float32)) ** 2).sum(axis=2)
    # Every row sits with a nearest centre (ties aside) ...
    np.testing.assert_allclose(sq[np.arange(n), labels], sq.min(axis=1), rtol=1e-4, atol=1e-4)
    # ... the reported inertia is the sum of those squared distances ...
    assert inertia == pytest.approx(float(sq[np.arange(n), labels].sum()), rel=1e-3, abs=1e-3)
    # ... and every non-empty cluster's centre is the mean of its rows.
    for c in np.unique(labels):
        np.testing.assert_allclose(centres[c], X[labels == c].mean(axis=0), rtol=1e-4, atol=1e-4)


def test_separated_blobs_are_recovered():
    centres = 10.0 * np.array([[0, 0], [1, 0], [0, 1], [1, 1], [2, 0], [2, 1]])
    X, truth = make_blobs(n_samples=600, centers=centres, cluster_std=0.5, random_state=3)
    _, labels, _ = kmeans(X, 6, random_state=0)
    assert adjusted_rand_score(truth, labels) == 1.0


def test_inertia_as_good_as_scikit_learn():
    # Overlapping blobs, where restarts matter: the best of 10 restarts is
    # within 0.5 % of scikit-learn's best of 10 on every seed.
    X, _ = make_blobs(n_samples=800, centers=8, n_features=16, cluster_std=2.5, random_state=0)
    for seed in range(5):
        ours = kmeans(X, 8, n_init=10, random_state=seed)[2]
        theirs = KMeans(8, n_init=10, random_state=seed).fit(X).inertia_
        assert ours <= 1.005 * theirs


def test_duplicate_rows_leave_no_empty_or_nan_centre():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), 5, axis=0)
    centres, labels, inertia = kmeans(X, 3, random_state=0)
    assert np.unique(labels).size == 3
    assert inertia == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.isfinite(centres))


def test_one_cluster_per_row():
    X = np.arange(12.0).reshape(6, 2)
    centres, labels, inertia = kmeans(X, 6, random_state=0)
    assert sorted(labels.tolist()) == list(range(6))
    assert inertia == pytest.approx(0.0, abs=1e-9)


def test_seeded_runs_repeat():
    X, _ = make_blobs(n_samples=300, centers=4, random_state=1)
    a = kmeans(X, 4, random_state=7)
    b = kmeans(X, 4, random_state=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("k", [0, 5])
def test_bad_cluster_count(k):
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(np.zeros((4, 2)), k)


def test_bad_restarts():
    with pytest.raises(ValueError, match="n_init"):
        kmeans(np.zeros((4, 2)), 2, n_init=0)
