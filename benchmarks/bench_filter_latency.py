"""A round's filtering at 100 labels on a 50k x 512 pool: is the recommended filter light?

The NAS learner calls its filter once per share of C labels, on every label
bought so far, with the whole pool at hand (``X_pool`` + ``sample_indices``).
A round that takes the labeled set from 0 to 100 labels with C = 10 calls it
10 times (on 10, 20, ..., 100 labels). This script times, in a fresh process:

- ``call@100``: one ``fit_filter`` on 100 labels (the first call, pool
  structures included, and the median of 5 repeats);
- ``round``: the 10 calls of such a round, in order, as NAS makes them.

Target (issue 15): a round's filtering <= 0.5 s. The pool is 10 Gaussian
clusters in 512-d (unit-normalised), labels 30 % symmetric noise. With the
default ``--spread 1.5`` the clusters are apart (the kNN graph of a sample
has ten components, so ``CentroidFilter`` anchors its centres only once all
ten classes are seen); ``--spread 3.0`` gives one connected graph, where it
anchors from the first call: its dearer case.

    python benchmarks/bench_filter_latency.py [--filters centroid,graph,graph-pool] [--n-pool 50000]

``graph-pool`` is ``GraphFilter(graph="pool")`` walking the δ-ball graph that
ProbCover (``delta="auto"``) built for selection; that build is the
strategy's cost, paid once per pool, and is timed separately.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skal.filters import CentroidFilter, ClusterVoteFilter, GraphFilter  # noqa: E402
from skal.neighbors import unit_normalize  # noqa: E402
from skal.noise import make_noisy_labels  # noqa: E402

FILTERS = {"centroid": CentroidFilter, "graph": GraphFilter, "clustervote": ClusterVoteFilter,
           # The centroid rule alone: no pool opinion, centres of the labels only.
           "centroid-nopool": lambda: CentroidFilter(cluster_agreement=False,
                                                     anchor_to_pool=False),
           "centroid-noanchor": lambda: CentroidFilter(anchor_to_pool=False),
           # The default of the first revision of 2026-12-04: unfaded pull,
           # classes of fewer than 3 labels unjudged.
           "centroid-unfaded": lambda: CentroidFilter(anchor_fade_after=None, min_class_count=3),
           # The default before the soft proposals (third revision of 2026-12-04).
           "centroid-hard": lambda: CentroidFilter(soft_proposals=False),
           # The second opinion from the anchor's communities: no k-means.
           "centroid-communities": lambda: CentroidFilter(pool_clusters="communities"),
           # The second opinion from k-means cells, one per class (the default
           # until the seventh revision of 2026-12-04).
           "centroid-kmeans": lambda: CentroidFilter(pool_clusters="kmeans"),
           "graph-pool": lambda: GraphFilter(graph="pool")}


def pool(n: int, d: int, n_classes: int, seed: int = 0, spread: float = 1.5):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, d)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    X = centers[y] + spread * rng.normal(size=(n, d)).astype(np.float32)
    return unit_normalize(X), y


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--filters", default="centroid,graph")
    p.add_argument("--n-pool", type=int, default=50_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--spread", type=float, default=1.5,
                   help="noise around each class centre (default 1.5: ten separate clusters, "
                        "whose kNN graph has ten components; 3.0: one connected graph)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    X, y = pool(args.n_pool, args.dim, args.classes, spread=args.spread)
    print(f"pool {X.shape} (spread {args.spread}) built in {time.perf_counter() - t0:.1f}s; "
          f"{platform.node()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    rng = np.random.default_rng(1)
    idx = rng.choice(args.n_pool, args.labels, replace=False)
    y_noisy, _ = make_noisy_labels(y[idx], 0.3, random_state=0)
    steps = range(args.classes, args.labels + 1, args.classes)
    # The labels of a second round (100 -> 200), for filters that keep pool
    # structures between rounds: what a round costs once those exist.
    rest = np.setdiff1d(np.arange(args.n_pool), idx)
    extra = np.random.default_rng(2).choice(rest, args.labels, replace=False)
    extra_noisy, _ = make_noisy_labels(y[extra], 0.3, random_state=1)
    print(f"{'filter':>12}  {'first call@100':>15}  {'median call@100':>16}  "
          f"{'round (' + str(len(steps)) + ' calls)':>18}  {'next round':>11}  target 0.5 s")
    for name in args.filters.split(","):
        cls = FILTERS[name.strip()]
        flt = cls()
        # What the learner hands a filter: the pool only to filters that use it.
        pool_kw = {"X_pool": X} if getattr(flt, "uses_pool", False) else {}
        if name.strip() == "graph-pool":
            from skal.strategies import ProbCover

            t = time.perf_counter()
            strategy = ProbCover(delta="auto", n_clusters=args.classes, random_state=0)
            pool_kw["pool_graph"] = strategy.build_graph(X)
            print(f"  (ProbCover's graph for selection: delta={strategy.delta_:.3f}, "
                  f"{strategy.graph_.nnz:,} edges, built in {time.perf_counter() - t:.1f}s)")
        t = time.perf_counter()
        flt.fit_filter(X[idx], y_noisy, sample_indices=idx, **pool_kw)
        first = time.perf_counter() - t
        reps = []
        for _ in range(5):
            t = time.perf_counter()
            flt.fit_filter(X[idx], y_noisy, sample_indices=idx, **pool_kw)
            reps.append(time.perf_counter() - t)
        # A NAS round as the learner runs it: a fresh filter, growing label sets.
        flt = cls()
        t = time.perf_counter()
        for k in steps:
            flt.fit_filter(X[idx[:k]], y_noisy[:k], sample_indices=idx[:k], **pool_kw)
        round_s = time.perf_counter() - t
        t = time.perf_counter()
        for k in steps:
            both = np.r_[idx, extra[:k]]
            flt.fit_filter(X[both], np.r_[y_noisy, extra_noisy[:k]], sample_indices=both,
                           **pool_kw)
        next_s = time.perf_counter() - t
        verdict = ("meets" if round_s <= 0.5 else
                   "misses" + (" the first round" if next_s <= 0.5 else ""))
        print(f"{name.strip():>12}  {first:>14.3f}s  {np.median(reps):>15.3f}s  "
              f"{round_s:>17.3f}s  {next_s:>10.3f}s  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
