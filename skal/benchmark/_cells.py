"""One cell of a benchmark grid: every round of one (strategy, filter, noise setting, seed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..noise import NoisyOracle
from ._grid import Method, build_learner
from ._metrics import filter_scores
from ._results import RECORD_COLUMNS
from ._settings import NoiseSetting

__all__ = ["Cell", "run_cell_indexed"]


@dataclass
class Cell:
    """One learning curve of the grid: a strategy, a filter, a noise setting, a seed."""

    index: int
    strategy: Method
    filter: Method
    noise_index: int
    seed: int
    budgets: list[int]


def _oracle_seed(seed: int) -> int:
    # The annotator's noise gets its own stream, so that it is the same for
    # every method of one seed (paired comparisons) yet independent of the
    # learner's random picks, which are seeded with ``seed`` itself.
    return int(np.random.SeedSequence([int(seed), 1]).generate_state(1)[0])


def _make_oracle(y: np.ndarray, noise: NoiseSetting, seed: int) -> NoisyOracle:
    if noise.noise_type == "real":
        return NoisyOracle(y, y_noisy=noise.y_noisy)
    return NoisyOracle(y, noise_rate=noise.noise_rate, noise_type=noise.noise_type,
                       random_state=_oracle_seed(seed), transition_matrix=noise.transition_matrix)


def _run_cell(cell: Cell, X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray,
              noises: list[NoiseSetting], learner_params: dict,
              inner_threads: int | None = None) -> list[dict]:
    """One learning curve: every round of one (strategy, filter, noise, seed)."""
    if inner_threads is None:
        return _run_cell_body(cell, X, y, X_test, y_test, noises, learner_params)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=inner_threads):
        return _run_cell_body(cell, X, y, X_test, y_test, noises, learner_params)


def _run_cell_body(cell, X, y, X_test, y_test, noises, learner_params) -> list[dict]:
    noise = noises[cell.noise_index]
    try:
        oracle = _make_oracle(y, noise, cell.seed)
        learner = build_learner(cell.strategy, cell.filter, cell.budgets, cell.seed,
                                learner_params)
        rows, elapsed = [], 0.0
        for r, b in enumerate(cell.budgets):
            learner.fit_round(X, oracle, budget=b)
            h = learner.history_[-1]
            accuracy = float(learner.score(X_test, y_test))
            elapsed += h["time_total"]
            # Filter quality from the learner's state rather than its history,
            # so that "none" (nothing flagged) is scored the same way.
            scores = filter_scores(oracle.is_noisy_[learner.labeled_idx_], ~learner.clean_mask_)
            row = {
                "strategy": cell.strategy.label, "filter": cell.filter.label,
                "noise_type": noise.label, "noise_rate": noise.noise_rate,
                "noise_rate_realized": oracle.noise_rate_, "seed": cell.seed, "round": r + 1,
                "budget": b, "n_labeled": int(learner.labeled_idx_.size), "accuracy": accuracy,
                "n_predicted_clean": int(learner.clean_mask_.sum()),
                "coverage": h.get("coverage"),
                "time_select": h["time_select"], "time_filter": h["time_filter"],
                "time_fit": h["time_fit"], "time_round": h["time_total"],
                "time_cumulative": elapsed,
            }
            row.update({k: v for k, v in scores.items() if k in RECORD_COLUMNS})
            rows.append(row)
        return rows
    except Exception as exc:
        raise RuntimeError(
            f"benchmark cell failed (strategy={cell.strategy.label!r}, filter={cell.filter.label!r}, "
            f"noise={noise.label}@{noise.noise_rate}, seed={cell.seed}): "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def run_cell_indexed(cell: Cell, *args) -> tuple[int, list[dict]]:
    # Results come back in completion order; the index puts them back in grid order.
    return cell.index, _run_cell(cell, *args)
