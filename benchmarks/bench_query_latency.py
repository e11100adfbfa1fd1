"""Query latency of ProbCover after its δ-ball graph was saved and restored in a fresh process.

What the ask/tell loop pays: the graph is built once (first process), saved
with ``get_pool_cache`` as an uncompressed ``.npz``; a *fresh* process loads
it, hands it to ``set_pool_cache`` and answers queries. Each step runs in its
own subprocess; the script prints and writes one JSON row with the time of
the build, of ``np.load``, of ``set_pool_cache`` (fingerprint, checksum and
re-derived rows), of the first ``select`` after the restore, and of a second
``select`` on the same pool (a NAS share, more points labeled), plus the
machine load.

Target (issue 12): on a 50k x 512 pool, ``query`` in a fresh process answers
in at most 2 s after the first build::

    python benchmarks/bench_query_latency.py --n 50000 --d 512 --delta 0.856 \\
        --out benchmarks/results/query_latency.json

Quick check::

    python benchmarks/bench_query_latency.py --n 5000 --d 64 --delta 0.9
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


def _pool(args):
    from bench_strategies import make_mixture

    return make_mixture(args.n, args.d, args.seed, n_clusters=args.clusters)


def step_build(args) -> dict:
    from skal.strategies import ProbCover

    X = _pool(args)
    s = ProbCover(delta=args.delta, n_clusters=args.clusters, random_state=args.seed)
    t = time.perf_counter()
    s.select(X, args.budget)
    out = {"t_first_build_and_select": round(time.perf_counter() - t, 3),
           "edges": int(s.graph_.nnz)}
    t = time.perf_counter()
    np.savez(os.path.join(args.dir, "cache.npz"), **s.get_pool_cache())
    out["t_save"] = round(time.perf_counter() - t, 3)
    out["cache_mb"] = round(os.path.getsize(os.path.join(args.dir, "cache.npz")) / 2**20, 1)
    return out


def step_restore(args) -> dict:
    import skal.strategies._prob_cover as pc_mod
    from skal.strategies import ProbCover

    X = _pool(args)
    s = ProbCover(delta=args.delta, n_clusters=args.clusters, random_state=args.seed)
    out = {}
    t = time.perf_counter()
    with np.load(os.path.join(args.dir, "cache.npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    out["t_load"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    out["restored"] = bool(s.set_pool_cache(X, arrays))
    out["t_set_pool_cache"] = round(time.perf_counter() - t, 3)
    del arrays
    built = []
    real = pc_mod.delta_ball_graph
    pc_mod.delta_ball_graph = lambda *a, **k: built.append(1) or real(*a, **k)
    rng = np.random.default_rng(args.seed)
    labeled = rng.choice(args.n, size=args.budget, replace=False)
    t = time.perf_counter()
    first = s.select(X, args.budget, labeled=labeled)
    out["t_select_after_restore"] = round(time.perf_counter() - t, 3)
    labeled = np.concatenate([labeled, first])
    t = time.perf_counter()
    s.select(X, args.budget, labeled=labeled, covering=labeled[: labeled.size // 2])
    out["t_second_select"] = round(time.perf_counter() - t, 3)
    out["rebuilt_graph"] = bool(built)
    out["t_answer_after_load"] = round(out["t_load"] + out["t_set_pool_cache"]
                                       + out["t_select_after_restore"], 3)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--d", type=int, default=512)
    p.add_argument("--delta", type=float, default=0.856)
    p.add_argument("--clusters", type=int, default=10)
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out")
    p.add_argument("--step", choices=["build", "restore"], help=argparse.SUPPRESS)
    p.add_argument("--dir", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.step:
        fn = step_build if args.step == "build" else step_restore
        print("RESULT " + json.dumps(fn(args)), flush=True)
        return {}
    row = {"n": args.n, "d": args.d, "delta": args.delta, "budget": args.budget,
           "load_before": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory() as tmp:
        for step in ("build", "restore"):
            cmd = [sys.executable, os.path.abspath(__file__), "--step", step, "--dir", tmp]
            for k in ("n", "d", "delta", "clusters", "budget", "seed"):
                cmd += [f"--{k}", str(getattr(args, k))]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not lines:
                raise RuntimeError(f"step {step} failed:\n{proc.stderr[-3000:]}")
            row.update(json.loads(lines[-1][7:]))
    row["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(row, indent=1))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(row, fh, indent=1)
    return row


if __name__ == "__main__":
    main()
