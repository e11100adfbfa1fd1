"""KNNFilter: the given label against its neighbourhood's vote."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skal.datasets import load_digits_embeddings
from skal.filters import KNNFilter
from skal.noise import make_noisy_labels


def test_scores_by_hand_on_a_line():
    # Points on a line; with k = 2 each point's neighbours are fixed and the
    # score is share(given class) - best share(other class).
    X = np.array([[0.0], [1.0], [2.1], [3.3], [4.6], [6.0]])
    y = np.array([0, 0, 1, 0, 1, 1])
    f = KNNFilter(n_neighbors=2, min_class_count=0)
    mask = f.fit_filter(X, y)
    # neighbours: 0->{1,2}, 1->{0,2}, 2->{1,3}, 3->{2,4}, 4->{3,5}, 5->{4,3}
    np.testing.assert_array_equal(np.sort(f.neighbors_, axis=1),
                                  [[1, 2], [0, 2], [1, 3], [2, 4], [3, 5], [3, 4]])
    expected = np.array([0.0, 0.0, -1.0, -1.0, 0.0, 0.0])
    np.testing.assert_allclose(f.scores_, expected)
    np.testing.assert_array_equal(mask, expected >= 0)
    assert f.threshold_ == 0.0


def test_distance_weights_break_ties_towards_the_closer_neighbour():
    X = np.array([[0.0], [1.0], [-3.0], [5.0], [6.0], [-8.0]])
    y = np.array([0, 0, 1, 1, 1, 0])
    f = KNNFilter(n_neighbors=2, weights="distance", min_class_count=0).fit(X, y)
    # Point 0: neighbours 1 (d=1, class 0) and 2 (d=3, class 1): shares 3/4 and 1/4.
    assert f.scores_[0] == pytest.approx(0.75 - 0.25)
    uniform = KNNFilter(n_neighbors=2, min_class_count=0).fit(X, y)
    assert uniform.scores_[0] == 0.0


def test_exact_duplicates_do_not_vote_for_themselves():
    X = np.array([[0.0, 0.0]] * 4 + [[5.0, 5.0]] * 4)
    y = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # point 3 sits among class-0 twins
    f = KNNFilter(n_neighbors=3).fit(X, y)
    assert all(i not in row for i, row in enumerate(f.neighbors_))
    np.testing.assert_array_equal(f.clean_mask_, [True] * 3 + [False] + [True] * 4)


def test_neighbourhood_capped_by_sample_count():
    X = np.arange(8.0).reshape(4, 2)
    f = KNNFilter(n_neighbors=50, min_class_count=0).fit(X, [0, 0, 1, 1])
    assert f.neighbors_.shape == (4, 3)


def test_reaches_target_on_digits():
    X, y = load_digits_embeddings(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))[:500]
    y_noisy, is_noisy = make_noisy_labels(y[perm], 0.3, random_state=0)
    mask = KNNFilter().fit_filter(X[perm], y_noisy)
    tp = np.sum(~mask & is_noisy)
    assert 2 * tp / (np.sum(~mask) + is_noisy.sum()) >= 0.85


@pytest.mark.parametrize("params, match", [({"n_neighbors": 0}, "n_neighbors"), ({"n_neighbors": 1.5}, "n_neighbors"),
                                           ({"weights": "gauss"}, "weights")])
def test_bad_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=f"The '{next(iter(params))}' parameter"):
        KNNFilter(**params).fit_filter(np.eye(6, 2), [0, 0, 0, 1, 1, 1])
