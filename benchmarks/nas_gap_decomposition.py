"""Where does the gap to the perfect filter sit: in what NAS buys, or in what it trains on?

The default (NAS + ``CentroidFilter()``, ``train_on="relabel"``) and the
ceiling (NAS + ``IdealFilter``) differ in two places: which labels stop
covering their region when the strategy picks the next share (selection), and
which labels the model learns from (training). This script tells the truth to
one side at a time, on the digits (or MNIST-5k, ``--dataset``) under the
paper's protocol, same seeds and annotator for every row:

- ``default``: the filter decides both;
- ``default, selection told the truth``: a label covers its region iff it is
  truly right; training as the default (kept labels plus the filter's
  relabels);
- ``default, selection told the truth in round 1 only`` / ``... after round
  1``: the same, in the first round's shares only (where the filter judges
  10-20 labels) or in every later round only;
- ``default, selection without the wrong labels the filter kept`` / ``...
  with the right labels the filter doubted``: the filter's verdicts with one
  kind of its mistakes undone for selection alone;
- ``default, selection told F of the kept wrong labels, doubting G of the kept
  right`` (``--detector F,G``, repeatable): what selection gains from a detector
  of the wrong labels the filter keeps, by its recall F and its false-positive
  rate G. Each kept wrong label stops covering with probability F and each
  kept right one with probability G, one fixed draw per pool point and seed
  (a label's fate does not change between shares); training as the default;
- ``default's filter, train only``: the same filter and training with every
  label covering (``noise_aware=False``), the protocol's train-only row, so
  that NAS selection's effect is read within one run;
- ``default, training told the truth``: selection as the default; the model
  learns from the truly right labels only (as the ceiling does);
- ``NAS + IdealFilter``: both told the truth (the ceiling);
- ``IdealFilter, train only``: every label covers; training told the truth.

And, to see which of the filter's training mistakes cost most, the default
with one kind of mistake undone in training (selection untouched):

- ``training without the wrong labels the filter kept``;
- ``training without the wrong relabels`` (a doubted label relabelled to a
  class that is not its true one is left out instead);
- ``training with the right labels the filter dropped`` (put back, under
  their given label; a right label the filter relabelled keeps its label).

And what the filter's own estimate costs: the default's centroid rule told the
pool's ten true class centres (the geometric median of each class's pool rows,
unit rows; nothing about which label is wrong), with and without the pool
clusters' second opinion:

- ``default, told the class centres``;
- ``default, told the class centres, no pool clusters``.

And what naming the pool's communities from the labels costs: the default
told which of its spectral communities holds which class (each class named
to the community holding most of its pool rows), every class pulled toward
its community by the default's weight (the share of its labels outside it,
faded), the communities and everything else as the default's; the same
told names with the pull unfaded and without the pool clusters' opinion
(the two guards against wrong names); and, for comparison, the default's own
naming with those two guards dropped (``CentroidFilter(anchor_fade_after=None,
cluster_agreement=False)``, a setting a user can choose):

- ``default, told which community is which class``;
- ``default, told which community is which class, unfaded, no pool clusters``;
- ``default, unfaded, no pool clusters``.

An analysis tool, not an API: it replaces two steps of the learner's round
(``skal._nas._steps.selection_covering`` and ``training_positions`` /
``training_set``) for the learners it builds, in every worker.

    python benchmarks/nas_gap_decomposition.py --seeds 10 --n-jobs 2 \\
        --out benchmarks/results/nas_gap_decomposition.csv
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paper_protocol import RECOMMENDED, STRATEGIES, load, policy_of, schedule_of  # noqa: E402
from protocol_grid import Noise, Row, accuracy_by_seed, ideal_filter, run_grid, write_records  # noqa: E402

from skal import NoiseAwareActiveLearner  # noqa: E402
from skal.filters import CentroidFilter  # noqa: E402
from skal.filters._communities import community_votes, pulled_centre  # noqa: E402
from skal.filters._geometric_median import geometric_median  # noqa: E402


class TrueCentresFilter(CentroidFilter):
    """The default's centroid filter, told the pool's true class centres (analysis only).

    ``centres[k]`` is the centre of class ``k`` (the class's value, as the
    labels give it) in the filter's unit-row space; every other step of the
    filter (calibration, the pool clusters' opinion, proposals) is unchanged.
    """

    def __init__(self, centres=None, *, cluster_agreement=True, random_state=None):
        # The true centres are used as they are, not moved toward the pool.
        super().__init__(cluster_agreement=cluster_agreement, anchor_to_pool=False,
                         random_state=random_state)
        self.centres = centres

    def _class_centres(self, Z, y, n_classes):
        return np.asarray(self.centres, dtype=np.float64)[self.classes_.astype(np.int64)]


class TrueNamesFilter(CentroidFilter):
    """The default's filter, told which pool community holds which class (analysis only).

    ``y_pool`` holds the pool's true labels, by pool row. The default names the
    communities by the one-to-one assignment that agrees with the most labels
    and pulls only classes with two labels or more in their community; this
    one names each class's community by the pool's truth (the community
    holding most of the class's pool rows) and pulls every class by the
    default's weight. The labels' correctness is not told: a class whose
    labels all sit in its community keeps its own centre.
    ``anchor_fade_after`` and ``cluster_agreement`` are the default's
    parameters, so that the analysis can also drop the fading and the pool
    clusters' opinion, both of which guard against wrongly named communities.
    """

    def __init__(self, y_pool=None, *, anchor_fade_after=5, cluster_agreement=True,
                 random_state=None):
        super().__init__(anchor_fade_after=anchor_fade_after,
                         cluster_agreement=cluster_agreement, random_state=random_state)
        self.y_pool = y_pool

    def _anchor_centres(self, centers, view, positions, y, n_classes, seed):
        out = np.array(centers, dtype=np.float64, copy=True)
        votes = community_votes(view, positions, y, n_classes, seed)
        if votes is None:
            return out
        rows, labels, medians, counts, _ = votes
        truth = np.asarray(self.y_pool)[rows]
        for c in range(n_classes):
            members = labels[truth == self.classes_[c]]
            if members.size == 0:
                continue
            m = int(np.bincount(members).argmax())
            out[c] = pulled_centre(out[c], medians[m], counts[m, c], counts[:, c].sum(),
                                   self.anchor_fade_after)
        return out


def true_class_centres(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Geometric median of each class's unit rows, row ``k`` for class ``k``."""
    Z = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    return np.stack([geometric_median(Z[y == k]) for k in range(int(y.max()) + 1)])


def _install_truth_hooks() -> None:
    """Let a learner carrying ``_truth_for`` ("selection" / "training") use the true noise there.

    Idempotent; runs in each worker (the row factories call it), since a
    patch made in the parent process does not reach loky workers.
    """
    from skal._nas import _steps

    if getattr(_steps, "_truth_hooks", False):
        return
    covering, positions, train_set = (_steps.selection_covering, _steps.training_positions,
                                      _steps.training_set)

    def selection_covering(est):
        truth_for = getattr(est, "_truth_for", None)
        # Rounds finished so far: 0 while the first round buys its shares.
        first_round = est.n_rounds_done_ == 0
        ledger = est._ledger
        if (truth_for == "selection" or (truth_for == "selection, round 1" and first_round)
                or (truth_for == "selection, after round 1" and not first_round)):
            return ledger.idx[~est._true_noisy[ledger.idx]]
        if truth_for == "selection, no kept wrong":
            # The filter's verdicts, less the wrong labels it kept.
            cover = covering(est)
            return cover[~est._true_noisy[cover]]
        if isinstance(truth_for, tuple) and truth_for[0] == "detector":
            # A detector of recall f and false-positive rate g among the kept labels.
            _, f, g = truth_for
            cover = covering(est)
            wrong, draw = est._true_noisy[cover], est._detector_draw[cover]
            return cover[~np.where(wrong, draw < f, draw < g)]
        if truth_for == "selection, doubted right restored":
            # The filter's verdicts, plus the right labels it doubted.
            keep = np.isin(ledger.idx, covering(est)) | ~est._true_noisy[ledger.idx]
            return ledger.idx[keep]
        return covering(est)

    def training_positions(est):
        truth_for = getattr(est, "_truth_for", None)
        if truth_for is None or isinstance(truth_for, tuple) or truth_for.startswith("selection"):
            return positions(est)
        ledger = est._ledger
        right = ~est._true_noisy[ledger.idx]
        if truth_for == "training":
            return np.flatnonzero(right).astype(np.int64)
        pos = positions(est)
        kept = ledger.clean_mask
        if truth_for == "no kept wrong":
            return pos[~(kept[pos] & ~right[pos])]
        if truth_for == "no wrong relabel":
            true_class = np.searchsorted(est.classes_, est._true_labels[ledger.idx])
            bad = ~kept[pos] & (ledger.proposed[pos] >= 0) & (ledger.proposed[pos] != true_class[pos])
            return pos[~bad]
        if truth_for == "dropped right restored":
            dropped_right = np.flatnonzero(~kept & (ledger.proposed < 0) & right)
            return np.union1d(pos, dropped_right).astype(np.int64)
        raise ValueError(truth_for)

    def training_set(est, pos):
        truth_for = getattr(est, "_truth_for", None)
        ledger = est._ledger
        if truth_for == "training":
            return ledger.X[pos], ledger.labels_array[pos], None
        # Restored labels train under their given label alone, so the rows
        # stay one per position (no soft proposal spread over classes).
        X_train, y_train, weights = train_set(est, pos,
                                              soft=truth_for != "dropped right restored")
        if truth_for == "dropped right restored":
            right = ~est._true_noisy[ledger.idx][pos]
            y_train = np.where(right, ledger.labels_array[pos], y_train)
        return X_train, y_train, weights

    _steps.selection_covering = selection_covering
    _steps.training_positions = training_positions
    _steps.training_set = training_set
    _steps._truth_hooks = True


def detector_row_name(recall: float, false_positive_rate: float) -> str:
    """The name of the row told ``recall`` of the kept wrong labels (``--detector``)."""
    return (f"default, selection told {recall:g} of the kept wrong labels, "
            f"doubting {false_positive_rate:g} of the kept right")


def rows(strategy: str, y_pool: np.ndarray, centres: np.ndarray | None = None,
         detectors: Sequence[tuple[float, float]] = ()) -> list[Row]:
    """The rows for one strategy; ``y_pool`` holds the pool's true labels, ``centres``
    its true class centres (:func:`true_class_centres`; without them, no rows told the
    centres), ``detectors`` the (recall, false-positive rate) pairs of the detector rows."""
    rec = RECOMMENDED[strategy]
    strat = STRATEGIES[strategy]
    policy = policy_of(strategy)  # the default's δ schedule, in every row as in the protocol

    def default(truth_for):
        def make(seed, is_noisy):
            _install_truth_hooks()
            est = NoiseAwareActiveLearner(strat(), rec["filter"](), train_on=rec["train_on"],
                                          noise_dropout=rec["noise_dropout"], random_state=seed,
                                          delta_schedule=schedule_of(policy))
            if truth_for is not None:
                est._truth_for = truth_for
                est._true_noisy = np.asarray(is_noisy, dtype=bool)
                est._true_labels = np.asarray(y_pool)
                # The detector rows' draws: one per pool point, fixed by the seed.
                est._detector_draw = np.random.default_rng([seed, 2026]).random(len(is_noisy))
            return est
        return make

    def told_centres(cluster_agreement):
        return lambda seed, n: NoiseAwareActiveLearner(
            strat(), TrueCentresFilter(centres, cluster_agreement=cluster_agreement),
            train_on=rec["train_on"], noise_dropout=rec["noise_dropout"], random_state=seed,
            delta_schedule=schedule_of(policy))

    def ideal(nas):
        return lambda seed, n: NoiseAwareActiveLearner(strat(), ideal_filter(n), noise_aware=nas,
                                                       random_state=seed,
                                                       delta_schedule=schedule_of(policy))
    def train_only(seed, n):
        return NoiseAwareActiveLearner(strat(), rec["filter"](), noise_aware=False,
                                       train_on=rec["train_on"], random_state=seed,
                                       delta_schedule=schedule_of(policy))

    grid = [Row("default", strategy, "nas", default(None), train_on=rec["train_on"]),
            Row("default's filter, train only", strategy, "train-only", train_only,
                train_on=rec["train_on"]),
            Row("default, selection told the truth", strategy, "nas", default("selection"),
                train_on=rec["train_on"]),
            Row("default, selection told the truth in round 1 only", strategy, "nas",
                default("selection, round 1"), train_on=rec["train_on"]),
            Row("default, selection told the truth after round 1", strategy, "nas",
                default("selection, after round 1"), train_on=rec["train_on"]),
            Row("default, selection without the wrong labels the filter kept", strategy, "nas",
                default("selection, no kept wrong"), train_on=rec["train_on"]),
            Row("default, selection with the right labels the filter doubted", strategy, "nas",
                default("selection, doubted right restored"), train_on=rec["train_on"]),
            Row("default, training told the truth", strategy, "nas", default("training")),
            Row("NAS + IdealFilter", strategy, "ideal nas", ideal(True)),
            Row("IdealFilter, train only", strategy, "ideal train-only", ideal(False)),
            Row("training without the wrong labels the filter kept", strategy, "nas",
                default("no kept wrong"), train_on=rec["train_on"]),
            Row("training without the wrong relabels", strategy, "nas",
                default("no wrong relabel"), train_on=rec["train_on"]),
            Row("training with the right labels the filter dropped", strategy, "nas",
                default("dropped right restored"), train_on=rec["train_on"])]
    grid += [Row(detector_row_name(f, g), strategy, "nas", default(("detector", f, g)),
                 train_on=rec["train_on"]) for f, g in detectors]

    def with_filter(make_filter):
        return lambda seed, n: NoiseAwareActiveLearner(
            strat(), make_filter(), train_on=rec["train_on"],
            noise_dropout=rec["noise_dropout"], random_state=seed,
            delta_schedule=schedule_of(policy))

    unguarded = {"anchor_fade_after": None, "cluster_agreement": False}
    grid += [Row("default, told which community is which class", strategy, "nas",
                 with_filter(lambda: TrueNamesFilter(y_pool)), train_on=rec["train_on"]),
             Row("default, told which community is which class, unfaded, no pool clusters",
                 strategy, "nas", with_filter(lambda: TrueNamesFilter(y_pool, **unguarded)),
                 train_on=rec["train_on"]),
             Row("default, unfaded, no pool clusters", strategy, "nas",
                 with_filter(lambda: rec["filter"](**unguarded)), train_on=rec["train_on"])]
    if centres is not None:
        grid += [Row("default, told the class centres", strategy, "nas", told_centres(True),
                     train_on=rec["train_on"]),
                 Row("default, told the class centres, no pool clusters", strategy, "nas",
                     told_centres(False), train_on=rec["train_on"])]
    return grid


def _detector_pair(text: str) -> tuple[float, float]:
    """``"F,G"`` as two probabilities (``--detector``)."""
    try:
        f, g = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected F,G (two numbers), got {text!r}") from None
    if not (0.0 <= f <= 1.0 and 0.0 <= g <= 1.0):
        raise argparse.ArgumentTypeError(f"F and G must lie in [0, 1], got {text!r}")
    return f, g


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="digits", choices=["digits", "mnist5k"])
    p.add_argument("--row", action="append", default=None, metavar="NAME",
                   help="run only this row (repeat for several; default: every row)")
    p.add_argument("--detector", action="append", default=[], metavar="F,G",
                   type=_detector_pair,
                   help="add a row whose selection is told F of the kept wrong labels and "
                        "doubts G of the kept right ones (repeat for several; run with "
                        "--row too, only the rows named and these)")
    p.add_argument("--strategies", default="ProbCover,MaxHerding")
    p.add_argument("--noise", type=float, nargs="+", default=[0.5, 0.3])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--n-jobs", type=int, default=2)
    p.add_argument("--out", default="benchmarks/results/nas_gap_decomposition.csv")
    args = p.parse_args(argv)
    X, X_test, y, y_test = load(args.dataset)
    centres = true_class_centres(X, y)
    grid = [r for s in args.strategies.split(",")
            for r in rows(s.strip(), y, centres, args.detector)]
    if args.row:
        unknown = set(args.row) - {r.name for r in grid}
        if unknown:
            p.error(f"--row: no row named {sorted(unknown)}")
        # The detector rows were asked for by --detector itself.
        asked = set(args.row) | {detector_row_name(f, g) for f, g in args.detector}
        grid = [r for r in grid if r.name in asked]
    records = run_grid(grid, X, y, X_test, y_test, [Noise("symmetric", r) for r in args.noise],
                       list(range(args.seeds)), n_jobs=args.n_jobs, log=sys.stderr)
    write_records(records, args.out)
    table = accuracy_by_seed(records, ("strategy", "noise", "row"))
    print("| strategy | noise | row | mean accuracy over rounds (± std over seeds) |")
    print("|---|---|---|---:|")
    for (strategy, noise, row), per_seed in table.items():
        means = 100 * np.array([np.mean(v) for v in per_seed.values()])
        print(f"| {strategy} | {noise} | {row} | {means.mean():.1f} ± {means.std():.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
