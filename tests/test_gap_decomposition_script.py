"""The gap-decomposition benchmark tells the truth to exactly the side it names."""

import os
import sys

import numpy as np
import pytest

from skal import NoisyOracle
from skal._nas import _steps
from skal.datasets import load_digits_embeddings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "benchmarks"))


@pytest.fixture
def digits_600(monkeypatch):
    """600 digits rows; the engine's steps the script replaces are put back afterwards."""
    for name in ("selection_covering", "training_positions", "training_set"):
        monkeypatch.setattr(_steps, name, getattr(_steps, name))
    monkeypatch.setattr(_steps, "_truth_hooks", False, raising=False)
    X, y = load_digits_embeddings(return_X_y=True)
    return X[:600], y[:600]


def _run(row_name, X, oracle, rounds=2, centres=None):
    import nas_gap_decomposition as gap

    row = next(r for r in gap.rows("ProbCover", oracle.y_true, centres) if r.name == row_name)
    learner = row.make(0, oracle.is_noisy_)
    for _ in range(rounds):
        learner.fit_round(X, oracle, budget=20)
    return learner


def test_truth_reaches_only_its_side(digits_600):
    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)

    trained = _run("default, training told the truth", X, oracle)
    truly_right = ~oracle.is_noisy_[trained.labeled_idx_]
    # The model learned from the truly right labels, as given, and nothing else ...
    np.testing.assert_array_equal(trained._fit_positions, np.flatnonzero(truly_right))
    # ... while selection still follows the filter (not every wrong label is flagged).
    covering = _steps.selection_covering(trained)
    np.testing.assert_array_equal(covering, trained.labeled_idx_[trained.clean_mask_])
    assert not np.array_equal(covering, trained.labeled_idx_[truly_right])

    selected = _run("default, selection told the truth", X, oracle)
    truly_right = ~oracle.is_noisy_[selected.labeled_idx_]
    np.testing.assert_array_equal(_steps.selection_covering(selected),
                                  selected.labeled_idx_[truly_right])
    # Training follows the filter: its kept labels plus relabelled doubted ones.
    np.testing.assert_array_equal(selected._fit_positions, _steps.training_positions(selected))
    assert not np.array_equal(selected._fit_positions, np.flatnonzero(truly_right))

    plain = _run("default", X, oracle)
    np.testing.assert_array_equal(_steps.selection_covering(plain),
                                  plain.labeled_idx_[plain.clean_mask_])
    np.testing.assert_array_equal(plain._fit_positions, _steps.training_positions(plain))


def test_the_round_split_rows_tell_selection_the_truth_in_their_rounds_only(digits_600):
    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    def covering_at(row_name):
        """The covering set each share was picked with, by round."""
        import nas_gap_decomposition as gap

        row = next(r for r in gap.rows("ProbCover", y) if r.name == row_name)
        learner = row.make(0, oracle.is_noisy_)
        record = []
        hooked = _steps.selection_covering

        def spy(est):
            out = hooked(est)
            record.append((est.n_rounds_done_, out.copy(), est._ledger.idx.copy(),
                           est._ledger.clean_mask.copy()))
            return out
        for _ in range(2):
            _steps.selection_covering = spy
            try:
                learner.fit_round(X, oracle, budget=20)
            finally:
                _steps.selection_covering = hooked
        return record

    for name, truth_rounds in (("default, selection told the truth in round 1 only", {0}),
                               ("default, selection told the truth after round 1", {1})):
        record = covering_at(name)
        assert {r for r, *_ in record} == {0, 1}
        for round_done, covering, idx, clean in record:
            if round_done in truth_rounds:
                expected = idx[~oracle.is_noisy_[idx]]
            else:
                expected = idx[clean]
            np.testing.assert_array_equal(covering, expected)
        # In a round the truth is not told, the filter's verdicts differ from it
        # somewhere, so the check above tells the two apart.
        assert any(not np.array_equal(c, i[~oracle.is_noisy_[i]])
                   for r, c, i, _ in record if r not in truth_rounds)

    import nas_gap_decomposition as gap

    train_only = next(r for r in gap.rows("ProbCover", y) if r.name == "default's filter, train only")
    learner = train_only.make(0, oracle.is_noisy_)
    assert learner.noise_aware is False and learner.train_on == "relabel"


@pytest.mark.parametrize("row_name, expected", [
    ("default, selection without the wrong labels the filter kept", lambda clean, right: clean & right),
    ("default, selection with the right labels the filter doubted", lambda clean, right: clean | right),
])
def test_each_selection_mistake_is_undone_alone(digits_600, row_name, expected):
    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=1)
    est = _run(row_name, X, oracle, rounds=4)
    clean = est._ledger.clean_mask
    right = ~oracle.is_noisy_[est.labeled_idx_]
    # Both kinds of mistake occur, so each row differs from the filter's verdicts ...
    assert (clean & ~right).any() and (~clean & right).any()
    # ... by exactly the one kind it undoes; training stays the default's.
    np.testing.assert_array_equal(_steps.selection_covering(est),
                                  est.labeled_idx_[expected(clean, right)])
    np.testing.assert_array_equal(est._fit_positions, _steps.training_positions(est))


def test_each_training_mistake_is_undone_alone(digits_600):
    X, y = digits_600
    # An annotator under which all three kinds of mistake occur in 4 rounds.
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=1)

    est = _run("training without the wrong labels the filter kept", X, oracle, rounds=4)
    ledger = est._ledger
    right = ~oracle.is_noisy_[est.labeled_idx_]
    kept, proposed = ledger.clean_mask, ledger.proposed
    default_positions = np.flatnonzero(kept | (proposed >= 0))
    np.testing.assert_array_equal(
        est._fit_positions, default_positions[~(kept & ~right)[default_positions]])
    assert (kept & ~right).any() and (~kept & (proposed >= 0)).any()

    est = _run("training without the wrong relabels", X, oracle, rounds=4)
    ledger = est._ledger
    kept, proposed = ledger.clean_mask, ledger.proposed
    true_class = np.searchsorted(est.classes_, y[est.labeled_idx_])
    wrong_relabel = ~kept & (proposed >= 0) & (proposed != true_class)
    assert wrong_relabel.any()
    default_positions = np.flatnonzero(kept | (proposed >= 0))
    np.testing.assert_array_equal(est._fit_positions,
                                  default_positions[~wrong_relabel[default_positions]])

    est = _run("training with the right labels the filter dropped", X, oracle, rounds=4)
    ledger = est._ledger
    right = ~oracle.is_noisy_[est.labeled_idx_]
    assert (~ledger.clean_mask & (ledger.proposed < 0) & right).any()
    _, y_train, _ = _steps.training_set(est, est._fit_positions)
    # Every right label is trained on, under its given label.
    assert set(np.flatnonzero(right)) <= set(est._fit_positions.tolist())
    given = oracle(est.labeled_idx_)
    in_fit = right[est._fit_positions]
    np.testing.assert_array_equal(y_train[in_fit], given[est._fit_positions[in_fit]])


@pytest.mark.parametrize("cluster_agreement", [True, False])
def test_the_rows_told_the_centres_judge_by_them(digits_600, cluster_agreement):
    import nas_gap_decomposition as gap

    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    centres = gap.true_class_centres(X, y)
    # Each centre is the geometric median of its class's unit rows.
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    for k in (0, 7):
        d = np.linalg.norm(Z[y == k] - centres[k], axis=1)
        assert d.sum() <= np.linalg.norm(Z[y == k] - Z[y == k].mean(axis=0), axis=1).sum()
    name = "default, told the class centres" + ("" if cluster_agreement else ", no pool clusters")
    est = _run(name, X, oracle, rounds=3, centres=centres)
    flt = est.noise_filter_
    assert flt.cluster_agreement is cluster_agreement
    np.testing.assert_allclose(flt.centers_, centres[flt.classes_.astype(int)])
    # Without the pool's opinion, a judged label is kept iff its own class's
    # true centre is (one of) the nearest.
    if not cluster_agreement:
        labels = np.asarray(est.labels_).astype(int)
        judged = np.bincount(labels, minlength=10)[labels] >= flt.min_class_count
        Zl = Z[est.labeled_idx_]
        seen = flt.classes_.astype(int)
        dist = np.linalg.norm(Zl[:, None, :] - centres[seen][None], axis=2)
        own = dist[np.arange(len(labels)), np.searchsorted(seen, labels)]
        expected = ~judged | (own <= dist.min(axis=1) + 1e-12)
        np.testing.assert_array_equal(est.clean_mask_, expected)
    assert gap.rows("ProbCover", oracle.y_true)[-1].name != name


def _two_groups(seed):
    """A pool of two tight groups of 20 rows (class 0 along the first axis, class 1 the second)."""
    rng = np.random.default_rng(seed)
    left = np.c_[np.ones(20), 0.05 * rng.standard_normal(20)]
    right = np.c_[0.05 * rng.standard_normal(20), np.ones(20)]
    return np.vstack([left, right]), np.r_[np.zeros(20, int), np.ones(20, int)]


def test_the_row_told_the_names_pulls_each_class_to_its_true_community():
    import nas_gap_decomposition as gap

    from skal.filters import CentroidFilter
    from skal.filters._geometric_median import geometric_median

    X_pool, y_pool = _two_groups(seed=0)
    # Class 0: one right answer (row 0) and one wrong (row 20); class 1: row 21.
    idx, labels = np.array([0, 20, 21]), np.array([0, 0, 1])
    told = gap.TrueNamesFilter(y_pool, random_state=0)
    told.fit_filter(X_pool[idx], labels, X_pool=X_pool, sample_indices=idx)
    Z = X_pool / np.linalg.norm(X_pool, axis=1, keepdims=True)
    own = (Z[0] + Z[20]) / 2  # a two-label class's geometric median: their midpoint
    # Class 0 is named to the left community (all of its pool rows), holds half of
    # its labels there, and moves half-way to that community's median ...
    # (The community's median is Weiszfeld's iteration from the mean, the
    # reference's from the coordinate-wise median: on unit rows in 2-d, where
    # the iteration crawls, their stops differ by up to about 4e-3. The pull
    # weights tested here move the centre by tenths.)
    np.testing.assert_allclose(told.centers_[0], 0.5 * geometric_median(Z[:20]) + 0.5 * own,
                               atol=5e-3)
    # ... class 1's only label sits in its community: its centre stays on it.
    np.testing.assert_allclose(told.centers_[1], Z[21], atol=1e-9)
    # The default needs two labels of a class in one community to move it.
    default = CentroidFilter(random_state=0)
    default.fit_filter(X_pool[idx], labels, X_pool=X_pool, sample_indices=idx)
    np.testing.assert_allclose(default.centers_[0], own, atol=1e-9)


def test_the_unguarded_told_names_pull_by_the_whole_weight_without_the_pool_clusters():
    import nas_gap_decomposition as gap

    from skal.filters._geometric_median import geometric_median

    X_pool, y_pool = _two_groups(seed=1)
    # Class 0: twelve labels, six right (left rows) and six wrong (right rows);
    # class 1: one right label. Class 0's pull weight is 6 / 12 = 0.5.
    idx = np.r_[np.arange(6), np.arange(20, 26), 30]
    labels = np.r_[np.zeros(12, int), 1]
    Z = X_pool / np.linalg.norm(X_pool, axis=1, keepdims=True)
    own = geometric_median(Z[idx[:12]])
    target = geometric_median(Z[:20])
    faded = gap.TrueNamesFilter(y_pool, random_state=0)
    unguarded = gap.TrueNamesFilter(y_pool, anchor_fade_after=None, cluster_agreement=False,
                                    random_state=0)
    for flt in (faded, unguarded):
        flt.fit_filter(X_pool[idx], labels, X_pool=X_pool, sample_indices=idx)
    # The default fades a twelve-label class's pull by 5 / 12; unfaded it is whole.
    w = 0.5 * 5 / 12
    # atol: the community's median and ``target`` start Weiszfeld's iteration
    # at different points (see the test above).
    np.testing.assert_allclose(faded.centers_[0], w * target + (1 - w) * own, atol=5e-3)
    np.testing.assert_allclose(unguarded.centers_[0], 0.5 * target + 0.5 * own, atol=5e-3)
    # Without the pool clusters' opinion, the centroid rule decides alone: every
    # wrong label of class 0 (now nearer class 1's centre) is doubted.
    assert unguarded.cluster_classes_ is None
    np.testing.assert_array_equal(unguarded.clean_mask_[6:12], False)
    names = [r.name for r in gap.rows("MaxHerding", y_pool)]
    assert "default, told which community is which class, unfaded, no pool clusters" in names
    assert "default, unfaded, no pool clusters" in names


def test_the_detector_rows_doubt_kept_labels_by_their_fixed_draws(digits_600):
    import nas_gap_decomposition as gap

    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=1)
    name = gap.detector_row_name(0.5, 0.25)
    row = next(r for r in gap.rows("ProbCover", y, detectors=[(0.5, 0.25)]) if r.name == name)
    est = row.make(3, oracle.is_noisy_)
    draw = est._detector_draw.copy()
    for _ in range(4):
        est.fit_round(X, oracle, budget=20)
    # The draws are the seed's, one per pool point, and stay fixed through the run.
    np.testing.assert_array_equal(draw, np.random.default_rng([3, 2026]).random(y.size))
    np.testing.assert_array_equal(est._detector_draw, draw)
    idx, clean = est.labeled_idx_, est._ledger.clean_mask
    wrong, u = oracle.is_noisy_[idx], draw[idx]
    told = clean & wrong & (u < 0.5)
    doubted_right = clean & ~wrong & (u < 0.25)
    # Both kinds of extra doubt occur, and a kept label escapes each draw too ...
    assert told.any() and doubted_right.any() and (clean & ~told & ~doubted_right).any()
    # ... so the covering set is the filter's kept labels less exactly those two.
    np.testing.assert_array_equal(_steps.selection_covering(est),
                                  idx[clean & ~told & ~doubted_right])
    # Training stays the default's.
    np.testing.assert_array_equal(est._fit_positions, _steps.training_positions(est))
    # Recall 1 with no false positives is the row without the kept wrong labels.
    full = next(r for r in gap.rows("ProbCover", y, detectors=[(1.0, 0.0)])
                if r.name == gap.detector_row_name(1.0, 0.0)).make(3, oracle.is_noisy_)
    full.fit_round(X, oracle, budget=20)
    np.testing.assert_array_equal(
        _steps.selection_covering(full),
        full.labeled_idx_[full._ledger.clean_mask & ~oracle.is_noisy_[full.labeled_idx_]])


def test_the_detector_option_reads_two_probabilities():
    import argparse

    import nas_gap_decomposition as gap

    assert gap._detector_pair("0.5,0.02") == (0.5, 0.02)
    for bad in ("0.5", "a,b", "1.5,0", "0.5,-0.1"):
        with pytest.raises(argparse.ArgumentTypeError):
            gap._detector_pair(bad)


def test_the_detector_option_adds_its_rows_to_those_named(monkeypatch):
    import nas_gap_decomposition as gap

    ran = {}

    def fake_run_grid(grid, *args, **kwargs):
        ran["rows"] = [(r.strategy, r.name) for r in grid]
        return []
    monkeypatch.setattr(gap, "run_grid", fake_run_grid)
    monkeypatch.setattr(gap, "write_records", lambda records, out: None)
    monkeypatch.setattr(gap, "accuracy_by_seed", lambda records, keys: {})
    gap.main(["--strategies", "MaxHerding", "--row", "default", "--detector", "0.5,0.02",
              "--detector", "1,0", "--seeds", "1"])
    assert ran["rows"] == [("MaxHerding", "default"),
                           ("MaxHerding", gap.detector_row_name(0.5, 0.02)),
                           ("MaxHerding", gap.detector_row_name(1.0, 0.0))]
