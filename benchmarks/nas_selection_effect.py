"""Where does NAS *selection* pay? A controlled experiment on synthetic clustered pools.

NAS changes which points are bought: a label the filter doubts stops covering
its region, so the strategy returns there. That can only matter when the
region holds something the other labels do not already show. This script
isolates the effect, (NAS + filter) − (same filter used for training only),
with ProbCover (δ="auto") under the paper's protocol, while varying one knob
of the pool at a time:

- ``modes``: sub-clusters per class (1 = one blob per class; more = a class
  spread over several separate regions, so a wrong label hides a whole mode);
- ``pool``: pool size (the same structure, more points per region).

Each pool: ``C = 10`` classes, 32-d, unit-normalised Gaussian blobs, a clean
test set of 1,000 points from the same mixture. Rows: the recommended
ProbCover default (``paper_protocol.RECOMMENDED``: CentroidFilter,
``train_on="relabel"``, no noise dropout) and IdealFilter, each train-only and
with NAS; the same seeds and annotator per seed for every row.

    python benchmarks/nas_selection_effect.py --seeds 5 --n-jobs 2 \\
        --out benchmarks/results/nas_selection_effect.csv
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED  # noqa: E402
from protocol_grid import Noise, Row, accuracy_by_seed, ideal_filter, run_grid, write_records  # noqa: E402

from skal import NoiseAwareActiveLearner, ProbCover  # noqa: E402
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


def rows() -> list[Row]:
    """The recommended ProbCover default (filter, training mode, dropout) and the ceiling,
    each used for training only and with NAS, built as the protocol page builds them."""
    rec = RECOMMENDED["ProbCover"]

    def centroid(nas):
        return lambda s, n: NoiseAwareActiveLearner(
            ProbCover(delta="auto"), rec["filter"](), noise_aware=nas, train_on=rec["train_on"],
            noise_dropout=rec["noise_dropout"] if nas else 0.0, random_state=s)

    def ideal(nas):
        return lambda s, n: NoiseAwareActiveLearner(ProbCover(delta="auto"), ideal_filter(n),
                                                    noise_aware=nas, random_state=s)
    return [Row("Centroid, train only", "ProbCover", "train-only", centroid(False),
                train_on=rec["train_on"]),
            Row("Centroid, NAS", "ProbCover", "nas", centroid(True), train_on=rec["train_on"]),
            Row("Ideal, train only", "ProbCover", "ideal train-only", ideal(False)),
            Row("Ideal, NAS", "ProbCover", "ideal nas", ideal(True))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--modes", type=int, nargs="+", default=[1, 4])
    p.add_argument("--pool", type=int, nargs="+", default=[2000])
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/nas_selection_effect.csv")
    args = p.parse_args(argv)
    records = []
    for n in args.pool:
        for modes in args.modes:
            X, y, Xt, yt = clustered_pool(n, modes)
            recs = run_grid(rows(), X, y, Xt, yt, [Noise("symmetric", r) for r in args.noise],
                            list(range(args.seeds)), n_jobs=args.n_jobs, log=sys.stderr)
            records += [{"pool": n, "modes": modes, **r} for r in recs]
    write_records(records, args.out)
    # NAS selection effect per setting: per seed mean over rounds, paired by seed.
    acc = accuracy_by_seed(records, ("pool", "modes", "noise", "row"))
    print("| pool | modes/class | noise | filter | train only | NAS | NAS effect (paired ± std) |")
    print("|---:|---:|---|---|---:|---:|---:|")
    for n in args.pool:
        for modes in args.modes:
            for nz in sorted({k[2] for k in acc}, reverse=True):
                for flt in ("Centroid", "Ideal"):
                    a = acc[(n, modes, nz, f"{flt}, train only")]
                    b = acc[(n, modes, nz, f"{flt}, NAS")]
                    seeds = sorted(a)
                    ma = np.array([np.mean(a[s]) for s in seeds])
                    mb = np.array([np.mean(b[s]) for s in seeds])
                    d = 100 * (mb - ma)
                    print(f"| {n} | {modes} | {nz} | {flt} | {100 * ma.mean():.1f} | "
                          f"{100 * mb.mean():.1f} | {d.mean():+.1f} ± {d.std():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
