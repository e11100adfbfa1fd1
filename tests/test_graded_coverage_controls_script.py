"""The graded-coverage controls weight exactly the labels their names say."""

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
    """600 digits rows; the engine step the script replaces is put back afterwards."""
    monkeypatch.setattr(_steps, "selection_weights", _steps.selection_weights)
    monkeypatch.setattr(_steps, "_doubt_control_hook", False, raising=False)
    X, y = load_digits_embeddings(return_X_y=True)
    return X[:600], y[:600]


def _learners(X, oracle, random_rates=(), rounds=3):
    """Every row's learner after ``rounds`` rounds of 20 labels."""
    import graded_coverage_controls as gcc

    out = {}
    for row in gcc.rows("MaxHerding", 0.8, random_rates):
        learner = row.make(0, oracle.is_noisy_)
        for _ in range(rounds):
            learner.fit_round(X, oracle, budget=20)
        out[row.name] = learner
    return out


def _weights(learner):
    covering = _steps.selection_covering(learner)
    return covering, _steps.selection_weights(learner, covering)


def test_truth_split_weights_the_side_it_names(digits_600):
    import graded_coverage_controls as gcc

    X, y = digits_600
    # An annotator whose 40 labels leave the second look doubting labels of both kinds.
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=2)
    learners = _learners(X, oracle, rounds=2)
    # Each row bought its own labels, so each is judged on its own ledger.
    for side in ("wrong", "right"):
        est = learners[gcc.truth_split_row(side, 0.8)]
        covering, w = _weights(est)
        ledger = est._ledger
        doubted = ledger.pool_clean_proba[ledger.positions_of(covering)] < 0.5
        wrong = oracle.is_noisy_[covering]
        expect = doubted & (wrong if side == "wrong" else ~wrong)
        assert expect.any(), f"no {side} label doubted: the check would be empty"
        np.testing.assert_array_equal(w, np.where(expect, 0.8, 1.0))
        # The same ledger under the option itself doubts both sides: the split
        # weights a strict part of what the option weights.
        est._doubt_control = None
        _, w_option = _weights(est)
        np.testing.assert_array_equal(w_option, np.where(doubted, 0.8, 1.0))
        assert (w_option < 1).sum() > expect.sum()


def test_option_row_is_the_library_option(digits_600):
    import graded_coverage_controls as gcc

    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    learners = _learners(X, oracle)
    assert learners[gcc.DEFAULT_ROW].pool_doubt_weight == 1.0
    assert learners[gcc.TRAIN_ONLY_ROW].noise_aware is False
    option = learners[gcc.second_look_row(0.8)]
    assert option.pool_doubt_weight == 0.8 and getattr(option, "_doubt_control", None) is None
    assert _weights(learners[gcc.DEFAULT_ROW])[1] is None


def test_random_doubts_follow_the_fixed_draw(digits_600):
    import graded_coverage_controls as gcc

    X, y = digits_600
    oracle = NoisyOracle(y, noise_rate=0.5, random_state=0)
    learners = _learners(X, oracle, random_rates=(0.0, 0.3, 1.0))
    assert _weights(learners[gcc.random_row(0.0, 0.8)])[1] is None
    covering, w = _weights(learners[gcc.random_row(1.0, 0.8)])
    np.testing.assert_array_equal(w, np.full(covering.size, 0.8))
    est = learners[gcc.random_row(0.3, 0.8)]
    covering, w = _weights(est)
    draw = np.random.default_rng([0, 2027]).random(oracle.is_noisy_.size)
    np.testing.assert_array_equal(w, np.where(draw[covering] < 0.3, 0.8, 1.0))


def test_paired_table_differences_by_seed():
    import graded_coverage_controls as gcc

    def rec(row, seed, accs):
        return [{"strategy": "MaxHerding", "noise": "symm 50%", "row": row, "seed": seed,
                 "accuracy": a} for a in accs]
    records = (rec(gcc.DEFAULT_ROW, 0, [0.5, 0.6]) + rec(gcc.DEFAULT_ROW, 1, [0.4, 0.4])
               + rec("x", 0, [0.6, 0.6]) + rec("x", 1, [0.4, 0.6]))
    table = gcc.paired_table(records)
    # Seed 0: +10 and 0 points (mean +5); seed 1: 0 and +20 (mean +10).
    assert "| MaxHerding | symm 50% | x | 2 | +7.50 ± 2.50 | +5.0 / +10.0 |" in table
    assert gcc.DEFAULT_ROW + " |" not in table


@pytest.mark.parametrize("argv, message", [
    (["--weight", "1"], "--weight"),
    (["--noise", "--asym"], "no noise"),
    (["--random", "2"], "probability"),
])
def test_main_refuses_bad_arguments(argv, message, capsys):
    import graded_coverage_controls as gcc

    with pytest.raises(SystemExit):
        gcc.main(argv + ["--out", os.devnull])
    assert message in capsys.readouterr().err
