"""``skal bench``: every bad option, file or grid value fails at once, one line, exit 2.

Each case also proves that nothing ran: the runner's cell function is
replaced by one that fails the test if it is ever called.
"""

import csv
import json
import os
import socket
import time

import numpy as np
import pytest

from skal.__main__ import build_parser, main
from skal.benchmark import _runner
from skal.benchmark._options import DEFAULTS, resolve_options

BASE = ["--backend", "sequential", "--no-progress", "--seeds", "1"]
FAST = [*BASE, "--strategies", "random", "--filters", "none"]


@pytest.fixture
def no_cell_runs(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a cell ran although the input was bad")

    monkeypatch.setattr(_runner, "run_cell_indexed", must_not_run)


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("skal bench: error: ")
    return lines[0]


def _args(argv):
    return build_parser().parse_args(["bench", *argv])


# ------------------------------------------------------------------ config values
@pytest.mark.parametrize("cfg, message", [
    ({"budget": "x"}, "--budget ({where}) must be positive integers (labels per round), got 'x'"),
    ({"budget": 20.5}, "--budget ({where}) must be positive integers (labels per round), got 20.5"),
    ({"budget": [10, 20.5]}, "got [10, 20.5]"),
    ({"budget": True}, "--budget ({where}) must be positive integers"),
    ({"noise_rate": "abc"}, "--noise-rate ({where}) must be numbers in [0, 1], got 'abc'"),
    ({"noise_rate": [0.2, 1.5]}, "--noise-rate ({where}) must be numbers in [0, 1]"),
    ({"out": 5}, "--out ({where}) must be a non-empty string, got 5"),
    ({"train_on": "bogus"}, "--train-on ({where}) must be clean or all, got 'bogus'"),
    ({"seeds": "3"}, "--seeds ({where}) must be a positive integer, got '3'"),
    ({"rounds": 2.0}, "--rounds ({where}) must be a positive integer, got 2.0"),
    ({"samples_per_class": [2, 1]}, "--samples-per-class ({where}) must be positive and "
                                    "strictly increasing"),
    ({"test_size": "0.2"}, "--test-size ({where}) must be in (0, 1), got '0.2'"),
    ({"split_seed": -1}, "--split-seed ({where}) must be a non-negative integer"),
    ({"strategies": 5}, "--strategies ({where}) must be a comma-separated list of names"),
    ({"filters": ""}, "--filters ({where}) must name at least one entry"),
    ({"no_plot": "yes"}, "--no-plot ({where}) must be true or false, got 'yes'"),
    ({"scheduler_timeout": 0}, "--scheduler-timeout ({where}) must be a positive number"),
    ({"backend": "spark"}, "--backend ({where}) must be loky, dask or sequential, got 'spark'"),
])
def test_config_value_names_the_option(cfg, message, tmp_path, capsys, no_cell_runs):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(cfg))
    assert main(["bench", "--config", str(path), "--no-progress"]) == 2
    assert message.format(where=f"config file {path}") in _error(capsys)


def test_command_line_value_names_the_option_without_a_file(capsys, no_cell_runs):
    assert main(["bench", "--noise-rate", "1.5", *FAST]) == 2
    assert "--noise-rate must be numbers in [0, 1], got [1.5]" in _error(capsys)


# ------------------------------------------------------------------ options that go together
@pytest.mark.parametrize("argv, message", [
    (["--labels", "y.npy"], "--labels: only used with --dataset PATH, not the bundled digits"),
    (["--embeddings-key", "emb"], "--embeddings-key: only used with --dataset PATH"),
    (["--test-labels", "t.npy"], "--test-labels needs --test-embeddings"),
    (["--test-embeddings", "t.npy"], "--test-embeddings needs --test-labels"),
    (["--test-embeddings", "t.npy", "--test-labels", "u.npy", "--test-size", "0.2"],
     "--test-size and --test-embeddings exclude each other"),
    (["--noisy-labels-key", "worse"], "--noisy-labels-key needs --noisy-labels"),
    (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --backend dask (the backend "
                                              "is sequential)"),
])
def test_options_that_would_be_ignored_are_errors(argv, message, capsys, no_cell_runs):
    assert main(["bench", *argv, *FAST]) == 2
    assert message in _error(capsys)


# ------------------------------------------------------------------ budget schedule
@pytest.mark.parametrize("argv, rounds, spc, budget", [
    ([], 5, [1.0, 2.0, 3.0, 4.0, 5.0], None),            # the paper's schedule
    (["--rounds", "3"], 3, [1.0, 2.0, 3.0], None),
    (["--samples-per-class", "0.5", "1"], 2, [0.5, 1.0], None),
    (["--budget", "7"], 5, None, [7]),                    # a single budget: 5 rounds
    (["--budget", "7", "--rounds", "2"], 2, None, [7]),
    (["--budget", "4", "6", "9"], 3, None, [4, 6, 9]),
])
def test_rounds_and_schedule(argv, rounds, spc, budget):
    opts = resolve_options(_args(argv))
    assert (opts["rounds"], opts["samples_per_class"], opts["budget"]) == (rounds, spc, budget)


def test_rounds_alone_runs_the_samples_per_class_schedule(tmp_path, capsys):
    # 10 classes at 30 % noise: cumulative targets ceil(10 s / 0.7) = 15, 29, 43 labels.
    out = tmp_path / "run"
    assert main(["bench", "--rounds", "3", "--noise-rate", "0.3", "--out", str(out),
                 "--no-plot", *FAST]) == 0
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["n_labeled"]) for r in rows] == [15, 29, 43]
    assert [int(r["budget"]) for r in rows] == [15, 14, 14]
    config = json.loads((out / "config.json").read_text())
    assert config["samples_per_class"] == [1.0, 2.0, 3.0]
    assert config["dataset"]["options"]["rounds"] == 3


# ------------------------------------------------------------------ --help
def test_help_states_every_default(capsys):
    bench = build_parser()._subparsers._group_actions[0].choices["bench"]
    for action in bench._actions:
        if action.dest in ("help", "func"):
            continue
        assert "(default: " in action.help, action.dest
        if action.dest in DEFAULTS and DEFAULTS[action.dest] is not None \
                and not isinstance(DEFAULTS[action.dest], (bool, list)):
            assert f"(default: {DEFAULTS[action.dest]})" in action.help, action.dest
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo argparse's line wrapping
    assert "--rounds N active-learning rounds (default: 5, or the number of --budget" in text
    assert "--noise-rate R [R ...] one or more simulated noise rates (default: 0.5)" in text
    assert "--seeds N seeds 0..N-1 (default: 3)" in text


# ------------------------------------------------------------------ --out
def test_out_is_a_file(tmp_path, capsys, no_cell_runs):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert main(["bench", "--out", str(target), *FAST]) == 2
    assert f"--out '{target}' is a file, not a directory" in _error(capsys)
    assert target.read_text() == "keep me"


def test_out_under_a_file(tmp_path, capsys, no_cell_runs):
    target = tmp_path / "results.txt"
    target.write_text("x")
    assert main(["bench", "--out", str(target / "sub"), *FAST]) == 2
    assert "cannot be written to: Not a directory" in _error(capsys)


def _read_only_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if not os.access(ro, os.W_OK):
        return ro / "out"
    # Root ignores the mode bits: /proc refuses new entries even to root.
    try:
        os.mkdir("/proc/skal-bench-probe")
    except OSError:
        return "/proc/skal-bench-out"
    os.rmdir("/proc/skal-bench-probe")
    pytest.skip("no read-only place on this machine")


def test_out_read_only(tmp_path, capsys, no_cell_runs):
    out = _read_only_dir(tmp_path)
    assert main(["bench", "--out", str(out), *FAST]) == 2
    assert f"--out '{out}' cannot be written to: " in _error(capsys)


# ------------------------------------------------------------------ grid parameters
@pytest.mark.parametrize("argv, message", [
    (["--strategies", "random,probcover:delta=abc"], "--strategies: strategy 'probcover:delta=abc': "),
    (["--strategies", "probcover:delta=-1"], "--strategies: strategy 'probcover:delta=-1': "),
    (["--strategies", "maxherding_nas:bandwidth=-1"], "strategy 'maxherding_nas:bandwidth=-1'"),
    (["--filters", "none,cv:n_splits=1"], "--filters: filter 'cv:n_splits=1': "),
    (["--filters", "knn:n_neighbors=0"], "--filters: filter 'knn:n_neighbors=0': "),
])
def test_bad_parameter_value_fails_before_the_grid(argv, message, capsys, no_cell_runs):
    assert main(["bench", *BASE, *argv]) == 2
    line = _error(capsys)
    assert message in line
    assert any(word in line for word in ("delta", "bandwidth", "n_splits", "n_neighbors"))


# ------------------------------------------------------------------ files
@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "y.npy", y)
    np.savez(tmp_path / "both.npz", emb=X, y=y)
    (tmp_path / "empty.npy").write_bytes(b"")
    (tmp_path / "short.npy").write_bytes((tmp_path / "x.npy").read_bytes()[:40])
    (tmp_path / "adir.npy").mkdir()
    return tmp_path


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "empty.npy", "--labels", "y.npy"], "--dataset empty.npy is empty"),
    (["--dataset", "x.npy", "--labels", "empty.npy"], "--labels empty.npy is empty"),
    (["--dataset", "x.npy", "--labels", "y.npy", "--noisy-labels", "empty.npy"],
     "--noisy-labels empty.npy is empty"),
    (["--dataset", "short.npy", "--labels", "y.npy"],
     "cannot read --dataset short.npy: EOF: reading array header"),
    (["--dataset", "adir.npy", "--labels", "y.npy"], "--dataset adir.npy is a directory"),
    (["--dataset", "x.npy", "--labels", "y.npy", "--embeddings-key", "emb"],
     "--embeddings-key names an array inside an .npz/.pt container, but --dataset x.npy "
     "holds a single array"),
    (["--dataset", "both.npz", "--embeddings-key", "emb", "--labels", "y.npy",
      "--labels-key", "y"], "--labels-key names an array inside an .npz/.pt container, "
                            "but --labels y.npy holds a single array"),
    (["--dataset", "x.npy", "--labels", "y.npy", "--noisy-labels", "y.npy",
      "--noisy-labels-key", "w"], "--noisy-labels-key names an array inside"),
    (["--dataset", "both.npz", "--labels-key", "y"],
     "cannot read --dataset both.npz: both.npz holds several arrays ['emb', 'y']; "
     "say which one with --embeddings-key"),
    (["--dataset", "both.npz", "--embeddings-key", "emb", "--labels-key", "z"],
     "has no array 'z'"),
])
def test_bad_files(files, argv, message, capsys, monkeypatch, no_cell_runs):
    monkeypatch.chdir(files)
    assert main(["bench", *argv, *FAST]) == 2
    assert message in _error(capsys)


def test_container_with_both_arrays_runs(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["bench", "--dataset", "both.npz", "--embeddings-key", "emb", "--labels-key",
                 "y", "--rounds", "1", "--noise-rate", "0", *FAST]) == 0
    # 3 classes, no noise, one sample per class: 3 labels.
    assert "random    none    symmetric 0.00      1       3" in capsys.readouterr().out


# ------------------------------------------------------------------ --scheduler
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The closed port is found when the test runs, not at collection: a port in
# the test's id would differ between pytest-xdist's workers, which then refuse
# to run the suite ("Different tests were collected").
@pytest.mark.parametrize("address, message", [
    ("closed-port", "no dask scheduler reachable within 10 s (Connection refused)"),
    ("nonsense", "--scheduler 'nonsense' is not a dask address"),
])
def test_unreachable_scheduler_fails_fast(address, message, capsys, no_cell_runs):
    pytest.importorskip("distributed")
    if address == "closed-port":
        address = f"tcp://127.0.0.1:{_closed_port()}"
    t0 = time.perf_counter()
    assert main(["bench", "--backend", "dask", "--scheduler", address, "--no-progress",
                 "--strategies", "random", "--filters", "none"]) == 2
    # A refused connection is reported at once (dask's own client retries for
    # 30 s, then raises a traceback); the bound leaves room for importing dask.
    assert time.perf_counter() - t0 < 20
    line = _error(capsys)
    assert message in line and line.startswith("skal bench: error: --scheduler ")
