"""Soft proposals: a doubted label proposed as a distribution over classes, and how the learner trains on it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from skal import NoiseAwareActiveLearner, NoisyOracle, RandomSampling
from skal._nas._ledger import Ledger
from skal.filters import NoiseFilter

# Label 0 of every call: doubted, proposed as this distribution over classes 0, 1, 2.
SOFT = np.array([0.7, 0.2, 0.1])


class SoftFilter(NoiseFilter):
    """Doubts the first two labels: a soft proposal for the first, class 2 for the second."""

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng, **kwargs):
        keep = np.ones(y.size, dtype=bool)
        keep[:2] = False
        proba = np.zeros((y.size, n_classes))
        proba[0] = SOFT[:n_classes] / SOFT[:n_classes].sum()
        self.proposal_proba_ = proba
        says = y.copy()
        says[0] = proba[0].argmax()
        says[1] = n_classes - 1
        self.proposed_labels_ = self.classes_[says]
        return keep.astype(float), 0.5, keep


class WeightSpy(ClassifierMixin, BaseEstimator):
    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.seen_ = (np.asarray(X).copy(), np.asarray(y).copy(),
                      None if sample_weight is None else np.asarray(sample_weight).copy())
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class NoWeightSpy(WeightSpy):
    def fit(self, X, y):
        return super().fit(X, y)


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 30)
    return np.eye(3, 4)[y] * 4 + rng.normal(scale=0.4, size=(90, 4)), y


def _learner(estimator, train_on="relabel"):
    return NoiseAwareActiveLearner(RandomSampling(), SoftFilter(), estimator=estimator,
                                   train_on=train_on, budget=12, classes=[0, 1, 2],
                                   random_state=0)


def test_relabel_spreads_a_soft_proposal_over_its_classes(blobs):
    X, y = blobs
    learner = _learner(WeightSpy()).fit_round(X, NoisyOracle(y))
    X_seen, y_seen, w = learner.estimator_.seen_
    given = y[learner.labeled_idx_]
    # The twelve labels in buying order: label 0 under its most probable
    # class (0) with that probability, label 1 under its hard proposal.
    assert y_seen[:12].tolist() == [0, 2] + given[2:].tolist()
    np.testing.assert_allclose(w[:12], [0.7] + [1.0] * 11)
    # Then label 0's row once more for each other class, weighted by its probability.
    assert y_seen[12:].tolist() == [1, 2]
    np.testing.assert_allclose(w[12:], [0.2, 0.1])
    np.testing.assert_array_equal(X_seen[12:], X[learner.labeled_idx_[[0, 0]]])
    np.testing.assert_allclose(learner._ledger.proposal_proba[0], SOFT)
    assert not learner._ledger.proposal_proba[1:].any()


def test_an_estimator_without_sample_weight_trains_on_the_most_probable_class(blobs):
    X, y = blobs
    learner = _learner(NoWeightSpy()).fit_round(X, NoisyOracle(y))
    _, y_seen, w = learner.estimator_.seen_
    assert w is None and y_seen.size == 12
    assert y_seen[:2].tolist() == [0, 2]


@pytest.mark.parametrize("train_on", ["clean", "all"])
def test_other_training_modes_ignore_soft_proposals(blobs, train_on):
    X, y = blobs
    learner = _learner(WeightSpy(), train_on).fit_round(X, NoisyOracle(y))
    _, y_seen, w = learner.estimator_.seen_
    assert w is None and y_seen.size == (10 if train_on == "clean" else 12)


def test_a_reviewed_label_loses_its_soft_proposal(blobs):
    X, y = blobs
    learner = _learner(WeightSpy()).fit_round(X, NoisyOracle(y))
    first = learner.labeled_idx_[0]
    # SoftFilter proposes for ledger position 0 again, but a person's answer wins.
    learner.relabel([first], [y[first]], X=X)
    assert not learner._ledger.proposal_proba[0].any()
    _, y_seen, w = learner.estimator_.seen_
    assert y_seen[0] == y[first] and w is None and y_seen.size == 12


def test_soft_proposals_survive_save_and_load(tmp_path, blobs):
    X, y = blobs
    learner = _learner(WeightSpy()).fit_round(X, NoisyOracle(y))
    trusted = [WeightSpy.__module__]
    learner.save(tmp_path / "run.skal", allowed_modules=trusted)
    loaded = NoiseAwareActiveLearner.load(tmp_path / "run.skal", allowed_modules=trusted)
    np.testing.assert_array_equal(loaded._ledger.proposal_proba, learner._ledger.proposal_proba)
    _, y_a, w_a = learner.estimator_.seen_
    _, y_b, w_b = loaded.estimator_.seen_
    np.testing.assert_array_equal(y_a, y_b)
    np.testing.assert_allclose(w_a, w_b)


def _saved_arrays(n=3):
    return {"labeled_idx": np.arange(n), "X_labeled": np.zeros((n, 2)),
            "clean_mask": np.ones(n, dtype=bool), "clean_score": np.ones(n),
            "label_round": np.zeros(n, dtype=np.int64)}


def test_a_ledger_saved_before_soft_proposals_loads_without_them():
    ledger = Ledger.from_saved(_saved_arrays(), np.array([0, 1, 1]), [], 10, 2)
    assert ledger.proposal_proba.shape == (3, 0)
    ledger.add(np.array([5]), np.array([1]), np.zeros((1, 2)), 1)
    assert ledger.proposal_proba.shape == (4, 0)


@pytest.mark.parametrize("bad", [np.full((3, 2), 1.5), np.full((2, 2), 0.5), np.full(3, 0.5),
                                 np.array([[np.nan, 1.0], [0, 1], [1, 0]])])
def test_a_ledger_refuses_proposal_probabilities_that_are_not(bad):
    with pytest.raises(ValueError, match="proposal_proba"):
        Ledger.from_saved({**_saved_arrays(), "proposal_proba": bad}, np.array([0, 1, 1]), [],
                          10, 2)


@pytest.mark.parametrize("n_classes", [4, 16])
def test_a_noisy_run_trains_on_soft_proposals_with_string_labels(n_classes):
    # 16 classes take the Sinkhorn branch of the naming posterior, 4 the exact one.
    from skal import MaxHerding
    from skal.filters import CentroidFilter

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(n_classes, 8)) * 3
    y = np.repeat(np.arange(n_classes), 25)
    X = centres[y] + rng.normal(size=(y.size, 8))
    names = np.array([f"class-{c:02d}" for c in range(n_classes)])
    learner = NoiseAwareActiveLearner(MaxHerding(), CentroidFilter(), train_on="relabel",
                                      budget=2 * n_classes, random_state=0)
    oracle = NoisyOracle(names[y], noise_rate=0.5, random_state=0)
    saw_soft = False
    for _ in range(3):
        learner.fit_round(X, oracle)
        proba = learner._ledger.proposal_proba
        if proba.shape[1]:
            given = proba.sum(axis=1) > 0
            np.testing.assert_allclose(proba[given].sum(axis=1), 1.0)
            # Only doubted labels carry one, and their hard proposal is its most likely class.
            assert not learner._ledger.clean_mask[given].any()
            np.testing.assert_array_equal(learner._ledger.proposed[given],
                                          proba[given].argmax(axis=1))
            saw_soft |= bool(given.any())
        assert set(learner.predict(X[:20])) <= set(names)
    assert saw_soft
