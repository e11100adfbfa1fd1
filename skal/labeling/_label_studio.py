"""Label Studio formats: the labeling config, tasks out, exported annotations in.

Formats, as Label Studio documents them (guide pages "Label Studio task
format", "Import data" and "Export annotations"):

- **tasks to import**: a JSON list of ``{"data": {...}}`` objects. skal puts
  ``skal_id`` and ``skal_index`` (the item's id and pool row) in ``data``,
  with the pool's display columns (text, image URLs).
- **labeling config**: a ``<View>`` holding one object tag (``<Text>`` or
  ``<Image>``) named ``item`` and one ``<Choices name="label">`` with one
  ``<Choice>`` per class.
- **export, JSON**: a list of tasks, each with ``data`` and ``annotations``;
  an annotation has ``result`` (a list of regions; a classification is
  ``{"type": "choices", "from_name": "label", "value": {"choices": [c]}}``),
  ``was_cancelled`` and ``updated_at``/``created_at``.
- **export, JSON_MIN**: one flat object per annotated task: the ``data``
  fields plus ``<from_name>: "c"`` (or ``{"choices": [...]}``).
"""

from __future__ import annotations

import json
import os
from typing import Any
from xml.sax.saxutils import quoteattr

from ._answers import Answers
from ._pool import LabelingError
from ._records import Batch

__all__ = ["labeling_config", "tasks_json", "read_export", "FROM_NAME", "TO_NAME"]

#: ``name`` of the Choices tag (the ``from_name`` of every answer).
FROM_NAME = "label"
#: ``name`` of the object tag the choices refer to.
TO_NAME = "item"


def labeling_config(classes: list, *, value: str = "skal_id", kind: str = "text") -> str:
    """A Label Studio labeling config for single-choice classification.

    Parameters
    ----------
    classes : list
        The choices (at least two).
    value : str, default="skal_id"
        The task ``data`` key shown to the annotator (a text or image column).
    kind : {"text", "image"}, default="text"
        The object tag: ``<Text>`` or ``<Image>``.

    Returns
    -------
    config : str
        XML for the project's ``label_config``.
    """
    if not classes or len(classes) < 2:
        raise LabelingError("the Label Studio config needs the class list (at least two "
                            "classes; give --classes to `skal init`)")
    if kind not in ("text", "image"):
        raise ValueError(f"kind must be 'text' or 'image', got {kind!r}")
    if not value or not all(ch.isalnum() or ch == "_" for ch in value):
        raise ValueError(f"value must be a data key of letters, digits and '_', got {value!r}")
    tag = "Text" if kind == "text" else "Image"
    choices = "\n".join(f"    <Choice value={quoteattr(str(c))}/>" for c in classes)
    return (f"<View>\n  <{tag} name=\"{TO_NAME}\" value=\"${value}\"/>\n"
            f"  <Choices name=\"{FROM_NAME}\" toName=\"{TO_NAME}\" choice=\"single-radio\" "
            f"showInline=\"true\">\n{choices}\n  </Choices>\n</View>\n")


def tasks_json(batch: Batch) -> list[dict]:
    """Label Studio tasks for a batch: ``[{"data": {"skal_id", "skal_index", ...}}]``."""
    return [{"data": {"skal_id": row.pop("id"), "skal_index": row.pop("index"), **row}}
            for row in batch.rows()]


def _when(annotation: dict) -> str:
    # ISO-8601 timestamps of one server sort as text; a missing one sorts first.
    return str(annotation.get("updated_at") or annotation.get("created_at") or "")


def _choice(value: Any, where: str) -> Any:
    if isinstance(value, dict):
        value = value.get("choices")
    if isinstance(value, list):
        if len(value) != 1:
            raise LabelingError(f"{where}: expected one choice, got {value!r}")
        value = value[0]
    if value is None or isinstance(value, (dict, list)):
        raise LabelingError(f"{where}: no single choice in {value!r}")
    return value


def _from_result(result: Any, from_name: str, where: str) -> Any | None:
    if not isinstance(result, list):
        raise LabelingError(f"{where}: 'result' must be a list")
    found = [r for r in result if isinstance(r, dict) and r.get("from_name") == from_name
             and r.get("type", "choices") == "choices"]
    if not found:
        return None
    if len(found) > 1:
        raise LabelingError(f"{where}: {len(found)} '{from_name}' answers in one annotation")
    value = found[0].get("value")
    if not isinstance(value, dict):
        raise LabelingError(f"{where}: the answer has no 'value' object")
    return _choice(value, where)


def _task_answer(task: dict, from_name: str, where: str) -> Any | None:
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        raise LabelingError(f"{where}: 'annotations' must be a list")
    kept = [a for a in annotations if isinstance(a, dict) and not a.get("was_cancelled")]
    # Several annotators, or one who edited: the most recently updated answer wins.
    for annotation in sorted(kept, key=_when, reverse=True):
        label = _from_result(annotation.get("result", []), from_name, where)
        if label is not None:
            return label
    return None


def read_export(source: str | os.PathLike | list, *, from_name: str = FROM_NAME) -> Answers:
    """Read answers from a Label Studio export (JSON or JSON_MIN).

    Tasks without an answer (no annotation, only cancelled ones, or none
    with a ``from_name`` choice) are skipped: partial exports are fine.

    Parameters
    ----------
    source : str, path-like or list
        The export file, or its parsed JSON list.
    from_name : str, default="label"
        The Choices tag's name in the labeling config.

    Returns
    -------
    answers : Answers
        ``(id, label)`` pairs; ``answers.claimed_index`` maps each id to the
        ``skal_index`` the task carried, so that tasks of another pool are
        caught.

    Raises
    ------
    LabelingError
        Not JSON, not a list of tasks, a task without ``skal_id``, an
        annotation with several choices, one id answered in two tasks.
    """
    where = "the Label Studio export"
    if not isinstance(source, list):
        where = f"Label Studio export {os.fspath(source)!r}"
        try:
            with open(source, encoding="utf-8-sig") as f:
                source = json.load(f)
        except FileNotFoundError:
            raise LabelingError(f"{where} does not exist") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LabelingError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(source, list):
        raise LabelingError(f"{where} must be a JSON list of tasks, got "
                            f"{type(source).__name__}")
    answers = Answers(source=where)
    for k, task in enumerate(source):
        at = f"{where}, task {k}"
        if not isinstance(task, dict):
            raise LabelingError(f"{at}: a task must be an object")
        full = "annotations" in task or "data" in task
        data = task.get("data", {}) if full else task
        if not isinstance(data, dict) or "skal_id" not in data:
            raise LabelingError(f"{at}: no 'skal_id' in its data (was it made by "
                                "`skal query --format label-studio`?)")
        label = (_task_answer(task, from_name, at) if full else
                 (_choice(task[from_name], at) if task.get(from_name) not in (None, "") else None))
        if label is None:
            continue
        item = str(data["skal_id"])
        if item in answers.claimed_index:
            raise LabelingError(f"{at}: id {item!r} is answered in two tasks")
        answers.claimed_index[item] = data.get("skal_index")
        answers.append((item, label))
    return answers
