"""CrossValidationFilter: every label is judged only by models that never saw it."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skal.datasets import load_digits_embeddings
from skal.filters import CrossValidationFilter
from skal.noise import make_noisy_labels


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The labeled sets here are tiny: BLAS/OpenMP threads only add
    # synchronisation, which dominates on a busy shared machine.
    with threadpool_limits(limits=1):
        yield


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """A 1-NN classifier that logs the rows it trained on and the rows it judged."""

    log = []

    def fit(self, X, y):
        self.X_, self.y_ = np.asarray(X), np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        X = np.asarray(X)
        SpyClassifier.log.append((self.X_[:, 0].copy(), X[:, 0].copy()))
        d = ((X[:, None, :] - self.X_[None, :, :]) ** 2).sum(-1)
        return self.y_[d.argmin(axis=1)]


def test_models_are_trained_on_the_other_folds_and_never_see_the_judged_rows():
    rng = np.random.default_rng(0)
    n = 60
    X = np.column_stack([np.arange(n, dtype=float), rng.normal(size=n)])  # column 0 = row id
    y = np.repeat([0, 1, 2], 20)
    SpyClassifier.log = []
    f = CrossValidationFilter(SpyClassifier(), n_splits=3, n_repeats=4, random_state=0)
    f.fit_filter(X, y)
    assert len(SpyClassifier.log) == 3 * 4
    judged = np.zeros(n, dtype=int)
    for train_ids, test_ids in SpyClassifier.log:
        assert np.intersect1d(train_ids, test_ids).size == 0
        # Trained on the two other folds (not on one, the reference code's bug).
        assert train_ids.size == n - test_ids.size == 40
        judged[test_ids.astype(int)] += 1
    np.testing.assert_array_equal(judged, np.full(n, 4))  # one vote per repeat


def test_memorising_estimator_cannot_vouch_for_its_own_training_points():
    # Two tight clusters; each holds one intruder labeled as the other class.
    # A memorising 1-NN model that had seen an intruder would repeat its label
    # back; a model that never saw it answers with the cluster's class.
    rng = np.random.default_rng(0)
    A = rng.normal(scale=0.05, size=(12, 2))
    B = rng.normal(scale=0.05, size=(12, 2)) + [10.0, 0.0]
    X = np.vstack([A, [[0.5, 0.0]], B, [[9.5, 0.0]]])
    y = np.array([0] * 12 + [1] + [1] * 12 + [0])
    f = CrossValidationFilter(KNeighborsClassifier(n_neighbors=1), n_splits=3, n_repeats=3,
                              random_state=0)
    mask = f.fit_filter(X, y)
    intruders = np.array([12, 25])
    expected = np.ones(26, dtype=bool)
    expected[intruders] = False
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(f.scores_[intruders], [0.0, 0.0])
    np.testing.assert_array_equal(np.delete(f.scores_, intruders), np.ones(24))
    assert f.threshold_ == 0.5
    # Held-out probability of the given label: 0 for the intruders, 1 otherwise.
    np.testing.assert_array_equal(f.proba_given_[intruders], [0.0, 0.0])


def test_majority_vote_threshold():
    # Random labels: votes differ between repeats; a score is the fraction of
    # the 5 held-out votes that agree, and the rule is score >= 0.5.
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2))
    y = rng.integers(0, 2, size=40)
    f = CrossValidationFilter(KNeighborsClassifier(n_neighbors=1), n_repeats=5, random_state=0)
    mask = f.fit_filter(X, y)
    assert set(np.round(f.scores_ * 5).astype(int)) <= set(range(6))  # k / 5 votes
    np.testing.assert_array_equal(mask, f.scores_ >= 0.5)


def test_small_classes_fall_back_to_plain_folds_and_are_kept():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(22, 3))
    y = np.array([0] * 10 + [1] * 10 + [2, 2])  # class 2 too small to stratify
    f = CrossValidationFilter(random_state=0)
    mask = f.fit_filter(X, y)
    assert mask[-2:].all()


def test_default_reaches_target_on_digits():
    X, y = load_digits_embeddings(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))[:500]
    y_noisy, is_noisy = make_noisy_labels(y[perm], 0.3, random_state=0)
    mask = CrossValidationFilter(random_state=0).fit_filter(X[perm], y_noisy)
    tp = np.sum(~mask & is_noisy)
    assert 2 * tp / (np.sum(~mask) + is_noisy.sum()) >= 0.75


@pytest.mark.parametrize("params", [{"n_splits": 1}, {"n_repeats": 0}, {"n_splits": 2.0}])
def test_bad_parameters(params):
    with pytest.raises(InvalidParameterError, match=f"The '{next(iter(params))}' parameter"):
        CrossValidationFilter(**params).fit_filter(np.eye(6, 2), [0, 0, 0, 1, 1, 1])
