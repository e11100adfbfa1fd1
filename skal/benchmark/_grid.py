"""The grid of a benchmark run: its strategies and filters, built and validated before any work."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..filters import NoiseFilter
from ..learner import NoiseAwareActiveLearner
from ..strategies import QueryStrategy
from ._config import check_params, make_filter, make_strategy

__all__ = ["Method", "methods", "build_strategy", "build_filter", "build_learner", "check_grid"]

#: Learner parameters the runner sets per cell.
RESERVED_LEARNER_PARAMS = frozenset(
    {"strategy", "noise_filter", "noise_aware", "budget", "n_rounds", "random_state"})


@dataclass
class Method:
    """A strategy or filter of the grid: its report label and how to build it."""

    label: str
    spec: Any  # a registry name, or an estimator instance (cloned in the cell)
    noise_aware: bool = False


def methods(items: Any, kind: str) -> list[Method]:
    """Normalise ``strategies`` / ``filters`` into labelled methods.

    Every entry is built once and its parameters validated here, so that a
    typo or a bad value (``"probcover:delta=-1"``) fails before the grid runs.

    Parameters
    ----------
    items : str, sequence or mapping
        What :func:`~skal.benchmark.run_benchmark` accepts.
    kind : {"strategies", "filters"}

    Returns
    -------
    methods : list of Method
    """
    if isinstance(items, str):
        items = [s for s in items.split(",") if s.strip()]
    if isinstance(items, Mapping):
        pairs = list(items.items())
    elif isinstance(items, (Sequence, set, frozenset)):
        pairs = [(None, item) for item in items]
    else:
        raise TypeError(f"{kind} must be a list of names or a mapping, got {items!r}")
    if not pairs:
        raise ValueError(f"{kind} must not be empty")
    out = [_strategy_method(label, spec) if kind == "strategies" else _filter_method(label, spec)
           for label, spec in pairs]
    labels = [m.label for m in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f"{kind} labels must be unique, got {labels}")
    return out


def _strategy_method(label: Any, spec: Any) -> Method:
    if isinstance(spec, QueryStrategy):
        method = Method(label or type(spec).__name__, spec, False)
    elif isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], QueryStrategy):
        method = Method(label or type(spec[0]).__name__ + ("+NAS" if spec[1] else ""),
                        spec[0], bool(spec[1]))
    elif isinstance(spec, str):
        _, nas = make_strategy(spec)  # raises on a bad name or value, before any work
        return Method(label or spec.strip(), spec.strip(), nas)
    else:
        raise TypeError(f"cannot read a strategy from {spec!r}")
    check_params(build_strategy(method)[0], f"strategy {method.label!r}")
    return method


def _filter_method(label: Any, spec: Any) -> Method:
    if spec is None:
        return Method(label or "none", None)
    if isinstance(spec, NoiseFilter):
        method = Method(label or type(spec).__name__, spec)
        check_params(build_filter(method), f"filter {method.label!r}")
        return method
    if isinstance(spec, str):
        make_filter(spec)
        return Method(label or spec.strip(), spec.strip())
    raise TypeError(f"cannot read a filter from {spec!r}")


def build_strategy(method: Method) -> tuple[QueryStrategy, bool]:
    """A fresh strategy of ``method`` and whether it is a NAS variant."""
    if isinstance(method.spec, str):
        return make_strategy(method.spec)
    from sklearn.base import clone

    return clone(method.spec), method.noise_aware


def build_filter(method: Method) -> NoiseFilter | None:
    """A fresh filter of ``method`` (``None`` trusts every label)."""
    if isinstance(method.spec, str):
        return make_filter(method.spec)
    if method.spec is None:
        return None
    from sklearn.base import clone

    return clone(method.spec)


def build_learner(strategy: Method, noise_filter: Method, budgets: list[int], seed: int,
                  learner_params: dict) -> NoiseAwareActiveLearner:
    """The learner of one cell, built from its public constructor."""
    est, noise_aware = build_strategy(strategy)
    return NoiseAwareActiveLearner(
        est, build_filter(noise_filter), noise_aware=noise_aware, budget=list(budgets),
        n_rounds=len(budgets), random_state=seed, **learner_params)


def check_grid(strategies: list[Method], filters: list[Method], schedules: list[list[int]],
               learner_params: dict) -> None:
    """Build and validate the learner of every (strategy, filter, schedule) of the grid.

    Cells that differ only by seed share a configuration, so one learner per
    combination is enough; none of them is fitted.

    Raises
    ------
    ValueError
        Naming the learner parameter, strategy or filter at fault.
    """
    reserved = RESERVED_LEARNER_PARAMS & set(learner_params)
    if reserved:
        raise ValueError(f"learner_params cannot set {sorted(reserved)}: "
                         "the runner sets them per cell")
    for s in strategies:
        for f in filters:
            for budgets in {tuple(b) for b in schedules}:
                try:
                    learner = build_learner(s, f, list(budgets), 0, learner_params)
                except TypeError as exc:  # an unknown keyword
                    raise ValueError(f"learner_params: {exc}") from exc
                check_params(learner, f"learner_params {learner_params!r} "
                                      f"(strategy {s.label!r}, filter {f.label!r})")
