"""Choose the recommended NAS default per coverage strategy, on the digits only.

Every candidate (filter × how the filter is used × training mode, plus
noise dropout) runs the paper protocol on the digits (70/30 split,
cumulative budgets ceil(spc·C/(1−r)), spc 1..5, default linear probe,
δ="auto") at 50 % and 30 % symmetric noise with the same seeds; the
table prints mean clean accuracy over the 5 rounds. The default is then
chosen from this table and written into the protocol benchmark, the docs
and ``skal demo``; no other dataset is looked at for the choice.

    python benchmarks/nas_default_search.py --seeds 5 --n-jobs 2 \
        --out benchmarks/results/nas_default_search.csv
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocol_grid import Noise, Row, accuracy_by_seed, ideal_filter, run_grid, write_records  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skal import MaxHerding, NoiseAwareActiveLearner, ProbCover  # noqa: E402
from skal.datasets import load_digits_embeddings  # noqa: E402
from skal.filters import CentroidFilter, ClusterVoteFilter, GraphFilter, KNNFilter  # noqa: E402

FILTERS = {"Graph": GraphFilter, "ClusterVote": ClusterVoteFilter, "Centroid": CentroidFilter,
           "KNN": KNNFilter,
           # Flags capped at the fitted noise rate times the labels judged.
           "CentroidLimit": lambda: CentroidFilter(limit_to_noise_rate=True),
           # Relabels only doubted labels the calibrated model finds more
           # likely wrong than right; the other doubted ones are dropped.
           "CentroidConfident": lambda: CentroidFilter(propose_below=0.5),
           # CentroidFilter before propose_below=0.5 became its default: every
           # doubted label gets a proposal (the "Centroid" rows of the CSVs
           # written before that change).
           "CentroidAlways": lambda: CentroidFilter(propose_below=None),
           # The centroid rule with and without the pool's second opinion
           # (cluster_agreement, the default since it was added: "Centroid"
           # rows written before that are today's CentroidNoPool).
           "CentroidPool": lambda: CentroidFilter(cluster_agreement=True),
           "CentroidNoPool": lambda: CentroidFilter(cluster_agreement=False),
           # Class centres anchored to the pool's spectral communities are the
           # default since 2026-12-04; "Centroid" and "CentroidPool" rows
           # written before that are today's CentroidNoAnchor (classes of fewer
           # than 3 labels unjudged, as then).
           "CentroidNoAnchor": lambda: CentroidFilter(anchor_to_pool=False, min_class_count=3),
           # The default of the first revision of 2026-12-04: the anchor's pull
           # not faded, classes of fewer than 3 labels unjudged.
           "CentroidUnfaded": lambda: CentroidFilter(anchor_fade_after=None, min_class_count=3)}
STRATEGIES = {"ProbCover": lambda: ProbCover(delta="auto"), "MaxHerding": MaxHerding}


def candidate_rows(strategy: str, filters) -> list[Row]:
    strat = STRATEGIES[strategy]
    rows = [Row("plain", strategy, "plain",
                lambda s, n: NoiseAwareActiveLearner(strat(), None, random_state=s)),
            Row("ideal NAS", strategy, "ideal nas",
                lambda s, n: NoiseAwareActiveLearner(strat(), ideal_filter(n), random_state=s))]
    for fname in filters:
        flt = FILTERS[fname]
        for mode in ("clean", "weighted", "relabel"):
            rows.append(Row(f"{fname} train-only {mode}", strategy, "train-only",
                            lambda s, n, f=flt, m=mode: NoiseAwareActiveLearner(
                                strat(), f(), noise_aware=False, train_on=m, random_state=s),
                            train_on=mode))
        for mode in ("clean", "all", "weighted", "relabel"):
            rows.append(Row(f"{fname} NAS {mode}", strategy, "nas",
                            lambda s, n, f=flt, m=mode: NoiseAwareActiveLearner(
                                strat(), f(), train_on=m, random_state=s), train_on=mode))
        for mode in ("clean", "relabel"):
            rows.append(Row(f"{fname} NAS {mode} dropout=auto", strategy, "nas",
                            lambda s, n, f=flt, m=mode: NoiseAwareActiveLearner(
                                strat(), f(), train_on=m, noise_dropout="auto", random_state=s),
                            train_on=mode))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed + seeds - 1 (5 for held-out checks)")
    p.add_argument("--strategies", default="ProbCover,MaxHerding")
    p.add_argument("--filters", default="Graph,ClusterVote,Centroid")
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--only", default=None,
                   help="comma-separated candidate names to run (exact), e.g. "
                        "'plain,Centroid NAS relabel dropout=auto'")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/nas_default_search.csv")
    args = p.parse_args(argv)
    X, y = load_digits_embeddings(return_X_y=True)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
    rows = [r for s in args.strategies.split(",")
            for r in candidate_rows(s, args.filters.split(","))]
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {r.name for r in rows}
        if unknown:
            p.error(f"--only: no candidate named {sorted(unknown)}")
        rows = [r for r in rows if r.name in wanted]
    records = run_grid(rows, X, y, X_test, y_test, [Noise("symmetric", r) for r in args.noise],
                       list(range(args.first_seed, args.first_seed + args.seeds)), n_jobs=args.n_jobs, log=sys.stderr)
    write_records(records, args.out)
    # Mean over rounds per seed, then mean over seeds.
    table = accuracy_by_seed(records, ("strategy", "row", "noise"))
    noises = sorted({k[2] for k in table}, reverse=True)
    print("| strategy | row | " + " | ".join(noises) + " |")
    for key in dict.fromkeys((k[0], k[1]) for k in table):
        cells = []
        for nz in noises:
            per_seed = [np.mean(v) for v in table[(*key, nz)].values()]
            cells.append(f"{100 * np.mean(per_seed):.1f}")
        print(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
