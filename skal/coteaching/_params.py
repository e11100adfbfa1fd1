"""Parameters of the classifier: declared constraints, set_params, the device, seeding.

The constraints are checked when the networks are built (``fit``,
``partial_fit``, ``initialize``), with scikit-learn's messages.

``device="auto"`` is stored as given (so that ``get_params`` and ``clone``
see the parameter unchanged) and resolved when the networks are built, to
``"cuda"`` when CUDA is available and ``"cpu"`` otherwise. skorch reads
``self.device`` in a few places of its own (moving modules, loading
parameters, unpickling); ``_Parameters._device_resolved`` shows those
places the resolved device for the duration of one call.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from skorch import NeuralNetClassifier

_COMPONENT = [callable]  # a class, a factory, or an instance (instances are callable too)


def auto_device() -> str:
    """``"cuda"`` when CUDA is available, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device):
    """The device a ``device`` parameter asks for; ``ValueError`` naming it otherwise."""
    if device is None or isinstance(device, torch.device):
        return device
    if device == "auto":
        return auto_device()
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', None or a torch device such as 'cpu' or 'cuda:0', "
            f"got {device!r}"
        ) from exc
    return device


@contextlib.contextmanager
def torch_seeded(seed: int | None) -> Iterator[None]:
    """Run a block with torch's global generators seeded, restoring them afterwards.

    Weight initialisation, shuffling and dropout draw from torch's global
    generators; forking them keeps a seeded fit from changing the caller's
    random state.
    """
    if seed is None:
        yield
        return
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


class _Parameters:
    """Parameter handling, device resolution and seeding (mixed into the classifier)."""

    _parameter_constraints: dict = {
        "module": _COMPONENT,
        "module2": [*_COMPONENT, None],
        "forget_rate": [Interval(Real, 0, 1, closed="left")],
        "num_gradual": [Interval(Integral, 0, None, closed="left")],
        "exponent": [Interval(Real, 0, None, closed="neither")],
        "epoch_decay_start": [Interval(Integral, 0, None, closed="left"), None],
        "min_batch_size": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "predict_with": [StrOptions({"module1", "mean"})],
        "variant": [StrOptions({"coteaching", "plus"})],
        "fused": ["boolean"],
        "random_state": ["random_state"],
        "criterion": _COMPONENT,
        "optimizer": _COMPONENT,
        "lr": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "iterator_train": _COMPONENT,
        "iterator_valid": _COMPONENT,
        "dataset": _COMPONENT,
        "train_split": [callable, None],
        "callbacks": [list, StrOptions({"disable"}), None],
        "predict_nonlinearity": [callable, StrOptions({"auto"}), None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "device": [str, torch.device, None],
        "compile": ["boolean"],
        "use_caching": ["boolean", StrOptions({"auto"})],
        "torch_load_kwargs": [dict, None],
        "classes": ["array-like", None],
    }

    def __setattr__(self, name, value):
        # Parameters are never torch components to register: skorch would
        # refuse set_params(module=<instance>) before the first fit.
        if name.endswith("_"):
            super().__setattr__(name, value)
        else:
            object.__setattr__(self, name, value)

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore; private
        # bookkeeping (_params_to_validate) is not a parameter
        return [k for k in vars(self) if not k.endswith("_") and not k.startswith("_")]

    def _check_params(self) -> None:
        """Check the parameters against ``_parameter_constraints`` (scikit-learn's messages)."""
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        check_device(self.__dict__.get("device"))

    def set_params(self, **kwargs):
        """Set parameters, as skorch does, before or after ``fit``.

        A learning rate changed on a fitted net becomes the new base rate of
        the learning-rate plan from the next ``fit`` / ``partial_fit`` on.

        Returns
        -------
        self
        """
        if not self.initialized_ and "callbacks" in kwargs:
            # skorch builds the callbacks on set_params(callbacks=...); before
            # the first fit that only checks them early (and raises on a bad
            # value, where scikit-learn expects validation at fit)
            self.callbacks = kwargs.pop("callbacks")
        # skorch sets `optimizer__x` on a live optimizer only ("virtual"
        # parameters), so get_params and the next fit from scratch would still
        # use the old value; store it as the parameter too
        stored = {k: v for k, v in kwargs.items()
                  if self._is_virtual_param(k) and "__" in k and "param_groups" not in k}
        with self._device_resolved():
            super().set_params(**kwargs)
        vars(self).update(stored)
        self._params_to_validate |= set(stored)
        if "device" in kwargs:  # the context put the previous value back
            self.__dict__["device"] = kwargs["device"]
        if self.initialized_:
            shared = [k for k in ("lr", "optimizer__lr") if k in kwargs]
            own = NeuralNetClassifier.get_params_for(self, "optimizer2")  # optimizer2__* only
            if shared and "lr" not in own:
                # optimizer__* parameters reach both optimizers
                for group in self.optimizer2_.param_groups:
                    group["lr"] = kwargs[shared[-1]]
            for key in kwargs:
                if key == "lr" or (key.startswith("optimizer") and key.endswith("lr")):
                    for opt in self.coteaching_optimizers():
                        for group in opt.param_groups:
                            group.pop("initial_lr", None)
        return self

    def load_params(self, *args, **kwargs):
        """skorch's ``load_params``, onto the resolved device (see :meth:`compute_device`)."""
        with self._device_resolved():
            return super().load_params(*args, **kwargs)

    def __setstate__(self, state):
        # a net pickled by an earlier version of skal lacks the parameters
        # added since (random_state, ...): they get their defaults
        defaults = {name: p.default
                    for name, p in inspect.signature(type(self).__init__).parameters.items()
                    if p.default is not p.empty and name not in state}
        state = {**defaults, **state}
        requested = state.get("device")
        if not (isinstance(requested, str) and requested == "auto"):
            super().__setstate__(state)
            return
        # "auto" loads onto whatever this machine has, without skorch's
        # warning about a missing CUDA device
        state = dict(state, device=check_device("auto"))
        super().__setstate__(state)
        self.device_ = self.__dict__["device"]
        self.__dict__["device"] = requested

    def compute_device(self):
        """The device the networks live on: ``device`` with ``"auto"`` resolved.

        Returns
        -------
        device : str, torch.device or None
            ``device_`` once the networks are built; before that, what
            ``device`` asks for.
        """
        requested = self.__dict__.get("device")
        if isinstance(requested, str) and requested == "auto":
            fitted = self.__dict__.get("device_")
            return fitted if fitted is not None else auto_device()
        return requested

    @contextlib.contextmanager
    def _device_resolved(self) -> Iterator[None]:
        # Shows skorch's own code the resolved device for one call; the stored
        # parameter is put back afterwards, even on error.
        requested = self.__dict__.get("device")
        if not (isinstance(requested, str) and requested == "auto"):
            yield
            return
        self.__dict__["device"] = self.compute_device()
        try:
            yield
        finally:
            self.__dict__["device"] = requested

    def _seed(self, n_epochs_done: int) -> int | None:
        # An int random_state gives the same seed to every fit from scratch
        # (fit twice, same model) and a different, reproducible one to each
        # continuation, keyed by the epochs already trained.
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral):
            base = int(self.random_state)
        else:
            base = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return int(np.random.SeedSequence([base, int(n_epochs_done)]).generate_state(1)[0])

    @contextlib.contextmanager
    def _training_run(self, n_epochs_done: int) -> Iterator[None]:
        with self._device_resolved(), torch_seeded(self._seed(n_epochs_done)):
            yield
