"""The review side of a labeling session: what people confirmed or changed, and noise rates.

A label the filter doubts goes to the review list; the person confirms it
(kept) or corrects it (changed) through :meth:`LabelingSession.relabel`,
which keeps both answers in the learner's ``corrections_``. From those
records and the filter's current verdicts this module estimates the
annotator's noise rate before and after the review.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["first_answers", "review_summary", "review_list", "recent_reviews",
           "format_review"]


def first_answers(learner) -> dict[int, Any]:
    """Pool index -> the annotator's first answer, for every reviewed label."""
    first: dict[int, Any] = {}
    for record in learner.corrections_:
        first.setdefault(int(record["index"]), record["old"])
    return first


def review_summary(session) -> dict:
    """The annotator's estimated noise rate before and after review, and the review's tally.

    Keys
    ----
    n_labeled, n_flagged (doubted now, not reviewed), n_reviewed, n_kept,
    n_changed : int
        ``n_changed`` counts labels whose current answer differs from the
        annotator's first one (a label changed and changed back is kept).
    noise_rate_before_review : float or None
        What the filter alone says: the share of bought labels it doubted,
        ``(n_flagged + n_reviewed) / n_labeled``. Reviewed labels count as
        doubted because the review list holds the doubted labels only.
    noise_rate_after_review : float or None
        With the people's verdicts: labels found wrong plus labels still
        doubted, ``(n_changed + n_flagged) / n_labeled``; kept labels count
        as right.
    flag_precision : float or None
        ``n_changed / n_reviewed``: how often a doubted label was really
        wrong (None before any review).

    All rates are None before the first label. An undo on the labeling page
    is a correction too (the annotator caught a slip), so it counts as a
    reviewed label.
    """
    out: dict[str, Any] = {"n_labeled": 0, "n_flagged": 0, "n_reviewed": 0, "n_kept": 0,
                           "n_changed": 0, "noise_rate_before_review": None,
                           "noise_rate_after_review": None, "flag_precision": None}
    if session.status()["n_labeled"] == 0:
        return out
    learner = session.learner
    n = int(learner.labeled_idx_.size)
    reviewed = np.asarray(learner.reviewed_, dtype=bool)
    # Reviewed labels are believed (clean_mask_ is True for them), so the
    # flagged ones are exactly the doubted labels nobody has looked at yet.
    flagged = int((~np.asarray(learner.clean_mask_, dtype=bool) & ~reviewed).sum())
    first = first_answers(learner)
    current = dict(zip(learner.labeled_idx_.tolist(), learner.labels_.tolist()))
    changed = sum(1 for i, old in first.items() if _plain(current[i]) != _plain(old))
    n_reviewed = int(reviewed.sum())
    out.update(n_labeled=n, n_flagged=flagged, n_reviewed=n_reviewed,
               n_kept=n_reviewed - changed, n_changed=changed,
               noise_rate_before_review=(flagged + n_reviewed) / n,
               noise_rate_after_review=(changed + flagged) / n,
               flag_precision=(changed / n_reviewed) if n_reviewed else None)
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def review_list(session, *, limit: int = 50, k: int = 5) -> list[dict]:
    """The labels to review, most doubtful first, each with its ``k`` nearest labeled items.

    Each row is a record of :meth:`LabelingSession.flagged` with a
    ``neighbours`` list (:meth:`LabelingSession.neighbours`). Labels a person
    already reviewed are believed and so never flagged again.
    """
    rows = session.flagged(limit)
    for row in rows:
        row["neighbours"] = session.neighbours(row["id"], k) if k else []
    return rows


def recent_reviews(session, limit: int = 20) -> list[dict]:
    """The latest reviews, newest first: ``index``, ``id``, ``old``, ``new``, ``kept``."""
    if session.status()["n_labeled"] == 0:
        return []
    records = session.learner.corrections_[::-1][:limit]
    return [{"index": int(r["index"]), "id": session.pool.ids[int(r["index"])],
             "old": r["old"], "new": r["new"], "kept": not r["changed"]} for r in records]


def format_review(summary: dict) -> str:
    """One line for ``skal status``: noise rate before and after review, and the tally."""
    before, after = summary["noise_rate_before_review"], summary["noise_rate_after_review"]
    if before is None:
        return "annotator noise rate: n/a (no label yet)"
    line = (f"annotator noise rate: {before:.1%} estimated by the filter before review, "
            f"{after:.1%} after review ({summary['n_reviewed']} reviewed: "
            f"{summary['n_kept']} kept, {summary['n_changed']} changed; "
            f"{summary['n_flagged']} doubted and not reviewed)")
    return line
