"""What ProbCover's δ schedule costs: one ``next_delta`` call, and a round's start in a learner.

The recommended default moves ProbCover's δ between rounds with
``DeltaSchedule("max_support_size_take_min")``: each round scores a grid of
22 δ values (0.05 to 1.1) on the pool, or on 4,000 sampled points of a larger
one, and ProbCover rebuilds its δ-ball graph when δ moves. Two measurements:

1. ``next_delta`` on a real pool (MNIST-5k's 3,500 x 784 by default, or the
   digits) with labeled sets of 20, 40, ..., 100 points: the library's
   one-pass count against the definition evaluated one δ at a time (the
   implementation before it), in the same process, on the same inputs; the
   two must return the same δ.
2. ``--learner N D``: the recommended learner on a synthetic N x D pool (100
   Gaussian clusters), ``--rounds`` rounds of 100 labels in shares of 10:
   with the schedule, with the schedule but every graph built in full (the
   build before a shrinking δ reused the old graph), and with a constant δ;
   the time of each round's first ``query`` (where the schedule and any graph
   rebuild are paid) and the peak memory.

    python benchmarks/bench_delta_schedule.py                        # 1. on MNIST-5k
    python benchmarks/bench_delta_schedule.py --learner 50000 512    # 2. adds a 50k x 512 pool
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skal import DeltaSchedule  # noqa: E402
from skal._nas import _delta  # noqa: E402
from skal.datasets import load_digits_embeddings, load_mnist5k_embeddings  # noqa: E402

POLICY = "max_support_size_take_min"


def degrees_one_delta_at_a_time(d2: np.ndarray, is_labeled: np.ndarray,
                                grid: np.ndarray) -> np.ndarray:
    """The largest uncovered degree per δ, one boolean pass over ``d2`` per δ (the peer)."""
    best = np.zeros(grid.size)
    for k, radius in enumerate(grid):
        inside = d2 < radius * radius
        uncovered = ~(inside[is_labeled].any(axis=0) | is_labeled)
        counts = inside[:, uncovered].sum(axis=1)
        counts[is_labeled] = 0
        best[k] = counts.max()
    return best


def time_next_delta(X: np.ndarray, sizes: list[int], repeats: int) -> list[dict]:
    """Per labeled-set size: median seconds and peak traced MiB of both counts, and their δ."""
    rng = np.random.default_rng(0)
    order = rng.permutation(X.shape[0])
    fast = _delta._max_uncovered_degrees
    rows = []
    for size in sizes:
        labeled = np.sort(order[:size])
        out = {"labeled": size}
        for name, count in (("one_pass", fast), ("per_delta", degrees_one_delta_at_a_time)):
            _delta._max_uncovered_degrees = count
            try:
                times = []
                for _ in range(repeats):
                    tracemalloc.start()
                    t0 = time.perf_counter()
                    delta = DeltaSchedule(POLICY, random_state=0).next_delta(
                        X, labeled, initial=0.5, current=0.5)
                    times.append(time.perf_counter() - t0)
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
            finally:
                _delta._max_uncovered_degrees = fast
            out[f"{name}_s"] = float(np.median(times))
            out[f"{name}_peak_mib"] = peak / 2**20
            out[f"{name}_delta"] = delta
        if out["one_pass_delta"] != out["per_delta_delta"]:
            raise AssertionError(f"the two counts disagree at {size} labels: {out}")
        rows.append(out)
    return rows


def time_learner_rounds(n: int, d: int, rounds: int, schedule: bool) -> dict:
    """Seconds of each round's first query for the recommended learner on an n x d pool."""
    from skal.demo import recommended_learner

    rng = np.random.default_rng(0)
    centers = rng.normal(size=(100, d)).astype(np.float32)
    y = rng.integers(0, 100, size=n)
    X = centers[y] + rng.normal(scale=0.35, size=(n, d)).astype(np.float32)
    y %= 10
    extra = {} if schedule else {"delta_schedule": None}
    learner = recommended_learner(random_state=0, budget=100, classes=np.arange(10), **extra)
    first_query, deltas = [], []
    for _ in range(rounds):
        for share in range(10):
            t0 = time.perf_counter()
            asked = learner.query(X)
            if share == 0:
                first_query.append(time.perf_counter() - t0)
                deltas.append(float(learner.strategy_.delta_))
            answers = y[asked].copy()
            flip = rng.random(asked.size) < 0.3
            answers[flip] = (answers[flip] + 1) % 10
            learner.teach(asked, answers)
    return {"first_query_s": first_query, "delta": deltas}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", choices=["mnist5k", "digits"], default="mnist5k")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--learner", type=int, nargs=2, metavar=("N", "D"), default=None)
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args(argv)
    print(f"machine: {platform.node()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    load = load_mnist5k_embeddings if args.dataset == "mnist5k" else load_digits_embeddings
    X = load(return_X_y=True)[0]
    # The pool ProbCover sees in the protocol: the 70 % split, here the first 70 %.
    X = X[: int(0.7 * X.shape[0])]
    print(f"1. next_delta({POLICY}) on {args.dataset}, {X.shape[0]} x {X.shape[1]}, "
          f"median of {args.repeats}")
    print("labels | one pass (s) | per δ (s) | ratio | peak MiB one pass / per δ | δ")
    for r in time_next_delta(X, [20, 40, 60, 80, 100], args.repeats):
        print(f"{r['labeled']:6d} | {r['one_pass_s']:12.3f} | {r['per_delta_s']:9.3f} | "
              f"{r['per_delta_s'] / r['one_pass_s']:5.1f} | "
              f"{r['one_pass_peak_mib']:.0f} / {r['per_delta_peak_mib']:.0f} | "
              f"{r['one_pass_delta']:.2f}")
    if args.learner is not None:
        n, d = args.learner
        print(f"2. recommended learner, {n} x {d} pool, rounds of 100 labels (shares of 10): "
              "each round's first query (s)")
        from skal.neighbors import _delta_graph

        runs = (("schedule on", True, True),
                ("schedule on, every graph built in full", True, False),
                ("schedule off (constant δ)", False, True))
        for name, schedule, reuse in runs:
            saved = _delta_graph._SUPERSET_MAX_VISITED
            if not reuse:                   # the build before the superset plan existed
                _delta_graph._SUPERSET_MAX_VISITED = -1.0
            try:
                t0 = time.perf_counter()
                row = time_learner_rounds(n, d, args.rounds, schedule)
                total = time.perf_counter() - t0
            finally:
                _delta_graph._SUPERSET_MAX_VISITED = saved
            times = " / ".join(f"{t:.1f}" for t in row["first_query_s"])
            deltas = " / ".join(f"{v:.2f}" for v in row["delta"])
            print(f"   {name}: {times}  (δ {deltas}; {total:.1f} s for {args.rounds} rounds)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak RSS {peak:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
