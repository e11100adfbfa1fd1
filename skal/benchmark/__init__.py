"""Benchmarks: learning curves for strategies x filters x noise settings x seeds.

The public API::

    from skal.benchmark import run_benchmark
    res = run_benchmark(X_pool, y_pool, X_test=X_te, y_test=y_te,
                        strategies=["random", "probcover", "npc"], filters=["aum", "cv"],
                        noise=0.5, seeds=5, samples_per_class=[1, 2, 3, 4, 5],
                        backend="dask", out="results/")

* :func:`run_benchmark` runs the grid (joblib: loky, dask.distributed or
  sequential) and returns :class:`BenchmarkResults` (tidy records, a summary,
  the configuration); ``out=`` writes ``results.csv``, ``rounds.csv``,
  ``summary.csv``, ``config.json`` and ``learning_curves.png``.
* :func:`available_strategies`, :func:`available_filters`,
  :func:`make_strategy`, :func:`make_filter`: the name registries shared with
  the ``skal bench`` command line.
* :func:`samples_per_class_schedule`, :func:`budget_schedule`: budget schedules.
* :func:`aulc`, :func:`filter_scores`, :func:`summarize`,
  :func:`summarize_rounds`, :func:`summary_table`: metrics and reports.
* :func:`plot_learning_curves` (needs matplotlib).
"""

from ._config import available_filters, available_strategies, make_filter, make_strategy
from ._metrics import aulc, filter_scores, summarize, summarize_rounds, summary_table
from ._results import RECORD_COLUMNS, BenchmarkResults, write_csv
from ._runner import run_benchmark
from ._settings import (
    NoiseSetting,
    budget_schedule,
    parse_noise,
    samples_per_class_schedule,
)


def __getattr__(name):
    # matplotlib is optional: import the plotting module only when asked.
    if name == "plot_learning_curves":
        from ._plots import plot_learning_curves

        return plot_learning_curves
    raise AttributeError(f"module 'skal.benchmark' has no attribute {name!r}")


__all__ = [
    "run_benchmark",
    "BenchmarkResults",
    "RECORD_COLUMNS",
    "NoiseSetting",
    "available_strategies",
    "available_filters",
    "make_strategy",
    "make_filter",
    "parse_noise",
    "samples_per_class_schedule",
    "budget_schedule",
    "aulc",
    "filter_scores",
    "summarize",
    "summarize_rounds",
    "summary_table",
    "plot_learning_curves",
    "write_csv",
]
