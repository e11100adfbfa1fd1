"""Where does NAS *selection* pay? A controlled experiment on synthetic clustered pools.

NAS changes which points are bought: a label the filter doubts stops covering
its region, so the strategy returns there. That can only matter when the
region holds something the other labels do not already show. This script
isolates the effect, (NAS + filter) − (same filter used for training only),
for each coverage strategy's recommended default under the paper's protocol,
while varying one knob of the pool at a time:

- ``modes``: sub-clusters per class (1 = one blob per class; more = a class
  spread over several separate regions, so a wrong label hides a whole mode);
- ``pool``: pool size (the same structure, more points per region);
- ``budget-scale``: rounds of k, 2k, ..., 5k samples per class (k = 1: the
  paper's budgets).

Each pool: ``C = 10`` classes, 32-d, unit-normalised Gaussian blobs, a clean
test set of 1,000 points from the same mixture. Rows per strategy: the
recommended default (``paper_protocol.RECOMMENDED``: CentroidFilter,
``train_on="relabel"``, no noise dropout, ProbCover with its δ schedule) and
IdealFilter, each train-only and with NAS; the same seeds and annotator per
seed for every row. ``--delta-schedule none`` runs ProbCover with a constant δ.

    python benchmarks/nas_selection_effect.py --out benchmarks/results/nas_selection_effect_modes.csv
    python benchmarks/nas_selection_effect.py --pool 500 8000 --modes 4 \\
        --out benchmarks/results/nas_selection_effect_pool.csv
    python benchmarks/nas_selection_effect.py --modes 1 2 4 --budget-scale 1 2 4 \\
        --out benchmarks/results/nas_selection_effect_budget.csv
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED, STRATEGIES, policy_of, schedule_of  # noqa: E402
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
    policy = policy_of(strategy, delta_schedule)

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
    p.add_argument("--modes", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--pool", type=int, nargs="+", default=[2000])
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--budget-scale", type=int, nargs="+", default=[1],
                   help="k: rounds of k, 2k, ..., 5k samples per class (1: the paper's budgets)")
    p.add_argument("--strategies", nargs="+", choices=sorted(STRATEGIES),
                   default=["ProbCover", "MaxHerding"])
    p.add_argument("--delta-schedule", default="default",
                   help="ProbCover's δ policy: 'default' (the recommended one) or 'none'")
    p.add_argument("--filter", choices=sorted(FILTERS), default="centroid",
                   help="the filter of the non-ideal rows (the default's: centroid)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0,
                   help="seeds first-seed .. first-seed + seeds - 1 (the pools do not depend on it)")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/nas_selection_effect.csv")
    args = p.parse_args(argv)
    if min(args.budget_scale) < 1:
        p.error("--budget-scale must be positive integers")
    policy = None if args.delta_schedule == "none" else args.delta_schedule
    grid = [r for strategy in args.strategies for r in rows(strategy, policy, args.filter)]
    records = []
    for n in args.pool:
        for modes in args.modes:
            X, y, Xt, yt = clustered_pool(n, modes)
            for k in args.budget_scale:
                spc = tuple(k * s for s in (1, 2, 3, 4, 5))
                recs = run_grid(grid, X, y, Xt, yt, [Noise("symmetric", r) for r in args.noise],
                                list(range(args.first_seed, args.first_seed + args.seeds)),
                                samples_per_class=spc,
                                n_jobs=args.n_jobs, log=sys.stderr)
                records += [{"pool": n, "modes": modes, "samples_per_class": f"{spc[0]}-{spc[-1]}",
                             **r} for r in recs]
    write_records(records, args.out)
    print(effect_table(records, FILTERS[args.filter][0]))
    return 0


def effect_table(records: list[dict], filter_label: str) -> str:
    """Markdown: the NAS selection effect per setting, paired by seed (per-seed means over rounds)."""
    keys = ("strategy", "pool", "modes", "samples_per_class", "noise")
    acc = accuracy_by_seed(records, keys + ("row",))
    lines = ["| strategy | pool | modes/class | samples/class | noise | filter | train only | NAS "
             "| NAS effect (paired ± std) |",
             "|---|---:|---:|---|---|---|---:|---:|---:|"]
    settings = list(dict.fromkeys(tuple(r[k] for k in keys) for r in records))
    strategies = list(dict.fromkeys(st[0] for st in settings))
    settings.sort(key=lambda st: strategies.index(st[0]))  # stable: one block per strategy
    for setting in settings:
        for flt in (filter_label, "Ideal"):
            a, b = acc[setting + (f"{flt}, train only",)], acc[setting + (f"{flt}, NAS",)]
            seeds = sorted(a)
            ma = np.array([np.mean(a[s]) for s in seeds])
            mb = np.array([np.mean(b[s]) for s in seeds])
            d = 100 * (mb - ma)
            cells = " | ".join(str(v) for v in setting)
            lines.append(f"| {cells} | {flt} | {100 * ma.mean():.1f} | {100 * mb.mean():.1f} "
                         f"| {d.mean():+.1f} ± {d.std():.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
