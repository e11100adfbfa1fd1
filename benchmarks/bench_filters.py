"""How well each noise filter finds the wrong labels, and how long it takes.

On the digits embeddings (1,797 real 8x8 images, 10 classes), for every
combination of noise model (symmetric, asymmetric pair flips), noise rate
(0.2, 0.3, 0.5) and labeled-set size (50, 100, 500, 1000), a random labeled
set is drawn, its labels are corrupted, and every filter is asked which labels
to keep (the rest of the pool is its ``X_unlabeled``). Detection of the noisy
labels is scored by precision, recall and F1 (positive = flagged as noisy),
averaged over seeds. Wall time is taken per call after a warm-up; the cold
cost of the AUM filter (first call in a fresh interpreter, torch import
included) is measured separately in a subprocess.

The machine's 1-minute load average is recorded with every row: timings on a
shared machine are noisy.

BLAS/OpenMP threads are limited to ``--threads`` (1 by default) and the AUM
filter trains with torch on one thread (its default ``n_threads=1``).

The low-budget comparison (issue 15: 20-100 labels, labeled sets drawn at
random or picked by ProbCover, the pool filters given the whole pool) and the
speed of the pool filters on a 50k x 512 pool (fresh interpreter, rounds of
20 new labels) are options of the same script.

Run::

    python benchmarks/bench_filters.py --seeds 5 --csv /tmp/bench_filters.csv \
        --plot docs/benchmarks/filters.png
    python benchmarks/bench_filters.py --seeds 5 --sizes 20 50 100 --rates 0.3 0.5 \
        --noise-types symmetric --picks random probcover --no-cold --csv /tmp/low.csv
    python benchmarks/bench_filters.py --speed-only
    python benchmarks/bench_filters.py --vs-cleanlab --seeds 10
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
import warnings

import numpy as np

# Run from a checkout without installing: the repository root holds skal/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from skal.datasets import load_digits_embeddings  # noqa: E402
from skal.filters import (  # noqa: E402
    AUMFilter,
    CentroidFilter,
    ClusterVoteFilter,
    ConfidentLearningFilter,
    CrossValidationFilter,
    FINEFilter,
    GraphFilter,
    KNNFilter,
)
from skal.noise import make_noisy_labels  # noqa: E402
from skal.strategies import ProbCover  # noqa: E402

#: name -> (factory(seed), is a main filter of issue 4's target)
FILTERS = {
    "AUM (low budget)": (lambda s: AUMFilter("low_budget", random_state=s), True),
    "AUM (original)": (lambda s: AUMFilter("original", random_state=s), True),
    "Cross-validation": (lambda s: CrossValidationFilter(random_state=s), True),
    "Confident learning": (lambda s: ConfidentLearningFilter(random_state=s), True),
    "kNN": (lambda s: KNNFilter(), True),
    "Centroid": (lambda s: CentroidFilter(), False),
    "FINE": (lambda s: FINEFilter(random_state=s), False),
    "Graph (LOO walks)": (lambda s: GraphFilter(), True),
    "Cluster vote": (lambda s: ClusterVoteFilter(random_state=s), True),
    # Not defaults: the label-only votes with every class judged, the fair
    # comparison for the pool filters at 1-10 labels per class.
    "kNN k=3, all classes": (lambda s: KNNFilter(3, min_class_count=1), False),
    "Centroid, all classes": (lambda s: CentroidFilter(min_class_count=1), False),
}

FIELDS = ["filter", "noise_type", "picks", "noise_rate", "n_labels", "seed", "n_noisy", "n_flagged",
          "precision", "recall", "f1", "time_s", "loadavg_1min"]


def detection_scores(keep: np.ndarray, is_noisy: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of flagging (``~keep``) the noisy labels."""
    flagged = ~keep
    tp = float(np.sum(flagged & is_noisy))
    precision = tp / flagged.sum() if flagged.any() else 0.0
    recall = tp / is_noisy.sum() if is_noisy.any() else 0.0
    f1 = 2 * tp / (flagged.sum() + is_noisy.sum()) if (flagged.any() or is_noisy.any()) else 0.0
    return precision, recall, f1


def labeled_set(X, n: int, seed: int, picks: str) -> np.ndarray:
    """Pool indices of the labeled set: uniform, or ProbCover's first ``n`` picks."""
    if picks == "probcover":
        return np.asarray(ProbCover(random_state=seed).select(X, n), dtype=np.int64)
    return np.random.default_rng(seed).permutation(X.shape[0])[:n]


def setting(noise_type: str, picks: str) -> str:
    return noise_type if picks == "random" else f"{noise_type}, ProbCover picks"


def run(seeds: int, sizes, rates, noise_types, filters, picks=("random",)) -> list[dict]:
    X, y = load_digits_embeddings(return_X_y=True)
    # Warm-up: torch's first training step and sklearn's first fits cost far
    # more than later ones; the per-call times below are warm.
    for name in filters:
        FILTERS[name][0](0).fit_filter(X[:100], y[:100], X_unlabeled=X[100:300])
    rows = []
    for noise_type in noise_types:
        for rate in rates:
            for n in sizes:
                for seed in range(seeds):
                    for how in picks:
                        L = labeled_set(X, n, seed, how)
                        U = np.setdiff1d(np.arange(len(y)), L)
                        y_noisy, is_noisy = make_noisy_labels(y[L], rate, noise_type,
                                                              random_state=seed)
                        for name in filters:
                            f = FILTERS[name][0](seed)
                            start = time.perf_counter()
                            # Every filter gets what a learner gives it: the rest
                            # of the pool, and (pool filters) the pool with indices.
                            keep = f.fit_filter(X[L], y_noisy, X_unlabeled=X[U],
                                                sample_indices=L, X_pool=X)
                            elapsed = time.perf_counter() - start
                            p, r, f1 = detection_scores(keep, is_noisy)
                            rows.append(dict(
                                filter=name, noise_type=setting(noise_type, how), picks=how,
                                noise_rate=rate, n_labels=n, seed=seed,
                                n_noisy=int(is_noisy.sum()), n_flagged=int((~keep).sum()),
                                precision=p, recall=r, f1=f1, time_s=elapsed,
                                loadavg_1min=os.getloadavg()[0]))
                print(f"done: {noise_type} {rate} {n} ({time.strftime('%H:%M:%S')})",
                      file=sys.stderr, flush=True)
    return rows


_SPEED = r"""
import json, os, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
t0 = time.perf_counter()
from skal.filters import ClusterVoteFilter, GraphFilter
t_import = time.perf_counter() - t0
rng = np.random.default_rng(0)
n, d, C = 50_000, 512, 10
centers = rng.normal(size=(C, d)).astype(np.float32)
y = rng.integers(0, C, n)
X = centers[y] + 1.5 * rng.normal(size=(n, d)).astype(np.float32)
order = rng.permutation(n)[:100]
out = {"import_s": t_import, "threads": int(sys.argv[1])}
with threadpool_limits(limits=int(sys.argv[1])):
    for name, f in (("GraphFilter()", GraphFilter()),
                    ("ClusterVoteFilter(random_state=0)", ClusterVoteFilter(random_state=0))):
        times = []
        for size in (20, 40, 60, 80, 100, 100):
            idx = order[:size]
            s, c = time.perf_counter(), time.process_time()
            f.fit_filter(X[idx], y[idx], sample_indices=idx, X_pool=X)
            times.append((size, time.perf_counter() - s, time.process_time() - c))
        out[name] = times
out["loadavg_1min"] = os.getloadavg()[0]
print(json.dumps(out))
"""


def pool_filter_speed(threads: int) -> dict:
    """Round times of the pool filters on a 50k x 512 pool, in a fresh interpreter."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _SPEED, str(threads)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def print_vs_cleanlab(seeds: int) -> None:
    """ConfidentLearningFilter against cleanlab's find_label_issues on the same probabilities."""
    from cleanlab.filter import find_label_issues

    X, y = load_digits_embeddings(return_X_y=True)
    print("\nConfidentLearningFilter() vs cleanlab.filter.find_label_issues on the filter's own "
          f"out-of-fold probabilities (digits, symmetric noise, random labeled sets, {seeds} "
          "seeds): noisy-label F1 mean ± std; identical flags in how many runs\n")
    print("| noise | labels | skal | cleanlab | identical flags |\n|---|---|---|---|---|")
    for rate in (0.3, 0.5):
        for n in (200, 500):
            ours, theirs, same = [], [], 0
            for seed in range(seeds):
                L = labeled_set(X, n, seed, "random")
                y_noisy, is_noisy = make_noisy_labels(y[L], rate, random_state=seed)
                f = ConfidentLearningFilter(random_state=seed)
                keep = f.fit_filter(X[L], y_noisy)
                _, y_enc = np.unique(y_noisy, return_inverse=True)
                ref = find_label_issues(y_enc, f.pred_probs_, n_jobs=1)
                ours.append(detection_scores(keep, is_noisy)[2])
                theirs.append(detection_scores(~ref, is_noisy)[2])
                same += int(np.array_equal(~keep, ref))
            print(f"| {int(rate * 100)} % | {n} | {np.mean(ours):.3f} ± {np.std(ours):.3f} | "
                  f"{np.mean(theirs):.3f} ± {np.std(theirs):.3f} | {same}/{seeds} |")


def print_speed(threads: int) -> None:
    sp = pool_filter_speed(threads)
    print(f"\nPool filters, 50,000 x 512 float32 pool, fresh interpreter, {sp['threads']} "
          f"BLAS thread(s); labels added 20 per round (the first call pays the pool's "
          f"normalisation; ClusterVoteFilter's first call its k-means):")
    print("  (wall time, and in brackets the process's CPU time: on a loaded machine the CPU "
          "time is the work, the wall time what a user waited)")
    for name in ("GraphFilter()", "ClusterVoteFilter(random_state=0)"):
        cells = ", ".join(f"{n} labels {t:.3f} s ({c:.3f} s CPU)" for n, t, c in sp[name])
        print(f"  {name}: {cells}")
    print(f"  (import {sp['import_s']:.2f} s; load average {sp['loadavg_1min']:.2f} on "
          f"{os.cpu_count()} cores)")


_COLD = r"""
import time, json
t0 = time.perf_counter()
from skal.filters import AUMFilter
from skal.datasets import load_digits_embeddings
from skal.noise import make_noisy_labels
import torch
t1 = time.perf_counter()
X, y = load_digits_embeddings(return_X_y=True)
y_noisy, _ = make_noisy_labels(y[:1000], 0.3, random_state=0)
times = []
for recipe in ("low_budget", "original"):
    for i in range(4):
        s = time.perf_counter()
        AUMFilter(recipe, random_state=i).fit_filter(X[:1000], y_noisy, X_unlabeled=X[1000:])
        times.append((recipe, i, time.perf_counter() - s))
print(json.dumps({"import_s": t1 - t0, "calls": times}))
"""


def aum_cold_timing() -> dict:
    """Import and first-call cost of AUM at 1,000 labels, in a fresh interpreter."""
    import json

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _COLD], capture_output=True, text=True,
                         check=True, env=env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["loadavg_1min"] = os.getloadavg()[0]
    return result


def read_rows(paths) -> list[dict]:
    """Rows of earlier runs; a (filter, setting, rate, size, seed) seen twice is kept once."""
    rows, seen = [], set()
    for path in paths:
        with open(path, newline="") as fh:
            for r in csv.DictReader(fh):
                key = (r["filter"], r["noise_type"], r["noise_rate"], r["n_labels"], r["seed"])
                if key in seen:
                    continue
                seen.add(key)
                for k in ("noise_rate", "precision", "recall", "f1", "time_s", "loadavg_1min"):
                    r[k] = float(r[k])
                for k in ("n_labels", "seed", "n_noisy", "n_flagged"):
                    r[k] = int(r[k])
                rows.append(r)
    return rows


def summarise(rows: list[dict]) -> dict:
    """(filter, noise_type, rate, n) -> mean/std of precision, recall, F1 and time."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["filter"], r["noise_type"], r["noise_rate"], r["n_labels"]),
                          []).append(r)
    out = {}
    for key, rs in groups.items():
        stats = {}
        for m in ("precision", "recall", "f1", "time_s"):
            v = np.array([r[m] for r in rs])
            stats[m] = (v.mean(), v.std())
        out[key] = stats
    return out


def markdown_tables(summary: dict, filters, sizes, rates, noise_types) -> str:
    lines = []
    for noise_type in noise_types:
        for rate in rates:
            lines.append(f"\n**{noise_type}, noise rate {rate}** — F1 of noisy-label detection "
                         "(mean ± std over seeds); precision / recall; time per call\n")
            lines.append("| filter | " + " | ".join(f"{n} labels" for n in sizes) + " |")
            lines.append("|---|" + "---|" * len(sizes))
            for name in filters:
                cells = []
                for n in sizes:
                    s = summary.get((name, noise_type, rate, n))
                    if s is None:
                        cells.append("–")
                        continue
                    cells.append(f"{s['f1'][0]:.2f} ± {s['f1'][1]:.2f} "
                                 f"({s['precision'][0]:.2f}/{s['recall'][0]:.2f}; "
                                 f"{s['time_s'][0]:.2f} s)")
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: dict, filters, sizes, rates, noise_types, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(noise_types), len(rates), figsize=(4.2 * len(rates),
                             3.4 * len(noise_types)), sharex=True, sharey=True, squeeze=False)
    from matplotlib.ticker import NullFormatter

    colors = plt.get_cmap("tab20").colors
    for i, noise_type in enumerate(noise_types):
        for j, rate in enumerate(rates):
            ax = axes[i, j]
            for c, name in enumerate(filters):
                # Settings measured at only some sizes leave gaps, not errors.
                pts = [(n, summary[(name, noise_type, rate, n)]["f1"]) for n in sizes
                       if (name, noise_type, rate, n) in summary]
                if not pts:
                    continue
                ax.errorbar([n for n, _ in pts], [m[0] for _, m in pts],
                            yerr=[m[1] for _, m in pts], marker="o", ms=3, capsize=2,
                            label=name, color=colors[(2 * c) % 20 + (c >= 10)],
                            linestyle="-" if FILTERS[name][1] else "--")
            if not ax.lines:  # a setting not measured at this rate
                ax.set_visible(False)
            ax.axhline(0.75, color="grey", lw=0.8, ls=":")
            ax.set_xscale("log")
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{noise_type}, {int(rate * 100)}% noise", fontsize=10)
            ax.set_ylim(0, 1)
            ax.grid(alpha=0.3)
            if i == len(noise_types) - 1:
                ax.set_xlabel("labeled-set size")
            if j == 0:
                ax.set_ylabel("F1 (noisy-label detection)")
    axes[0, -1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Noise filters on digits embeddings (dotted: F1 target 0.75)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 500, 1000])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 0.3, 0.5])
    parser.add_argument("--noise-types", nargs="+", default=["symmetric", "asymmetric"])
    parser.add_argument("--filters", nargs="+", default=list(FILTERS), choices=list(FILTERS))
    parser.add_argument("--csv", default="bench_filters.csv", help="per-call rows (tidy CSV)")
    parser.add_argument("--plot", default=None, help="PNG path for the F1 plot")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold AUM timing")
    parser.add_argument("--picks", nargs="+", default=["random"],
                        choices=["random", "probcover"],
                        help="how the labeled sets are drawn (ProbCover: its first n picks)")
    parser.add_argument("--from-csv", nargs="+", default=None,
                        help="tables and plot from earlier runs' CSV files (merged)")
    parser.add_argument("--vs-cleanlab", action="store_true",
                        help="only compare ConfidentLearningFilter with cleanlab (test extra)")
    parser.add_argument("--speed-only", action="store_true",
                        help="only time the pool filters on a 50k x 512 pool")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS/OpenMP threads (threadpoolctl); 0 leaves them alone")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")  # convergence chatter of tiny folds at 50 labels
    if args.speed_only:
        print_speed(args.threads or os.cpu_count())
        return
    if args.vs_cleanlab:
        print_vs_cleanlab(args.seeds)
        return
    if args.from_csv:
        rows = read_rows(args.from_csv)
        summary = summarise(rows)
        settings = list(dict.fromkeys(r["noise_type"] for r in rows))
        sizes = sorted({r["n_labels"] for r in rows})
        rates = sorted({r["noise_rate"] for r in rows})
        filters = [f for f in FILTERS if any(r["filter"] == f for r in rows)]
        print(markdown_tables(summary, filters, sizes, rates, settings))
        if args.plot:
            plot(summary, filters, sizes, rates, settings, args.plot)
            print(f"plot written to {args.plot}")
        return
    settings = [setting(t, p) for t in args.noise_types for p in args.picks]
    # Labeled sets of at most 1,000 rows gain nothing from BLAS threads, and on
    # a shared machine oversubscribed threads make timings meaningless (10x
    # slower fits measured at load average 10 on 2 cores).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=args.threads or None):
        rows = run(args.seeds, args.sizes, args.rates, args.noise_types, args.filters,
                   args.picks)
    with open(args.csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    print(markdown_tables(summary, args.filters, args.sizes, args.rates, settings))

    if 0.3 in args.rates and 500 in args.sizes and "symmetric" in args.noise_types:
        print("\nTarget (F1 >= 0.75 at 30% symmetric noise, 500 labels):")
        for name in args.filters:
            f1 = summary[(name, "symmetric", 0.3, 500)]["f1"][0]
            main_filter = "main" if FILTERS[name][1] else "extra"
            print(f"  {name:20s} {f1:.3f}  {'ok' if f1 >= 0.75 else 'MISSED'} ({main_filter})")
    if 1000 in args.sizes:
        print("\nWarm time per call at 1,000 labels (mean over every setting and seed):")
        for name in args.filters:
            t = [r["time_s"] for r in rows if r["filter"] == name and r["n_labels"] == 1000]
            print(f"  {name:20s} {np.mean(t):.3f} s (max {np.max(t):.3f} s)")
    if not args.no_cold:
        cold = aum_cold_timing()
        print(f"\nAUM cold, fresh interpreter: import {cold['import_s']:.2f} s; calls at 1,000 "
              f"labels: " + ", ".join(f"{rec} #{i}: {t:.2f} s" for rec, i, t in cold["calls"])
              + f" (load average {cold['loadavg_1min']:.2f})")
    loads = [r["loadavg_1min"] for r in rows]
    print(f"\nload average during the run: min {min(loads):.2f}, max {max(loads):.2f} "
          f"on {os.cpu_count()} cores; rows written to {args.csv}")
    if args.plot:
        plot(summary, args.filters, args.sizes, args.rates, settings, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
