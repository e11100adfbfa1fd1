"""Building a session's learner and its metadata record, and checking them on open.

The record is saved inside the learner's state archive
(``NoiseAwareActiveLearner.save(metadata=...)``), so the state file alone
says which pool file it belongs to, how its ids map to rows and which
classes the annotators may answer with.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..learner import NoiseAwareActiveLearner
from ._answers import label_type_of, parse_classes
from ._pool import LabelingError, Pool, read_pool

__all__ = ["SESSION_FORMAT", "build_learner", "make_metadata", "pool_from_metadata"]

#: Version of the session record kept in the state file's metadata.
SESSION_FORMAT = 1

_KEYS = {"skal_labeling", "pool", "classes", "label_type", "strategy", "filter", "noise_aware",
         "budgets", "n_rounds", "seed", "data_columns"}


def build_learner(*, classes: list | None, strategy: str, noise_filter: str, noise_aware: bool,
                  budget: int | Sequence[int] | None, samples_per_class: Sequence[float] | None,
                  n_rounds: int | None, random_state: int) -> tuple[NoiseAwareActiveLearner, list]:
    """The learner of a new session and its per-round budgets.

    ``strategy`` and ``noise_filter`` are the names ``skal bench`` accepts
    (``"probcover"``, ``"probcover:delta=0.6"``, ``"centroid"``, ``"none"``).
    """
    from ..benchmark._config import make_filter, make_strategy
    from ..benchmark._settings import budget_schedule

    est, nas_name = make_strategy(strategy)
    flt = make_filter(noise_filter)
    if budget is None and classes is None:
        raise LabelingError("a samples-per-class schedule needs the class list (--classes); "
                            "or give --budget")
    budgets = budget_schedule(n_rounds=n_rounds, budget=budget,
                              samples_per_class=samples_per_class,
                              n_classes=None if classes is None else len(classes))
    learner = NoiseAwareActiveLearner(
        est, flt, budget=list(budgets), n_rounds=len(budgets),
        noise_aware=bool(noise_aware or nas_name), classes=classes, random_state=random_state)
    return learner, budgets


def make_metadata(state_path: str, pool_path: str, pool: Pool, *, id_column: str | None,
                  classes: list | None, strategy: str, noise_filter: str, noise_aware: bool,
                  budgets: list, seed: int) -> dict:
    """The session record stored beside the learner's state."""
    folder = os.path.dirname(os.path.abspath(state_path))
    return {
        "skal_labeling": SESSION_FORMAT,
        "pool": {"path": os.path.abspath(pool_path),
                 "relpath": os.path.relpath(os.path.abspath(pool_path), folder),
                 "sha256": pool.sha256, "n_items": pool.n_items,
                 "n_features": int(pool.X.shape[1]), "id_column": id_column},
        "classes": classes, "label_type": label_type_of(classes),
        "strategy": strategy, "filter": noise_filter, "noise_aware": bool(noise_aware),
        "budgets": [int(b) for b in budgets], "n_rounds": len(budgets), "seed": int(seed),
        "data_columns": sorted(pool.data),
    }


def check_metadata(meta: Any, state_path: str) -> dict:
    """Refuse a state file that is not a labeling session's (or a damaged record)."""
    where = f"state file {state_path!r}"
    if not isinstance(meta, dict) or "skal_labeling" not in meta:
        raise LabelingError(f"{where} is a saved learner, not a labeling session "
                            "(create one with `skal init`)")
    if meta.get("skal_labeling") != SESSION_FORMAT:
        raise LabelingError(f"{where} has session format {meta.get('skal_labeling')!r}; this "
                            f"skal reads {SESSION_FORMAT}")
    missing = _KEYS - set(meta)
    pool = meta.get("pool")
    if missing or not isinstance(pool, dict) or \
            not {"path", "relpath", "sha256", "id_column"} <= set(pool):
        raise LabelingError(f"{where} is damaged: the session record lacks "
                            f"{sorted(missing) or 'pool fields'}")
    classes = meta["classes"]
    if classes is not None and parse_classes(classes) != classes:
        raise LabelingError(f"{where} is damaged: bad class list {classes!r}")
    if meta["label_type"] != label_type_of(classes):
        raise LabelingError(f"{where} is damaged: label type {meta['label_type']!r}")
    return meta


def pool_from_metadata(meta: dict, state_path: str) -> tuple[Pool, str]:
    """Read the session's pool file and check that it is the one the session was made on.

    The file is looked up beside the state file first (its path relative to
    the state when the session was created), then at its absolute path, so
    that a folder holding both can be moved.
    """
    info = meta["pool"]
    folder = os.path.dirname(os.path.abspath(state_path))
    candidates = [os.path.join(folder, info["relpath"]), info["path"]]
    path = next((p for p in candidates if os.path.isfile(p)), None)
    if path is None:
        raise LabelingError(f"the pool file {info['path']!r} of this session is missing")
    pool = read_pool(path, id_column=info["id_column"])
    if pool.sha256 != info["sha256"]:
        raise LabelingError(f"pool file {path!r} changed since `skal init` (its SHA-256 "
                            "differs): the session's labels refer to the rows of the original "
                            "file; restore it")
    return pool, path
