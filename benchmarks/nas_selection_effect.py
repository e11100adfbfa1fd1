"""Where does NAS *selection* pay? A controlled experiment on synthetic clustered pools.

NAS changes which points are bought: a label the filter doubts stops covering
its region, so the strategy returns there. That can only matter when the
region holds something the other labels do not already show. This script
isolates the effect, (NAS + filter) − (same filter used for training only),
for each coverage strategy's recommended default under the paper's protocol,
while varying one knob of the pool at a time:

- ``modes``: sub-clusters per class (1 = one blob per class; more = a class
  spread over several separate regions, so a wrong label hides a whole mode);
- ``pool``: pool size (the same structure, more points per region).

Each pool: ``C = 10`` classes, 32-d, unit-normalised Gaussian blobs, a clean
test set of 1,000 points from the same mixture. Rows per strategy: the
recommended default (``paper_protocol.RECOMMENDED``: CentroidFilter,
``train_on="relabel"``, no noise dropout, ProbCover with its δ schedule) and
IdealFilter, each train-only and with NAS; the same seeds and annotator per
seed for every row. ``--delta-schedule none`` runs ProbCover with a constant δ.

    python benchmarks/nas_selection_effect.py --modes 1 2 4 8 --seeds 10 \
        --strategies ProbCover MaxHerding --out benchmarks/results/nas_selection_effect_modes.csv
    python benchmarks/nas_selection_effect.py --pool 500 8000 --modes 4 --seeds 10 \
        --strategies ProbCover MaxHerding --out benchmarks/results/nas_selection_effect_pool.csv
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED, STRATEGIES, schedule_of  # noqa: E402
from protocol_grid import Noise, Row, accuracy_by_seed, ideal_filter, run_grid, write_records  # noqa: E402

from skal import NoiseAwareActiveLearner  # noqa: E402
from skal.filters import CentroidFilter, ClusterVoteFilter, GraphFilter  # noqa: E402
from skal.neighbors import unit_normalize  # noqa: E402


def clustered_pool(n: int, modes: int, *, n_classes: int = 10, dim: int = 32, spread: float = 0.5,
                   seed: int = 0):
    """``n`` pool + 1,000 test points; each class a mixture of ``modes`` blobs."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes * modes, dim))
    comp = rng.integers(0, n_classes * modes, n + 1000)
    X = unit_normalize(centers[comp] + spread * rng.normal(size=(comp.size, dim)))
    y = comp % n_classes
    return X[:n], y[:n], X[n:], y[n:]


#: ``--filter`` choices: the row name and the filter class (default parameters).
FILTERS = {"centroid": ("Centroid", CentroidFilter), "graph": ("Graph", GraphFilter),
           "clustervote": ("ClusterVote", ClusterVoteFilter)}


def rows(strategy: str = "ProbCover", delta_schedule: str | None = "default",
         filter_name: str = "centroid") -> list[Row]:
    """The recommended default of ``strategy`` (filter, training mode, dropout, δ schedule)
    and the ceiling, each used for training only and with NAS, built as the protocol page
    builds them. ``delta_schedule``: ``"default"`` the recommended δ policy, ``None`` a
    constant δ (MaxHerding has no δ and ignores it). ``filter_name`` swaps the default's
    filter for another of :data:`FILTERS` (same training mode)."""
    rec = RECOMMENDED[strategy]
    strat = STRATEGIES[strategy]
    label, make_filter = FILTERS[filter_name]
    policy = rec["delta_schedule"] if delta_schedule == "default" else delta_schedule
    if strategy != "ProbCover":
        policy = None

    def real(nas):
        return lambda s, n: NoiseAwareActiveLearner(
            strat(), make_filter(), noise_aware=nas, train_on=rec["train_on"],
            noise_dropout=rec["noise_dropout"] if nas else 0.0, random_state=s,
            delta_schedule=schedule_of(policy))

    def ideal(nas):
        return lambda s, n: NoiseAwareActiveLearner(strat(), ideal_filter(n), noise_aware=nas,
                                                    random_state=s,
                                                    delta_schedule=schedule_of(policy))
    return [Row(f"{label}, train only", strategy, "train-only", real(False),
                train_on=rec["train_on"]),
            Row(f"{label}, NAS", strategy, "nas", real(True), train_on=rec["train_on"]),
            Row("Ideal, train only", strategy, "ideal train-only", ideal(False)),
            Row("Ideal, NAS", strategy, "ideal nas", ideal(True))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--modes", type=int, nargs="+", default=[1, 4])
    p.add_argument("--pool", type=int, nargs="+", default=[2000])
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--strategies", nargs="+", choices=sorted(STRATEGIES), default=["ProbCover"])
    p.add_argument("--delta-schedule", default="default",
                   help="ProbCover's δ policy: 'default' (the recommended one) or 'none'")
    p.add_argument("--filter", choices=sorted(FILTERS), default="centroid",
                   help="the filter of the non-ideal rows (the default's: centroid)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/nas_selection_effect.csv")
    args = p.parse_args(argv)
    policy = None if args.delta_schedule == "none" else args.delta_schedule
    grid = [r for strategy in args.strategies for r in rows(strategy, policy, args.filter)]
    records = []
    for n in args.pool:
        for modes in args.modes:
            X, y, Xt, yt = clustered_pool(n, modes)
            recs = run_grid(grid, X, y, Xt, yt, [Noise("symmetric", r) for r in args.noise],
                            list(range(args.seeds)), n_jobs=args.n_jobs, log=sys.stderr)
            records += [{"pool": n, "modes": modes, **r} for r in recs]
    write_records(records, args.out)
    # NAS selection effect per setting: per seed mean over rounds, paired by seed.
    acc = accuracy_by_seed(records, ("strategy", "pool", "modes", "noise", "row"))
    print("| strategy | pool | modes/class | noise | filter | train only | NAS "
          "| NAS effect (paired ± std) |")
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for strategy in args.strategies:
        for n in args.pool:
            for modes in args.modes:
                for nz in sorted({k[3] for k in acc}, reverse=True):
                    for flt in (FILTERS[args.filter][0], "Ideal"):
                        a = acc[(strategy, n, modes, nz, f"{flt}, train only")]
                        b = acc[(strategy, n, modes, nz, f"{flt}, NAS")]
                        seeds = sorted(a)
                        ma = np.array([np.mean(a[s]) for s in seeds])
                        mb = np.array([np.mean(b[s]) for s in seeds])
                        d = 100 * (mb - ma)
                        print(f"| {strategy} | {n} | {modes} | {nz} | {flt} | "
                              f"{100 * ma.mean():.1f} | {100 * mb.mean():.1f} | "
                              f"{d.mean():+.1f} ± {d.std():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
