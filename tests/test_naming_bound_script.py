"""The naming bound's posterior against a brute-force sum over namings; the anchor's pulls."""

import itertools
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))


def _brute_force(counts, ratio):
    k, n = counts.shape
    marginals = np.zeros((k, n))
    for naming in itertools.permutations(range(n), k):
        weight = ratio ** sum(counts[m, c] for m, c in enumerate(naming))
        for m, c in enumerate(naming):
            marginals[m, c] += weight
    return marginals / marginals.sum(axis=1, keepdims=True)


def test_two_communities_one_label_by_hand():
    from nas_naming_bound import naming_marginals

    # One label of class 0 in community 0: the naming that agrees with it
    # weighs 9 against 1 for the other.
    marg = naming_marginals(np.array([[1, 0], [0, 0]]), 9.0)
    np.testing.assert_allclose(marg, [[0.9, 0.1], [0.1, 0.9]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.integers(1, n), st.just(n), st.lists(st.integers(0, 4), min_size=n * n, max_size=n * n))),
    st.floats(1.1, 30.0))
def test_marginals_match_the_sum_over_every_naming(shape_and_counts, ratio):
    from nas_naming_bound import naming_marginals

    k, n, flat = shape_and_counts
    counts = np.array(flat[:k * n]).reshape(k, n)
    np.testing.assert_allclose(naming_marginals(counts, ratio), _brute_force(counts, ratio),
                               rtol=1e-9, atol=1e-12)


def test_more_communities_than_classes_is_refused():
    from nas_naming_bound import naming_marginals

    with pytest.raises(ValueError, match="communities"):
        naming_marginals(np.zeros((3, 2)), 9.0)


def test_pulled_pairs_follow_the_anchor_rule():
    from skal.filters._communities import pulled_pairs

    counts = np.array([[2, 0, 1],    # class 0 twice: pulled
                       [0, 1, 1],    # a tie of single labels: not pulled
                       [0, 0, 0]])
    assert pulled_pairs(counts) == [(0, 0)]
    # Two labels of class 2 in a community holding three of class 1: the
    # assignment names it class 1 (three agree), which is pulled.
    assert pulled_pairs(np.array([[0, 3, 2], [1, 0, 0], [0, 0, 1]])) == [(0, 1)]
