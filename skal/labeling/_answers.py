"""Annotators' answers: class lists, label parsing and answer CSV files.

Labels travel as text (CSV cells, JSON strings). A session whose classes are
all integers (``0,1,...,9``) keeps integer labels, so that its state matches
a Python loop run with integer ``y``; any other session keeps strings.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._pool import LabelingError

__all__ = ["parse_classes", "label_type_of", "parse_label", "parse_labels", "read_answers_csv",
           "Answers"]


class Answers(list):
    """``(id, label)`` pairs read from a file, with the file's name for messages."""

    source: str
    claimed_index: dict

    def __init__(self, pairs: Iterable[tuple[str, Any]] = (), source: str = "answers"):
        super().__init__(pairs)
        self.source = source
        # id -> the pool row the answer's task said it was (Label Studio tasks carry it).
        self.claimed_index: dict = {}

    @property
    def ids(self) -> list:
        return [p[0] for p in self]

    @property
    def labels(self) -> list:
        return [p[1] for p in self]


def _is_int_text(text: str) -> bool:
    text = text.strip()
    return text.lstrip("+-").isdigit() and text not in ("+", "-")


def parse_classes(classes: str | Sequence | None) -> list | None:
    """A class list from ``"a,b,c"`` or a sequence; integers when every class is one.

    Raises
    ------
    LabelingError
        Empty names, duplicates, or fewer than two classes.
    """
    if classes is None:
        return None
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    texts = [str(c).strip() for c in items]
    if any(t == "" for t in texts):
        raise LabelingError(f"classes: an empty class name in {texts}")
    if len(texts) < 2:
        raise LabelingError(f"classes: at least two classes are needed, got {texts}")
    if len(set(texts)) != len(texts):
        dup = sorted({t for t in texts if texts.count(t) > 1})
        raise LabelingError(f"classes: duplicate class(es) {dup}")
    if all(_is_int_text(t) for t in texts):
        values = [int(t) for t in texts]
        if len(set(values)) != len(values):  # "1" and "01"
            raise LabelingError(f"classes: duplicate class(es) in {texts}")
        return values
    return texts


def label_type_of(classes: list | None) -> str:
    """``"int"`` when the classes are integers, else ``"str"``."""
    return "int" if classes and all(isinstance(c, int) for c in classes) else "str"


def parse_label(value: Any, label_type: str, classes: list | None, where: str) -> Any:
    """One answer as a class label; ``where`` says which row, for the message."""
    if isinstance(value, (list, dict)) or value is None:
        raise LabelingError(f"{where}: the label must be one class, got {value!r}")
    text = str(value).strip()
    if label_type == "int":
        if isinstance(value, float) and value.is_integer():
            text = str(int(value))
        if not _is_int_text(text):
            raise LabelingError(f"{where}: label {text!r} is not one of the classes {classes}")
        label: Any = int(text)
    else:
        label = text
    if classes is not None and label not in classes:
        raise LabelingError(f"{where}: label {label!r} is not one of the classes {classes}")
    return label


def parse_labels(values: Iterable, label_type: str, classes: list | None,
                 where: str = "labels", ids: Sequence | None = None) -> np.ndarray:
    """Answers as a label array of the session's type (int64 or str).

    Messages name the answer by its item id when ``ids`` is given, else by
    its position in ``where``.
    """
    parsed = [parse_label(v, label_type, classes,
                          f"{where}[{k}]" if ids is None else f"the answer for id {ids[k]!r}")
              for k, v in enumerate(values)]
    if label_type == "int":
        return np.asarray(parsed, dtype=np.int64)
    return np.asarray(parsed, dtype=str) if parsed else np.empty(0, dtype=str)


def read_answers_csv(path: str | os.PathLike, *, label_column: str = "label",
                     id_column: str = "id") -> Answers:
    """Read ``(id, label)`` rows from a CSV answer file.

    The file needs a header with an ``id`` column (or ``index`` for pools
    without ids) and a ``label`` column; other columns are ignored. A row
    whose label is empty is not answered yet and is skipped, so the CSV
    written by ``skal query`` can be filled in part by part.

    Raises
    ------
    LabelingError
        Missing file or column, ragged rows, duplicate ids, undecodable text.
    """
    path = os.fspath(path)
    where = f"answer file {path!r}"
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if not header:
                raise LabelingError(f"{where} is empty (a header row with id,label is needed)")
            header = [h.strip() for h in header]
            key = id_column if id_column in header else ("index" if "index" in header else None)
            if key is None or label_column not in header:
                raise LabelingError(f"{where} needs columns {id_column!r} and {label_column!r}; "
                                    f"its header is {header}")
            k_id, k_label = header.index(key), header.index(label_column)
            pairs = []
            for line, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise LabelingError(f"{where}, line {line}: {len(row)} fields, the header "
                                        f"has {len(header)}")
                if not row[k_id].strip():
                    raise LabelingError(f"{where}, line {line}: the id is empty")
                if row[k_label].strip():
                    pairs.append((row[k_id].strip(), row[k_label].strip()))
    except FileNotFoundError:
        raise LabelingError(f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelingError(f"{where} cannot be read: {exc}") from None
    ids = [p[0] for p in pairs]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise LabelingError(f"{where}: id(s) {dup} answered more than once")
    return Answers(pairs, source=where)
