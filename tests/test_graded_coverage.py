"""Graded coverage in NAS selection: ``covering_weight``, the filter's second look and ``pool_doubt_weight``."""

import numpy as np
import pytest
from test_max_herding import check_is_greedy, dense_kernel

from skal import NoiseAwareActiveLearner, NoisyOracle
from skal._nas import _steps
from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter
from skal.filters._pool import PoolView
from skal.filters._spectral_view import spectral_clean_proba
from skal.strategies import MaxHerding, ProbCover


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(2)
    c = rng.normal(size=(4, 5)) * 3
    return c[rng.integers(0, 4, 140)] + rng.normal(size=(140, 5))


def test_weighted_coverage_matches_the_dense_greedy(blobs):
    sigma = 1.7
    K = dense_kernel(blobs, sigma)
    labeled = np.array([0, 5, 17, 40, 88])
    covering = np.array([5, 17, 88])
    weight = np.array([1.0, 0.3, 0.8])
    s = MaxHerding(bandwidth=sigma, cache_bytes=0, random_state=0)
    picks = s.select(blobs, 8, labeled=labeled, covering=covering, covering_weight=weight)
    # The greedy starts from m(y) = max_c w_c k(c, y).
    m0 = (weight[:, None] * K[covering]).max(axis=0)
    check_is_greedy(K, picks, s.gains_, labeled, covering, 0.0, m0=m0)
    # Weights of 1 are no weights at all.
    ones = s.select(blobs, 8, labeled=labeled, covering=covering,
                    covering_weight=np.ones(covering.size))
    np.testing.assert_array_equal(ones, s.select(blobs, 8, labeled=labeled, covering=covering))
    check_is_greedy(K, ones, s.gains_, labeled, covering, 0.0)


def test_hand_case_a_doubtful_label_keeps_part_of_its_group():
    # Groups of 3 and 2 identical points, far apart; the big group's label
    # covers it with weight w: 3 (1 - w) / 5 against 2 / 5 for the small group.
    X = np.array([[0.0], [0.0], [0.0], [100.0], [100.0]])
    s = MaxHerding(bandwidth=1.0, random_state=0)
    assert s.select(X, 1, labeled=[0], covering=[0], covering_weight=[0.5])[0] in (3, 4)
    assert s.select(X, 1, labeled=[0], covering=[0], covering_weight=[0.2])[0] in (1, 2)
    np.testing.assert_allclose(s.gains_, [3 * (1 - 0.2) / 5], atol=1e-12)


def test_strategies_without_graded_coverage_count_every_covering_point_fully(blobs):
    s = ProbCover(delta=1.5, random_state=0)
    a = s.select(blobs, 6, labeled=[0, 5, 17], covering=[5, 17])
    b = s.select(blobs, 6, labeled=[0, 5, 17], covering=[5, 17], covering_weight=[0.1, 0.5])
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weight, error, match", [
    ([0.5], ValueError, "one weight per covering index"),
    ([0.5, 0.0], ValueError, r"\(0, 1\]"),
    ([0.5, 1.5], ValueError, r"\(0, 1\]"),
    ([0.5, np.nan], ValueError, r"\(0, 1\]"),
    (["a", "b"], TypeError, "covering_weight"),
])
def test_bad_covering_weight_is_refused_by_name(blobs, weight, error, match):
    with pytest.raises(error, match=match):
        MaxHerding(random_state=0).select(blobs, 2, labeled=[0, 5, 17], covering=[5, 17],
                                          covering_weight=weight)


def _two_groups(n_per=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([np.eye(2)[g] + 0.05 * rng.standard_normal((n_per, 2)) for g in range(2)])
    return X, np.repeat(np.arange(2), n_per)


def test_the_second_look_doubts_a_label_given_to_the_other_group():
    X, group = _two_groups()
    view = PoolView(X)
    # Class 0: three right labels in group 0 and a wrong one in group 1;
    # class 1: three right labels in group 1.
    positions = np.array([0, 1, 2, 40, 41, 42, 43])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    p = spectral_clean_proba(view, positions, y, 2, seed=0)
    assert p[3] < 0.5
    assert (p[[0, 1, 2, 4, 5, 6]] > 0.5).all()
    # A class's only label has nothing to be compared with.
    p = spectral_clean_proba(view, np.array([0, 1, 40]), np.array([0, 0, 1]), 2, seed=0)
    assert p[2] == 1.0


def test_no_second_look_where_the_graph_falls_apart():
    # Three separate groups for two classes: more components than classes.
    rng = np.random.default_rng(0)
    X = np.vstack([np.eye(3)[g] + 0.01 * rng.standard_normal((20, 3)) for g in range(3)])
    assert spectral_clean_proba(PoolView(X), np.array([0, 1, 20, 21]),
                                np.array([0, 0, 1, 1]), 2, seed=0) is None


def test_the_filter_reports_its_second_look_without_changing_its_decision(monkeypatch):
    X, _ = _two_groups()
    positions = np.array([0, 1, 2, 40, 41, 42, 43])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    fits = {}
    for name, look in (("with", spectral_clean_proba), ("without", lambda *a: None)):
        monkeypatch.setattr("skal.filters._centroid.spectral_clean_proba", look)
        fits[name] = CentroidFilter(random_state=0)
        fits[name].fit_filter(X[positions], y, X_pool=X, sample_indices=positions)
    flt = fits["with"]
    assert flt.pool_clean_proba_.shape == (7,) and flt.pool_clean_proba_[3] < 0.5
    assert fits["without"].pool_clean_proba_ is None
    # The decision, the probabilities and the proposals do not depend on it.
    np.testing.assert_array_equal(flt.clean_mask_, fits["without"].clean_mask_)
    np.testing.assert_array_equal(flt.clean_proba_, fits["without"].clean_proba_)
    np.testing.assert_array_equal(flt.proposed_labels_, fits["without"].proposed_labels_)
    # Without the pool there is no second look, and none survives a refit.
    flt.fit_filter(X[positions], y)
    assert flt.pool_clean_proba_ is None


def _learner(weight, seed=0):
    return NoiseAwareActiveLearner(MaxHerding(), CentroidFilter(), train_on="relabel",
                                   random_state=seed, pool_doubt_weight=weight)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_embeddings(return_X_y=True)
    return X[:700], y[:700]


def test_pool_doubt_weight_reaches_the_strategy_for_the_doubted_kept_labels(digits, monkeypatch):
    X, y = digits
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    est = _learner(0.8)
    seen = []
    original = MaxHerding.initial_coverage

    def spy(self, rows, labeled, covering, covering_weight=None):
        seen.append((covering.copy(), None if covering_weight is None else covering_weight.copy()))
        return original(self, rows, labeled, covering, covering_weight)
    monkeypatch.setattr(MaxHerding, "initial_coverage", spy)
    for budget in (20, 40, 60):
        est.fit_round(X, oracle, budget=budget)
    ledger = est._ledger
    covering = _steps.selection_covering(est)
    weights = _steps.selection_weights(est, covering)
    doubted = ledger.pool_clean_proba[ledger.positions_of(covering)] < 0.5
    assert doubted.any() and not doubted.all()
    np.testing.assert_array_equal(weights, np.where(doubted, 0.8, 1.0))
    # The strategy got such weights at some share, and the filter's second
    # look is what the ledger holds.
    assert any(w is not None and (w < 1).any() for _, w in seen)
    np.testing.assert_allclose(ledger.pool_clean_proba, est.noise_filter_.pool_clean_proba_)
    # A label a person reviewed is believed by the second look too.
    first = int(covering[np.flatnonzero(doubted)[0]])
    est.relabel([first], [y[first]], X=X)
    assert ledger.pool_clean_proba[ledger.positions_of(np.array([first]))][0] == 1.0


def test_pool_doubt_weight_one_changes_nothing(digits):
    X, y = digits
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=1)
    a, b = _learner(1.0, seed=1), NoiseAwareActiveLearner(
        MaxHerding(), CentroidFilter(), train_on="relabel", random_state=1)
    for budget in (20, 40):
        a.fit_round(X, oracle, budget=budget)
        b.fit_round(X, oracle, budget=budget)
    np.testing.assert_array_equal(a.labeled_idx_, b.labeled_idx_)
    assert _steps.selection_weights(a, _steps.selection_covering(a)) is None


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, "half"])
def test_pool_doubt_weight_is_validated(digits, bad):
    X, y = digits
    with pytest.raises((ValueError, TypeError), match="pool_doubt_weight"):
        _learner(bad).fit_round(X, NoisyOracle(y, noise_rate=0.5, random_state=0), budget=20)


def test_the_second_look_survives_save_and_load(digits, tmp_path):
    X, y = digits
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    est = _learner(0.8)
    for budget in (20, 40):
        est.fit_round(X, oracle, budget=budget)
    path = tmp_path / "learner.skal"
    est.save(path)
    back = NoiseAwareActiveLearner.load(path)
    assert back.pool_doubt_weight == 0.8
    np.testing.assert_array_equal(back._ledger.pool_clean_proba, est._ledger.pool_clean_proba)
    assert (est._ledger.pool_clean_proba < 1).any()
    # The next round picks the same labels whether or not it was saved in between.
    est.fit_round(X, oracle, budget=60)
    back.fit_round(X, oracle, budget=60)
    np.testing.assert_array_equal(back.labeled_idx_, est.labeled_idx_)
