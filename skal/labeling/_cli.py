"""``skal init | query | teach | relabel | status | export``: a labeling session from the shell.

Exit status: 0 on success, 2 for a usage error (a bad option), 1 for a data
error (a bad pool, answer or state file, a changed pool). Every error is one
line on stderr, and a failed command leaves the state file byte-identical
(set ``SKAL_DEBUG=1`` to see the traceback of an unexpected error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .._state import StateFormatError
from ._pool import LabelingError

__all__ = ["add_labeling_parsers", "COMMANDS"]

#: The labeling subcommands, in the order ``skal --help`` lists them.
COMMANDS = ("init", "query", "teach", "relabel", "status", "export")


class UsageError(Exception):
    """A bad option value: exit status 2."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def add_labeling_parsers(sub) -> None:
    """Add the labeling subcommands to ``skal``'s subparsers."""
    p = sub.add_parser("init", help="start a labeling session on a pool file",
                       description="Start a labeling session: read the pool, choose the "
                                   "strategy, filter and budget, write STATE.")
    p.add_argument("state", metavar="STATE", help="the session's state file to create")
    p.add_argument("--pool", required=True, metavar="FILE",
                   help="embeddings: .npy, .npz (array X), .csv or .parquet (numeric columns "
                        "are features, other columns are shown to annotators)")
    p.add_argument("--id-column", metavar="C", default=None,
                   help="column (or .npz array) of item ids (default: none, ids are row numbers)")
    p.add_argument("--classes", metavar="a,b,c", default=None,
                   help="the label set, comma-separated; integers when all are (default: none, "
                        "any label; then --budget is needed)")
    p.add_argument("--strategy", default="probcover",
                   help="query strategy, as in skal bench, e.g. probcover:delta=0.6 (default: "
                        "probcover)")
    p.add_argument("--filter", default="centroid",
                   help="noise filter, as in skal bench: centroid, aum, cv, knn, cl, fine or "
                        "none (default: centroid)")
    p.add_argument("--no-nas", action="store_true",
                   help="use the filter only to clean the training set, not inside selection "
                        "(default: off, NAS on)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--budget", type=_positive, nargs="+", metavar="N", default=None,
                        help="labels per round (one value, or one per round) (default: the "
                             "samples-per-class schedule)")
    budget.add_argument("--samples-per-class", type=_number, nargs="+", metavar="S", default=None,
                        help="cumulative labels-per-class targets, one per round (default: 1 2 "
                             "... R for R = --rounds, with --classes)")
    p.add_argument("--rounds", type=_positive, default=None, metavar="R",
                   help="planned rounds (default: 5, or the number of --budget / "
                        "--samples-per-class values)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing STATE (default: off, refuse)")
    p.set_defaults(func=_run_init)

    p = sub.add_parser("query", help="write the next items to label",
                       description="Write the items to label next (the same ones until they "
                                   "are answered).")
    p.add_argument("state", metavar="STATE")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="CSV (index, id, display columns, empty label) or tasks JSON")
    p.add_argument("--format", choices=["csv", "label-studio"], default="csv",
                   help="csv, or label-studio tasks JSON (default: csv)")
    p.add_argument("--whole-round", action="store_true",
                   help="ask for the rest of the round at once instead of the next NAS share "
                        "(default: off)")
    p.add_argument("--label-config", metavar="FILE", default=None,
                   help="also write a Label Studio labeling config (XML) for the classes "
                        "(default: none)")
    p.add_argument("--display", metavar="COLUMN", default=None,
                   help="the data column Label Studio shows (default: the pool's first "
                        "display column, else the id)")
    p.add_argument("--display-kind", choices=["text", "image"], default="text",
                   help="how Label Studio shows it (default: text)")
    p.set_defaults(func=_run_query)

    for name, text in (("teach", "store answers: a CSV with id,label or a Label Studio JSON "
                                 "export; partial answers are fine"),
                       ("relabel", "correct bought labels after review: a CSV with id,label "
                                   "or a Label Studio JSON export")):
        p = sub.add_parser(name, help=text.split(":")[0], description=text[0].upper() + text[1:])
        p.add_argument("state", metavar="STATE")
        p.add_argument("answers", metavar="FILE", help=".csv (id,label) or .json (Label Studio)")
        p.set_defaults(func=_run_teach if name == "teach" else _run_relabel)

    p = sub.add_parser("status", help="progress, labels to review, learning curve",
                       description="Round, labels bought, predicted-noisy labels to review, "
                                   "coverage; a learning curve with --test.")
    p.add_argument("state", metavar="STATE")
    p.add_argument("--test", metavar="FILE", default=None,
                   help="labeled test set: .npz (X, y) or .csv with the pool's feature columns "
                        "and a label column (default: none)")
    p.add_argument("--plot", metavar="OUT.png", default=None,
                   help="save the learning curve here; needs --test (default: none)")
    p.add_argument("--json", action="store_true", help="print JSON (default: off, text)")
    p.set_defaults(func=_run_status)

    p = sub.add_parser("export", help="every label with the filter's verdict",
                       description="Write every bought label with the filter's verdict, clean "
                                   "score and review flag.")
    p.add_argument("state", metavar="STATE")
    p.add_argument("--out", required=True, metavar="FILE", help=".csv, or .json for a JSON list")
    p.set_defaults(func=_run_export)


def run_labeling(args) -> int:
    """Run one labeling command, mapping errors to exit statuses and one stderr line."""
    prog = f"skal {args.command}"
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (LabelingError, StateFormatError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("SKAL_DEBUG"):
            raise
        text = " ".join(str(exc).split())
        print(f"{prog}: error: {type(exc).__name__}: {text} (the state file is unchanged)",
              file=sys.stderr)
        return 1


def _run_init(args) -> int:
    from ..benchmark._config import make_filter, make_strategy
    from ..benchmark._settings import budget_schedule
    from ._answers import parse_classes
    from ._session import LabelingSession

    # Option values first (exit 2), before any file is read.
    try:
        classes = parse_classes(args.classes)
        make_strategy(args.strategy)
        make_filter(args.filter)
        if args.budget is None and classes is None:
            raise ValueError("--samples-per-class (the default schedule) needs --classes; or "
                             "give --budget")
        budget = args.budget[0] if args.budget and len(args.budget) == 1 else args.budget
        budgets = budget_schedule(n_rounds=args.rounds, budget=budget,
                                  samples_per_class=args.samples_per_class,
                                  n_classes=None if classes is None else len(classes))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    session = LabelingSession.create(
        args.state, args.pool, id_column=args.id_column, classes=classes,
        strategy=args.strategy, noise_filter=args.filter, noise_aware=not args.no_nas,
        budget=budgets, n_rounds=len(budgets), random_state=args.seed, overwrite=args.force)
    meta = session.metadata
    print(f"created {args.state}: {session.pool.n_items} items x {session.pool.X.shape[1]} "
          f"features, classes {meta['classes'] if meta['classes'] else 'open'}, "
          f"{meta['strategy']} + {meta['filter']}{' (NAS)' if meta['noise_aware'] else ''}, "
          f"budgets {meta['budgets']}; display columns: "
          f"{', '.join(meta['data_columns']) or 'none'}")
    return 0


def _run_query(args) -> int:
    from ._files import write_batch
    from ._label_studio import labeling_config
    from ._session import LabelingSession

    session = LabelingSession.open(args.state)
    display = args.display
    if display is not None and display not in session.pool.data:
        raise UsageError(f"--display {display!r} is not a display column of the pool; it has "
                         f"{sorted(session.pool.data) or 'none'}")
    config = None
    if args.label_config is not None:
        display = display or (sorted(session.pool.data)[0] if session.pool.data else "skal_id")
        config = labeling_config(session.classes or [], value=display, kind=args.display_kind)
    batch = session.query(whole_round=args.whole_round)
    if not len(batch):
        print("nothing to ask: every item of the pool is labeled")
        return 0
    write_batch(batch, args.out, args.format)
    if config is not None:
        from .._state import atomic_write_bytes
        atomic_write_bytes(args.label_config, config.encode("utf-8"))
    print(f"wrote {len(batch)} item(s) to label to {args.out} (round {batch.round + 1})")
    return 0


def _read(args, session):
    from ._files import check_claimed_rows, read_answers

    answers = read_answers(args.answers)
    check_claimed_rows(answers, session.pool)
    return answers


def _run_teach(args) -> int:
    from ._session import LabelingSession

    session = LabelingSession.open(args.state)
    answers = _read(args, session)
    result = session.teach_answers(answers)
    parts = [f"taught {result.n_taught} label(s)"]
    if result.n_unchanged:
        parts.append(f"{result.n_unchanged} already known")
    if result.rounds_finished:
        parts.append(f"round {session.learner.n_rounds_done_} finished")
    parts.append(f"{result.n_asked_left} asked item(s) left")
    print("; ".join(parts))
    return 0


def _run_relabel(args) -> int:
    from ._session import LabelingSession

    session = LabelingSession.open(args.state)
    answers = _read(args, session)
    n = session.relabel(answers.ids, answers.labels)
    print(f"reviewed {n} label(s); {session.status()['n_flagged']} predicted noisy")
    return 0


def _run_status(args) -> int:
    from ._curve import learning_curve, plot_curve, read_test
    from ._session import LabelingSession

    if args.plot is not None and args.test is None:
        raise UsageError("--plot needs --test (a labeled test file)")
    session = LabelingSession.open(args.state)
    status = session.status()
    if args.test is not None:
        X_test, y_test = read_test(args.test, session)
        status["learning_curve"] = learning_curve(session, X_test, y_test)
        if args.plot is not None:
            plot_curve(status["learning_curve"], args.plot, os.path.basename(args.state))
    # The labeling page's review tally (no Flask needed): noise rate before and after review.
    from ..labeling_page._review import format_review, review_summary

    status["review"] = review_summary(session)
    review_line = format_review(status["review"])
    if args.json:
        print(json.dumps(status, indent=1))
        return 0
    from ._report import format_status

    print(format_status(status, args.state, review_line))
    return 0


def _run_export(args) -> int:
    from ._files import write_table
    from ._session import LabelingSession

    session = LabelingSession.open(args.state)
    rows = session.labels_table()
    columns = ["index", "id", "label", "first_label", "round", "clean", "clean_score", "reviewed"]
    write_table(rows, args.out, columns)
    print(f"wrote {len(rows)} label(s) to {args.out}")
    return 0
