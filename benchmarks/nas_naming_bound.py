"""How many of the pool's communities can any rule name rightly from the labels a round holds?

The default's filter pulls each class centre toward the pool community its
labels point to (``CentroidFilter(anchor_to_pool=True)``); told which
community holds which class, the same filter closes 95-97 % of the gap to
the perfect filter on the digits (``nas_gap_decomposition.py``). This script
asks how much of that naming the labels themselves can give. For the
default's labeled set at the end of each round (NAS + ``CentroidFilter()``,
the paper protocol, digits), it takes the filter's communities and the count
of each class's labels in each, and computes the exact posterior of the
one-to-one naming (community -> class) under the symmetric noisy channel at
the annotator's true rate, with a uniform prior: each label agreeing with its
community's name multiplies a naming's likelihood by ``(1 - r)(C - 1) / r``
(``skal.filters._naming.naming_posterior``, which the default's soft proposals
read at the filter's fitted rate). No rule that reads only these counts names more communities rightly, on
average over annotators and namings drawn from this model, than the naming that takes each
community's most probable class.

Columns, per strategy, noise and round (mean over seeds): classes seen;
communities the default pulls a class toward (a one-to-one match holding two
labels of the class or more, and no fewer of them than of any other class) and
how many of those rightly; communities rightly named by the most probable
class of each (the Bayes rule); the posterior's expected number of right
names; names of posterior probability >= 0.9 and how many of those rightly.
A community's true class is the one most of its pool rows belong to.

With ``--train``, a second table asks what the posterior is worth to the
model rather than to the names: on the same labeled set, the test accuracy of
the default's linear probe trained as the default trains it (kept labels and
relabels), trained on soft targets from the posterior (each label's row
counted once per class, weighted by the posterior that its community is that
class: :func:`soft_target_model`), and trained on the truly right labels only
(the perfect filter on this labeled set, training only).

    python benchmarks/nas_naming_bound.py --seeds 10 --noise 0.5 0.3
    python benchmarks/nas_naming_bound.py --seeds 40 --noise 0.5 0.3 --train
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED, STRATEGIES, load, policy_of, schedule_of  # noqa: E402
from protocol_grid import Noise, budgets, oracle_for  # noqa: E402

from skal import NoiseAwareActiveLearner  # noqa: E402
from skal._nas._steps import default_estimator  # noqa: E402
from skal.filters import CentroidFilter  # noqa: E402
from skal.filters._communities import community_votes, pulled_pairs  # noqa: E402
from skal.filters._naming import naming_posterior  # noqa: E402

SURE = 0.9


def soft_target_model(X: np.ndarray, community: np.ndarray, marginals: np.ndarray,
                      classes: np.ndarray):
    """The default linear probe trained on the naming posterior's soft targets.

    Parameters
    ----------
    X : ndarray of shape (n_labels, n_features)
        The labeled rows.
    community : ndarray of int, shape (n_labels,)
        The pool community of each row.
    marginals : ndarray of shape (n_communities, n_classes)
        :func:`~skal.filters._naming.naming_posterior`: the posterior that community ``m`` is
        ``classes[c]``.
    classes : ndarray of shape (n_classes,)

    Returns
    -------
    model : fitted estimator, or None
        Each row enters once per class, weighted by its community's posterior
        for that class (weights below 1e-3 left out); ``None`` when fewer
        than two classes carry weight.
    """
    weights = marginals[community].ravel()
    rows = np.repeat(np.arange(X.shape[0]), classes.size)
    targets = np.tile(classes, X.shape[0])
    keep = weights > 1e-3
    if np.unique(targets[keep]).size < 2:
        return None
    return default_estimator().fit(X[rows[keep]], targets[keep], sample_weight=weights[keep])


class _RecordingFilter(CentroidFilter):
    """The default's filter, recording the community counts of its every call (analysis only)."""

    records: list = []

    def _anchor_centres(self, centers, view, positions, y, n_classes, seed):
        votes = community_votes(view, positions, y, n_classes, seed)
        if votes is not None:
            type(self).records.append((votes.rows, votes.labels, votes.counts.copy(),
                                       self.classes_.copy(), np.array(positions),
                                       votes.community))
        return super()._anchor_centres(centers, view, positions, y, n_classes, seed)


def one_run(strategy: str, rate: float, seed: int, X, y, test=None) -> list[list[float]]:
    """The naming figures of each round's last filter call, for one (strategy, noise, seed).

    With ``test`` (``(X_test, y_test)``), each round's row ends with the three
    accuracies of ``--train``.
    """
    n_classes = int(np.unique(y).size)
    rec = RECOMMENDED[strategy]
    _RecordingFilter.records = []
    est = NoiseAwareActiveLearner(STRATEGIES[strategy](), _RecordingFilter(),
                                  train_on=rec["train_on"], noise_dropout=rec["noise_dropout"],
                                  random_state=seed,
                                  delta_schedule=schedule_of(policy_of(strategy)))
    oracle = oracle_for(y, Noise("symmetric", rate), seed)
    ratio = (1.0 - rate) * (n_classes - 1) / rate
    out = []
    for budget in budgets(n_classes, rate):
        est.fit_round(X, oracle, budget=budget)
        rows, labels, counts, classes, positions, community = _RecordingFilter.records[-1]
        truth = np.array([np.bincount(y[rows[labels == m]], minlength=n_classes).argmax()
                          for m in range(counts.shape[0])])
        pulls = pulled_pairs(counts)  # empty when no class has two labels, as in the anchor
        marg = naming_posterior(counts, ratio)
        bayes = classes[marg.argmax(axis=1)] == truth
        sure = marg.max(axis=1) >= SURE
        out.append([classes.size, len(pulls), sum(classes[c] == truth[m] for m, c in pulls),
                    bayes.sum(), marg.max(axis=1).sum(), sure.sum(), (sure & bayes).sum()])
        if test is not None:
            out[-1] += _training_accuracies(est, X, y, oracle, marg, classes, positions,
                                            community, *test)
    return out


def _training_accuracies(est, X, y, oracle, marg, classes, positions, community,
                         X_test, y_test) -> list[float]:
    """Test accuracy of the default's model, the soft-target model and the truly-right-labels one."""
    labeled = est._ledger.idx
    # The filter's last call judged every label of the round; its positions
    # are pool rows, matched to the ledger's order here.
    where = {int(p): k for k, p in enumerate(positions)}
    own_community = community[[where[int(i)] for i in labeled]]
    soft = soft_target_model(X[labeled], own_community, marg, classes)
    right = ~np.asarray(oracle.is_noisy_)[labeled]
    given = est._ledger.labels_array
    truly = (default_estimator().fit(X[labeled][right], given[right])
             if np.unique(given[right]).size >= 2 else None)
    return [100 * est.score(X_test, y_test),
            np.nan if soft is None else 100 * soft.score(X_test, y_test),
            np.nan if truly is None else 100 * truly.score(X_test, y_test)]


COLUMNS = ("classes seen", "default pulls", "rightly", "Bayes names right",
           "expected right", f"sure (>= {SURE})", "sure and right")
TRAIN_COLUMNS = ("the default's model", "soft targets from the posterior",
                 "truly right labels only")


def main(argv=None) -> int:
    import joblib

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--strategies", default="MaxHerding,ProbCover")
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--train", action="store_true",
                   help="also the test accuracy of three ways to train on each round's labels")
    args = p.parse_args(argv)
    if any(not 0.0 < r < 1.0 for r in args.noise):
        p.error("--noise: every rate must lie strictly between 0 and 1 (the posterior needs "
                "both right and wrong answers to be possible)")
    X, X_test, y, y_test = load(args.dataset)
    test = (X_test, y_test) if args.train else None
    cells = [(s.strip(), r, seed) for s in args.strategies.split(",") for r in args.noise
             for seed in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(one_run)(s, r, seed, X, y, test) for s, r, seed in cells)
    by_cell: dict = {}
    for (s, r, _), res in zip(cells, results):
        by_cell.setdefault((s, r), []).append(res)
    print(f"{args.dataset}, {args.seeds} seeds, the default's labeled set at the end of each round")
    print("| strategy | noise | round | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---:|" + "---:|" * len(COLUMNS))
    n = len(COLUMNS)
    for (s, r), runs in by_cell.items():
        mean = np.nanmean(np.array(runs, dtype=float), axis=0)
        for k, row in enumerate(mean):
            print(f"| {s} | {r:.0%} | {k + 1} | " + " | ".join(f"{v:.1f}" for v in row[:n])
                  + " |")
    if args.train:
        print("\nTest accuracy (%) on the same labeled sets; the last row of each cell is the "
              "mean over rounds, with the paired difference soft - default +- s.e. over seeds")
        print("| strategy | noise | round | " + " | ".join(TRAIN_COLUMNS) + " |")
        print("|---|---|---|" + "---:|" * len(TRAIN_COLUMNS))
        for (s, r), runs in by_cell.items():
            acc = np.array(runs, dtype=float)[:, :, n:]
            for k, row in enumerate(np.nanmean(acc, axis=0)):
                print(f"| {s} | {r:.0%} | {k + 1} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
            per_seed = np.nanmean(acc, axis=1)
            diff = per_seed[:, 1] - per_seed[:, 0]
            se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else np.nan
            print(f"| {s} | {r:.0%} | mean | "
                  + " | ".join(f"{v:.2f}" for v in np.nanmean(per_seed, axis=0))
                  + f" (soft − default {diff.mean():+.2f} ± {se:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
