"""NAS controls: adaptive noise dropout, training modes, δ schedules."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator, ClassifierMixin

from skal import DeltaSchedule, NoiseAwareActiveLearner, NoisyOracle, ProbCover, RandomSampling
from skal.filters import NoiseFilter


class FlagFirstFilter(NoiseFilter):
    """Flags the first ``n_flag`` labels; clean probability 0.25 for them, proposes class 2."""

    def __init__(self, n_flag=4):
        self.n_flag = n_flag

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng, **kwargs):
        mask = np.ones(y.size, dtype=bool)
        mask[:self.n_flag] = False
        self.clean_proba_ = np.where(mask, 0.9, 0.25)
        self.proposed_labels_ = np.where(mask, self.classes_[y], self.classes_[-1])
        return mask.astype(float), 0.5, mask


class SpyStrategy(RandomSampling):
    covering_sizes: list = []

    def select(self, X, budget, *, labeled=None, covering=None, estimator=None):
        if labeled is not None and len(labeled):
            SpyStrategy.covering_sizes.append(len(covering))
        return super().select(X, budget, labeled=labeled, covering=covering, estimator=estimator)


class WeightSpy(ClassifierMixin, BaseEstimator):
    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.seen_ = (np.asarray(y).copy(), None if sample_weight is None else sample_weight.copy())
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    return np.eye(3, 4)[y] * 4 + rng.normal(scale=0.4, size=(90, 4)), y


def test_auto_noise_dropout_revives_exactly_eta_of_the_flagged(blobs):
    X, y = blobs
    SpyStrategy.covering_sizes = []
    learner = NoiseAwareActiveLearner(SpyStrategy(), FlagFirstFilter(n_flag=4), budget=12,
                                      noise_dropout="auto", classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    # shares of 3: after 3 labels all 3 flagged (p=0, eta=0.1 -> 0 revived) -> covering 0;
    # after 6: 4 flagged, p=1/3 -> eta=1/3 -> int(4/3)=1 revived -> 2+1;
    # after 9: p=5/9 -> eta=4/9 -> int(16/9)=1 -> 5+1.
    assert SpyStrategy.covering_sizes == [0, 3, 6]


def test_weighted_training_uses_the_clean_probabilities(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagFirstFilter(n_flag=4),
                                      estimator=WeightSpy(), train_on="weighted", budget=12,
                                      classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    _, weights = learner.estimator_.seen_
    assert weights.tolist() == [0.25] * 4 + [0.9] * 8


def test_relabel_training_uses_the_proposed_labels(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagFirstFilter(n_flag=4),
                                      estimator=WeightSpy(), train_on="relabel", budget=12,
                                      classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    seen, weights = learner.estimator_.seen_
    expected = y[learner.labeled_idx_].copy()
    expected[:4] = 2
    assert weights is None and seen.tolist() == expected.tolist()
    assert learner.train_idx_.size == 12


def test_weighted_needs_an_estimator_that_takes_sample_weight(blobs):
    X, y = blobs

    class NoWeights(WeightSpy):
        def fit(self, X, y):
            return super().fit(X, y)

    learner = NoiseAwareActiveLearner(RandomSampling(), FlagFirstFilter(), estimator=NoWeights(),
                                      train_on="weighted", budget=6)
    with pytest.raises(ValueError, match="sample_weight"):
        learner.fit_round(X, NoisyOracle(y))


@pytest.mark.parametrize("policy, x, expected", [
    ("constant", 0.5, 0.6),
    ("linear_descent", 0.25, 0.75 * 0.8 + 0.25 * 0.05),
    ("exponential_descent", 0.0, 0.8),
    ("exponential_descent", 1.0, 0.05),
])
def test_delta_schedule_formulas(policy, x, expected):
    X = np.zeros((100, 2))
    labeled = np.arange(int(100 * x))
    delta = DeltaSchedule(policy).next_delta(X, labeled, initial=0.8, current=0.6)
    assert delta == pytest.approx(expected)


def test_exponential_descent_midpoint():
    k = 5.0
    c = (np.exp(-k) - np.exp(-k * 0.5)) / (np.exp(-k) - 1)
    delta = DeltaSchedule("exponential_descent", k=k).next_delta(
        np.zeros((10, 2)), np.arange(5), initial=1.0, current=1.0)
    assert delta == pytest.approx(c * 1.0 + (1 - c) * 0.05)


def test_max_support_size_on_a_hand_made_pool():
    # Unit vectors at angles: a tight group of 4 around 0 rad, a labeled point at pi.
    angles = np.array([0.0, 0.06, 0.12, 0.18, np.pi])
    X = np.c_[np.cos(angles), np.sin(angles)]
    labeled = np.array([4])
    grid_kw = dict(min_delta=0.1, max_delta=0.3, resolution=0.1)
    # chords inside the group: 0.06 rad -> 0.05998, 0.12 -> 0.1199, 0.18 -> 0.1798: at
    # delta=0.1 the middle points have degree 2; at 0.2 and 0.3 point 1 reaches all 3 others.
    take_min = DeltaSchedule("max_support_size_take_min", **grid_kw).next_delta(
        X, labeled, initial=0.3, current=0.3)
    take_max = DeltaSchedule("max_support_size_take_max", **grid_kw).next_delta(
        X, labeled, initial=0.3, current=0.3)
    assert take_min == pytest.approx(0.2) and take_max == pytest.approx(0.3)


def _max_degrees_one_delta_at_a_time(d2, is_labeled, grid):
    """The definition, one δ at a time: the naive reference for the one-pass count."""
    out = np.empty(grid.size)
    for i, delta in enumerate(grid):
        within = d2 < delta * delta
        covered = within[is_labeled].any(axis=0) | is_labeled
        degrees = within[:, ~covered].sum(axis=1)
        degrees[is_labeled] = 0
        out[i] = degrees.max()
    return out


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31 - 1), share=st.floats(0, 1),
       coarse=st.booleans(), row_block=st.sampled_from([1, 3, 1024]))
def test_max_support_size_degrees_match_the_definition(n, seed, share, coarse, row_block):
    from skal._nas import _delta
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    d2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    if coarse:                          # many distances exactly on a grid value's square
        d2 = np.round(d2 * 4) / 4
    np.fill_diagonal(d2, np.inf)
    is_labeled = rng.random(n) < share
    grid = np.unique(np.r_[np.arange(0.05, 1.125, 0.05), 0.5, rng.uniform(0.05, 2)])[::-1]
    saved, _delta._ROW_BLOCK = _delta._ROW_BLOCK, row_block    # several blocks on small pools
    try:
        got = _delta._max_uncovered_degrees(d2, is_labeled, grid)
    finally:
        _delta._ROW_BLOCK = saved
    np.testing.assert_array_equal(got, _max_degrees_one_delta_at_a_time(d2, is_labeled, grid))


def test_delta_schedule_moves_probcover_delta_between_rounds(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(ProbCover(delta=0.5), budget=9, random_state=0,
                                      delta_schedule=DeltaSchedule("linear_descent"))
    oracle = NoisyOracle(y)
    for _ in range(3):
        learner.fit_round(X, oracle)
    deltas = [r["delta"] for r in learner.history_]
    assert deltas[0] == 0.5
    assert deltas[1] == pytest.approx((1 - 9 / 90) * 0.5 + 9 / 90 * 0.05)
    assert deltas[2] == pytest.approx((1 - 18 / 90) * 0.5 + 18 / 90 * 0.05)



def test_a_sampling_delta_schedule_is_seeded_by_the_learner():
    # On a pool larger than n_sample the schedule scores a random sample of it:
    # the learner's seed must fix that sample, as it fixes everything else.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, 6))
    y = rng.integers(0, 4, 400)

    def deltas(seed):
        learner = NoiseAwareActiveLearner(
            ProbCover(delta=0.9), budget=8, random_state=seed,
            delta_schedule=DeltaSchedule("max_support_size_take_min", n_sample=40,
                                         resolution=0.01))
        for _ in range(6):
            learner.fit_round(X, NoisyOracle(y, noise_rate=0.0))
        return [r["delta"] for r in learner.history_]

    runs = [deltas(0) for _ in range(4)]
    assert all(run == runs[0] for run in runs)
    assert len(set(runs[0][1:])) > 1          # the sample does move δ
