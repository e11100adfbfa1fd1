"""ConfidentLearningFilter: confident learning on out-of-fold probabilities, checked against
hand-computed counts and against cleanlab (a test extra) on the same probabilities."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.naive_bayes import GaussianNB
from sklearn.svm import LinearSVC
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

import skal.filters._confident_learning as cl_module
from skal.datasets import load_digits_embeddings
from skal.filters import ConfidentLearningFilter
from skal.filters._confident_joint import (
    FILTER_BY,
    calibrate_joint,
    confident_joint,
    confident_thresholds,
    find_label_issues,
)
from skal.filters._confident_learning import out_of_fold_proba
from skal.noise import make_noisy_labels

try:
    import cleanlab.filter as cleanlab_filter
except ImportError:  # cleanlab is a test extra, never a runtime dependency
    cleanlab_filter = None
needs_cleanlab = pytest.mark.skipif(cleanlab_filter is None,
                                    reason="cleanlab (test extra) is not installed")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # The labeled sets here are tiny: BLAS/OpenMP threads only add
    # synchronisation, which dominates on a busy shared machine.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def noisy():
    rng = np.random.default_rng(0)
    centers = 3.0 * np.eye(3, 5)
    y = np.repeat(np.arange(3), 40)
    X = centers[y] + rng.normal(size=(120, 5))
    y_noisy = y.copy()
    flip = rng.choice(120, size=18, replace=False)
    y_noisy[flip] = (y[flip] + 1) % 3
    return X, y_noisy


def test_out_of_fold_proba_equals_cross_val_predict(noisy):
    X, y = noisy
    est = LogisticRegression(max_iter=500)
    ours = out_of_fold_proba(est, X, y, 3, n_splits=4, random_state=7)
    ref = cross_val_predict(est, X, y, method="predict_proba",
                            cv=StratifiedKFold(4, shuffle=True, random_state=7))
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12)


@needs_cleanlab
@pytest.mark.parametrize("filter_by", ["prune_by_noise_rate", "prune_by_class", "both",
                                       "confident_learning", "predicted_neq_given",
                                       "low_self_confidence"])
def test_flags_equal_cleanlab_on_the_same_probabilities(noisy, filter_by):
    X, y = noisy
    f = ConfidentLearningFilter(GaussianNB(), filter_by=filter_by, random_state=0)
    mask = f.fit_filter(X, y)
    expected = cleanlab_filter.find_label_issues(y, f.pred_probs_, filter_by=filter_by)
    np.testing.assert_array_equal(~mask, expected)
    np.testing.assert_array_equal(f.label_issues_, expected)
    assert expected.sum() > 0  # the comparison is not vacuous
    np.testing.assert_allclose(f.scores_, f.pred_probs_[np.arange(120), y])
    np.testing.assert_allclose(f.pred_probs_.sum(axis=1), 1.0)


@needs_cleanlab
def test_string_labels_use_encoded_columns(noisy):
    X, y = noisy
    names = np.array(["x", "y", "z"])[y]
    f = ConfidentLearningFilter(GaussianNB(), random_state=0)
    mask = f.fit_filter(X, names)
    expected = cleanlab_filter.find_label_issues(y, f.pred_probs_)
    np.testing.assert_array_equal(~mask, expected)


def test_no_cleanlab_needed_at_runtime(noisy, monkeypatch):
    import sys

    X, y = noisy
    monkeypatch.setitem(sys.modules, "cleanlab", None)
    monkeypatch.setitem(sys.modules, "cleanlab.filter", None)
    mask = ConfidentLearningFilter(GaussianNB(), random_state=0).fit_filter(X, y)
    assert (~mask).sum() > 0


def test_confident_joint_by_hand():
    # Three samples per class; thresholds are the mean self-confidences.
    y = np.array([0, 0, 0, 1, 1, 1])
    P = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9],     # sample 2 looks like class 1
                  [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    np.testing.assert_allclose(confident_thresholds(y, P), [0.6, 0.7])
    joint, off = confident_joint(y, P)
    # Sample 2: p1 = 0.9 >= 0.7 -> counted (0, 1); sample 5: neither class
    # reaches its threshold (0.4 < 0.6, 0.6 < 0.7) -> not counted.
    np.testing.assert_array_equal(joint, [[2, 1], [0, 2]])
    np.testing.assert_array_equal(off, [2])
    # Rows scaled to the label counts (3, 3): [2, 1] stays, [0, 2] -> [0, 3].
    np.testing.assert_array_equal(calibrate_joint(joint, y), [[2, 1], [0, 3]])
    issues = find_label_issues(y, P)
    np.testing.assert_array_equal(issues, [False, False, True, False, False, False])


@needs_cleanlab
@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_classes=st.integers(2, 6),
       filter_by=st.sampled_from(FILTER_BY), frac_noise=st.sampled_from([1.0, 0.7, 0.35]),
       min_per_class=st.integers(0, 3), coarse=st.booleans())
def test_flags_equal_cleanlab_on_random_probabilities(seed, n_classes, filter_by, frac_noise,
                                                      min_per_class, coarse):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(n_classes, 80))
    y = rng.integers(0, n_classes, n)
    y[:n_classes] = np.arange(n_classes)
    P = rng.dirichlet(np.full(n_classes, rng.uniform(0.2, 3.0)), n)
    if coarse:  # many exact ties
        P = np.round(P, 1) + 1e-3
        P /= P.sum(axis=1, keepdims=True)
    kw = {"filter_by": filter_by, "min_examples_per_class": min_per_class}
    if filter_by in ("prune_by_noise_rate", "prune_by_class", "both"):
        kw["frac_noise"] = frac_noise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cleanlab_filter.find_label_issues(y, P, n_jobs=1, **kw)
    np.testing.assert_array_equal(find_label_issues(y, P, **kw), expected)


def _noisy_f1(flagged, is_noisy):
    return 2 * np.sum(flagged & is_noisy) / (flagged.sum() + is_noisy.sum())


@needs_cleanlab
@pytest.mark.parametrize("rate", [0.3, 0.5])
def test_digits_500_labels_at_least_as_good_as_cleanlab(rate):
    """Issue 14: the filter's noisy-F1 on digits is at least cleanlab's on the same probabilities."""
    X, y = load_digits_embeddings(return_X_y=True)
    ours, theirs = [], []
    for seed in range(3):
        idx = np.random.default_rng(seed).choice(y.size, 500, replace=False)
        y_noisy, is_noisy = make_noisy_labels(y[idx], rate, random_state=seed)
        f = ConfidentLearningFilter(random_state=seed)
        keep = f.fit_filter(X[idx], y_noisy)
        _, y_enc = np.unique(y_noisy, return_inverse=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = cleanlab_filter.find_label_issues(y_enc, f.pred_probs_, n_jobs=1)
        ours.append(_noisy_f1(~keep, is_noisy))
        theirs.append(_noisy_f1(ref, is_noisy))
    assert np.mean(ours) >= np.mean(theirs) - 1e-12
    assert np.mean(ours) > 0.85  # and both are good: a regression would show here


def test_estimator_without_predict_proba(noisy):
    X, y = noisy
    with pytest.raises(TypeError, match="predict_proba"):
        out_of_fold_proba(LinearSVC(), X, y, 3)


@pytest.mark.parametrize("params, match", [
    ({"filter_by": "magic"}, "filter_by"),
    ({"frac_noise": 0}, "frac_noise"),
    ({"n_splits": 1}, "n_splits"),
    ({"estimator": LinearSVC()}, "estimator"),
    ({"min_examples_per_class": 1.5}, "min_examples_per_class"),
])
def test_bad_parameters(noisy, params, match):
    X, y = noisy
    with pytest.raises(InvalidParameterError, match=f"The '{match}' parameter"):
        ConfidentLearningFilter(**params).fit_filter(X, y)


def test_class_unseen_by_a_fold_gets_zero_probability():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(13, 2))
    y = np.array([0] * 6 + [1] * 6 + [2])  # class 2 has one label
    proba = out_of_fold_proba(GaussianNB(), X, y, 3, n_splits=3, random_state=0)
    assert proba[12, 2] == 0.0  # its own fold's model never saw class 2
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert cl_module.ConfidentLearningFilter(random_state=0).fit_filter(X, y)[12]
