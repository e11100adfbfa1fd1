"""Noise settings and budget schedules of the benchmark runner."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["NoiseSetting", "parse_noise", "samples_per_class_schedule", "budget_schedule",
           "DEFAULT_ROUNDS"]

#: Rounds of a run that gives no other length (the paper's 5 rounds, 1..5 samples per class).
DEFAULT_ROUNDS = 5


@dataclass
class NoiseSetting:
    """One annotator-noise setting of a benchmark grid.

    Parameters
    ----------
    noise_type : str
        ``"symmetric"``, ``"asymmetric"`` or ``"transition"`` (simulated, see
        :func:`skal.noise.make_noisy_labels`), or ``"real"`` for a fixed
        noisy-label vector.
    noise_rate : float
        The nominal rate of simulated noise; for ``"real"`` the realised rate
        of ``y_noisy`` over the pool (filled in by the runner).
    y_noisy : ndarray or None
        The fixed noisy labels of the pool (``"real"`` only).
    transition_matrix : dict, array or None
        See :func:`skal.noise.make_noisy_labels`.
    name : str or None
        A label for reports (e.g. ``"cifar10n-worse"``); defaults to the type.
    """

    noise_type: str = "symmetric"
    noise_rate: float = 0.0
    y_noisy: Any = field(default=None, repr=False)
    transition_matrix: Any = field(default=None, repr=False)
    name: str | None = None

    @property
    def label(self) -> str:
        """``name`` or ``noise_type``."""
        return self.name or self.noise_type

    def describe(self) -> dict:
        """JSON-friendly description (the noisy-label vector itself left out)."""
        out = {"noise_type": self.noise_type, "noise_rate": float(self.noise_rate),
               "name": self.label}
        if self.transition_matrix is not None:
            tm = self.transition_matrix
            out["transition_matrix"] = ({str(k): _plain(v) for k, v in tm.items()}
                                        if isinstance(tm, Mapping) else np.asarray(tm).tolist())
        return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


_SIMULATED = ("symmetric", "asymmetric", "transition")


def parse_noise(noise: Any) -> list[NoiseSetting]:
    """Normalise the ``noise`` argument of :func:`run_benchmark`.

    Parameters
    ----------
    noise : float, NoiseSetting, dict, tuple, or a sequence of those
        A float is a symmetric rate; ``(noise_type, rate)`` a simulated
        setting; a dict holds :class:`NoiseSetting` fields (``{"noise_type":
        "real", "y_noisy": array, "name": "cifar10n"}``).

    Returns
    -------
    settings : list of NoiseSetting
    """
    if isinstance(noise, (str, bytes)):
        raise TypeError(f"noise must be a rate, a setting or a list of them, got {noise!r}")
    if isinstance(noise, (numbers.Real, NoiseSetting, Mapping)) or (
            isinstance(noise, tuple) and len(noise) == 2 and isinstance(noise[0], str)):
        noise = [noise]
    out = []
    for item in noise:
        if isinstance(item, NoiseSetting):
            setting = item
        elif isinstance(item, Mapping):
            unknown = set(item) - {"noise_type", "noise_rate", "y_noisy", "transition_matrix", "name"}
            if unknown:
                raise ValueError(f"unknown noise setting key(s) {sorted(unknown)}")
            setting = NoiseSetting(**item)
        elif isinstance(item, tuple) and len(item) == 2:
            setting = NoiseSetting(noise_type=item[0], noise_rate=item[1])
        elif isinstance(item, numbers.Real) and not isinstance(item, bool):
            setting = NoiseSetting(noise_rate=float(item))
        else:
            raise TypeError(f"cannot read a noise setting from {item!r}")
        if setting.noise_type == "real":
            if setting.y_noisy is None:
                raise ValueError("a 'real' noise setting needs y_noisy (the noisy-label vector)")
        elif setting.noise_type not in _SIMULATED:
            raise ValueError(
                f"noise_type must be one of {list(_SIMULATED) + ['real']}, got {setting.noise_type!r}"
            )
        elif setting.y_noisy is not None:
            raise ValueError("y_noisy is only used with noise_type='real'")
        rate = setting.noise_rate
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) \
                or not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"noise_rate must be a number in [0, 1], got {rate!r}")
        setting.noise_rate = float(rate)
        out.append(setting)
    if not out:
        raise ValueError("noise must hold at least one setting")
    return out


def samples_per_class_schedule(samples_per_class: Sequence[float], n_classes: int,
                               noise_rate: float = 0.0) -> list[int]:
    """Per-round budgets of the paper's samples-per-class schedule.

    ``samples_per_class`` lists *cumulative* targets, one per round: after
    round ``t`` the labeled set holds ``T_t = ceil(spc_t * C / (1 - r))``
    labels, so that about ``spc_t`` labels per class are expected to be
    correct under noise rate ``r``. Round ``t`` buys ``B_t = T_t - T_{t-1}``
    (``T_0 = 0``).

    Parameters
    ----------
    samples_per_class : sequence of float
        Strictly increasing cumulative targets, e.g. ``[1, 2, 3, 4, 5]``.
    n_classes : int
        ``C``.
    noise_rate : float in [0, 1), default=0.0
        ``r``.

    Returns
    -------
    budgets : list of int
        ``B_t`` for every round (all positive).

    Examples
    --------
    >>> samples_per_class_schedule([1, 2, 3, 4, 5], 10, 0.5)
    [20, 20, 20, 20, 20]
    >>> samples_per_class_schedule([1, 2], 10, 0.3)
    [15, 14]
    """
    if not 0.0 <= noise_rate < 1.0:
        raise ValueError(f"the samples-per-class schedule needs a noise rate in [0, 1), got {noise_rate}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be positive, got {n_classes}")
    spc = [float(s) for s in samples_per_class]
    if not spc or spc[0] <= 0 or any(b <= a for a, b in zip(spc, spc[1:])):
        raise ValueError(
            f"samples_per_class must be positive and strictly increasing (cumulative targets), got {spc}"
        )
    # Rounding before ceil keeps float error (10 / (1 - 0.9) = 100.00000000000003)
    # from buying one label too many.
    targets = [math.ceil(round(s * n_classes / (1.0 - noise_rate), 9)) for s in spc]
    budgets = [b - a for a, b in zip([0] + targets[:-1], targets)]
    if min(budgets) < 1:
        raise ValueError(f"samples_per_class {spc} gives an empty round (targets {targets})")
    return budgets


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def budget_schedule(*, n_rounds: int | None = None, budget: int | Sequence[int] | None = None,
                    samples_per_class: Sequence[float] | None = None, n_classes: int | None = None,
                    noise_rate: float = 0.0) -> list[int]:
    """Per-round budgets from a fixed budget or a samples-per-class schedule.

    Parameters
    ----------
    n_rounds : int, optional
        Number of rounds; must match the length of a sequence ``budget`` or
        of ``samples_per_class``. Otherwise :data:`DEFAULT_ROUNDS` (5).
    budget : int or sequence of int, optional
        Labels bought per round (the same every round, or one per round).
    samples_per_class : sequence of float, optional
        Cumulative targets, see :func:`samples_per_class_schedule`. When
        neither ``budget`` nor ``samples_per_class`` is given, the paper's
        schedule ``1, 2, ..., n_rounds`` is used.
    n_classes : int, optional
        Needed with ``samples_per_class`` (and the default schedule).
    noise_rate : float, default=0.0
        Used by ``samples_per_class`` only.

    Returns
    -------
    budgets : list of int

    Examples
    --------
    >>> budget_schedule(n_rounds=3, budget=25)
    [25, 25, 25]
    >>> budget_schedule(n_rounds=3, n_classes=10, noise_rate=0.5)
    [20, 20, 20]
    """
    if budget is not None and samples_per_class is not None:
        raise ValueError("give exactly one of budget and samples_per_class")
    if n_rounds is not None:
        n_rounds = _check_count(n_rounds, "n_rounds")
    if budget is None:
        if samples_per_class is None:
            # The paper's schedule: one more expected-clean label per class each round.
            samples_per_class = list(range(1, (n_rounds or DEFAULT_ROUNDS) + 1))
        if isinstance(samples_per_class, (str, bytes)) or not isinstance(
                samples_per_class, (Sequence, np.ndarray)):
            raise ValueError(f"samples_per_class must be a sequence of numbers, "
                             f"got {samples_per_class!r}")
        bad = [s for s in samples_per_class
               if isinstance(s, bool) or not isinstance(s, numbers.Real)]
        if bad:
            raise ValueError(f"samples_per_class must hold numbers, got {list(samples_per_class)}")
        if n_classes is None:
            raise ValueError("samples_per_class needs n_classes")
        budgets = samples_per_class_schedule(samples_per_class, n_classes, noise_rate)
    elif isinstance(budget, numbers.Integral) and not isinstance(budget, bool):
        budgets = [_check_count(budget, "budget")] * (n_rounds or DEFAULT_ROUNDS)
    elif isinstance(budget, (Sequence, np.ndarray)) and not isinstance(budget, (str, bytes)):
        # Checked before any int(): 20.5 must not quietly become 20.
        budgets = [_check_count(b, "every budget") for b in budget]
    else:
        raise ValueError(f"budget must be a positive integer or a sequence of them, got {budget!r}")
    if not budgets:
        raise ValueError("the budget schedule is empty")
    if n_rounds is not None and len(budgets) != n_rounds:
        raise ValueError(f"the budget schedule has {len(budgets)} rounds but n_rounds={n_rounds}")
    return budgets
