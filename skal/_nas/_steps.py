"""The NAS steps: which labels may cover, judging labels, selecting, training.

Each function takes the learner (a :class:`~skal.NoiseAwareActiveLearner`
whose state is initialised) and reads its parameters and fitted state; the
round engine (:mod:`._engine`) decides when each step runs.
"""

from __future__ import annotations

import inspect
import time
import warnings
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import has_fit_parameter

from ..strategies._random import RandomSampling

__all__ = [
    "default_estimator", "n_classes", "filter_active", "selection_covering", "select_share",
    "run_filter", "judge_unjudged", "training_positions", "training_set", "fit_estimator", "filter_quality",
]


def default_estimator():
    """The final model used when ``estimator=None``: a linear probe."""
    # Embeddings are unit-normalised, so logits are small: a weaker
    # regularisation (C=10) than sklearn's default suits a linear probe.
    return LogisticRegression(C=10.0, max_iter=2000)


def n_classes(est) -> int | None:
    if est.classes_.size:
        return int(est.classes_.size)
    if est._ledger.size:
        return int(np.unique(est._ledger.labels.astype(str)).size)
    return None


def filter_active(est) -> bool:
    """The filter judges once there are at least ``C`` labels of two classes or more."""
    ledger = est._ledger
    c = n_classes(est)
    return (est.noise_filter_ is not None and c is not None and ledger.size >= c
            and np.unique(ledger.labels.astype(str)).size >= 2)


def selection_covering(est) -> np.ndarray:
    """Labeled indices whose coverage counts for the next share."""
    ledger = est._ledger
    if not (est.noise_aware and filter_active(est)):
        return ledger.idx
    clean = ledger.clean_mask.copy()
    noisy = np.flatnonzero(~clean)
    if est.noise_dropout == "auto":
        # The reference's adaptive noise dropout: with a predicted clean rate
        # p, exactly floor(eta * n_noisy) flagged labels, eta = max(min(p,
        # 1 - p), 0.1), cover anyway -- many when the filter flags half the
        # labels (it is likely wrong about some), few when it flags little.
        p_clean = float(clean.mean()) if clean.size else 1.0
        eta = max(min(p_clean, 1.0 - p_clean), 0.1)
        n_flip = int(noisy.size * eta)
        if n_flip:
            clean[est._rng.choice(noisy, size=n_flip, replace=False)] = True
    elif est.noise_dropout > 0:
        # A wrong "noisy" verdict must not keep a region uncovered forever:
        # a random share of the flagged labels covers anyway.
        revive = est._rng.random(noisy.size) < est.noise_dropout
        clean[noisy[revive]] = True
    return ledger.idx[clean]


def selection_weights(est, covering: np.ndarray) -> np.ndarray | None:
    """How much each covering label's coverage counts (``pool_doubt_weight``), or ``None``.

    A label the filter keeps but its second look from the pool doubts
    (``pool_clean_proba`` below 0.5) covers with ``pool_doubt_weight``: a
    strategy with graded coverage (MaxHerding) then returns to its region when
    the region is worth it, instead of trusting it fully or re-buying it at
    once (on the digits, dropping such labels from coverage altogether gained
    nothing, since the second look doubts right labels too).
    """
    w = est.pool_doubt_weight
    if not (est.noise_aware and filter_active(est)) or w >= 1.0 or covering.size == 0:
        return None
    ledger = est._ledger
    doubted = ledger.pool_clean_proba[ledger.positions_of(covering)] < 0.5
    if not doubted.any():
        return None
    return np.where(doubted, float(w), 1.0)


def _configure_strategy(est) -> None:
    params = est.strategy_.get_params(deep=False)
    c = n_classes(est)
    if (not est._n_clusters_set and c is not None and "n_clusters" in params
            and params["n_clusters"] is None):
        est.strategy_.set_params(n_clusters=c)
        est._n_clusters_set = True
    if est.noisy_weight is not None and "noisy_weight" in params:
        if est.noisy_weight == "auto":
            mask = est._ledger.clean_mask
            est.strategy_.set_params(noisy_weight=float(mask.mean()) if mask.size else 1.0)
        else:
            est.strategy_.set_params(noisy_weight=float(est.noisy_weight))


def select_share(est, X: np.ndarray, size: int) -> np.ndarray:
    """Pick ``size`` pool indices with the strategy, coverage from believed labels."""
    _configure_strategy(est)
    strategy = est.strategy_
    estimator = None
    if strategy.requires_estimator:
        estimator = est.estimator_
        if estimator is None or not hasattr(estimator, "predict_proba") \
                or isinstance(estimator, DummyClassifier):
            # Cold start: a model-based strategy has no model before the
            # first round, so the first picks are random.
            strategy = RandomSampling(random_state=int(est._rng.integers(0, 2**31 - 1)))
    covering = selection_covering(est)
    graded = {}
    if getattr(strategy, "graded_coverage", False):
        # Only strategies that grade coverage get weights (a strategy of the
        # user's may override ``select`` without the keyword).
        weights = selection_weights(est, covering)
        if weights is not None:
            graded["covering_weight"] = weights
    return strategy.select(X, size, labeled=est._ledger.idx, covering=covering,
                           estimator=estimator, **graded)


def _filter_keywords(flt) -> set[str]:
    try:
        return set(inspect.signature(flt.fit_filter).parameters)
    except (TypeError, ValueError):
        return set()


def run_filter(est, X: np.ndarray | None) -> None:
    """Re-run the filter on the whole labeled set and update the decisions.

    ``X`` is the pool; it may be ``None`` for filters that look at the labeled
    points only (their features are in the ledger).
    """
    ledger = est._ledger
    if not filter_active(est):
        ledger.set_decisions(np.ones(ledger.size))
        return
    flt = est.noise_filter_
    kwargs: dict[str, Any] = {}
    wants_pool = bool(getattr(flt, "uses_pool", False))
    wants_unlabeled = bool(getattr(flt, "uses_unlabeled", False))
    if (wants_pool or wants_unlabeled) and X is None:
        raise ValueError(f"{type(flt).__name__} looks at the unlabeled pool: pass the pool as X")
    if wants_unlabeled:
        unlabeled = np.ones(X.shape[0], dtype=bool)
        unlabeled[ledger.idx] = False
        kwargs["X_unlabeled"] = X[unlabeled]
    # Filters written before the pool-index contract do not take these.
    accepted = _filter_keywords(flt)
    if "sample_indices" in accepted:
        kwargs["sample_indices"] = ledger.idx.copy()
    if wants_pool and "X_pool" in accepted:
        kwargs["X_pool"] = X
        if getattr(flt, "uses_pool_graph", False) and "pool_graph" in accepted:
            # The strategy's own graph of this pool (ProbCover's δ-balls), so
            # the filter walks the neighbourhoods selection used instead of
            # building a second graph.
            graph = est.strategy_.pool_graph(X) if hasattr(est.strategy_, "pool_graph") else None
            if graph is not None:
                kwargs["pool_graph"] = graph
    decision = np.asarray(flt.fit_filter(ledger.X, ledger.labels_array, **kwargs), dtype=np.float64)
    m = float(est.noise_momentum)
    score = m * ledger.clean_score + (1.0 - m) * decision if m > 0 else decision
    ledger.set_decisions(score, _clean_proba(flt, ledger.size), _proposed(est, flt, ledger.size),
                         _proposal_proba(est, flt, ledger.size),
                         _per_label_proba(flt, "pool_clean_proba_", ledger.size))


def _clean_proba(flt, n: int) -> np.ndarray | None:
    """The filter's clean probabilities, when it gives them (``clean_proba_``)."""
    if getattr(flt, "clean_proba_", None) is None and getattr(flt, "votes_", None) is not None:
        # Vote-based filters (GraphFilter, ClusterVoteFilter) score each label
        # with its calibrated posterior probability of being clean.
        return _per_label_proba(flt, "scores_", n)
    return _per_label_proba(flt, "clean_proba_", n)


def _per_label_proba(flt, name: str, n: int) -> np.ndarray | None:
    """The filter's attribute ``name``: one finite probability per label, else ``None``."""
    proba = getattr(flt, name, None)
    if proba is None:
        return None
    proba = np.asarray(proba, dtype=np.float64)
    return proba if proba.shape == (n,) and np.all(np.isfinite(proba)) else None


def _proposed(est, flt, n: int) -> np.ndarray | None:
    """The labels the filter proposes instead (``proposed_labels_``), as class indices."""
    proposed = getattr(flt, "proposed_labels_", None)
    votes = getattr(flt, "votes_", None)
    if proposed is None and votes is not None:
        # Vote-based filters: the class the other labels vote for, where they vote.
        votes = np.asarray(votes, dtype=np.float64)
        if votes.ndim != 2 or votes.shape != (n, np.asarray(flt.classes_).size):
            return None
        top = np.asarray(flt.classes_)[votes.argmax(axis=1)]
        proposed = np.where(votes.sum(axis=1) > 0, top, None)
    if proposed is None or est.classes_.size == 0:
        return None
    proposed = np.asarray(proposed, dtype=object)
    if proposed.shape != (n,):
        return None
    out = np.full(n, -1, dtype=np.int64)
    known = np.array([v is not None for v in proposed], dtype=bool)
    if known.any():
        out[known] = _class_index(est.classes_, np.array(proposed[known].tolist()))
    return out


def _class_index(classes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in the sorted ``classes`` (-1 for a value not among them)."""
    at = np.clip(np.searchsorted(classes, values), 0, classes.size - 1)
    return np.where(classes[at] == values, at, -1)


def _proposal_proba(est, flt, n: int) -> np.ndarray | None:
    """The filter's soft proposals (``proposal_proba_``), columns as the learner's classes."""
    proba = getattr(flt, "proposal_proba_", None)
    filter_classes = np.asarray(getattr(flt, "classes_", []))
    if proba is None or est.classes_.size == 0:
        return None
    proba = np.asarray(proba, dtype=np.float64)
    if (proba.shape != (n, filter_classes.size) or not np.all(np.isfinite(proba))
            or (proba < 0).any()):
        return None
    at = _class_index(est.classes_, filter_classes)
    if (at < 0).any():
        return None
    out = np.zeros((n, est.classes_.size))
    out[:, at] = proba
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 0, out / np.where(total > 0, total, 1.0), 0.0)


def judge_unjudged(est, X: np.ndarray | None, pending) -> None:
    """Run the filter when labels arrived that it has not judged yet."""
    if pending is None or not pending.filter_stale:
        return
    t0 = time.perf_counter()
    run_filter(est, X)
    pending.filter_stale = False
    pending.times["time_filter"] += time.perf_counter() - t0


def training_positions(est) -> np.ndarray:
    """Positions (in the ledger) of the labels the final estimator learns from."""
    ledger = est._ledger
    positions = np.arange(ledger.size, dtype=np.int64)
    if est.noise_filter_ is None or est.train_on in ("all", "weighted"):
        return positions
    if est.train_on == "relabel":
        # A doubted label stays in training when the filter proposes another.
        return positions[ledger.clean_mask | (ledger.proposed >= 0)]
    return positions[ledger.clean_mask]


def training_set(est, positions: np.ndarray, *, soft: bool = True):
    """Features, labels and sample weights (None: unweighted) the estimator learns from.

    The first ``len(positions)`` rows are the labels at ``positions``, in
    order. With ``train_on="relabel"``, ``soft`` and an estimator that takes
    sample weights, a doubted label with a soft proposal (``proposal_proba``)
    enters once per class its proposal gives weight to: under its most
    probable class (its hard proposal) at that row, weighted by its
    probability, and under each other class in rows appended at the end.
    """
    ledger = est._ledger
    labels = ledger.labels_array
    X_train, y_train = ledger.X[positions], labels[positions]
    weights = None
    if est.noise_filter_ is not None and est.train_on == "relabel":
        doubted = ~ledger.clean_mask[positions] & (ledger.proposed[positions] >= 0)
        if doubted.any():
            y_train = y_train.copy()
            if y_train.dtype.kind in "US":
                y_train = y_train.astype(object)
            y_train[doubted] = est.classes_[ledger.proposed[positions][doubted]]
            y_train = np.array(y_train.tolist())
            if soft and _takes_sample_weight(est):
                X_train, y_train, weights = _spread_soft_proposals(est, positions, doubted,
                                                                   X_train, y_train)
    elif est.noise_filter_ is not None and est.train_on == "weighted":
        weights = ledger.clean_proba[positions]
    return X_train, y_train, weights


# A class whose proposed probability is below this adds no training row.
_MIN_PROPOSAL_WEIGHT = 1e-3


def _spread_soft_proposals(est, positions, doubted, X_train, y_train):
    """``training_set``'s rows with each soft proposal spread over its classes."""
    proba = est._ledger.proposal_proba
    if proba.shape != (est._ledger.size, est.classes_.size):
        return X_train, y_train, None
    rows = proba[positions]
    soft = doubted & (rows.sum(axis=1) > 0)
    if not soft.any():
        return X_train, y_train, None
    spread = rows[soft]
    weights = np.ones(positions.size)
    # The hard proposal is the most probable class: that row keeps its place.
    weights[soft] = spread.max(axis=1)
    at, cls = np.nonzero(spread >= _MIN_PROPOSAL_WEIGHT)
    source = np.flatnonzero(soft)[at]
    other = cls != spread.argmax(axis=1)[at]
    source, cls = source[other], cls[other]
    extra_y = est.classes_[cls]
    if y_train.dtype.kind in "US" or extra_y.dtype != y_train.dtype:
        y_all = np.array(y_train.tolist() + extra_y.tolist())
    else:
        y_all = np.concatenate([y_train, extra_y])
    return (np.concatenate([X_train, X_train[source]]), y_all,
            np.concatenate([weights, spread[at[other], cls]]))


def _takes_sample_weight(est) -> bool:
    """Whether the final estimator's ``fit`` takes ``sample_weight``."""
    model = default_estimator() if est.estimator is None else est.estimator
    return has_fit_parameter(model, "sample_weight")


def fit_estimator(est, positions: np.ndarray) -> None:
    """Train the final estimator on the labeled points at ``positions``."""
    # Everything comes from the ledger (not the pool), so the same call
    # rebuilds the same model after load().
    ledger = est._ledger
    est._fit_positions = np.asarray(positions, dtype=np.int64)
    labels = ledger.labels_array
    X_train, y_train, weights = training_set(est, est._fit_positions)
    if weights is not None:
        keep = weights > 0
        X_train, y_train, weights = X_train[keep], y_train[keep], weights[keep]
    if y_train.size == 0 or np.unique(y_train).size < 2:
        # One class (or none) left after filtering: nothing to discriminate,
        # so predict the most frequent label rather than fail the round.
        fallback_y = y_train if y_train.size else labels
        fallback_X = X_train if y_train.size else ledger.X
        est.estimator_ = DummyClassifier(strategy="most_frequent").fit(fallback_X, fallback_y)
        return
    model = default_estimator() if est.estimator is None else clone(est.estimator)
    # An unseeded estimator (a random forest, a network) gets the run's seed:
    # same random_state, same model, also after load().
    params = model.get_params(deep=False) if hasattr(model, "get_params") else {}
    if "random_state" in params and params["random_state"] is None:
        model.set_params(random_state=est._estimator_seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*number of unique classes.*")
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        if weights is None:
            est.estimator_ = model.fit(X_train, y_train)
        else:
            est.estimator_ = model.fit(X_train, y_train, sample_weight=weights)


def filter_quality(est, oracle) -> dict:
    """Precision/recall of the noisy-label flags when the oracle knows the truth."""
    is_noisy = getattr(oracle, "is_noisy_", None)
    ledger = est._ledger
    if is_noisy is None or ledger.size == 0:
        return {}
    truth = np.asarray(is_noisy)[ledger.idx]
    flagged = ~ledger.clean_mask
    tp = int((flagged & truth).sum())
    out = {"n_noisy_true": int(truth.sum()), "n_flagged": int(flagged.sum())}
    out["filter_precision"] = tp / flagged.sum() if flagged.sum() else float("nan")
    out["filter_recall"] = tp / truth.sum() if truth.sum() else float("nan")
    return out
