"""NoiseAwareActiveLearner: the NAS meta-algorithm as a scikit-learn meta-estimator.

This module is the public face (parameters, scikit-learn methods, ask/tell);
the machinery lives in :mod:`skal._nas` (ledger, NAS steps, round engine,
persistence).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from ._nas import _engine, _persistence, _steps
from ._nas._checks import check_answer_labels, check_pool_indices, check_round_budget
from ._nas._delta import DeltaSchedule
from ._nas._engine import nas_shares
from ._nas._ledger import Ledger
from ._validation import check_embeddings, check_labels, check_random_state
from .filters._base import NoiseFilter
from .noise import NoisyOracle
from .strategies._base import QueryStrategy
from .strategies._prob_cover import ProbCover

__all__ = ["NoiseAwareActiveLearner", "nas_shares"]


def _add_note(exc: BaseException, note: str) -> None:
    if hasattr(exc, "add_note"):  # Python >= 3.11
        exc.add_note(note)


def _final_estimator_has(method: str) -> Callable:
    """``available_if`` check: the (fitted, or else the configured) final estimator has ``method``."""
    def check(self) -> bool:
        fitted = getattr(self, "estimator_", None)
        if fitted is not None:
            # A DummyClassifier stands in when filtering left one class: it has
            # every method, so judge by the configured estimator instead.
            from sklearn.dummy import DummyClassifier
            if not isinstance(fitted, DummyClassifier):
                return hasattr(fitted, method)
        model = self.estimator if self.estimator is not None else _steps.default_estimator()
        return hasattr(model, method)
    return check



class NoiseAwareActiveLearner(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Noise-Aware active Sampling (NAS) around any query strategy and noise filter.

    Each round spends ``budget`` labels. With ``noise_aware=True`` the budget is
    split into shares of ``C`` (the number of classes). For every share the
    labeled set is split into predicted-clean and predicted-noisy points by the
    noise filter; the strategy's coverage is rebuilt from the predicted-clean
    points only (predicted-noisy points stay unselectable: they are already
    paid for), the share is picked, the annotator is asked, and the filter is
    re-run on the whole labeled set. The filter is skipped while fewer than
    ``C`` labels exist. After the round, a clone of ``estimator`` is trained on
    the predicted-clean labeled set (``train_on="all"``: on every label).

    With ``noise_aware=False`` the strategy sees every label as covering (the
    paper's baseline) and the filter only cleans the training set.

    Two ways to run it share one round engine: :meth:`fit_round` with a
    callable annotator, or ask/tell for people: :meth:`query` returns the
    indices to label, :meth:`teach` takes the answers (in another process
    after :meth:`save`/:meth:`load` if need be), and :meth:`relabel` takes a
    person's corrections of labels the filter doubts.

    Parameters
    ----------
    strategy : QueryStrategy or None, default=None
        Any :class:`~skal.strategies.QueryStrategy` (e.g. ``ProbCover(delta=0.65)``);
        ``None`` is ``ProbCover()``.
    noise_filter : NoiseFilter or None, default=None
        Any :class:`~skal.filters.NoiseFilter` (e.g. ``AUMFilter()``); ``None``
        trusts every label.
    estimator : classifier or None, default=None
        The final model; ``None`` is a linear probe,
        ``LogisticRegression(C=10, max_iter=2000)``. Any scikit-learn
        classifier works, :class:`~skal.CoTeachingClassifier` included.
    budget : int or sequence of int, default=100
        Labels bought per round; a sequence gives one budget per round (e.g.
        the paper's samples-per-class schedule).
    n_rounds : int, default=5
        Rounds run by :meth:`fit`.
    noise_aware : bool, default=True
        Use the filter inside selection (NAS) or only to clean the training set.
    train_on : {"clean", "all", "weighted", "relabel"}, default="clean"
        What the final estimator learns from: the predicted-clean labels;
        every label; every label weighted by the filter's clean probability
        (``clean_proba_`` of filters that give one, else its 0/1 decision;
        the estimator's ``fit`` must take ``sample_weight``); or the clean
        labels plus, for doubted ones, the label the filter proposes instead
        (``proposed_labels_`` of filters that propose one, such as
        :class:`~skal.filters.GraphFilter`; doubted labels without a proposal
        are left out). A filter that proposes a distribution over the classes
        (``proposal_proba_``, :class:`~skal.filters.CentroidFilter` for the
        doubted labels of pool communities its labels leave unnamed) has that
        label's row trained once per class, weighted by the class's
        probability, when the estimator's ``fit`` takes ``sample_weight``
        (otherwise on its most probable class).
    noise_rate : float in [0, 1], default=0.0
        :meth:`fit` only: corrupt ``y`` with this rate before using it as the
        annotator, so that scoring on clean held-out labels measures robustness.
    noise_type : str, default="symmetric"
        :meth:`fit` only: the noise model (see :func:`skal.noise.make_noisy_labels`).
    noise_momentum : float in [0, 1), default=0.0
        Smoothing of the filter's decisions across calls: each label keeps a
        clean-score ``s <- m * s + (1 - m) * decision`` and counts as clean
        while ``s >= 0.5``. 0 uses the latest decision only.
    noise_dropout : float in [0, 1] or "auto", default=0.0
        Fraction of predicted-noisy labels treated as clean *during selection*
        (drawn anew for every share), so that a wrong filter decision does not
        keep a region uncovered forever. ``"auto"`` is the reference's adaptive
        rule: with predicted clean rate p̂, exactly ``floor(eta * n_noisy)``
        flagged labels cover, ``eta = max(min(p̂, 1 - p̂), 0.1)``.
    noisy_weight : None, "auto" or float in [0, 1], default=None
        Passed to coverage strategies that have a ``noisy_weight`` parameter:
        ``None`` keeps the strategy's own value, ``"auto"`` uses the predicted
        clean rate p̂ of the labeled set (the weighted NAS variant).
    pool_doubt_weight : float in (0, 1], default=1.0
        During NAS selection, a label the filter keeps but whose second look
        from the pool doubts it (the filter's ``pool_clean_proba_`` below 0.5,
        :class:`~skal.filters.CentroidFilter`) covers with this weight.
        Strategies with graded coverage (:class:`~skal.strategies.MaxHerding`)
        scale its kernel by it, so a large region behind a doubtful label is
        visited again; the others count it fully. 1 trusts kept labels fully.
    classes : array-like or None, default=None
        The label set the annotator may answer with. Labels outside it raise a
        ``ValueError``. ``None`` takes the oracle's ``classes_`` when it has one.
    verbose : bool, default=False
        Print one line per round.
    random_state : int, numpy Generator or None, default=None
        Seeds the strategy, the filter, the final estimator and the δ schedule
        (when they have no seed of their own), the noise of :meth:`fit`, and
        ``noise_dropout``.
    delta_schedule : DeltaSchedule or None, default=None
        How a ProbCover-like strategy's δ changes from round to round (the
        reference's policies: constant, linear or exponential descent, the
        largest maximum degree); ``None`` keeps δ. Each round's δ is in
        ``history_``.
    checkpoint : str, path-like or None, default=None
        When set, the learner saves itself (:meth:`save`) to this file after every
        share's labels arrive and after every round, so that a crashed process
        loses no bought label: ``NoiseAwareActiveLearner.load(checkpoint)``
        continues exactly where it stopped.

    Attributes
    ----------
    labeled_idx_ : ndarray of int64
        Pool indices bought so far, in the order they were bought.
    labels_ : ndarray
        What the annotator said for each of them.
    clean_mask_ : ndarray of bool
        The filter's current decision for each label (``True`` = clean).
    label_round_ : ndarray of int
        The round in which each label was bought.
    classes_ : ndarray
        Known classes.
    estimator_ : classifier
        The final estimator, fitted after the last round.
    strategy_, noise_filter_ : the fitted clones used for selection and filtering.
    history_ : list of dict
        One record per round: budget, shares, picks, labels, filter decisions,
        coverage, timings (and the filter's precision/recall when the oracle
        knows the true noise, as :class:`~skal.NoisyOracle` does).
    n_rounds_done_ : int
    reviewed_ : ndarray of bool
        Whether a person reviewed each label (:meth:`relabel`).
    corrections_ : list of dict
        Every review: pool index, the answer before and after, the round.
    train_idx_ : ndarray of int64
        Pool indices the final estimator was last trained on.
    asked_idx_ : ndarray of int64
        Indices asked by :meth:`query` and not answered yet.

    Examples
    --------
    >>> from skal import NoiseAwareActiveLearner, ProbCover, AUMFilter, NoisyOracle
    >>> from skal.datasets import load_digits_embeddings
    >>> X_emb, y = load_digits_embeddings(return_X_y=True)
    >>> oracle = NoisyOracle(y, noise_rate=0.3, random_state=0)
    >>> learner = NoiseAwareActiveLearner(ProbCover(delta=0.65), AUMFilter(), budget=50,
    ...                                   random_state=0)
    >>> learner = learner.fit_round(X_emb, oracle)
    >>> learner.labeled_idx_.shape
    (50,)
    """

    _parameter_constraints: dict = {
        "strategy": [QueryStrategy, None],
        "noise_filter": [NoiseFilter, None],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "budget": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "n_rounds": [Interval(Integral, 1, None, closed="left")],
        "noise_aware": ["boolean"],
        "train_on": [StrOptions({"clean", "all", "weighted", "relabel"})],
        "noise_rate": [Interval(Real, 0, 1, closed="both")],
        "noise_type": [str],
        "noise_momentum": [Interval(Real, 0, 1, closed="left")],
        "noise_dropout": [Interval(Real, 0, 1, closed="both"), StrOptions({"auto"})],
        "noisy_weight": [None, StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "classes": ["array-like", None],
        "verbose": ["verbose"],
        "random_state": ["random_state", np.random.Generator],
        "checkpoint": [str, os.PathLike, None],
        "delta_schedule": [DeltaSchedule, None],
        "pool_doubt_weight": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(self, strategy: QueryStrategy | None = None,
                 noise_filter: NoiseFilter | None = None, *,
                 estimator: Any = None, budget: int | Sequence[int] = 100, n_rounds: int = 5,
                 noise_aware: bool = True, train_on: str = "clean", noise_rate: float = 0.0,
                 noise_type: str = "symmetric", noise_momentum: float = 0.0,
                 noise_dropout: float = 0.0, noisy_weight: Any = None, classes: Any = None,
                 verbose: bool = False, random_state: Any = None,
                 checkpoint: str | os.PathLike | None = None,
                 delta_schedule: DeltaSchedule | None = None, pool_doubt_weight: float = 1.0):
        self.strategy = strategy
        self.noise_filter = noise_filter
        self.estimator = estimator
        self.budget = budget
        self.n_rounds = n_rounds
        self.noise_aware = noise_aware
        self.train_on = train_on
        self.noise_rate = noise_rate
        self.noise_type = noise_type
        self.noise_momentum = noise_momentum
        self.noise_dropout = noise_dropout
        self.noisy_weight = noisy_weight
        self.classes = classes
        self.verbose = verbose
        self.random_state = random_state
        self.checkpoint = checkpoint
        self.delta_schedule = delta_schedule
        self.pool_doubt_weight = pool_doubt_weight

    # ------------------------------------------------------------------ checks
    def _validate_params(self) -> None:
        super()._validate_params()
        budget = self.budget
        if not isinstance(budget, Integral):
            seq = list(budget) if not isinstance(budget, str) else None
            if not seq or not all(isinstance(b, Integral) and not isinstance(b, bool) and b >= 1
                                  for b in seq):
                raise ValueError("budget must be a positive integer or a non-empty sequence of "
                                 f"positive integers, got {budget!r}")
        elif isinstance(budget, bool):
            raise ValueError(f"budget must be a positive integer, got {budget!r}")

        if self.train_on == "weighted" and self.estimator is not None \
                and not has_fit_parameter(self.estimator, "sample_weight"):
            raise ValueError(f"train_on='weighted' trains with sample weights, but "
                             f"{type(self.estimator).__name__}.fit takes no sample_weight; use "
                             "train_on='clean' or an estimator that accepts sample_weight")

    def _round_budget(self, round_index: int) -> int:
        budget = self.budget
        if not isinstance(budget, Integral):
            seq = list(budget)
            budget = seq[min(round_index, len(seq) - 1)]
        return int(budget)

    # ------------------------------------------------------------------ state
    @property
    def _initialised(self) -> bool:
        return "_ledger" in self.__dict__

    def _init_state(self, X: np.ndarray) -> None:
        """Start an empty labeled set on pool ``X``."""
        rng = check_random_state(self.random_state)
        self.n_pool_ = X.shape[0]
        self.history_ = []
        self.n_rounds_done_ = 0
        self._classes_fixed = self.classes is not None
        self.classes_ = (np.unique(check_labels(self.classes, name="classes"))
                         if self.classes is not None else np.empty(0))
        # The draws below keep their order: the same seed gives the same run.
        strategy = ProbCover() if self.strategy is None else self.strategy
        self.strategy_ = self._seeded_clone(strategy, rng)
        self.noise_filter_ = (None if self.noise_filter is None
                              else self._seeded_clone(self.noise_filter, rng))
        self._n_clusters_set = False
        self._rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))
        self._estimator_seed = int(rng.integers(0, 2**31 - 1))
        self.estimator_ = None
        self._ledger = Ledger.empty(X.shape[1], X.dtype)
        # Positions (into the ledger) the final estimator was trained on.
        self._fit_positions = np.empty(0, dtype=np.int64)
        self._open = None
        self._pool = X
        self._saved_cache = None
        self._delta_initial = None

    def _reset(self) -> None:
        for name in ("_ledger", "_open", "_pool", "_saved_cache", "estimator_", "history_",
                     "n_rounds_done_", "n_pool_", "classes_", "strategy_", "noise_filter_"):
            self.__dict__.pop(name, None)

    @staticmethod
    def _seeded_clone(est, rng):
        # A component without its own seed gets one fixed seed for the whole
        # run, so that its picks are reproducible and a resumed run continues
        # exactly as the original would have.
        est = clone(est)
        seed = int(rng.integers(0, 2**31 - 1))
        if "random_state" in est.get_params(deep=False) and est.get_params()["random_state"] is None:
            est.set_params(random_state=seed)
        return est

    def _update_classes(self) -> None:
        if not self._classes_fixed:
            self.classes_ = np.unique(self._ledger.labels_array)

    def _take_oracle_classes(self, oracle) -> None:
        known = getattr(oracle, "classes_", None)
        if known is not None and not self._classes_fixed:
            self.classes_ = np.unique(np.asarray(known))
            self._classes_fixed = True

    def _check_pool(self, X: Any, *, first: bool) -> np.ndarray:
        """Validate the pool: the same pool, row for row, on every call."""
        X = validate_data(self, X, reset=first, dtype=[np.float64, np.float32],
                          ensure_min_samples=1)
        X = check_embeddings(X, "X")
        if first:
            return X
        if X.shape[0] != self.n_pool_:
            raise ValueError(
                f"X has shape {X.shape} but this learner's pool has shape "
                f"{(self.n_pool_, self.n_features_in_)}; use the same pool every round "
                "(or a fresh learner)")
        # The labeled points' features are on record: a different pool of the
        # same shape (a reshuffled or re-embedded one) would silently mix up
        # which label belongs to which point, so it is refused.
        ledger = self._ledger
        if ledger.size and not np.array_equal(X[ledger.idx], ledger.X.astype(X.dtype, copy=False)):
            raise ValueError(
                "X is not the pool this learner was run on: the features of its labeled "
                "points differ; use the same pool (same rows, same order) every round")
        return X

    def _attach_pool(self, X: Any) -> np.ndarray:
        """Validate ``X`` (starting the state on the first call) and remember it."""
        if not self._initialised:
            self._validate_params()
            if self.checkpoint is not None:
                # Fail before buying anything when the state could not be saved.
                _persistence.encoded_params(self)
            X = self._check_pool(X, first=True)
            self._init_state(X)
        else:
            self._validate_params()
            if self._pool is not X:
                X = self._check_pool(X, first=False)
            self._pool = X
        if self._saved_cache is not None:
            # A strategy cache saved with the state (a δ-ball graph) is reused
            # when it belongs to this pool; otherwise it is rebuilt on demand.
            set_cache = getattr(self.strategy_, "set_pool_cache", None)
            if callable(set_cache):
                set_cache(X, self._saved_cache)
            self._saved_cache = None
        return X

    def _pool_for(self, X: Any, method: str) -> np.ndarray:
        if X is not None:
            return self._attach_pool(X)
        if self._pool is None:
            raise ValueError(f"{method} needs the pool: pass it as X= (this learner was loaded "
                             "from a file and has not seen its pool yet)")
        return self._pool

    def _save_checkpoint(self) -> None:
        if self.checkpoint is not None:
            self.save(self.checkpoint)

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_pool", None)  # the pool is the caller's data, not the learner's state
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_ledger" in state:
            self._pool = None

    def __sklearn_is_fitted__(self) -> bool:
        return getattr(self, "estimator_", None) is not None

    # ------------------------------------------------------------------ ledger views
    def _ledger_or_raise(self) -> Ledger:
        if not self._initialised:
            raise AttributeError(f"{type(self).__name__} has no labels yet: call query, "
                                 "fit_round or fit first")
        return self._ledger

    @property
    def labeled_idx_(self) -> np.ndarray:
        """Pool indices bought so far, in the order they were bought."""
        return self._ledger_or_raise().idx

    @property
    def labels_(self) -> np.ndarray:
        """The current label of each bought point (a person's correction, if any)."""
        return self._ledger_or_raise().labels

    @property
    def clean_mask_(self) -> np.ndarray:
        """The filter's current decision for each label (``True`` = clean)."""
        return self._ledger_or_raise().clean_mask

    @property
    def clean_score_(self) -> np.ndarray:
        """The filter's (momentum-smoothed) clean score of each label."""
        return self._ledger_or_raise().clean_score

    @property
    def label_round_(self) -> np.ndarray:
        """The round in which each label was bought."""
        return self._ledger_or_raise().round

    @property
    def reviewed_(self) -> np.ndarray:
        """Whether a person reviewed each label with :meth:`relabel`."""
        return self._ledger_or_raise().reviewed

    @property
    def corrections_(self) -> list:
        """One record per reviewed label: pool index, old and new answer, round."""
        return list(self._ledger_or_raise().corrections)

    @property
    def clean_labeled_idx_(self) -> np.ndarray:
        """Pool indices of the labels currently predicted clean."""
        ledger = self._ledger_or_raise()
        return ledger.idx[ledger.clean_mask]

    @property
    def train_idx_(self) -> np.ndarray:
        """Pool indices of the labels the final estimator was last trained on."""
        ledger = self._ledger_or_raise()
        return ledger.idx[self._fit_positions]

    @property
    def asked_idx_(self) -> np.ndarray:
        """Pool indices asked by :meth:`query` and not answered yet."""
        self._ledger_or_raise()
        return (np.empty(0, dtype=np.int64) if self._open is None else self._open.asked.copy())

    # ------------------------------------------------------------------ ask / tell
    def _start_round_if_closed(self, budget: Any = None) -> None:
        if self._open is not None:
            return
        left = self.n_pool_ - self._ledger.size
        if budget is None:
            budget = self._round_budget(self.n_rounds_done_)
        budget = check_round_budget(budget, left)
        self._schedule_delta()
        _engine.start_round(self, budget)

    def _schedule_delta(self) -> None:
        """Move ProbCover's δ for the round about to start (``delta_schedule``)."""
        schedule = self.delta_schedule
        resolved = getattr(self.strategy_, "delta_", None)
        if schedule is None or resolved is None or self.n_rounds_done_ == 0 \
                or "delta" not in self.strategy_.get_params(deep=False):
            return
        if self._delta_initial is None:
            self._delta_initial = float(resolved)
        if schedule.random_state is None:
            # The degree policies score a sample of large pools: seeded from the
            # learner's seed and the round, so a seed (and a resumed run) gives
            # the same δ, without a draw that would shift every later seed.
            seed = np.random.SeedSequence([self._estimator_seed, self.n_rounds_done_])
            schedule = clone(schedule).set_params(random_state=int(seed.generate_state(1)[0]))
        ledger = self._ledger
        covering = ledger.idx[ledger.clean_mask] if schedule.consider_noise else ledger.idx
        delta = schedule.next_delta(self._pool, covering, initial=self._delta_initial,
                                    current=float(resolved))
        self.strategy_.set_params(delta=delta)

    def query(self, X: Any, *, whole_round: bool = False, budget: int | None = None) -> np.ndarray:
        """The pool indices to label next.

        With NAS on, that is the next *share* of the round (``C`` points): the
        filter judges those labels, once taught, before the next share is
        chosen. Asking again before teaching returns the same indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool's embeddings; the same pool on every call.
        whole_round : bool, default=False
            Return everything left in the round at once (one selection, no
            filtering in between), for teams that cannot work in shares; the
            round's history record says ``whole_round: True``.
        budget : int, optional
            Labels to buy in the round this call opens (default: the
            ``budget`` parameter's value for that round); at most what the
            pool has left. Refused while a round is open.

        Returns
        -------
        indices : ndarray of int64
            Pool indices to send to the annotator.
        """
        if not isinstance(whole_round, (bool, np.bool_)):
            raise TypeError(f"whole_round must be True or False, got {whole_round!r}")
        if budget is not None:
            check_round_budget(budget, np.iinfo(np.int64).max)
        X = self._attach_pool(X)
        _engine.finish_if_bought(self, X)
        if budget is not None and self._open is not None:
            raise ValueError(f"budget={budget} was given but round {self.n_rounds_done_} is open "
                             f"with {self._open.budget} labels planned; budget applies to the "
                             "round a query opens")
        self._start_round_if_closed(budget)
        return _engine.query(self, X, bool(whole_round))

    def teach(self, indices: Any, labels: Any, *, X: Any = None) -> NoiseAwareActiveLearner:
        """Give the annotator's labels for asked indices.

        The labels are stored at once (nothing is lost if what follows fails),
        the filter judges them, and when the round's budget is spent the round
        is finished (history record, refit of the final estimator). A subset
        of the asked indices may be answered; the rest stays asked.

        Parameters
        ----------
        indices : array-like of int
            Pool indices, each asked by :meth:`query` and not answered yet.
        labels : array-like of shape (len(indices),)
            The annotator's answers, in the order of ``indices``.
        X : array-like, optional
            The pool. Needed only when the learner has not seen it in this
            process (after :meth:`load`).

        Returns
        -------
        self

        Raises
        ------
        ValueError, TypeError
            Indices never asked, duplicates, indices outside the pool, labels
            outside ``classes``, lengths that differ: the state is unchanged.
        """
        self._ledger_or_raise()
        indices = check_pool_indices(indices, self.n_pool_, "indices")
        labels = self._check_answer(labels, indices.size, "labels")
        X = self._pool_for(X, "teach")
        asked = np.empty(0, dtype=np.int64) if self._open is None else self._open.asked
        never = indices[~np.isin(indices, asked)]
        if never.size:
            raise ValueError(f"indices {never[:5].tolist()} were not asked (or were already "
                             f"answered); the open ask is {asked[:10].tolist()}"
                             f"{' ...' if asked.size > 10 else ''}")
        if indices.size:
            _engine.teach(self, X, indices, labels)
        return self

    def relabel(self, indices: Any, labels: Any, *, X: Any = None) -> NoiseAwareActiveLearner:
        """Correct (or confirm) labels already bought, after a person reviewed them.

        The filter re-judges the labeled set and the final estimator is refit
        with the corrections. A reviewed label counts as clean from then on: a
        person looked at it again. :attr:`corrections_` keeps both answers.

        Parameters
        ----------
        indices : array-like of int
            Pool indices of bought labels.
        labels : array-like of shape (len(indices),)
            The reviewed labels (the same label confirms it).
        X : array-like, optional
            The pool, for filters that look at unlabeled points, when the
            learner has not seen it in this process.

        Returns
        -------
        self
        """
        ledger = self._ledger_or_raise()
        indices = check_pool_indices(indices, self.n_pool_, "indices")
        labels = self._check_answer(labels, indices.size, "labels")
        unknown = indices[~np.isin(indices, ledger.idx)]
        if unknown.size:
            raise ValueError(f"indices {unknown[:5].tolist()} have no label yet: relabel corrects "
                             "bought labels (use teach for asked ones)")
        needs_pool = self.noise_filter_ is not None and (
            getattr(self.noise_filter_, "uses_unlabeled", False)
            or getattr(self.noise_filter_, "uses_pool", False))
        X = self._pool_for(X, "relabel") if (needs_pool or X is not None) else self._pool
        if not indices.size:
            return self
        ledger.correct(ledger.positions_of(indices), labels, self.n_rounds_done_)
        self._update_classes()
        self._save_checkpoint()
        _steps.run_filter(self, X)
        if self._open is not None:
            self._open.filter_stale = False
        if self.estimator_ is not None:
            _steps.fit_estimator(self, _steps.training_positions(self))
        self._save_checkpoint()
        return self

    def _check_answer(self, labels: Any, n: int, name: str) -> np.ndarray:
        return check_answer_labels(labels, n, name=name, previous=self._ledger.labels_array,
                                   classes=self.classes_ if self._classes_fixed else None)

    # ------------------------------------------------------------------ rounds
    def fit_round(self, X: Any, oracle: Callable, budget: int | None = None) -> NoiseAwareActiveLearner:
        """Run one round of noise-aware active learning with a callable annotator.

        The round is the :meth:`query`/:meth:`teach` loop with ``oracle``
        answering every ask: both paths share one round engine, so the same
        seed gives the same picks, labels, filter decisions and model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool's embeddings; the same pool on every call.
        oracle : callable
            ``oracle(indices) -> labels``: the annotator (e.g. a
            :class:`~skal.NoisyOracle`, or a function that asks humans).
        budget : int, optional
            Labels to buy this round (default: the ``budget`` parameter). When
            a round is open (an earlier call was interrupted, or an ask/tell
            round is under way), the labels still to buy in it (default: what
            it has left).

        Returns
        -------
        self

        Notes
        -----
        Labels are stored as soon as the oracle returns them. If the oracle
        raises, times out or answers with invalid labels, or the filter or the
        final estimator fails, every label already bought is kept, the error
        propagates, and the round stays open: the next call finishes it
        (asking the oracle again for the points it failed to label, judging
        labels the filter has not judged yet) instead of starting a new one,
        so nothing is paid twice. With ``checkpoint`` set, the state is saved
        as soon as each answer is stored and after every round; a crash during
        that (atomic) write leaves the previous file, whose open ask holds the
        same points, so they are asked again, never new ones.
        """
        if not callable(oracle):
            raise TypeError("oracle must be callable as oracle(indices) -> labels, got "
                            f"{type(oracle).__name__}")
        if budget is not None:
            # Refuse a bad budget before anything is set up.
            check_round_budget(budget, np.iinfo(np.int64).max)
        X = self._attach_pool(X)
        self._take_oracle_classes(oracle)
        left = self.n_pool_ - self._ledger.size
        if self._open is None:
            self._start_round_if_closed(budget)
        elif budget is not None:
            _engine.replan(self, check_round_budget(budget, left))
        while self._open is not None:
            if self._open.n_done >= len(self._open.shares):
                _engine.finish_round(self, X, oracle)
                break
            picks = _engine.query(self, X)
            labels = self._ask_oracle(oracle, picks)
            _engine.teach(self, X, picks, labels, oracle=oracle)
        return self

    def _ask_oracle(self, oracle: Callable, picks: np.ndarray) -> np.ndarray:
        # The oracle gets its own copy: an annotator that edits the array it
        # was handed must not change which points the learner thinks it asked.
        try:
            answer = oracle(picks.copy())
        except Exception as exc:
            # The oracle's own exception type is kept (callers catch
            # TimeoutError and the like); the note says what was kept.
            _add_note(exc, self._interruption_note(picks.size))
            raise
        try:
            return self._check_answer(answer, picks.size, "the oracle's labels")
        except (TypeError, ValueError) as exc:
            _add_note(exc, self._interruption_note(picks.size))
            raise

    def _interruption_note(self, n_asked: int) -> str:
        return (f"skal: the oracle failed to label {n_asked} point(s); the "
                f"{self._ledger.size} label(s) bought before are kept, and calling "
                "fit_round again asks for the same points and finishes the round")

    def fit(self, X: Any, y: Any) -> NoiseAwareActiveLearner:
        """Run ``n_rounds`` rounds with ``y`` as the annotator.

        ``y`` is first corrupted with ``noise_rate``/``noise_type`` (when
        ``noise_rate > 0``), so that :meth:`score` on clean held-out labels
        measures how well the loop copes with a noisy annotator; this is what
        makes ``GridSearchCV(learner, {"strategy__delta": [...]})`` meaningful.
        When the pool is smaller than the budget schedule, the rounds label
        what the pool has (every remaining point) and one warning says so.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The pool's embeddings.
        y : array-like of shape (n_samples,)
            The true labels of the pool.

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if np.unique(y).size < 2:
            raise ValueError(f"{type(self).__name__} needs labels of at least 2 classes to learn "
                             f"from, but y holds only one class: {np.unique(y).tolist()}")
        n = X.shape[0]
        schedule = [self._round_budget(r) for r in range(self.n_rounds)]
        if sum(schedule) > n:
            warnings.warn(
                f"the budget schedule buys {sum(schedule)} labels over {self.n_rounds} rounds, "
                f"more than the {n} points of the pool: the rounds are capped to label every "
                "point of the pool", UserWarning, stacklevel=2)
        rng = check_random_state(self.random_state)
        oracle = NoisyOracle(y, noise_rate=self.noise_rate, noise_type=self.noise_type,
                             random_state=int(rng.integers(0, 2**31 - 1)))
        self._reset()
        self.oracle_ = oracle
        feature_names = getattr(self, "feature_names_in_", None)
        for planned in schedule:
            left = n - (self._ledger.size if self._initialised else 0)
            if left < 1:
                break
            self.fit_round(X, oracle, budget=min(planned, left))
        if feature_names is not None:
            self.feature_names_in_ = feature_names
        return self

    # ------------------------------------------------------------------ predictions
    def _check_predict_input(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return check_embeddings(X, "X")

    def predict(self, X: Any) -> np.ndarray:
        """Predict classes with the final estimator."""
        X = self._check_predict_input(X)
        return self.estimator_.predict(X)

    @available_if(_final_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, with one column per class of ``classes_``.

        Classes that the final estimator never saw (for instance because the
        filter removed all their labels) get probability 0.
        """
        X = self._check_predict_input(X)
        proba = self.estimator_.predict_proba(X)
        est_classes = np.asarray(self.estimator_.classes_)
        if self.classes_.size == 0 or np.array_equal(est_classes, self.classes_):
            return proba
        out = np.zeros((X.shape[0], self.classes_.size))
        out[:, np.searchsorted(self.classes_, est_classes)] = proba
        return out

    @available_if(_final_estimator_has("predict_proba"))
    def predict_log_proba(self, X: Any) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    @available_if(_final_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> np.ndarray:
        """The final estimator's decision function."""
        X = self._check_predict_input(X)
        return self.estimator_.decision_function(X)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Accuracy of the final estimator on ``(X, y)`` (use clean labels)."""
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.input_tags.sparse = False
        return tags

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike, *, allowed_modules: Iterable[str] = (),
             metadata: dict | None = None) -> None:
        """Save the parameters and the whole state to one file, atomically, without pickle.

        The file is a ZIP archive holding ``state.json`` (parameters, history,
        the open round, random-generator states) and ``.npy`` arrays (labeled
        indices, the annotator's labels, clean mask and scores, the labeled
        points' features, the strategy's per-pool cache such as ProbCover's
        δ-ball graph), read back with ``allow_pickle=False``. It is written to
        a temporary file that replaces ``path`` only once complete and flushed
        to disk, so a crash during ``save`` leaves the previous file intact.

        The fitted final estimator is not stored: :meth:`load` retrains it on
        the same labeled points. The oracle built by :meth:`fit`
        (``oracle_``) is not saved.

        Parameters
        ----------
        path : str or path-like
            The file to write (its folder must exist).
        allowed_modules : iterable of str, default=()
            Packages to trust besides ``skal`` and ``sklearn``: estimator
            parameters (strategy, filter, estimator and anything nested in
            them) must be classes from these packages with JSON-able
            parameters.
        metadata : dict or None, default=None
            Any JSON-able record to keep beside the state (a dataset name, a
            labeling session's pool file); read it back with
            :meth:`read_metadata`.

        Raises
        ------
        ValueError
            A parameter or a label cannot be saved safely; nothing is written.
        """
        _persistence.save(self, path, allowed_modules=allowed_modules, metadata=metadata)

    @staticmethod
    def read_metadata(path: str | os.PathLike) -> dict | None:
        """The ``metadata`` record saved by :meth:`save` (None when none was given)."""
        return _persistence.read_metadata(path)

    @classmethod
    def load(cls, path: str | os.PathLike, *,
             allowed_modules: Iterable[str] = ()) -> NoiseAwareActiveLearner:
        """Load a learner written by :meth:`save` (no pickle is ever read).

        Every field is validated here: a damaged or edited file raises
        :class:`~skal._state.StateFormatError` (a ``ValueError``) naming what
        is wrong. The loaded learner continues exactly as the saved one would
        have: the same next picks, filter decisions and final model for the
        same pool and answers.

        Parameters
        ----------
        path : str or path-like
        allowed_modules : iterable of str, default=()
            Packages to trust besides ``skal`` and ``sklearn``; classes named in
            the file from any other package are refused before being imported.

        Returns
        -------
        learner : NoiseAwareActiveLearner
        """
        return _persistence.load(cls, path, allowed_modules=allowed_modules)
