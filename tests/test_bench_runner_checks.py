"""run_benchmark validates the whole grid, the schedule and the output before any cell runs."""

import numbers

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval

from skal.benchmark import _runner, budget_schedule, make_filter, make_strategy, parse_noise
from skal.benchmark import run_benchmark as _run_benchmark
from skal.benchmark._backends import check_scheduler
from skal.benchmark._config import check_params
from skal.benchmark._results import check_output_dir
from skal.strategies import ProbCover, RandomSampling


@pytest.fixture
def pool():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.arange(80) % 4
    return X[:60], y[:60], X[60:], y[60:]


@pytest.fixture
def no_cell_runs(monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("a cell ran although the input was bad")

    monkeypatch.setattr(_runner, "run_cell_indexed", must_not_run)


def run(pool, **kwargs):
    X, y, X_te, y_te = pool
    params = dict(strategies=["random"], filters=["none"], noise=0.0, seeds=1, budget=4,
                  rounds=1, backend="sequential", progress=False)
    params.update(kwargs)
    return _run_benchmark(X, y, X_test=X_te, y_test=y_te, **params)


# ------------------------------------------------------------------ schedules
@pytest.mark.parametrize("kwargs, match", [
    (dict(budget=20.5), r"budget must be a positive integer .*got 20\.5"),
    (dict(budget=[4, 2.5], rounds=None), r"every budget must be a positive integer, got 2\.5"),
    (dict(budget="x"), "budget must be a positive integer or a sequence of them, got 'x'"),
    (dict(budget=True), "budget must be a positive integer or a sequence"),
    (dict(budget=None, samples_per_class=["a"]), r"samples_per_class must hold numbers"),
    (dict(budget=None, samples_per_class=1), "samples_per_class must be a sequence"),
    (dict(rounds=1.5), r"n_rounds must be a positive integer, got 1\.5"),
    (dict(budget=[4, 4], rounds=3), "has 2 rounds but n_rounds=3"),
])
def test_bad_schedule_fails_before_any_cell(pool, kwargs, match, no_cell_runs):
    with pytest.raises(ValueError, match=match):
        run(pool, **kwargs)


def test_default_schedule_is_samples_per_class(pool):
    # 4 classes, 50 % noise: cumulative targets ceil(4 s / 0.5) = 8, 16 labels.
    res = run(pool, budget=None, rounds=2, noise=0.5)
    assert [r["n_labeled"] for r in res.records] == [8, 16]
    assert res.config["budget_schedules"] == {"symmetric@0.5": [8, 8]}
    assert budget_schedule(n_classes=4, noise_rate=0.5) == [8] * 5


# ------------------------------------------------------------------ noise
@pytest.mark.parametrize("noise, match", [
    ("abc", "noise must be a rate, a setting or a list of them, got 'abc'"),
    ([{"noise_type": "symmetric", "noise_rate": "abc"}],
     "noise_rate must be a number in \\[0, 1\\], got 'abc'"),
    ([("symmetric", True)], "noise_rate must be a number in \\[0, 1\\], got True"),
])
def test_bad_noise_names_the_argument(noise, match):
    with pytest.raises((ValueError, TypeError), match=match):
        parse_noise(noise)


# ------------------------------------------------------------------ grid parameters
@pytest.mark.parametrize("kwargs, match", [
    (dict(strategies=["probcover:delta=-1"]), "strategy 'probcover:delta=-1': .*delta"),
    (dict(strategies=["probcover:delta=abc"]), "strategy 'probcover:delta=abc': .*delta"),
    (dict(strategies={"pc": ProbCover(delta=-1.0)}), "strategy 'pc': .*delta"),
    (dict(filters=["cv:n_splits=1"]), "filter 'cv:n_splits=1': .*n_splits"),
    (dict(learner_params={"train_on": "bogus"}), "learner_params .*train_on"),
    (dict(learner_params={"noise_momentum": 1.5}), "learner_params .*noise_momentum"),
    (dict(learner_params={"bogus": 1}), "learner_params: .*bogus"),
    (dict(learner_params=["train_on"]), "learner_params must be a dict"),
    (dict(learner_params={"budget": 3}), "cannot set"),
])
def test_bad_grid_value_fails_before_any_cell(pool, kwargs, match, no_cell_runs):
    with pytest.raises((ValueError, TypeError), match=match):
        run(pool, **kwargs)


def test_make_strategy_and_make_filter_validate_values():
    with pytest.raises(ValueError, match="strategy 'probcover:delta=-1'"):
        make_strategy("probcover:delta=-1")
    with pytest.raises(ValueError, match="filter 'knn:n_neighbors=1.5'"):
        make_filter("knn:n_neighbors=1.5")
    assert make_strategy("probcover:delta='auto'")[0].delta == "auto"


class _Declared(BaseEstimator):
    _parameter_constraints = {"k": [Interval(numbers.Integral, 1, None, closed="left")]}

    def __init__(self, k=1):
        self.k = k


class _HandWritten(BaseEstimator):
    def __init__(self, k=1):
        self.k = k

    def _validate_params(self):
        if not isinstance(self.k, int):
            raise TypeError(f"k must be an int, got {self.k!r}")


class _Undeclared(BaseEstimator):
    def __init__(self, k=1):
        self.k = k


@pytest.mark.parametrize("cls", [_Declared, _HandWritten])
def test_check_params_uses_either_kind_of_validation(cls):
    good = cls(k=2)
    assert check_params(good, "thing") is good
    with pytest.raises(ValueError, match=r"^thing 'x': .*k"):
        check_params(cls(k="a"), "thing 'x'")


def test_check_params_leaves_undeclared_estimators_alone():
    # Without constraints there is nothing to check yet: no AttributeError
    # from scikit-learn's machinery.
    est = _Undeclared(k="anything")
    assert check_params(est, "thing") is est
    assert check_params(object(), "thing") is not None


# ------------------------------------------------------------------ outputs
def test_out_checked_before_any_cell(pool, tmp_path, no_cell_runs):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(ValueError, match="out .* is a file, not a directory"):
        run(pool, out=target)
    with pytest.raises(ValueError, match="cannot be written to: Not a directory"):
        run(pool, out=target / "sub")
    with pytest.raises(TypeError, match="out must be a directory path, got 5"):
        run(pool, out=5)


def test_check_output_dir(tmp_path):
    out = tmp_path / "new" / "dir"
    assert check_output_dir(out) == str(out)
    assert out.is_dir() and list(out.iterdir()) == []  # the probe file is gone
    (out / "results.csv").mkdir()
    with pytest.raises(ValueError, match=r"\['results.csv'\] already exist as directories"):
        check_output_dir(out, "--out")


def test_save_still_writes_every_file(pool, tmp_path):
    res = run(pool, out=tmp_path / "o", plot=False)
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["config.json", "results.csv", "rounds.csv", "summary.csv"]
    assert set(res.paths) == {"records", "rounds", "summary", "config"}


# ------------------------------------------------------------------ execution
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_jobs=0), "n_jobs must be a positive integer or -1, got 0"),
    (dict(scheduler_timeout=0), "scheduler_timeout must be a positive number"),
    (dict(seeds=[0, 1.5]), "seeds must be a positive count or a list"),
    (dict(seeds="3"), "seeds must be a positive count or a list"),
])
def test_bad_execution_arguments(pool, kwargs, match, no_cell_runs):
    with pytest.raises(ValueError, match=match):
        run(pool, **kwargs)


def test_unreachable_scheduler_is_a_connection_error(pool, no_cell_runs):
    pytest.importorskip("distributed")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError, match=f"scheduler 'tcp://127.0.0.1:{port}': no dask "
                                              "scheduler reachable"):
        run(pool, backend="dask", scheduler=f"tcp://127.0.0.1:{port}", scheduler_timeout=2)
    with pytest.raises(ValueError, match="is not a dask address"):
        check_scheduler("nonsense", 1.0)
    with pytest.raises(TypeError, match="must be an address"):
        check_scheduler(5, 1.0)


def test_a_valid_instance_grid_still_runs(pool):
    res = run(pool, strategies={"r": RandomSampling(), "pc": (ProbCover(delta=0.9), True)},
              filters={"none": None}, budget=[4, 4], rounds=None)
    assert [r["n_labeled"] for r in res.records] == [4, 8, 4, 8]
