"""The protocol benchmark's rows carry the recommended pipeline, δ schedule included."""

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
paper_protocol = pytest.importorskip("paper_protocol")


def _learners(strategy, **kw):
    is_noisy = np.zeros(50, dtype=bool)
    return {r.name: r.make(0, is_noisy) for r in paper_protocol.protocol_rows(strategy, **kw)}


def test_probcover_rows_run_the_recommended_schedule_but_plain():
    learners = _learners("ProbCover")
    policy = paper_protocol.RECOMMENDED["ProbCover"]["delta_schedule"]
    assert learners.pop("plain").delta_schedule is None
    alone = learners.pop(f"plain, δ schedule {policy}")
    assert alone.noise_filter is None and alone.delta_schedule.policy == policy
    for name, learner in learners.items():
        assert learner.delta_schedule is not None, name
        assert learner.delta_schedule.policy == policy, name


def test_maxherding_rows_and_constant_delta_variant_have_no_schedule():
    assert all(lrn.delta_schedule is None for lrn in _learners("MaxHerding").values())
    constant = _learners("ProbCover", row_set="defaults", delta_schedule=None)
    assert all(lrn.delta_schedule is None for lrn in constant.values())
    assert not any(name.startswith("plain, δ schedule") for name in constant)
