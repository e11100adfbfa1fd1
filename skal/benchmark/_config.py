"""Name registries of the benchmark runner: strategies and filters by short name."""

from __future__ import annotations

import ast
import inspect
from typing import Any

from .. import filters as _filters_mod
from .. import strategies as _strategies_mod
from ..filters import NoiseFilter
from ..strategies import QueryStrategy

__all__ = [
    "available_strategies",
    "available_filters",
    "make_strategy",
    "make_filter",
    "check_params",
]

# Short names of the strategies of the paper and the Deep-AL code base. A class
# missing at import time (another module not written yet) simply has no name.
_STRATEGY_SHORT = {
    "random": "RandomSampling",
    "probcover": "ProbCover",
    "maxherding": "MaxHerding",
    "typiclust": "TypiClust",
    "coreset": "Coreset",
    "margin": "MarginSampling",
    "entropy": "EntropySampling",
    "leastconf": "LeastConfidenceSampling",
    "badge": "BADGE",
}
# The reference code's name of ProbCover + NAS.
_STRATEGY_ALIASES = {"npc": "probcover_nas"}
_NAS_SUFFIX = "_nas"

_FILTER_SHORT = {
    "aum": ("AUMFilter", {}),
    "aum-original": ("AUMFilter", {"recipe": "original"}),
    "cv": ("CrossValidationFilter", {}),
    "cl": ("ConfidentLearningFilter", {}),
    "knn": ("KNNFilter", {}),
    "centroid": ("CentroidFilter", {}),
    "fine": ("FINEFilter", {}),
}


def _concrete_subclasses(module, base) -> dict[str, type]:
    """Concrete subclasses of ``base`` exported by ``module``, by class name."""
    found = {}
    for name in dir(module):
        obj = getattr(module, name)
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base \
                and not inspect.isabstract(obj):
            found[obj.__name__] = obj
    return found


def _strategy_table() -> dict[str, type]:
    classes = _concrete_subclasses(_strategies_mod, QueryStrategy)
    table = {short: classes[cls] for short, cls in _STRATEGY_SHORT.items() if cls in classes}
    # Classes added later without a short name are still reachable by their
    # lower-cased class name, so the registry follows the package.
    known = set(table.values())
    for cls in classes.values():
        if cls not in known:
            table[cls.__name__.lower()] = cls
    return table


def _is_coverage(cls: type) -> bool:
    return bool(getattr(cls, "uses_covering", False))


def _filter_table() -> dict[str, tuple[type, dict]]:
    classes = _concrete_subclasses(_filters_mod, NoiseFilter)
    table = {}
    for short, (cls_name, params) in _FILTER_SHORT.items():
        cls = classes.get(cls_name)
        if cls is None:
            continue
        if params and not set(params) <= set(inspect.signature(cls).parameters):
            continue
        table[short] = (cls, dict(params))
    known = {cls for cls, _ in table.values()}
    for cls in classes.values():
        if cls not in known:
            name = cls.__name__.lower()
            table[name[:-len("filter")] if name.endswith("filter") else name] = (cls, {})
    return table


def available_strategies() -> list[str]:
    """Names accepted by :func:`make_strategy` (and ``--strategies``).

    Every strategy has a plain name (``"probcover"``); every coverage strategy
    also has a NAS variant (``"probcover_nas"``, with ``"npc"`` as the
    reference code's alias). Plain names use the filter only to clean the
    training set (the paper's baselines); NAS names also use it inside
    selection.

    Returns
    -------
    names : list of str
        Sorted.
    """
    table = _strategy_table()
    names = set(table)
    names |= {n + _NAS_SUFFIX for n, cls in table.items() if _is_coverage(cls)}
    names |= {a for a, target in _STRATEGY_ALIASES.items() if target in names}
    return sorted(names)


def available_filters() -> list[str]:
    """Names accepted by :func:`make_filter` (and ``--filters``); ``"none"`` trusts every label.

    Returns
    -------
    names : list of str
        Sorted.
    """
    return sorted(set(_filter_table()) | {"none"})


def _parse_spec(spec: str, what: str) -> tuple[str, dict]:
    """Split ``"name:key=value:key=value"`` into a name and keyword arguments."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{what} name must be a non-empty string, got {spec!r}")
    name, *parts = spec.strip().split(":")
    params = {}
    for part in parts:
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad {what} parameter {part!r} in {spec!r}: expected key=value")
        try:
            value = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            value = raw.strip()  # a bare word such as auto
        params[key.strip()] = value
    return name.strip().lower(), params


def check_params(est: Any, what: str) -> Any:
    """Validate an estimator's parameters now, before it is used for anything.

    Estimators that declare ``_parameter_constraints`` are checked by
    scikit-learn's own machinery; those with a hand-written
    ``_validate_params`` by theirs; others are accepted as they are (their
    parameters are checked when they are used). Either way a bad value is
    reported as a ``ValueError`` that starts with ``what``.

    Parameters
    ----------
    est : estimator
        A strategy, filter or learner.
    what : str
        How to name it in the message, e.g. ``"strategy 'probcover:delta=-1'"``.

    Returns
    -------
    est : estimator
        The same object, for chaining.

    Raises
    ------
    ValueError
        When a parameter has a wrong type or value.
    """
    from sklearn.base import BaseEstimator

    validate = getattr(est, "_validate_params", None)
    if validate is None:
        return est
    inherited = getattr(type(est), "_validate_params", None) is BaseEstimator._validate_params
    if inherited and not hasattr(est, "_parameter_constraints"):
        return est  # scikit-learn's method would fail on the missing table, not on a value
    try:
        validate()
    except (ValueError, TypeError) as exc:  # InvalidParameterError is both
        raise ValueError(f"{what}: {exc}") from exc
    return est


def _set_params(est, params: dict, spec: str, what: str):
    if params:
        valid = est.get_params(deep=False)
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"{what} {spec!r}: unknown parameter(s) {unknown}; "
                f"{type(est).__name__} accepts {sorted(valid)}"
            )
        est.set_params(**params)
    return check_params(est, f"{what} {spec!r}")


def make_strategy(spec: str) -> tuple[QueryStrategy, bool]:
    """Build a query strategy from its benchmark name.

    Parameters
    ----------
    spec : str
        A name from :func:`available_strategies`, optionally followed by
        ``:key=value`` parameters, e.g. ``"probcover:delta=0.65"`` or
        ``"maxherding_nas:bandwidth=0.5"``. Values are read as Python literals
        (a bare word stays a string).

    Returns
    -------
    strategy : QueryStrategy
        A fresh, unfitted instance.
    noise_aware : bool
        ``True`` for NAS variants (``"npc"``, ``"<name>_nas"``).

    Raises
    ------
    ValueError
        For an unknown name or parameter, or a parameter value the strategy
        rejects; the message names the spec (and lists the valid names).
    """
    name, params = _parse_spec(spec, "strategy")
    name = _STRATEGY_ALIASES.get(name, name)
    table = _strategy_table()
    noise_aware = False
    base = name
    if name.endswith(_NAS_SUFFIX) and name not in table:
        base, noise_aware = name[: -len(_NAS_SUFFIX)], True
    cls = table.get(base)
    if cls is None or (noise_aware and not _is_coverage(cls)):
        raise ValueError(
            f"unknown strategy {spec!r}; valid names: {', '.join(available_strategies())}"
        )
    return _set_params(cls(), params, spec, "strategy"), noise_aware


def make_filter(spec: str) -> NoiseFilter | None:
    """Build a noise filter from its benchmark name.

    Parameters
    ----------
    spec : str
        A name from :func:`available_filters`, optionally followed by
        ``:key=value`` parameters (e.g. ``"cv:n_splits=5"``). ``"none"``
        returns ``None`` (every label trusted).

    Returns
    -------
    noise_filter : NoiseFilter or None

    Raises
    ------
    ValueError
        For an unknown name or parameter, or a parameter value the filter
        rejects; the message names the spec (and lists the valid names).
    """
    name, params = _parse_spec(spec, "filter")
    if name == "none":
        if params:
            raise ValueError(f"filter 'none' takes no parameters, got {spec!r}")
        return None
    entry = _filter_table().get(name)
    if entry is None:
        raise ValueError(f"unknown filter {spec!r}; valid names: {', '.join(available_filters())}")
    cls, defaults = entry
    return _set_params(cls(**defaults), params, spec, "filter")
