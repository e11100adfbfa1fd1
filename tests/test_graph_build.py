"""The δ-ball graph against a dense float64 reference, in every build mode."""

import numpy as np
import pytest

from skal.neighbors import delta_ball_graph, unit_normalize


@pytest.mark.parametrize("n", [1, 2, 5, 300, 2100])
@pytest.mark.parametrize("delta", [0.05, 0.5, 1.2, 2.5])
@pytest.mark.parametrize("half", [True, False, "auto"])
@pytest.mark.parametrize("block_rows", [None, 7])
def test_graph_equals_dense_reference(n, delta, half, block_rows):
    X = unit_normalize(np.random.default_rng(n).normal(size=(n, 4)))
    D = np.sqrt(((X[:, None].astype(np.float64) - X[None]) ** 2).sum(-1))
    A = D < delta
    np.fill_diagonal(A, True)
    G = delta_ball_graph(X, delta, normalized=True, half=half, block_rows=block_rows)
    assert G.nnz == A.sum()  # no duplicated entries
    assert np.array_equal(G.toarray(), A)
    rows_sorted = [np.all(np.diff(G.indices[G.indptr[r]:G.indptr[r + 1]]) > 0) for r in range(n)]
    assert all(rows_sorted) and G.has_sorted_indices


@pytest.mark.parametrize("half", [True, False])
def test_torch_path_matches_numpy(half):
    X = unit_normalize(np.random.default_rng(0).normal(size=(500, 8)))
    a = delta_ball_graph(X, 0.9, normalized=True, half=half, block_rows=64)
    b = delta_ball_graph(X, 0.9, normalized=True, half=half, block_rows=64, device="cpu")
    assert (a != b).nnz == 0 and a.nnz == b.nnz


def test_bad_half():
    with pytest.raises(ValueError, match="half"):
        delta_ball_graph(np.eye(3), 0.5, half="sometimes")


@pytest.mark.parametrize("delta", [0.3, 1.0, 2.5])  # short rows, medium, every pair (long rows)
@pytest.mark.parametrize("expected_edges", [None, 1.0, 1e7])  # sampled, far too low, far too high
def test_in_place_mirror_across_many_chunks(monkeypatch, delta, expected_edges):
    # Tiny chunks make the in-place mirror run many descending passes, where
    # a write landing on an upper row not yet read would show as a wrong edge.
    import skal.neighbors as nb

    monkeypatch.setattr(nb._sparse, "_EDGE_CHUNK", 97)
    X = unit_normalize(np.random.default_rng(3).normal(size=(400, 3)))
    D = np.sqrt(((X[:, None].astype(np.float64) - X[None]) ** 2).sum(-1))
    A = D < delta
    np.fill_diagonal(A, True)
    G = delta_ball_graph(X, delta, normalized=True, half=True, block_rows=23,
                         expected_edges=expected_edges)
    assert G.nnz == A.sum() and G.indices.size == G.nnz
    assert np.array_equal(G.toarray(), A)
    assert all(np.all(np.diff(G.indices[G.indptr[r]:G.indptr[r + 1]]) > 0) for r in range(400))


@pytest.mark.parametrize("chunk", [3, 50, 1 << 22])
@pytest.mark.parametrize("density", [0.0, 0.05, 0.6])
def test_unpermute_upper_assembles_the_pool_order_graph(chunk, density, monkeypatch):
    # A symmetric graph with self-loops, its upper triangle taken in a random
    # build order, assembled back: every row full, in pool order, sorted.
    import scipy.sparse as sp

    import skal.neighbors as nb

    rng = np.random.default_rng(int(density * 100) + chunk % 7)
    n = 120
    A = rng.random((n, n)) < density
    A = A | A.T | np.eye(n, dtype=bool)
    perm = rng.permutation(n)
    B = A[np.ix_(perm, perm)]  # the graph in build order
    up = sp.csr_matrix(np.triu(B))
    up.sort_indices()
    parts = [up.indptr.astype(np.int64), up.indices.astype(np.int32)]
    monkeypatch.setattr(nb._sparse, "_EDGE_CHUNK", chunk)
    indptr, indices = nb._sparse._unpermute_upper(perm, parts)
    assert parts == []
    G = sp.csr_matrix((np.ones(indices.size, dtype=bool), indices, indptr), shape=(n, n))
    np.testing.assert_array_equal(G.toarray(), A)
    for r in range(n):
        row = indices[indptr[r]:indptr[r + 1]]
        assert np.all(np.diff(row.astype(np.int64)) > 0)  # sorted, no duplicates
