"""The cells of the NAS protocol benchmark: one learning curve per (row, noise, seed).

``skal.benchmark.run_benchmark`` builds its filters once per grid, so it
cannot give a filter the true noise of each seed's annotator. The protocol
needs exactly that for its ceiling rows (:class:`~skal.filters.IdealFilter`),
so this module runs the cells itself, with the same ingredients and the same
pairing: one :class:`~skal.NoisyOracle` per (noise setting, seed), shared by
every row, seeded apart from the learner's own randomness.

Used by ``benchmarks/paper_protocol.py`` (the page) and
``benchmarks/nas_selection_effect.py`` (the controlled experiment).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skal import NoiseAwareActiveLearner, NoisyOracle  # noqa: E402
from skal.filters import IdealFilter  # noqa: E402

__all__ = ["Noise", "Row", "budgets", "ideal_filter", "oracle_for", "run_cell", "run_grid"]


@dataclass(frozen=True)
class Noise:
    """An annotator noise setting: ``kind`` is ``"symmetric"`` or ``"asymmetric"``."""

    kind: str
    rate: float

    @property
    def label(self) -> str:
        return f"{self.kind[:4]} {self.rate:.0%}"


@dataclass
class Row:
    """One row of the table: how to build the learner of a seed.

    ``make(seed, is_noisy)`` returns a fresh learner; ``is_noisy`` is the
    annotator's true noise by pool index, only the ideal rows look at it.
    """

    name: str
    strategy: str
    kind: str  # "plain", "train-only", "nas", "ideal train-only", "ideal nas"
    make: Callable[[int, np.ndarray], NoiseAwareActiveLearner]
    train_on: str = "clean"
    extra: dict = field(default_factory=dict)


def budgets(n_classes: int, rate: float, samples_per_class=(1, 2, 3, 4, 5)) -> list[int]:
    """Per-round budgets of the paper's cumulative schedule ceil(spc·C/(1−r))."""
    totals = [math.ceil(round(s * n_classes / (1.0 - rate), 9)) for s in samples_per_class]
    return [totals[0]] + [b - a for a, b in zip(totals, totals[1:])]


def _oracle_seed(seed: int) -> int:
    # The annotator's own stream, the same for every row of a seed (paired
    # comparisons) and independent of the learner's picks (seeded by ``seed``).
    return int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])


def oracle_for(y: np.ndarray, noise: Noise, seed: int) -> NoisyOracle:
    """The annotator of one (noise setting, seed): every row of that seed gets this one."""
    return NoisyOracle(y, noise_rate=noise.rate, noise_type=noise.kind,
                       random_state=_oracle_seed(seed))


def run_cell(row: Row, X, y, X_test, y_test, noise: Noise, seed: int,
             sched: list[int]) -> list[dict]:
    """Every round of one row for one (noise, seed): accuracy and filter quality per round."""
    oracle = oracle_for(y, noise, seed)
    learner = row.make(seed, oracle.is_noisy_)
    out = []
    t0 = time.perf_counter()
    for r, b in enumerate(sched):
        learner.fit_round(X, oracle, budget=b)
        truth = oracle.is_noisy_[learner.labeled_idx_]
        flagged = ~learner.clean_mask_
        tp = int((truth & flagged).sum())
        prec = tp / flagged.sum() if flagged.sum() else float("nan")
        rec = tp / truth.sum() if truth.sum() else float("nan")
        f1 = (2 * tp / (flagged.sum() + truth.sum())) if (flagged.sum() + truth.sum()) else 1.0
        h = learner.history_[-1]
        out.append({
            "strategy": row.strategy, "row": row.name, "kind": row.kind,
            "train_on": row.train_on, "noise": noise.label, "noise_type": noise.kind,
            "noise_rate": noise.rate, "seed": seed, "round": r + 1,
            "n_labeled": int(learner.labeled_idx_.size),
            "n_noisy": int(truth.sum()), "n_flagged": int(flagged.sum()),
            "accuracy": float(learner.score(X_test, y_test)),
            "filter_precision": prec, "filter_recall": rec, "filter_f1": f1,
            "time_filter": float(h.get("time_filter", 0.0)),
            "time_cumulative": time.perf_counter() - t0,
        })
    return out


def run_grid(rows: list[Row], X, y, X_test, y_test, noises: list[Noise], seeds: list[int],
             *, samples_per_class=(1, 2, 3, 4, 5), n_jobs: int = 2, log=None) -> list[dict]:
    """Every row × noise × seed, run on ``n_jobs`` loky workers (1 BLAS thread each)."""
    import joblib
    from threadpoolctl import threadpool_limits

    n_classes = int(np.unique(y).size)
    cells = [(row, nz, s) for nz in noises for s in seeds for row in rows]

    def one(row, nz, s):
        with threadpool_limits(1):
            return run_cell(row, X, y, X_test, y_test, nz, s,
                            budgets(n_classes, nz.rate, samples_per_class))

    records = []
    done = 0
    t0 = time.perf_counter()
    for rec in joblib.Parallel(n_jobs=n_jobs, return_as="generator")(
            joblib.delayed(one)(*c) for c in cells):
        records.extend(rec)
        done += 1
        if log is not None and (done % 20 == 0 or done == len(cells)):
            print(f"{done}/{len(cells)} cells, {time.perf_counter() - t0:.0f}s", file=log,
                  flush=True)
    return records


def ideal_filter(is_noisy: np.ndarray) -> IdealFilter:
    """The ceiling's filter, told the annotator's true noise."""
    return IdealFilter(np.asarray(is_noisy, dtype=bool))


def write_records(records: list[dict], path: str) -> None:
    """One CSV row per record (the columns of the first), creating the folder."""
    import csv

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(records[0]))
        w.writeheader()
        w.writerows(records)


def accuracy_by_seed(records: list[dict], keys: tuple[str, ...]) -> dict:
    """``{(record[k] for k in keys): {seed: [accuracy per round]}}``, in first-seen order."""
    table: dict = {}
    for rec in records:
        table.setdefault(tuple(rec[k] for k in keys), {}).setdefault(
            rec["seed"], []).append(rec["accuracy"])
    return table
