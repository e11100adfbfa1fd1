"""Pool filters: GraphFilter, ClusterVoteFilter and the vote posterior they share."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from skal.datasets import load_digits_embeddings
from skal.filters import ClusterVoteFilter, GraphFilter
from skal.filters._graph import absorbing_votes
from skal.filters._votes import clean_posterior
from skal.noise import make_noisy_labels


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(limits=1):
        yield


def naive_absorbing(G, seeds, alpha, steps):
    """One walk at a time, node by node: the definition, without vectorisation."""
    G = np.asarray(G.todense() if sp.issparse(G) else G, dtype=float)
    P = G / G.sum(axis=1, keepdims=True)
    n = len(seeds)
    out = np.zeros((n, n))
    for a, s in enumerate(seeds):
        mass = np.zeros(G.shape[0])
        mass[s] = 1.0
        for _ in range(steps):
            mass = alpha * (mass @ P)
            for b, t in enumerate(seeds):
                if b != a:
                    out[a, b] += mass[t]
                    mass[t] = 0.0
    return out


def test_absorbing_votes_on_a_path_by_hand():
    # a - b - c, labels at a and c. From a: every two steps a fraction
    # alpha^2/2 reaches c and alpha^2/2 comes back to a; in total
    # (alpha^2/2) / (1 - alpha^2/2) = 1/7 for alpha = 1/2.
    G = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    A = absorbing_votes(G, np.array([0, 2]), alpha=0.5, max_steps=200, tol=0.0)
    np.testing.assert_allclose(A, [[0, 1 / 7], [1 / 7, 0]], rtol=1e-5)
    A2 = absorbing_votes(G, np.array([0, 2]), alpha=0.5, max_steps=2, tol=0.0)
    np.testing.assert_allclose(A2, [[0, 0.125], [0.125, 0]], rtol=1e-6)


@pytest.mark.parametrize("seed", range(5))
def test_absorbing_votes_equal_the_naive_walks(seed):
    rng = np.random.default_rng(seed)
    n = 30
    W = rng.random((n, n)) * (rng.random((n, n)) < 0.2)
    W = np.maximum(W, W.T) + np.diag(np.zeros(n))
    W[np.arange(n), (np.arange(n) + 1) % n] += 0.1  # every node has an edge
    W = np.maximum(W, W.T)
    seeds = rng.choice(n, 6, replace=False)
    got = absorbing_votes(sp.csr_matrix(W), seeds, alpha=0.9, max_steps=15, tol=0.0)
    np.testing.assert_allclose(got, naive_absorbing(W, seeds, 0.9, 15), rtol=1e-4, atol=1e-7)


def test_clean_posterior_by_hand():
    # Label 0 is voted for by label 1 (weight 1) only, so n_eff = 1 and its
    # shares are (0, 1). With r = 0.2, C = 2: kappa = log(0.8 / 0.2) = log 4,
    # P(clean) = 0.8 e^0 / (0.8 e^0 + 0.2 e^{log 4}) = 0.8 / 1.6 = 0.5.
    W = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    y = np.array([0, 1, 1])
    p, r, shares = clean_posterior(W, y, 2, noise_rate=0.2)
    assert r == 0.2
    np.testing.assert_allclose(shares, [[0, 1], [0.5, 0.5], [0, 0]])
    # Label 1: shares (1/2, 1/2) with n_eff = 2 -> equal likelihoods -> prior 0.8.
    # Label 2: no vote -> prior 0.8.
    np.testing.assert_allclose(p, [0.5, 0.8, 0.8])


def test_clean_posterior_estimates_the_rate():
    rng = np.random.default_rng(0)
    C, n = 4, 400
    y_true = rng.integers(0, C, n)
    y, noisy = make_noisy_labels(y_true, 0.3, random_state=0)
    # Votes among points of the same true class: the ideal neighbourhood.
    W = (y_true[:, None] == y_true[None, :]).astype(float)
    p, r, _ = clean_posterior(W, y, C)
    assert abs(r - 0.3) < 0.05
    assert ((p < 0.5) == noisy).mean() > 0.97


@pytest.fixture(scope="module")
def digits():
    return load_digits_embeddings(return_X_y=True)


def _f1(keep, noisy):
    flagged = ~keep
    return 2 * np.sum(flagged & noisy) / (flagged.sum() + noisy.sum())


@pytest.mark.parametrize("cls", [GraphFilter, ClusterVoteFilter])
def test_low_budget_detection_on_digits(cls, digits):
    """100 random labels (10 per class), 30 % noise: measured F1 0.90 (graph), 0.78 (clusters)."""
    X, y = digits
    f1 = []
    for seed in range(3):
        idx = np.random.default_rng(seed).choice(len(y), 100, replace=False)
        y_noisy, noisy = make_noisy_labels(y[idx], 0.3, random_state=seed)
        f = cls(random_state=seed) if cls is ClusterVoteFilter else cls()
        keep = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
        f1.append(_f1(keep, noisy))
        # Cluster votes read the pool clusters' impurity as noise too: over
        # 20 seeds the fitted rate averages 0.43 for a true 0.3 (0.45 with
        # the full-pool k-means used before).
        assert 0.15 < f.noise_rate_ < (0.45 if cls is GraphFilter else 0.55)
    assert np.mean(f1) > (0.85 if cls is GraphFilter else 0.7)


@pytest.mark.parametrize("cls", [GraphFilter, ClusterVoteFilter])
def test_pool_by_indices_equals_pool_by_unlabeled_rows(cls, digits):
    """X_pool + sample_indices and [X; X_unlabeled] describe the same pool."""
    X, y = digits
    X, y = X[:600], y[:600]
    idx = np.random.default_rng(1).choice(600, 60, replace=False)
    rest = np.setdiff1d(np.arange(600), idx)
    y_noisy, _ = make_noisy_labels(y[idx], 0.3, random_state=1)
    make = (lambda: cls(random_state=0)) if cls is ClusterVoteFilter else cls
    by_index = make().fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    by_rows = make().fit_filter(X[idx], y_noisy, X_unlabeled=X[rest])
    if cls is GraphFilter:
        np.testing.assert_array_equal(by_index, by_rows)
    else:  # k-means sees the rows in another order: nearly the same clusters
        assert (by_index == by_rows).mean() >= 0.85


def test_leave_one_out_a_lone_wrong_label_is_flagged():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(40, 5)) * 0.1 + np.eye(5)[0] * 3
    B = rng.normal(size=(40, 5)) * 0.1 + np.eye(5)[1] * 3
    pool = np.vstack([A, B])
    idx = np.array([0, 1, 2, 3, 40, 41, 42, 43])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 0])  # pool row 43 sits in B but says 0
    f = GraphFilter(noise_rate=0.2)
    keep = f.fit_filter(pool[idx], y, sample_indices=idx, X_pool=pool)
    np.testing.assert_array_equal(keep, [True] * 7 + [False])
    assert f.noise_rate_ == 0.2
    assert f.scores_[-1] < 0.2 and f.scores_[:7].min() > 0.5


def test_pool_cache_is_reused_and_not_pickled(digits):
    X, y = digits
    idx = np.arange(0, 500, 5)
    f = GraphFilter()
    f.fit_filter(X[idx], y[idx], sample_indices=idx, X_pool=X)
    view = f._pool_cache[1]
    f.fit_filter(X[idx[:50]], y[idx[:50]], sample_indices=idx[:50], X_pool=X)
    assert f._pool_cache[1] is view  # same pool: no new normalisation
    f.fit_filter(X[idx], y[idx], sample_indices=idx, X_pool=X.copy())
    assert f._pool_cache[1] is view  # equal rows, another array: the cached view
    f.fit_filter(X[idx], y[idx], sample_indices=idx, X_pool=X[:1000])
    assert f._pool_cache[1] is not view
    back = pickle.loads(pickle.dumps(f))
    assert not hasattr(back, "_pool_cache")
    np.testing.assert_array_equal(back.clean_mask_, f.clean_mask_)


def test_sparse_pool(digits):
    X, y = digits
    Xs = sp.csr_matrix(np.where(X > 0.05, X, 0.0))
    idx = np.random.default_rng(0).choice(len(y), 80, replace=False)
    y_noisy, noisy = make_noisy_labels(y[idx], 0.3, random_state=0)
    dense = GraphFilter().fit_filter(Xs[idx].toarray(), y_noisy, sample_indices=idx,
                                     X_pool=Xs.toarray())
    sparse = GraphFilter().fit_filter(Xs[idx], y_noisy, sample_indices=idx, X_pool=Xs)
    assert (dense == sparse).mean() > 0.97


def test_incremental_knn_lists_equal_fresh_ones():
    from skal.filters._pool import PoolView

    rng = np.random.default_rng(3)
    pool = rng.normal(size=(400, 8))
    grown = PoolView(pool)
    first = np.sort(rng.choice(400, 120, replace=False))
    more = np.union1d(first, rng.choice(400, 80, replace=False))
    grown.local_knn_graph(first, 6)
    G_inc = grown.local_knn_graph(more, 6)
    G_fresh = PoolView(pool).local_knn_graph(more, 6)
    np.testing.assert_array_equal(G_inc.indices, G_fresh.indices)
    np.testing.assert_allclose(G_inc.data, G_fresh.data, rtol=1e-6)
    # A set that is not a superset is computed afresh.
    G_sub = grown.local_knn_graph(first[:50], 6)
    np.testing.assert_allclose(G_sub.toarray(),
                               PoolView(pool).local_knn_graph(first[:50], 6).toarray())



@pytest.mark.parametrize("seed", range(4))
def test_incremental_knn_lists_when_new_nodes_touch_few_old_ones(seed):
    # Two far blobs: nodes added to blob B can enter no list of blob A, so
    # the incremental update leaves A's lists as they were and merges B's.
    from skal.filters._pool import PoolView

    rng = np.random.default_rng(seed)
    pool = np.vstack([rng.normal(size=(150, 6)) + 40.0, rng.normal(size=(150, 6)) - 40.0])
    first = np.sort(np.r_[rng.choice(150, 60, replace=False),
                          150 + rng.choice(150, 30, replace=False)])
    more = np.union1d(first, 150 + rng.choice(150, 40, replace=False))
    grown = PoolView(pool)
    before = grown._knn_lists(first, 5)[0].copy()
    G_inc = grown.local_knn_graph(more, 5)
    G_fresh = PoolView(pool).local_knn_graph(more, 5)
    np.testing.assert_array_equal(G_inc.indices, G_fresh.indices)
    np.testing.assert_allclose(G_inc.data, G_fresh.data, rtol=1e-6)
    after = grown._knn_lists(more, 5)[0]
    in_a = first < 150
    np.testing.assert_array_equal(after[np.searchsorted(more, first[in_a])], before[in_a])
    assert (after[np.searchsorted(more, first[~in_a])] != before[~in_a]).any()

def test_pool_view_unit_rows_and_neighbours_by_brute_force():
    from skal.filters._pool import PoolView

    rng = np.random.default_rng(5)
    raw = rng.normal(size=(300, 16)) * rng.uniform(0.1, 10.0, size=(300, 1))
    raw[7] = 0.0
    view = PoolView(raw)
    norms = np.linalg.norm(view.Z, axis=1)
    np.testing.assert_allclose(np.delete(norms, 7), 1.0, rtol=1e-6)
    assert not view.Z[7].any()                      # a zero row stays zero
    unit = np.ascontiguousarray(view.Z)
    assert np.shares_memory(PoolView(unit).Z, unit)  # a unit pool is read as it is
    # The m most similar rows of each query, by decreasing cosine, as a sort gives them.
    rows = np.array([0, 7, 150, 299])
    idx, cos = PoolView(raw).neighbors(rows, 9)
    full = view.Z[rows] @ view.Z.T
    for r, i, c in zip(full, idx, cos):
        expected = np.argsort(-r, kind="stable")[:9]
        np.testing.assert_allclose(c, r[expected], rtol=1e-6)
        np.testing.assert_allclose(r[i], r[expected], rtol=1e-6)
        assert np.all(np.diff(c) <= 0)


def _two_cliques(n=6):
    """Two cliques of ``n`` points (self-loops included) joined by one edge."""
    A = np.zeros((2 * n, 2 * n), dtype=bool)
    A[:n, :n] = True
    A[n:, n:] = True
    A[n - 1, n] = A[n, n - 1] = True
    X = np.r_[np.tile([1.0, 0.0], (n, 1)), np.tile([0.0, 1.0], (n, 1))]
    return sp.csr_matrix(A), X


def test_pool_graph_walks_the_given_graph():
    G, X = _two_cliques()
    idx = np.array([0, 2, 4, 7, 9, 11, 1])
    y = np.array([0, 0, 0, 1, 1, 1, 1])          # pool point 1 sits in clique 0: wrong label
    f = GraphFilter(graph="pool", noise_rate=0.2)
    keep = f.fit_filter(X[idx], y, sample_indices=idx, X_pool=X, pool_graph=G)
    assert f.graph_used_ == "pool"
    np.testing.assert_array_equal(keep, [True] * 6 + [False])
    assert f.votes_[-1].argmax() == 0             # the other labels vote for class 0
    # Only the labels' two-hop neighbourhood is walked: here the whole pool.
    assert f.n_nodes_ == 12


def test_pool_graph_modes_and_bad_graphs():
    G, X = _two_cliques()
    idx = np.array([0, 2, 7, 9])
    y = np.array([0, 0, 1, 1])
    # "knn" ignores a given graph; "auto" takes it; "pool" needs one.
    f = GraphFilter(graph="knn", neighborhood=12)
    f.fit_filter(X[idx], y, sample_indices=idx, X_pool=X, pool_graph=G)
    assert f.graph_used_ == "knn"
    f = GraphFilter(graph="auto")
    f.fit_filter(X[idx], y, sample_indices=idx, X_pool=X, pool_graph=G)
    assert f.graph_used_ == "pool"
    with pytest.raises(ValueError, match="pool_graph"):
        GraphFilter(graph="pool").fit_filter(X[idx], y, sample_indices=idx, X_pool=X)
    with pytest.raises(ValueError, match="pool_graph has shape"):
        GraphFilter(graph="pool").fit_filter(X[idx], y, sample_indices=idx, X_pool=X,
                                             pool_graph=G[:5, :5])
    with pytest.raises(TypeError, match="pool_graph must be a scipy sparse"):
        GraphFilter(graph="pool").fit_filter(X[idx], y, sample_indices=idx, X_pool=X,
                                             pool_graph=G.toarray())
    with pytest.raises(ValueError, match="without X_pool"):
        GraphFilter(graph="pool").fit_filter(X[idx], y, sample_indices=idx, pool_graph=G)


def test_learner_hands_probcover_graph_to_the_filter(digits):
    from skal import NoiseAwareActiveLearner, NoisyOracle, ProbCover

    X, y = digits
    seen = []

    class Spy(GraphFilter):
        def fit_filter(self, X, y, *, X_unlabeled=None, sample_indices=None, X_pool=None,
                       pool_graph=None):
            seen.append(pool_graph)
            return super().fit_filter(X, y, X_unlabeled=X_unlabeled, sample_indices=sample_indices,
                                      X_pool=X_pool, pool_graph=pool_graph)

    learner = NoiseAwareActiveLearner(ProbCover(), Spy(graph="pool"), budget=30, random_state=0)
    learner.fit_round(X, NoisyOracle(y, noise_rate=0.3, random_state=0))
    assert seen and all(g is learner.strategy_.graph_ for g in seen)
    assert learner.noise_filter_.graph_used_ == "pool"
    # The strategy only hands over the graph of the pool it was built on.
    assert learner.strategy_.pool_graph(X) is learner.strategy_.graph_
    assert learner.strategy_.pool_graph(X[:-1].copy()) is None
