"""Speed and memory of skal's query strategies on unit-norm Gaussian mixtures.

Every workload runs in a fresh subprocess, so its time is the first call a
user pays (imports excluded) and its peak RSS is its own. For each one the
script records the wall and CPU time of the call and of its stages (δ, graph
or kernel, greedy), the peak resident memory (``resource.getrusage``), with
``--tracemalloc`` also the peak of NumPy/Python allocations (``tracemalloc``
traces every allocation and slows the call: at pc-10k 0.20-0.23 s untraced,
0.31-0.34 s traced, so it is off by default and the timed peer never runs under it),
the machine load
(``os.getloadavg``), the float32 matrix-product rate measured in the same
process right after (the "matmul floor": the half Gram matrix ``N^2 d``
multiply-adds at that rate), and, in the same process on the same data, a
dense naive implementation and scikit-activeml's strategy when that package
is installed (it is not a dependency of skal: ``pip install scikit-activeml``).
The machine (CPU model and flags, BLAS and its threads, torch build) is
written once per run.

Examples
--------
Small workloads only (a minute)::

    python benchmarks/bench_strategies.py --workloads pc-10k,mh-10k

The table of ``docs/benchmarks/strategies.md``::

    python benchmarks/bench_strategies.py --workloads pc-10k,pc-30k,pc-50k,pc-50k-auto,mh-10k,mh-50k \\
        --out benchmarks/results/strategies.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

# name: (strategy, n, d, budget, clusters, delta). delta is the fixed radius
# given to both skal and scikit-activeml (the purity δ of these mixtures,
# measured once with delta="auto"), or "auto" to time skal's own choice.
WORKLOADS = {
    "pc-10k": ("probcover", 10_000, 128, 100, 10, 0.446),
    "pc-10k-auto": ("probcover", 10_000, 128, 100, 10, "auto"),
    "pc-30k": ("probcover", 30_000, 512, 100, 10, 0.857),
    "pc-50k": ("probcover", 50_000, 512, 1000, 10, 0.856),
    "pc-50k-auto": ("probcover", 50_000, 512, 1000, 10, "auto"),
    "mh-10k": ("maxherding", 10_000, 128, 100, 10, None),
    "mh-50k": ("maxherding", 50_000, 512, 100, 10, None),
    "cs-50k": ("coreset", 50_000, 512, 1000, 10, None),
    "tc-50k": ("typiclust", 50_000, 512, 100, 10, None),
    # Pools of 10^5-10^6 points come with many classes (ImageNet: 1,000). With
    # 10 clusters the purity δ would make every ball hold a tenth of the pool,
    # a graph of 10^10-10^11 edges that no method can store (ProbCover's
    # memory check refuses it before allocating), so these use 1,000.
    "pc-200k": ("probcover", 200_000, 128, 1000, 1000, 0.696),
    "pca-200k": ("probcover-approx", 200_000, 128, 1000, 1000, "auto"),
    "pca-1m": ("probcover-approx", 1_000_000, 128, 1000, 1000, "auto"),
}
NAIVE_MAX_N = 12_000
SKACTIVEML_MAX_N = 30_000
N_CLUSTERS = 10


def make_mixture(n: int, d: int, seed: int = 0, n_clusters: int = N_CLUSTERS,
                 sep: float = 0.8, spread: float = 0.5) -> np.ndarray:
    """Unit-norm Gaussian mixture in float32, with overlapping clusters.

    Centres are ``u + sep * g_k / sqrt(d)`` around a common direction ``u``
    and points ``c_k + spread * e / sqrt(d)``, all projected onto the sphere.
    Well separated isotropic clusters make the purity δ the whole gap between
    clusters, and δ-balls hold a sizeable fraction of the pool; overlapping
    clusters give the moderate ball sizes of real self-supervised features.
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    centers = (u + sep * rng.normal(size=(n_clusters, d)) / np.sqrt(d)).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    lab = rng.integers(0, n_clusters, n)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        X[s:e] = centers[lab[s:e]] + spread * rng.normal(size=(e - s, d)).astype(np.float32) / np.sqrt(d)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Stage:
    """Times a block of code."""

    def __init__(self, out: dict, name: str):
        self.out, self.name = out, name

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.out[self.name] = round(time.perf_counter() - self.t, 3)


# -- dense naive references (what an O(N^2)-memory port does) -----------------

def naive_probcover(X, delta, budget, rng):
    Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
    sq = (Xn * Xn).sum(1)
    D2 = sq[:, None] + sq[None, :] - 2 * Xn @ Xn.T
    A = D2 < delta * delta
    del D2
    np.fill_diagonal(A, True)
    covered = np.zeros(len(X), dtype=bool)
    picks = []
    for _ in range(budget):
        score = A[:, ~covered].sum(1).astype(float)
        score[picks] = -1
        x = int(np.argmax(score))
        picks.append(x)
        covered |= A[x]
    return picks


def naive_maxherding(X, sigma, budget, rng):
    sq = (X * X).sum(1)
    K = np.exp(-np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0) / sigma ** 2)
    m = np.zeros(len(X), dtype=K.dtype)
    picks = []
    for _ in range(budget):
        g = np.maximum(K - m[None, :], 0).mean(1)
        g[picks] = -1
        x = int(np.argmax(g))
        picks.append(x)
        m = np.maximum(m, K[x])
    return picks


def naive_coreset(X, budget, rng):
    sq = (X * X).sum(1)
    D = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X @ X.T, 0))
    dist = np.full(len(X), np.inf)
    picks = [int(rng.integers(len(X)))]
    dist = np.minimum(dist, D[picks[0]])
    for _ in range(budget - 1):
        x = int(np.argmax(dist))
        picks.append(x)
        dist = np.minimum(dist, D[x])
    return picks


# -- one workload --------------------------------------------------------------

class _Timed:
    """Wraps a module function and adds its wall time to ``row[key]``."""

    def __init__(self, module, attr, row, key):
        self.module, self.attr, self.row, self.key = module, attr, row, key
        self.real = getattr(module, attr)

    def __enter__(self):
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return self.real(*a, **k)
            finally:
                self.row[self.key] = round(self.row.get(self.key, 0.0) + time.perf_counter() - t, 3)

        setattr(self.module, self.attr, timed)
        return self

    def __exit__(self, *exc):
        setattr(self.module, self.attr, self.real)


def matmul_rate(X: np.ndarray, rows: int = 1024, reps: int = 2) -> float:
    """float32 multiply-adds per second of ``X[:rows] @ X.T`` (best of ``reps``), this process."""
    A = np.ascontiguousarray(X[:rows])
    best = np.inf
    for _ in range(reps):
        t = time.perf_counter()
        A @ X.T
        best = min(best, time.perf_counter() - t)
    return A.shape[0] * X.shape[0] * X.shape[1] / best


def machine_info() -> dict:
    """CPU model and the flags that matter here, BLAS and threads, torch build."""
    info = {"cpu_count": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)}
    flags = set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name") and "cpu_model" not in info:
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    info["cpu_flags"] = sorted(f for f in flags if f.startswith(("avx", "amx", "fma")))
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [{k: p.get(k) for k in ("internal_api", "num_threads", "version",
                                                     "architecture")} for p in threadpool_info()]
    except ImportError:
        pass
    info["numpy"] = np.__version__
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:
        pass
    try:
        import skactiveml

        info["scikit_activeml"] = skactiveml.__version__
    except ImportError:
        info["scikit_activeml"] = "not installed"
    return info


def run_workload(name: str, *, naive: bool, skactiveml: bool, seed: int,
                 trace: bool = False) -> dict:
    kind, n, d, budget, clusters, delta_spec = WORKLOADS[name]
    row = {"workload": name, "strategy": kind, "N": n, "d": d, "B": budget,
           "clusters": clusters, "load_before": round(os.getloadavg()[0], 2)}
    X = make_mixture(n, d, seed, n_clusters=clusters)
    rng = np.random.default_rng(seed)
    # Import before the clock starts: importing torch/sklearn is not strategy time.
    import skal.strategies  # noqa: F401
    import skal.strategies._prob_cover as pc_mod
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    t_all = time.perf_counter()
    # CPU seconds of this process: on a shared, loaded machine wall time
    # inflates with the load while CPU time does not.
    cpu_all = time.process_time()
    strategy = None
    if kind.startswith("probcover"):
        from skal.strategies import ProbCover

        approx = kind == "probcover-approx"
        strategy = ProbCover(delta=delta_spec, n_clusters=clusters, approximate=approx,
                             random_state=seed)
        # One user call, as a user makes it; the stages are timed by wrapping
        # the functions the strategy calls.
        with _Timed(pc_mod, "purity_delta", row, "t_delta"), \
                _Timed(pc_mod, "delta_ball_graph", row, "t_graph"):
            picks = strategy.select(X, budget)
        row["t_delta"] = row.get("t_delta", 0.0)
        row["delta"] = round(strategy.delta_, 4)
        row["delta_given"] = delta_spec != "auto"
        row["edges"] = int(strategy.graph_.nnz)
        row["coverage"] = round(strategy.coverage_, 4)
        if approx:
            row["recall"] = round(strategy.missed_edges_["recall"], 5)
            row["missed_edges_est"] = int(strategy.missed_edges_["missed_edges_estimate"])
            row["n_probe"] = strategy.n_probe_
    elif kind == "maxherding":
        from skal.neighbors import median_bandwidth
        from skal.strategies import MaxHerding

        with Stage(row, "t_delta"):
            sigma = median_bandwidth(X, random_state=seed) / 2
        s = MaxHerding(bandwidth=sigma, random_state=seed)
        with Stage(row, "t_greedy"):
            picks = s.select(X, budget)
        row["bandwidth"] = round(sigma, 4)
        row["kernel_rows"] = s.n_kernel_rows_
    elif kind == "coreset":
        from skal.strategies import Coreset

        with Stage(row, "t_greedy"):
            picks = Coreset(random_state=seed).select(X, budget)
    elif kind == "typiclust":
        from skal.strategies import TypiClust

        with Stage(row, "t_greedy"):
            picks = TypiClust(random_state=seed).select(X, budget)
    else:
        raise ValueError(kind)
    row["t_total"] = round(time.perf_counter() - t_all, 3)
    row["cpu_total"] = round(time.process_time() - cpu_all, 3)
    if kind.startswith("probcover"):
        row["t_greedy"] = round(row["t_total"] - row["t_delta"] - row.get("t_graph", 0.0), 3)
    if trace:
        row["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    row["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    assert len(set(map(int, picks))) == budget

    # The floor: the float32 product rate of this machine, now, in this process.
    rate = matmul_rate(X)
    row["matmul_gflops"] = round(2 * rate / 1e9, 1)
    if kind in ("probcover", "maxherding"):
        # ProbCover's exact graph needs the half Gram (N^2 d / 2 multiply-adds
        # per triangle, N^2 d / 2 in all); MaxHerding's first pass the same.
        row["floor_s"] = round(n * n * d / 2 / rate, 3)
        work = row.get("t_graph", row.get("t_greedy"))
        row["ratio_to_floor"] = round(work / row["floor_s"], 2)

    if naive and n <= NAIVE_MAX_N and kind in ("probcover", "maxherding", "coreset"):
        t = time.perf_counter()
        if kind == "probcover":
            naive_probcover(X, row["delta"], budget, rng)
        elif kind == "maxherding":
            naive_maxherding(X, row["bandwidth"], budget, rng)
        else:
            naive_coreset(X, budget, rng)
        row["t_naive"] = round(time.perf_counter() - t, 3)
        row["speedup_vs_naive"] = round(row["t_naive"] / row["t_total"], 1)
    comparable = kind == "maxherding" or (kind == "probcover" and delta_spec != "auto")
    if skactiveml and n <= SKACTIVEML_MAX_N and comparable:
        try:
            import skactiveml.pool as skp
        except ImportError:
            row["skactiveml"] = "not installed"
        else:
            y = np.full(n, np.nan)
            if kind == "probcover":
                # Same δ on both sides: their grid search is not timed.
                qs = skp.ProbCover(n_classes=clusters, deltas=[row["delta"]], random_state=seed)
            else:
                qs = skp.MaxHerding(metric_dict={"gamma": 1.0 / row["bandwidth"] ** 2},
                                    random_state=seed)
            t = time.perf_counter()
            c = time.process_time()
            theirs = np.asarray(qs.query(X, y, batch_size=budget))
            row["t_skactiveml"] = round(time.perf_counter() - t, 3)
            row["cpu_skactiveml"] = round(time.process_time() - c, 3)
            row["speedup_vs_skactiveml"] = round(row["t_skactiveml"] / row["t_total"], 1)
            # CPU seconds are less sensitive to other processes on a shared machine.
            row["cpu_speedup_vs_skactiveml"] = round(row["cpu_skactiveml"] / row["cpu_total"], 1)
            row["peak_rss_mb_with_skactiveml"] = round(_peak_rss_mb(), 1)
            row["same_picks"] = round(float(np.isin(theirs, picks).mean()), 3)
            if strategy is not None:
                # Different tie-breaking may pick other points of equal gain:
                # the coverage their picks reach on skal's graph tells.
                row["coverage_skactiveml_picks"] = round(strategy.coverage(X, theirs), 4)
    row["load_after"] = round(os.getloadavg()[0], 2)
    return row


COLUMNS = ["workload", "strategy", "N", "d", "B", "clusters", "delta", "delta_given", "bandwidth",
           "edges", "coverage", "recall", "missed_edges_est", "kernel_rows", "t_delta", "t_graph",
           "t_greedy", "t_total", "cpu_total", "peak_rss_mb", "tracemalloc_peak_mb",
           "matmul_gflops", "floor_s", "ratio_to_floor", "t_naive", "speedup_vs_naive",
           "t_skactiveml", "speedup_vs_skactiveml", "cpu_skactiveml", "cpu_speedup_vs_skactiveml",
           "same_picks", "coverage_skactiveml_picks",
           "peak_rss_mb_with_skactiveml", "skactiveml", "load_before", "load_after", "n_probe"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workloads", default="pc-10k,mh-10k",
                   help=f"comma-separated, from: {', '.join(WORKLOADS)} (or 'all')")
    p.add_argument("--out", default=os.path.join(HERE, "results", "strategies.csv"))
    p.add_argument("--no-naive", action="store_true", help="skip the dense naive baselines")
    p.add_argument("--no-skactiveml", action="store_true", help="skip scikit-activeml")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tracemalloc", action="store_true",
                   help="also record tracemalloc's peak (slows skal's timed call)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        row = run_workload(args.worker, naive=not args.no_naive,
                           skactiveml=not args.no_skactiveml, seed=args.seed,
                           trace=args.tracemalloc)
        print("RESULT " + json.dumps(row))
        # Also kept on disk, so a row survives a parent that was stopped.
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", "strategies_rows.jsonl"), "a") as fh:
            fh.write(json.dumps(row) + "\n")
        return
    names = list(WORKLOADS) if args.workloads == "all" else args.workloads.split(",")
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workloads {unknown}; choose from {list(WORKLOADS)}")
    rows = []
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    machine = machine_info()
    print("machine: " + json.dumps(machine), flush=True)
    with open(os.path.splitext(args.out)[0] + "_machine.json", "w") as fh:
        json.dump(machine, fh, indent=1)
    with open(args.out, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for name in names:
            cmd = [sys.executable, os.path.abspath(__file__), "--worker", name,
                   "--seed", str(args.seed)]
            cmd += ["--no-naive"] if args.no_naive else []
            cmd += ["--no-skactiveml"] if args.no_skactiveml else []
            cmd += ["--tracemalloc"] if args.tracemalloc else []
            proc = subprocess.run(cmd, capture_output=True, text=True)
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if proc.returncode or not line:
                print(f"{name}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(line[-1][7:])
            rows.append(row)
            # Written row by row so a long run that is stopped keeps what it measured.
            writer.writerow({k: row.get(k, "") for k in COLUMNS})
            fh.flush()
            print(" | ".join(f"{k}={row[k]}" for k in COLUMNS if k in row), flush=True)
    print(f"\nwrote {args.out}")
    hdr = ["workload", "N", "d", "B", "delta", "t_delta", "t_graph", "t_greedy", "t_total",
           "cpu_total", "peak_rss_mb", "floor_s", "ratio_to_floor", "t_skactiveml",
           "speedup_vs_skactiveml", "cpu_speedup_vs_skactiveml", "same_picks", "load_before",
           "load_after"]
    print("| " + " | ".join(hdr) + " |")
    print("|" + "---|" * len(hdr))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in hdr) + " |")


if __name__ == "__main__":
    main()
