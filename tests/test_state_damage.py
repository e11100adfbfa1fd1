"""A damaged or edited state file fails in ``load`` with StateFormatError, never later."""

from __future__ import annotations

import numpy as np
import pytest

from skal import CentroidFilter, NoiseAwareActiveLearner, NoisyOracle, RandomSampling
from skal._state import StateFormatError, read_archive, write_archive


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = np.eye(3, 4)[y] * 4 + rng.normal(scale=0.4, size=(60, 4))
    learner = NoiseAwareActiveLearner(RandomSampling(), CentroidFilter(), budget=9,
                                      classes=[0, 1, 2], random_state=0)
    learner.fit_round(X, NoisyOracle(y, noise_rate=0.2, random_state=0))
    asked = learner.query(X)
    learner.teach(asked[:1], y[asked[:1]])            # an open round with a partial answer
    path = tmp_path_factory.mktemp("state") / "ok.skal"
    learner.save(path)
    return path, X, y


def test_every_single_byte_flip_is_refused_or_harmless(saved, tmp_path):
    path, X, _ = saved
    data = path.read_bytes()
    original = NoiseAwareActiveLearner.load(path)
    positions = np.random.default_rng(1).choice(len(data), size=min(300, len(data)),
                                                replace=False)
    refused = 0
    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= 0xFF
        target = tmp_path / "flip.skal"
        target.write_bytes(bytes(damaged))
        try:
            learner = NoiseAwareActiveLearner.load(target)
        except StateFormatError:
            refused += 1
            continue
        # A flip the format does not notice (a ZIP timestamp or version field)
        # must not change what was bought, said or believed, and the learner works.
        assert np.array_equal(learner.labeled_idx_, original.labeled_idx_)
        assert learner.labels_.tolist() == original.labels_.tolist()
        assert np.array_equal(learner.clean_mask_, original.clean_mask_)
        assert np.array_equal(learner.asked_idx_, original.asked_idx_)
        learner.query(X)
    # Most bytes are compressed, CRC-checked content: most flips are refused.
    assert refused > len(positions) // 2


def _edited(path, tmp_path, edit_state=None, edit_arrays=None):
    state, arrays = read_archive(path)
    if edit_state:
        edit_state(state)
    if edit_arrays:
        edit_arrays(arrays)
    out = tmp_path / "edited.skal"
    write_archive(out, state, arrays)
    return out


EDITS = [
    ("n_pool_ text", lambda s: s.update(n_pool_="abc"), None, "n_pool_"),
    ("history not a list", lambda s: s.update(history_=5), None, "history_"),
    ("history too short", lambda s: s.update(history_=[]), None, "history_"),
    ("open round without its record", lambda s: s.update(open_round=None), None, "asked"),
    ("open round field missing", lambda s: s["open_round"].pop("budget"), None, "open round"),
    ("open round counts", lambda s: s["open_round"].update(n_done=7), None, "open round"),
    ("labeled index out of range", None,
     lambda a: a.update(labeled_idx=a["labeled_idx"] + 1000), "outside the pool"),
    ("labeled index float", None,
     lambda a: a.update(labeled_idx=a["labeled_idx"].astype(float)), "integer"),
    ("labeled index duplicated", None,
     lambda a: a.update(labeled_idx=np.r_[a["labeled_idx"][:-1], a["labeled_idx"][0]]),
     "duplicate"),
    ("arrays of different lengths", None,
     lambda a: a.update(clean_mask=a["clean_mask"][:-1]), "length"),
    ("labels missing", None, lambda a: a.pop("labels"), "labels"),
    ("strategy not a strategy", lambda s: s.update(strategy_=None), None, "strategy_"),
    ("bad flag", lambda s: s.update(has_estimator="yes"), None, "has_estimator"),
    ("asked index already labeled", None,
     lambda a: a.update(asked=a["labeled_idx"][:1]), "already labeled"),
]


@pytest.mark.parametrize("name, edit_state, edit_arrays, match", EDITS,
                         ids=[e[0] for e in EDITS])
def test_edited_content_is_refused_in_load(saved, tmp_path, name, edit_state, edit_arrays, match):
    path, _, _ = saved
    target = _edited(path, tmp_path, edit_state, edit_arrays)
    with pytest.raises(StateFormatError, match=match):
        NoiseAwareActiveLearner.load(target)


def test_the_untouched_file_loads_and_continues(saved):
    path, X, y = saved
    learner = NoiseAwareActiveLearner.load(path)
    asked = learner.query(X)
    assert asked.size == 2                       # the rest of the half-answered share
    learner.teach(asked, y[asked], X=X)
    assert learner.labeled_idx_.size == 12


def test_a_hidden_array_member_is_refused(saved, tmp_path):
    # A flip in the ZIP's central directory can rename a member with no CRC noticing;
    # the open round's asked indices must not silently read as "none asked".
    import zipfile
    path, _, _ = saved
    target = tmp_path / "renamed.skal"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            name = "asked.np_" if info.filename == "asked.npy" else info.filename
            dst.writestr(name, src.read(info.filename))
    with pytest.raises(StateFormatError, match="array members"):
        NoiseAwareActiveLearner.load(target)
