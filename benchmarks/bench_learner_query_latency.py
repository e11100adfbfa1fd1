"""``query`` latency of a saved labeling session reopened in a fresh process (issue 12).

A labeling team's loop: one process builds the pool's structures on the first
``query``, takes the answers with ``teach`` and saves the learner (its state
file holds ProbCover's δ-ball graph); later, *another* process loads the state
and asks for the next share. This script runs each step in its own
subprocess and prints one JSON row: the first process's build-and-query time,
the save time and file size, then, in a fresh process, the ``load`` time and
the first ``query`` after it (what the person waiting for the next batch pays),
plus a second ``query`` after teaching that share. The pool is a fixed
clustered Gaussian mixture written to an ``.npy`` file (reading it is timed
separately: the team's tool has the pool anyway).

Target: on a 50k x 512 pool, ``query`` in a fresh process in at most 2 s::

    python benchmarks/bench_learner_query_latency.py --n 50000 --d 512 \\
        --out benchmarks/results/learner_query_latency.json

Quick check::

    python benchmarks/bench_learner_query_latency.py --n 3000 --d 32
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_pool(n: int, d: int, n_clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)).astype(np.float32)
    y = rng.integers(0, n_clusters, size=n)
    X = centers[y] + rng.normal(scale=0.35, size=(n, d)).astype(np.float32)
    return X, (y % 10)


def first_process(pool: str, state: str, delta: float | None) -> dict:
    sys.path.insert(0, ROOT)
    from skal import NoiseAwareActiveLearner, ProbCover
    X = np.load(pool)
    y = np.load(pool.replace(".npy", "_y.npy"))
    learner = NoiseAwareActiveLearner(ProbCover(delta="auto" if delta is None else delta),
                                      budget=100, classes=np.arange(10), random_state=0)
    t0 = time.perf_counter()
    asked = learner.query(X)
    t_build = time.perf_counter() - t0
    learner.teach(asked, y[asked])
    t0 = time.perf_counter()
    learner.save(state)
    t_save = time.perf_counter() - t0
    return {"build_and_first_query_s": t_build, "save_s": t_save,
            "state_mb": os.path.getsize(state) / 2**20, "delta": float(learner.strategy_.delta_),
            "n_edges": int(learner.strategy_.graph_.indices.size)}


def fresh_process(pool: str, state: str) -> dict:
    sys.path.insert(0, ROOT)
    t0 = time.perf_counter()
    from skal import NoiseAwareActiveLearner
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = np.load(pool)
    y = np.load(pool.replace(".npy", "_y.npy"))
    t_pool = time.perf_counter() - t0
    t0 = time.perf_counter()
    learner = NoiseAwareActiveLearner.load(state)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    asked = learner.query(X)
    t_query = time.perf_counter() - t0
    learner.teach(asked, y[asked])
    t0 = time.perf_counter()
    second = learner.query(X)
    t_second = time.perf_counter() - t0
    return {"import_s": t_import, "read_pool_s": t_pool, "load_s": t_load,
            "query_after_load_s": t_query, "second_query_s": t_second,
            "asked": int(asked.size), "second_asked": int(second.size)}


def run_step(step: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--step", step, *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--clusters", type=int, default=100)
    p.add_argument("--delta", type=float, default=None, help="default: delta='auto'")
    p.add_argument("--out", default=None)
    p.add_argument("--step", choices=["first", "fresh"], help=argparse.SUPPRESS)
    p.add_argument("--pool", help=argparse.SUPPRESS)
    p.add_argument("--state", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step == "first":
        print(json.dumps(first_process(args.pool, args.state, args.delta)))
        return 0
    if args.step == "fresh":
        print(json.dumps(fresh_process(args.pool, args.state)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        pool, state = os.path.join(tmp, "pool.npy"), os.path.join(tmp, "state.skal")
        X, y = make_pool(args.n, args.d, args.clusters, 0)
        np.save(pool, X)
        np.save(pool.replace(".npy", "_y.npy"), y)
        first = run_step("first", "--pool", pool, "--state", state,
                         *(["--delta", str(args.delta)] if args.delta is not None else []))
        fresh = run_step("fresh", "--pool", pool, "--state", state)
    row = {"workload": f"{args.n}x{args.d}, {args.clusters} clusters, ProbCover, budget 100, "
                       "10 classes (shares of 10)",
           **first, **fresh, "load_average": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(json.dumps(row, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(row, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
