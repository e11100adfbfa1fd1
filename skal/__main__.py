"""Command line: ``skal demo``, ``skal bench`` and the labeling session commands
``skal init | query | teach | relabel | status | export`` and the labeling page ``skal label``
(also ``python -m skal ...``)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main", "build_parser"]


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the recommended NAS default vs Random and ProbCover on the "
                                    "bundled digits (< 1 min)")
    p.add_argument("--noise-rate", type=float, default=0.5, help="symmetric annotator noise (default 0.5)")
    p.add_argument("--rounds", type=int, default=5, help="active-learning rounds (default 5)")
    p.add_argument("--budget", type=int, default=20, help="labels per round (default 20)")
    p.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    p.add_argument("--filter", choices=["centroid", "graph", "clustervote", "aum", "cv"],
                   default="centroid",
                   help="noise filter of the filtered columns (default centroid: the "
                        "recommended NAS default)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_run_demo)


def _run_demo(args) -> int:
    from .demo import format_demo_table, run_demo

    # Bad options exit with status 2 and one line on stderr, like argparse's own errors.
    for name in ("rounds", "budget", "seeds"):
        if getattr(args, name) < 1:
            print(f"skal demo: error: --{name} must be a positive integer, got {getattr(args, name)}",
                  file=sys.stderr)
            return 2
    if not 0 <= args.noise_rate <= 1:
        print(f"skal demo: error: --noise-rate must be in [0, 1], got {args.noise_rate}",
              file=sys.stderr)
        return 2
    try:
        results = run_demo(noise_rate=args.noise_rate, n_rounds=args.rounds, budget=args.budget,
                           n_seeds=args.seeds, noise_filter=args.filter,
                           progress=not args.no_progress)
    except ValueError as exc:  # e.g. more labels than the pool holds
        print(f"skal demo: error: {exc}", file=sys.stderr)
        return 2
    print(format_demo_table(results))
    return 0


def _add_bench(sub) -> None:
    try:
        from .benchmark.cli import add_bench_parser
    except ImportError:
        return
    add_bench_parser(sub)


def _add_labeling(sub) -> None:
    from .labeling._cli import add_labeling_parsers, run_labeling

    add_labeling_parsers(sub)
    for name, parser in sub.choices.items():
        if name in ("init", "query", "teach", "relabel", "status", "export"):
            # Each labeling command maps its errors to exit 1 (data) or 2 (usage).
            parser.set_defaults(run=run_labeling)


def _add_label_page(sub) -> None:
    # ``skal label STATE``: the local labeling page (its own package; Flask is
    # imported only when the page is served).
    try:
        from .labeling_page import add_label_parser
    except ImportError:
        return
    add_label_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    """The ``skal`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="skal", description="Active learning with a noisy annotator (scikit-learn compatible).")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_demo(sub)
    _add_bench(sub)
    _add_labeling(sub)
    _add_label_page(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skal`` console script."""
    args = build_parser().parse_args(argv)
    run = getattr(args, "run", None)
    if run is not None:
        return int(run(args))
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
