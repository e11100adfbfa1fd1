"""What graded coverage owes to the second look: the option against controls told the truth or drawn at random.

``NoiseAwareActiveLearner(pool_doubt_weight=W)`` lets a kept label that the
filter's second look from the pool doubts cover its region with weight ``W``
(MaxHerding). It raises the default's selection effect at 50 % symmetric noise
on the digits and costs under pair-asymmetric noise. This script asks where
both come from, with the same seeds and annotator for every row:

- ``default``: the recommended pipeline (``pool_doubt_weight=1``);
- ``default's filter, train only``: every label covers (``noise_aware=False``),
  so that each row's selection effect is read within the run;
- ``second look, weight W``: the library's option as a user sets it;
- ``second look on wrong labels only, weight W`` / ``... on right labels
  only``: the option with its doubts split by the truth, so that what its
  catches do and what its false alarms do are measured apart;
- ``random doubts G, weight W`` (``--random G``, repeatable): each kept label
  is doubted with probability ``G`` whatever the second look says, one fixed
  draw per pool point and seed: the part of the effect that any softer
  coverage would give.

Training is the default's in every row; only the weights MaxHerding's
coverage gets differ. The table pairs each row with ``default`` by seed (mean
clean accuracy over the protocol's five rounds, and the difference per round).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paper_protocol import load, protocol_rows, with_learner_params  # noqa: E402
from protocol_grid import Noise, Row, accuracy_by_seed, run_grid, write_records  # noqa: E402

DEFAULT_ROW = "default"
TRAIN_ONLY_ROW = "default's filter, train only"


def second_look_row(weight: float) -> str:
    return f"second look, weight {weight:g}"


def truth_split_row(side: str, weight: float) -> str:
    return f"second look on {side} labels only, weight {weight:g}"


def random_row(rate: float, weight: float) -> str:
    return f"random doubts {rate:g}, weight {weight:g}"


def _install_control_hook() -> None:
    """Let a learner carrying ``_doubt_control`` replace which covering labels are doubted.

    Idempotent; runs in each worker (the rows call it), since a patch made in
    the parent process does not reach loky workers.
    """
    from skal._nas import _steps

    if getattr(_steps, "_doubt_control_hook", False):
        return
    weights_of = _steps.selection_weights

    def selection_weights(est, covering):
        control = getattr(est, "_doubt_control", None)
        weights = weights_of(est, covering)
        if control is None:
            return weights
        kind, value = control
        w = est.pool_doubt_weight
        if kind == "random":
            if not (est.noise_aware and _steps.filter_active(est)) or w >= 1.0 \
                    or covering.size == 0:
                return None
            doubted = est._doubt_draw[covering] < value
        else:
            # The library's own doubts, split by the truth.
            if weights is None:
                return None
            wrong = est._true_noisy[covering]
            doubted = (weights < 1.0) & (wrong if value == "wrong" else ~wrong)
        return np.where(doubted, float(w), 1.0) if doubted.any() else None

    _steps.selection_weights = selection_weights
    _steps._doubt_control_hook = True


def rows(strategy: str, weight: float, random_rates=()) -> list[Row]:
    """The rows for one strategy (see the module docstring)."""
    base = {r.kind: r for r in protocol_rows(strategy, "defaults")}
    nas, train_only = base["nas"], base["train-only"]

    def variant(name, control, w):
        build = with_learner_params(nas, {"pool_doubt_weight": w}).make

        def make(seed, is_noisy):
            _install_control_hook()
            est = build(seed, is_noisy)
            if control is not None:
                est._doubt_control = control
                est._true_noisy = np.asarray(is_noisy, dtype=bool)
                # One draw per pool point, fixed by the seed: a label's fate
                # does not change between shares.
                est._doubt_draw = np.random.default_rng([seed, 2027]).random(len(is_noisy))
            return est
        return dataclasses.replace(nas, name=name, make=make)

    out = [variant(DEFAULT_ROW, None, 1.0),
           dataclasses.replace(train_only, name=TRAIN_ONLY_ROW),
           variant(second_look_row(weight), None, weight),
           variant(truth_split_row("wrong", weight), ("truth", "wrong"), weight),
           variant(truth_split_row("right", weight), ("truth", "right"), weight)]
    out += [variant(random_row(g, weight), ("random", g), weight) for g in random_rates]
    return out


def paired_table(records: list[dict]) -> str:
    """Each row against ``default`` by seed: mean over rounds, and per round."""
    by_seed = accuracy_by_seed(records, ("strategy", "noise", "row"))
    lines = ["| strategy | noise | row | n | row − default (mean over rounds) | per round |",
             "|---|---|---|---:|---:|---|"]
    for (strategy, noise, row), per_seed in by_seed.items():
        ref = by_seed.get((strategy, noise, DEFAULT_ROW))
        if row == DEFAULT_ROW or ref is None:
            continue
        seeds = sorted(set(per_seed) & set(ref))
        diff = 100 * np.array([np.subtract(per_seed[s], ref[s]) for s in seeds])
        mean = diff.mean(axis=1)
        se = mean.std(ddof=1) / np.sqrt(mean.size) if mean.size > 1 else float("nan")
        rounds = " / ".join(f"{v:+.1f}" for v in diff.mean(axis=0))
        lines.append(f"| {strategy} | {noise} | {row} | {len(seeds)} | "
                     f"{mean.mean():+.2f} ± {se:.2f} | {rounds} |")
    return "\n".join(lines)


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1], got {text!r}")
    return value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--strategies", default="MaxHerding")
    p.add_argument("--weight", type=float, default=0.8,
                   help="pool_doubt_weight of every row but the default (default 0.8)")
    p.add_argument("--random", action="append", default=[], type=_rate, metavar="G",
                   help="add a row doubting each kept label with probability G (repeatable)")
    p.add_argument("--noise", type=float, nargs="*", default=[0.5],
                   help="symmetric noise rates (default 0.5)")
    p.add_argument("--asym", type=float, nargs="*", default=[0.3],
                   help="pair-asymmetric noise rates (default 0.3; a bare --asym runs none)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/graded_coverage_controls.csv")
    args = p.parse_args(argv)
    if not 0.0 < args.weight < 1.0:
        p.error(f"--weight must lie in (0, 1), got {args.weight}")
    noises = ([Noise("symmetric", r) for r in args.noise]
              + [Noise("asymmetric", r) for r in args.asym])
    if not noises:
        p.error("no noise to run: give --noise or --asym rates")
    X, X_test, y, y_test = load(args.dataset)
    grid = [r for s in args.strategies.split(",") for r in rows(s.strip(), args.weight, args.random)]
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    records = run_grid(grid, X, y, X_test, y_test, noises, seeds, n_jobs=args.n_jobs,
                       log=sys.stderr)
    write_records(records, args.out)
    print(paired_table(records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
