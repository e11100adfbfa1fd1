"""``skal bench``: the benchmark runner from the command line.

Example::

    skal bench --dataset digits --strategies random,probcover,npc --filters none,aum,cv \\
        --noise-rate 0.3 0.5 --seeds 5 --samples-per-class 1 2 3 4 5 \\
        --backend dask --out results/

Every option can also come from ``--config FILE`` (JSON, or YAML when PyYAML
is installed) whose keys are the option names (``"noise_rate"`` or
``"noise-rate"``); options given on the command line win over the file.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._options import DEFAULTS, HELP_DEFAULTS, resolve_options

__all__ = ["add_bench_parser", "run_bench", "DEFAULTS"]

_EPILOG = """\
strategies: {strategies}
filters:    {filters}
A name may carry parameters: probcover:delta=0.65, cv:n_splits=5.
Plain strategy names use the filter only to clean the training set; NAS names
(npc, <coverage strategy>_nas) also use it to choose what to label.
--samples-per-class lists cumulative targets: after round t the labeled set
holds ceil(spc_t * C / (1 - noise_rate)) labels. With neither --budget nor
--samples-per-class, the paper's schedule 1 2 ... N (N = --rounds) is used.
Exit status: 0 done, 2 bad options or input (nothing ran), 1 a cell failed."""


def _default(key: str) -> str:
    """The ``(default: ...)`` of an option's help, from the one table of defaults."""
    if key in HELP_DEFAULTS:
        return f"(default: {HELP_DEFAULTS[key]})"
    value = DEFAULTS[key]
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    return f"(default: {value})"


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``bench`` sub-command on an argparse sub-parser collection.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        What ``parser.add_subparsers()`` returned.

    Returns
    -------
    parser : argparse.ArgumentParser
        The ``bench`` parser; its ``func`` default is :func:`run_bench`.
    """
    from ._config import available_filters, available_strategies

    p = subparsers.add_parser(
        "bench", help="learning curves for strategies x filters x noise x seeds (CSV, JSON, plots)",
        description="Run a benchmark grid of active-learning strategies and noise filters under "
                    "a noisy annotator; write tidy CSV, a JSON configuration and plots.",
        epilog=_EPILOG.format(strategies=", ".join(available_strategies()),
                              filters=", ".join(available_filters())),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    # Every default is None here so that a config file can fill what the
    # command line left out; the real defaults live in DEFAULTS.
    data = p.add_argument_group("data")
    data.add_argument("--config", metavar="FILE",
                      help="JSON (or YAML) file with any of these options (default: none)")

    def add(group, flag, key, text, **kwargs):
        group.add_argument(flag, help=f"{text} {_default(key)}", **kwargs)

    add(data, "--dataset", "dataset",
        "'digits' (bundled) or embeddings (.npy/.npz/.pt/.csv, shape (N, d))",
        metavar="digits|PATH")
    add(data, "--labels", "labels", "true labels of --dataset (may be the same .npz)",
        metavar="PATH")
    add(data, "--embeddings-key", "embeddings_key",
        "array name inside an .npz/.pt --dataset (and --test-embeddings)", metavar="KEY")
    add(data, "--labels-key", "labels_key",
        "label array name inside an .npz/.pt --labels (and --test-labels)", metavar="KEY")
    add(data, "--noisy-labels", "noisy_labels",
        "a fixed real noisy-label vector of the dataset (e.g. CIFAR-10N)", metavar="PATH")
    add(data, "--noisy-labels-key", "noisy_labels_key", "array name inside --noisy-labels",
        metavar="KEY")
    add(data, "--test-size", "test_size", "held-out clean test fraction (stratified split)",
        type=float, metavar="FRAC")
    add(data, "--test-embeddings", "test_embeddings", "a separate test set instead",
        metavar="PATH")
    add(data, "--test-labels", "test_labels", "labels of --test-embeddings", metavar="PATH")
    add(data, "--split-seed", "split_seed", "seed of the test split", type=int, metavar="SEED")
    grid = p.add_argument_group("grid")
    add(grid, "--strategies", "strategies", "comma-separated", metavar="LIST")
    add(grid, "--filters", "filters", "comma-separated", metavar="LIST")
    add(grid, "--noise-rate", "noise_rate", "one or more simulated noise rates", type=float,
        nargs="+", metavar="R")
    add(grid, "--noise-type", "noise_type", "simulated noise model",
        choices=["symmetric", "asymmetric"])
    add(grid, "--seeds", "seeds", "seeds 0..N-1", type=int, metavar="N")
    add(grid, "--rounds", "rounds", "active-learning rounds", type=int, metavar="N")
    budget = grid.add_mutually_exclusive_group()
    add(budget, "--budget", "budget", "labels per round (one value, or one per round)",
        type=int, nargs="+", metavar="B")
    add(budget, "--samples-per-class", "samples_per_class",
        "cumulative samples-per-class targets, e.g. 1 2 3 4 5", type=float, nargs="+",
        metavar="S")
    add(grid, "--train-on", "train_on", "train the probe on predicted-clean or all labels",
        choices=["clean", "all"])
    run = p.add_argument_group("execution and output")
    add(run, "--backend", "backend", "where the cells run", choices=["loky", "dask", "sequential"])
    add(run, "--scheduler", "scheduler", "dask scheduler address, e.g. tcp://host:8786",
        metavar="ADDRESS")
    add(run, "--scheduler-timeout", "scheduler_timeout",
        "seconds to wait for --scheduler before giving up", type=float, metavar="S")
    add(run, "--n-jobs", "n_jobs", "loky processes / LocalCluster workers", type=int,
        metavar="N")
    add(run, "--out", "out",
        "directory for results.csv, rounds.csv, summary.csv, config.json and the plot; "
        "checked for writing before the grid runs", metavar="DIR")
    add(run, "--no-plot", "no_plot", "no learning-curve PNG", action="store_true",
        default=None)
    add(run, "--no-progress", "no_progress", "hide the progress bar", action="store_true",
        default=None)
    p.set_defaults(func=run_bench)
    return p


def run_bench(args: argparse.Namespace) -> int:
    """Run ``skal bench`` from parsed arguments.

    Every option, file and grid entry is checked before the grid runs, so a
    mistake costs seconds, not the run.

    Parameters
    ----------
    args : argparse.Namespace
        From the parser that :func:`add_bench_parser` registered.

    Returns
    -------
    status : int
        0 on success, 2 for bad options or input (one line on stderr, nothing
        run), 1 when a cell failed while running.
    """
    from ._backends import check_scheduler
    from ._inputs import load_data, noise_settings
    from ._metrics import summary_table
    from ._results import check_output_dir
    from ._runner import run_benchmark

    try:
        opts = resolve_options(args)
        # Names and parameter values are checked before any data is loaded,
        # so a typo fails at once; run_benchmark checks them again, cheaply.
        from ._grid import methods

        for key in ("strategies", "filters"):
            try:
                methods(opts[key], key)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{opts.name(key)}: {exc}") from exc
        if opts["out"] is not None:
            check_output_dir(opts["out"], "--out")
        if opts["scheduler"] is not None:
            check_scheduler(opts["scheduler"], opts["scheduler_timeout"], "--scheduler")
        X, y, y_noisy, X_test, y_test, meta = load_data(opts)
        budget = opts["budget"]
        if budget is not None and len(budget) == 1:
            budget = budget[0]
        res = run_benchmark(
            X, y, X_test=X_test, y_test=y_test, strategies=opts["strategies"],
            filters=opts["filters"], noise=noise_settings(opts, y_noisy), seeds=opts["seeds"],
            rounds=opts["rounds"], budget=budget,
            samples_per_class=None if budget is not None else opts["samples_per_class"],
            learner_params={"train_on": opts["train_on"]}, backend=opts["backend"],
            scheduler=opts["scheduler"], scheduler_timeout=opts["scheduler_timeout"],
            n_jobs=opts["n_jobs"], out=opts["out"], plot=not opts["no_plot"],
            progress=not opts["no_progress"],
            metadata={**meta, "options": dict(opts)})
    except (ValueError, TypeError, OSError, ImportError) as exc:  # OSError: ConnectionError too
        print(f"skal bench: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"skal bench: {exc}", file=sys.stderr)
        return 1
    print(summary_table(res.summary))
    if opts["out"]:
        print(f"wrote {', '.join(sorted(os.path.basename(p) for p in res.paths.values()))} "
              f"to {opts['out']}")
    print(f"({res.config['n_cells']} cells, {res.config['wall_time_s']:.1f}s, "
          f"{res.config['execution']['backend']})")
    return 0
