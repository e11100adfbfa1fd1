"""Where and how reproducibly the classifier runs: the ``"auto"`` device and seeded fits.

``device="auto"`` is stored as given (so that ``get_params`` and ``clone``
see the parameter unchanged) and resolved when the networks are built, to
``"cuda"`` when CUDA is available and ``"cpu"`` otherwise. skorch reads
``self.device`` in a few places of its own (moving modules, loading
parameters, unpickling); :meth:`_Runtime._device_resolved` shows those
places the resolved device for the duration of one call.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state


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


class _Runtime:
    """Device resolution and seeding (mixed into the classifier)."""

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
        if isinstance(self.random_state, numbers.Integral):
            base = int(self.random_state)
        else:
            base = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return int(np.random.SeedSequence([base, int(n_epochs_done)]).generate_state(1)[0])

    @contextlib.contextmanager
    def _training_run(self, n_epochs_done: int) -> Iterator[None]:
        with self._device_resolved(), torch_seeded(self._seed(n_epochs_done)):
            yield
