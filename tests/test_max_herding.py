"""MaxHerding against a dense O(N^2) greedy, with the covering subset and noisy_weight."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal.neighbors import median_bandwidth
from skal.strategies import MaxHerding


def dense_kernel(X, sigma, kernel="rbf"):
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    return np.exp(-((D / sigma) ** 2)) if kernel == "rbf" else np.exp(-D / sigma)


def naive_coverage(K, labeled, covering, w):
    m = K[covering].max(axis=0) if len(covering) else np.zeros(K.shape[0])
    noisy = np.setdiff1d(labeled, covering)
    if noisy.size:
        m = np.maximum(m, w * K[noisy].max(axis=0))
    return m


def check_is_greedy(K, picks, gains, labeled, covering, w, m0=None):
    """Each pick maximises mean_y max(k(x, y) - m(y), 0) given the previous picks.

    ``m0`` is the coverage the greedy starts from (default: the labeled points').
    """
    m = naive_coverage(K, labeled, covering, w) if m0 is None else m0.copy()
    taken = list(labeled)
    for p, g in zip(picks, gains):
        score = np.maximum(K - m[None, :], 0.0).mean(axis=1)
        score[taken] = -np.inf
        assert score[p] == pytest.approx(score.max(), rel=1e-7, abs=1e-12)
        assert g == pytest.approx(score[p], rel=1e-7, abs=1e-12)
        m = np.maximum(m, K[p])
        taken.append(p)
    return m


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(2)
    c = rng.normal(size=(4, 5)) * 3
    return c[rng.integers(0, 4, 140)] + rng.normal(size=(140, 5))


@pytest.mark.parametrize("kernel", ["rbf", "laplacian"])
@pytest.mark.parametrize("w", [0.0, 0.5, 1.0])
def test_matches_dense_greedy(blobs, kernel, w):
    sigma = 1.7
    K = dense_kernel(blobs, sigma, kernel)
    labeled = np.array([0, 5, 17, 40, 88])
    covering = np.array([5, 88])
    s = MaxHerding(bandwidth=sigma, kernel=kernel, noisy_weight=w, cache_bytes=0, random_state=0)
    picks = s.select(blobs, 12, labeled=labeled, covering=covering)
    m = check_is_greedy(K, picks, s.gains_, labeled, covering, w)
    assert s.objective_ == pytest.approx(m.mean(), rel=1e-7)
    # The lazy greedy computes far fewer rows than budget x candidates.
    assert s.n_kernel_rows_ < 12 * blobs.shape[0]


def test_tiles_and_torch_give_the_same_picks(blobs):
    a = MaxHerding(bandwidth=1.3, random_state=0).select(blobs, 10)
    b = MaxHerding(bandwidth=1.3, block_rows=7, random_state=0).select(blobs, 10)
    c = MaxHerding(bandwidth=1.3, device="cpu", random_state=0).select(blobs, 10)
    d = MaxHerding(bandwidth=1.3, cache_bytes=0, block_rows=13, random_state=0).select(blobs, 10)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a, d)


def test_hand_case_two_groups():
    # Groups of 3 and 2 identical points, far apart: the first pick is in the
    # big group (gain 3/5), the second in the small one (2/5), then nothing is left.
    X = np.array([[0.0], [0.0], [0.0], [100.0], [100.0]])
    s = MaxHerding(bandwidth=1.0, random_state=0)
    picks = s.select(X, 3)
    assert picks[0] in (0, 1, 2) and picks[1] in (3, 4)
    np.testing.assert_allclose(s.gains_, [0.6, 0.4, 0.0], atol=1e-12)
    # The big group labeled but predicted noisy: it is uncovered again.
    assert s.select(X, 1, labeled=[0], covering=[])[0] in (1, 2)
    assert s.select(X, 1, labeled=[0])[0] in (3, 4)
    # Weighted: the big group keeps w of its coverage; 3 (1 - w) / 5 vs 2 / 5.
    assert s.set_params(noisy_weight=0.5).select(X, 1, labeled=[0], covering=[])[0] in (3, 4)
    assert s.set_params(noisy_weight=0.2).select(X, 1, labeled=[0], covering=[])[0] in (1, 2)


def test_default_bandwidth_is_the_median_heuristic(blobs):
    s = MaxHerding(random_state=0)
    s.select(blobs, 2)
    D = np.sqrt(((blobs[:, None] - blobs[None]) ** 2).sum(-1))
    assert s.bandwidth_ == pytest.approx(np.median(D[np.triu_indices(len(blobs), 1)]))
    assert median_bandwidth(np.zeros((4, 2))) == 1.0


def test_candidate_subsampling_only_when_asked(blobs):
    full = MaxHerding(bandwidth=1.5, random_state=0).select(blobs, 5)
    same = MaxHerding(bandwidth=1.5, n_candidates=10_000, random_state=0).select(blobs, 5)
    np.testing.assert_array_equal(full, same)
    sub = MaxHerding(bandwidth=1.5, n_candidates=20, random_state=0)
    picks = sub.select(blobs, 5)
    assert np.unique(picks).size == 5
    assert sub.n_kernel_rows_ <= 20 + 5 * 21  # never more rows than the candidates need


def test_bad_params(blobs):
    with pytest.raises(ValueError, match="bandwidth"):
        MaxHerding(bandwidth=0.0).select(blobs, 1)
    with pytest.raises(ValueError, match="bandwidth"):
        MaxHerding(bandwidth="wide").select(blobs, 1)
    with pytest.raises(ValueError, match="kernel"):
        MaxHerding(kernel="poly").select(blobs, 1)
    with pytest.raises(ValueError, match="n_candidates"):
        MaxHerding(n_candidates=0).select(blobs, 1)
    with pytest.raises(ValueError, match="cache_bytes"):
        MaxHerding(cache_bytes=-1).select(blobs, 1)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 25), d=st.integers(1, 4), sigma=st.floats(0.1, 5.0),
       seed=st.integers(0, 10_000), w=st.sampled_from([0.0, 0.5, 1.0]))
def test_property_greedy_over_random_inputs(n, d, sigma, seed, w):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    n_lab = int(rng.integers(0, n - 1))
    labeled = rng.choice(n, size=n_lab, replace=False)
    covering = labeled[: n_lab // 2]
    budget = int(rng.integers(1, n - n_lab + 1))
    s = MaxHerding(bandwidth=sigma, noisy_weight=w, random_state=seed)
    picks = s.select(X, budget, labeled=labeled, covering=covering)
    check_is_greedy(dense_kernel(X, sigma), picks, s.gains_, labeled, covering, w)


@pytest.mark.parametrize("n_lab", [0, 7])
def test_symmetric_first_pass_over_several_tiles_is_still_exact(n_lab, monkeypatch):
    import skal.strategies._max_herding as mh

    passes = []
    real = mh._KernelRows.all_gains_symmetric

    def spy(self, m):
        before = self.n_rows_computed
        out = real(self, m)
        passes.append(self.n_rows_computed - before)
        return out

    monkeypatch.setattr(mh._KernelRows, "all_gains_symmetric", spy)
    # 600 points in tiles of 256: the first pass uses upper-triangle tiles and
    # their transposes; the picks must still be the dense greedy's.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(4, 3))[rng.integers(0, 4, 600)] + 0.7 * rng.normal(size=(600, 3))
    labeled = rng.choice(600, size=n_lab, replace=False)
    s = MaxHerding(bandwidth=0.9, cache_bytes=0, block_rows=50, random_state=0)
    picks = s.select(X, 6, labeled=labeled)
    check_is_greedy(dense_kernel(X, 0.9), picks, s.gains_, labeled, labeled, 0.0)
    # The first pass took the symmetric route: about half of 600 rows of products.
    assert len(passes) == 1 and passes[0] <= 0.7 * 600


@pytest.mark.parametrize("n_lab", [0, 9])
def test_kept_front_runner_rows_give_the_dense_greedy(n_lab, monkeypatch):
    import skal.strategies._max_herding as mh

    kept = []
    real = mh._KernelRows.pin_rows

    def spy(self, idx, priority):
        h = real(self, idx, priority)
        kept.append(h)
        return h

    monkeypatch.setattr(mh._KernelRows, "pin_rows", spy)
    rng = np.random.default_rng(11)
    X = rng.normal(size=(5, 4))[rng.integers(0, 5, 600)] + 0.6 * rng.normal(size=(600, 4))
    labeled = rng.choice(600, size=n_lab, replace=False)
    # Room for 400 rows, short of the dense 600 x 600 kernel: only the
    # front-runners' rows are kept, the others are recomputed when needed.
    budget_bytes = 400 * 600 * np.dtype(np.float64).itemsize
    s = MaxHerding(bandwidth=1.1, cache_bytes=budget_bytes, block_rows=64, random_state=0)
    picks = s.select(X, 15, labeled=labeled)
    check_is_greedy(dense_kernel(X, 1.1), picks, s.gains_, labeled, labeled, 0.0)
    assert kept and 0 < kept[0] <= 400
    plain = MaxHerding(bandwidth=1.1, cache_bytes=0, block_rows=64, random_state=0)
    np.testing.assert_array_equal(picks, plain.select(X, 15, labeled=labeled))
    # Room for a sixth of the candidates: nothing is kept (it would not pay).
    small = MaxHerding(bandwidth=1.1, cache_bytes=budget_bytes // 4, block_rows=64,
                       random_state=0)
    np.testing.assert_array_equal(picks, small.select(X, 15, labeled=labeled))
    assert kept[-1] == 0
