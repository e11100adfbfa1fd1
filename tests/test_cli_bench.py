"""``skal bench``: argument parsing, config files, bad names, outputs."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from skal.__main__ import build_parser, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FAST = ["--backend", "sequential", "--no-progress"]


def test_parser_reads_every_option():
    args = build_parser().parse_args([
        "bench", "--dataset", "emb.npy", "--labels", "y.npy", "--noisy-labels", "yn.npy",
        "--strategies", "random,npc", "--filters", "none,aum", "--noise-rate", "0.2", "0.4",
        "--noise-type", "asymmetric", "--seeds", "4", "--samples-per-class", "1", "2",
        "--backend", "dask", "--scheduler", "tcp://h:8786", "--n-jobs", "3", "--out", "d",
        "--test-size", "0.3", "--train-on", "all", "--no-progress", "--no-plot"])
    assert args.command == "bench" and callable(args.func)
    assert (args.dataset, args.labels, args.noisy_labels) == ("emb.npy", "y.npy", "yn.npy")
    assert args.strategies == "random,npc" and args.filters == "none,aum"
    assert args.noise_rate == [0.2, 0.4] and args.noise_type == "asymmetric"
    assert (args.seeds, args.samples_per_class, args.budget) == (4, [1.0, 2.0], None)
    assert (args.backend, args.scheduler, args.n_jobs, args.out) == ("dask", "tcp://h:8786", 3, "d")
    assert (args.test_size, args.train_on, args.no_progress, args.no_plot) == (0.3, "all", True, True)


def test_budget_and_samples_per_class_are_exclusive(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--budget", "10", "--samples-per-class", "1"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--strategies", "random,probcovr", "--budget", "5", "--rounds", "1"],
     "unknown strategy 'probcovr'; valid names: "),
    (["--filters", "none,aumm", "--budget", "5", "--rounds", "1"], "unknown filter 'aumm'"),
    (["--budget", "5", "6", "--rounds", "3"], "--rounds 3 does not match the 2 value(s) of --budget"),
    (["--samples-per-class", "1", "2", "--rounds", "3"], "does not match the 2 value(s)"),
    (["--seeds", "0", "--budget", "5", "--rounds", "1"], "--seeds must be a positive integer"),
    (["--dataset", "missing.npy", "--labels", "y.npy", "--budget", "5", "--rounds", "1"],
     "--dataset: file not found: missing.npy"),
    (["--test-size", "1.5", "--budget", "5", "--rounds", "1"], "--test-size must be in (0, 1)"),
    (["--budget", "5000", "--rounds", "1"], "more than the"),
])
def test_bad_input_exits_2(argv, message, capsys):
    assert main(["bench", *argv, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skal bench: error: ") and message in err


def test_bad_name_lists_valid_names(capsys):
    assert main(["bench", "--strategies", "nope", "--budget", "5", "--rounds", "1"]) == 2
    err = capsys.readouterr().err
    for name in ("random", "probcover", "npc", "maxherding_nas"):
        assert name in err


def test_config_file_and_command_line_override(tmp_path, capsys):
    cfg = {"strategies": ["random", "probcover"], "filters": "none", "noise-rate": 0.3,
           "seeds": 2, "budget": [8, 12], "backend": "sequential", "test_size": 0.8,
           "out": str(tmp_path / "run")}
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(cfg))
    # --seeds on the command line wins over the file's 2.
    assert main(["bench", "--config", str(path), "--seeds", "1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "random" in out and "probcover" in out and "AULC" in out
    run = tmp_path / "run"
    config = json.loads((run / "config.json").read_text())
    assert config["seeds"] == [0]
    assert config["budget"] == [8, 12] and config["n_test"] == 1438
    assert config["dataset"]["dataset"] == "digits"
    assert config["dataset"]["options"]["noise_rate"] == [0.3]
    with open(run / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 2  # 2 strategies x 1 filter x 1 seed x 2 rounds
    assert [int(r["n_labeled"]) for r in rows[:2]] == [8, 20]
    assert {r["noise_rate"] for r in rows} == {"0.3"}
    assert (run / "learning_curves.png").stat().st_size > 5000


def test_config_file_errors(tmp_path, capsys):
    bad_key = tmp_path / "a.json"
    bad_key.write_text(json.dumps({"stratgies": "random"}))
    assert main(["bench", "--config", str(bad_key)]) == 2
    assert "unknown option(s) in the config file: ['stratgies']" in capsys.readouterr().err
    not_json = tmp_path / "b.json"
    not_json.write_text("{strategies: random")
    assert main(["bench", "--config", str(not_json)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert main(["bench", "--config", str(tmp_path / "none.json")]) == 2
    assert "config file not found" in capsys.readouterr().err
    bad_value = tmp_path / "c.json"
    bad_value.write_text(json.dumps({"noise_type": "gaussian", "budget": 5, "rounds": 1}))
    assert main(["bench", "--config", str(bad_value)]) == 2
    assert f"--noise-type (config file {bad_value}) must be symmetric or asymmetric, got 'gaussian'" \
        in capsys.readouterr().err


def test_user_embeddings_with_real_noisy_labels(tmp_path, digits, capsys):
    X, y = digits
    X, y = X[:300], y[:300]
    y_noisy = y.copy()
    y_noisy[::4] = (y[::4] + 3) % 10  # 25 % fixed noise
    np.save(tmp_path / "emb.npy", X)
    np.savez(tmp_path / "lab.npz", clean=y, noisy=y_noisy)
    argv = ["bench", "--dataset", str(tmp_path / "emb.npy"), "--labels", str(tmp_path / "lab.npz"),
            "--labels-key", "clean", "--noisy-labels", str(tmp_path / "lab.npz"),
            "--noisy-labels-key", "noisy", "--strategies", "random", "--filters", "knn",
            "--seeds", "1", "--samples-per-class", "1", "--test-size", "0.3",
            "--out", str(tmp_path / "out"), "--no-plot", *FAST]
    assert main(argv) == 0
    with open(tmp_path / "out" / "results.csv", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["noise_type"] == "real" and row["filter"] == "knn"
    rate = float(row["noise_rate"])
    assert rate == pytest.approx(0.25, abs=0.03)  # the realised rate of the pool part
    assert int(row["n_labeled"]) == int(np.ceil(round(10 / (1 - rate), 9)))
    assert not (tmp_path / "out" / "learning_curves.png").exists()


def test_python_m_skal_bench_subprocess(tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    bad = subprocess.run([sys.executable, "-m", "skal", "bench", "--filters", "zzz", "--budget",
                          "5", "--rounds", "1"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "unknown filter 'zzz'" in bad.stderr
    assert "Traceback" not in bad.stderr
