"""IdealFilter: flags exactly the noisy labels it is told about, by pool index."""

import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_estimator

from skal.filters import IdealFilter
from skal.noise import NoisyOracle


def test_flags_exactly_the_noisy_pool_indices():
    rng = np.random.default_rng(0)
    y_true = np.repeat(np.arange(4), 25)
    oracle = NoisyOracle(y_true, noise_rate=0.4, random_state=0)
    X = rng.normal(size=(100, 3))
    idx = rng.choice(100, size=40, replace=False)
    f = IdealFilter(oracle.is_noisy_)
    keep = f.fit_filter(X[idx], oracle(idx), sample_indices=idx)
    np.testing.assert_array_equal(keep, ~oracle.is_noisy_[idx])
    np.testing.assert_array_equal(f.scores_, np.where(oracle.is_noisy_[idx], 0.0, 1.0))
    assert f.threshold_ == 0.5
    np.testing.assert_array_equal(f.sample_indices_, idx)


def test_hand_made_case_and_integer_flags():
    is_noisy = np.array([0, 1, 0, 1, 0, 0])
    X = np.arange(12, dtype=float).reshape(6, 2)
    keep = IdealFilter(is_noisy).fit_filter(X[[5, 3, 1, 0]], ["a", "b", "a", "b"],
                                            sample_indices=[5, 3, 1, 0])
    np.testing.assert_array_equal(keep, [True, False, False, True])


def test_missing_sample_indices_is_a_clear_error():
    with pytest.raises(ValueError, match="IdealFilter needs sample_indices"):
        IdealFilter(np.zeros(5, bool)).fit_filter(np.eye(3), [0, 1, 1])


def test_bad_truth():
    X, y, idx = np.eye(3), [0, 1, 1], [0, 1, 2]
    with pytest.raises(ValueError, match="covers only 2 pool points"):
        IdealFilter(np.zeros(2, bool)).fit_filter(X, y, sample_indices=idx)
    with pytest.raises(TypeError, match="is_noisy must hold booleans"):
        IdealFilter(np.array([0.5, 0, 0])).fit_filter(X, y, sample_indices=idx)
    with pytest.raises(ValueError, match="is_noisy must be 1-D"):
        IdealFilter(np.zeros((3, 1), bool)).fit_filter(X, y, sample_indices=idx)
    with pytest.raises(InvalidParameterError, match="The 'is_noisy' parameter"):
        IdealFilter(3).fit_filter(X, y, sample_indices=idx)


def test_estimator_api_reads_the_truth_row_by_row():
    """fit(X, y) takes X's rows as pool rows 0..n-1; fit_filter insists on indices."""
    is_noisy = np.array([False, True, False, True, False, False])
    X = np.arange(8, dtype=float).reshape(4, 2)
    f = IdealFilter(is_noisy).fit(X, [0, 1, 0, 1])
    np.testing.assert_array_equal(f.clean_mask_, [True, False, True, False])
    np.testing.assert_array_equal(f.sample_indices_, np.arange(4))
    f.fit(X, [0, 1, 0, 1], sample_indices=[5, 4, 2, 0])
    np.testing.assert_array_equal(f.clean_mask_, [True, True, True, True])
    with pytest.raises(ValueError, match="needs sample_indices"):
        f.fit_filter(X, [0, 1, 0, 1])


def test_check_estimator_with_the_row_by_row_convention():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(IdealFilter(np.zeros(1000, bool)), on_fail=None)
    assert len(results) > 40
    assert [r["check_name"] for r in results if r["status"] == "failed"] == []
