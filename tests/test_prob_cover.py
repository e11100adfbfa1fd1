"""ProbCover against a dense O(N^2) reference, hand cases, the purity δ, approximate mode."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skal._ann import estimate_missed_edges, ivf_delta_ball_graph
from skal.neighbors import delta_ball_graph, purity_delta, unit_normalize
from skal.strategies import ProbCover


def dense_adjacency(X, delta):
    Xn = unit_normalize(X, dtype=np.float64)
    D = np.sqrt(((Xn[:, None, :] - Xn[None, :, :]) ** 2).sum(-1))
    A = D < delta
    np.fill_diagonal(A, True)
    return A


def naive_gains(A, labeled, covering, noisy_weight):
    """Value of covering each point, from scratch (dense)."""
    gain = np.ones(A.shape[0])
    noisy = np.setdiff1d(labeled, covering)
    if noisy.size:
        gain[A[noisy].any(axis=0)] = 1.0 - noisy_weight
    if len(covering):
        gain[A[covering].any(axis=0)] = 0.0
    return gain


def check_is_greedy(A, picks, labeled, covering, noisy_weight):
    """Every pick must maximise the naive coverage gain given the previous picks."""
    chosen = []
    for p in picks:
        gain = naive_gains(A, labeled, np.concatenate([covering, chosen]).astype(int), noisy_weight)
        score = A.astype(float) @ gain
        score[np.concatenate([labeled, chosen]).astype(int)] = -np.inf
        assert score[p] == pytest.approx(score.max(), abs=1e-9), (p, score[p], score.max())
        chosen.append(p)


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(1)
    c = rng.normal(size=(5, 8)) * 3
    X = c[rng.integers(0, 5, 150)] + rng.normal(size=(150, 8))
    return X


@pytest.mark.parametrize("noisy_weight", [0.0, 0.4, 1.0])
def test_matches_dense_greedy_with_covering_subset(blobs, noisy_weight):
    delta = 0.5
    A = dense_adjacency(blobs, delta)
    labeled = np.array([1, 7, 20, 33, 60, 99])
    covering = np.array([7, 60])
    s = ProbCover(delta=delta, noisy_weight=noisy_weight, random_state=0)
    picks = s.select(blobs, 15, labeled=labeled, covering=covering)
    assert not np.isin(picks, labeled).any()
    check_is_greedy(A, picks, labeled, covering, noisy_weight)
    # Graph identical to the dense one.
    np.testing.assert_array_equal(s.graph_.toarray(), A)
    covered = A[np.concatenate([covering, picks])].any(axis=0)
    if noisy_weight == 0.0:
        assert s.coverage_ == pytest.approx(covered.mean())


def test_hand_case_noisy_cluster_is_sampled_again():
    # Three tight groups far apart on the circle: sizes 4, 2 and 1.
    ang = np.array([0.0, 0.01, 0.02, 0.03, 2.0, 2.01, 4.0])
    X = np.c_[np.cos(ang), np.sin(ang)]
    s = ProbCover(delta=0.2, random_state=0)
    first = s.select(X, 2)
    assert set(first[:1]) <= {0, 1, 2, 3} and first[1] in (4, 5)
    # The 4-group labeled and clean: the 2-group is next.
    assert s.select(X, 1, labeled=[0])[0] in (4, 5)
    # Labeled but predicted noisy: it no longer covers its group (NAS) ...
    assert s.select(X, 1, labeled=[0], covering=[])[0] in (1, 2, 3)
    # ... unless its coverage still counts: 4 * (1 - w) against 2.
    assert s.set_params(noisy_weight=1.0).select(X, 1, labeled=[0], covering=[])[0] in (4, 5)
    assert s.set_params(noisy_weight=0.6).select(X, 1, labeled=[0], covering=[])[0] in (4, 5)
    assert s.set_params(noisy_weight=0.4).select(X, 1, labeled=[0], covering=[])[0] in (1, 2, 3)


def test_strict_inequality_and_self_loops():
    # Two points exactly delta apart are not neighbours.
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    d = math.sqrt(2.0)
    G = delta_ball_graph(X, d).toarray()
    np.testing.assert_array_equal(G, np.eye(2, dtype=bool))
    G = delta_ball_graph(X, d + 1e-9).toarray()
    assert G.all()


def test_cosine_metric_is_the_matching_euclidean_radius(blobs):
    a = ProbCover(delta=0.1, metric="cosine", random_state=0)
    b = ProbCover(delta=math.sqrt(0.2), random_state=0)
    np.testing.assert_array_equal(a.select(blobs, 8), b.select(blobs, 8))
    assert a.delta_ == pytest.approx(b.delta_)


def test_torch_cpu_device_builds_the_same_graph(blobs):
    a = ProbCover(delta=0.6, random_state=0).build_graph(blobs)
    b = ProbCover(delta=0.6, device="cpu", random_state=0).build_graph(blobs)
    assert (a != b).nnz == 0


def test_graph_is_cached_per_pool(blobs):
    s = ProbCover(delta=0.6)
    g1 = s.build_graph(blobs)
    assert s.build_graph(blobs.copy()) is g1
    assert s.build_graph(blobs + 1.0) is not g1


def spy_on_supersets(monkeypatch):
    import skal.strategies._prob_cover as pc_mod

    seen = []

    def spy(*args, superset=None, **kwargs):
        seen.append(superset)
        return delta_ball_graph(*args, superset=superset, **kwargs)

    monkeypatch.setattr(pc_mod, "delta_ball_graph", spy)
    return seen


@pytest.mark.parametrize("metric, deltas", [("euclidean", (0.9, 0.5, 0.7, 0.7, 0.6)),
                                            ("cosine", (0.4, 0.12, 0.3, 0.3, 0.2))])
def test_a_moving_delta_builds_from_a_larger_graph_of_the_pool(blobs, metric, deltas,
                                                               monkeypatch):
    seen = spy_on_supersets(monkeypatch)
    s = ProbCover(delta=deltas[0], metric=metric)
    graphs = [s.build_graph(blobs)]
    for delta in deltas[1:]:
        s.set_params(delta=delta)
        graphs.append(s.build_graph(blobs))
    # first build: nothing to start from; then the first (largest) graph serves
    # the shrink and the growth back; the same δ again is the cached graph; a
    # last shrink starts from the smallest graph that holds it, the current one.
    assert seen[0] is None and seen[1] is graphs[0] and seen[2] is graphs[0]
    assert graphs[3] is graphs[2] and seen[3] is graphs[2] and len(seen) == 4
    for delta, graph in zip(deltas, graphs):
        fresh = ProbCover(delta=delta, metric=metric).build_graph(blobs)
        assert (graph != fresh).nnz == 0
    # Another pool never serves as a superset, nor does a clone or a pickle keep one.
    s.set_params(delta=deltas[1])
    s.build_graph(blobs + 1.0)
    assert seen[-1] is None
    assert "_largest_graph" not in s.__getstate__()


def test_a_failed_build_leaves_the_strategy_as_it_was(blobs, monkeypatch):
    import skal.strategies._prob_cover as pc_mod

    s = ProbCover(delta=0.9)
    g09 = s.build_graph(blobs)
    radius = s.delta_

    def out_of_memory(*args, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(pc_mod, "delta_ball_graph", out_of_memory)
    s.set_params(delta=0.5)
    with pytest.raises(MemoryError):
        s.build_graph(blobs)
    assert s.graph_ is g09 and s.delta_ == radius
    seen = spy_on_supersets(monkeypatch)
    s.set_params(delta=0.7)
    g07 = s.build_graph(blobs)
    assert seen == [g09]              # the 0.9 graph, known as 0.9's, serves 0.7
    assert (g07 != ProbCover(delta=0.7).build_graph(blobs)).nnz == 0


def test_the_largest_graph_is_kept_only_within_a_quarter_of_the_memory_limit(blobs,
                                                                            monkeypatch):
    seen = spy_on_supersets(monkeypatch)
    s = ProbCover(delta=0.9, max_memory=1_000)      # bytes: the 0.9 graph is larger
    for delta in (0.9, 0.5, 0.7):
        s.set_params(delta=delta)
        s.build_graph(blobs)
    assert seen[1] is not None and seen[2] is None   # the shrink reused it; then dropped


def brute_purity(Xn, labels, delta):
    D = np.sqrt(((Xn[:, None, :] - Xn[None, :, :]) ** 2).sum(-1))
    inside = D < delta
    pure = np.array([np.all(labels[inside[i]] == labels[i]) for i in range(len(Xn))])
    return pure.mean()


def test_purity_delta_matches_grid_search():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 6))[rng.integers(0, 5, 90)] * 2 + rng.normal(size=(90, 6))
    # The library works on float32 unit vectors; brute force on the same points.
    Xn = unit_normalize(X).astype(np.float64)
    delta, d_other, labels = purity_delta(X, 5, purity=0.9, random_state=0, return_details=True)
    # Exact answer: pure enough at delta, not at anything larger.
    assert brute_purity(Xn, labels, delta) >= 0.9
    assert brute_purity(Xn, labels, delta + 1e-12) < 0.9
    # Grid version equals the largest grid value a brute-force search accepts.
    step = 0.05
    gdelta = purity_delta(X, 5, purity=0.9, grid_step=step, random_state=0)
    grid = np.arange(step, 2.0 + 1e-9, step)
    ok = [g for g in grid if brute_purity(Xn, labels, g) >= 0.9]
    assert gdelta == pytest.approx(max(ok))


def test_purity_delta_on_a_row_sample_is_close(blobs):
    full = purity_delta(blobs, 5, random_state=0)
    sampled = purity_delta(blobs, 5, random_state=0, sample_rows=100)
    assert abs(full - sampled) < 0.25


def test_auto_delta_is_used(blobs):
    s = ProbCover(n_clusters=5, random_state=0)
    s.select(blobs, 3)
    assert s.delta_ == pytest.approx(purity_delta(blobs, 5, random_state=0))


def test_approximate_graph_is_exact_subgraph(blobs):
    Xn = unit_normalize(blobs)
    exact = delta_ball_graph(Xn, 0.7, normalized=True)
    approx = ivf_delta_ball_graph(Xn, 0.7, n_cells=12, n_probe=2, random_state=0,
                                  backend="numpy")
    assert (approx != approx.T).nnz == 0
    assert (approx > exact).nnz == 0  # never an edge the exact graph lacks
    assert approx.diagonal().all()
    # Rows come out sorted and without duplicates (the CSR says so: has_sorted_indices).
    within_row = np.ones(approx.nnz, dtype=bool)
    within_row[approx.indptr[1:-1]] = False
    assert np.all(np.diff(approx.indices.astype(np.int64))[within_row[1:]] > 0)
    full = ivf_delta_ball_graph(Xn, 0.7, n_cells=12, n_probe=12, random_state=0,
                                backend="numpy")
    assert (full != exact).nnz == 0
    rep = estimate_missed_edges(Xn, approx, 0.7, n_sample=150, random_state=0)
    assert rep["extra_edges"] == 0
    assert rep["found_edges"] == approx.nnz and rep["exact_edges"] == exact.nnz
    assert rep["recall"] == pytest.approx(approx.nnz / exact.nnz)
    assert rep["missed_edges_estimate"] == pytest.approx(exact.nnz - approx.nnz)


def test_faiss_backend_builds_the_same_subgraph(blobs):
    pytest.importorskip("faiss")
    Xn = unit_normalize(blobs)
    a = ivf_delta_ball_graph(Xn, 0.7, n_cells=12, n_probe=3, random_state=0, backend="numpy")
    b = ivf_delta_ball_graph(Xn, 0.7, n_cells=12, n_probe=3, random_state=0, backend="faiss")
    assert (a != b).nnz == 0


def test_approximate_strategy_reports_missed_edges(blobs):
    s = ProbCover(delta=0.7, approximate=True, n_probe=3, random_state=0)
    picks = s.select(blobs, 5)
    assert picks.shape == (5,)
    assert 0.0 < s.missed_edges_["recall"] <= 1.0
    check_is_greedy(s.graph_.toarray(), picks, np.array([], int), np.array([], int), 0.0)


def test_bad_params(blobs):
    with pytest.raises(ValueError, match="metric"):
        ProbCover(delta=0.5, metric="manhattan").select(blobs, 1)
    with pytest.raises(ValueError, match="delta"):
        ProbCover(delta="big").select(blobs, 1)
    with pytest.raises(ValueError, match="delta"):
        ProbCover(delta=-1.0).select(blobs, 1)
    with pytest.raises(ValueError, match="n_probe"):
        ProbCover(delta=0.5, approximate=True, n_probe=0).select(blobs, 1)


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(3, 25),
    d=st.integers(1, 4),
    delta=st.floats(0.05, 1.5),
    seed=st.integers(0, 10_000),
    noisy_weight=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_property_greedy_over_random_inputs(n, d, delta, seed, noisy_weight):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    n_lab = int(rng.integers(0, n - 1))
    labeled = rng.choice(n, size=n_lab, replace=False)
    covering = labeled[: n_lab // 2]
    budget = int(rng.integers(1, n - n_lab + 1))
    A = dense_adjacency(X, delta)
    picks = ProbCover(delta=delta, noisy_weight=noisy_weight, random_state=seed).select(
        X, budget, labeled=labeled, covering=covering)
    assert np.unique(picks).size == budget and not np.isin(picks, labeled).any()
    check_is_greedy(A, picks, labeled, covering, noisy_weight)


@pytest.mark.parametrize("noisy_weight", [0.0, 0.5])
def test_greedy_when_most_of_the_pool_is_covered(blobs, noisy_weight):
    # Most edges belong to covered points: the initial scores add up the rows
    # of the points that still give something instead of subtracting the
    # covered points' rows.
    delta = 0.9
    A = dense_adjacency(blobs, delta)
    labeled = np.arange(0, 150, 3)
    covering = labeled[::2]
    picks = ProbCover(delta=delta, noisy_weight=noisy_weight, random_state=0).select(
        blobs, 10, labeled=labeled, covering=covering)
    check_is_greedy(A, picks, labeled, covering, noisy_weight)
    gain = naive_gains(A, labeled, covering, noisy_weight)
    assert A[gain < 1].sum() > A[gain > 0].sum()  # the branch under test
