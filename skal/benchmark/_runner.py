"""The benchmark runner: a grid of learning curves, one joblib task per cell."""

from __future__ import annotations

import contextlib
import numbers
import os
import platform
import time
from collections.abc import Mapping, Sequence
from typing import Any

import joblib
import numpy as np

from .._validation import check_embeddings, check_labels
from ._backends import BACKENDS, backend_context
from ._cells import Cell, run_cell_indexed
from ._grid import check_grid, methods
from ._metrics import summarize
from ._results import BenchmarkResults, check_output_dir
from ._settings import NoiseSetting, budget_schedule, parse_noise

__all__ = ["run_benchmark"]


# ---------------------------------------------------------------------------- the grid
def _pool_classes(y: np.ndarray, noises: list[NoiseSetting]) -> int:
    classes = set(np.unique(y).tolist())
    for nz in noises:
        if nz.y_noisy is not None:
            classes |= set(np.unique(nz.y_noisy).tolist())
    return len(classes)


def run_benchmark(X: Any, y: Any, *, X_test: Any, y_test: Any,
                  strategies: Sequence[str] | Mapping[str, Any] = ("random", "probcover", "npc"),
                  filters: Sequence[str] | Mapping[str, Any] = ("aum",),
                  noise: Any = 0.5, seeds: int | Sequence[int] = 3, rounds: int | None = None,
                  budget: int | Sequence[int] | None = None,
                  samples_per_class: Sequence[float] | None = None,
                  learner_params: dict | None = None, backend: str = "loky",
                  scheduler: Any = None, scheduler_timeout: float = 10.0,
                  n_jobs: int | None = None,
                  cluster_kwargs: dict | None = None, out: str | os.PathLike | None = None,
                  plot: bool = True, progress: bool = True, inner_threads: int | None = None,
                  metadata: dict | None = None) -> BenchmarkResults:
    """Run learning curves for a grid of strategies × filters × noise settings × seeds.

    Every *cell* (one strategy, one filter, one noise setting, one seed) is
    an independent joblib task that runs all rounds of a
    :class:`~skal.NoiseAwareActiveLearner` on the pool ``(X, y)``, with a
    simulated (or fixed real) noisy annotator, and scores the final
    estimator on the clean test set after every round.

    Parameters
    ----------
    X : array-like of shape (n_pool, d)
        Pool embeddings.
    y : array-like of shape (n_pool,)
        True labels of the pool (the annotator's noise is added to them).
    X_test, y_test : array-like
        Clean held-out test set.
    strategies : sequence of str or mapping, default=("random", "probcover", "npc")
        Names from :func:`available_strategies` (``"name:key=value"`` sets
        parameters; ``"npc"`` / ``"<name>_nas"`` are NAS variants), or a
        mapping ``{label: name | QueryStrategy | (QueryStrategy, noise_aware)}``.
        A bare instance is a baseline (``noise_aware=False``).
    filters : sequence of str or mapping, default=("aum",)
        Names from :func:`available_filters` (``"none"`` trusts every label),
        or ``{label: name | NoiseFilter | None}``. With a NAS strategy the
        filter drives selection and cleans the training set; with a plain
        strategy it only cleans the training set.
    noise : float, tuple, dict, NoiseSetting or a sequence of them, default=0.5
        Annotator noise settings (see :func:`parse_noise`): a float is a
        symmetric rate, ``("asymmetric", 0.3)`` a typed one,
        ``{"noise_type": "real", "y_noisy": labels, "name": "cifar10n"}`` a
        fixed noisy-label vector of the pool.
    seeds : int or sequence of int, default=3
        ``n`` means seeds ``0 .. n-1``. A seed fixes the annotator's noise
        (identical for every method) and the learner's randomness.
    rounds : int, optional
        Number of rounds; implied by a sequence ``budget`` or by
        ``samples_per_class``, 5 otherwise.
    budget : int or sequence of int, optional
        Labels bought per round (each round buys this many *more*).
    samples_per_class : sequence of float, optional
        The paper's schedule, *cumulative* targets: after round ``t`` the
        labeled set holds ``ceil(spc_t * C / (1 - r))`` labels, ``r`` being
        the setting's noise rate (the realised rate for real noisy labels).
        Give at most one of ``budget`` and ``samples_per_class``; with
        neither, the schedule is ``1, 2, ..., rounds``.
    learner_params : dict, optional
        Extra :class:`~skal.NoiseAwareActiveLearner` parameters for every cell
        (``estimator``, ``train_on``, ``noise_momentum``, ...).
    backend : {"loky", "dask", "sequential"}, default="loky"
        ``"loky"``: local processes. ``"dask"``: a dask.distributed cluster,
        a new ``LocalCluster`` unless ``scheduler`` is given.
        ``"sequential"``: in this process (debugging).
    scheduler : str or distributed.Client, optional
        Dask scheduler address (``"tcp://host:8786"``) or an existing client.
    scheduler_timeout : float, default=10.0
        Seconds to wait for the scheduler at ``scheduler`` before giving up
        with a ``ConnectionError`` (nothing has run by then).
    n_jobs : int, optional
        Loky: worker processes (default all cores). Dask ``LocalCluster``:
        number of workers (default ``min(4, cores)``).
    cluster_kwargs : dict, optional
        Extra ``LocalCluster`` arguments (e.g. ``{"processes": False}``).
    out : path-like, optional
        Directory to write the CSVs, ``config.json`` and the plot into. It is
        created and checked for writing before the grid runs.
    plot : bool, default=True
        Write ``learning_curves.png`` with ``out``.
    progress : bool, default=True
        A tqdm progress bar over cells.
    inner_threads : int, optional
        BLAS/OpenMP threads inside one cell (via threadpoolctl). By default
        1 on dask (cells already run side by side on the workers' threads),
        and left to joblib on loky (which divides the cores among its
        workers) and to the libraries when sequential.
    metadata : dict, optional
        Stored under ``"dataset"`` in the configuration (e.g. its path).

    Returns
    -------
    results : BenchmarkResults

    Raises
    ------
    ValueError, TypeError
        For bad arguments, found before anything runs: every strategy,
        filter and learner of the grid is built and its parameters
        validated, and ``out`` is checked for writing, first.
    ConnectionError
        When ``scheduler`` cannot be reached.
    RuntimeError
        When a cell fails while running; the message names the cell.

    Examples
    --------
    >>> from sklearn.model_selection import train_test_split
    >>> from skal.benchmark import run_benchmark
    >>> from skal.datasets import load_digits_embeddings
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> X, X_te, y, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    >>> res = run_benchmark(X, y, X_test=X_te, y_test=y_te, strategies=["random"],
    ...                     filters=["none"], noise=0.3, seeds=2, budget=20, rounds=2,
    ...                     backend="sequential", progress=False)
    >>> len(res.records), res.records[-1]["n_labeled"]
    (4, 40)
    """
    t_start = time.perf_counter()
    X, y, X_test, y_test = _check_data(X, y, X_test, y_test)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    _check_execution(n_jobs, scheduler_timeout, inner_threads)
    strat_methods = methods(strategies, "strategies")
    filter_methods = methods(filters, "filters")
    noises = parse_noise(noise)
    for nz in noises:
        if nz.noise_type == "real":
            nz.y_noisy = check_labels(nz.y_noisy, X.shape[0], "y_noisy")
            nz.noise_rate = float(np.mean(nz.y_noisy != y))
    seed_list = _seed_list(seeds)
    n_classes = _pool_classes(y, noises)
    schedules = [budget_schedule(n_rounds=rounds, budget=budget,
                                 samples_per_class=samples_per_class, n_classes=n_classes,
                                 noise_rate=nz.noise_rate) for nz in noises]
    for nz, sched in zip(noises, schedules):
        if sum(sched) > X.shape[0]:
            raise ValueError(
                f"the budget schedule {sched} (noise {nz.label}@{nz.noise_rate}) buys "
                f"{sum(sched)} labels, more than the {X.shape[0]} points of the pool"
            )
    if learner_params is not None and not isinstance(learner_params, Mapping):
        raise TypeError(f"learner_params must be a dict, got {learner_params!r}")
    learner_params = dict(learner_params or {})
    # Everything a cell will build is built once here, so that a bad value
    # fails now rather than when its cell comes up, hours into the grid.
    check_grid(strat_methods, filter_methods, schedules, learner_params)
    if out is not None:
        out = check_output_dir(out)

    cells = [Cell(0, s, f, ni, seed, schedules[ni]) for ni in range(len(noises))
             for seed in seed_list for s in strat_methods for f in filter_methods]
    for i, cell in enumerate(cells):
        cell.index = i
    if inner_threads is None and backend == "dask":
        inner_threads = 1
    scatter = [X, y, X_test, y_test, noises]
    records_by_cell: dict[int, list[dict]] = {}
    with backend_context(backend, n_jobs, scheduler, cluster_kwargs, scatter,
                         scheduler_timeout) as backend_info:
        parallel = joblib.Parallel(return_as="generator_unordered")
        tasks = (joblib.delayed(run_cell_indexed)(c, X, y, X_test, y_test, noises,
                                                   learner_params, inner_threads)
                 for c in cells)
        results = parallel(tasks)
        if progress:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(cells), desc="skal bench", unit="cell")
        for index, rows in results:
            records_by_cell[index] = rows
    records = [row for i in range(len(cells)) for row in records_by_cell[i]]

    from .. import __version__

    config = {
        "skal_version": __version__,
        "dataset": dict(metadata or {}),
        "n_pool": int(X.shape[0]), "n_test": int(X_test.shape[0]), "n_features": int(X.shape[1]),
        "n_classes": n_classes,
        "strategies": [{"label": m.label, "spec": m.spec if isinstance(m.spec, str) else repr(m.spec),
                        "noise_aware": m.noise_aware} for m in strat_methods],
        "filters": [{"label": m.label, "spec": m.spec if isinstance(m.spec, str) or m.spec is None
                     else repr(m.spec)} for m in filter_methods],
        "noise": [nz.describe() for nz in noises],
        "seeds": seed_list,
        "budget": budget if budget is None or isinstance(budget, int) else list(budget),
        "samples_per_class": None if samples_per_class is None else list(samples_per_class),
        "budget_schedules": {f"{nz.label}@{nz.noise_rate}": sched
                             for nz, sched in zip(noises, schedules)},
        "learner_params": {k: v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)
                           for k, v in learner_params.items()},
        "execution": {**backend_info, "inner_threads": inner_threads},
        "n_cells": len(cells),
        "wall_time_s": time.perf_counter() - t_start,
        "versions": _versions(),
    }
    res = BenchmarkResults(records=records, summary=summarize(records), config=config)
    if out is not None:
        res.save(out, plot=plot)
    return res


def _check_data(X, y, X_test, y_test):
    X = check_embeddings(X, "X")
    y = check_labels(y, X.shape[0], "y")
    X_test = check_embeddings(X_test, "X_test")
    y_test = check_labels(y_test, X_test.shape[0], "y_test")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"X_test has {X_test.shape[1]} features but X has {X.shape[1]}")
    return X, y, X_test, y_test


def _check_execution(n_jobs, scheduler_timeout, inner_threads) -> None:
    for name, value in (("n_jobs", n_jobs), ("inner_threads", inner_threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)
                                  or value == 0 or value < -1):
            raise ValueError(f"{name} must be a positive integer or -1, got {value!r}")
    if isinstance(scheduler_timeout, bool) or not isinstance(scheduler_timeout, numbers.Real) \
            or not 0 < scheduler_timeout < float("inf"):
        raise ValueError(f"scheduler_timeout must be a positive number of seconds, "
                         f"got {scheduler_timeout!r}")


def _seed_list(seeds) -> list[int]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a positive count or a list of seeds, got {seeds}")
        return list(range(int(seeds)))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, (Sequence, np.ndarray)) or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a positive count or a list of non-negative integer "
                         f"seeds, got {seeds!r}")
    seed_list = [int(s) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise ValueError(f"seeds must be non-empty and distinct, got {seed_list}")
    return seed_list


def _versions() -> dict:
    import sklearn

    out = {"python": platform.python_version(), "numpy": np.__version__,
           "scikit-learn": sklearn.__version__, "joblib": joblib.__version__}
    with contextlib.suppress(ImportError):  # torch is optional for the versions record
        import torch

        out["torch"] = torch.__version__
    return out
