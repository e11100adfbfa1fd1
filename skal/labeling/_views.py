"""Read-only views of a labeling session: status, the label table, flagged labels, neighbours.

Each function takes a :class:`~skal.labeling.LabelingSession` and reads its
learner's public attributes; nothing here changes the session.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._nas._ledger import plain as plain_label
from ._pool import LabelingError

__all__ = ["split_known", "status", "labels_table", "flagged", "neighbours",
           "noise_rate_estimate"]


def split_known(session, indices: np.ndarray, labels: np.ndarray, ids: list) -> np.ndarray:
    """Which answers are new (asked items); refuse unknown, unasked or changed ones.

    Returns a boolean mask over the answers: ``True`` for asked items,
    ``False`` for items already labeled with the same label.
    """
    learner = session.learner
    dup = np.unique(indices, return_counts=True)
    if (dup[1] > 1).any():
        twice = [session.pool.ids[i] for i in dup[0][dup[1] > 1]][:5]
        raise LabelingError(f"id(s) {twice} answered more than once")
    asked = np.isin(indices, learner.asked_idx_)
    bought = dict(zip(learner.labeled_idx_.tolist(), learner.labels_.tolist()))
    new = np.zeros(indices.size, dtype=bool)
    for k, i in enumerate(indices.tolist()):
        if asked[k]:
            new[k] = True
        elif i in bought:
            if bought[i] != labels[k].item():
                raise LabelingError(
                    f"id {ids[k]!r} is already labeled {plain_label(bought[i])!r}, the answer "
                    f"says {labels[k].item()!r}: correct bought labels with relabel")
        else:
            raise LabelingError(f"id {ids[k]!r} was not asked (run `skal query` and label the "
                                "items it returns)")
    return new


def _labeled(session) -> bool:
    return session.learner._initialised


def noise_rate_estimate(session) -> float:
    if not _labeled(session) or session.learner.labeled_idx_.size == 0:
        return float("nan")
    return float(np.mean(~session.learner.clean_mask_))


def status(session) -> dict:
    """The session's progress as a JSON-able dict.

    Keys: ``round`` (finished rounds), ``n_rounds_planned``, ``round_open``,
    ``round_budget`` and ``round_bought`` (the open round's), ``n_labeled``,
    ``n_asked`` (asked, not answered), ``n_flagged`` (predicted noisy, to
    review), ``n_reviewed``, ``noise_rate_estimate``, ``coverage`` (the
    strategy's coverage after the last finished round, or None), ``n_pool``,
    ``classes``.
    """
    meta = session.metadata
    out: dict[str, Any] = {"round": 0, "n_rounds_planned": meta["n_rounds"], "round_open": False,
                           "round_budget": meta["budgets"][0], "round_bought": 0,
                           "n_labeled": 0, "n_asked": 0, "n_flagged": 0, "n_reviewed": 0,
                           "noise_rate_estimate": None, "coverage": None,
                           "n_pool": session.pool.n_items, "classes": meta["classes"]}
    if not _labeled(session):
        return out
    learner = session.learner
    r = learner.n_rounds_done_
    out["round"] = int(r)
    budgets = meta["budgets"]
    out["round_budget"] = int(budgets[min(r, len(budgets) - 1)])
    opened = learner._open
    if opened is not None:
        out["round_open"] = True
        out["round_budget"] = int(opened.budget)
        out["round_bought"] = int(learner.labeled_idx_.size - opened.n_before)
    out["n_labeled"] = int(learner.labeled_idx_.size)
    out["n_asked"] = int(learner.asked_idx_.size)
    out["n_flagged"] = int((~learner.clean_mask_).sum())
    out["n_reviewed"] = int(learner.reviewed_.sum())
    rate = noise_rate_estimate(session)
    out["noise_rate_estimate"] = None if math.isnan(rate) else rate
    if learner.history_:
        out["coverage"] = learner.history_[-1].get("coverage")
    return out


def labels_table(session) -> list[dict]:
    """One record per bought label, in buying order.

    Keys: ``index``, ``id``, ``label`` (current), ``first_label`` (the first
    answer, before any correction), ``round``, ``clean`` (the filter's
    verdict), ``clean_score``, ``reviewed``.
    """
    if not _labeled(session):
        return []
    learner = session.learner
    first = {}
    for c in learner.corrections_:
        first.setdefault(int(c["index"]), c["old"])
    rows = []
    for k, i in enumerate(learner.labeled_idx_.tolist()):
        label = plain_label(learner.labels_[k])
        rows.append({"index": i, "id": session.pool.ids[i], "label": label,
                     "first_label": plain_label(first.get(i, label)),
                     "round": int(learner.label_round_[k]),
                     "clean": bool(learner.clean_mask_[k]),
                     "clean_score": float(learner.clean_score_[k]),
                     "reviewed": bool(learner.reviewed_[k])})
    return rows


def flagged(session, limit: int | None = None) -> list[dict]:
    """Predicted-noisy labels, lowest clean score first (ties: buying order)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    rows = [r for r in labels_table(session) if not r["clean"]]
    rows.sort(key=lambda r: r["clean_score"])  # stable: ties keep buying order
    return rows if limit is None else rows[:limit]


def neighbours(session, item: Any, k: int = 5) -> list[dict]:
    """The ``k`` labeled items nearest to ``item`` (Euclidean, in embedding space).

    Parameters
    ----------
    item : str or int
        An item id of the pool.
    k : int, default=5

    Returns
    -------
    rows : list of dict
        ``index``, ``id``, ``label``, ``clean``, ``clean_score``, ``distance``;
        nearest first, the item itself left out.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    i = int(session.pool.index_of([item])[0])
    table = [r for r in labels_table(session) if r["index"] != i]
    if not table:
        return []
    X = session.pool.X
    idx = np.asarray([r["index"] for r in table], dtype=np.int64)
    dist = np.sqrt(np.maximum(((X[idx] - X[i]) ** 2).sum(axis=1), 0.0))
    order = np.argsort(dist, kind="stable")[:k]
    return [{**{key: table[j][key] for key in ("index", "id", "label", "clean", "clean_score")},
             "distance": float(dist[j])} for j in order]
