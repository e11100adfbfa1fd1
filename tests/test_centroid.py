"""CentroidFilter and the geometric median behind it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter
from skal.filters._geometric_median import geometric_median
from skal.noise import make_noisy_labels


def test_geometric_median_of_a_symmetric_set_is_its_centre():
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]]) + [3.0, -2.0]
    np.testing.assert_allclose(geometric_median(X), [3.0, -2.0], atol=1e-7)


def test_geometric_median_of_three_collinear_points_is_the_middle_one():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    np.testing.assert_allclose(geometric_median(X), [1.0, 0.0], atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), n_out=st.integers(0, 9))
def test_geometric_median_resists_a_minority_of_outliers(seed, n_out):
    rng = np.random.default_rng(seed)
    inliers = rng.normal(scale=0.1, size=(20, 3))
    outliers = rng.normal(scale=0.1, size=(n_out, 3)) + 100.0
    z = geometric_median(np.vstack([inliers, outliers]))
    # Fewer than half the points are outliers: the centre stays with the
    # inliers, while the mean would move by up to 100 * 9 / 29 ~ 31 per axis.
    assert np.linalg.norm(z) < 1.0
    # Optimality up to the iteration's tolerance: no data point has a
    # noticeably smaller sum of distances.
    data = np.vstack([inliers, outliers])
    cost = [np.linalg.norm(data - c, axis=1).sum() for c in (z, *inliers)]
    assert cost[0] <= min(cost[1:]) * (1 + 1e-7)


def test_scores_by_hand_with_mean_centres():
    X = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [10.0, 0.0], [12.0, 0.0], [11.0, 0.0],
                  [3.0, 0.0]])
    y = np.array([0, 0, 0, 1, 1, 1, 1])  # the last label is wrong
    f = CentroidFilter("mean", normalize=False)
    mask = f.fit_filter(X, y)
    c0, c1 = 1.0, (10 + 12 + 11 + 3) / 4
    np.testing.assert_allclose(f.centers_[:, 0], [c0, c1])
    own = np.abs(X[:, 0] - np.where(y == 0, c0, c1))
    other = np.abs(X[:, 0] - np.where(y == 0, c1, c0))
    np.testing.assert_allclose(f.scores_, other - own)
    np.testing.assert_array_equal(mask, [True] * 6 + [False])



def test_the_rule_judges_by_the_centres_class_centres_returns():
    # The analysis of the gap (benchmarks/nas_gap_decomposition.py) hands the
    # rule other centres through _class_centres; every decision must follow them.
    class GivenCentres(CentroidFilter):
        def _class_centres(self, Z, y, n_classes):
            return np.array([[0.0, 0.0], [10.0, 0.0]])

    X = np.column_stack([[4.0, 5.0, 6.0, 7.0, 8.0, 9.0], np.zeros(6)])
    y = np.array([0, 0, 0, 1, 1, 1])
    # With the labels' own centres (5 and 8) every label is kept ...
    assert CentroidFilter("mean", normalize=False, cluster_agreement=False).fit_filter(X, y).all()
    # ... with the given ones (0 and 10), x = 6 is nearer the other class's.
    f = GivenCentres("mean", normalize=False, cluster_agreement=False)
    mask = f.fit_filter(X, y)
    np.testing.assert_allclose(f.centers_, [[0.0, 0.0], [10.0, 0.0]])
    np.testing.assert_array_equal(mask, [True, True, False, True, True, True])
    np.testing.assert_allclose(f.scores_, [2.0, 0.0, -2.0, 4.0, 6.0, 8.0])


def test_proposed_labels_by_hand():
    # Three classes on a line (label values are strings); a doubted label is
    # proposed the class of the nearest *other* centre, a kept one keeps its label.
    X = np.array([[0.0], [1.0], [2.0], [10.0], [11.0], [12.0], [20.0], [21.0], [22.0],
                  [11.5], [1.5]])
    X = np.column_stack([X, np.zeros(11)])
    y = np.array(["a", "a", "a", "b", "b", "b", "c", "c", "c", "c", "c"])
    f = CentroidFilter("median", normalize=False)
    mask = f.fit_filter(X, y)
    np.testing.assert_array_equal(mask, [True] * 9 + [False, False])
    assert f.proposed_labels_.tolist() == ["a", "a", "a", "b", "b", "b", "c", "c", "c", "b", "a"]
    # A class under min_class_count is kept unjudged and proposes nothing new.
    f2 = CentroidFilter("median", normalize=False, min_class_count=4)
    f2.fit_filter(X[:8], y[:8])
    assert f2.proposed_labels_.tolist() == y[:8].tolist()


def test_relabel_mode_trains_on_the_centroid_proposals():
    from skal import NoiseAwareActiveLearner, NoisyOracle, RandomSampling

    X, y = load_digits_embeddings(return_X_y=True)
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(cluster_agreement=False),
                                      train_on="relabel", budget=60, random_state=0)
    learner.fit_round(X, NoisyOracle(y, noise_rate=0.4, random_state=0))
    flt = learner.noise_filter_
    doubted = ~learner.clean_mask_
    assert doubted.any()
    # Every doubted label is kept for training with the filter's proposal instead.
    assert learner.train_idx_.size == learner.labeled_idx_.size
    given = np.asarray(learner.labels_)
    proposed = flt.proposed_labels_
    assert np.all(proposed[~doubted] == given[~doubted])
    assert np.all(proposed[doubted] != given[doubted])
    # The proposals fix most of the wrong labels they touch.
    assert np.mean(proposed[doubted] == y[learner.labeled_idx_][doubted]) > 0.6


def test_robust_centre_is_not_dragged_by_wrong_labels():
    # Class 1 has 5 true members far right and 4 wrong labels at the far left;
    # the mean centre moves left enough to keep a wrong label, the median not.
    X = np.array([[0.0], [0.5], [1.0], [1.5], [2.0], [20.0], [21.0], [22.0], [23.0], [24.0],
                  [0.2], [0.7], [1.2], [1.7]])
    X = np.column_stack([X, np.zeros(14)])
    y = np.array([0] * 5 + [1] * 9)
    robust = CentroidFilter(normalize=False).fit_filter(X, y)
    np.testing.assert_array_equal(robust, [True] * 10 + [False] * 4)


def test_reaches_target_on_digits():
    X, y = load_digits_embeddings(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))[:500]
    y_noisy, is_noisy = make_noisy_labels(y[perm], 0.3, random_state=0)
    mask = CentroidFilter().fit_filter(X[perm], y_noisy)
    tp = np.sum(~mask & is_noisy)
    assert 2 * tp / (np.sum(~mask) + is_noisy.sum()) >= 0.8


def test_bad_center():
    with pytest.raises(InvalidParameterError, match="The 'center' parameter of CentroidFilter"):
        CentroidFilter("mode").fit_filter(np.eye(6, 2), [0, 0, 0, 1, 1, 1])


def test_geometric_median_of_a_sparse_matrix_equals_the_dense_one():
    import scipy.sparse as sp

    rng = np.random.default_rng(0)
    X = np.where(rng.random((50, 30)) < 0.2, rng.normal(size=(50, 30)), 0.0)
    np.testing.assert_allclose(geometric_median(sp.csr_matrix(X)), geometric_median(X),
                               atol=1e-5)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5])
def test_limit_to_noise_rate_caps_flags_at_the_fitted_rate(rate):
    X, y = load_digits_embeddings(return_X_y=True)
    idx = np.random.default_rng(1).choice(len(y), 200, replace=False)
    y_noisy, noisy = make_noisy_labels(y[idx], rate, random_state=1)
    plain = CentroidFilter()
    keep = plain.fit_filter(X[idx], y_noisy)
    capped = CentroidFilter(limit_to_noise_rate=True)
    keep_c = capped.fit_filter(X[idx], y_noisy)
    allowed = round(capped.noise_rate_ * 200)
    # Never more flags than the fitted rate allows, only ever fewer than the
    # plain decision, and the ones left are the most negative margins.
    assert (~keep_c).sum() == min((~keep).sum(), allowed)
    assert np.all(keep_c >= keep)
    if (~keep_c).any() and keep_c[~keep].any():
        assert capped.scores_[~keep_c].max() <= capped.scores_[keep_c & ~keep].min()
        assert capped.threshold_ == capped.scores_[keep_c & ~keep].min()
    # Relabel proposals only for what is still flagged.
    changed = capped.proposed_labels_ != y_noisy
    np.testing.assert_array_equal(changed, ~keep_c)
    if rate == 0.0:
        # Without noise the plain decision flags correct labels near other
        # classes (13 of 200 here); the fitted rate (0.02) cuts that to 4.
        assert (~keep).sum() >= 10 and (~keep_c).sum() <= (~keep).sum() / 2
    else:
        # With real noise, the flags the cap removes are the least doubtful:
        # the ones left are at least as often truly wrong.
        precision = noisy[~keep].mean()
        assert noisy[~keep_c].mean() >= precision - 1e-12
        assert (~keep_c)[noisy].mean() > 0.6


def test_limit_to_noise_rate_hand_case():
    # Two tight classes; one point of class 0 sits on class 1's side but is
    # labeled 0. With 1 flagged in 21 labels and a fitted rate near 1/21 the
    # cap keeps that one flag; with nothing wrong it is gone.
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0.0]) + 0.01 * rng.normal(size=(10, 2))
    b = np.array([0.0, 1.0]) + 0.01 * rng.normal(size=(10, 2))
    X = np.vstack([a, b, [[0.1, 1.0]]])
    y = np.r_[np.zeros(10, int), np.ones(10, int), 0]
    f = CentroidFilter(limit_to_noise_rate=True).fit(X, y)
    plain = CentroidFilter().fit(X, y)
    assert not plain.clean_mask_[20]
    assert f.clean_mask_.sum() == 21 - min(1, round(f.noise_rate_ * 21))


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_propose_below_relabels_only_labels_more_likely_wrong(rate):
    X, y = load_digits_embeddings(return_X_y=True)
    idx = np.random.default_rng(2).choice(len(y), 150, replace=False)
    y_noisy, noisy = make_noisy_labels(y[idx], rate, random_state=2)
    always = CentroidFilter(propose_below=None).fit(X[idx], y_noisy)
    f = CentroidFilter().fit(X[idx], y_noisy)
    assert f.propose_below == 0.5
    # The flags themselves do not change; only which doubted labels get a proposal.
    np.testing.assert_array_equal(f.clean_mask_, always.clean_mask_)
    doubted = ~f.clean_mask_
    none = np.array([p is None for p in f.proposed_labels_])
    np.testing.assert_array_equal(none, doubted & (f.clean_proba_ >= 0.5))
    has = doubted & ~none
    np.testing.assert_array_equal(f.proposed_labels_[has], always.proposed_labels_[has])
    np.testing.assert_array_equal(f.proposed_labels_[~doubted].astype(int), y_noisy[~doubted])
    if rate == 0.0:
        # Nothing is wrong and the fitted rate is near 0: doubted labels are
        # dropped, not changed.
        assert doubted.sum() >= 5 and none[doubted].mean() > 0.8
    else:
        # Under heavy noise most doubted labels get their proposal.
        assert none[doubted].mean() < 0.3


def test_propose_below_reaches_relabel_training():
    from skal import NoiseAwareActiveLearner, RandomSampling

    X, y = load_digits_embeddings(return_X_y=True)
    flt = CentroidFilter(propose_below=0.5)
    learner = NoiseAwareActiveLearner(RandomSampling(), flt, train_on="relabel",
                                      budget=150, n_rounds=1, noise_rate=0.0, random_state=0)
    learner.fit(X[:900], y[:900])
    f = learner.noise_filter_
    doubted = ~f.clean_mask_
    dropped = doubted & np.array([p is None for p in f.proposed_labels_])
    # Dropped labels are not trained on; the rest are (kept or relabelled).
    assert dropped.any()
    assert learner.train_idx_.size == f.clean_mask_.size - dropped.sum()
    assert not np.isin(learner.labeled_idx_[dropped], learner.train_idx_).any()
