"""What a labeling session hands back: the items to label and what teaching did."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Batch", "TeachResult"]


@dataclass
class Batch:
    """Items to label: pool indices, their ids and their display data.

    Attributes
    ----------
    indices : ndarray of int64
    ids : list of str
    data : dict of str to list
        Display columns of the pool (text, image URLs), one value per item.
    round : int
        The round these items belong to (0-based).
    """

    indices: np.ndarray
    ids: list
    data: dict = field(default_factory=dict)
    round: int = 0

    def __len__(self) -> int:
        return int(self.indices.size)

    def rows(self) -> list[dict]:
        """One ``{"index", "id", **data}`` record per item."""
        return [{"index": int(i), "id": self.ids[k], **{c: v[k] for c, v in self.data.items()}}
                for k, i in enumerate(self.indices)]


@dataclass
class TeachResult:
    """What :meth:`LabelingSession.teach` did.

    Attributes
    ----------
    n_taught : int
        New labels stored.
    n_unchanged : int
        Answers for items already labeled with the same label (skipped, so
        that teaching the same file twice changes nothing).
    rounds_finished : int
        Rounds this call completed.
    n_asked_left : int
        Items still asked and not answered.
    """

    n_taught: int
    n_unchanged: int
    rounds_finished: int
    n_asked_left: int
