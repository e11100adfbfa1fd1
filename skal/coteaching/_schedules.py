"""The per-epoch plans of Co-Teaching: forget rate, learning rate, Adam beta1."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .._validation import check_fraction

__all__ = ["forget_rate_scheduler", "learning_rate_plan"]


def _check_non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def forget_rate_scheduler(epochs: int, forget_rate: float, num_gradual: int,
                          exponent: float = 1) -> np.ndarray:
    """Per-epoch forget rates: a ramp from 0 up to ``forget_rate``, then flat.

    Epoch ``t`` gets ``forget_rate * (t / (num_gradual - 1)) ** exponent`` for
    ``t < num_gradual`` and ``forget_rate`` afterwards. With ``exponent=1``
    this is the linear ramp of the Co-Teaching paper (``linspace(0,
    forget_rate, num_gradual)``); other exponents bend the ramp but it still
    ends at ``forget_rate``, so the schedule never jumps (the reference ramps
    to ``forget_rate ** exponent`` and then jumps to ``forget_rate``).

    Parameters
    ----------
    epochs : int
        Number of epochs; the result has this length. It may be smaller than
        ``num_gradual``, in which case the ramp is cut short.
    forget_rate : float
        Target fraction of each mini-batch to drop, in [0, 1].
    num_gradual : int
        Length of the ramp in epochs. ``0`` starts at ``forget_rate``
        directly; ``1`` gives a single epoch at 0.
    exponent : float, default=1
        Shape of the ramp (``c`` in the paper); must be > 0.

    Returns
    -------
    schedule : ndarray of shape (epochs,)
        Forget rate for each epoch, non-decreasing.

    Examples
    --------
    >>> forget_rate_scheduler(6, 0.4, 3, 1)
    array([0. , 0.2, 0.4, 0.4, 0.4, 0.4])
    >>> forget_rate_scheduler(2, 0.4, 5, 1)
    array([0. , 0.1])
    """
    epochs = _check_non_negative_int(epochs, "epochs")
    num_gradual = _check_non_negative_int(num_gradual, "num_gradual")
    forget_rate = check_fraction(forget_rate, "forget_rate")
    if isinstance(exponent, bool) or not isinstance(exponent, numbers.Real) \
            or not math.isfinite(exponent) or exponent <= 0:
        raise ValueError(f"exponent must be a finite number > 0, got {exponent!r}")
    schedule = np.full(epochs, forget_rate, dtype=np.float64)
    n_ramp = min(epochs, num_gradual)
    if n_ramp:
        # fraction of the ramp done at each epoch; a one-epoch ramp is just 0
        t = np.arange(n_ramp, dtype=np.float64)
        progress = t / (num_gradual - 1) if num_gradual > 1 else np.zeros(n_ramp)
        schedule[:n_ramp] = forget_rate * progress ** float(exponent)
    return schedule


def learning_rate_plan(epochs: int, epoch_decay_start: int, *, beta1: float = 0.9,
                       beta1_decayed: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Learning-rate factors and Adam beta1 values of the Co-Teaching paper.

    Up to ``epoch_decay_start`` the learning rate is the base rate and beta1
    is 0.9. From then on beta1 is 0.1 and the learning rate decays linearly,
    ``(epochs - t) / (epochs - epoch_decay_start)`` times the base rate at
    epoch ``t``, reaching zero at epoch ``epochs``.

    Parameters
    ----------
    epochs : int
        Total number of epochs.
    epoch_decay_start : int
        First epoch of the decay phase. Values ``>= epochs`` mean no decay.
    beta1 : float, default=0.9
        Adam's beta1 before the decay phase.
    beta1_decayed : float, default=0.1
        Adam's beta1 during the decay phase.

    Returns
    -------
    lr_factor : ndarray of shape (epochs,)
        Multiplier of each parameter group's base learning rate.
    beta1 : ndarray of shape (epochs,)
        Adam beta1 per epoch.

    Examples
    --------
    >>> f, b = learning_rate_plan(4, 2)
    >>> f.tolist(), b.tolist()
    ([1.0, 1.0, 1.0, 0.5], [0.9, 0.9, 0.1, 0.1])
    """
    epochs = _check_non_negative_int(epochs, "epochs")
    start = _check_non_negative_int(epoch_decay_start, "epoch_decay_start")
    t = np.arange(epochs, dtype=np.float64)
    factor = np.ones(epochs)
    betas = np.full(epochs, float(beta1))
    if start < epochs:
        decay = t >= start
        factor[decay] = (epochs - t[decay]) / (epochs - start)
        betas[decay] = float(beta1_decayed)
    return factor, betas


class _SchedulePlans:
    """The classifier's per-epoch plan lookups (mixed into the classifier)."""

    def _epoch_decay_start(self) -> int:
        if self.epoch_decay_start is None:
            return int(round(0.4 * self.max_epochs))
        return int(self.epoch_decay_start)

    def forget_rate_at(self, epoch: int) -> float:
        """Forget rate of the 0-based ``epoch`` (epochs past the ramp keep the target).

        Parameters
        ----------
        epoch : int
            0-based epoch index, counted over all ``partial_fit`` calls since
            the last (re)initialisation.

        Returns
        -------
        rate : float
        """
        return float(forget_rate_scheduler(epoch + 1, self.forget_rate, self.num_gradual,
                                           self.exponent)[epoch])

    def learning_rate_plan_at(self, epoch: int) -> tuple[float, float]:
        """Learning-rate factor and Adam beta1 of the 0-based ``epoch``.

        Epochs beyond ``max_epochs`` (continued ``partial_fit``) keep a factor
        of 0 once the decay has started.

        Parameters
        ----------
        epoch : int
            0-based epoch index.

        Returns
        -------
        factor, beta1 : float
        """
        start = self._epoch_decay_start()
        total = int(self.max_epochs)
        if epoch < min(start, total) or start >= total:
            return 1.0, 0.9
        factor, betas = learning_rate_plan(total, start)
        if epoch < total:
            return float(factor[epoch]), float(betas[epoch])
        return 0.0, float(betas[-1])

    def current_forget_rate(self) -> float:
        """Forget rate of the running epoch, as recorded by the schedule callback.

        Returns
        -------
        rate : float
        """
        row = self.history[-1] if self.history is not None and len(self.history) else {}
        if "forget_rate" in row:
            return float(row["forget_rate"])
        n_epochs = len(self.history) if self.history is not None else 0
        return self.forget_rate_at(max(n_epochs - 1, 0))
