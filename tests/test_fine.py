"""FINEFilter: principal-direction alignment and the per-class mixture split."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skal.datasets import load_digits_embeddings
from skal.filters import FINEFilter
from skal.filters._fine import fine_scores
from skal.noise import make_noisy_labels


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The labeled sets here are tiny: BLAS/OpenMP threads only add
    # synchronisation, which dominates on a busy shared machine.
    with threadpool_limits(limits=1):
        yield


def test_alignment_is_the_cosine_with_the_top_singular_vector():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = rng.integers(0, 3, size=40)
    scores, directions = fine_scores(X, y, 3)
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    for c in range(3):
        v = np.linalg.svd(Z[y == c])[2][0]  # top right singular vector
        assert abs(directions[c] @ v) == pytest.approx(1.0)
        np.testing.assert_allclose(scores[y == c], np.abs(Z[y == c] @ v), atol=1e-10)
    assert np.all((scores >= 0) & (scores <= 1 + 1e-12))


def test_basis_mask_restricts_the_directions_but_scores_everyone():
    X = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    y = np.array([0, 0, 0, 1])
    scores, directions = fine_scores(X, y, 2, basis_mask=np.array([True, True, False, True]))
    assert abs(directions[0, 0]) > 0.99  # built from rows 0 and 1 only
    assert scores[2] < 0.1  # row 2 is scored against that direction


def test_mixture_splits_an_aligned_group_from_a_misaligned_one():
    rng = np.random.default_rng(0)
    aligned = np.column_stack([np.ones(30), 0.05 * rng.normal(size=(30, 2))])
    stray = np.column_stack([0.05 * rng.normal(size=(8, 1)), np.ones(8), np.zeros(8)])
    other = np.column_stack([np.zeros(30), np.zeros(30), np.ones(30)]) + 0.05 * rng.normal(size=(30, 3))
    X = np.vstack([aligned, stray, other])
    y = np.array([0] * 38 + [1] * 30)
    f = FINEFilter(random_state=0)
    mask = f.fit_filter(X, y)
    np.testing.assert_array_equal(mask[:38], [True] * 30 + [False] * 8)
    assert f.threshold_ == 0.5
    np.testing.assert_array_equal(mask, f.scores_ >= 0.5)
    assert np.all((f.scores_ >= 0) & (f.scores_ <= 1))


def test_identical_scores_keep_the_whole_class():
    X = np.array([[1.0, 0.0]] * 6 + [[0.0, 1.0]] * 6)
    y = np.repeat([0, 1], 6)
    assert FINEFilter(random_state=0).fit_filter(X, y).all()


def test_reaches_target_on_digits():
    X, y = load_digits_embeddings(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))[:500]
    y_noisy, is_noisy = make_noisy_labels(y[perm], 0.3, random_state=0)
    mask = FINEFilter(random_state=0).fit_filter(X[perm], y_noisy)
    tp = np.sum(~mask & is_noisy)
    assert 2 * tp / (np.sum(~mask) + is_noisy.sum()) >= 0.75


@pytest.mark.parametrize("params, match", [({"p_threshold": 1.5}, "p_threshold"),
                                           ({"n_iter": 0}, "n_iter")])
def test_bad_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=f"The '{next(iter(params))}' parameter"):
        FINEFilter(**params).fit_filter(np.eye(6, 2), [0, 0, 0, 1, 1, 1])


def test_sparse_input_matches_dense_and_standardize_is_refused():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = np.where(rng.random((60, 40)) < 0.3, rng.random((60, 40)), 0.0)
    y = np.repeat([0, 1, 2], 20)
    dense = FINEFilter(random_state=0).fit_filter(X, y)
    f = FINEFilter(random_state=0)
    np.testing.assert_array_equal(f.fit_filter(sp.csr_matrix(X), y), dense)
    with pytest.raises(ValueError, match="standardize=True"):
        FINEFilter(standardize=True).fit_filter(sp.csr_matrix(X), y)
