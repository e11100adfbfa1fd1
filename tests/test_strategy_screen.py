"""Screened δ-ball graphs equal the dense float64 definition, edge for edge.

The reference here is written independently of the library: all pairwise
differences of the float32 unit vectors in float64, squared, summed over the
feature axis, square-rooted, compared with ``< delta``; the diagonal is set.
δ is placed exactly at pair distances (that pair must be left out) and one
float64 step above (it must be kept), on random, clustered, duplicate-heavy
data and data with zero rows.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skal.neighbors import delta_ball_graph, sample_ball_sizes, unit_normalize
from skal.strategies._screen import ScreenedTiles, screen_bound


def dense_reference(Xn, delta):
    X64 = Xn.astype(np.float64)
    D = np.sqrt(((X64[:, None, :] - X64[None, :, :]) ** 2).sum(-1))
    A = D < delta
    np.fill_diagonal(A, True)
    return A, D


def make(kind, n, d, seed):
    rng = np.random.default_rng(seed)
    if kind == "random":
        X = rng.normal(size=(n, d))
    elif kind == "clustered":
        centers = rng.normal(size=(4, d))
        X = centers[rng.integers(0, 4, n)] + 0.05 * rng.normal(size=(n, d))
    elif kind == "duplicates":
        base = rng.normal(size=(max(2, n // 10), d))
        X = base[rng.integers(0, base.shape[0], n)]
        X[: n // 4] += 1e-7 * rng.normal(size=(n // 4, d))  # near-duplicates
    elif kind == "zeros":
        X = rng.normal(size=(n, d))
        X[rng.choice(n, size=max(1, n // 8), replace=False)] = 0.0
    return unit_normalize(X)


def deltas_at_pair_distances(D, rng, k=3):
    off = D[~np.eye(D.shape[0], dtype=bool)]
    off = off[(off > 0) & (off < 2.0)]
    if off.size == 0:
        return [0.5]
    picked = rng.choice(off, size=min(k, off.size), replace=False)
    return sorted({float(v) for v in picked} | {float(np.nextafter(v, np.inf)) for v in picked})


def check(Xn, delta, **kw):
    A, _ = dense_reference(Xn, delta)
    G = delta_ball_graph(Xn, delta, normalized=True, **kw)
    assert G.nnz == A.sum()
    np.testing.assert_array_equal(G.toarray(), A)
    assert G.has_sorted_indices
    return G


@pytest.mark.parametrize("kind", ["random", "clustered", "duplicates", "zeros"])
@pytest.mark.parametrize("d", [3, 16, 33])
@pytest.mark.parametrize("mode", [dict(screen="float32"), dict(screen="float32", device="cpu"),
                                  dict(screen="bfloat16")])
def test_exact_at_pair_distances(kind, d, mode):
    Xn = make(kind, 150, d, seed=d)
    _, D = dense_reference(Xn, 1.0)
    rng = np.random.default_rng(1)
    for delta in deltas_at_pair_distances(D, rng):
        for half in (True, False):
            check(Xn, delta, half=half, block_rows=37, **mode)


@pytest.mark.parametrize("mode", [dict(screen="float32"), dict(screen="bfloat16")])
def test_pair_exactly_at_delta_is_out_and_one_step_above_is_in(mode):
    Xn = make("random", 60, 8, seed=3)
    _, D = dense_reference(Xn, 1.0)
    i, j = 4, 17
    G = delta_ball_graph(Xn, float(D[i, j]), normalized=True, **mode)
    assert G[i, j] == 0 and G[j, i] == 0
    G = delta_ball_graph(Xn, float(np.nextafter(D[i, j], np.inf)), normalized=True, **mode)
    assert G[i, j] == 1 and G[j, i] == 1


@settings(max_examples=40, deadline=None)
@given(
    X=arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 10)),
             elements=st.sampled_from([-1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 3.0])),
    pick=st.integers(0, 10_000),
    screen=st.sampled_from(["float32", "bfloat16"]),
)
def test_hypothesis_small_pools(X, pick, screen):
    # Few distinct coordinates: many exact duplicates, ties and zero rows.
    Xn = unit_normalize(X)
    _, D = dense_reference(Xn, 1.0)
    vals = np.unique(D[D > 0])
    delta = float(vals[pick % vals.size]) if vals.size else 0.5
    for dl in (delta, float(np.nextafter(delta, np.inf))):
        check(Xn, dl, screen=screen, block_rows=7)


def test_sample_ball_sizes_exact():
    Xn = make("duplicates", 200, 16, seed=0)
    _, D = dense_reference(Xn, 1.0)
    delta = float(np.sort(D[D > 0])[D.size // 10])
    A, _ = dense_reference(Xn, delta)
    rows = np.array([0, 5, 199])
    sizes, members = sample_ball_sizes(Xn, delta, rows)
    np.testing.assert_array_equal(sizes, A[rows].sum(1))
    for r, m in zip(rows, members):
        np.testing.assert_array_equal(m, np.flatnonzero(A[r]))


def test_screen_bound_hand_values():
    # d = 1, exact inputs, unit norm: only one float32 rounding, 2^-23 / (1 - 2^-23).
    g = 2.0**-23 / (1 - 2.0**-23)
    assert screen_bound(1, max_norm=1.0, input_error=0.0) == pytest.approx(g, rel=2e-6)
    # Input error r on both sides: 2 r + r^2 dominates.
    assert screen_bound(1, max_norm=1.0, input_error=0.01) == pytest.approx(
        0.02 + 1e-4 + g * 1.01**2, rel=1e-5)
    with pytest.raises(ValueError, match="n_features"):
        screen_bound(2**23, max_norm=1.0, input_error=0.0)


@pytest.mark.parametrize("screen", ["float32", "bfloat16"])
def test_observed_screen_error_is_within_the_bound(screen):
    Xn = make("clustered", 400, 64, seed=5)
    tiles = ScreenedTiles(Xn, 0.5, device="cpu", screen=screen)
    S_hat = tiles._matmul(slice(0, 400), 0).float().numpy().astype(np.float64)
    S = Xn.astype(np.float64) @ Xn.astype(np.float64).T
    assert np.abs(S_hat - S).max() <= tiles.bound
    assert tiles.lo < 1 - 0.125 < tiles.hi


def test_bad_screen():
    with pytest.raises(ValueError, match="screen"):
        delta_ball_graph(np.eye(3), 0.5, screen="int8")


@pytest.mark.parametrize("screen", ["float32", "bfloat16"])
@pytest.mark.parametrize("kind", ["duplicates", "zeros", "clustered"])
def test_device_side_confirmation_matches_the_reference(screen, kind):
    # The CUDA path decides the band in float64 on the device; run it on the
    # CPU through torch and compare with the dense definition.
    Xn = make(kind, 120, 16, seed=7)
    _, D = dense_reference(Xn, 1.0)
    for delta in deltas_at_pair_distances(D, np.random.default_rng(2)):
        A, _ = dense_reference(Xn, delta)
        tiles = ScreenedTiles(Xn, delta, device="cpu", screen=screen, confirm_on_device=True)
        got = np.zeros_like(A)
        for start in range(0, 120, 50):
            sl = slice(start, min(120, start + 50))
            cols, counts = tiles.edges(sl, upper=False)
            rows = np.repeat(np.arange(sl.start, sl.stop), counts)
            got[rows, cols] = True
            assert cols.size == counts.sum()
        np.testing.assert_array_equal(got, A)
        assert tiles.n_confirmed > 0 or kind == "duplicates"


@pytest.mark.parametrize("kind", ["clustered", "duplicates", "zeros", "random"])
@pytest.mark.parametrize("device", [None, "cpu"])
def test_pruned_build_is_exact(kind, device, monkeypatch):
    import skal.strategies._prune as prune_mod

    # Small chunks and tiles so that a 600-point pool has many of both.
    monkeypatch.setattr(prune_mod, "_MAX_CHUNK", 24)
    monkeypatch.setattr(prune_mod, "_TILE_ROWS", 80)
    Xn = make(kind, 600, 8, seed=11)
    _, D = dense_reference(Xn, 1.0)
    for delta in deltas_at_pair_distances(D, np.random.default_rng(3), k=2) + [0.05]:
        check(Xn, delta, prune=True, device=device, screen="float32")
    if kind == "clustered" and device is None:
        # Tight clusters and a small radius: most chunk pairs are skipped.
        assert prune_mod.PrunePlan(Xn, 0.05).visited_fraction() < 0.8
        assert prune_mod.PrunePlan(Xn, 2.5).visited_fraction() == 1.0


def test_bad_prune():
    with pytest.raises(ValueError, match="prune"):
        delta_ball_graph(np.eye(3), 0.5, prune="maybe")


@pytest.mark.parametrize("kind", ["clustered", "zeros", "duplicates"])
def test_inverted_file_graph_probing_every_cell_is_the_exact_graph(kind):
    from skal._ann import ivf_delta_ball_graph

    Xn = make(kind, 200, 6, seed=2)
    _, D = dense_reference(Xn, 1.0)
    for delta in deltas_at_pair_distances(D, np.random.default_rng(0), k=2):
        A, _ = dense_reference(Xn, delta)
        G = ivf_delta_ball_graph(Xn, delta, n_cells=9, n_probe=9, random_state=0,
                                 backend="numpy")
        np.testing.assert_array_equal(G.toarray(), A)
        assert G.has_sorted_indices


@pytest.mark.parametrize("kind", ["clustered", "duplicates", "zeros", "random"])
@pytest.mark.parametrize("device", [None, "cpu"])
def test_build_from_a_superset_graph_is_exact(kind, device, monkeypatch):
    import skal.neighbors._delta_graph as graph_mod
    import skal.neighbors._subgraph as subgraph_mod

    # Small tiles so a 400-point pool has many; the plan is used whatever it saves.
    monkeypatch.setattr(subgraph_mod, "_TILE_ROWS", 40)
    monkeypatch.setattr(graph_mod, "_SUPERSET_MAX_VISITED", 1.0)
    Xn = make(kind, 400, 8, seed=5)
    _, D = dense_reference(Xn, 1.0)
    rng = np.random.default_rng(4)
    deltas = deltas_at_pair_distances(D, rng, k=3)
    big = max(deltas)
    superset = delta_ball_graph(Xn, big, normalized=True)
    for delta in [d for d in deltas if d <= big] + [0.05]:
        check(Xn, delta, superset=superset, device=device, screen="float32")


def test_superset_plan_visits_only_the_pairs_of_the_larger_graph():
    from skal.neighbors._subgraph import SupersetPlan

    Xn = make("clustered", 600, 8, seed=0)        # 4 tight clusters
    superset = delta_ball_graph(Xn, 0.3, normalized=True)
    plan = SupersetPlan(superset, tile_rows=50)
    # Reverse Cuthill-McKee puts each cluster's rows together: a tile reaches
    # about one cluster, a quarter of the pool.
    assert plan.visited_fraction(max_tiles=100) < 0.5
    for t in range(len(plan.tiles)):
        cols = plan.columns(t)
        lo, hi = plan.starts[t], plan.starts[t + 1]
        assert np.all(np.diff(cols) > 0) and cols[0] == lo
        assert np.isin(np.arange(lo, hi), cols).all()
    # A complete graph rules nothing out: the build falls back to every pair.
    complete = delta_ball_graph(Xn, 2.5, normalized=True)
    assert SupersetPlan(complete, tile_rows=50).visited_fraction(max_tiles=100) == 1.0
    check(Xn, 0.2, superset=complete)


def test_bad_superset():
    with pytest.raises(ValueError, match="superset"):
        delta_ball_graph(np.eye(3), 0.5, superset=np.ones((3, 3)))
    with pytest.raises(ValueError, match="superset"):
        delta_ball_graph(np.eye(3), 0.5, normalized=True,
                         superset=delta_ball_graph(np.eye(4), 0.5))
