"""``skal bench`` options: defaults, config files, and checks that name the option at fault.

Options come from the command line, then a config file, then :data:`DEFAULTS`.
A config file bypasses argparse's type conversion, so every value is checked
here, whatever its source, and a bad one is reported as ``--name`` (with the
config file when it came from there).
"""

from __future__ import annotations

import json
import numbers
import os
from typing import Any

from ._settings import DEFAULT_ROUNDS

__all__ = ["DEFAULTS", "HELP_DEFAULTS", "BenchOptions", "resolve_options", "load_config"]

#: Defaults of options that neither the command line nor the config file set.
DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "labels": None, "embeddings_key": None, "labels_key": None,
    "noisy_labels": None, "noisy_labels_key": None, "test_size": 0.25,
    "test_embeddings": None, "test_labels": None, "split_seed": 0,
    "strategies": "random,probcover,npc", "filters": "none,aum", "noise_rate": [0.5],
    "noise_type": "symmetric", "seeds": 3, "rounds": None, "budget": None,
    "samples_per_class": None, "train_on": "clean", "backend": "loky", "scheduler": None,
    "scheduler_timeout": 10.0, "n_jobs": None, "out": None, "no_plot": False,
    "no_progress": False,
}

#: How ``--help`` states the default of an option whose default is derived or absent.
HELP_DEFAULTS: dict[str, str] = {
    "labels": "none; needed with --dataset PATH unless --labels-key names an array in it",
    "embeddings_key": "none: the file's only array",
    "labels_key": "none: the file's only array",
    "noisy_labels": "none: simulated noise at --noise-rate",
    "noisy_labels_key": "none: the file's only array",
    "test_embeddings": "none: split --test-size off the dataset",
    "test_labels": "none",
    "rounds": f"{DEFAULT_ROUNDS}, or the number of --budget / --samples-per-class values",
    "budget": "none: the samples-per-class schedule",
    "samples_per_class": "1 2 ... N for N = --rounds, the paper's schedule",
    "scheduler": "none: a new LocalCluster",
    "n_jobs": "all cores (loky), min(4, cores) workers (dask)",
    "out": "none: print the summary only",
    "no_plot": "off: write learning_curves.png with --out",
    "no_progress": "off: show a progress bar",
}

_CHOICES = {"noise_type": ("symmetric", "asymmetric"), "train_on": ("clean", "all"),
            "backend": ("loky", "dask", "sequential")}
_STRINGS = ("dataset", "labels", "embeddings_key", "labels_key", "noisy_labels",
            "noisy_labels_key", "test_embeddings", "test_labels", "scheduler", "out")
_COUNTS = ("seeds", "rounds", "n_jobs")
_LISTS = ("noise_rate", "budget", "samples_per_class")


class BenchOptions(dict):
    """Resolved options (a dict) that remember where each value came from."""

    def __init__(self, values: dict, sources: dict):
        super().__init__(values)
        self.sources = sources

    def name(self, key: str) -> str:
        """``--key-name``, with the config file when the value came from one."""
        flag = "--" + key.replace("_", "-")
        source = self.sources.get(key)
        return flag if source in (None, "command line", "default") else f"{flag} ({source})"

    def given(self, key: str) -> bool:
        """Whether the user set ``key`` (on the command line or in the config file)."""
        return self.sources.get(key) != "default"


def load_config(path: str) -> dict:
    """Read a JSON (or YAML) config file into ``{option_name: value}``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"--config: config file not found: {path}")
    if os.path.isdir(path):
        raise ValueError(f"--config {path} is a directory, not a file")
    with open(path) as fh:
        if path.lower().endswith((".yml", ".yaml")):
            try:
                import yaml
            except ImportError as exc:
                raise ValueError("YAML config files need PyYAML; use JSON instead") from exc
            try:
                cfg = yaml.safe_load(fh)
            except yaml.YAMLError as exc:
                raise ValueError(f"config file {path} is not valid YAML: {exc}") from exc
        else:
            try:
                cfg = json.load(fh)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ValueError(f"config file {path} is not valid JSON: {exc}") from exc
    if not isinstance(cfg, dict):
        raise ValueError(f"config file {path} must hold a mapping of option names to values")
    return {str(k).replace("-", "_"): v for k, v in cfg.items()}


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _comma_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise ValueError(f"{name} must be a comma-separated list of names, got {value!r}")
    items = [s.strip() for s in items if s.strip()]
    if not items:
        raise ValueError(f"{name} must name at least one entry")
    return items


def _check_value(key: str, value: Any, name: str) -> Any:
    """One option's value, checked and normalised; ``name`` is how to call it."""
    if value is None:
        return None
    if key in _STRINGS:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        return value
    if key in _CHOICES:
        if value not in _CHOICES[key]:
            raise ValueError(f"{name} must be {', '.join(_CHOICES[key][:-1])} or "
                             f"{_CHOICES[key][-1]}, got {value!r}")
        return value
    if key in _COUNTS:
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        return int(value)
    if key in ("strategies", "filters"):
        return _comma_list(value, name)
    if key in ("no_plot", "no_progress"):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if key == "split_seed":
        if not _is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        return int(value)
    if key == "test_size":
        if not _is_real(value) or not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
        return float(value)
    if key == "scheduler_timeout":
        if not _is_real(value) or not 0 < value < float("inf"):
            raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        return float(value)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise ValueError(f"{name} needs at least one value")
    if key == "noise_rate":
        if not all(_is_real(v) and 0 <= v <= 1 for v in values):
            raise ValueError(f"{name} must be numbers in [0, 1], got {value!r}")
        return [float(v) for v in values]
    if key == "budget":
        # No int(): a budget of 20.5 labels is a mistake, not 20.
        if not all(_is_int(v) and v >= 1 for v in values):
            raise ValueError(f"{name} must be positive integers (labels per round), got {value!r}")
        return [int(v) for v in values]
    if key == "samples_per_class":
        if not all(_is_real(v) and v > 0 for v in values) or any(
                b <= a for a, b in zip(values, values[1:])):
            raise ValueError(f"{name} must be positive and strictly increasing (cumulative "
                             f"targets such as 1 2 3 4 5), got {value!r}")
        return [float(v) for v in values]
    raise AssertionError(f"no check for option {key!r}")  # a new option without a check


def resolve_options(args: Any) -> BenchOptions:
    """Command line > config file > :data:`DEFAULTS`, every value checked.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line (``None`` for options not given).

    Returns
    -------
    opts : BenchOptions
        Every option of :data:`DEFAULTS`, with ``rounds`` and the budget
        schedule filled in.

    Raises
    ------
    ValueError
        Naming the option at fault (and the config file it came from).
    """
    config_path = getattr(args, "config", None)
    cfg = load_config(config_path) if config_path else {}
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"unknown option(s) in the config file: {unknown}; "
                         f"valid: {sorted(DEFAULTS)}")
    values, sources = {}, {}
    for key, default in DEFAULTS.items():
        value = getattr(args, key, None)
        if value is not None:
            values[key], sources[key] = value, "command line"
        elif key in cfg and cfg[key] is not None:
            values[key], sources[key] = cfg[key], f"config file {config_path}"
        else:
            values[key], sources[key] = default, "default"
    opts = BenchOptions(values, sources)
    for key in DEFAULTS:
        opts[key] = _check_value(key, opts[key], opts.name(key))
    _check_combinations(opts)
    _fill_schedule(opts)
    return opts


def _check_combinations(opts: BenchOptions) -> None:
    """Options that only mean something together: fail rather than ignore one."""
    if opts["budget"] is not None and opts["samples_per_class"] is not None:
        raise ValueError(f"give {opts.name('budget')} or {opts.name('samples_per_class')}, "
                         "not both")
    if opts["scheduler"] is not None and opts["backend"] != "dask":
        raise ValueError(f"{opts.name('scheduler')} needs --backend dask "
                         f"(the backend is {opts['backend']})")
    if opts["dataset"] == "digits":
        extra = [opts.name(k) for k in ("labels", "embeddings_key", "labels_key")
                 if opts[k] is not None]
        if extra:
            raise ValueError(f"{', '.join(extra)}: only used with --dataset PATH, "
                             "not the bundled digits")
    pairs = (("noisy_labels_key", "noisy_labels"), ("test_labels", "test_embeddings"),
             ("test_embeddings", "test_labels"))
    for key, needs in pairs:
        if opts[key] is not None and opts[needs] is None:
            raise ValueError(f"{opts.name(key)} needs {opts.name(needs)}")
    if opts["test_embeddings"] is not None and opts.given("test_size"):
        raise ValueError(f"{opts.name('test_size')} and {opts.name('test_embeddings')} "
                         "exclude each other: the test set is either split off or given")


def _fill_schedule(opts: BenchOptions) -> None:
    """Fill ``rounds`` and, with no budget, the paper's samples-per-class schedule."""
    rounds, budget, spc = opts["rounds"], opts["budget"], opts["samples_per_class"]
    for key, values in (("samples_per_class", spc), ("budget", budget)):
        # A samples-per-class list is one cumulative target per round; a
        # single budget is repeated, a list of them is one per round.
        if values is not None and (key == "samples_per_class" or len(values) > 1):
            if rounds is not None and rounds != len(values):
                raise ValueError(f"{opts.name('rounds')} {rounds} does not match the "
                                 f"{len(values)} value(s) of {opts.name(key)}")
            opts["rounds"] = len(values)
            return
    if rounds is None:
        opts["rounds"] = rounds = DEFAULT_ROUNDS
    if budget is None:
        opts["samples_per_class"] = [float(s) for s in range(1, rounds + 1)]
