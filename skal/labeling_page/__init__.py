"""The labeling page: label a session's asked items and review doubted labels in a browser.

``skal label STATE`` serves it on this machine (Flask: ``pip install
'skal[label]'``). Every answer goes straight into the session's state file
(:meth:`~skal.labeling.LabelingSession.teach`, :meth:`~skal.labeling.LabelingSession.relabel`).
"""

from ._app import UNDO_WINDOW, class_keys, create_app
from ._cli import add_label_parser, run_label, serve
from ._display import Display, parse_shape, render_pixels, resolve_display
from ._review import format_review, recent_reviews, review_list, review_summary

__all__ = ["create_app", "class_keys", "UNDO_WINDOW", "add_label_parser", "run_label", "serve",
           "Display", "resolve_display", "parse_shape", "render_pixels", "review_summary",
           "review_list", "recent_reviews", "format_review"]
