import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

from skal import AUMFilter, CrossValidationFilter, NoiseAwareActiveLearner, NoisyOracle, ProbCover
from skal.filters import NoiseFilter
from skal.learner import nas_shares
from skal.strategies import QueryStrategy, RandomSampling


class SpyStrategy(QueryStrategy):
    """Random picks; records what the learner passed in (in a class-level log,
    since the learner works on a clone)."""

    log: list = []

    def __init__(self, random_state=None):
        self.random_state = random_state

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        SpyStrategy.log.append({"budget": budget, "labeled": labeled.copy(),
                                "covering": covering.copy()})
        free = np.setdiff1d(np.arange(X.shape[0]), labeled)
        return rng.choice(free, size=budget, replace=False)


class FlagClassFilter(NoiseFilter):
    """Flags every label equal to ``bad_label``: a deterministic filter for tests."""

    def __init__(self, bad_label=0, random_state=None):
        self.bad_label = bad_label
        self.random_state = random_state

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        bad = np.flatnonzero(self.classes_ == self.bad_label)
        mask = np.ones(y.size, dtype=bool) if bad.size == 0 else y != bad[0]
        return mask.astype(float), 0.5, mask


@pytest.mark.parametrize("budget, n_classes, expected", [
    (100, 10, [10] * 10), (25, 10, [15, 10]), (7, 10, [7]), (10, 10, [10]),
    (5, None, [5]), (31, 3, [4] + [3] * 9),
])
def test_nas_shares(budget, n_classes, expected):
    shares = nas_shares(budget, n_classes)
    assert shares == expected and sum(shares) == budget


def test_design_card_line_runs(digits):
    X_emb, y = digits
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    learner = NoiseAwareActiveLearner(ProbCover(delta=0.65), AUMFilter()).fit_round(X_emb, oracle)
    assert learner.labeled_idx_.shape == (100,)
    assert np.unique(learner.labeled_idx_).size == 100
    assert np.array_equal(learner.labels_.astype(int), oracle.y_noisy_[learner.labeled_idx_])
    assert learner.history_[0]["shares"] == [10] * 10
    assert learner.clean_mask_.dtype == bool and learner.clean_mask_.shape == (100,)
    assert oracle.n_queries_ == 100  # nothing paid twice
    assert set(learner.predict(X_emb[:20])) <= set(range(10))


def test_share_schedule_and_covering_follow_the_filter(blobs):
    X, y = blobs
    calls = SpyStrategy.log
    calls.clear()
    oracle = NoisyOracle(y)  # no noise: label 0 is "noisy" only for the filter
    learner = NoiseAwareActiveLearner(SpyStrategy(), FlagClassFilter(bad_label=0),
                                      budget=8, random_state=0)
    learner.fit_round(X, oracle)
    # 3 classes: shares [2 + 3, 3] -> first share 5 (remainder goes first), then 3
    assert [c["budget"] for c in calls] == [5, 3]
    # first share: nothing labeled; second: 5 labeled, the filter ran (5 >= 3 classes)
    first_labels = learner.labels_[:5].astype(int)
    expected_cover = learner.labeled_idx_[:5][first_labels != 0]
    assert np.array_equal(np.sort(calls[1]["covering"]), np.sort(expected_cover))
    assert np.array_equal(learner.clean_mask_, learner.labels_.astype(int) != 0)
    # the final model never sees a label the filter rejected
    y_train = y[learner.train_idx_]  # no noise: the annotator's labels are y
    assert y_train.size == int(learner.clean_mask_.sum())
    assert 0 not in set(y_train.tolist())


def test_filter_skipped_while_fewer_labels_than_classes(blobs):
    X, y = blobs
    calls = SpyStrategy.log
    calls.clear()
    learner = NoiseAwareActiveLearner(SpyStrategy(), FlagClassFilter(bad_label=0),
                                      budget=2, classes=[0, 1, 2], random_state=0)
    oracle = NoisyOracle(y)
    learner.fit_round(X, oracle)  # 2 labels < 3 classes: filter skipped, all clean
    assert learner.clean_mask_.all()
    learner.fit_round(X, oracle)  # now 4 labels: filter runs after the share
    assert np.array_equal(learner.clean_mask_, learner.labels_.astype(int) != 0)


def test_not_noise_aware_uses_all_labels_for_coverage(blobs):
    X, y = blobs
    calls = SpyStrategy.log
    calls.clear()
    learner = NoiseAwareActiveLearner(SpyStrategy(), FlagClassFilter(bad_label=0),
                                      budget=9, noise_aware=False, random_state=0)
    oracle = NoisyOracle(y)
    learner.fit_round(X, oracle).fit_round(X, oracle)
    assert [c["budget"] for c in calls] == [9, 9]  # one share per round
    assert np.array_equal(calls[1]["covering"], calls[1]["labeled"])
    # ... but the filter still cleans the training set
    assert np.array_equal(learner.clean_mask_, learner.labels_.astype(int) != 0)


def test_train_on_all_keeps_rejected_labels(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagClassFilter(bad_label=0), budget=30,
                                      train_on="all", random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    y_train = y[learner.train_idx_]
    assert y_train.size == 30 and 0 in set(y_train.tolist())


def test_nas_beats_plain_probcover_on_noisy_digits(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    perm = rng.permutation(y.size)
    pool, test = perm[:1300], perm[1300:]
    acc = {"plain": [], "nas": []}
    for seed in range(2):
        for name, flt in (("plain", None), ("nas", CrossValidationFilter())):
            oracle = NoisyOracle(y[pool], noise_rate=0.5, random_state=seed)
            learner = NoiseAwareActiveLearner(ProbCover(), flt, budget=60, random_state=seed)
            for _ in range(5):
                learner.fit_round(X[pool], oracle)
            acc[name].append(learner.score(X[test], y[test]))
    assert np.mean(acc["nas"]) > np.mean(acc["plain"]) + 0.03


def test_fit_corrupts_labels_and_scores_on_clean(digits):
    X, y = digits
    learner = NoiseAwareActiveLearner(RandomSampling(), None, budget=40, n_rounds=2,
                                      noise_rate=0.5, random_state=0).fit(X, y)
    assert learner.n_rounds_done_ == 2 and learner.labeled_idx_.size == 80
    given = learner.labels_.astype(int)
    wrong = given != y[learner.labeled_idx_]
    assert 0.3 < wrong.mean() < 0.7  # the annotator was noisy
    assert 0.0 <= learner.score(X, y) <= 1.0
    # a second fit starts from scratch
    learner.fit(X, y)
    assert learner.labeled_idx_.size == 80


def test_gridsearch_over_strategy_delta(digits):
    X, y = digits
    base = NoiseAwareActiveLearner(ProbCover(), CrossValidationFilter(n_repeats=1), budget=40,
                                   n_rounds=2, noise_rate=0.3, random_state=0)
    search = GridSearchCV(base, {"strategy__delta": [0.3, 0.5]}, cv=2, error_score="raise")
    search.fit(X[:600], y[:600])
    assert search.best_params_["strategy__delta"] in (0.3, 0.5)
    assert search.cv_results_["mean_test_score"].shape == (2,)
    assert search.best_estimator_.strategy_.delta == search.best_params_["strategy__delta"]


def test_predict_proba_has_a_column_per_class(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagClassFilter(bad_label=2), budget=30,
                                      random_state=0).fit_round(X, NoisyOracle(y))
    proba = learner.predict_proba(X)
    assert proba.shape == (60, 3)
    assert np.allclose(proba.sum(1), 1) and np.all(proba[:, 2] == 0)


def test_same_seed_same_run(digits):
    X, y = digits

    def run():
        oracle = NoisyOracle(y, noise_rate=0.4, random_state=1)
        learner = NoiseAwareActiveLearner(ProbCover(), AUMFilter(), budget=30, random_state=7,
                                          noise_dropout=0.3)
        learner.fit_round(X, oracle).fit_round(X, oracle)
        return learner

    a, b = run(), run()
    assert np.array_equal(a.labeled_idx_, b.labeled_idx_)
    assert np.array_equal(a.clean_mask_, b.clean_mask_)
    assert np.allclose(a.predict_proba(X[:50]), b.predict_proba(X[:50]))


def test_momentum_smooths_decisions(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagClassFilter(bad_label=0), budget=6,
                                      noise_momentum=0.6, random_state=0)
    oracle = NoisyOracle(y)
    learner.fit_round(X, oracle)
    # labels judged once: s = 0.6 * 1 + 0.4 * decision -> a single "noisy" vote
    # leaves s = 0.6 >= 0.5, still clean
    assert learner.clean_mask_.all()
    for _ in range(3):
        learner.fit_round(X, oracle)
    first = learner.labels_[:6].astype(int) != 0
    assert np.array_equal(learner.clean_mask_[:6], first)


def test_noise_dropout_one_revives_every_noisy_point(blobs):
    X, y = blobs
    calls = SpyStrategy.log
    calls.clear()
    learner = NoiseAwareActiveLearner(SpyStrategy(), FlagClassFilter(bad_label=0),
                                      budget=6, noise_dropout=1.0, random_state=0)
    learner.fit_round(X, NoisyOracle(y)).fit_round(X, NoisyOracle(y))
    assert (~learner.clean_mask_).any()
    last = calls[-1]
    assert np.array_equal(np.sort(last["covering"]), np.sort(last["labeled"]))


def test_noisy_weight_auto_sets_p_hat(digits):
    X, y = digits
    learner = NoiseAwareActiveLearner(ProbCover(delta=0.4), FlagClassFilter(bad_label=0),
                                      budget=30, noisy_weight="auto", random_state=0)
    oracle = NoisyOracle(y)
    learner.fit_round(X, oracle).fit_round(X, oracle)
    p_hat_before_last_share = learner.strategy_.noisy_weight
    assert 0.0 < p_hat_before_last_share < 1.0


class FlakyOracle:
    """Fails on its second call, then works again."""

    def __init__(self, y):
        self.y, self.calls, self.asked = y, 0, []

    def __call__(self, idx):
        self.calls += 1
        if self.calls == 2:
            raise TimeoutError("annotation service timed out")
        self.asked.extend(np.asarray(idx).tolist())
        return self.y[idx]


def test_oracle_failure_keeps_bought_labels_and_resumes(blobs):
    X, y = blobs
    oracle = FlakyOracle(y)
    learner = NoiseAwareActiveLearner(RandomSampling(), FlagClassFilter(bad_label=0), budget=9,
                                      classes=[0, 1, 2], random_state=0)
    with pytest.raises(TimeoutError):
        learner.fit_round(X, oracle)  # shares [3, 3, 3]: the second share fails
    assert learner.labeled_idx_.size == 3
    kept = learner.labeled_idx_.copy()
    learner.fit_round(X, oracle, budget=6)
    assert np.array_equal(learner.labeled_idx_[:3], kept)
    assert learner.labeled_idx_.size == 9 and np.unique(learner.labeled_idx_).size == 9
    assert len(oracle.asked) == len(set(oracle.asked)) == 9  # nothing paid twice


@pytest.mark.parametrize("answer, exc, match", [
    (lambda idx: np.zeros(len(idx) - 1, dtype=int), ValueError, "oracle's labels"),
    (lambda idx: np.arange(len(idx)) % 3 + 0.5, ValueError, "non-integer"),
    (lambda idx: np.array([0] * (len(idx) - 1) + ["a"], dtype=object), TypeError, "mix"),
    (lambda idx: np.full(len(idx), np.nan), ValueError, "NaN"),
    (lambda idx: np.array([None] * len(idx), dtype=object), ValueError, "None"),
    (lambda idx: np.full(len(idx), 7), ValueError, "outside the known classes"),
])
def test_bad_oracle_answers(blobs, answer, exc, match):
    X, _ = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), None, budget=5, classes=[0, 1, 2])
    with pytest.raises(exc, match=match):
        learner.fit_round(X, answer)
    assert learner.labeled_idx_.size == 0


def test_bad_inputs(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=5)
    with pytest.raises(ValueError, match="larger than"):
        learner.fit_round(X, NoisyOracle(y), budget=61)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NoiseAwareActiveLearner(RandomSampling()).fit_round(Xn, NoisyOracle(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NoiseAwareActiveLearner(RandomSampling(), budget=5, n_rounds=1).fit(X, y[:-1])
    with pytest.raises(TypeError, match="'strategy' parameter"):
        NoiseAwareActiveLearner("probcover").fit_round(X, NoisyOracle(y))
    with pytest.raises(TypeError, match="oracle must be callable"):
        NoiseAwareActiveLearner(RandomSampling()).fit_round(X, y)
    with pytest.raises(ValueError, match="delta"):
        NoiseAwareActiveLearner(ProbCover(delta=-1.0), budget=5).fit_round(X, NoisyOracle(y))
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=5).fit_round(X, NoisyOracle(y))
    with pytest.raises(ValueError, match="same pool"):
        learner.fit_round(X[:-1], NoisyOracle(y[:-1]))
    with pytest.raises(ValueError, match="features"):
        learner.predict(X[:, :2])


def test_fit_caps_a_schedule_larger_than_the_pool_and_warns_once(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=50, n_rounds=2, random_state=0)
    with pytest.warns(UserWarning, match="100 labels over 2 rounds, more than the 60 points") \
            as record:
        learner.fit(X, y)
    assert len([w for w in record if issubclass(w.category, UserWarning)]) == 1
    assert [r["budget"] for r in learner.history_] == [50, 10]
    assert np.array_equal(np.sort(learner.labeled_idx_), np.arange(60))
    # an explicit budget larger than what is left still raises
    with pytest.raises(ValueError, match="larger than"):
        NoiseAwareActiveLearner(RandomSampling(), budget=5).fit_round(X, NoisyOracle(y), budget=61)


def test_fit_rejects_one_class_and_regression_targets(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="only one class"):
        NoiseAwareActiveLearner(RandomSampling(), budget=5).fit(X, np.zeros(60, dtype=int))
    with pytest.raises(ValueError, match="Unknown label type"):
        NoiseAwareActiveLearner(RandomSampling(), budget=5).fit(X, np.linspace(0, 1, 60))


def test_string_labels_and_plain_callable(blobs):
    X, y = blobs
    names = np.array(["ant", "bee", "cow"])
    learner = NoiseAwareActiveLearner(ProbCover(), CrossValidationFilter(), budget=12,
                                      random_state=0)
    learner.fit_round(X, lambda idx: names[y[idx]])
    learner.fit_round(X, lambda idx: names[y[idx]])
    assert set(learner.predict(X)) <= set(names)
    assert np.array_equal(learner.classes_, names)


def test_any_sklearn_estimator_and_clone_pickle(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(ProbCover(), AUMFilter(epochs=5),
                                      estimator=KNeighborsClassifier(3), budget=12, random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    assert isinstance(learner.estimator_, KNeighborsClassifier)
    twin = pickle.loads(pickle.dumps(learner))
    assert np.array_equal(twin.predict(X), learner.predict(X))
    fresh = clone(learner)
    assert not hasattr(fresh, "labeled_idx_")
    assert fresh.get_params()["strategy__delta"] == "auto"
