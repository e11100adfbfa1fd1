"""Files a labeling session reads and writes: answer files, query batches, label tables.

Output files are written atomically (a temporary file renamed into place),
like the state file, so that an interrupted command never leaves half a CSV
for the annotators.
"""

from __future__ import annotations

import csv
import io
import json
import os

from .._state import atomic_write_bytes
from ._answers import Answers, read_answers_csv
from ._label_studio import read_export, tasks_json
from ._pool import LabelingError
from ._records import Batch

__all__ = ["read_answers", "check_claimed_rows", "write_batch", "write_table", "ANSWER_FORMATS"]

#: Extensions of answer files: a CSV with id,label or a Label Studio JSON export.
ANSWER_FORMATS = (".csv", ".json")


def read_answers(path: str | os.PathLike) -> Answers:
    """Answers from a CSV (``id``, ``label`` columns) or a Label Studio JSON export."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return read_answers_csv(path)
    if ext == ".json":
        return read_export(path)
    raise LabelingError(f"answer file {path!r}: unsupported format {ext or '(none)'!r}; use a "
                        ".csv with id,label columns or a Label Studio .json export")


def check_claimed_rows(answers: Answers, pool) -> None:
    """Refuse answers whose task names another pool row than the id has here."""
    for item, claimed in answers.claimed_index.items():
        if claimed is None:
            continue
        row = int(pool.index_of([item])[0])
        if isinstance(claimed, bool) or not isinstance(claimed, int) or claimed != row:
            raise LabelingError(f"{answers.source}: the task of id {item!r} says skal_index "
                                f"{claimed!r} but that id is row {row} of this pool (tasks "
                                "from another session?)")


def _ensure_folder(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise LabelingError(f"cannot write {path!r}: folder {folder!r} does not exist")


def _csv_bytes(header: list, rows: list) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_batch(batch: Batch, path: str | os.PathLike, fmt: str = "csv") -> None:
    """Write the items to label: a CSV (``index``, ``id``, display columns, empty ``label``)
    or Label Studio tasks JSON (``fmt="label-studio"``)."""
    path = os.fspath(path)
    _ensure_folder(path)
    if fmt == "label-studio":
        data = json.dumps(tasks_json(batch), indent=1, ensure_ascii=False).encode("utf-8")
    elif fmt == "csv":
        columns = list(batch.data)
        rows = [[r["index"], r["id"], *[r[c] for c in columns], ""] for r in batch.rows()]
        data = _csv_bytes(["index", "id", *columns, "label"], rows)
    else:
        raise ValueError(f"fmt must be 'csv' or 'label-studio', got {fmt!r}")
    atomic_write_bytes(path, data)


def write_table(rows: list[dict], path: str | os.PathLike, columns: list[str]) -> None:
    """Write records as CSV, or as a JSON list when ``path`` ends in ``.json``."""
    path = os.fspath(path)
    _ensure_folder(path)
    if path.lower().endswith(".json"):
        data = json.dumps(rows, indent=1, ensure_ascii=False).encode("utf-8")
    else:
        data = _csv_bytes(columns, [[r[c] for c in columns] for r in rows])
    atomic_write_bytes(path, data)
