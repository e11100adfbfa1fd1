"""The labeled-set ledger: every label bought, in the order it was bought."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Ledger", "plain"]


def plain(value: Any) -> Any:
    """Turn a numpy scalar into a plain Python value (JSON-friendly)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _object_array(values) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


@dataclass
class Ledger:
    """What was bought, what the annotator said and what the filter believes.

    Every array has one entry per label, in buying order. Labels are kept in
    an object array while they are collected, so that any label type (ints,
    strings) survives unchanged; :attr:`labels_array` hands them out with a
    proper dtype.

    Attributes
    ----------
    idx : ndarray of int64
        Pool indices.
    labels : ndarray of object
        The current label of each point (the annotator's answer, or a person's
        correction of it).
    clean_mask, clean_score : ndarray of bool / float64
        The filter's decision and its smoothed clean score.
    round : ndarray of int64
        The round each label was bought in.
    X : ndarray of shape (n_labels, n_features)
        The labeled points' features: the final estimator is refit from them
        after loading, without the pool, and they identify the pool.
    reviewed : ndarray of bool
        Whether a person looked at the label again (:meth:`relabel`).
    clean_proba : ndarray of float64
        The filter's clean probability of each label (its decision when the
        filter gives no probability); ``train_on="weighted"`` uses it.
    proposed : ndarray of int64
        Index into the classes of the label the filter proposes instead of a
        doubted one (-1: no proposal); ``train_on="relabel"`` uses it.
    pool_clean_proba : ndarray of float64
        The filter's second look at each label from the pool
        (``pool_clean_proba_``; 1 where it gives none); NAS selection lets a
        kept label it doubts cover less (``pool_doubt_weight``).
    proposal_proba : ndarray of shape (n_labels, n_classes) or (n_labels, 0)
        A distribution over the classes the filter proposes instead of a
        doubted label (``proposal_proba_``; a row of zeros: none), its
        columns the classes at the filter's last call; ``train_on="relabel"``
        trains on it when the estimator takes sample weights.
    corrections : list of dict
        One record per label a person reviewed: pool index, the answer before
        and after, the round it happened in.
    """

    idx: np.ndarray
    labels: np.ndarray
    clean_mask: np.ndarray
    clean_score: np.ndarray
    round: np.ndarray
    X: np.ndarray
    reviewed: np.ndarray
    clean_proba: np.ndarray = None
    proposed: np.ndarray = None
    proposal_proba: np.ndarray = None
    corrections: list = field(default_factory=list)
    pool_clean_proba: np.ndarray = None

    def __post_init__(self):
        n = self.idx.size
        if self.clean_proba is None:
            self.clean_proba = self.clean_mask.astype(np.float64)
        if self.proposed is None:
            self.proposed = np.full(n, -1, dtype=np.int64)
        if self.proposal_proba is None:
            self.proposal_proba = np.zeros((n, 0))
        if self.pool_clean_proba is None:
            self.pool_clean_proba = np.ones(n)

    @classmethod
    def empty(cls, n_features: int, dtype) -> Ledger:
        return cls(idx=np.empty(0, dtype=np.int64), labels=np.empty(0, dtype=object),
                   clean_mask=np.empty(0, dtype=bool), clean_score=np.empty(0),
                   round=np.empty(0, dtype=np.int64), X=np.empty((0, n_features), dtype=dtype),
                   reviewed=np.empty(0, dtype=bool))

    @property
    def size(self) -> int:
        return int(self.idx.size)

    @property
    def labels_array(self) -> np.ndarray:
        """The labels with a proper dtype (ints stay ints, strings strings)."""
        if self.labels.size == 0:
            return self.labels
        return np.array(self.labels.tolist())

    def add(self, picks: np.ndarray, labels: np.ndarray, X_rows: np.ndarray, round_: int) -> None:
        """Append newly bought labels; until judged, they count as clean."""
        n = picks.size
        self.X = np.concatenate([self.X, X_rows])
        self.idx = np.concatenate([self.idx, picks.astype(np.int64)])
        self.labels = np.concatenate([self.labels, _object_array(labels)])
        self.clean_mask = np.concatenate([self.clean_mask, np.ones(n, dtype=bool)])
        self.clean_score = np.concatenate([self.clean_score, np.ones(n)])
        self.round = np.concatenate([self.round, np.full(n, round_, dtype=np.int64)])
        self.reviewed = np.concatenate([self.reviewed, np.zeros(n, dtype=bool)])
        self.clean_proba = np.concatenate([self.clean_proba, np.ones(n)])
        self.proposed = np.concatenate([self.proposed, np.full(n, -1, dtype=np.int64)])
        self.pool_clean_proba = np.concatenate([self.pool_clean_proba, np.ones(n)])
        self.proposal_proba = np.vstack([self.proposal_proba,
                                         np.zeros((n, self.proposal_proba.shape[1]))])

    def positions_of(self, indices: np.ndarray) -> np.ndarray:
        """Positions in the ledger of pool ``indices`` (all must be bought)."""
        order = np.argsort(self.idx, kind="stable")
        at = np.searchsorted(self.idx[order], indices)
        return order[at]

    def correct(self, positions: np.ndarray, labels: np.ndarray, round_: int) -> None:
        """Record a person's review of the labels at ``positions``."""
        for pos, new in zip(positions.tolist(), labels.tolist()):
            old = self.labels[pos]
            self.corrections.append({"index": int(self.idx[pos]), "old": plain(old),
                                     "new": plain(new), "changed": bool(plain(old) != plain(new)),
                                     "round": int(round_)})
            self.labels[pos] = new
        self.reviewed[positions] = True
        self.pool_clean_proba[positions] = 1.0
        self.proposed[positions] = -1
        self.proposal_proba[positions] = 0.0

    def set_decisions(self, clean_score: np.ndarray, clean_proba: np.ndarray | None = None,
                      proposed: np.ndarray | None = None,
                      proposal_proba: np.ndarray | None = None,
                      pool_clean_proba: np.ndarray | None = None) -> None:
        self.clean_score = np.asarray(clean_score, dtype=np.float64)
        # A label a person reviewed is believed: that is the point of reviewing.
        self.clean_mask = (self.clean_score >= 0.5) | self.reviewed
        proba = self.clean_mask.astype(np.float64) if clean_proba is None else clean_proba
        self.clean_proba = np.where(self.reviewed, 1.0, np.clip(proba, 0.0, 1.0))
        self.proposed = (np.full(self.idx.size, -1, dtype=np.int64) if proposed is None
                         else np.where(self.reviewed, -1, proposed).astype(np.int64))
        self.proposal_proba = (np.zeros((self.idx.size, 0)) if proposal_proba is None
                               else np.where(self.reviewed[:, None], 0.0,
                                             np.asarray(proposal_proba, dtype=np.float64)))
        self.pool_clean_proba = (np.ones(self.idx.size) if pool_clean_proba is None
                                 else np.where(self.reviewed, 1.0,
                                               np.clip(pool_clean_proba, 0.0, 1.0)))

    # ------------------------------------------------------------ persistence
    def arrays(self) -> dict[str, np.ndarray]:
        return {"labeled_idx": self.idx, "clean_mask": self.clean_mask,
                "clean_score": self.clean_score, "label_round": self.round,
                "X_labeled": self.X, "reviewed": self.reviewed,
                "clean_proba": self.clean_proba, "proposed": self.proposed,
                "proposal_proba": self.proposal_proba, "pool_clean_proba": self.pool_clean_proba}

    @classmethod
    def from_saved(cls, arrays: dict, labels: np.ndarray, corrections: list,
                   n_pool: int, n_features: int) -> Ledger:
        """Rebuild a ledger from saved arrays, refusing anything inconsistent."""
        idx = arrays["labeled_idx"]
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError("labeled_idx must be a 1-D integer array")
        idx = idx.astype(np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n_pool):
            raise ValueError(f"labeled_idx holds indices outside the pool of {n_pool} points")
        if np.unique(idx).size != idx.size:
            raise ValueError("labeled_idx holds duplicate indices")
        X = arrays["X_labeled"]
        if X.ndim != 2 or X.shape[1] != n_features or X.dtype.kind != "f":
            raise ValueError(f"X_labeled must be a float array with {n_features} columns")
        checked = {}
        defaults = {"reviewed": np.zeros(idx.size, dtype=bool),
                    "clean_proba": arrays.get("clean_mask", np.empty(0)).astype(np.float64),
                    "proposed": np.full(idx.size, -1, dtype=np.int64),
                    "pool_clean_proba": np.ones(idx.size)}
        for name, kind in (("clean_mask", "b"), ("clean_score", "f"), ("label_round", "iu"),
                           ("reviewed", "b"), ("clean_proba", "f"), ("proposed", "iu"),
                           ("pool_clean_proba", "f")):
            a = arrays.get(name)
            if a is None and name in defaults:  # files written before these existed
                a = defaults[name]
            if a is None or a.ndim != 1 or a.dtype.kind not in kind:
                raise ValueError(f"{name} is missing or has the wrong type")
            checked[name] = a
        proposal_proba = arrays.get("proposal_proba")
        if proposal_proba is None:  # files written before it existed
            proposal_proba = np.zeros((idx.size, 0))
        if (proposal_proba.ndim != 2 or proposal_proba.shape[0] != idx.size
                or proposal_proba.dtype.kind != "f" or not np.all(np.isfinite(proposal_proba))
                or (proposal_proba < 0).any() or (proposal_proba > 1).any()):
            raise ValueError("proposal_proba must be a 2-D float array of probabilities, one row "
                             "per label")
        if labels.ndim != 1:
            raise ValueError("labels must be 1-D")
        sizes = {a.shape[0] for a in (labels, X, *checked.values())}
        if sizes != {idx.size}:
            raise ValueError("the saved arrays disagree in length")
        if not isinstance(corrections, list) or not all(isinstance(c, dict) for c in corrections):
            raise ValueError("corrections must be a list of records")
        return cls(idx=idx, labels=_object_array(labels.tolist()),
                   clean_mask=checked["clean_mask"].astype(bool),
                   clean_score=checked["clean_score"].astype(np.float64),
                   round=checked["label_round"].astype(np.int64), X=X,
                   reviewed=checked["reviewed"].astype(bool),
                   clean_proba=checked["clean_proba"].astype(np.float64),
                   proposed=checked["proposed"].astype(np.int64),
                   proposal_proba=proposal_proba.astype(np.float64), corrections=list(corrections),
                   pool_clean_proba=np.clip(checked["pool_clean_proba"], 0.0, 1.0)
                   .astype(np.float64))
