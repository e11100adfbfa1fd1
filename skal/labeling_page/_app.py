"""The labeling page as a Flask application: one HTML page and its JSON endpoints.

Every answer goes straight to :meth:`LabelingSession.teach` and every review
to :meth:`LabelingSession.relabel`, which write the state file atomically
before the request returns: closing the browser loses nothing, and the
page keeps no answer of its own.

Endpoints (JSON in and out; POST bodies must be ``application/json``, which
a foreign web site cannot send to this server without a CORS preflight that
it never answers):

- ``GET /api/batch``: the asked items, progress, the last answers (undo).
- ``POST /api/query``: ask for the next items when none are asked.
- ``POST /api/answer`` ``{"id", "label"}``: teach one answer.
- ``POST /api/undo`` ``{"id", "label"}``: change one of the last answers.
- ``GET /api/review?limit=&k=``: doubted labels by clean score, neighbours.
- ``POST /api/relabel`` ``{"id", "label"}``: confirm or correct a label.
- ``GET /api/image/<index>``: the image of one pool row.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ..labeling import LabelingError, LabelingSession
from ..labeling._answers import parse_labels
from ._display import Display, find_image, item_view, render_pixels, resolve_display
from ._review import recent_reviews, review_list, review_summary

__all__ = ["create_app", "class_keys", "UNDO_WINDOW"]

#: How many of the latest answers the page can still change with undo.
UNDO_WINDOW = 5

_KEY_ORDER = "1234567890abcdefghijklmnopqrstuvwxyz"


def class_keys(classes: list | None) -> list | None:
    """One keyboard key per class: the class itself when every class is one character
    (digits 0-9 keep their own keys), else 1..9, 0, a..z in class order (None past 36).
    """
    if classes is None:
        return None
    texts = [str(c).lower() for c in classes]
    if all(len(t) == 1 and t.isalnum() for t in texts) and len(set(texts)) == len(texts):
        return texts
    return [(_KEY_ORDER[k] if k < len(_KEY_ORDER) else None) for k in range(len(classes))]


def _file_signature(path: str) -> tuple:
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class _Holder:
    """The open session, reopened when another process (``skal teach``) changed the file."""

    def __init__(self, session: LabelingSession):
        self.session = session
        self.lock = threading.RLock()
        self._seen = _file_signature(session.state_path)

    def current(self) -> LabelingSession:
        if _file_signature(self.session.state_path) != self._seen:
            self.session = LabelingSession.open(self.session.state_path)
            self._seen = _file_signature(self.session.state_path)
        return self.session

    def saved(self) -> None:
        self._seen = _file_signature(self.session.state_path)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _parse_label(session: LabelingSession, label: Any) -> Any:
    # The session's own parsing: "3" and 3 are the same class of an integer session.
    value = parse_labels([label], session.metadata["label_type"], session.classes, "label")[0]
    return _plain(value)


def _json_body(request, *names: str) -> list:
    body = request.get_json()  # 415 unless application/json
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    missing = [n for n in names if n not in body]
    if missing:
        raise ValueError(f"the request body lacks {missing}")
    return [body[n] for n in names]


def _int_arg(request, name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
    return value


def create_app(session: LabelingSession, display: Display | None = None):
    """The Flask app of the labeling page for an open session.

    Parameters
    ----------
    session : LabelingSession
    display : Display or None, default=None
        What to show per item (:func:`resolve_display`); None chooses from
        the pool.

    Returns
    -------
    app : flask.Flask
    """
    try:
        from flask import Flask, jsonify, render_template, request, send_file
        from werkzeug.exceptions import HTTPException
    except ImportError:
        raise LabelingError("the labeling page needs Flask, which is not installed: "
                            "pip install 'skal[label]'") from None
    if not isinstance(session, LabelingSession):
        raise TypeError(f"session must be a LabelingSession, got {type(session).__name__}")
    display = resolve_display(session.pool) if display is None else display
    if not isinstance(display, Display):
        raise TypeError(f"display must be a Display, got {type(display).__name__}")
    holder = _Holder(session)
    folder = os.path.dirname(os.path.abspath(__file__))
    app = Flask(__name__, template_folder=os.path.join(folder, "templates"),
                static_folder=os.path.join(folder, "static"))
    app.json.sort_keys = False
    app.config["SKAL_HOLDER"] = holder

    def view(s: LabelingSession, index: int) -> dict:
        return item_view(display, s.pool, int(index))

    def recent(s: LabelingSession) -> list[dict]:
        if s.status()["n_labeled"] == 0:
            return []
        idx = s.learner.labeled_idx_[-UNDO_WINDOW:][::-1]
        labels = s.learner.labels_[-UNDO_WINDOW:][::-1]
        return [{**view(s, i), "label": _plain(v)} for i, v in zip(idx.tolist(), labels)]

    def batch_json(s: LabelingSession, **extra) -> dict:
        status = s.status()
        items = [view(s, i) for i in s.asked().indices.tolist()]
        finished = status["n_labeled"] >= status["n_pool"]
        return {**extra, "items": items, "recent": recent(s), "status": status,
                "review": review_summary(s), "pool_labeled": finished}

    @app.before_request
    def same_origin_only():
        # A page from another site may POST here (the server is on the user's
        # machine); browsers send Origin with such requests, so refuse them.
        origin = request.headers.get("Origin")
        if request.method == "POST" and origin is not None and \
                origin.rstrip("/") != request.host_url.rstrip("/"):
            return jsonify(error=f"cross-origin request from {origin} refused"), 403
        return None

    @app.errorhandler(ValueError)  # LabelingError is a ValueError
    @app.errorhandler(TypeError)
    def bad_request(exc):
        return jsonify(error=str(exc)), 400

    @app.errorhandler(HTTPException)
    def http_error(exc):
        return jsonify(error=exc.description), exc.code

    @app.get("/")
    def index():
        s = holder.current()
        config = {"state": os.path.basename(s.state_path), "classes": s.classes,
                  "keys": class_keys(s.classes), "display": display.kind,
                  "undo_window": UNDO_WINDOW}
        return render_template("page.html", config=config)

    @app.get("/api/batch")
    def batch():
        with holder.lock:
            return jsonify(batch_json(holder.current()))

    @app.post("/api/query")
    def query():
        with holder.lock:
            s = holder.current()
            asked = s.query()
            holder.saved()
            return jsonify(batch_json(s, n_asked=len(asked)))

    @app.post("/api/answer")
    def answer():
        item, label = _json_body(request, "id", "label")
        with holder.lock:
            s = holder.current()
            result = s.teach([item], [label])
            holder.saved()
            return jsonify(batch_json(s, taught=result.n_taught,
                                      rounds_finished=result.rounds_finished))

    @app.post("/api/undo")
    def undo():
        item, label = _json_body(request, "id", "label")
        with holder.lock:
            s = holder.current()
            window = {r["id"]: r["label"] for r in recent(s)}
            key = s.pool.ids[int(s.pool.index_of([item])[0])]
            if key not in window:
                raise LabelingError(f"id {item!r} is not among the last {UNDO_WINDOW} answers; "
                                    "correct older labels in the review view")
            changed = _parse_label(s, label) != window[key]
            if changed:
                # An undo is a correction of a bought label: relabel keeps both answers.
                s.relabel([key], [label])
                holder.saved()
            return jsonify(batch_json(s, changed=changed))

    @app.get("/api/review")
    def review():
        limit = _int_arg(request, "limit", 50, 1, 1000)
        k = _int_arg(request, "k", 5, 0, 50)
        with holder.lock:
            s = holder.current()
            rows = review_list(s, limit=limit, k=k)
            for row in rows:
                row.update(view(s, row["index"]))
                row["neighbours"] = [{**n, **view(s, n["index"])} for n in row["neighbours"]]
            reviewed = [{**r, **view(s, r["index"])} for r in recent_reviews(s)]
            return jsonify({"items": rows, "reviewed": reviewed, "review": review_summary(s),
                            "status": s.status()})

    @app.post("/api/relabel")
    def relabel():
        item, label = _json_body(request, "id", "label")
        with holder.lock:
            s = holder.current()
            index = int(s.pool.index_of([item])[0])
            table = {r["index"]: r["label"] for r in s.labels_table()}
            if index not in table:
                raise LabelingError(f"id {item!r} has no label yet: answer it in the label view")
            new = _parse_label(s, label)
            s.relabel([s.pool.ids[index]], [label])
            holder.saved()
            return jsonify({"id": s.pool.ids[index], "old": table[index], "new": new,
                            "kept": new == table[index], "review": review_summary(s),
                            "status": s.status()})

    @app.get("/api/image/<int:index>")
    def image(index: int):
        pool = holder.session.pool  # the pool never changes under a session (hash-checked)
        if not 0 <= index < pool.n_items:
            return jsonify(error=f"no pool row {index}"), 404
        if display.kind == "pixels":
            import io

            png = render_pixels(pool.X[index], display.shape)
            response = send_file(io.BytesIO(png), mimetype="image/png")
        elif display.kind == "images":
            path = find_image(display, pool.ids[index])
            if path is None:
                return jsonify(error=f"no image for id {pool.ids[index]!r} in "
                                     f"{display.images}"), 404
            response = send_file(path)
        else:
            return jsonify(error="this page shows no images"), 404
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    return app
