"""skal.benchmark: schedules, metrics, registries and the runner on every backend."""

import csv
import json
import math

import numpy as np
import pytest

from skal.benchmark import (
    RECORD_COLUMNS,
    aulc,
    available_filters,
    available_strategies,
    budget_schedule,
    filter_scores,
    make_filter,
    make_strategy,
    parse_noise,
    run_benchmark,
    samples_per_class_schedule,
    summarize,
    summary_table,
)
from skal.filters import KNNFilter
from skal.strategies import ProbCover, RandomSampling


@pytest.fixture(scope="module")
def small(digits):
    """A 400-point pool and a 200-point clean test set from the digits."""
    X, y = digits
    rng = np.random.default_rng(0)
    idx = rng.permutation(X.shape[0])
    return X[idx[:400]], y[idx[:400]], X[idx[400:600]], y[idx[400:600]]


# ---------------------------------------------------------------- budget schedules
def test_samples_per_class_schedule_values():
    assert samples_per_class_schedule([1, 2, 3, 4, 5], 10, 0.5) == [20, 20, 20, 20, 20]
    # Cumulative targets ceil(10/0.7)=15 and ceil(20/0.7)=29.
    assert samples_per_class_schedule([1, 2], 10, 0.3) == [15, 14]
    assert samples_per_class_schedule([1, 3], 100, 0.0) == [100, 200]
    # 10 / (1 - 0.9) is 100.00000000000003 in floating point: still 100 labels.
    assert samples_per_class_schedule([1], 10, 0.9) == [100]
    assert samples_per_class_schedule([0.5, 1], 7, 0.2) == [math.ceil(3.5 / 0.8), 9 - 5]


@pytest.mark.parametrize("spc, r", [([2, 1], 0.1), ([0, 1], 0.1), ([1, 1], 0.1), ([1], 1.0),
                                    ([], 0.0)])
def test_samples_per_class_schedule_rejects(spc, r):
    with pytest.raises(ValueError):
        samples_per_class_schedule(spc, 10, r)


def test_budget_schedule():
    assert budget_schedule(n_rounds=3, budget=25) == [25, 25, 25]
    assert budget_schedule(budget=[10, 20]) == [10, 20]
    assert budget_schedule(samples_per_class=[1, 2], n_classes=4, noise_rate=0.5) == [8, 8]
    with pytest.raises(ValueError, match="exactly one"):
        budget_schedule(n_rounds=2, budget=5, samples_per_class=[1, 2], n_classes=4)
    # No length given: the default 5 rounds; no budget either: the paper's 1..n schedule.
    assert budget_schedule(budget=5) == [5] * 5
    assert budget_schedule(n_rounds=3, n_classes=10, noise_rate=0.3) == [15, 14, 14]
    assert budget_schedule(n_classes=4, noise_rate=0.5) == [8] * 5
    with pytest.raises(ValueError, match="3 rounds"):
        budget_schedule(n_rounds=2, budget=[1, 2, 3])
    with pytest.raises(ValueError, match="positive"):
        budget_schedule(n_rounds=2, budget=0)


# ---------------------------------------------------------------- metrics
def test_aulc_hand_computed():
    # Trapezoids: 10 * (0.5 + 0.7) / 2 + 20 * (0.7 + 0.9) / 2 = 6 + 16 = 22, over 30 labels.
    assert aulc([10, 20, 40], [0.5, 0.7, 0.9]) == pytest.approx(22 / 30)
    assert aulc([5, 15, 100], [0.8, 0.8, 0.8]) == pytest.approx(0.8)
    assert aulc([7], [0.25]) == 0.25
    with pytest.raises(ValueError, match="increasing"):
        aulc([10, 10], [0.1, 0.2])
    with pytest.raises(ValueError):
        aulc([1, 2], [0.1])


def test_filter_scores():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    flagged = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    s = filter_scores(truth, flagged)
    assert (s["n_noisy_true"], s["n_flagged"], s["n_true_positive"]) == (3, 3, 2)
    assert s["filter_precision"] == pytest.approx(2 / 3)
    assert s["filter_recall"] == pytest.approx(2 / 3)
    assert s["filter_f1"] == pytest.approx(2 / 3)
    none = filter_scores(truth, np.zeros(8, bool))
    assert math.isnan(none["filter_precision"]) and none["filter_recall"] == 0.0
    assert none["filter_f1"] == 0.0
    clean = filter_scores(np.zeros(3, bool), np.zeros(3, bool))
    assert math.isnan(clean["filter_f1"]) and math.isnan(clean["filter_recall"])


def test_summarize_mean_std_over_seeds():
    rows = []
    for seed, accs in enumerate([[0.5, 0.7], [0.3, 0.5]]):
        for r, a in enumerate(accs):
            rows.append({"strategy": "s", "filter": "f", "noise_type": "symmetric",
                         "noise_rate": 0.5, "seed": seed, "round": r + 1,
                         "n_labeled": 10 * (r + 1), "accuracy": a, "filter_f1": 0.5,
                         "time_cumulative": 1.0 + seed})
    (row,) = summarize(rows)
    # AULC per seed: 0.6 and 0.4.
    assert row["aulc_mean"] == pytest.approx(0.5)
    assert row["aulc_std"] == pytest.approx(np.std([0.6, 0.4], ddof=1))
    assert row["final_accuracy_mean"] == pytest.approx(0.6)
    assert row["n_seeds"] == 2 and row["final_n_labeled"] == 20 and row["time_mean"] == 1.5
    table = summary_table([row], markdown=True)
    assert "| s | f | symmetric 0.50 | 2 | 20 | 0.500 ± 0.141 | 0.600 ± 0.141 | 0.50 | 1.5 |" in table


# ---------------------------------------------------------------- registries
def test_registries():
    strategies = available_strategies()
    for name in ("random", "probcover", "maxherding", "typiclust", "coreset", "margin",
                 "entropy", "leastconf", "badge", "npc", "probcover_nas", "maxherding_nas"):
        assert name in strategies
    assert "random_nas" not in strategies  # NAS variants exist for coverage strategies only
    assert {"none", "aum", "aum-original", "cv", "cl", "knn"} <= set(available_filters())
    strategy, nas = make_strategy("npc")
    assert isinstance(strategy, ProbCover) and nas
    strategy, nas = make_strategy("probcover:delta=0.65:purity=0.9")
    assert (strategy.delta, strategy.purity, nas) == (0.65, 0.9, False)
    assert make_filter("none") is None
    assert make_filter("aum-original").recipe == "original"
    assert isinstance(make_filter("knn:n_neighbors=3"), KNNFilter)


@pytest.mark.parametrize("call, spec, match", [
    (make_strategy, "probcovr", "valid names: .*npc.*probcover"),
    (make_strategy, "random_nas", "valid names"),
    (make_strategy, "probcover:bogus=1", r"unknown parameter\(s\) \['bogus'\]"),
    (make_strategy, "probcover:delta", "key=value"),
    (make_filter, "aumm", "valid names: aum, aum-original"),
])
def test_registry_errors(call, spec, match):
    with pytest.raises(ValueError, match=match):
        call(spec)


def test_parse_noise():
    settings = parse_noise([0.2, ("asymmetric", 0.3), {"noise_type": "real", "y_noisy": [0, 1]}])
    assert [(s.noise_type, s.noise_rate) for s in settings] == [
        ("symmetric", 0.2), ("asymmetric", 0.3), ("real", 0.0)]
    with pytest.raises(ValueError, match="noise_type"):
        parse_noise(("gaussian", 0.1))
    with pytest.raises(ValueError, match="y_noisy"):
        parse_noise({"noise_type": "real"})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        parse_noise(1.5)


# ---------------------------------------------------------------- the runner
GRID = dict(strategies=["random", "npc"], filters=["none", "knn"], noise=0.4, seeds=2,
            budget=10, rounds=2, progress=False, inner_threads=1)


def _key(rec):
    return tuple(rec[k] for k in ("strategy", "filter", "seed", "round"))


def _assert_same(a, b):
    assert [_key(r) for r in a.records] == [_key(r) for r in b.records]
    for ra, rb in zip(a.records, b.records):
        for col in ("n_labeled", "accuracy", "n_flagged", "n_noisy_true", "noise_rate_realized"):
            assert ra[col] == rb[col], (col, _key(ra))


@pytest.fixture(scope="module")
def sequential_run(small):
    X, y, X_te, y_te = small
    return run_benchmark(X, y, X_test=X_te, y_test=y_te, backend="sequential", **GRID)


def test_sequential_records(sequential_run, small):
    res = sequential_run
    assert len(res.records) == 2 * 2 * 2 * 2  # strategies x filters x seeds x rounds
    assert all(set(RECORD_COLUMNS) == set(r) for r in res.records)
    assert [r["n_labeled"] for r in res.records[:2]] == [10, 20]
    assert {r["budget"] for r in res.records} == {10}
    for r in res.records:
        assert 0.0 <= r["accuracy"] <= 1.0
        assert r["noise_rate"] == 0.4 and r["noise_rate_realized"] == pytest.approx(0.4, abs=1e-9)
        if r["filter"] == "none":
            assert r["n_flagged"] == 0 and math.isnan(r["filter_precision"])
            assert r["n_predicted_clean"] == r["n_labeled"]
    # The annotator's noise is the same for every method of one seed (paired design):
    # e.g. random/none and random/knn buy the same points, so they see the same wrong labels.
    by = {_key(r): r for r in res.records}
    for seed in (0, 1):
        assert by[("random", "none", seed, 2)]["n_noisy_true"] == \
            by[("random", "knn", seed, 2)]["n_noisy_true"]
    assert by[("random", "none", 0, 1)]["accuracy"] != by[("random", "none", 1, 1)]["accuracy"]
    assert len(res.summary) == 4 and {s["n_seeds"] for s in res.summary} == {2}


@pytest.mark.slow  # starting loky workers takes 15-20 s on a loaded 2-core machine
def test_loky_matches_sequential(sequential_run, small):
    X, y, X_te, y_te = small
    res = run_benchmark(X, y, X_test=X_te, y_test=y_te, backend="loky", n_jobs=2, **GRID)
    _assert_same(res, sequential_run)
    assert res.config["execution"] == {"backend": "loky", "n_jobs": 2, "inner_threads": 1}


def test_saved_files(sequential_run, tmp_path):
    res = sequential_run
    paths = res.save(tmp_path)
    assert set(paths) == {"records", "rounds", "summary", "config", "plot"}
    # Files: the tidy CSV, its schema and row count; the JSON configuration; the plot.
    with open(tmp_path / "results.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == list(RECORD_COLUMNS)
    assert len(rows) == 1 + len(res.records)
    header = rows[0]
    first = dict(zip(header, rows[1]))
    assert first["strategy"] == "random" and first["filter"] == "none"
    assert first["filter_precision"] == ""  # NaN is an empty cell
    assert float(first["accuracy"]) == res.records[0]["accuracy"]
    cfg = json.loads((tmp_path / "config.json").read_text())
    assert cfg["seeds"] == [0, 1] and cfg["budget"] == 10
    assert cfg["budget_schedules"] == {"symmetric@0.4": [10, 10]}
    assert [s["label"] for s in cfg["strategies"]] == ["random", "npc"]
    assert [s["noise_aware"] for s in cfg["strategies"]] == [False, True]
    assert cfg["n_pool"] == 400 and cfg["n_test"] == 200 and cfg["n_cells"] == 8
    assert cfg["execution"] == {"backend": "sequential", "n_jobs": 1, "inner_threads": 1}
    with open(tmp_path / "summary.csv", newline="") as fh:
        summary = list(csv.DictReader(fh))
    assert len(summary) == 4 and "aulc_mean" in summary[0]
    png = (tmp_path / "learning_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert (tmp_path / "rounds.csv").exists()


def test_dask_local_cluster_matches_sequential(sequential_run, small):
    pytest.importorskip("distributed")
    X, y, X_te, y_te = small
    res = run_benchmark(X, y, X_test=X_te, y_test=y_te, backend="dask", n_jobs=2,
                        cluster_kwargs={"processes": False}, **GRID)
    _assert_same(res, sequential_run)
    assert res.config["execution"]["backend"] == "dask"
    assert res.config["execution"]["n_workers"] == 2


@pytest.mark.parametrize("how", ["client", "address"])
def test_dask_existing_cluster(small, how):
    distributed = pytest.importorskip("distributed")
    X, y, X_te, y_te = small
    with distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        scheduler = client if how == "client" else cluster.scheduler_address
        res = run_benchmark(X, y, X_test=X_te, y_test=y_te, strategies=["random"],
                            filters=["none"], noise=0.2, seeds=[3], budget=[5, 15],
                            backend="dask", scheduler=scheduler, progress=False)
    assert [r["n_labeled"] for r in res.records] == [5, 20]
    assert [r["seed"] for r in res.records] == [3, 3]
    expected = "client" if how == "client" else cluster.scheduler_address
    assert res.config["execution"]["scheduler"] == expected
    assert res.config["execution"]["n_workers"] == 1


def test_samples_per_class_and_real_noise(small):
    X, y, X_te, y_te = small
    y_noisy = y.copy()
    y_noisy[:100] = (y[:100] + 1) % 10  # 25 % real noise on the pool
    res = run_benchmark(
        X, y, X_test=X_te, y_test=y_te,
        strategies={"rand": RandomSampling(), "pc+nas": (ProbCover(), True)},
        filters={"knn3": "knn:n_neighbors=3"},
        noise=[{"noise_type": "real", "y_noisy": y_noisy, "name": "fixed"}, 0.5],
        seeds=1, samples_per_class=[1, 2], backend="sequential", progress=False)
    real = [r for r in res.records if r["noise_type"] == "fixed"]
    sym = [r for r in res.records if r["noise_type"] == "symmetric"]
    # Real noise: r = 0.25, so targets ceil(10/0.75)=14 and ceil(20/0.75)=27.
    assert [r["n_labeled"] for r in real if r["strategy"] == "rand"] == [14, 27]
    assert [r["n_labeled"] for r in sym if r["strategy"] == "rand"] == [20, 40]
    assert {r["noise_rate"] for r in real} == {0.25}
    assert {r["strategy"] for r in res.records} == {"rand", "pc+nas"}
    assert res.config["strategies"][1]["noise_aware"] is True
    assert res.config["budget_schedules"] == {"fixed@0.25": [14, 13], "symmetric@0.5": [20, 20]}


@pytest.mark.parametrize("kwargs, match", [
    (dict(backend="spark"), "backend must be one of"),
    (dict(budget=300, rounds=2), "more than the 400 points"),
    (dict(learner_params={"budget": 3}), "cannot set"),
    (dict(strategies=["nope"]), "unknown strategy"),
    (dict(filters=["none", "none"]), "unique"),
    (dict(seeds=0), "seeds"),
])
def test_runner_errors(small, kwargs, match):
    X, y, X_te, y_te = small
    params = dict(strategies=["random"], filters=["none"], noise=0.1, seeds=1, budget=5,
                  rounds=1, backend="sequential", progress=False)
    params.update(kwargs)
    with pytest.raises(ValueError, match=match):
        run_benchmark(X, y, X_test=X_te, y_test=y_te, **params)


class _FailsInRoundTwo(RandomSampling):
    """Valid parameters; its second selection fails, as a fault inside a cell would."""

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        if len(labeled):
            raise ArithmeticError("boom")
        return super()._select(X, budget, labeled=labeled, covering=covering,
                               estimator=estimator, rng=rng)


def test_cell_failure_names_the_cell(small):
    X, y, X_te, y_te = small
    with pytest.raises(RuntimeError, match="strategy='bad', filter='none'.*seed=0.*"
                                           "ArithmeticError: boom"):
        run_benchmark(X, y, X_test=X_te, y_test=y_te, strategies={"bad": _FailsInRoundTwo()},
                      filters=["none"], noise=0.1, seeds=1, budget=5, rounds=2,
                      backend="sequential", progress=False)


def test_plot_learning_curves_range_band(sequential_run, tmp_path):
    from skal.benchmark import plot_learning_curves

    fig = plot_learning_curves(sequential_run.records, tmp_path / "f1.png", metric="filter_f1",
                               band="range", title="F1")
    assert (tmp_path / "f1.png").stat().st_size > 5000
    (ax,) = fig.axes
    assert len(ax.lines) == 4 and ax.get_ylabel() == "filter_f1"
    with pytest.raises(ValueError, match="band"):
        plot_learning_curves(sequential_run.records, band="iqr")
