"""LabelingSession: same picks as the in-process ask/tell loop, atomic changes, views."""

import os

import numpy as np
import pytest

from skal import NoiseAwareActiveLearner
from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter
from skal.labeling import LabelingError, LabelingSession
from skal.strategies import ProbCover

CLASSES = list(range(10))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_embeddings(return_X_y=True)
    # A fixed, known set of wrong answers so that the filter has work to do.
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(y.size) < 0.25
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    return X, y, noisy


def _reference_loop(X, answers, budgets, seed, n_steps):
    learner = NoiseAwareActiveLearner(ProbCover(), CentroidFilter(), budget=budgets,
                                      n_rounds=len(budgets), classes=CLASSES, random_state=seed)
    picks = []
    for _ in range(n_steps):
        idx = learner.query(X)
        learner.teach(idx, answers[idx])
        picks.append(idx)
    return learner, picks


def test_session_matches_in_process_loop(tmp_path, digits):
    X, _, noisy = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    LabelingSession.create(state, tmp_path / "pool.npy", classes="0,1,2,3,4,5,6,7,8,9",
                           budget=[20, 20], random_state=3)
    ref, ref_picks = _reference_loop(X, noisy, [20, 20], 3, 4)
    for step in range(4):
        session = LabelingSession.open(state)  # a fresh learner from the file every time
        batch = session.query()
        np.testing.assert_array_equal(batch.indices, ref_picks[step])
        assert batch.ids == [str(i) for i in ref_picks[step]]
        result = session.teach(batch.ids, [str(v) for v in noisy[batch.indices]])
        assert result.n_taught == len(batch)
    session = LabelingSession.open(state)
    np.testing.assert_array_equal(session.learner.labeled_idx_, ref.labeled_idx_)
    np.testing.assert_array_equal(session.learner.labels_.astype(int), ref.labels_.astype(int))
    np.testing.assert_array_equal(session.learner.clean_mask_, ref.clean_mask_)
    assert session.status()["round"] == 2 == ref.n_rounds_done_
    np.testing.assert_array_equal(session.learner.predict(X), ref.predict(X))


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


def test_refused_changes_leave_state_byte_identical(tmp_path, digits):
    X, y, _ = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    session = LabelingSession.create(state, tmp_path / "pool.npy", classes=CLASSES, budget=20)
    batch = session.query()
    before = _bytes(state)
    asked = batch.ids[0]
    not_asked = next(i for i in session.pool.ids if i not in batch.ids)
    bad_calls = [
        (["no-such-id"], ["1"], "unknown id"),
        ([asked], ["11"], "not one of the classes"),
        ([asked], ["cat"], "not one of the classes"),
        ([not_asked], ["1"], "was not asked"),
        ([asked, asked], ["1", "1"], "more than once"),
        ([asked], [], "1 ids but 0 labels"),
    ]
    for ids, labels, message in bad_calls:
        with pytest.raises(LabelingError, match=message):
            session.teach(ids, labels)
        assert _bytes(state) == before
    # The session still works after the refusals, and asks the same items.
    np.testing.assert_array_equal(session.query().indices, batch.indices)
    assert _bytes(state) == before  # asking again writes nothing


def test_failure_after_labels_rolls_back(tmp_path, digits, monkeypatch):
    X, y, _ = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    session = LabelingSession.create(state, tmp_path / "pool.npy", classes=CLASSES, budget=20)
    batch = session.query()
    before = _bytes(state)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(NoiseAwareActiveLearner, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        session.teach(batch.ids, [str(v) for v in y[batch.indices]])
    monkeypatch.undo()
    assert _bytes(state) == before
    # In memory too, the session is back to the file: nothing was taught.
    assert session.learner.labeled_idx_.size == 0
    np.testing.assert_array_equal(session.learner.asked_idx_, batch.indices)


def test_teach_same_answers_twice_is_a_no_op_and_changed_answer_refused(tmp_path, digits):
    X, y, _ = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    session = LabelingSession.create(state, tmp_path / "pool.npy", classes=CLASSES, budget=30)
    batch = session.query()
    labels = [str(v) for v in y[batch.indices]]
    session.teach(batch.ids[:4], labels[:4])  # partial answer: the rest stays asked
    assert session.status()["n_asked"] == len(batch) - 4
    before = _bytes(state)
    result = session.teach(batch.ids[:4], labels[:4])
    assert (result.n_taught, result.n_unchanged) == (0, 4)
    assert _bytes(state) == before
    other = str((int(labels[0]) + 1) % 10)
    with pytest.raises(LabelingError, match="already labeled"):
        session.teach(batch.ids[:1], [other])
    assert _bytes(state) == before


def test_relabel_views_and_changed_pool(tmp_path, digits):
    X, y, noisy = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    session = LabelingSession.create(state, tmp_path / "pool.npy", classes=CLASSES, budget=40,
                                     random_state=1)
    for _ in range(4):
        batch = session.query()
        session.teach(batch.ids, [str(v) for v in noisy[batch.indices]])
    table = session.labels_table()
    assert [r["index"] for r in table] == session.learner.labeled_idx_.tolist()
    flagged = session.flagged()
    assert len(flagged) == session.status()["n_flagged"] > 0
    scores = [r["clean_score"] for r in flagged]
    assert scores == sorted(scores)
    assert session.noise_rate_estimate() == pytest.approx(len(flagged) / len(table))
    # Nearest labeled neighbours against a brute-force reference.
    item = 5
    near = session.neighbours(str(item), k=3)
    labeled = [i for i in session.learner.labeled_idx_ if i != item]
    d = np.linalg.norm(X[labeled] - X[item], axis=1)
    assert [r["index"] for r in near] == [labeled[j] for j in np.argsort(d, kind="stable")[:3]]
    # A person fixes the most doubtful label.
    worst = flagged[0]
    truth = int(y[worst["index"]])
    assert session.relabel([worst["id"]], [str(truth)]) == 1
    row = next(r for r in LabelingSession.open(state).labels_table() if r["id"] == worst["id"])
    assert (row["label"], row["first_label"], row["reviewed"], row["clean"]) == \
        (truth, worst["label"], True, True)
    # The pool file changes: the session refuses to open.
    X2 = X.copy()
    X2[0, 0] += 1e-3
    np.save(tmp_path / "pool.npy", X2)
    with pytest.raises(LabelingError, match="changed since"):
        LabelingSession.open(state)


def test_stale_session_refuses_to_overwrite(tmp_path, digits):
    X, y, _ = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    LabelingSession.create(state, tmp_path / "pool.npy", classes=CLASSES, budget=20)
    a = LabelingSession.open(state)
    b = LabelingSession.open(state)
    batch = a.query()
    with pytest.raises(LabelingError, match="another process"):
        b.query()
    assert os.path.exists(state)
    assert LabelingSession.open(state).asked().ids == batch.ids
