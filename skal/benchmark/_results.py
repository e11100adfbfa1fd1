"""What a benchmark run returns and writes: tidy records, CSV/JSON files, the output check."""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._metrics import summarize_rounds

__all__ = ["RECORD_COLUMNS", "BenchmarkResults", "write_csv", "check_output_dir", "OUTPUT_FILES"]

#: Columns of the tidy per-round CSV, in order.
RECORD_COLUMNS = (
    "strategy", "filter", "noise_type", "noise_rate", "noise_rate_realized", "seed", "round",
    "budget", "n_labeled", "accuracy", "n_predicted_clean", "n_noisy_true", "n_flagged",
    "filter_precision", "filter_recall", "filter_f1", "coverage",
    "time_select", "time_filter", "time_fit", "time_round", "time_cumulative",
)

#: The files :meth:`BenchmarkResults.save` writes, by kind.
OUTPUT_FILES = {"records": "results.csv", "rounds": "rounds.csv", "summary": "summary.csv",
                "config": "config.json", "plot": "learning_curves.png"}


def check_output_dir(out: Any, name: str = "out") -> str:
    """Make sure the results can be written to ``out`` before any work is done.

    The directory is created when missing, and a probe file is written and
    removed, so that a file in the way, a read-only place or a full disk is
    reported at once rather than after the whole grid ran.

    Parameters
    ----------
    out : path-like
        The output directory.
    name : str, default="out"
        How to call it in error messages (``"--out"`` on the command line).

    Returns
    -------
    out : str
        The path, as a string.

    Raises
    ------
    TypeError
        When ``out`` is not a path.
    ValueError
        When the directory cannot be created or written to, or one of the
        result file names is taken by a directory.
    """
    if isinstance(out, bool) or not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{name} must be a directory path, got {out!r}")
    out = os.fspath(out)
    if not out:
        raise ValueError(f"{name} must be a directory path, got an empty string")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"{name} {out!r} is a file, not a directory")
    try:
        os.makedirs(out, exist_ok=True)
        # os.access is not enough: it says yes to root on a read-only mount.
        fd, probe = tempfile.mkstemp(prefix=".skal-bench-probe-", dir=out)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise ValueError(f"{name} {out!r} cannot be written to: "
                         f"{exc.strerror or type(exc).__name__}") from exc
    taken = [f for f in OUTPUT_FILES.values() if os.path.isdir(os.path.join(out, f))]
    if taken:
        raise ValueError(f"{name} {out!r}: {taken} already exist as directories")
    return out


@dataclass
class BenchmarkResults:
    """What :func:`run_benchmark` returns.

    Attributes
    ----------
    records : list of dict
        The tidy rows, one per (strategy, filter, noise setting, seed, round),
        with the keys :data:`RECORD_COLUMNS`.
    summary : list of dict
        One row per curve: AULC and final accuracy, mean ± std over seeds
        (see :func:`skal.benchmark.summarize`).
    config : dict
        The JSON-friendly configuration of the run (grid, schedules, backend,
        versions, wall time).
    paths : dict
        The files :meth:`save` wrote, by kind (empty until then).
    """

    records: list[dict]
    summary: list[dict]
    config: dict
    paths: dict = field(default_factory=dict)

    def to_frame(self):
        """The records as a :class:`pandas.DataFrame` (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.records, columns=list(RECORD_COLUMNS))

    def round_summary(self) -> list[dict]:
        """Mean ± std over seeds per curve and round (see :func:`summarize_rounds`)."""
        return summarize_rounds(self.records)

    def save(self, out: str | os.PathLike, *, plot: bool = True) -> dict:
        """Write ``results.csv``, ``rounds.csv``, ``summary.csv``, ``config.json`` and the plot.

        Parameters
        ----------
        out : path-like
            A directory (created if missing).
        plot : bool, default=True
            Also write ``learning_curves.png`` (needs matplotlib; skipped
            with a warning when it is missing).

        Returns
        -------
        paths : dict
            What was written, by kind.
        """
        out = check_output_dir(out)
        paths = {kind: os.path.join(out, OUTPUT_FILES[kind])
                 for kind in ("records", "rounds", "summary", "config")}
        write_csv(paths["records"], self.records, RECORD_COLUMNS)
        rounds = self.round_summary()
        write_csv(paths["rounds"], rounds, list(rounds[0]) if rounds else [])
        write_csv(paths["summary"], self.summary, list(self.summary[0]) if self.summary else [])
        with open(paths["config"], "w") as fh:
            json.dump(self.config, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
        if plot:
            try:
                from ._plots import plot_learning_curves
            except ImportError:  # matplotlib missing: the numbers still stand
                import warnings

                warnings.warn("matplotlib is not installed: no plot written", stacklevel=2)
            else:
                paths["plot"] = os.path.join(out, OUTPUT_FILES["plot"])
                plot_learning_curves(self.records, paths["plot"])
        self.paths = paths
        return paths


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return repr(obj)


def _fmt(v) -> Any:
    # Floats are written with full precision; NaN/None become empty cells so
    # that every CSV reader (pandas, R, spreadsheets) sees a missing value.
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    return v


def write_csv(path: str | os.PathLike, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Write dict rows as a CSV with a fixed column order (missing values empty)."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_fmt(row.get(c)) for c in columns])
