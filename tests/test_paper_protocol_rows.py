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


def test_selection_experiment_rows_follow_the_default_and_swap_the_filter():
    effect = pytest.importorskip("nas_selection_effect")
    from skal.filters import CentroidFilter, GraphFilter, IdealFilter

    is_noisy = np.zeros(50, dtype=bool)
    policy = paper_protocol.RECOMMENDED["ProbCover"]["delta_schedule"]
    pc = {r.name: r.make(0, is_noisy) for r in effect.rows("ProbCover")}
    assert sorted(pc) == ["Centroid, NAS", "Centroid, train only", "Ideal, NAS",
                          "Ideal, train only"]
    assert all(lrn.delta_schedule.policy == policy for lrn in pc.values())
    assert isinstance(pc["Centroid, NAS"].noise_filter, CentroidFilter)
    assert pc["Centroid, NAS"].noise_aware and not pc["Centroid, train only"].noise_aware
    assert isinstance(pc["Ideal, NAS"].noise_filter, IdealFilter)
    mh = {r.name: r.make(0, is_noisy) for r in effect.rows("MaxHerding", filter_name="graph")}
    assert all(lrn.delta_schedule is None for lrn in mh.values())
    assert isinstance(mh["Graph, NAS"].noise_filter, GraphFilter)
    assert mh["Graph, train only"].train_on == paper_protocol.RECOMMENDED["MaxHerding"]["train_on"]
    constant = effect.rows("ProbCover", delta_schedule=None)
    assert all(r.make(0, is_noisy).delta_schedule is None for r in constant)


def test_selection_experiment_pool_is_unit_normalised_with_every_class():
    effect = pytest.importorskip("nas_selection_effect")
    X, y, X_test, y_test = effect.clustered_pool(400, modes=3, n_classes=4, dim=8, seed=1)
    assert X.shape == (400, 8) and X_test.shape == (1000, 8)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-12)
    assert set(np.unique(y)) == {0, 1, 2, 3} and set(np.unique(y_test)) <= {0, 1, 2, 3}


def test_selection_effect_table_pairs_seeds_by_hand():
    effect = pytest.importorskip("nas_selection_effect")
    records = []
    # seed 0: train only 0.5 / 0.7 over two rounds, NAS 0.6 / 0.8 -> +10 points;
    # seed 1: train only 0.4 / 0.4, NAS 0.5 / 0.7 -> +20 points. Mean +15, std 5.
    acc = {("Centroid, train only", 0): (0.5, 0.7), ("Centroid, NAS", 0): (0.6, 0.8),
           ("Centroid, train only", 1): (0.4, 0.4), ("Centroid, NAS", 1): (0.5, 0.7),
           ("Ideal, train only", 0): (0.9, 0.9), ("Ideal, NAS", 0): (0.9, 0.9),
           ("Ideal, train only", 1): (0.8, 0.8), ("Ideal, NAS", 1): (0.9, 0.9)}
    for (row, seed), values in acc.items():
        for rnd, a in enumerate(values, 1):
            records.append({"strategy": "MaxHerding", "pool": 100, "modes": 2,
                            "samples_per_class": "1-5", "noise": "symm 50%", "row": row,
                            "seed": seed, "round": rnd, "accuracy": a})
    lines = effect.effect_table(records, "Centroid").splitlines()
    assert lines[2] == "| MaxHerding | 100 | 2 | 1-5 | symm 50% | Centroid | 50.0 | 65.0 | +15.0 ± 5.0 |"
    assert lines[3] == "| MaxHerding | 100 | 2 | 1-5 | symm 50% | Ideal | 85.0 | 90.0 | +5.0 ± 5.0 |"


def _plain_budgets(tmp_path, *options):
    """Run MaxHerding's default rows on the digits at 50 % noise (one seed) with
    ``options``; the CSV's header line and the plain row's labels per round."""
    import csv

    out = tmp_path / "rows.csv"
    paper_protocol.main(["--dataset", "digits", "--strategies", "MaxHerding", "--rows",
                         "defaults", "--noise", "0.5", "--asym", "--seeds", "1", "--n-jobs",
                         "1", *options, "--out", str(out)])
    with open(out) as fh:
        header = fh.readline()
        rows = list(csv.DictReader(fh))
    return header, [int(r["n_labeled"]) for r in rows if r["row"] == "plain"]


def test_budget_scale_multiplies_the_samples_per_class(tmp_path):
    header, plain = _plain_budgets(tmp_path, "--budget-scale", "2")
    assert "budget_scale=2" in header
    # ceil(spc * C / (1 - r)) with spc = 2, 4, ..., 10, C = 10, r = 0.5
    assert plain == [40, 80, 120, 160, 200]


def test_budget_scale_must_be_positive(tmp_path):
    with pytest.raises(SystemExit):
        paper_protocol.main(["--budget-scale", "0", "--out", str(tmp_path / "x.csv")])


def test_learner_params_reach_every_row_and_are_named_in_the_header(tmp_path, monkeypatch):
    import csv

    rows = paper_protocol.protocol_rows("MaxHerding", "defaults")
    changed = [paper_protocol.with_learner_params(r, {"pool_doubt_weight": 0.8}) for r in rows]
    for before, after in zip(rows, changed):
        assert (after.name, after.kind, after.train_on) == (before.name, before.kind,
                                                           before.train_on)
        assert after.make(0, np.zeros(50, dtype=bool)).pool_doubt_weight == 0.8
        assert before.make(0, np.zeros(50, dtype=bool)).pool_doubt_weight == 1.0
    out = tmp_path / "rows.csv"
    paper_protocol.main(["--dataset", "digits", "--strategies", "MaxHerding", "--rows",
                         "defaults", "--noise", "0.5", "--asym", "--seeds", "1", "--n-jobs",
                         "1", "--learner-param", "pool_doubt_weight=0.8", "--out", str(out)])
    with open(out) as fh:
        assert 'learner_params={"pool_doubt_weight": 0.8}' in fh.readline()
        assert {r["row"] for r in csv.DictReader(fh)} == {r.name for r in rows}
    with pytest.raises(SystemExit):
        paper_protocol.main(["--learner-param", "pool_doubt_weight", "--out", str(out)])


def test_label_map_merges_classes_after_the_protocol_split():
    import argparse

    parser = argparse.ArgumentParser()
    y, y_test = np.array([0, 1, 2, 3, 9, 8]), np.array([5, 4, 7, 6])
    merged, merged_test = paper_protocol.map_labels(parser, "0,0,1,1,2,2,3,3,4,4", y, y_test)
    np.testing.assert_array_equal(merged, [0, 0, 1, 1, 4, 4])
    np.testing.assert_array_equal(merged_test, [2, 2, 3, 3])
    X, X_test, y10, _ = paper_protocol.load("digits")
    _, _, y5, _ = paper_protocol.load("digits")
    y5 = paper_protocol.map_labels(parser, "0,1,2,3,4,0,1,2,3,4", y5, y5)[0]
    np.testing.assert_array_equal(y5, y10 % 5)  # same pool rows, labels mapped in place
    for bad in ("0,0,1", "a,b", "1,1,2,2,3,3,4,4,5,5", "0,0,0,0,0,0,0,0,0,0"):
        with pytest.raises(SystemExit):
            paper_protocol.map_labels(parser, bad, y, y_test)
    with pytest.raises(SystemExit):  # string labels (own embeddings) cannot be mapped by index
        paper_protocol.map_labels(parser, "0,1", np.array(["a", "b"]), np.array(["a"]))


def test_label_map_sets_the_budgets_from_the_merged_classes(tmp_path):
    header, plain = _plain_budgets(tmp_path, "--label-map", "0,0,1,1,2,2,3,3,4,4")
    assert "label_map=0,0,1,1,2,2,3,3,4,4" in header
    assert plain == [10, 20, 30, 40, 50]  # ceil(spc * 5 / 0.5)


def test_selection_experiment_first_seed_shifts_the_seeds(tmp_path):
    import csv

    effect = pytest.importorskip("nas_selection_effect")
    out = tmp_path / "effect.csv"
    effect.main(["--modes", "1", "--pool", "300", "--noise", "0.5", "--strategies", "MaxHerding",
                 "--seeds", "1", "--first-seed", "7", "--n-jobs", "1", "--out", str(out)])
    with open(out) as fh:
        assert {r["seed"] for r in csv.DictReader(fh)} == {"7"}


def test_filter_option_swaps_the_filter_and_keeps_the_default_pipeline():
    from skal.filters import GraphFilter

    is_noisy = np.zeros(50, dtype=bool)
    rows = paper_protocol.protocol_rows("ProbCover", "defaults", filter_name="GraphFilter")
    built = {r.name: r.make(0, is_noisy) for r in rows}
    nas = built["NAS + GraphFilter, train_on=relabel (default's mode)"]
    assert isinstance(nas.noise_filter, GraphFilter) and nas.noise_aware
    assert nas.train_on == paper_protocol.RECOMMENDED["ProbCover"]["train_on"]
    assert nas.delta_schedule.policy == paper_protocol.RECOMMENDED["ProbCover"]["delta_schedule"]
    assert isinstance(built["GraphFilter, train only"].noise_filter, GraphFilter)
    same = paper_protocol.protocol_rows("ProbCover", "defaults", filter_name="CentroidFilter")
    assert [r.name for r in same] == [r.name for r in paper_protocol.protocol_rows(
        "ProbCover", "defaults")]
