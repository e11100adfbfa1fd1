"""CentroidFilter's second opinion from the pool (``cluster_agreement``)."""

import numpy as np
import pytest
import scipy.sparse as sp

from skal._validation import check_random_state
from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter, _cluster_match
from skal.filters._cluster_match import match_clusters_to_classes, pool_cluster_centres
from skal.filters._communities import match_communities_to_classes
from skal.filters._finer_communities import match_finer_communities_to_classes, name_communities
from skal.filters._pool import PoolView
from skal.noise import make_noisy_labels


def _two_groups():
    # Two tight groups on the unit circle, far apart.
    left = np.array([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1], [1.0, 0.05]])
    right = np.array([[0.0, 1.0], [0.1, 1.0], [-0.1, 1.0], [0.05, 1.0]])
    return np.vstack([left, right])


def test_matching_is_one_to_one_not_plurality():
    # Left group's labels: 0, 0, 1; right group's: 0, 0, 0. By plurality both
    # groups would be class 0; the one-to-one assignment that agrees with the
    # most labels names the left group 1 (1 + 3 agreeing labels, not 2 + 0).
    view = PoolView(_two_groups())
    positions = np.array([0, 1, 2, 4, 5, 6])
    y = np.array([0, 0, 1, 0, 0, 0])
    matched, clusters = match_clusters_to_classes(view, positions, y, 2, seed=0)
    assert clusters[0] == clusters[1] == clusters[2] != clusters[3]
    assert matched.tolist() == [1, 1, 1, 0, 0, 0]


def test_clusters_of_a_sampled_pool_are_nearest_centres(monkeypatch):
    monkeypatch.setattr(_cluster_match, "_CLUSTER_SAMPLE", 40)
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(300, 5))
    view = PoolView(pool)
    centres = pool_cluster_centres(view, 3, seed=1)
    assert centres.shape == (3, 5)
    positions = rng.choice(300, 50, replace=False)
    _, clusters = match_clusters_to_classes(view, positions, rng.integers(0, 3, 50), 3, seed=1)
    d = ((view.Z[positions][:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(clusters, d.argmin(axis=1))


def _digits_round(noise=0.5, n=60, seed=0):
    X, y = load_digits_embeddings(return_X_y=True)
    idx = np.random.default_rng(seed).choice(len(y), n, replace=False)
    y_noisy, is_noisy = make_noisy_labels(y[idx], noise, random_state=seed)
    return X, y, idx, y_noisy, is_noisy


def _as_int(proposed):
    return np.array([-1 if p is None else int(p) for p in proposed])


def _expected_opinion(pool_clusters, X, idx, y_noisy, random_state):
    # The k-means cells take the stream's first draw; the communities the
    # second draw of a copy of it (the seed the anchor uses).
    if pool_clusters == "kmeans":
        seed = int(check_random_state(random_state).integers(0, 2**31 - 1))
        return match_clusters_to_classes(PoolView(X), idx, y_noisy, 10, seed)[0]
    seed = int(check_random_state(random_state).integers(0, 2**31 - 1, size=2)[1])
    if pool_clusters == "finer_communities":
        return match_finer_communities_to_classes(PoolView(X), idx, y_noisy, 10, seed)
    return match_communities_to_classes(PoolView(X), idx, y_noisy, 10, seed)


@pytest.mark.parametrize("pool_clusters", ["communities", "finer_communities", "kmeans"])
def test_combination_rule_against_its_parts(pool_clusters):
    X, y, idx, y_noisy, _ = _digits_round()
    alone = CentroidFilter(cluster_agreement=False)
    keep_alone = alone.fit_filter(X[idx], y_noisy)
    # The labels' own centres (anchor_to_pool=False): the rule "alone" judges by them.
    both = CentroidFilter(anchor_to_pool=False, pool_clusters=pool_clusters, random_state=3)
    keep = both.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    # The pool's opinion is the matching computed with the filter's seed.
    matched = _expected_opinion(pool_clusters, X, idx, y_noisy, 3)
    assert matched is not None and np.unique(matched).size >= 8
    # A label whose community of the finer cut has no name gets None (-1 here).
    np.testing.assert_array_equal(_as_int(both.cluster_classes_), matched)
    # Kept: either opinion agrees with the label.
    np.testing.assert_array_equal(keep, keep_alone | (matched == y_noisy))
    # Proposals: the label where kept; where doubted, the class both name, else none.
    alone_says = np.where(keep_alone, y_noisy, _as_int(alone.proposed_labels_))
    expected = np.where(keep, y_noisy, np.where(alone_says == matched, matched, -1))
    np.testing.assert_array_equal(_as_int(both.proposed_labels_), expected)
    assert both._threshold_decision is False and alone._threshold_decision is True
    # Scores, calibration and centres are the centroid rule's, unchanged.
    np.testing.assert_allclose(both.scores_, alone.scores_)
    np.testing.assert_allclose(both.clean_proba_, alone.clean_proba_)


@pytest.mark.parametrize("pool_clusters", ["communities", "finer_communities", "kmeans"])
def test_agreement_makes_the_proposals_more_often_right(pool_clusters):
    X, y, idx, y_noisy, is_noisy = _digits_round(noise=0.5)
    truth = y[idx]
    rates = {}
    for agree in (False, True):
        f = CentroidFilter(cluster_agreement=agree, anchor_to_pool=False,
                           pool_clusters=pool_clusters, random_state=0)
        keep = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
        p = _as_int(f.proposed_labels_)
        rates[agree] = (np.mean(p[p >= 0] == truth[p >= 0]), np.mean(keep[~is_noisy]))
    # Training labels right 0.62 -> 0.80 here; more right labels kept.
    assert rates[True][0] > rates[False][0] + 0.1
    assert rates[True][1] >= rates[False][1]


def test_without_a_pool_the_centroid_rule_decides_alone():
    X, y, idx, y_noisy, _ = _digits_round()
    a = CentroidFilter()
    b = CentroidFilter(cluster_agreement=False, anchor_to_pool=False)
    np.testing.assert_array_equal(a.fit_filter(X[idx], y_noisy), b.fit_filter(X[idx], y_noisy))
    assert a.cluster_classes_ is None and a._threshold_decision
    np.testing.assert_array_equal(_as_int(a.proposed_labels_), _as_int(b.proposed_labels_))
    assert a.uses_pool and not b.uses_pool


def test_unlabeled_rows_serve_as_the_pool():
    X, y, idx, y_noisy, _ = _digits_round()
    rest = np.setdiff1d(np.arange(len(y)), idx)
    f = CentroidFilter(random_state=0)
    f.fit_filter(X[idx], y_noisy, X_unlabeled=X[rest])
    assert f.cluster_classes_ is not None and f.cluster_classes_.shape == (idx.size,)


def test_clustering_is_computed_once_per_pool(monkeypatch):
    X, y, idx, y_noisy, _ = _digits_round()
    calls = []
    real = _cluster_match.pool_cluster_centres

    def counting(view, k, seed):
        cache = view.__dict__.get("_matched_centres", {})
        calls.append((k, seed) in cache)
        return real(view, k, seed)

    monkeypatch.setattr("skal.filters._cluster_match.pool_cluster_centres", counting)
    f = CentroidFilter(pool_clusters="kmeans", random_state=0)
    for n in (30, 45, 60):
        f.fit_filter(X[idx[:n]], y_noisy[:n], sample_indices=idx[:n], X_pool=X)
    # First round clusters the pool; the next rounds find it in the cache.
    assert calls == [False, True, True]


@pytest.mark.parametrize("pool_clusters", ["communities", "finer_communities", "kmeans"])
def test_sparse_pool(pool_clusters):
    X, y, idx, y_noisy, _ = _digits_round()
    dense = CentroidFilter(pool_clusters=pool_clusters, random_state=0)
    sparse = CentroidFilter(pool_clusters=pool_clusters, random_state=0)
    a = dense.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    b = sparse.fit_filter(sp.csr_matrix(X[idx]), y_noisy, sample_indices=idx,
                          X_pool=sp.csr_matrix(X))
    # k-means on sparse rows may split ties differently; the decision is the
    # same on this data (the communities' kNN graph is the same either way).
    np.testing.assert_array_equal(a, b)


def test_learner_hands_the_pool_to_the_filter():
    from skal import MaxHerding, NoiseAwareActiveLearner, NoisyOracle

    X, y = load_digits_embeddings(return_X_y=True)
    learner = NoiseAwareActiveLearner(MaxHerding(), CentroidFilter(), train_on="relabel",
                                      budget=40, random_state=0)
    learner.fit_round(X, NoisyOracle(y, noise_rate=0.5, random_state=0))
    flt = learner.noise_filter_
    assert flt.cluster_classes_ is not None
    np.testing.assert_array_equal(flt.sample_indices_, learner.labeled_idx_)
    assert flt.random_state is not None  # seeded by the learner for the whole run


@pytest.mark.parametrize("bad", ["yes", 2])
def test_bad_cluster_agreement(bad):
    X, y, idx, y_noisy, _ = _digits_round()
    with pytest.raises(ValueError, match="cluster_agreement"):
        CentroidFilter(cluster_agreement=bad).fit_filter(X[idx], y_noisy)


@pytest.mark.parametrize("bad", ["spectral", True, None])
def test_bad_pool_clusters(bad):
    X, y, idx, y_noisy, _ = _digits_round()
    with pytest.raises(ValueError, match="pool_clusters"):
        CentroidFilter(pool_clusters=bad).fit_filter(X[idx], y_noisy)


def test_communities_opinion_is_the_anchor_s_cut_reused(monkeypatch):
    # With the anchor on, the opinion reads the communities the anchor cut:
    # one spectral solve per pool, no k-means at all.
    import skal.filters._communities as communities

    X, y, idx, y_noisy, _ = _digits_round()
    solves, kmeans_calls = [], []
    real_solve = communities._cluster_qr
    monkeypatch.setattr(communities, "_cluster_qr",
                        lambda v: solves.append(1) or real_solve(v))
    monkeypatch.setattr("skal.filters._cluster_match.pool_cluster_centres",
                        lambda *a, **k: kmeans_calls.append(1))
    f = CentroidFilter(pool_clusters="communities", random_state=0)
    for n in (30, 45, 60):
        f.fit_filter(X[idx[:n]], y_noisy[:n], sample_indices=idx[:n], X_pool=X)
    assert f.cluster_classes_ is not None and not kmeans_calls
    # One cut per number of classes seen, each made once.
    assert len(solves) == len({np.unique(y_noisy[:n]).size for n in (30, 45, 60)})


@pytest.mark.parametrize("pool_clusters", ["communities", "finer_communities"])
def test_communities_fall_back_to_kmeans_where_the_pool_cannot_be_cut(pool_clusters):
    # Ten separate tight groups for three classes: the kNN graph has more
    # components than classes, no single cut exists, and the k-means cells speak.
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 6))
    X = np.repeat(centres, 30, axis=0) + 0.01 * rng.normal(size=(300, 6))
    positions = np.arange(0, 300, 10)
    y = np.repeat(np.arange(10) % 3, 3)
    y[[0, 4, 8]] = [1, 2, 0]  # three wrong answers
    view = PoolView(X)
    seed = int(check_random_state(0).integers(0, 2**31 - 1, size=2)[1])
    assert match_communities_to_classes(view, positions, y, 3, seed) is None
    assert match_finer_communities_to_classes(view, positions, y, 3, seed) is None
    a = CentroidFilter(random_state=0, anchor_to_pool=False, pool_clusters=pool_clusters)
    b = CentroidFilter(random_state=0, anchor_to_pool=False, pool_clusters="kmeans")
    np.testing.assert_array_equal(a.fit_filter(X[positions], y, sample_indices=positions, X_pool=X),
                                  b.fit_filter(X[positions], y, sample_indices=positions, X_pool=X))
    assert b.cluster_classes_ is not None
    np.testing.assert_array_equal(a.cluster_classes_, b.cluster_classes_)


def test_unseeded_filter_clusters_a_pool_once():
    X, y, idx, y_noisy, _ = _digits_round()
    f = CentroidFilter(pool_clusters="kmeans")  # random_state=None
    first = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    view = f._pool_cache[1]
    assert list(view._matched_centres) == [(10, None)]
    again = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    assert list(view._matched_centres) == [(10, None)]
    np.testing.assert_array_equal(first, again)


def test_nothing_doubted_means_no_clustering(monkeypatch):
    # Two labels per class: every class is below min_class_count, nothing is
    # judged, so the pool's opinion could change nothing and is not asked.
    X, y = load_digits_embeddings(return_X_y=True)
    idx = np.r_[np.flatnonzero(y == 0)[:2], np.flatnonzero(y == 1)[:2], np.flatnonzero(y == 2)[:2]]
    labels = np.array([0, 1, 1, 2, 2, 0])  # half of them wrong
    called = []
    monkeypatch.setattr("skal.filters._cluster_match.pool_cluster_centres",
                        lambda *a, **k: called.append(1))
    monkeypatch.setattr("skal.filters._centroid.match_communities_to_classes",
                        lambda *a, **k: called.append(2))
    f = CentroidFilter(random_state=0)
    keep = f.fit_filter(X[idx], labels, sample_indices=idx, X_pool=X)
    assert keep.all() and f.cluster_classes_ is None and not called
    assert f._threshold_decision
    np.testing.assert_array_equal(f.proposed_labels_, labels)


def test_pickled_filter_carries_no_pool():
    import pickle

    X, y, idx, y_noisy, _ = _digits_round()
    f = CentroidFilter(random_state=0)
    keep = f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    back = pickle.loads(pickle.dumps(f))
    assert not hasattr(back, "_pool_cache") and not hasattr(back, "_finite_pool")
    np.testing.assert_array_equal(back.clean_mask_, keep)


def test_a_new_pool_with_nan_is_refused_after_a_clean_one():
    X, y, idx, y_noisy, _ = _digits_round()
    f = CentroidFilter(random_state=0)
    f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=X)
    bad = X.copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="X_pool"):
        f.fit_filter(X[idx], y_noisy, sample_indices=idx, X_pool=bad)


def test_leftover_communities_need_a_clear_majority():
    counts = np.array([[3, 0, 0],    # matched to class 0
                       [0, 4, 0],    # matched to class 1 (four labels, more than in row 3)
                       [0, 0, 2],    # matched to class 2
                       [0, 3, 1],    # left over: three labels of class 1, more than any other
                       [2, 2, 0],    # left over: a tie
                       [0, 0, 2],    # left over: two labels only
                       [0, 0, 0]])   # left over: no label at all
    assert name_communities(counts).tolist() == [0, 1, 2, 1, -1, -1, -1]
    assert name_communities(counts, min_votes=2).tolist() == [0, 1, 2, 1, -1, 2, -1]
    # As many communities as classes: the one-to-one assignment alone.
    assert name_communities(counts[:3]).tolist() == [0, 1, 2]


def _class_in_two_regions():
    # Class 0 lies in two regions; its second region sits next to class 1's.
    rng = np.random.default_rng(0)

    def unit(v):
        return np.asarray(v, float) / np.linalg.norm(v)

    means = [unit([1, 0, 0, 0]), unit([0, 0.8, 0, 0.6]), unit([0, 1, 0, 0]), unit([0, 0, 1, 0])]
    X = np.vstack([m + 0.03 * rng.standard_normal((40, 4)) for m in means])
    # Thin bridges between the regions keep the kNN graph in one piece.
    bridges = [unit((1 - t) * means[i] + t * means[(i + 1) % 4])
               for i in range(4) for t in np.linspace(0.1, 0.9, 6)]
    X = np.vstack([X, bridges])
    positions = np.r_[0:4, 40:43, 80:84, 120:124]
    y = np.repeat([0, 0, 1, 2], [4, 3, 4, 4])  # every answer right
    return X, positions, y


def test_finer_cut_keeps_a_class_spread_over_two_regions():
    X, positions, y = _class_in_two_regions()
    second = np.arange(4, 7)  # the three labels of class 0's second region
    kept = {}
    for pool_clusters in ("kmeans", "communities", "finer_communities"):
        f = CentroidFilter(anchor_to_pool=False, pool_clusters=pool_clusters, random_state=0)
        kept[pool_clusters] = f.fit_filter(X[positions], y, sample_indices=positions, X_pool=X)
    # The centroid rule doubts the second region's labels (class 1's centre is
    # nearer); one cut per class merges that region with class 1's, so neither
    # opinion rescues them. Cut a fifth finer, the region is a community of its
    # own, named 0 by its three labels.
    for pool_clusters in ("kmeans", "communities"):
        assert not kept[pool_clusters][second].any()
        assert kept[pool_clusters][np.setdiff1d(np.arange(y.size), second)].all()
    assert kept["finer_communities"].all()
