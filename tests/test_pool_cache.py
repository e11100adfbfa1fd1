"""Per-pool caches: the pool is hashed once per array, not once per call."""

import pickle

import numpy as np
import pytest

import skal.strategies._base as base
from skal.strategies import ProbCover, TypiClust


@pytest.fixture
def count_hashes(monkeypatch):
    calls = []
    real = base.pool_fingerprint

    def counting(X):
        calls.append(X.shape)
        return real(X)

    monkeypatch.setattr(base, "pool_fingerprint", counting)
    return calls


@pytest.mark.parametrize("make", [lambda: ProbCover(delta=0.5, random_state=0),
                                  lambda: TypiClust(random_state=0)])
def test_same_array_is_hashed_once(count_hashes, make):
    X = np.random.default_rng(0).normal(size=(400, 5)).astype(np.float32)
    strategy = make()
    picked = []
    for _ in range(4):  # four NAS shares on the same pool
        picked.extend(strategy.select(X, 5, labeled=picked).tolist())
    assert len(count_hashes) == 1
    assert len(set(picked)) == 20


def test_new_or_edited_pool_is_rehashed_and_rebuilt(count_hashes):
    X = np.random.default_rng(0).normal(size=(400, 5)).astype(np.float32)
    strategy = ProbCover(delta=0.5, random_state=0)
    strategy.select(X, 5)
    graph = strategy.graph_
    strategy.select(X.copy(), 5)  # equal content, another array: rehash, same graph
    assert len(count_hashes) == 2 and strategy.graph_ is graph
    X[0] = -X[0]  # edited in place in a probed row
    strategy.select(X, 5)
    assert len(count_hashes) == 3 and strategy.graph_ is not graph


def test_pickle_drops_the_memo():
    X = np.random.default_rng(0).normal(size=(100, 3))
    strategy = ProbCover(delta=0.5, random_state=0)
    strategy.select(X, 3)
    assert "_pool_fp" not in pickle.loads(pickle.dumps(strategy)).__dict__


# -- get_pool_cache / set_pool_cache ------------------------------------------

import io  # noqa: E402

import scipy.sparse as sp  # noqa: E402

import skal.strategies._prob_cover as pc_mod  # noqa: E402
from skal.neighbors import delta_ball_graph, unit_normalize  # noqa: E402
from skal.strategies import RandomSampling  # noqa: E402


def _pool(n=300, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(5, d))[rng.integers(0, 5, n)] + 0.6 * rng.normal(size=(n, d))).astype(
        np.float32)


def _through_npz(arrays):
    # What a learner does: np.savez without pickles, then np.load.
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("delta", [0.6, "auto"])
def test_probcover_cache_round_trip_skips_the_build(monkeypatch, delta):
    X = _pool()
    first = ProbCover(delta=delta, n_clusters=5, random_state=0)
    picks = first.select(X, 8, labeled=[0, 1])
    arrays = _through_npz(first.get_pool_cache())
    assert set(arrays) >= {"fingerprint", "delta", "indptr", "indices", "checksum"}
    assert arrays["fingerprint"].dtype.kind == "U"

    def no_build(*a, **k):
        raise AssertionError("the graph was rebuilt")

    monkeypatch.setattr(pc_mod, "delta_ball_graph", no_build)
    monkeypatch.setattr(pc_mod, "purity_delta", no_build)
    fresh = ProbCover(delta=delta, n_clusters=5, random_state=0)
    assert fresh.set_pool_cache(X.copy(), arrays) is True
    assert fresh.delta_ == first.delta_
    assert (fresh.graph_ != first.graph_).nnz == 0
    np.testing.assert_array_equal(fresh.select(X, 8, labeled=[0, 1]), picks)


def test_probcover_cache_refuses_other_pools_params_and_damage():
    X = _pool()
    s = ProbCover(delta=0.6, random_state=0)
    s.select(X, 3)
    good = s.get_pool_cache()
    assert ProbCover(delta=0.6).set_pool_cache(X, good) is True
    # Another pool, other parameters.
    assert ProbCover(delta=0.6).set_pool_cache(_pool(seed=1), good) is False
    assert ProbCover(delta=0.7).set_pool_cache(X, good) is False
    assert ProbCover(delta=0.6, metric="cosine").set_pool_cache(X, good) is False
    # Damaged arrays.
    bad = dict(good, indices=good["indices"].copy())
    bad["indices"][5] = (bad["indices"][5] + 1) % X.shape[0]
    assert ProbCover(delta=0.6).set_pool_cache(X, bad) is False
    assert ProbCover(delta=0.6).set_pool_cache(X, dict(good, indptr=good["indptr"][:-1])) is False
    assert ProbCover(delta=0.6).set_pool_cache(X, {k: v for k, v in good.items() if k != "indices"}) \
        is False
    assert ProbCover(delta=0.6).set_pool_cache(X, dict(good, delta=np.array([np.nan]))) is False
    assert ProbCover(delta=0.6).set_pool_cache(X, dict(good, fingerprint=np.array([1.0]))) is False
    assert ProbCover(delta=0.6).set_pool_cache(X, None) is False
    # A well-formed graph of another radius, with a matching checksum: the
    # rows re-derived from the pool expose it.
    other = delta_ball_graph(unit_normalize(X), 0.9, normalized=True)
    forged = dict(good, indptr=other.indptr, indices=other.indices,
                  checksum=pc_mod._csr_checksum(other.indptr, other.indices))
    assert ProbCover(delta=0.6).set_pool_cache(X, forged) is False
    restored = ProbCover(delta=0.6)
    assert restored.set_pool_cache(X, forged) is False
    assert getattr(restored, "graph_", None) is None


def test_no_cache_before_select_and_for_cacheless_strategies():
    X = _pool()
    assert ProbCover(delta=0.6).get_pool_cache() == {}
    r = RandomSampling(random_state=0)
    r.select(X, 3)
    assert r.get_pool_cache() == {} and r.set_pool_cache(X, {"fingerprint": np.array(["x"])}) is False


def test_cache_of_a_sparse_pool_matches_its_dense_copy():
    X = _pool()
    X[X < 0.5] = 0.0
    s = ProbCover(delta=0.8, random_state=0)
    a = s.select(sp.csr_matrix(X), 5)
    b = ProbCover(delta=0.8, random_state=0).select(X, 5)
    np.testing.assert_array_equal(a, b)
    assert ProbCover(delta=0.8).set_pool_cache(X, s.get_pool_cache()) is True


def test_typiclust_cache_round_trip(monkeypatch):
    import skal.strategies._typiclust as tc_mod

    X = _pool()
    first = TypiClust(random_state=0)
    picks = first.select(X, 6, labeled=[0, 1])
    arrays = _through_npz(first.get_pool_cache())
    monkeypatch.setattr(tc_mod, "fit_kmeans", lambda *a, **k: pytest.fail("k-means refitted"))
    fresh = TypiClust(random_state=0)
    assert fresh.set_pool_cache(X.copy(), arrays) is True
    np.testing.assert_array_equal(fresh.select(X, 6, labeled=[0, 1]), picks)
    bad = dict(arrays, cluster_labels=arrays["cluster_labels"][:-1])
    assert TypiClust(random_state=0).set_pool_cache(X, bad) is False
    assert TypiClust(random_state=0).set_pool_cache(_pool(seed=2), arrays) is False
    assert TypiClust().get_pool_cache() == {}
