"""The pool's spectral communities and the centres they anchor (``CentroidFilter(anchor_to_pool=True)``)."""

import numpy as np
import pytest

from skal.filters import CentroidFilter, _communities
from skal.filters._communities import anchor_centres, community_of, pool_communities
from skal.filters._geometric_median import geometric_median
from skal.filters._pool import PoolView


def _groups(n_per=30, k=3, seed=0):
    """``k`` tight groups of unit rows around orthogonal directions; group of each row."""
    rng = np.random.default_rng(seed)
    X = np.vstack([np.eye(k)[g] + 0.05 * rng.standard_normal((n_per, k)) for g in range(k)])
    return X, np.repeat(np.arange(k), n_per)


def _same_partition(a, b):
    # Equal up to the names of the parts.
    pairs = {(int(p), int(q)) for p, q in zip(a, b)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def _three_wrong_answers():
    """Two groups; three wrong answers "1" sit together at the edge of group 0.

    Returns the pool, the labeled rows and their labels.
    """
    X, _ = _groups(n_per=30, k=2)
    X[3:6] = [1.0, 0.3] + 0.01 * np.arange(3)[:, None]
    positions = np.array([0, 1, 2, 6, 3, 4, 5, 30, 31])
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    return X, positions, y


def test_communities_follow_well_separated_groups():
    X, group = _groups()
    view = PoolView(X)
    rows, labels, medians = pool_communities(view, 3, seed=0)
    np.testing.assert_array_equal(rows, np.arange(X.shape[0]))
    assert _same_partition(labels, group)
    for m in range(3):
        members = view.Z[labels == m]
        # Weiszfeld's iteration from another start stops within its tolerance
        # (1e-7 of the data scale) of the same point, and no farther from the
        # rows in sum.
        reference = geometric_median(members)
        np.testing.assert_allclose(medians[m], reference, atol=1e-6)
        spread = np.linalg.norm(members - medians[m], axis=1).sum()
        assert spread <= np.linalg.norm(members - reference, axis=1).sum() + 1e-9
    # Cached per (k, seed): the same objects come back.
    assert pool_communities(view, 3, seed=0)[1] is labels


def test_rows_outside_the_sample_join_their_nearest_clustered_row(monkeypatch):
    monkeypatch.setattr(_communities, "_COMMUNITY_SAMPLE", 45)
    X, group = _groups(n_per=40)
    view = PoolView(X)
    rows, labels, _ = pool_communities(view, 3, seed=1)
    assert rows.size == 45
    everyone = community_of(view, np.arange(X.shape[0]), rows, labels)
    np.testing.assert_array_equal(everyone[rows], labels)
    assert _same_partition(everyone, group)


@pytest.mark.parametrize("sparse", [False, True])
def test_community_of_one_row_or_a_few_is_its_nearest_clustered_row_s(monkeypatch, sparse):
    # One new label at a time (the common case in a round) and a few at once,
    # against the brute-force nearest clustered row.
    import scipy.sparse as sp

    monkeypatch.setattr(_communities, "_COMMUNITY_SAMPLE", 45)
    X, _ = _groups(n_per=40)
    view = PoolView(sp.csr_matrix(X) if sparse else X)
    rows, labels, _ = pool_communities(view, 3, seed=1)
    Z = view.Z.toarray() if sparse else view.Z
    outside = np.setdiff1d(np.arange(X.shape[0]), rows)
    expected = labels[(Z[outside] @ Z[rows].T).argmax(axis=1)]
    for i in outside[:3]:
        assert community_of(view, np.array([i]), rows, labels)[0] == expected[outside == i][0]
    np.testing.assert_array_equal(community_of(view, outside, rows, labels), expected)


def test_a_pool_too_small_to_cut_leaves_the_centres_alone():
    view = PoolView(np.eye(3)[[0, 1, 2, 0, 1]] + 0.01)
    centers = np.arange(6.0).reshape(2, 3)
    out = anchor_centres(centers, view, np.array([0, 1]), np.array([0, 1]), 2, seed=0)
    np.testing.assert_array_equal(out, centers)
    assert out is not centers


def _pulled_classes():
    """Three groups and four-label classes pulled by a quarter, not at all, and a half.

    Class 0: 3 labels in group 0, 1 in group 2 (a quarter outside).
    Class 1: 2 labels in group 1, none outside (stays).
    Class 2: 2 labels in group 2, 2 in group 1 (half outside); group 2's
    plurality is class 2 (2 against class 0's 1).
    Returns the view, labeled rows, labels, their mean centres and, per
    class, the median of its home community.
    """
    X, group = _groups()
    view = PoolView(X)
    _, labels, medians = pool_communities(view, 3, seed=0)
    positions = np.array([0, 1, 2, 70, 30, 31, 60, 61, 32, 33])
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    centers = np.stack([view.Z[positions[y == c]].mean(axis=0) for c in range(3)])
    home_median = [medians[labels[group == g][0]] for g in range(3)]
    return view, positions, y, centers, home_median


def test_each_class_moves_by_the_share_of_its_labels_outside_its_community():
    view, positions, y, centers, home = _pulled_classes()
    out = anchor_centres(centers, view, positions, y, 3, seed=0)
    np.testing.assert_allclose(out[0], 0.25 * home[0] + 0.75 * centers[0])
    np.testing.assert_allclose(out[1], centers[1])
    np.testing.assert_allclose(out[2], 0.5 * home[2] + 0.5 * centers[2])


def test_the_pull_fades_with_the_labels_of_the_class():
    # With fade_after=2, class 0 (4 labels) keeps half its weight,
    # 0.25 * 2 / 4, and class 2 (4 labels) 0.5 * 2 / 4; with fade_after=4
    # nothing fades.
    view, positions, y, centers, home = _pulled_classes()
    faded = anchor_centres(centers, view, positions, y, 3, seed=0, fade_after=2)
    np.testing.assert_allclose(faded[0], 0.125 * home[0] + 0.875 * centers[0])
    np.testing.assert_allclose(faded[1], centers[1])
    np.testing.assert_allclose(faded[2], 0.25 * home[2] + 0.75 * centers[2])
    np.testing.assert_allclose(anchor_centres(centers, view, positions, y, 3, seed=0, fade_after=4),
                               anchor_centres(centers, view, positions, y, 3, seed=0))


def test_the_filter_passes_its_fading_to_the_anchor(monkeypatch):
    seen = []
    real = _communities.anchor_centres

    def spy(*args, **kwargs):
        seen.append(kwargs.get("fade_after"))
        return real(*args, **kwargs)

    import skal.filters._centroid as centroid_module

    monkeypatch.setattr(centroid_module, "anchor_centres", spy)
    X, positions, y = _three_wrong_answers()
    CentroidFilter(anchor_fade_after=3, random_state=0).fit_filter(
        X[positions], y, X_pool=X, sample_indices=positions)
    CentroidFilter(random_state=0).fit_filter(X[positions], y, X_pool=X, sample_indices=positions)
    CentroidFilter(anchor_fade_after=None, random_state=0).fit_filter(
        X[positions], y, X_pool=X, sample_indices=positions)
    # The default fades after 5 labels; None turns the fading off.
    assert seen == [3, 5, None]


def test_a_community_without_two_labels_or_led_by_another_class_does_not_pull():
    X, group = _groups()
    view = PoolView(X)
    # Class 0 has a single label in group 0; class 1 has two labels in group 2,
    # where class 2 has three; class 2's labels are all at home.
    positions = np.array([0, 60, 61, 62, 63, 64, 30])
    y = np.array([0, 1, 1, 2, 2, 2, 1])
    centers = np.stack([view.Z[positions[y == c]].mean(axis=0) for c in range(3)])
    out = anchor_centres(centers, view, positions, y, 3, seed=0)
    # Hungarian: group 0 -> 0 (1 vote: too few), group 2 -> 2, group 1 -> 1 (1 vote).
    np.testing.assert_allclose(out, centers)


def test_filter_judges_by_the_anchored_centres():
    # Three wrong answers "1" sit together at the edge of group 0 and drag
    # class 1's centre there, so the labels' own centres keep them; the pool
    # pulls class 1's centre three fifths of the way back to group 1, and the
    # wrong answers are then doubted.
    X, positions, y = _three_wrong_answers()
    plain = CentroidFilter(cluster_agreement=False, anchor_to_pool=False, random_state=0)
    anchored = CentroidFilter(cluster_agreement=False, anchor_to_pool=True, random_state=0)
    keep_plain = plain.fit_filter(X[positions], y, sample_indices=positions, X_pool=X)
    keep = anchored.fit_filter(X[positions], y, sample_indices=positions, X_pool=X)
    assert keep_plain.all()
    np.testing.assert_array_equal(keep, [True] * 4 + [False] * 3 + [True] * 2)
    view = PoolView(X)
    _, labels, medians = pool_communities(
        view, 2, seed=int(np.random.default_rng(0).integers(0, 2**31 - 1, size=2)[1]))
    np.testing.assert_allclose(anchored.centers_[0], plain.centers_[0])
    np.testing.assert_allclose(anchored.centers_[1],
                               0.6 * medians[labels[30]] + 0.4 * plain.centers_[1])


def test_anchoring_leaves_the_pool_opinion_clustering_as_it_was(monkeypatch):
    # The option reads its seed from a copy of the stream, so the pool
    # opinion's k-means gets the seed it gets without the option.
    import skal.filters._centroid as centroid_module

    seeds = []
    real = centroid_module.match_clusters_to_classes

    def recording(view, positions, y, n_classes, seed):
        seeds.append(seed)
        return real(view, positions, y, n_classes, seed)

    monkeypatch.setattr(centroid_module, "match_clusters_to_classes", recording)
    X, group = _groups(n_per=30)
    positions = np.array([0, 1, 2, 3, 30, 31, 32, 33, 60, 61, 62, 63])
    y = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0])  # rows 3, 33, 63 wrong
    CentroidFilter(random_state=5, anchor_to_pool=False, pool_clusters="kmeans").fit_filter(
        X[positions], y, sample_indices=positions, X_pool=X)
    CentroidFilter(random_state=5, anchor_to_pool=True, pool_clusters="kmeans").fit_filter(
        X[positions], y, sample_indices=positions, X_pool=X)
    assert len(seeds) == 2 and seeds[0] == seeds[1] is not None


def test_anchor_to_pool_without_a_pool_changes_nothing():
    X, _ = _groups(n_per=10)
    y = np.repeat([0, 1, 2], 10)
    y[[0, 11]] = [2, 0]
    a = CentroidFilter(cluster_agreement=False, anchor_to_pool=False).fit_filter(X, y)
    b = CentroidFilter(cluster_agreement=False, anchor_to_pool=True).fit_filter(X, y)
    np.testing.assert_array_equal(a, b)


def test_sparse_pool_and_unlabeled_rows_give_the_dense_pool_s_decisions():
    import scipy.sparse as sp

    X, positions, y = _three_wrong_answers()
    f = CentroidFilter(cluster_agreement=False, anchor_to_pool=True, random_state=0)
    dense = f.fit_filter(X[positions], y, sample_indices=positions, X_pool=X)
    Xs = sp.csr_matrix(X)
    sparse = f.fit_filter(Xs[positions], y, sample_indices=positions, X_pool=Xs)
    np.testing.assert_array_equal(sparse, dense)
    # The pool given as the unlabeled rows instead (stacked after the labeled ones).
    rest = np.setdiff1d(np.arange(X.shape[0]), positions)
    stacked = f.fit_filter(X[positions], y, X_unlabeled=X[rest])
    np.testing.assert_array_equal(stacked, dense)


def test_the_knn_graph_is_built_once_per_pool_and_nothing_is_cut_without_two_labels(monkeypatch):
    import sklearn.neighbors

    calls = []
    real = sklearn.neighbors.kneighbors_graph

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sklearn.neighbors, "kneighbors_graph", counting)
    X, group = _groups(n_per=20, k=3)
    view = PoolView(X)
    one_label_each = anchor_centres(np.eye(3), view, np.array([0, 20, 40]), np.arange(3), 3, seed=2)
    np.testing.assert_array_equal(one_label_each, np.eye(3))
    assert calls == [] and "_communities" not in view.__dict__
    three = pool_communities(view, 3, seed=2)[1]
    four = pool_communities(view, 4, seed=2)[1]
    assert len(calls) == 1
    assert _same_partition(three, group) and len(set(four.tolist())) >= 3


def test_a_graph_of_more_components_than_classes_is_not_cut():
    # Three separate groups and two classes: no single cut into two
    # communities exists, so no centre moves and the filter decides as
    # without the anchor.
    X, _ = _groups(n_per=20, k=3)
    view = PoolView(X)
    _, labels, medians = pool_communities(view, 2, seed=0)
    assert labels is None and medians is None
    centres = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    positions = np.array([0, 1, 2, 20, 21, 22, 40])
    y = np.array([0, 0, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(anchor_centres(centres, view, positions, y, 2, seed=0), centres)
    anchored = CentroidFilter(random_state=0).fit_filter(
        X[positions], y, X_pool=X, sample_indices=positions)
    plain = CentroidFilter(anchor_to_pool=False, random_state=0).fit_filter(
        X[positions], y, X_pool=X, sample_indices=positions)
    np.testing.assert_array_equal(anchored, plain)
    # Three classes on the same pool: one community per group.
    assert pool_communities(view, 3, seed=0)[1] is not None


def test_anchor_fade_after_must_be_a_positive_integer():
    X, positions, y = _three_wrong_answers()
    for bad in (0, 2.5, "5"):
        with pytest.raises((ValueError, TypeError), match="anchor_fade_after"):
            CentroidFilter(anchor_fade_after=bad).fit_filter(
                X[positions], y, X_pool=X, sample_indices=positions)
