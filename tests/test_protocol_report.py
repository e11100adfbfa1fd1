"""The protocol page's uncertainty figures: paired standard errors and the share's interval."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
report = pytest.importorskip("protocol_report")


def test_paired_se_by_hand():
    assert report.paired_se(np.array([1.0, 3.0])) == pytest.approx(1.0)  # std 1.414 / sqrt 2
    assert report.paired_se(np.array([2.0, 2.0, 2.0])) == 0.0
    assert np.isnan(report.paired_se(np.array([5.0])))


def test_share_interval_is_exact_when_every_seed_closes_the_same_share():
    plain = np.array([0.40, 0.50, 0.45, 0.55])
    ideal = plain + np.array([0.20, 0.30, 0.10, 0.40])
    row = plain + 0.25 * (ideal - plain)
    lo, hi = report.share_interval(row, plain, ideal, n_boot=500)
    assert lo == pytest.approx(0.25) and hi == pytest.approx(0.25)


def test_share_interval_matches_a_naive_bootstrap():
    rng = np.random.default_rng(3)
    plain = rng.uniform(0.4, 0.5, 8)
    ideal = plain + rng.uniform(0.1, 0.3, 8)
    row = plain + rng.uniform(0.0, 0.2, 8)
    lo, hi = report.share_interval(row, plain, ideal, n_boot=2000, seed=7)
    draws = np.random.default_rng(7).integers(0, 8, (2000, 8))
    shares = [np.mean(row[i] - plain[i]) / np.mean(ideal[i] - plain[i]) for i in draws]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(shares, [2.5, 97.5])))
    assert lo < np.mean(row - plain) / np.mean(ideal - plain) < hi


def test_share_by_rounds_splits_the_share_by_hand():
    # Two seeds, four rounds: the default closes half the gap in rounds 1-2
    # and all of it in rounds 3-4 (gaps 0.2 and 0.1 in every round).
    plain = np.array([[0.3, 0.4, 0.5, 0.6], [0.3, 0.4, 0.5, 0.6]])
    ideal = plain + np.array([0.2, 0.2, 0.1, 0.1])
    default = plain + np.array([0.1, 0.1, 0.1, 0.1])
    rows = []
    for name, kind, acc in [("plain", "plain", plain), ("NAS + IdealFilter", "ideal nas", ideal),
                            ("NAS + F (default)", "nas", default)]:
        for seed in range(2):
            for t in range(4):
                rows.append({"dataset": "d", "strategy": "S", "noise": "symm 50%", "row": name,
                             "kind": kind, "seed": seed, "round": t + 1, "n_labeled": 10 * (t + 1),
                             "accuracy": acc[seed, t], "filter_f1": 1.0})
    text = report.share_by_rounds(report.summarize(rows), "d", spans=((1, 2), (3, 4)))
    line = text.splitlines()[-1]
    assert line == "| S | symm 50% | 50% (50%–50%) | 100% (100%–100%) |"
