"""Which classes hold the gap between the recommended default and the perfect filter?

The paper protocol's default (NAS + ``CentroidFilter()``, ``train_on="relabel"``,
ProbCover with the recommended δ schedule) and its ceiling (NAS +
``IdealFilter``, told the true noise) are run on the same seeds and annotators
as ``paper_protocol.py`` (the rows reproduce its ``NAS + CentroidFilter,
train_on=relabel (default)`` and ``NAS + IdealFilter`` rows to the digit). After
every round the script records, per true class:

- the test recall of both models (the gap table: ceiling minus default, mean
  over seeds and rounds; the classes' mean is the gap in accuracy, since the
  test split is stratified);
- for the default, what its filter did with the labels of that class's pool
  rows after the last round: right answers, right answers it doubts, wrong
  answers, wrong answers it keeps;
- how many labels each row bought in the class.

It also prints how the pool's classes fall into the spectral communities the
default's filter anchors its centres to (``pool_communities``, as many as
there are classes): a class without a community of its own is one a single
anchored centre cannot describe.

    python benchmarks/nas_gap_by_class.py --seeds 20 --noise 0.5

An analysis tool, not an API.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED, STRATEGIES, load, policy_of, schedule_of  # noqa: E402
from protocol_grid import Noise, budgets, ideal_filter, oracle_for  # noqa: E402

from skal import NoiseAwareActiveLearner  # noqa: E402
from skal.filters._communities import pool_communities  # noqa: E402
from skal.filters._pool import PoolView  # noqa: E402

# Columns of the default's label table, per true class (after the last round).
LABEL_COLUMNS = ("right answers", "right, doubted", "wrong answers", "wrong, kept")


def make_learner(strategy: str, row: str, seed: int, is_noisy: np.ndarray):
    """The protocol's default (``row="default"``) or ceiling (``row="ideal"``) learner."""
    rec = RECOMMENDED[strategy]
    schedule = schedule_of(policy_of(strategy))
    if row == "ideal":
        return NoiseAwareActiveLearner(STRATEGIES[strategy](), ideal_filter(is_noisy),
                                       random_state=seed, delta_schedule=schedule)
    return NoiseAwareActiveLearner(STRATEGIES[strategy](), rec["filter"](),
                                   train_on=rec["train_on"], noise_dropout=rec["noise_dropout"],
                                   random_state=seed, delta_schedule=schedule)


def one_run(strategy: str, row: str, rate: float, seed: int, X, y, X_test, y_test) -> dict:
    """Per-class recall per round, labels bought per class, and (default) the filter's verdicts.

    Returns
    -------
    dict with ``recall`` (n_rounds, n_classes), ``bought`` (n_classes,) after
    the last round and, for the default, ``labels`` (n_classes, 4): the
    columns of :data:`LABEL_COLUMNS`.
    """
    classes = np.unique(y)
    oracle = oracle_for(y, Noise("symmetric", rate), seed)
    learner = make_learner(strategy, row, seed, oracle.is_noisy_)
    recall = []
    for budget in budgets(classes.size, rate):
        learner.fit_round(X, oracle, budget=budget)
        pred = learner.predict(X_test)
        recall.append([np.mean(pred[y_test == c] == c) for c in classes])
    idx = learner.labeled_idx_
    truth, given = y[idx], np.asarray(learner.labels_)
    out = {"recall": np.array(recall), "bought": np.array([(truth == c).sum() for c in classes])}
    if row == "default":
        doubted = ~learner.clean_mask_
        right = given == truth
        out["labels"] = np.array([[(mine & right).sum(), (mine & right & doubted).sum(),
                                   (mine & ~right).sum(), (mine & ~right & ~doubted).sum()]
                                  for mine in (truth == c for c in classes)])
    return out


def community_table(X: np.ndarray, y: np.ndarray, seed: int = 0) -> np.ndarray:
    """``counts[c, m]``: pool rows of class ``c`` in the filter's community ``m``.

    ``None`` when the pool cannot be cut (see ``pool_communities``).
    """
    classes = np.unique(y)
    view = PoolView(X)
    rows, labels, _ = pool_communities(view, classes.size, seed)
    if labels is None:
        return None
    counts = np.zeros((classes.size, labels.max() + 1), dtype=int)
    np.add.at(counts, (np.searchsorted(classes, y[rows]), labels), 1)
    return counts


def _fmt(values, spec=".1f") -> str:
    return " | ".join(format(v, spec) for v in values)


def main(argv=None) -> int:
    import joblib

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--strategies", default="MaxHerding,ProbCover")
    p.add_argument("--noise", type=float, default=0.5)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args(argv)
    if not 0.0 <= args.noise < 1.0:
        p.error("--noise: a rate in [0, 1)")
    X, X_test, y, y_test = load(args.dataset)
    classes = np.unique(y)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    cells = [(s.strip(), row, seed) for s in args.strategies.split(",")
             for row in ("default", "ideal") for seed in seeds]
    results = joblib.Parallel(n_jobs=args.n_jobs)(
        joblib.delayed(one_run)(s, row, args.noise, seed, X, y, X_test, y_test)
        for s, row, seed in cells)
    by = {}
    for (s, row, _), res in zip(cells, results):
        by.setdefault((s, row), []).append(res)
    header = "| " + " | ".join(str(c) for c in classes) + " |"
    rule = "|---|" + "---:|" * classes.size
    print(f"{args.dataset}, {args.noise:.0%} symmetric noise, seeds {seeds.start}-{seeds.stop - 1}")
    print("\nTest recall per class (%), mean over seeds and rounds, and the gap (ceiling - default)")
    print("| strategy, row " + header + " mean |")
    print(rule + "---:|")
    for s in dict.fromkeys(c[0] for c in cells):
        rec = {row: 100 * np.mean([r["recall"] for r in by[(s, row)]], axis=(0, 1))
               for row in ("default", "ideal")}
        gap = rec["ideal"] - rec["default"]
        for name, v in (("default", rec["default"]), ("NAS + IdealFilter", rec["ideal"]),
                        ("gap", gap)):
            print(f"| {s}, {name} | {_fmt(v)} | {v.mean():.2f} |")
        share = gap / gap.sum() if gap.sum() > 0 else np.full_like(gap, np.nan)
        print(f"| {s}, share of the gap | {_fmt(100 * share, '.0f')} | |")
    print("\nLabels bought per class after the last round (mean per seed)")
    print("| strategy, row " + header)
    print(rule)
    for (s, row), runs in by.items():
        print(f"| {s}, {row} | {_fmt(np.mean([r['bought'] for r in runs], axis=0))} |")
    print("\nThe default's filter after the last round, per true class (sum over seeds)")
    print("| strategy, true class | " + " | ".join(LABEL_COLUMNS) + " | right answers doubted (%) |")
    print("|---|" + "---:|" * (len(LABEL_COLUMNS) + 1))
    for s in dict.fromkeys(c[0] for c in cells):
        table = np.sum([r["labels"] for r in by[(s, "default")]], axis=0)
        for c, counts in zip(classes, table):
            share = 100 * counts[1] / counts[0] if counts[0] else float("nan")
            print(f"| {s}, {c} | {_fmt(counts, 'd')} | {share:.0f} |")
    counts = community_table(X, y)
    if counts is not None:
        print("\nPool rows of each class in the filter's spectral communities "
              "(communities as columns, ordered by their majority class)")
        order = np.argsort(counts.argmax(axis=0), kind="stable")
        counts = counts[:, order]
        print("| class | " + " | ".join(f"m{m}" for m in range(counts.shape[1]))
              + " | in its largest community (%) | that community's purity (%) |")
        print("|---|" + "---:|" * (counts.shape[1] + 2))
        for c, row in zip(classes, counts):
            m = row.argmax()
            print(f"| {c} | {_fmt(row, 'd')} | {100 * row[m] / row.sum():.0f} | "
                  f"{100 * counts[c == classes, m][0] / counts[:, m].sum():.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
