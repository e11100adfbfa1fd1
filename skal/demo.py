"""The demo job: the recommended NAS default versus plain active learning on the bundled digits."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from ._nas._delta import DeltaSchedule
from .datasets import load_digits_embeddings
from .filters import (
    AUMFilter,
    CentroidFilter,
    ClusterVoteFilter,
    CrossValidationFilter,
    GraphFilter,
)
from .learner import NoiseAwareActiveLearner
from .noise import NoisyOracle
from .strategies import ProbCover, RandomSampling

__all__ = ["run_demo", "format_demo_table", "recommended_learner", "DEMO_FILTERS"]

#: Filters the demo can run (``skal demo --filter``); ``"centroid"`` is the
#: recommended default (docs/benchmarks/nas_protocol.md).
DEMO_FILTERS = {"centroid": CentroidFilter, "graph": GraphFilter, "clustervote": ClusterVoteFilter,
                "aum": AUMFilter, "cv": CrossValidationFilter}


#: ProbCover's δ policy in the recommended default: each round, the δ whose
#: graph of still uncovered points has the largest maximum degree (the
#: smallest such δ), one of the NAS reference's DeltaScheduler policies.
RECOMMENDED_DELTA_POLICY = "max_support_size_take_min"


def _recommended_schedule() -> DeltaSchedule:
    # A fresh schedule per learner, so that set_params on one never changes another.
    return DeltaSchedule(policy=RECOMMENDED_DELTA_POLICY)


def recommended_learner(noise_filter=None, *, random_state=None, **params) -> NoiseAwareActiveLearner:
    """The recommended default: ProbCover + NAS with a centroid filter and a δ schedule.

    Chosen on the digits with the NAS paper's protocol (see
    ``docs/benchmarks/nas_protocol.md``): the filter steers selection, and the
    probe trains on the kept labels plus the filter's proposed label for each
    doubted one its calibrated model finds more likely wrong than right
    (``train_on="relabel"``: the class of the nearest robust centre; the other
    doubted labels are dropped). Given the pool, the filter moves its class
    centres toward the pool's spectral communities before judging
    (``anchor_to_pool``, a pull that fades once a class has more than five
    labels), judges the labels of every class by them, and asks the pool for
    a second opinion (``cluster_agreement``), read from its kNN graph cut into
    a fifth more communities than classes (``pool_clusters``); a doubted label in
    a community the labels do not name trains on the posterior of that
    community's class instead of one guessed class (``soft_proposals``). The
    reference's adaptive noise dropout (``noise_dropout="auto"``) was the
    default's until the pool's opinion came; with it, no dropout scored 0.3
    points higher in the default search and is the default now. ProbCover's
    first δ comes from the purity heuristic (``delta="auto"``); from round to
    round a :class:`~skal.DeltaSchedule` (``"max_support_size_take_min"``)
    sets it to the δ at which the fullest ball of still uncovered points holds
    the most points; the default search preferred this to a constant δ.
    ``delta_schedule=None`` gives the constant δ of the previous default.
    """
    params.setdefault("delta_schedule", _recommended_schedule())
    return NoiseAwareActiveLearner(
        ProbCover(delta="auto"), CentroidFilter() if noise_filter is None else noise_filter,
        train_on="relabel", random_state=random_state, **params)


def _methods(filter_name: str) -> dict[str, Callable[[int], NoiseAwareActiveLearner]]:
    make_filter = DEMO_FILTERS[filter_name]
    tag = make_filter.__name__.removesuffix("Filter")
    return {
        "Random": lambda seed: NoiseAwareActiveLearner(RandomSampling(), None, random_state=seed),
        "ProbCover": lambda seed: NoiseAwareActiveLearner(ProbCover(), None, random_state=seed),
        # The filter cleans the training set only: what NAS selection adds is
        # the difference to the next column.
        f"ProbCover+{tag}": lambda seed: NoiseAwareActiveLearner(
            ProbCover(), make_filter(), noise_aware=False, train_on="relabel",
            random_state=seed, delta_schedule=_recommended_schedule()),
        f"NAS({tag})": lambda seed: recommended_learner(make_filter(), random_state=seed),
    }


def run_demo(*, noise_rate: float = 0.5, n_rounds: int = 5, budget: int = 20, n_seeds: int = 5,
             noise_filter: str = "centroid", test_size: float = 0.3, random_state: int = 0,
             progress: bool = True) -> dict:
    """Compare Random, ProbCover, ProbCover + a filter, and NAS on the digits with a noisy annotator.

    The digits are split once into a pool and a clean test set. For every seed
    the annotator corrupts ``noise_rate`` of the pool's labels (symmetric
    noise); each method then buys ``budget`` labels per round for ``n_rounds``
    rounds and trains a linear probe, scored on the clean test labels. The
    defaults are the NAS paper's low-budget regime at 50 % noise (20 to 100
    labels, i.e. about 1 to 5 correct labels per class).

    Parameters
    ----------
    noise_rate : float, default=0.5
    n_rounds : int, default=5
    budget : int, default=20
        Labels per round.
    n_seeds : int, default=5
    noise_filter : {"centroid", "graph", "clustervote", "aum", "cv"}, default="centroid"
        The filter of the two filtered methods: ``"centroid"`` makes the NAS
        column the recommended default (:func:`recommended_learner`).
    test_size : float, default=0.3
    random_state : int, default=0
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    results : dict
        ``{"n_labeled": [...], "accuracy": {method: array (n_seeds, n_rounds)},
        "filter_precision": array, "filter_recall": array, "seconds": float,
        "config": {...}}``; precision and recall are those of the NAS column's
        noisy-label flags.
    """
    if noise_filter not in DEMO_FILTERS:
        raise ValueError(f"noise_filter must be one of {sorted(DEMO_FILTERS)}, "
                         f"got {noise_filter!r}")
    from sklearn.model_selection import train_test_split

    t0 = time.perf_counter()
    X, y = load_digits_embeddings(return_X_y=True)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=random_state)
    methods = _methods(noise_filter)
    acc = {name: np.zeros((n_seeds, n_rounds)) for name in methods}
    prec = np.full((n_seeds, n_rounds), np.nan)
    rec = np.full((n_seeds, n_rounds), np.nan)
    jobs = [(s, name) for s in range(n_seeds) for name in methods]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="skal demo", unit="run", leave=False)
    nas_name = list(methods)[-1]
    for seed, name in jobs:
        oracle = NoisyOracle(y_pool, noise_rate=noise_rate, random_state=random_state + seed)
        learner = methods[name](random_state + seed).set_params(budget=budget)
        for r in range(n_rounds):
            learner.fit_round(X_pool, oracle)
            acc[name][seed, r] = learner.score(X_test, y_test)
            if name == nas_name:
                h = learner.history_[-1]
                prec[seed, r] = h.get("filter_precision", np.nan)
                rec[seed, r] = h.get("filter_recall", np.nan)
    return {
        "n_labeled": [budget * (r + 1) for r in range(n_rounds)],
        "accuracy": acc,
        "filter_precision": prec,
        "filter_recall": rec,
        "seconds": time.perf_counter() - t0,
        "config": {"noise_rate": noise_rate, "n_rounds": n_rounds, "budget": budget,
                   "n_seeds": n_seeds, "noise_filter": noise_filter, "n_pool": int(y_pool.size),
                   "n_test": int(y_test.size)},
    }


def format_demo_table(results: dict) -> str:
    """Render :func:`run_demo`'s results as a plain-text table, with the mean over rounds."""
    names = list(results["accuracy"])
    cfg = results["config"]
    head = (f"skal demo: digits ({cfg['n_pool']} pool / {cfg['n_test']} clean test), "
            f"{cfg['noise_rate']:.0%} symmetric annotator noise, {cfg['n_seeds']} seeds, "
            f"linear probe; clean test accuracy (mean ± std)")
    cols = ["round", "labels"] + names + ["filter P", "filter R"]
    rows = []
    for r, n in enumerate(results["n_labeled"]):
        row = [str(r + 1), str(n)]
        for name in names:
            a = results["accuracy"][name][:, r]
            row.append(f"{a.mean():.3f} ± {a.std():.3f}")
        for key in ("filter_precision", "filter_recall"):
            v = results[key][:, r]
            row.append("-" if np.all(np.isnan(v)) else f"{np.nanmean(v):.2f}")
        rows.append(row)
    # The protocol's headline number: per seed the mean over rounds, then over seeds.
    mean_row = ["mean", ""]
    for name in names:
        per_seed = results["accuracy"][name].mean(axis=1)
        mean_row.append(f"{per_seed.mean():.3f} ± {per_seed.std():.3f}")
    rows.append(mean_row + ["", ""])
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    line = "  ".join(c.rjust(w) for c, w in zip(cols, widths))
    out = [head, line, "-" * len(line)]
    out += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in rows]
    out.append(f"(ProbCover+{names[-1][4:-1]}: the filter cleans the training set only; "
               f"{names[-1]}: it also steers selection. Filter P/R: precision/recall of the NAS "
               f"filter's noisy-label flags; {results['seconds']:.1f}s)")
    return "\n".join(out)
