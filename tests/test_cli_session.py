"""The labeling CLI: a whole session in subprocesses equals the in-process ask/tell loop;
bad files leave the state byte-identical with exit 1 and one line on stderr."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from skal import NoiseAwareActiveLearner
from skal.__main__ import main
from skal.datasets import load_digits_embeddings
from skal.filters import CentroidFilter
from skal.strategies import ProbCover

CLASSES = "0,1,2,3,4,5,6,7,8,9"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_embeddings(return_X_y=True)
    rng = np.random.default_rng(0)
    noisy = y.copy()
    flip = rng.random(y.size) < 0.25
    noisy[flip] = (y[flip] + rng.integers(1, 10, flip.sum())) % 10
    return X, y, noisy


def _write_csv_pool(path, X):
    # Ids that are not row numbers, a text column for the annotators, and
    # features written with repr() so that they read back bit for bit.
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "caption", *[f"f{k}" for k in range(X.shape[1])]])
        for i, row in enumerate(X):
            w.writerow([f"img{i:04d}", f"digit #{i}", *[repr(float(v)) for v in row]])


def _skal(*args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "skal", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _answer(query_csv, answers_csv, labels):
    """Fill the label column of the CSV written by `skal query`, as an annotator would."""
    with open(query_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(answers_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for row in rows:
            w.writerow({**row, "label": labels[int(row["index"])]})
    return [int(r["index"]) for r in rows]


def test_cli_session_in_subprocesses_matches_in_process_loop(tmp_path, digits):
    X, _, noisy = digits
    _write_csv_pool(tmp_path / "pool.csv", X)
    r = _skal("init", "s.skal", "--pool", "pool.csv", "--id-column", "item", "--classes",
              CLASSES, "--budget", "20", "--rounds", "2", "--seed", "3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    ref = NoiseAwareActiveLearner(ProbCover(), CentroidFilter(), budget=[20, 20], n_rounds=2,
                                  classes=list(range(10)), random_state=3)
    for step in range(2):
        r = _skal("query", "s.skal", "--out", f"q{step}.csv", "--whole-round", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        picks = _answer(tmp_path / f"q{step}.csv", tmp_path / f"a{step}.csv", noisy)
        expected = ref.query(X, whole_round=True)
        assert picks == expected.tolist()
        ref.teach(expected, noisy[expected])
        r = _skal("teach", "s.skal", f"a{step}.csv", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = _skal("export", "s.skal", "--out", "labels.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == ref.labeled_idx_.tolist()
    assert [r["id"] for r in rows] == [f"img{i:04d}" for i in ref.labeled_idx_]
    assert [int(r["label"]) for r in rows] == ref.labels_.astype(int).tolist()
    assert [r["clean"] == "True" for r in rows] == ref.clean_mask_.tolist()
    assert not ref.clean_mask_.all()  # the filter had something to flag
    assert ref.n_rounds_done_ == 2


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


@pytest.fixture
def session_dir(tmp_path, digits):
    """A session with one open ask, driven in-process through skal's main()."""
    X, y, _ = digits
    np.save(tmp_path / "pool.npy", X)
    state = str(tmp_path / "s.skal")
    assert main(["init", state, "--pool", str(tmp_path / "pool.npy"), "--classes", CLASSES,
                 "--budget", "20"]) == 0
    assert main(["query", state, "--out", str(tmp_path / "q.csv")]) == 0
    with open(tmp_path / "q.csv", newline="") as f:
        asked = [r["id"] for r in csv.DictReader(f)]
    return tmp_path, state, asked, y


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def _one_error_line(capsys, command):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"skal {command}: error: "), err
    return err[0]


def test_bad_answer_files_leave_state_byte_identical(session_dir, capsys):
    tmp, state, asked, y = session_dir
    before = _bytes(state)
    not_asked = next(str(i) for i in range(100) if str(i) not in asked)
    task = {"data": {"skal_id": asked[0], "skal_index": int(asked[0])}, "annotations": [
        {"result": [{"from_name": "label", "to_name": "item", "type": "choices",
                     "value": {"choices": ["3"]}}]}]}
    bad = {
        "unknown id": _write(tmp / "a.csv", "id,label\nnope,3\n"),
        "not one of the classes": _write(tmp / "b.csv", f"id,label\n{asked[0]},12\n"),
        "was not asked": _write(tmp / "c.csv", f"id,label\n{not_asked},3\n"),
        "fields, the header has": _write(tmp / "d.csv", f"id,label\n{asked[0]},3,extra\n"),
        "needs columns": _write(tmp / "e.csv", "item,answer\n1,3\n"),
        "answered more than once": _write(tmp / "f.csv", f"id,label\n{asked[0]},3\n{asked[0]},3\n"),
        "not valid JSON": _write(tmp / "g.json", "[{\"data\": "),
        "must be a JSON list": _write(tmp / "h.json", "{\"data\": {}}"),
        "no 'skal_id'": _write(tmp / "i.json", json.dumps([{"data": {"x": 1}}])),
        "says skal_index": _write(tmp / "j.json", json.dumps(
            [{**task, "data": {"skal_id": asked[0], "skal_index": int(asked[0]) + 1}}])),
        "unsupported format": _write(tmp / "k.txt", "id,label\n"),
    }
    for message, path in bad.items():
        assert main(["teach", state, path]) == 1
        assert message in _one_error_line(capsys, "teach")
        assert _bytes(state) == before, message
    # The same ask is still open, and a good file goes through.
    good = _write(tmp / "ok.json", json.dumps([task]))
    assert main(["teach", state, good]) == 0
    assert "taught 1 label(s)" in capsys.readouterr().out
    assert _bytes(state) != before


def test_changed_pool_file_is_refused(session_dir, capsys):
    tmp, state, asked, y = session_dir
    before = _bytes(state)
    X = np.load(tmp / "pool.npy")
    X[3, 1] += 1e-6
    np.save(tmp / "pool.npy", X)
    answers = _write(tmp / "a.csv", f"id,label\n{asked[0]},{y[int(asked[0])]}\n")
    for argv, command in ((["teach", state, answers], "teach"),
                          (["query", state, "--out", str(tmp / "q2.csv")], "query"),
                          (["status", state], "status")):
        assert main(argv) == 1
        assert "changed since `skal init`" in _one_error_line(capsys, command)
        assert _bytes(state) == before
    assert not os.path.exists(tmp / "q2.csv")


def test_usage_errors_exit_2(tmp_path, capsys, digits):
    X, _, _ = digits
    np.save(tmp_path / "pool.npy", X[:50])
    pool = str(tmp_path / "pool.npy")
    state = str(tmp_path / "s.skal")
    cases = [
        (["init", state, "--pool", pool, "--classes", "a,a", "--budget", "5"], "duplicate"),
        (["init", state, "--pool", pool, "--strategy", "nope", "--budget", "5"], "unknown strategy"),
        (["init", state, "--pool", pool], "needs --classes"),
        (["init", state, "--pool", pool, "--budget", "5", "6", "--rounds", "3"], "3"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        assert message in _one_error_line(capsys, "init")
        assert not os.path.exists(state)
    with pytest.raises(SystemExit) as exc:  # argparse's own usage errors
        main(["init", state, "--pool", pool, "--budget", "0"])
    assert exc.value.code == 2
    capsys.readouterr()
    # Data errors exit 1: a missing pool file, a budget larger than the pool.
    assert main(["init", state, "--pool", str(tmp_path / "none.npy"), "--budget", "5"]) == 1
    assert "does not exist" in _one_error_line(capsys, "init")
    assert main(["init", state, "--pool", pool, "--budget", "30", "--rounds", "2"]) == 1
    assert "more than the 50 items" in _one_error_line(capsys, "init")
    assert not os.path.exists(state)


def test_status_and_curve(session_dir, capsys):
    tmp, state, asked, y = session_dir
    X = np.load(tmp / "pool.npy")
    for _ in range(2):  # finish round 1 (two NAS shares of 10)
        with open(tmp / "q.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        _write(tmp / "a.csv", "id,label\n" + "".join(f"{r['id']},{y[int(r['index'])]}\n"
                                                     for r in rows))
        assert main(["teach", state, str(tmp / "a.csv")]) == 0
        assert main(["query", state, "--out", str(tmp / "q.csv")]) == 0
    np.savez(tmp / "test.npz", X=X[:200], y=y[:200])
    capsys.readouterr()
    assert main(["status", state, "--json", "--test", str(tmp / "test.npz"),
                 "--plot", str(tmp / "curve.png")]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["round"], status["n_labeled"], status["n_asked"]) == (1, 20, 10)
    assert status["round_open"] and status["round_bought"] == 0
    (point,) = status["learning_curve"]
    assert point["n_labeled"] == 20 and 0.3 < point["accuracy"] <= 1.0
    assert _bytes(tmp / "curve.png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["status", state]) == 0
    text = capsys.readouterr().out
    assert "rounds finished: 1 of 5 planned" in text and "labels bought: 20" in text
