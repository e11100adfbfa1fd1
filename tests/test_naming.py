"""The posterior of the communities' one-to-one naming, and CentroidFilter's soft proposals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal.filters import CentroidFilter
from skal.filters._communities import pool_communities
from skal.filters._naming import agreement_ratio, naming_posterior, unnamed_label_posteriors
from skal.filters._pool import PoolView


def _brute_force(counts, ratio):
    k, n = counts.shape
    marginals = np.zeros((k, n))
    for naming in itertools.permutations(range(n), k):
        weight = ratio ** sum(counts[m, c] for m, c in enumerate(naming))
        for m, c in enumerate(naming):
            marginals[m, c] += weight
    return marginals / marginals.sum(axis=1, keepdims=True)


def test_two_communities_one_label_by_hand():
    # One label of class 0 in community 0: the naming that agrees with it
    # weighs 9 against 1 for the other.
    np.testing.assert_allclose(naming_posterior(np.array([[1, 0], [0, 0]]), 9.0),
                               [[0.9, 0.1], [0.1, 0.9]])


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.integers(1, n), st.just(n), st.lists(st.integers(0, 6), min_size=n * n, max_size=n * n))),
    st.floats(1.1, 50.0))
def test_the_exact_posterior_is_the_sum_over_every_naming(shape_and_counts, ratio):
    k, n, flat = shape_and_counts
    counts = np.array(flat[:k * n]).reshape(k, n)
    np.testing.assert_allclose(naming_posterior(counts, ratio), _brute_force(counts, ratio),
                               rtol=1e-9, atol=1e-12)


def test_sinkhorn_is_close_when_the_labels_agree_and_sums_to_one():
    rng = np.random.default_rng(0)
    # Each community holds mostly its own class: a clear naming.
    counts = np.diag(np.full(6, 4)) + rng.integers(0, 2, (6, 6))
    exact = naming_posterior(counts, 9.0)
    approx = naming_posterior(counts, 9.0, exact_max_classes=0)
    np.testing.assert_allclose(approx, exact, atol=2e-3)
    # Fewer communities than classes: padded, rows still distributions.
    wide = naming_posterior(counts[:4], 9.0, exact_max_classes=0)
    np.testing.assert_allclose(wide.sum(axis=1), 1.0)
    assert (wide.argmax(axis=1) == np.arange(4)).all()


def test_many_votes_do_not_underflow():
    counts = np.zeros((8, 8))
    counts[:, 0] = 400  # every community claims class 0: by symmetry, each as likely
    out = naming_posterior(counts, 5000.0)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 1 / 8)


@pytest.mark.parametrize("counts, ratio, match", [
    (np.zeros((3, 2)), 9.0, "communities"),
    (-np.ones((2, 2)), 9.0, "non-negative"),
    (np.zeros(3), 9.0, "2-D"),
    (np.zeros((2, 2)), 0.0, "ratio"),
])
def test_bad_input_is_refused(counts, ratio, match):
    with pytest.raises(ValueError, match=match):
        naming_posterior(counts, ratio)


def test_agreement_ratio():
    assert agreement_ratio(0.5, 10) == pytest.approx(9.0)
    assert agreement_ratio(0.9, 10) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="noise_rate"):
        agreement_ratio(0.0, 10)


def _three_groups(n_per=20, seed=0):
    """Three tight, separate groups on the unit circle (three kNN components)."""
    rng = np.random.default_rng(seed)
    angles = np.repeat([0.0, 2.1, 4.2], n_per) + 0.05 * rng.standard_normal(3 * n_per)
    return np.c_[np.cos(angles), np.sin(angles)], np.repeat([0, 1, 2], n_per)


def test_unnamed_communities_by_hand():
    X, _ = _three_groups()
    view = PoolView(X)
    # Group A: three labels of class 0; B: two of class 1; C: one of class 2
    # and a wrong answer 0.
    positions = np.array([0, 1, 2, 20, 21, 40, 41])
    y = np.array([0, 0, 0, 1, 1, 2, 0])
    posterior, unnamed = unnamed_label_posteriors(view, positions, y, 3, 0, 0.3)
    _, labels, _ = pool_communities(view, 3, 0)
    community = labels[positions]  # the pool is small: every row is clustered
    counts = np.zeros((3, 3))
    np.add.at(counts, (community, y), 1)
    expected = naming_posterior(counts, agreement_ratio(0.3, 3))[community]
    np.testing.assert_allclose(posterior, expected)
    # A and B hold two labels of their class or more: named. C is not.
    assert unnamed.tolist() == [False] * 5 + [True, True]
    assert (posterior[5:].argmax(axis=1) == 2).all()
    # No class with two labels: no communities are cut for the labels.
    assert unnamed_label_posteriors(view, positions[[0, 3, 5]], y[[0, 3, 5]], 3, 0, 0.3) is None
    # A rate that carries no evidence (answers at random over 3 classes), or none at all.
    assert unnamed_label_posteriors(view, positions, y, 3, 0, 0.7) is None
    assert unnamed_label_posteriors(view, positions, y, 3, 0, float("nan")) is None


def test_centroid_filter_proposes_the_posterior_for_a_doubted_label_of_an_unnamed_community():
    X, _ = _three_groups()
    idx = np.array([0, 1, 2, 20, 21, 40, 41])
    y = np.array([0, 0, 0, 1, 1, 2, 0])
    flt = CentroidFilter(random_state=0)
    keep = flt.fit_filter(X[idx], y, sample_indices=idx, X_pool=X)
    assert not keep[6] and keep[:6].all()
    proba = flt.proposal_proba_
    assert proba.shape == (7, 3) and not proba[:6].any()
    np.testing.assert_allclose(proba[6].sum(), 1.0)
    assert proba[6].argmax() == 2 and flt.proposed_labels_[6] == 2
    # The posterior at the filter's own fitted noise rate (three separate
    # groups are cut into the same three communities whatever the seed).
    posterior, _ = unnamed_label_posteriors(PoolView(X), idx, y, 3, 0, flt.noise_rate_)
    np.testing.assert_allclose(proba[6], posterior[6])
    hard = CentroidFilter(random_state=0, soft_proposals=False)
    hard.fit_filter(X[idx], y, sample_indices=idx, X_pool=X)
    assert hard.proposal_proba_ is None
    np.testing.assert_array_equal(hard.fit_filter(X[idx], y, sample_indices=idx, X_pool=X), keep)
