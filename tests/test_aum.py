"""AUMFilter and area_under_margin: the margin, the averaging and the percentile rule."""

import math
import time

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError

import skal.filters._aum as aum_module
from skal.datasets import load_digits_embeddings
from skal.filters import AUMFilter
from skal.filters._aum import area_under_margin
from skal.noise import make_noisy_labels


def _margins(W, b, X, y):
    logits = X @ W.T + b
    own = logits[np.arange(len(y)), y]
    other = logits.copy()
    other[np.arange(len(y)), y] = -np.inf
    return own - other.max(axis=1)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def tiny():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 4))
    y = np.array([0, 1, 2, 0, 1, 2])
    W = rng.normal(size=(3, 4))
    b = rng.normal(size=3)
    return X, y, W, b


def test_one_full_batch_epoch_is_the_initial_margin(tiny):
    X, y, W, b = tiny
    aum = area_under_margin(X, y, 3, epochs=1, batch_size=6, rng=np.random.default_rng(0),
                            initial_weights=(W, b))
    np.testing.assert_allclose(aum, _margins(W, b, X, y), rtol=1e-5, atol=1e-5)


def test_margin_is_averaged_over_every_mini_batch(tiny):
    X, y, W, b = tiny
    # lr tiny: the weights barely move, so every one of the 4 epochs x 2
    # mini-batches sees the initial margin; an implementation that dropped a
    # batch or an epoch would not average to it.
    aum = area_under_margin(X, y, 3, epochs=4, lr=1e-12, batch_size=4,
                            rng=np.random.default_rng(0), initial_weights=(W, b))
    np.testing.assert_allclose(aum, _margins(W, b, X, y), rtol=1e-5, atol=1e-5)


def test_two_epochs_by_hand_with_nesterov_and_weight_decay(tiny):
    X, y, W0, b0 = tiny
    lr, mom, wd = 0.5, 0.9, 1e-2
    aum = area_under_margin(X, y, 3, epochs=2, lr=lr, momentum=mom, weight_decay=wd,
                            batch_size=6, rng=np.random.default_rng(0),
                            initial_weights=(W0, b0))
    # Step 1 of SGD with Nesterov momentum starts with buffer = gradient, and
    # the Nesterov update is gradient + momentum * buffer = (1 + momentum) * g.
    P = _softmax(X @ W0.T + b0)
    Y = np.eye(3)[y]
    gW = (P - Y).T @ X / 6 + wd * W0
    gb = (P - Y).mean(axis=0) + wd * b0
    W1 = W0 - lr * (1 + mom) * gW
    b1 = b0 - lr * (1 + mom) * gb
    expected = (_margins(W0, b0, X, y) + _margins(W1, b1, X, y)) / 2
    np.testing.assert_allclose(aum, expected, rtol=1e-4, atol=1e-4)


def test_area_under_margin_leaves_torch_state_alone(tiny):
    X, y, _, _ = tiny
    state = torch.get_rng_state()
    threads = torch.get_num_threads()
    area_under_margin(X, y, 3, epochs=2, rng=np.random.default_rng(0))
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_seeded_runs_are_identical(tiny):
    X, y, _, _ = tiny
    a = area_under_margin(X, y, 3, epochs=3, batch_size=2, rng=np.random.default_rng(5))
    b = area_under_margin(X, y, 3, epochs=3, batch_size=2, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


class FakeAUM:
    """Stands in for area_under_margin: records its inputs, returns given AUMs."""

    def __init__(self, make_values):
        self.make_values = make_values
        self.calls = []

    def __call__(self, X, y, n_outputs, **kwargs):
        self.calls.append((X.copy(), y.copy(), n_outputs))
        return self.make_values(len(self.calls) - 1, X, y)


def test_low_budget_percentile_rule(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    y = np.repeat([0, 1], 10)
    U = rng.normal(size=(30, 3)) + 100.0  # recognisable rows
    labeled_aum = np.linspace(-2.0, 17.0, 20)
    thr_aum = np.arange(10.0)

    fake = FakeAUM(lambda run, X_all, y_all: np.concatenate([labeled_aum, thr_aum]))
    monkeypatch.setattr(aum_module, "area_under_margin", fake)
    f = AUMFilter(random_state=0)
    mask = f.fit_filter(X, y, X_unlabeled=U)

    (X_all, y_all, n_outputs), = fake.calls
    assert n_outputs == 3  # two classes plus the fake one
    n_thr = math.ceil(20 / 2)
    assert y_all.shape == (20 + n_thr,)
    np.testing.assert_array_equal(y_all[20:], np.full(n_thr, 2))
    np.testing.assert_array_equal(X_all[:20], X)
    assert np.all(X_all[20:] > 50)  # drawn from the unlabeled pool ...
    assert np.unique(X_all[20:], axis=0).shape[0] == n_thr  # ... without replacement
    assert f.recipe_ == "low_budget"
    assert f.threshold_ == pytest.approx(7.2)  # 80th percentile of 0..9
    np.testing.assert_array_equal(mask, labeled_aum >= 7.2)
    np.testing.assert_array_equal(f.scores_, labeled_aum)
    np.testing.assert_array_equal(f.threshold_scores_, thr_aum)


def test_low_budget_custom_percentile_and_small_pool(monkeypatch):
    X = np.arange(40.0).reshape(20, 2)
    y = np.repeat([0, 1], 10)
    U = np.ones((4, 2))  # fewer pool points than ceil(20 / 2) = 10
    fake = FakeAUM(lambda run, X_all, y_all: np.concatenate([np.arange(20.0), [0, 1, 2, 3]]))
    monkeypatch.setattr(aum_module, "area_under_margin", fake)
    f = AUMFilter(percentile=50, random_state=0)
    mask = f.fit_filter(X, y, X_unlabeled=U)
    assert (fake.calls[0][1] == 2).sum() == 4
    assert f.threshold_ == pytest.approx(1.5)
    np.testing.assert_array_equal(mask, np.arange(20.0) >= 1.5)


def test_original_recipe_two_disjoint_runs_flag_only_when_every_run_flags(monkeypatch):
    n, C = 30, 2
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 3))
    y = np.repeat([0, 1], 15)
    # For every run: threshold samples get AUM 0..9 (tau = 99th pct = 8.91);
    # every other sample gets 10 (above tau) or -1 (below), from a fixed table.
    table = rng.choice([-1.0, 10.0], size=(2, n))

    def values(run, X_run, y_run):
        out = table[run].copy()
        thr = np.flatnonzero(y_run == C)
        out[thr] = np.arange(thr.size, dtype=float)
        return out

    fake = FakeAUM(values)
    monkeypatch.setattr(aum_module, "area_under_margin", fake)
    f = AUMFilter("original", random_state=0)
    mask = f.fit_filter(X, y)

    assert len(fake.calls) == 2
    thr_sets = [np.flatnonzero(call[1] == C) for call in fake.calls]
    assert [s.size for s in thr_sets] == [n // (C + 1)] * 2
    assert np.intersect1d(*thr_sets).size == 0
    for call in fake.calls:  # the other samples keep their given labels
        own = call[1] != C
        np.testing.assert_array_equal(call[1][own], y[own])
    tau = np.percentile(np.arange(10.0), 99)
    assert f.threshold_ == pytest.approx(tau)
    judged = np.array([[i not in s for i in range(n)] for s in thr_sets])
    flagged = np.where(judged, table < tau, True)
    np.testing.assert_array_equal(mask, ~flagged.all(axis=0))
    np.testing.assert_array_equal(mask, f.scores_ >= f.threshold_)
    assert f.recipe_ == "original"


def test_low_budget_falls_back_to_original_without_pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) + 3 * np.eye(3)[np.repeat([0, 1, 2], 10)]
    y = np.repeat([0, 1, 2], 10)
    f = AUMFilter(epochs=5, random_state=0)
    f.fit_filter(X, y)
    assert f.recipe_ == "original"
    f.fit_filter(X, y, X_unlabeled=X + 0.1)
    assert f.recipe_ == "low_budget"


@pytest.mark.parametrize("params, match", [
    ({"recipe": "pleiss"}, "recipe"),
    ({"percentile": 120}, "percentile"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"lr": 0}, "lr"),
    ({"n_threads": 0}, "n_threads"),
])
def test_bad_parameters(params, match):
    X = np.eye(6, 3)
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(InvalidParameterError, match=f"The '{next(iter(params))}' parameter"):
        AUMFilter(**params).fit_filter(X, y)


@pytest.fixture(scope="module")
def digits_500():
    X, y = load_digits_embeddings(return_X_y=True)
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(y))
    L, U = perm[:500], perm[500:]
    y_noisy, is_noisy = make_noisy_labels(y[L], 0.3, random_state=0)
    return X[L], y_noisy, is_noisy, X[U]


def _f1(mask, is_noisy):
    tp = np.sum(~mask & is_noisy)
    return 2 * tp / (np.sum(~mask) + np.sum(is_noisy))


@pytest.mark.parametrize("recipe", ["low_budget", "original"])
def test_detects_noise_on_digits(digits_500, recipe):
    X, y_noisy, is_noisy, U = digits_500
    mask = AUMFilter(recipe, random_state=0).fit_filter(X, y_noisy, X_unlabeled=U)
    assert _f1(mask, is_noisy) >= 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(digits_500):
    X, y_noisy, _, U = digits_500
    cpu = AUMFilter(random_state=0).fit_filter(X, y_noisy, X_unlabeled=U)
    f = AUMFilter(device="cuda", random_state=0)
    gpu = f.fit_filter(X, y_noisy, X_unlabeled=U)
    assert np.mean(cpu == gpu) > 0.97  # same init and order; float sums may differ


@pytest.mark.slow
def test_under_two_seconds_for_1000_labels():
    X, y = load_digits_embeddings(return_X_y=True)
    y_noisy, _ = make_noisy_labels(y[:1000], 0.3, random_state=0)
    f = AUMFilter(random_state=0)
    f.fit_filter(X[:100], y_noisy[:100], X_unlabeled=X[1000:])  # torch warm-up
    start = time.perf_counter()
    f.fit_filter(X[:1000], y_noisy, X_unlabeled=X[1000:])
    assert time.perf_counter() - start < 2.0


def test_wide_sparse_input_is_refused_with_advice():
    import scipy.sparse as sp

    rows = np.arange(20)
    X = sp.csr_matrix((np.ones(20), (rows, rows * 1000)), shape=(20, 10**7))
    y = np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="TruncatedSVD"):
        AUMFilter(epochs=1, random_state=0).fit_filter(X, y)
