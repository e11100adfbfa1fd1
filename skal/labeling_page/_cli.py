"""``skal label STATE``: serve the labeling page of a session on this machine.

Exit status as the other labeling commands: 2 for a bad option, 1 for a
data error (a missing or damaged state file, a missing Flask), one line on
stderr; 0 when the server is stopped with Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
from collections.abc import Callable

__all__ = ["add_label_parser", "run_label", "serve"]

DEFAULT_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be in [0, 65535], got {value}")
    return value


def add_label_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``skal label`` to ``skal``'s subparsers and return its parser."""
    p = subparsers.add_parser(
        "label", help="label and review in a local web page",
        description="Serve a labeling page for STATE on this machine: label the asked items "
                    "with one key per class, undo, and review the labels the noise filter "
                    "doubts. Every answer is saved in STATE when it is given.")
    p.add_argument("state", metavar="STATE", help="the session's state file (from skal init)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; the "
                        "page has no login)")
    p.add_argument("--port", type=_port, default=DEFAULT_PORT,
                   help=f"port; 0 picks a free one (default: {DEFAULT_PORT})")
    show = p.add_mutually_exclusive_group()
    show.add_argument("--images", metavar="DIR", default=None,
                      help="folder of images named by item id (<id>.png, .jpg, ...) (default: "
                           "none)")
    show.add_argument("--text-column", metavar="C", default=None,
                      help="show this display column of the pool as text (default: every "
                           "display column, else the rows as images when their feature count "
                           "is a square, 64 -> 8x8)")
    p.add_argument("--shape", metavar="HxW", default=None,
                   help="draw the pool rows as HxW (or HxWx3) images (default: square rows are "
                        "drawn, others are not)")
    p.add_argument("--no-browser", action="store_true",
                   help="do not open a web browser (default: off, open one)")
    p.set_defaults(func=run_label, run=run_label)
    return p


def serve(app, host: str, port: int, *, on_ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None) -> None:
    """Serve ``app`` with Werkzeug's threaded server until Ctrl-C (or ``stop`` is set).

    ``on_ready(url)`` is called once the socket listens (so that ``port=0``
    reports the port it got).
    """
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_port}/"
    if on_ready is not None:
        on_ready(url)
    if stop is not None:
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    try:
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a person stops it
            server.serve_forever()
    finally:
        server.server_close()


def run_label(args) -> int:
    """Run ``skal label``: errors map to exit 1 (data) or 2 (usage) with one stderr line."""
    from .._state import StateFormatError
    from ..labeling import LabelingError

    try:
        return _run(args)
    except _Usage as exc:
        print(f"skal label: error: {exc}", file=sys.stderr)
        return 2
    except (LabelingError, StateFormatError, OSError) as exc:
        print(f"skal label: error: {exc}", file=sys.stderr)
        return 1


class _Usage(Exception):
    """A bad option value: exit status 2, like argparse's own errors."""


def _run(args) -> int:
    from ..labeling import LabelingSession
    from ._app import create_app
    from ._display import parse_shape, resolve_display

    try:
        parse_shape(args.shape)
    except ValueError as exc:
        raise _Usage(f"--shape: {exc}") from None
    if args.images is not None and not os.path.isdir(args.images):
        raise _Usage(f"--images {args.images!r} is not a folder")
    session = LabelingSession.open(args.state)
    try:
        display = resolve_display(session.pool, images=args.images,
                                  text_column=args.text_column, shape=args.shape)
    except ValueError as exc:
        raise _Usage(str(exc).replace("text_column", "--text-column")
                     .replace("shape", "--shape", 1)) from None
    app = create_app(session, display)

    def ready(url: str) -> None:
        print(f"skal label: serving {args.state} at {url} (Ctrl-C stops; every answer is "
              "already saved)", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print("skal label: warning: the page has no login; anyone who reaches "
                  f"{args.host} can label", file=sys.stderr, flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)

    serve(app, args.host, args.port, on_ready=ready)
    return 0
