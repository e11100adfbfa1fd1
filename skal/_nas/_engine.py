"""The round engine shared by ``query``/``teach`` and ``fit_round``.

A round spends a budget of labels. With NAS on (``noise_aware`` and a filter)
the budget is cut into shares of ``C`` labels: the filter judges the labels of
one share before the next share is chosen. The open round is one typed record,
:class:`OpenRound`, which :mod:`._persistence` saves and validates.

The engine's rule for every entry point: *labels are stored first*. Whatever
fails afterwards (the filter, the final estimator), the labels stay bought and
the round stays open; the next call judges what is unjudged and goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import _steps
from ._ledger import plain

__all__ = ["OpenRound", "nas_shares", "start_round", "replan", "finish_if_bought", "query", "teach", "finish_round"]

_TIMES = ("time_select", "time_oracle", "time_filter")


def nas_shares(budget: int, n_classes: int | None) -> list[int]:
    """Split a round's budget into NAS shares.

    The budget is cut into shares of ``n_classes`` points; the remainder goes
    to the first share. A budget smaller than ``n_classes`` (or an unknown
    number of classes) is a single share.

    Parameters
    ----------
    budget : int
    n_classes : int or None

    Returns
    -------
    shares : list of int
        Positive sizes summing to ``budget``.

    Examples
    --------
    >>> nas_shares(25, 10)
    [15, 10]
    >>> nas_shares(7, 10)
    [7]
    """
    if n_classes is None or n_classes < 1 or budget <= n_classes:
        return [int(budget)]
    n_shares, rest = divmod(int(budget), int(n_classes))
    shares = [int(n_classes)] * n_shares
    shares[0] += rest
    return shares


@dataclass
class OpenRound:
    """A round that has started and not finished.

    Attributes
    ----------
    round : int
        Its number (0-based).
    budget : int
        Labels it buys in all.
    shares : list of int
        Its plan: share sizes, done and to come.
    n_done : int
        Shares finished.
    n_before : int
        Labels bought before the round started.
    use_shares : bool
        Whether the filter judges between shares (NAS on).
    asked : ndarray of int64
        Pool indices asked and not yet answered (empty when nothing is asked).
    whole_round : bool
        Whether the rest of the round was asked at once (``query(whole_round=True)``).
    filter_stale : bool
        Labels arrived that the filter has not judged yet.
    coverage : float or None
        The strategy's coverage after the last selection (kept here so that a
        round finished in another process still records it).
    times : dict
        Seconds spent selecting, waiting for the annotator, filtering.
    """

    round: int
    budget: int
    shares: list
    n_done: int = 0
    n_before: int = 0
    use_shares: bool = False
    asked: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    whole_round: bool = False
    filter_stale: bool = False
    times: dict = field(default_factory=lambda: dict.fromkeys(_TIMES, 0.0))
    coverage: float | None = None
    asked_at: float | None = None

    @property
    def shares_left(self) -> list:
        return self.shares[self.n_done:]

    def to_json(self) -> dict:
        return {"round": self.round, "budget": self.budget, "shares": list(self.shares),
                "n_done": self.n_done, "n_before": self.n_before, "use_shares": self.use_shares,
                "whole_round": self.whole_round, "filter_stale": self.filter_stale,
                "times": dict(self.times), "coverage": self.coverage}

    @classmethod
    def from_json(cls, data, asked: np.ndarray | None, *, n_pool: int, n_labeled: int,
                  n_rounds_done: int) -> OpenRound:
        """Rebuild a saved open round, refusing anything that does not add up."""
        if not isinstance(data, dict):
            raise ValueError("the open round must be a record")
        data = dict(data)
        coverage = data.pop("coverage", None)
        if coverage is not None and not isinstance(coverage, (int, float)):
            raise ValueError("the open round's coverage must be a number or null")
        expected = {"round", "budget", "shares", "n_done", "n_before", "use_shares",
                    "whole_round", "filter_stale", "times"}
        if set(data) != expected:
            raise ValueError(f"the open round has fields {sorted(data)}, expected {sorted(expected)}")
        ints = ("round", "budget", "n_done", "n_before")
        if not all(type(data[k]) is int and data[k] >= 0 for k in ints):
            raise ValueError("the open round's counters must be non-negative integers")
        shares = data["shares"]
        if not isinstance(shares, list) or not shares \
                or not all(type(s) is int and s > 0 for s in shares):
            raise ValueError("the open round's shares must be positive integers")
        if sum(shares) != data["budget"] or data["n_done"] >= len(shares):
            raise ValueError("the open round's shares do not add up to its budget")
        if data["round"] != n_rounds_done or data["n_before"] > n_labeled:
            raise ValueError("the open round does not follow the finished rounds")
        bought = n_labeled - data["n_before"]
        done = sum(shares[:data["n_done"]])
        if not done <= bought < done + shares[data["n_done"]]:
            raise ValueError("the open round's labels do not match its plan")
        if not all(type(data[k]) is bool for k in ("use_shares", "whole_round", "filter_stale")):
            raise ValueError("the open round's flags must be booleans")
        times = data["times"]
        if not isinstance(times, dict) or set(times) != set(_TIMES) \
                or not all(isinstance(v, (int, float)) for v in times.values()):
            raise ValueError("the open round's timings are damaged")
        if asked is None:
            asked = np.empty(0, dtype=np.int64)
        if asked.ndim != 1 or asked.dtype.kind not in "iu" or \
                (asked.size and (asked.min() < 0 or asked.max() >= n_pool)):
            raise ValueError("the asked indices are not indices into the pool")
        fields = {k: data[k] for k in expected - {"times"}}
        return cls(**fields, times={k: float(v) for k, v in times.items()},
                   asked=asked.astype(np.int64),
                   coverage=None if coverage is None else float(coverage))


def start_round(est, budget: int) -> None:
    """Open a new round that buys ``budget`` labels."""
    use_shares = bool(est.noise_aware and est.noise_filter_ is not None)
    shares = nas_shares(budget, _steps.n_classes(est)) if use_shares else [budget]
    est._open = OpenRound(round=est.n_rounds_done_, budget=int(budget), shares=shares,
                          n_before=est._ledger.size, use_shares=use_shares)


def replan(est, budget: int) -> None:
    """Re-plan the rest of the open round so that it buys ``budget`` more labels."""
    r = est._open
    answered_in_share = _answered_in_current_share(est)
    done = r.shares[:r.n_done]
    rest = nas_shares(budget, _steps.n_classes(est)) if r.use_shares else [budget]
    if answered_in_share:
        # The current share is partly answered: it keeps what it has and the
        # new budget comes after it.
        done = done + [answered_in_share]
        r.n_done += 1
    r.shares = done + rest
    r.budget = sum(r.shares)
    if r.asked.size and r.asked.size != rest[0]:
        # An ask of another size than the new plan's next share is dropped
        # (it is asked again if the strategy still picks those points).
        r.asked = np.empty(0, dtype=np.int64)


def _answered_in_current_share(est) -> int:
    r = est._open
    return est._ledger.size - r.n_before - sum(r.shares[:r.n_done])


def finish_if_bought(est, X: np.ndarray | None, oracle=None) -> None:
    """Finish an open round whose labels are all bought (its finishing failed before)."""
    r = est._open
    if r is not None and r.n_done >= len(r.shares):
        finish_round(est, X, oracle)


def query(est, X: np.ndarray, whole_round: bool = False) -> np.ndarray:
    """The indices to label next (the open ask, or a newly selected share)."""
    r = est._open
    if r.asked.size:
        return r.asked.copy()
    if r.use_shares:
        # The filter judges the last share's labels before the next share is chosen.
        _steps.judge_unjudged(est, X, r)
    if whole_round:
        # Everything left in the round at once: one selection, no judging in
        # between (for teams that cannot work in shares); the record says so.
        r.shares = r.shares[:r.n_done] + [sum(r.shares[r.n_done:])]
        r.whole_round = True
    left_in_share = r.shares[r.n_done] - _answered_in_current_share(est)
    t0 = time.perf_counter()
    picks = _steps.select_share(est, X, left_in_share)
    r.times["time_select"] += time.perf_counter() - t0
    r.asked = np.asarray(picks, dtype=np.int64)
    r.asked_at = time.perf_counter()
    coverage = getattr(est.strategy_, "coverage_", None)
    if coverage is not None:
        r.coverage = float(coverage)
    return r.asked.copy()


def teach(est, X: np.ndarray, indices: np.ndarray, labels: np.ndarray, oracle=None) -> None:
    """Store answered labels, then judge and finish what they complete.

    ``indices`` and ``labels`` are validated by the caller.
    """
    r = est._open
    if r.asked_at is not None:
        r.times["time_oracle"] += time.perf_counter() - r.asked_at
        r.asked_at = None
    est._ledger.add(indices, labels, X[indices], r.round)
    est._update_classes()
    r.asked = r.asked[~np.isin(r.asked, indices)]
    r.filter_stale = est.noise_filter_ is not None
    share_complete = _answered_in_current_share(est) >= r.shares[r.n_done]
    if share_complete:
        r.n_done += 1
    # Labels first: from here on, a failure loses nothing already answered.
    est._save_checkpoint()
    if not share_complete:
        return
    if r.n_done < len(r.shares):
        if r.use_shares:
            _steps.judge_unjudged(est, X, r)
        return
    finish_round(est, X, oracle)


def finish_round(est, X: np.ndarray | None, oracle=None) -> None:
    """Judge the last labels, train the final estimator and write the round's record."""
    r = est._open
    t_start = time.perf_counter()
    _steps.judge_unjudged(est, X, r)
    t0 = time.perf_counter()
    _steps.fit_estimator(est, _steps.training_positions(est))
    ledger = est._ledger
    record = {"round": r.round, "budget": r.budget, "shares": list(r.shares), **r.times,
              "time_fit": time.perf_counter() - t0}
    if r.whole_round:
        record["whole_round"] = True
    record["picks"] = [int(i) for i in ledger.idx[r.n_before:]]
    record["labels"] = [plain(v) for v in ledger.labels[r.n_before:]]
    record["n_labeled"] = ledger.size
    record["n_predicted_clean"] = int(ledger.clean_mask.sum())
    record["clean_mask"] = [bool(v) for v in ledger.clean_mask]
    delta = getattr(est.strategy_, "delta_", None)
    if delta is not None:
        record["delta"] = float(delta)
    coverage = getattr(est.strategy_, "coverage_", None)
    if coverage is None:
        coverage = r.coverage      # selected in another process
    record["coverage"] = None if coverage is None else float(coverage)
    record.update(_steps.filter_quality(est, oracle))
    record["time_total"] = sum(r.times.values()) + (time.perf_counter() - t_start)
    est.history_.append(record)
    est.n_rounds_done_ += 1
    est._open = None
    est._save_checkpoint()
    if est.verbose:
        print(f"[skal] round {record['round']}: {record['n_labeled']} labels, "
              f"{record['n_predicted_clean']} predicted clean, {record['time_total']:.2f}s")
