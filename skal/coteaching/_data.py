"""Data loading of the Co-Teaching classifier: whole-batch indexing, small batches skipped.

skorch's default ``DataLoader`` fetches one row at a time and collates the
rows; for in-memory arrays and small networks that costs as much as the
training step. :class:`_TrainingData` keeps skorch's ``Dataset`` and batch
semantics but indexes whole batches at once, and leaves out training batches
below ``min_batch_size`` (a handful of samples gives a noisy small-loss
ranking).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np
import torch
from skorch.dataset import Dataset as SkorchDataset
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, Subset
from torch.utils.data import Dataset as TorchDataset


class _SkipSmallBatches:
    """Iterate over a data loader, leaving out batches below a minimum size."""

    def __init__(self, loader, min_size: int) -> None:
        self.loader = loader
        self.min_size = min_size
        self.skipped = 0

    def __iter__(self) -> Iterator:
        self.skipped = 0
        for batch in self.loader:
            Xi = batch[0] if isinstance(batch, (tuple, list)) else batch
            if _batch_len(Xi) < self.min_size:
                self.skipped += 1
                continue
            yield batch

    def __len__(self) -> int:
        return len(self.loader)


class _ArrayBatchSampler(BatchSampler):
    """A BatchSampler yielding index arrays: indexing code type-checks lists per element."""

    def __iter__(self) -> Iterator[np.ndarray]:
        for batch in super().__iter__():
            yield np.asarray(batch, dtype=np.int64)


class _BatchIndexedArrays(TorchDataset):
    """In-memory ``X`` / ``y`` indexed a whole batch at a time.

    Holds the same arrays as skorch's ``Dataset`` (as tensors sharing their
    memory) and returns ``(X[idx], y[idx])`` for an index array; ``indices``
    maps positions of a ``Subset`` to rows.
    """

    def __init__(self, X, y, indices: np.ndarray | None = None) -> None:
        self.X = torch.as_tensor(X)
        self.y = None if y is None else torch.as_tensor(y)
        self.indices = None if indices is None else torch.as_tensor(indices, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.indices) if self.indices is not None else len(self.X)

    def __getitem__(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.long)
        if self.indices is not None:
            idx = self.indices[idx]
        Xb = self.X[idx]
        # skorch puts a 0 in place of a missing y; keep one per row
        yb = torch.zeros(len(idx)) if self.y is None else self.y[idx]
        return Xb, yb


class _InMemoryLoader:
    """Batches of a :class:`_BatchIndexedArrays`, in the order of a batch sampler."""

    def __init__(self, arrays: _BatchIndexedArrays, batches: BatchSampler) -> None:
        self.arrays = arrays
        self.batches = batches

    def __iter__(self) -> Iterator:
        for idx in self.batches:
            yield self.arrays[idx]

    def __len__(self) -> int:
        return len(self.batches)


def _batch_len(Xi) -> int:
    if isinstance(Xi, dict):
        Xi = next(iter(Xi.values()))
    if isinstance(Xi, (tuple, list)):
        Xi = Xi[0]
    return len(Xi)


class _TrainingData:
    """The classifier's data-loading methods (mixed into the classifier)."""

    def get_dataset(self, X, y=None):
        """skorch's dataset, with float64 arrays cast to the networks' float32."""
        if isinstance(X, np.ndarray) and X.dtype == np.float64:
            X = X.astype(np.float32)
        return super().get_dataset(X, y)

    def effective_min_batch_size(self, n_train: int) -> int:
        """``min_batch_size`` clamped to the training-set and batch sizes.

        Parameters
        ----------
        n_train : int
            Number of training samples.

        Returns
        -------
        size : int
            Batches smaller than this are skipped.
        """
        size = int(self.min_batch_size)
        if isinstance(self.batch_size, numbers.Integral) and self.batch_size > 0:
            size = min(size, int(self.batch_size))
        return max(1, min(size, int(n_train)))

    def get_iterator(self, dataset, training: bool = False):
        """skorch's iterator, fetching whole batches at once where that is safe.

        For skorch's own ``Dataset`` over in-memory arrays (or a ``Subset`` of
        one) and the default ``DataLoader`` without a custom sampler or
        collate function, the loader asks the dataset for a whole batch of
        indices at a time instead of one row at a time: the same batches (and
        the same ``shuffle`` / ``drop_last`` semantics), without per-row
        indexing and collation, which cost as much as a small network's step.
        In training, batches below the minimum size are left out.
        """
        iterator = self.batch_indexing_iterator(dataset, training=training)
        if iterator is None:
            iterator = super().get_iterator(dataset, training=training)
        if training:
            iterator = _SkipSmallBatches(iterator, self.effective_min_batch_size(len(dataset)))
        return iterator

    def batch_indexing_iterator(self, dataset, training: bool = False):
        """A ``DataLoader`` that indexes whole batches, or ``None`` when unsafe.

        Parameters
        ----------
        dataset : torch Dataset
        training : bool, default=False

        Returns
        -------
        loader : DataLoader or None
        """
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        base = dataset.dataset if isinstance(dataset, Subset) else dataset
        in_memory = (np.ndarray, torch.Tensor)
        if (iterator is not DataLoader or type(base) is not SkorchDataset
                or not isinstance(base.X, in_memory)
                or not (base.y is None or isinstance(base.y, in_memory))
                or {"sampler", "batch_sampler", "collate_fn"} & set(kwargs)):
            return None
        batch_size = kwargs.pop("batch_size", self.batch_size)
        if batch_size == -1:
            batch_size = len(dataset)
        shuffle = kwargs.pop("shuffle", False)
        drop_last = kwargs.pop("drop_last", False)
        generator = kwargs.pop("generator", None)
        indices = np.asarray(dataset.indices) if isinstance(dataset, Subset) else None
        arrays = _BatchIndexedArrays(base.X, base.y, indices)
        sampler = RandomSampler(arrays, generator=generator) if shuffle else SequentialSampler(arrays)
        batches = _ArrayBatchSampler(sampler, int(batch_size), drop_last)
        if not kwargs:
            # nothing for a DataLoader to do (no workers, no pinning): iterate
            # directly and save its per-batch machinery
            return _InMemoryLoader(arrays, batches)
        # batch_size=None turns off per-row collation: each "index" the
        # loader draws is a whole array of row indices
        return DataLoader(arrays, batch_size=None, sampler=batches, **kwargs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """Run one epoch and record how many training batches were skipped."""
        super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        if training and isinstance(iterator, _SkipSmallBatches):
            self.history.record("train_batches_skipped", iterator.skipped)
