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
community's name multiplies a naming's likelihood by ``(1 - r)(C - 1) / r``.
No rule that reads only these counts names more communities rightly, on
average over annotators and namings drawn from this model, than the naming that takes each
community's most probable class.

Columns, per strategy, noise and round (mean over seeds): classes seen;
communities the default pulls a class toward (a one-to-one match holding two
labels of the class or more, and no fewer of them than of any other class) and
how many of those rightly; communities rightly named by the most probable
class of each (the Bayes rule); the posterior's expected number of right
names; names of posterior probability >= 0.9 and how many of those rightly.
A community's true class is the one most of its pool rows belong to.

    python benchmarks/nas_naming_bound.py --seeds 10 --noise 0.5 0.3
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
from skal.filters import CentroidFilter  # noqa: E402
from skal.filters._communities import community_votes, pulled_pairs  # noqa: E402

SURE = 0.9


def naming_marginals(counts: np.ndarray, ratio: float) -> np.ndarray:
    """Posterior probability that community ``m`` is class ``c``, over one-to-one namings.

    Parameters
    ----------
    counts : ndarray of shape (n_communities, n_classes), n_communities <= n_classes
        Labels of class ``c`` in community ``m``.
    ratio : float
        Likelihood factor of one label that agrees with its community's name
        (``(1 - r)(C - 1) / r`` for a symmetric channel of rate ``r`` over
        ``C`` classes); a naming's weight is ``ratio ** (agreeing labels)``.

    Returns
    -------
    marginals : ndarray of shape (n_communities, n_classes)
        Rows sum to 1. Computed exactly by dynamic programming over the sets
        of classes already used (``2 ** n_classes`` states), forward over the
        communities and backward.
    """
    k, n = counts.shape
    if k > n:
        raise ValueError(f"counts: {k} communities for {n} classes; a one-to-one naming needs "
                         "at most as many communities as classes")
    # Scaled per community so that large counts do not overflow; the scale
    # is the same for every naming and cancels.
    w = np.power(float(ratio), counts - counts.max(axis=1, keepdims=True))
    n_states = 1 << n
    used = np.array([bin(s).count("1") for s in range(n_states)])
    forward = np.zeros(n_states)
    forward[0] = 1.0
    backward = np.zeros(n_states)
    backward[used == k] = 1.0
    for size in range(k):
        for s in np.flatnonzero((used == size) & (forward > 0)):
            for c in range(n):
                if not s >> c & 1:
                    forward[s | 1 << c] += forward[s] * w[size, c]
    for size in range(k - 1, -1, -1):
        for s in np.flatnonzero(used == size):
            backward[s] = sum(w[size, c] * backward[s | 1 << c]
                              for c in range(n) if not s >> c & 1)
    marginals = np.zeros((k, n))
    for s in np.flatnonzero((used < k) & (forward > 0)):
        m = used[s]
        for c in range(n):
            if not s >> c & 1:
                marginals[m, c] += forward[s] * w[m, c] * backward[s | 1 << c]
    return marginals / backward[0]


class _RecordingFilter(CentroidFilter):
    """The default's filter, recording the community counts of its every call (analysis only)."""

    records: list = []

    def _anchor_centres(self, centers, view, positions, y, n_classes, seed):
        votes = community_votes(view, positions, y, n_classes, seed)
        if votes is not None:
            rows, labels, _, counts = votes
            type(self).records.append((rows, labels, counts.copy(), self.classes_.copy()))
        return super()._anchor_centres(centers, view, positions, y, n_classes, seed)


def one_run(strategy: str, rate: float, seed: int, X, y) -> list[list[float]]:
    """The naming figures of each round's last filter call, for one (strategy, noise, seed)."""
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
        rows, labels, counts, classes = _RecordingFilter.records[-1]
        truth = np.array([np.bincount(y[rows[labels == m]], minlength=n_classes).argmax()
                          for m in range(counts.shape[0])])
        pulls = pulled_pairs(counts)  # empty when no class has two labels, as in the anchor
        marg = naming_marginals(counts, ratio)
        bayes = classes[marg.argmax(axis=1)] == truth
        sure = marg.max(axis=1) >= SURE
        out.append([classes.size, len(pulls), sum(classes[c] == truth[m] for m, c in pulls),
                    bayes.sum(), marg.max(axis=1).sum(), sure.sum(), (sure & bayes).sum()])
    return out


COLUMNS = ("classes seen", "default pulls", "rightly", "Bayes names right",
           "expected right", f"sure (>= {SURE})", "sure and right")


def main(argv=None) -> int:
    import joblib

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--strategies", default="MaxHerding,ProbCover")
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args(argv)
    X, _, y, _ = load(args.dataset)
    cells = [(s.strip(), r, seed) for s in args.strategies.split(",") for r in args.noise
             for seed in range(args.seeds)]
    results = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(one_run)(s, r, seed, X, y) for s, r, seed in cells)
    by_cell: dict = {}
    for (s, r, _), res in zip(cells, results):
        by_cell.setdefault((s, r), []).append(res)
    print(f"{args.dataset}, {args.seeds} seeds, the default's labeled set at the end of each round")
    print("| strategy | noise | round | " + " | ".join(COLUMNS) + " |")
    print("|---|---|---:|" + "---:|" * len(COLUMNS))
    for (s, r), runs in by_cell.items():
        mean = np.mean(np.array(runs, dtype=float), axis=0)
        for k, row in enumerate(mean):
            print(f"| {s} | {r:.0%} | {k + 1} | " + " | ".join(f"{v:.1f}" for v in row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
