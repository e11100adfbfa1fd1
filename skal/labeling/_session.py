"""LabelingSession: an ask/tell labeling session kept in one state file.

Every change is all-or-nothing: the learner's state and the session record
are written together by :meth:`~skal.NoiseAwareActiveLearner.save` (one
atomic file replace), and a call that fails -- a bad answer, a filter that
raises, a full disk -- leaves the state file as it was and the session as it
was before the call.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .._state import StateFormatError
from ..learner import NoiseAwareActiveLearner
from . import _views
from ._answers import Answers, parse_classes, parse_labels
from ._lock import file_lock, stamp
from ._pool import LabelingError, Pool, read_pool
from ._records import Batch, TeachResult
from ._setup import build_learner, check_metadata, make_metadata, pool_from_metadata

__all__ = ["LabelingSession", "Batch", "TeachResult"]


class LabelingSession:
    """A labeling session: a :class:`~skal.NoiseAwareActiveLearner`, its pool and its ids.

    Create one with :meth:`create` (``skal init``) and reopen it in any
    process with :meth:`open`. Items are named by their ids (the pool's id
    column, or the row number); labels are checked against the class list.

    Attributes
    ----------
    state_path : str
    learner : NoiseAwareActiveLearner
        Read it, do not change it: changes go through the session's methods.
    pool : Pool
    metadata : dict
        The session record saved with the state (pool file, hash, classes...).
    """

    def __init__(self, state_path: str, learner: NoiseAwareActiveLearner, pool: Pool,
                 metadata: dict):
        self.state_path = os.fspath(state_path)
        self.learner = learner
        self.pool = pool
        self.metadata = metadata
        self._lock = threading.RLock()
        self._stamp = stamp(self.state_path) if os.path.exists(self.state_path) else None

    # ------------------------------------------------------------ create / open
    @classmethod
    def create(cls, state_path: str | os.PathLike, pool_path: str | os.PathLike, *,
               id_column: str | None = None, classes: str | Sequence | None = None,
               strategy: str = "probcover", noise_filter: str = "centroid",
               noise_aware: bool = True, budget: int | Sequence[int] | None = None,
               samples_per_class: Sequence[float] | None = None, n_rounds: int | None = None,
               random_state: int = 0, overwrite: bool = False) -> LabelingSession:
        """Start a session on a pool file and write its state file.

        Parameters
        ----------
        state_path : str or path-like
            The state file to create.
        pool_path : str or path-like
            ``.npy``, ``.npz``, ``.csv`` or ``.parquet`` (see :func:`read_pool`).
        id_column : str or None, default=None
            Column (or ``.npz`` array) of item ids; ``None``: row numbers.
        classes : str, sequence or None, default=None
            The label set (``"cat,dog"`` or a list); integers when every class
            is one. ``None`` accepts any label (and needs ``budget``).
        strategy, noise_filter : str, default="probcover", "centroid"
            Names as in ``skal bench`` (``"probcover:delta=0.6"``; ``"none"``).
        noise_aware : bool, default=True
            Use the filter inside selection (NAS).
        budget : int, sequence of int or None, default=None
            Labels per round; ``None``: the samples-per-class schedule.
        samples_per_class : sequence of float or None, default=None
            Cumulative per-class targets (default ``1, 2, ..., n_rounds``).
        n_rounds : int or None, default=None
            Planned rounds (default 5, or the schedule's length).
        random_state : int, default=0
        overwrite : bool, default=False
            Replace an existing state file.

        Returns
        -------
        session : LabelingSession
        """
        state_path = os.fspath(state_path)
        if os.path.exists(state_path) and not overwrite:
            raise LabelingError(f"state file {state_path!r} already exists (remove it or "
                                "choose another name)")
        if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
            raise TypeError(f"random_state must be an integer, got {random_state!r}")
        classes = parse_classes(classes)
        pool = read_pool(pool_path, id_column=id_column)
        learner, budgets = build_learner(
            classes=classes, strategy=strategy, noise_filter=noise_filter,
            noise_aware=noise_aware, budget=budget, samples_per_class=samples_per_class,
            n_rounds=n_rounds, random_state=int(random_state))
        if sum(budgets) > pool.n_items:
            raise LabelingError(f"the budget schedule {budgets} buys {sum(budgets)} labels, "
                                f"more than the {pool.n_items} items of the pool")
        meta = make_metadata(state_path, os.fspath(pool_path), pool, id_column=id_column,
                             classes=classes, strategy=strategy, noise_filter=noise_filter,
                             noise_aware=learner.noise_aware, budgets=budgets,
                             seed=int(random_state))
        session = cls(state_path, learner, pool, meta)
        with file_lock(state_path):
            session._save(check_stamp=False)
        return session

    @classmethod
    def open(cls, state_path: str | os.PathLike) -> LabelingSession:
        """Reopen a session from its state file (in any process).

        Raises
        ------
        LabelingError
            The file is missing or damaged, or its pool file is missing or
            changed since the session was created.
        """
        state_path = os.fspath(state_path)
        learner, meta = cls._load(state_path)
        pool, _ = pool_from_metadata(meta, state_path)
        session = cls(state_path, learner, pool, meta)
        session._attach()
        return session

    @staticmethod
    def _load(state_path: str) -> tuple[NoiseAwareActiveLearner, dict]:
        if not os.path.isfile(state_path):
            raise LabelingError(f"state file {state_path!r} does not exist (create it with "
                                "`skal init`)")
        try:
            meta = check_metadata(NoiseAwareActiveLearner.read_metadata(state_path), state_path)
            learner = NoiseAwareActiveLearner.load(state_path)
        except StateFormatError as exc:
            raise LabelingError(str(exc)) from None
        return learner, meta

    def _attach(self) -> None:
        if self.learner._initialised:
            # Give the learner its pool once (it checks the labeled rows match).
            try:
                self.learner._attach_pool(self.pool.X)
            except ValueError as exc:
                raise LabelingError(f"pool file does not match the state: {exc}") from None

    # ------------------------------------------------------------ saving
    def _save(self, *, check_stamp: bool = True) -> None:
        if check_stamp and self._stamp is not None and os.path.exists(self.state_path) \
                and stamp(self.state_path) != self._stamp:
            raise LabelingError(f"state file {self.state_path!r} was changed by another "
                                "process since this session read it; open it again")
        self.learner.save(self.state_path, metadata=self.metadata)
        self._stamp = stamp(self.state_path)

    def _rollback(self) -> None:
        """Bring the in-memory session back to the state file (after a failed change)."""
        learner, _ = self._load(self.state_path)
        self.learner = learner
        self._attach()

    @contextlib.contextmanager
    def _change(self):
        # One change at a time, within and across processes; on any failure the
        # learner is reloaded from the untouched state file.
        with self._lock, file_lock(self.state_path):
            try:
                yield
                self._save()
            except BaseException:
                with contextlib.suppress(Exception):
                    self._rollback()
                raise

    # ------------------------------------------------------------ ask / tell
    @property
    def classes(self) -> list | None:
        """The class list, or None when any label is accepted."""
        return self.metadata["classes"]

    def _labels(self, values: Iterable, ids: list) -> np.ndarray:
        return parse_labels(values, self.metadata["label_type"], self.classes, ids=ids)

    def _batch(self, indices: np.ndarray) -> Batch:
        ids = [self.pool.ids[i] for i in indices]
        data = {c: [v[i] for i in indices] for c, v in self.pool.data.items()}
        return Batch(indices=np.asarray(indices, dtype=np.int64), ids=ids, data=data,
                     round=int(self.learner.n_rounds_done_) if self.learner._initialised else 0)

    def query(self, *, whole_round: bool = False) -> Batch:
        """The items to label next (the same ones until they are answered).

        Parameters
        ----------
        whole_round : bool, default=False
            Ask for the rest of the round at once instead of the next NAS share.

        Returns
        -------
        batch : Batch
        """
        with self._lock:
            if self.learner._initialised and self.learner.asked_idx_.size:
                return self._batch(self.learner.asked_idx_)
            learner = self.learner
            if learner._initialised and learner._open is None:
                left = self.pool.n_items - learner.labeled_idx_.size
                if left == 0:
                    return self._batch(np.empty(0, dtype=np.int64))
            with self._change():
                budget = None
                if learner._initialised and learner._open is None and \
                        learner._round_budget(learner.n_rounds_done_) > left:
                    # The last round of a pool smaller than the schedule labels what is
                    # left instead of failing (the learner's fit caps its rounds too).
                    budget = left
                picks = self.learner.query(self.pool.X, whole_round=whole_round, budget=budget)
            return self._batch(picks)

    def asked(self) -> Batch:
        """The items asked and not answered yet (empty before the first query)."""
        with self._lock:
            idx = self.learner.asked_idx_ if self.learner._initialised else np.empty(0, np.int64)
            return self._batch(idx)

    def teach(self, ids: Sequence, labels: Sequence) -> TeachResult:
        """Store answers for asked items, named by id.

        Answers for items already labeled with the same label are skipped
        (teaching one file twice changes nothing). The rest must be asked:
        an id that is unknown, not asked, or already labeled with another
        label (use :meth:`relabel`) refuses the whole call.

        Returns
        -------
        result : TeachResult
        """
        ids, labels = list(ids), list(labels)
        if len(ids) != len(labels):
            raise LabelingError(f"{len(ids)} ids but {len(labels)} labels")
        indices = self.pool.index_of(ids)
        values = self._labels(labels, ids)
        with self._lock:
            if not self.learner._initialised:
                raise LabelingError("nothing was asked yet: run `skal query` first")
            new = _views.split_known(self, indices, values, ids)
            rounds_before = self.learner.n_rounds_done_
            if new.any():
                with self._change():
                    self.learner.teach(indices[new], values[new], X=self.pool.X)
            return TeachResult(n_taught=int(new.sum()), n_unchanged=int((~new).sum()),
                               rounds_finished=self.learner.n_rounds_done_ - rounds_before,
                               n_asked_left=int(self.learner.asked_idx_.size))

    def teach_answers(self, answers: Answers) -> TeachResult:
        """:meth:`teach` with ``(id, label)`` pairs read from a file."""
        return self.teach(answers.ids, answers.labels)

    def relabel(self, ids: Sequence, labels: Sequence) -> int:
        """Correct (or confirm) bought labels after a person reviewed them.

        Returns
        -------
        n : int
            Labels reviewed.
        """
        ids, labels = list(ids), list(labels)
        if len(ids) != len(labels):
            raise LabelingError(f"{len(ids)} ids but {len(labels)} labels")
        indices = self.pool.index_of(ids)
        values = self._labels(labels, ids)
        with self._lock:
            if not self.learner._initialised or not np.isin(indices, self.learner.labeled_idx_).all():
                labeled = self.learner.labeled_idx_ if self.learner._initialised else []
                missing = [ids[k] for k in np.flatnonzero(~np.isin(indices, labeled))][:5]
                raise LabelingError(f"id(s) {missing} have no label yet: relabel corrects "
                                    "bought labels (use teach for asked items)")
            if indices.size:
                with self._change():
                    self.learner.relabel(indices, values, X=self.pool.X)
            return int(indices.size)

    # ------------------------------------------------------------ views
    def status(self) -> dict:
        """Round, labels bought, items asked, labels to review, coverage (see :func:`_views.status`)."""
        with self._lock:
            return _views.status(self)

    def labels_table(self) -> list[dict]:
        """Every bought label with the filter's verdict, clean score and review flag."""
        with self._lock:
            return _views.labels_table(self)

    def flagged(self, limit: int | None = None) -> list[dict]:
        """Labels the filter predicts noisy, most doubtful (lowest clean score) first."""
        with self._lock:
            return _views.flagged(self, limit)

    def neighbours(self, item: Any, k: int = 5) -> list[dict]:
        """The ``k`` labeled items nearest to ``item`` (an id), nearest first."""
        with self._lock:
            return _views.neighbours(self, item, k)

    def noise_rate_estimate(self) -> float:
        """Share of bought labels the filter predicts noisy (NaN before any label)."""
        with self._lock:
            return _views.noise_rate_estimate(self)

    def __repr__(self) -> str:
        return f"LabelingSession({self.state_path!r}, pool={self.metadata['pool']['path']!r})"

