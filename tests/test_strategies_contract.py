"""The contract every query strategy of ``skal.strategies`` must honour.

Strategies are discovered from ``skal.strategies.__all__``, so a new strategy
is checked as soon as it is exported.
"""

import inspect
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

import skal.strategies as strategies
from skal.strategies import QueryStrategy

STRATEGIES = sorted(
    (
        obj
        for name in strategies.__all__
        if inspect.isclass(obj := getattr(strategies, name))
        and issubclass(obj, QueryStrategy)
        and not inspect.isabstract(obj)
    ),
    key=lambda c: c.__name__,
)
IDS = [c.__name__ for c in STRATEGIES]


def test_discovery_finds_every_strategy():
    names = set(IDS)
    assert {"ProbCover", "MaxHerding", "TypiClust", "Coreset", "MarginSampling",
            "EntropySampling", "LeastConfidenceSampling", "BADGE", "RandomSampling"} <= names


@pytest.fixture(scope="module")
def pool():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(4, 6)) * 4
    y = np.repeat(np.arange(4), 40)
    X = centers[y] + rng.normal(size=(160, 6))
    labeled = np.array([0, 45, 90, 130, 3, 50, 95, 135])
    clf = LogisticRegression(max_iter=500).fit(X[labeled], y[labeled])
    return X, y, labeled, clf


def _select(strategy, X, budget, clf, **kw):
    est = clf if strategy.requires_estimator else kw.pop("estimator", None)
    kw.pop("estimator", None)
    return strategy.select(X, budget, estimator=est, **kw)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_picks_are_unique_unlabeled_int64(cls, pool):
    X, _, labeled, clf = pool
    s = cls(random_state=0)
    picks = _select(s, X, 12, clf, labeled=labeled, covering=labeled[:4])
    assert picks.dtype == np.int64
    assert picks.shape == (12,)
    assert np.unique(picks).size == 12
    assert not np.isin(picks, labeled).any()
    assert picks.min() >= 0 and picks.max() < X.shape[0]


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_no_labeled_and_float32_and_numpy_budget(cls, pool):
    X, _, _, clf = pool
    picks = _select(cls(random_state=1), X.astype(np.float32), np.int64(5), clf)
    assert picks.shape == (5,) and np.unique(picks).size == 5


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_reproducible_with_random_state(cls, pool):
    X, _, labeled, clf = pool
    a = _select(cls(random_state=3), X, 10, clf, labeled=labeled)
    b = _select(cls(random_state=3), X, 10, clf, labeled=labeled)
    s = cls(random_state=3)
    _select(s, X, 4, clf, labeled=labeled)  # a used instance must not drift
    c = _select(s, X, 10, clf, labeled=labeled)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_clone_and_params_round_trip(cls, pool):
    X, _, labeled, clf = pool
    s = cls(random_state=7)
    params = s.get_params()
    assert "random_state" in params
    assert set(params) == set(inspect.signature(cls.__init__).parameters) - {"self"}
    c = clone(s)
    assert c.get_params() == params
    c.set_params(random_state=8)
    assert c.random_state == 8 and s.random_state == 7
    np.testing.assert_array_equal(_select(clone(s), X, 6, clf, labeled=labeled),
                                  _select(s, X, 6, clf, labeled=labeled))


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_pickle_after_select(cls, pool):
    X, _, labeled, clf = pool
    s = cls(random_state=2)
    first = _select(s, X, 6, clf, labeled=labeled)
    s2 = pickle.loads(pickle.dumps(s))
    assert s2.get_params() == s.get_params()
    np.testing.assert_array_equal(_select(s2, X, 6, clf, labeled=labeled), first)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_coverage_strategies_take_noisy_weight(cls):
    params = cls().get_params()
    if cls.uses_covering:
        assert params["noisy_weight"] == 0.0
        with pytest.raises(ValueError, match="noisy_weight"):
            cls(noisy_weight=1.5).select(np.eye(5), 1)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_covering_weight_of_ones_changes_nothing_and_ungraded_strategies_ignore_it(cls, pool):
    X, _, labeled, clf = pool
    covering = labeled[:4]
    plain = _select(cls(random_state=0), X, 6, clf, labeled=labeled, covering=covering)
    ones = _select(cls(random_state=0), X, 6, clf, labeled=labeled, covering=covering,
                   covering_weight=np.ones(covering.size))
    np.testing.assert_array_equal(ones, plain)
    partial = _select(cls(random_state=0), X, 6, clf, labeled=labeled, covering=covering,
                      covering_weight=np.full(covering.size, 0.3))
    if not cls.graded_coverage:
        np.testing.assert_array_equal(partial, plain)
    with pytest.raises(ValueError, match="covering_weight"):
        _select(cls(random_state=0), X, 6, clf, labeled=labeled, covering=covering,
                covering_weight=np.ones(covering.size + 1))


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_non_finite_X_is_rejected(cls, bad, pool):
    X, _, labeled, clf = pool
    Xb = X.copy()
    Xb[5, 2] = np.nan if bad == "nan" else np.inf
    with pytest.raises(ValueError, match="X"):
        cls(random_state=0).select(Xb, 3, labeled=labeled, estimator=clf)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_bad_budget_and_indices(cls, pool):
    X, _, labeled, clf = pool
    s = cls(random_state=0)
    n_free = X.shape[0] - labeled.size
    with pytest.raises(ValueError, match="budget"):
        s.select(X, n_free + 1, labeled=labeled, estimator=clf)
    with pytest.raises(ValueError, match="budget"):
        s.select(X, 0, labeled=labeled, estimator=clf)
    with pytest.raises(TypeError, match="budget"):
        s.select(X, 2.5, labeled=labeled, estimator=clf)
    with pytest.raises(ValueError, match="labeled"):
        s.select(X, 2, labeled=[0, X.shape[0]], estimator=clf)
    with pytest.raises(ValueError, match="labeled"):
        s.select(X, 2, labeled=[-1], estimator=clf)
    with pytest.raises(ValueError, match="covering"):
        s.select(X, 2, labeled=labeled[:3], covering=labeled[3:5], estimator=clf)
    with pytest.raises(ValueError, match="X"):
        s.select(X[0], 1, estimator=clf)
    with pytest.raises(TypeError, match="X"):
        s.select(None, 1, estimator=clf)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_missing_estimator(cls, pool):
    X, _, labeled, _ = pool
    s = cls(random_state=0)
    if cls.requires_estimator:
        with pytest.raises(ValueError, match="estimator"):
            s.select(X, 2, labeled=labeled)
        with pytest.raises(TypeError, match="estimator"):
            s.select(X, 2, labeled=labeled, estimator=object())
    else:
        assert s.select(X, 2, labeled=labeled).shape == (2,)


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_exhausting_the_pool_returns_the_rest(cls, pool):
    X, _, _, clf = pool
    n = X.shape[0]
    labeled = np.arange(n - 7)
    picks = _select(cls(random_state=0), X, 7, clf, labeled=labeled)
    np.testing.assert_array_equal(np.sort(picks), np.arange(n - 7, n))


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_complete_coverage_still_gives_unique_picks(cls, pool):
    # Every point duplicated many times: after one label everything is
    # covered, every gain is zero, and the picks must still be distinct.
    _, _, _, clf = pool
    base = np.random.default_rng(4).normal(size=(2, 6))
    X = np.repeat(base, 30, axis=0)
    labeled = np.array([0, 30])
    est = clf
    if cls.requires_estimator:
        est = LogisticRegression().fit(X[labeled], [0, 1])
    picks = cls(random_state=0).select(X, 20, labeled=labeled, estimator=est)
    assert np.unique(picks).size == 20 and not np.isin(picks, labeled).any()


@pytest.mark.parametrize("cls", STRATEGIES, ids=IDS)
def test_boolean_mask_labeled(cls, pool):
    X, _, labeled, clf = pool
    mask = np.zeros(X.shape[0], dtype=bool)
    mask[labeled] = True
    a = _select(cls(random_state=5), X, 4, clf, labeled=mask)
    b = _select(cls(random_state=5), X, 4, clf, labeled=labeled)
    np.testing.assert_array_equal(a, b)
