"""Ask/tell on NoiseAwareActiveLearner: query/teach/relabel over the same round engine as fit_round."""

from __future__ import annotations

import numpy as np
import pytest

from skal import (
    AUMFilter,
    CentroidFilter,
    MaxHerding,
    NoiseAwareActiveLearner,
    NoisyOracle,
    ProbCover,
    RandomSampling,
)
from skal._state import read_archive
from skal.datasets import load_digits_embeddings


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_embeddings(return_X_y=True)
    return X, y


@pytest.fixture
def blobs():
    rng = np.random.default_rng(0)
    centers = np.eye(3, 4) * 4
    y = np.repeat(np.arange(3), 20)
    X = centers[y] + rng.normal(scale=0.4, size=(60, 4))
    return X, y


def snapshot(learner, path):
    """The learner's whole saved state (JSON and arrays), for equality checks."""
    learner.save(path)
    state, arrays = read_archive(path)
    return state, {k: v.tobytes() + str(v.dtype).encode() for k, v in arrays.items()}


def ask_tell_rounds(learner, X, oracle, n_rounds):
    for _ in range(n_rounds):
        done = learner.n_rounds_done_ if "_ledger" in learner.__dict__ else 0
        while (learner.n_rounds_done_ if "_ledger" in learner.__dict__ else 0) == done:
            picks = learner.query(X)
            learner.teach(picks, oracle(picks))
    return learner


CONFIGS = [
    pytest.param(lambda: ProbCover(), lambda: AUMFilter(epochs=20), id="NPC+AUM"),
    pytest.param(lambda: ProbCover(), lambda: CentroidFilter(), id="NPC+Centroid"),
    pytest.param(lambda: MaxHerding(), lambda: CentroidFilter(), id="MaxHerding+NAS"),
]


@pytest.mark.parametrize("make_strategy, make_filter", CONFIGS)
def test_ask_tell_equals_fit_round(digits, make_strategy, make_filter):
    X, y = digits
    params = dict(budget=[20, 30], random_state=3, classes=np.arange(10))
    oracle_a = NoisyOracle(y, noise_rate=0.3, random_state=1)
    oracle_b = NoisyOracle(y, noise_rate=0.3, random_state=1)
    a = NoiseAwareActiveLearner(make_strategy(), make_filter(), **params)
    for _ in range(2):
        a.fit_round(X, oracle_a)
    b = ask_tell_rounds(NoiseAwareActiveLearner(make_strategy(), make_filter(), **params),
                        X, oracle_b, 2)
    assert np.array_equal(a.labeled_idx_, b.labeled_idx_)
    assert a.labels_.tolist() == b.labels_.tolist()
    assert np.array_equal(a.clean_mask_, b.clean_mask_)
    assert np.array_equal(a.clean_score_, b.clean_score_)
    assert [r["shares"] for r in a.history_] == [r["shares"] for r in b.history_] \
        == [[10, 10], [10, 10, 10]]
    assert [r["clean_mask"] for r in a.history_] == [r["clean_mask"] for r in b.history_]
    assert np.array_equal(a.predict(X), b.predict(X))
    # NAS really ran: the filter flagged something along the way.
    assert not a.clean_mask_.all()


def test_query_twice_returns_the_same_share_and_partial_answers_stay_asked(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=9,
                                      classes=[0, 1, 2], random_state=0)
    first = learner.query(X)
    assert first.dtype == np.int64 and first.size == 3          # shares of C = 3
    assert np.array_equal(learner.query(X), first)
    learner.teach(first[:1], y[first[:1]])
    assert np.array_equal(learner.query(X), first[1:])
    assert np.array_equal(learner.asked_idx_, first[1:])
    learner.teach(first[1:], y[first[1:]])
    second = learner.query(X)
    assert not np.isin(second, first).any()
    assert learner.labeled_idx_.tolist() == first.tolist()


def test_whole_round_asks_everything_left_and_says_so(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=9,
                                      classes=[0, 1, 2], random_state=0)
    share = learner.query(X)
    learner.teach(share, y[share])
    rest = learner.query(X, whole_round=True)
    assert rest.size == 6
    learner.teach(rest, y[rest])
    assert learner.n_rounds_done_ == 1
    record = learner.history_[0]
    assert record["whole_round"] is True and record["shares"] == [3, 6]
    assert record["n_labeled"] == 9 and learner.estimator_ is not None


BAD_TEACH = [
    (lambda asked, y: ([59 if 59 not in asked else 58], [0]), ValueError, "not asked"),
    (lambda asked, y: ([asked[0], asked[0]], [0, 0]), ValueError, "duplicates"),
    (lambda asked, y: ([60], [0]), ValueError, "outside the pool"),
    (lambda asked, y: ([-1], [0]), ValueError, "outside the pool"),
    (lambda asked, y: ([asked[0]], [7]), ValueError, "outside the known classes"),
    (lambda asked, y: (asked[:2], [0]), ValueError, "1 label"),
    (lambda asked, y: ([asked[0]], [0.5]), ValueError, "non-integer"),
    (lambda asked, y: ([1.5], [0]), TypeError, "integer pool indices"),
    (lambda asked, y: ([asked[0]], ["a"]), TypeError, "same label type"),
]


@pytest.mark.parametrize("make, exc, match", BAD_TEACH)
def test_bad_teach_leaves_the_state_exactly_as_it_was(blobs, tmp_path, make, exc, match):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=9,
                                      classes=[0, 1, 2], random_state=0)
    asked = learner.query(X)
    learner.teach(asked[:1], y[asked[:1]])
    asked = learner.query(X)
    before = snapshot(learner, tmp_path / "before.skal")
    indices, labels = make(asked.tolist(), y)
    with pytest.raises(exc, match=match):
        learner.teach(indices, labels)
    assert snapshot(learner, tmp_path / "after.skal") == before
    # and it goes on as if nothing happened
    learner.teach(asked, y[asked])
    assert learner.labeled_idx_.size == 3


def test_bad_relabel_leaves_the_state_exactly_as_it_was(blobs, tmp_path):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=6,
                                      classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, NoisyOracle(y))
    before = snapshot(learner, tmp_path / "before.skal")
    unlabeled = np.setdiff1d(np.arange(60), learner.labeled_idx_)[0]
    for indices, labels, match in [([unlabeled], [0], "no label yet"),
                                   ([learner.labeled_idx_[0]], [9], "outside the known classes"),
                                   (learner.labeled_idx_[:2], [0], "1 label")]:
        with pytest.raises(ValueError, match=match):
            learner.relabel(indices, labels)
        assert snapshot(learner, tmp_path / "after.skal") == before


def test_relabel_corrects_refits_and_keeps_both_answers(blobs):
    X, y = blobs
    wrong = y.copy()
    wrong[y == 0] = 1                              # the annotator calls every 0 a 1
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=30,
                                      classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, lambda idx: wrong[idx])
    assert 0 not in learner.estimator_.classes_
    zeros = learner.labeled_idx_[y[learner.labeled_idx_] == 0]
    learner.relabel(zeros, np.zeros(zeros.size, dtype=int))
    assert np.array_equal(np.array(learner.labels_.tolist()), y[learner.labeled_idx_])
    assert 0 in learner.estimator_.classes_
    assert learner.reviewed_.sum() == zeros.size
    assert learner.clean_mask_[learner.reviewed_].all()   # a reviewed label is believed
    assert [(c["index"], c["old"], c["new"], c["changed"]) for c in learner.corrections_] == \
        [(int(i), 1, 0, True) for i in zeros]
    # the round's history still shows what the annotator said first
    said = dict(zip(learner.history_[0]["picks"], learner.history_[0]["labels"]))
    assert all(said[int(i)] == 1 for i in zeros)


def test_ask_tell_across_processes_matches_one_process(digits, tmp_path):
    X, y = digits
    params = dict(budget=20, random_state=0, classes=np.arange(10))
    oracle = NoisyOracle(y, noise_rate=0.3, random_state=2)
    one = ask_tell_rounds(NoiseAwareActiveLearner(ProbCover(), CentroidFilter(), **params),
                          X, oracle, 2)
    path = tmp_path / "state.skal"
    NoiseAwareActiveLearner(ProbCover(), CentroidFilter(), **params).save(path)
    for _ in range(40):
        learner = NoiseAwareActiveLearner.load(path)      # a fresh "process" every step
        if "_ledger" in learner.__dict__ and learner.n_rounds_done_ == 2:
            break
        picks = learner.query(X)
        learner.save(path)
        learner = NoiseAwareActiveLearner.load(path)
        learner.teach(picks, oracle(picks), X=X)
        learner.save(path)
    assert np.array_equal(learner.labeled_idx_, one.labeled_idx_)
    assert np.array_equal(learner.clean_mask_, one.clean_mask_)
    assert np.array_equal(learner.predict(X), one.predict(X))


def test_teach_after_load_needs_the_pool(blobs, tmp_path):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=4, random_state=0)
    asked = learner.query(X)
    learner.save(tmp_path / "s.skal")
    loaded = NoiseAwareActiveLearner.load(tmp_path / "s.skal")
    with pytest.raises(ValueError, match="needs the pool"):
        loaded.teach(asked, y[asked])
    loaded.teach(asked, y[asked], X=X)
    assert loaded.n_rounds_done_ == 1


def test_labels_are_kept_when_the_filter_fails(blobs):
    X, y = blobs

    class Boom(CentroidFilter):
        fail = True

        def _fit_filter(self, *args, **kwargs):
            if Boom.fail:
                raise RuntimeError("filter crashed")
            return super()._fit_filter(*args, **kwargs)

    learner = NoiseAwareActiveLearner(RandomSampling(), Boom(), budget=6, classes=[0, 1, 2],
                                      random_state=0)
    first = learner.query(X)
    with pytest.raises(RuntimeError, match="filter crashed"):
        learner.teach(first, y[first])               # the share is complete: the filter runs
    assert learner.labeled_idx_.tolist() == first.tolist()
    Boom.fail = False
    second = learner.query(X)                        # judges the unjudged labels, then asks
    learner.teach(second, y[second])
    assert learner.n_rounds_done_ == 1 and learner.labeled_idx_.size == 6


def test_query_budget_opens_a_round_of_that_size_and_is_refused_mid_round(blobs):
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=10, random_state=0)
    asked = learner.query(X, budget=4)
    assert asked.size == 4
    with pytest.raises(ValueError, match="budget applies to the round a query opens"):
        learner.query(X, budget=3)
    learner.teach(asked, y[asked])
    assert learner.history_[0]["budget"] == 4
    with pytest.raises(ValueError, match="larger than"):
        learner.query(X, budget=57)
    with pytest.raises(TypeError, match="positive integer"):
        learner.query(X, budget=True)


def test_coverage_is_recorded_when_the_round_ends_in_another_process(blobs, tmp_path):
    X, y = blobs
    learner = NoiseAwareActiveLearner(ProbCover(delta=1.0), budget=6, random_state=0)
    asked = learner.query(X, whole_round=True)
    coverage = learner.strategy_.coverage_
    learner.save(tmp_path / "s.skal")
    loaded = NoiseAwareActiveLearner.load(tmp_path / "s.skal")
    loaded.teach(asked, y[asked], X=X)
    assert loaded.history_[0]["coverage"] == pytest.approx(coverage)


def test_saved_files_get_the_usual_permissions(blobs, tmp_path):
    import os
    X, y = blobs
    learner = NoiseAwareActiveLearner(RandomSampling(), budget=3).fit_round(X, NoisyOracle(y))
    path = tmp_path / "s.skal"
    umask = os.umask(0o022)
    try:
        learner.save(path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644
    path.chmod(0o640)
    learner.save(path)                       # an existing file keeps its mode
    assert path.stat().st_mode & 0o777 == 0o640


def test_strategy_graph_is_saved_once_beside_the_state_and_reused(digits, tmp_path):
    X, y = digits
    learner = NoiseAwareActiveLearner(ProbCover(), budget=20, classes=np.arange(10),
                                      random_state=0)
    asked = learner.query(X)
    path = tmp_path / "state.skal"
    learner.save(path)
    sidecars = sorted(tmp_path.glob("state.skal.cache-*.npz"))
    assert len(sidecars) == 1
    written = sidecars[0].stat().st_mtime_ns
    learner.teach(asked[:5], y[asked[:5]])
    learner.save(path)                                   # the graph is not written again
    assert sidecars[0].stat().st_mtime_ns == written
    loaded = NoiseAwareActiveLearner.load(path)
    assert loaded._saved_cache is not None
    rest = loaded.query(X)
    assert np.array_equal(rest, asked[5:])
    loaded.teach(rest, y[rest])
    assert loaded.strategy_.graph_.indices.size == learner.strategy_.graph_.indices.size
    # a damaged or missing side file is not trusted: the graph is rebuilt
    sidecars[0].write_bytes(b"not an npz")
    again = NoiseAwareActiveLearner.load(path)
    assert again._saved_cache is None
    assert np.array_equal(again.query(X), asked[5:])
    again.teach(asked[5:], y[asked[5:]])
    assert np.array_equal(again.query(X), loaded.query(X))     # rebuilt graph, same picks
