"""Nearest other-cluster distances (the purity δ) against a dense float64 reference."""

import numpy as np
import pytest

from skal.neighbors import nearest_other_cluster_distance, purity_delta, unit_normalize


def dense_other(Xn, labels):
    X64 = Xn.astype(np.float64)
    D = np.sqrt(((X64[:, None, :] - X64[None, :, :]) ** 2).sum(-1))
    D[labels[:, None] == labels[None, :]] = np.inf
    return D.min(axis=1)


@pytest.mark.parametrize("device", [None, "cpu"])
@pytest.mark.parametrize("n_labels", [1, 2, 5])
def test_matches_dense_reference(device, n_labels):
    rng = np.random.default_rng(n_labels)
    Xn = unit_normalize(rng.normal(size=(300, 6)))
    Xn[10] = Xn[11]  # a duplicate pair, possibly across clusters
    labels = rng.integers(0, n_labels, 300)
    ref = dense_other(Xn, labels)
    got = nearest_other_cluster_distance(Xn, labels, device=device)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    rows = np.array([299, 0, 10, 11, 150])
    np.testing.assert_allclose(nearest_other_cluster_distance(Xn, labels, rows=rows, device=device),
                               ref[rows], rtol=1e-12, atol=1e-12)


def test_purity_delta_is_the_quantile_of_the_reference():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 5))[rng.integers(0, 4, 400)] + 0.8 * rng.normal(size=(400, 5))
    delta, d_other, labels = purity_delta(X, 4, purity=0.9, random_state=0, return_details=True)
    ref = dense_other(unit_normalize(X), labels)
    np.testing.assert_allclose(d_other, ref, rtol=1e-12)
    # At most 10% of the balls of radius delta hold another cluster's point,
    # and delta is the largest such radius among the candidate values.
    assert np.mean(ref < delta) <= 0.1
    assert np.mean(ref <= delta) > 0.1
