"""Numerical helpers of skal.neighbors and skal._ann against dense computations."""

import numpy as np
import pytest

from skal._ann import ivf_delta_ball_graph
from skal.neighbors import (
    csr_gather_rows,
    delta_ball_graph,
    estimate_graph_bytes,
    kernel_block,
    median_bandwidth,
    min_sq_dist_to,
    nearest_other_cluster_distance,
    sample_ball_sizes,
    sq_dists_block,
    unit_normalize,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(70, 5)), rng.normal(size=(30, 5))


def dense_d2(A, B):
    return ((A[:, None] - B[None]) ** 2).sum(-1)


def test_sq_dists_and_kernels(data):
    A, B = data
    np.testing.assert_allclose(sq_dists_block(A, B), dense_d2(A, B), atol=1e-10)
    D = np.sqrt(dense_d2(A, B))
    np.testing.assert_allclose(kernel_block(A, B, 1.7), np.exp(-(D / 1.7) ** 2), rtol=1e-9)
    np.testing.assert_allclose(kernel_block(A, B, 1.7, "laplacian"), np.exp(-D / 1.7), rtol=1e-7)
    with pytest.raises(ValueError, match="kernel"):
        kernel_block(A, B, 1.0, "poly")


def test_min_sq_dist_to_in_tiles(data):
    A, B = data
    ref = dense_d2(A, B).min(axis=1)
    np.testing.assert_allclose(min_sq_dist_to(A, B, block_rows=7), ref, atol=1e-10)
    assert np.isinf(min_sq_dist_to(A, B[:0])).all()


def test_median_bandwidth_is_the_median_distance(data):
    A, _ = data
    D = np.sqrt(dense_d2(A, A))
    assert median_bandwidth(A) == pytest.approx(np.median(D[np.triu_indices(len(A), 1)]))


def test_csr_gather_rows(data):
    G = delta_ball_graph(data[0], 1.0)
    rows = np.array([3, 0, 3, 69])
    expected = np.concatenate([G.indices[G.indptr[r]:G.indptr[r + 1]] for r in rows])
    np.testing.assert_array_equal(csr_gather_rows(G.indptr, G.indices, rows), expected)


@pytest.mark.parametrize("block_rows", [None, 1, 13])
def test_delta_ball_graph_matches_dense(data, block_rows):
    A, _ = data
    Xn = unit_normalize(A).astype(np.float64)
    dense = np.sqrt(dense_d2(Xn, Xn)) < 0.9
    np.fill_diagonal(dense, True)
    G = delta_ball_graph(A, 0.9, block_rows=block_rows)
    np.testing.assert_array_equal(G.toarray(), dense)  # the last partial tile included


def test_sample_ball_sizes_and_estimate(data):
    A, _ = data
    G = delta_ball_graph(A, 0.9)
    rows = np.array([0, 5, 69])
    sizes, members = sample_ball_sizes(unit_normalize(A), 0.9, rows)
    np.testing.assert_array_equal(sizes, np.diff(G.indptr)[rows])
    for r, m in zip(rows, members):
        np.testing.assert_array_equal(m, np.sort(G.indices[G.indptr[r]:G.indptr[r + 1]]))
    n_edges, n_bytes = estimate_graph_bytes(unit_normalize(A), 0.9, n_sample=70)
    assert n_edges == pytest.approx(G.nnz)
    assert n_bytes >= G.nnz * 5


def test_nearest_other_cluster_distance(data):
    A, _ = data
    Xn = unit_normalize(A)
    labels = np.arange(70) % 3
    D = np.sqrt(dense_d2(Xn.astype(np.float64), Xn.astype(np.float64)))
    D[labels[:, None] == labels[None, :]] = np.inf
    np.testing.assert_allclose(nearest_other_cluster_distance(Xn, labels), D.min(1), rtol=1e-12)
    rows = np.array([4, 10])
    np.testing.assert_allclose(nearest_other_cluster_distance(Xn, labels, rows=rows),
                               D.min(1)[rows], rtol=1e-12)
    np.testing.assert_allclose(nearest_other_cluster_distance(Xn, labels, device="cpu"),
                               D.min(1), rtol=1e-12)
    assert np.isinf(nearest_other_cluster_distance(Xn, np.zeros(70, int))).all()


def test_ivf_graph_bad_backend(data):
    with pytest.raises(ValueError, match="backend"):
        ivf_delta_ball_graph(unit_normalize(data[0]), 0.5, backend="annoy")


@pytest.mark.parametrize("n_clusters", [1, 2, 40, 300])
def test_nearest_other_cluster_distance_many_clusters_and_ties(n_clusters, monkeypatch):
    import skal.neighbors as nb

    # Tiles of 128 rows mixing many clusters, duplicated points across
    # clusters (distance 0) and a row sample in shuffled order.
    rng = np.random.default_rng(n_clusters)
    base = rng.normal(size=(150, 5))
    Xn = unit_normalize(np.vstack([base, base[:60]]))
    labels = rng.integers(0, n_clusters, Xn.shape[0])
    D = np.sqrt(dense_d2(Xn.astype(np.float64), Xn.astype(np.float64)))
    D[labels[:, None] == labels[None, :]] = np.inf
    monkeypatch.setattr(nb._tiles, "_HOST_TILE_BYTES", 1)  # the smallest tiles
    rows = rng.permutation(Xn.shape[0])[:170]
    got = nearest_other_cluster_distance(Xn, labels, rows=rows)
    np.testing.assert_allclose(got, D.min(1)[rows], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row_length", [0, 1, 5, 63, 64, 65, 300])
def test_csr_gather_rows_both_paths(row_length):
    # Mean lengths below and above the switch to slice copies (64), with rows
    # of uneven length, repeated and empty rows.
    rng = np.random.default_rng(row_length)
    lengths = rng.integers(0, 2 * row_length + 1, size=50)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = rng.integers(0, 1000, size=int(indptr[-1])).astype(np.int32)
    rows = rng.integers(0, 50, size=30)
    expected = np.concatenate([indices[indptr[r]:indptr[r + 1]] for r in rows])
    got = csr_gather_rows(indptr, indices, rows)
    assert got.dtype == indices.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("uniform", [True, False])
@pytest.mark.parametrize("chunk", [1, 50, 10**6])
def test_subtract_neighbour_weights_uniform_and_mixed(uniform, chunk):
    import scipy.sparse as sp

    from skal.neighbors import subtract_neighbour_weights

    rng = np.random.default_rng(1)
    # Dense enough rows that both the bincount path (many neighbours) and the
    # scatter path (few) run.
    A = sp.random(400, 400, density=0.3, random_state=1, format="csr").astype(bool)
    dense = A.toarray().astype(float)
    for n_rows in (1, 3, 200):
        rows = rng.choice(400, size=n_rows, replace=False)
        w = np.full(n_rows, 0.6) if uniform else rng.random(n_rows)
        score = np.zeros(400)
        subtract_neighbour_weights(score, A.indptr, A.indices, rows, w, chunk_edges=chunk)
        np.testing.assert_allclose(score, -(dense[rows].T @ w), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_normalize_in_blocks_equals_the_whole_array_arithmetic(dtype, monkeypatch):
    import skal.neighbors as nb

    rng = np.random.default_rng(5)
    X = (rng.normal(size=(257, 9)) * rng.lognormal(size=(257, 1))).astype(dtype)
    X[[0, 100, 256]] = 0.0
    X64 = X.astype(np.float64)
    norms = np.linalg.norm(X64, axis=1)
    scaled = X64 / norms.max()
    unit = norms / norms.max()
    want = (scaled / np.where(unit > 0, unit, 1.0)[:, None]).astype(np.float32)
    monkeypatch.setattr(nb._tiles, "_NORMALIZE_BLOCK_BYTES", 8 * 9 * 10)  # blocks of 10 rows
    got = nb.unit_normalize(X)
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)  # bit for bit
    assert np.all(got[[0, 100, 256]] == 0)
    assert nb.unit_normalize(X[:0]).shape == (0, 9)
