"""Plain-text report of a session's status (``skal status``)."""

from __future__ import annotations

__all__ = ["format_status"]


def format_status(status: dict, state_path: str, review_line: str | None = None) -> str:
    """The status dict of :meth:`LabelingSession.status` as a few lines of text.

    ``review_line`` (the labeling page's noise rate before/after review)
    replaces the plain estimated noise rate when given.
    """
    classes = status["classes"]
    lines = [f"session {state_path}: pool of {status['n_pool']} items, classes "
             f"{', '.join(map(str, classes)) if classes else 'open (any label)'}"]
    round_line = f"rounds finished: {status['round']} of {status['n_rounds_planned']} planned"
    if status["round_open"]:
        round_line += (f"; round {status['round'] + 1} open: {status['round_bought']} of "
                       f"{status['round_budget']} labels bought, {status['n_asked']} asked and "
                       "not answered")
    lines.append(round_line)
    rate = status["noise_rate_estimate"]
    line = (f"labels bought: {status['n_labeled']}; predicted noisy (to review): "
            f"{status['n_flagged']}; reviewed: {status['n_reviewed']}")
    if review_line is None:
        line += f"; estimated noise rate: {'n/a' if rate is None else f'{rate:.1%}'}"
    lines.append(line)
    if review_line is not None:
        lines.append(review_line)
    coverage = status["coverage"]
    lines.append("coverage after the last round: "
                 + ("n/a" if coverage is None else f"{coverage:.3f}"))
    curve = status.get("learning_curve")
    if curve is not None:
        lines.append("round  labels  trained  test accuracy")
        lines += [f"{p['round'] + 1:>5}  {p['n_labeled']:>6}  {p['n_trained']:>7}  "
                  f"{p['accuracy']:.3f}" for p in curve]
        if not curve:
            lines.append("(no finished round yet)")
    return "\n".join(lines)
