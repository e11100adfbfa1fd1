"""The naming bound script: the anchor's pulls and the soft-target model (the posterior itself: test_naming.py)."""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))


def test_pulled_pairs_follow_the_anchor_rule():
    from skal.filters._communities import pulled_pairs

    counts = np.array([[2, 0, 1],    # class 0 twice: pulled
                       [0, 1, 1],    # a tie of single labels: not pulled
                       [0, 0, 0]])
    assert pulled_pairs(counts) == [(0, 0)]
    # Two labels of class 2 in a community holding three of class 1: the
    # assignment names it class 1 (three agree), which is pulled.
    assert pulled_pairs(np.array([[0, 3, 2], [1, 0, 0], [0, 0, 1]])) == [(0, 1)]


def test_soft_targets_of_a_sure_posterior_are_the_hard_names():
    from nas_naming_bound import soft_target_model

    from skal._nas._steps import default_estimator

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-1, 0.3, (4, 2)), rng.normal(1, 0.3, (4, 2))]
    community = np.repeat([0, 1], 4)
    classes = np.array([3, 7])
    # Community 0 surely class 7, community 1 surely class 3: every row
    # trains under its community's name, whatever its own label said.
    sure = np.array([[0.0, 1.0], [1.0, 0.0]])
    soft = soft_target_model(X, community, sure, classes)
    hard = default_estimator().fit(X, np.repeat([7, 3], 4))
    np.testing.assert_allclose(soft.coef_, hard.coef_, rtol=1e-4, atol=1e-6)
    assert soft.predict([[-1.0, -1.0]]).tolist() == [7]


def test_soft_targets_weigh_each_class_by_the_posterior():
    from nas_naming_bound import soft_target_model

    X = np.array([[0.0, 1.0], [1.0, 0.0]])
    # One row of each community; community 0 is 0.8 class 0 and 0.2 class 1.
    marg = np.array([[0.8, 0.2], [0.2, 0.8]])
    model = soft_target_model(X, np.array([0, 1]), marg, np.array([0, 1]))
    proba = model.predict_proba(X)
    # The weighted log-loss pulls each row toward its posterior, not to certainty.
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5
    assert proba[0, 0] < 0.99
    # A posterior that puts all weight on one class leaves nothing to discriminate.
    assert soft_target_model(X, np.array([0, 1]), np.array([[1.0, 0.0], [1.0, 0.0]]),
                             np.array([0, 1])) is None
