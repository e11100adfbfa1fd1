import numpy as np
import pytest

from skal._memory import available_memory_bytes, check_memory, resolve_memory_limit
from skal.strategies import ProbCover


@pytest.mark.parametrize("spec, expected", [
    (None, None), (1000, 1000), (2.5e9, 2_500_000_000), ("4GB", 4 * 10**9),
    ("512MiB", 512 * 2**20), ("1.5 GiB", int(1.5 * 2**30)), ("10kb", 10_000),
])
def test_resolve_memory_limit(spec, expected):
    assert resolve_memory_limit(spec) == expected


@pytest.mark.parametrize("spec", ["lots", "-1GB", 0, -5, True, "GB"])
def test_resolve_memory_limit_rejects(spec):
    with pytest.raises(ValueError, match="max_memory"):
        resolve_memory_limit(spec)


def test_auto_limit_is_a_share_of_available_memory():
    avail = available_memory_bytes()
    assert avail is None or 0 < resolve_memory_limit("auto") <= avail


def test_check_memory_message():
    check_memory(10, 100, "thing", "advice")
    check_memory(10**12, None, "thing", "advice")
    with pytest.raises(MemoryError, match=r"thing needs about .* GiB.*advice"):
        check_memory(2 * 2**30, 2**30, "thing", "advice")


def _pool(n=3000, d=16, seed=0):
    X = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def test_probcover_refuses_a_graph_that_does_not_fit():
    X = _pool()
    # delta=2 puts every point in every ball: 3000^2 edges, ~45 MB for the CSR
    strategy = ProbCover(delta=2.0, max_memory="1MB", random_state=0)
    with pytest.raises(MemoryError, match="ProbCover's delta-ball graph .*smaller delta"):
        strategy.select(X, 5)
    assert not hasattr(strategy, "graph_")  # failed before allocating
    # the estimate is of the right size: n^2 edges at 5 bytes each, times two
    assert strategy.graph_bytes_estimate_ == pytest.approx(3000 * 3000 * 5 + 8 * 3001, rel=1e-3)


def test_probcover_builds_when_within_limit_or_unchecked():
    X = _pool()
    a = ProbCover(delta=0.5, max_memory="1GB", random_state=0).select(X, 5)
    b = ProbCover(delta=0.5, max_memory=None, random_state=0).select(X, 5)
    assert np.array_equal(a, b)


def test_probcover_bad_max_memory_is_a_value_error():
    with pytest.raises(ValueError, match="max_memory"):
        ProbCover(delta=0.5, max_memory="huge").select(_pool(100), 2)


def test_chunked_sparse_helpers_match_dense():
    import scipy.sparse as sp

    from skal.neighbors import csr_row_sums, subtract_neighbour_weights

    rng = np.random.default_rng(0)
    A = sp.random(300, 300, density=0.05, random_state=0, format="csr").astype(bool)
    A.sort_indices()
    values = rng.random(300)
    dense = A.toarray().astype(float)
    for chunk in (1, 7, 64, 10**6):  # row groups split at every size
        assert np.allclose(csr_row_sums(A.indptr, A.indices, values, chunk_edges=chunk),
                           dense @ values)
        rows = rng.choice(300, size=40, replace=False)
        w = rng.random(40)
        score = np.zeros(300)
        subtract_neighbour_weights(score, A.indptr, A.indices, rows, w, chunk_edges=chunk)
        assert np.allclose(score, -(dense[rows].T @ w))


def test_ivf_graph_mirrors_and_reorders_in_bounded_chunks(monkeypatch):
    import skal._ann as ann
    import skal.neighbors as nb
    from skal.neighbors import delta_ball_graph, unit_normalize

    X = unit_normalize(np.random.default_rng(3).normal(size=(3000, 6)))
    # Many chunks in the in-place mirror and in the gather back to pool order.
    monkeypatch.setattr(nb._sparse, "_EDGE_CHUNK", 50)
    approx = ann.ivf_delta_ball_graph(X, 0.6, n_cells=20, n_probe=20, random_state=0)
    exact = delta_ball_graph(X, 0.6, normalized=True)
    assert approx.nnz == exact.nnz and (approx != exact).nnz == 0
