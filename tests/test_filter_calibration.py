"""The noisy-channel calibration of per-class scores, and CentroidFilter's clean_proba_."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal import NoiseAwareActiveLearner, NoisyOracle, RandomSampling
from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter
from skal.filters._calibration import channel_calibrated_clean_proba
from skal.noise import make_noisy_labels


def test_decisive_scores_recover_the_flip_rate_and_the_flipped_labels():
    # Scores say the true class plainly (+5 against 0); 20 of 100 labels were
    # flipped. The likelihood is then (1 - r)^80 (r / 2)^20 at a sharp
    # temperature, maximal at r = 0.2; Bayes gives ~1 to the kept, ~0 to the flipped.
    rng = np.random.default_rng(0)
    t = rng.integers(0, 3, 100)
    S = np.zeros((100, 3))
    S[np.arange(100), t] = 5.0
    y = t.copy()
    flipped = rng.choice(100, 20, replace=False)
    y[flipped] = (t[flipped] + 1 + rng.integers(0, 2, 20)) % 3
    p, r, tau = channel_calibrated_clean_proba(S, y)
    assert r == pytest.approx(0.2, abs=0.011)  # the maximiser of (1 - r)^80 (r/2)^20
    assert p[flipped].max() < 0.05
    assert np.delete(p, flipped).min() > 0.95
    assert tau > 0


def test_unjudged_rows_get_one_and_stay_out_of_the_fit():
    S = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [5.0, -5.0]])
    y = np.array([0, 1, 0, 1, 1])
    judged = np.array([True, True, True, True, False])
    p, r, _ = channel_calibrated_clean_proba(S, y, judged)
    assert p[4] == 1.0
    # Without the unjudged contradiction every judged label agrees with its scores.
    assert r == pytest.approx(0.01) and p[:4].min() > 0.5
    p_none, r_none, tau_none = channel_calibrated_clean_proba(S, y, np.zeros(5, dtype=bool))
    assert p_none.tolist() == [1.0] * 5 and r_none == 0.0 and np.isnan(tau_none)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 40), c=st.integers(2, 5), seed=st.integers(0, 10_000),
       shift=st.floats(-50, 50))
def test_probabilities_are_valid_and_row_shifts_change_nothing(n, c, seed, shift):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n, c)) * 3
    y = rng.integers(0, c, n)
    p, r, _ = channel_calibrated_clean_proba(S, y)
    assert np.all((p >= 0) & (p <= 1)) and 0.01 <= r <= 0.6
    q, r2, _ = channel_calibrated_clean_proba(S + shift + rng.normal(size=(n, 1)), y)
    np.testing.assert_allclose(q, p, atol=1e-9)
    assert r2 == pytest.approx(r, abs=1e-6)


def _ece(p, clean, bins=5):
    b = np.clip((p * bins).astype(int), 0, bins - 1)
    return sum(abs(p[b == k].mean() - clean[b == k].mean()) * (b == k).mean()
               for k in range(bins) if (b == k).any())


@pytest.mark.parametrize("n_labels, rate", [(50, 0.5), (100, 0.3), (300, 0.3), (300, 0.5), (100, 0.0)])
def test_centroid_clean_proba_is_calibrated_on_digits(n_labels, rate):
    X, y = load_digits_embeddings(return_X_y=True)
    probas, cleans, rates, brier_p, brier_mask = [], [], [], [], []
    for seed in range(5):
        idx = np.random.default_rng(seed).choice(len(y), n_labels, replace=False)
        y_noisy, noisy = make_noisy_labels(y[idx], rate, random_state=seed)
        f = CentroidFilter()
        keep = f.fit_filter(X[idx], y_noisy)
        clean = (~noisy).astype(float)
        probas.append(f.clean_proba_)
        cleans.append(clean)
        rates.append(f.noise_rate_)
        brier_p.append(np.mean((f.clean_proba_ - clean) ** 2))
        brier_mask.append(np.mean((keep - clean) ** 2))
    # Reliability over the five seeds' labels pooled (one seed's 50 labels in
    # 5 bins would measure mostly sampling noise). Measured: pooled ECE 0.08,
    # 0.03, 0.01, 0.02 for the four cases; mean fitted rate within 0.03 of the truth.
    assert _ece(np.concatenate(probas), np.concatenate(cleans)) < 0.1
    assert abs(np.mean(rates) - rate) < 0.08
    # The probability says more than the 0/1 decision it comes with.
    assert np.mean(brier_p) < np.mean(brier_mask)


def test_weighted_training_with_centroid_uses_graded_weights():
    X, y = load_digits_embeddings(return_X_y=True)
    X, y = X[:600], y[:600]
    oracle = NoisyOracle(y, noise_rate=0.4, random_state=0)
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), train_on="weighted",
                                      budget=60, random_state=0)
    learner.fit_round(X, oracle)
    w = learner.noise_filter_.clean_proba_
    assert w.shape == (60,) and np.unique(np.round(w, 6)).size > 2  # not a 0/1 mask
    # Noisy labels get less weight than clean ones on average.
    noisy = oracle.is_noisy_[learner.labeled_idx_]
    assert w[noisy].mean() < w[~noisy].mean() - 0.2


@pytest.mark.parametrize("sparse", [False, True])
def test_leave_one_out_medians_equal_one_fit_per_left_out_row(sparse):
    import scipy.sparse as sp

    from skal.filters._geometric_median import _leave_one_out_geometric_medians, geometric_median

    rng = np.random.default_rng(4)
    M = rng.normal(size=(9, 6))
    M[2] = M[5]  # a duplicate: a left-out median may sit on a data point
    start = geometric_median(M)
    loo = _leave_one_out_geometric_medians(sp.csr_matrix(M) if sparse else M, start)
    for k in range(9):
        ref = geometric_median(np.delete(M, k, axis=0), max_iter=1000, tol=1e-12)
        np.testing.assert_allclose(loo[k], ref, atol=1e-5)


@pytest.mark.parametrize("center", ["geometric_median", "median", "mean"])
def test_centroid_calibration_uses_leave_one_out_centres(center):
    # Three tight classes; one label of class 0 sits among class 1's points.
    # With its own centre left out, that label's own distance is large and its
    # clean probability small, whatever the centre.
    rng = np.random.default_rng(1)
    X = np.repeat(np.eye(3, 5) * 5, 8, axis=0) + rng.normal(scale=0.3, size=(24, 5))
    y = np.repeat(np.arange(3), 8)
    y[8] = 0  # a point of class 1's cloud labeled 0
    f = CentroidFilter(center=center, normalize=False)
    f.fit_filter(X, y)
    assert f.clean_proba_[8] < 0.2
    assert np.delete(f.clean_proba_, 8).min() > 0.8
