"""Declared parameter constraints: scikit-learn's InvalidParameterError, naming the parameter."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from skal.strategies import (
    BADGE,
    Coreset,
    EntropySampling,
    MarginSampling,
    MaxHerding,
    ProbCover,
    RandomSampling,
    TypiClust,
)

X = np.random.default_rng(0).normal(size=(40, 3))

BAD = [
    (ProbCover, "delta", -1.0), (ProbCover, "delta", "big"), (ProbCover, "purity", 0.0),
    (ProbCover, "metric", "manhattan"), (ProbCover, "n_probe", 0), (ProbCover, "screen", "int8"),
    (ProbCover, "approximate", "yes"), (ProbCover, "max_memory", -5), (ProbCover, "n_clusters", 0),
    (ProbCover, "block_rows", 2.5), (ProbCover, "noisy_weight", 1.5),
    (MaxHerding, "bandwidth", 0.0), (MaxHerding, "bandwidth", "wide"), (MaxHerding, "kernel", "poly"),
    (MaxHerding, "n_candidates", 0), (MaxHerding, "cache_bytes", -1), (MaxHerding, "device", 3),
    (TypiClust, "max_clusters", 0), (TypiClust, "min_cluster_size", -1),
    (TypiClust, "n_neighbors", 1.5), (TypiClust, "noisy_weight", -0.1),
    (Coreset, "metric", "l1"), (Coreset, "noisy_weight", 2),
    (RandomSampling, "random_state", "seed"), (MarginSampling, "random_state", 1.5),
    (BADGE, "random_state", [1]),
]


@pytest.mark.parametrize("cls, name, value", BAD,
                         ids=[f"{c.__name__}-{n}-{v!r}" for c, n, v in BAD])
def test_bad_parameter_is_rejected_at_select(cls, name, value):
    clf = LogisticRegression().fit(X[:10], np.arange(10) % 2)
    s = cls(**{name: value})  # __init__ only stores
    assert getattr(s, name) == value
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of {cls.__name__}"):
        s.select(X, 2, estimator=clf)


def test_invalid_parameter_error_is_a_value_and_type_error():
    assert issubclass(InvalidParameterError, ValueError)
    assert issubclass(InvalidParameterError, TypeError)


def test_generator_random_state_is_accepted():
    picks = Coreset(random_state=np.random.default_rng(1)).select(X, 3)
    assert picks.shape == (3,)


def test_skip_parameter_validation_is_honoured():
    with config_context(skip_parameter_validation=True):
        # A wrong type that the code can still use goes through unchecked.
        assert RandomSampling(random_state=np.int8(3)).select(X, 2).shape == (2,)


def test_max_memory_string_is_parsed_at_select():
    with pytest.raises(ValueError, match="max_memory"):
        ProbCover(delta=0.5, max_memory="lots").select(X, 1)
    assert ProbCover(delta=0.5, max_memory="2GB").select(X, 1).shape == (1,)


# -- sparse pools ----------------------------------------------------------------

def test_sparse_pool_goes_to_the_estimator_untouched():
    Xs = sp.random(50, 30, density=0.2, format="csr", random_state=0)
    y = np.arange(50) % 2
    clf = LogisticRegression().fit(Xs, y)
    picks = EntropySampling(random_state=0).select(Xs, 4, estimator=clf)
    dense = EntropySampling(random_state=0).select(Xs.toarray(), 4, estimator=clf)
    np.testing.assert_array_equal(picks, dense)
    assert RandomSampling(random_state=0).select(Xs, 3).shape == (3,)


@pytest.mark.parametrize("cls", [ProbCover, MaxHerding, TypiClust, Coreset])
def test_sparse_pool_is_densified_for_coverage_strategies(cls):
    Xs = sp.random(60, 8, density=0.5, format="csr", random_state=1)
    a = cls(random_state=0).select(Xs, 3)
    b = cls(random_state=0).select(Xs.toarray().astype(np.float32), 3)
    np.testing.assert_array_equal(a, b)


def test_huge_sparse_pool_says_what_to_do():
    Xs = sp.csr_matrix((10_000, 40_000), dtype=np.float64)
    with pytest.raises(ValueError, match="TruncatedSVD"):
        ProbCover(delta=0.5).select(Xs, 1)
