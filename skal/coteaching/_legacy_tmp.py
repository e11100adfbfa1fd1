"""Co-Teaching (Han et al., NeurIPS 2018) as a skorch / scikit-learn estimator.

Two networks train side by side. On every mini-batch each network ranks the
samples by its own cross-entropy and hands the ``k = floor((1 - r) n)``
smallest-loss ones to the *other* network, which is updated on them only.
Because the two networks start from different random weights they make
different mistakes, so each filters label noise that the other would have
memorised. ``r``, the forget rate, ramps up over the first epochs (networks fit
clean patterns before noisy ones, so early on there is little to forget).

Public names:

- :func:`forget_rate_scheduler` -- the per-epoch forget-rate schedule;
- :func:`loss_coteaching` -- the small-loss exchange on one mini-batch, with
  the Co-Teaching+ variant (Yu et al., 2019) as an option;
- :func:`learning_rate_plan` -- the per-epoch learning-rate factor and Adam
  beta1 of the paper;
- :class:`CoTeachingSchedule` -- the callback that applies both plans;
- :class:`CoTeachingClassifier` -- the estimator.

Compared with the cleanlab port (``cleanlab/experimental/coteaching.py``) this
module divides each loss by the kept samples once (the port divides the
already averaged loss by ``k`` again), switches Adam's beta1 to 0.1 at
``epoch_decay_start`` (the port sets 0.9 twice), never builds a schedule longer
than the number of epochs, and ends the forget-rate ramp at the target rate so
the schedule has no jump.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import math
import numbers
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochScoring, PassthroughScoring, PrintLog
from skorch.dataset import Dataset as SkorchDataset
from skorch.dataset import unpack_data
from skorch.utils import TeeGenerator, to_numpy, to_tensor
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, Subset
from torch.utils.data import Dataset as TorchDataset

from ._validation import check_finite_inputs, check_fraction, check_labels

__all__ = [
    "forget_rate_scheduler",
    "loss_coteaching",
    "learning_rate_plan",
    "CoTeachingSchedule",
    "CoTeachingClassifier",
]


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


# resolved once at import, so that the stored parameter (and clones) is a
# plain string, as scikit-learn's clone expects
_DEFAULT_DEVICE = _default_device()


# ---------------------------------------------------------------------------
# schedules
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# the loss
# ---------------------------------------------------------------------------

def _n_kept(n: int, forget_rate: float) -> int:
    # floor((1 - r) n), but at least one sample so that a network always gets
    # an update from a non-empty batch (r close to 1 or tiny batches)
    return max(1, int(math.floor((1.0 - forget_rate) * n + 1e-9))) if n else 0


def _weighted_mean(loss: torch.Tensor, t: torch.Tensor,
                   class_weights: torch.Tensor | None) -> torch.Tensor:
    if class_weights is None:
        return loss.mean()
    w = class_weights[t]
    # torch's convention for weighted cross-entropy: normalise by the weights
    # of the samples used, so the scale does not depend on the batch mix
    return (loss * w).sum() / w.sum().clamp_min(torch.finfo(loss.dtype).tiny)


def loss_coteaching(y_1: torch.Tensor, y_2: torch.Tensor, t: torch.Tensor,
                    forget_rate: float, class_weights: torch.Tensor | None = None, *,
                    plus: bool = False, return_indices: bool = False):
    """Co-Teaching losses of two networks on one mini-batch.

    Each network's per-sample cross-entropy ranks the batch; the
    ``k = max(1, floor((1 - forget_rate) * n))`` samples with the smallest loss
    under network 2 are the ones network 1 is trained on, and vice versa. Each
    returned loss is the mean cross-entropy over those ``k`` samples (weighted
    by ``class_weights`` when given), not divided by ``k`` a second time.

    Parameters
    ----------
    y_1, y_2 : Tensor of shape (n_samples, n_classes)
        Logits of network 1 and network 2.
    t : Tensor of shape (n_samples,)
        Integer class codes (the possibly noisy labels).
    forget_rate : float
        Fraction of the batch to drop, in [0, 1].
    class_weights : Tensor of shape (n_classes,), default=None
        Per-class weights of the updates. The *ranking* uses the unweighted
        cross-entropy: weighting it would make samples of up-weighted (rare)
        classes look noisier and be dropped more often.
    plus : bool, default=False
        Co-Teaching+ (Yu et al., 2019): rank and exchange only among the
        samples on which the two networks' predictions disagree. A batch
        without disagreement gives zero losses (no update).
    return_indices : bool, default=False
        Also return the indices each network is updated on.

    Returns
    -------
    loss_1, loss_2 : Tensor
        Scalar losses for network 1 and network 2.
    idx_1, idx_2 : Tensor of int64
        Only with ``return_indices=True``: the batch positions network 1
        (chosen by network 2) and network 2 (chosen by network 1) are updated
        on, in increasing order of the choosing network's loss.

    Examples
    --------
    >>> import torch
    >>> y_1 = torch.tensor([[2.0, 0.0], [0.0, 2.0], [1.0, 0.0]])
    >>> y_2 = torch.tensor([[0.0, 2.0], [0.0, 2.0], [3.0, 0.0]])
    >>> t = torch.tensor([0, 1, 0])
    >>> _, _, idx_1, idx_2 = loss_coteaching(y_1, y_2, t, 0.4, return_indices=True)
    >>> idx_1.tolist(), idx_2.tolist()
    ([2], [0])
    """
    if y_1.ndim != 2 or y_2.shape != y_1.shape:
        raise ValueError(
            f"y_1 and y_2 must be logits of the same shape (n_samples, n_classes), "
            f"got {tuple(y_1.shape)} and {tuple(y_2.shape)}"
        )
    if t.ndim != 1 or t.shape[0] != y_1.shape[0]:
        raise ValueError(f"t must have shape ({y_1.shape[0]},), got {tuple(t.shape)}")
    forget_rate = check_fraction(forget_rate, "forget_rate")
    t = t.long()
    candidates = torch.arange(t.shape[0], device=t.device)
    if plus:
        with torch.no_grad():
            disagree = y_1.argmax(dim=1) != y_2.argmax(dim=1)
        candidates = candidates[disagree]
    n = int(candidates.shape[0])
    if n == 0:
        # keep the graph connected so backward() still works on a zero loss
        zero = (y_1.sum() + y_2.sum()) * 0.0
        empty = candidates
        return (zero, zero.clone(), empty, empty) if return_indices else (zero, zero.clone())

    ce_1 = F.cross_entropy(y_1[candidates], t[candidates], reduction="none")
    ce_2 = F.cross_entropy(y_2[candidates], t[candidates], reduction="none")
    k = _n_kept(n, forget_rate)
    with torch.no_grad():
        # stable sort: ties are broken by batch position, so results are exact
        # and reproducible across devices
        pick_1 = torch.argsort(ce_1.detach(), stable=True)[:k]  # net 1's small loss
        pick_2 = torch.argsort(ce_2.detach(), stable=True)[:k]  # net 2's small loss
    loss_1 = _weighted_mean(ce_1[pick_2], t[candidates][pick_2], class_weights)
    loss_2 = _weighted_mean(ce_2[pick_1], t[candidates][pick_1], class_weights)
    if return_indices:
        return loss_1, loss_2, candidates[pick_2], candidates[pick_1]
    return loss_1, loss_2


# ---------------------------------------------------------------------------
# callbacks and helpers
# ---------------------------------------------------------------------------

class CoTeachingSchedule(Callback):
    """Apply the forget-rate schedule and the learning-rate / beta1 plan.

    At the start of every epoch the callback records ``forget_rate`` (read by
    :meth:`CoTeachingClassifier.train_step`), sets the learning rate of every
    parameter group of *both* optimizers to its base rate times the plan's
    factor, and sets Adam's beta1 (optimizers without ``betas`` keep theirs).
    It also records ``lr`` and ``beta1`` (of optimizer 1's first group) in the
    history. The base rate of a parameter group is its learning rate when
    training starts, stored as ``initial_lr`` in the group like torch's
    schedulers do.
    """

    def on_train_begin(self, net, X=None, y=None, **kwargs) -> None:
        """Remember each parameter group's base learning rate (``initial_lr``)."""
        for optimizer in net.coteaching_optimizers():
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs) -> None:
        """Set this epoch's forget rate, learning rates and beta1; record them."""
        epoch = len(net.history) - 1  # net.on_epoch_begin already added the row
        rate = net.forget_rate_at(epoch)
        factor, beta1 = net.learning_rate_plan_at(epoch)
        for optimizer in net.coteaching_optimizers():
            for group in optimizer.param_groups:
                group["lr"] = group.get("initial_lr", group["lr"]) * factor
                if "betas" in group:
                    group["betas"] = (beta1, group["betas"][1])
        first = net.optimizer_.param_groups[0]
        net.history.record("forget_rate", rate)
        net.history.record("lr", float(first["lr"]))
        net.history.record("beta1", float(beta1))


class _QuietPrintLog(PrintLog):
    """skorch's PrintLog, without formatting a table that nobody will see.

    PrintLog builds the epoch's table even with ``verbose=0``; on small
    networks that costs a few percent of the epoch.
    """

    def on_epoch_end(self, net, **kwargs) -> None:
        """Print the epoch's row, unless printing is off."""
        if self.sink is print and not net.verbose:
            return
        super().on_epoch_end(net, **kwargs)


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


def _accuracy_on_codes(net, X, y) -> float:
    # the validation targets inside skorch's dataset are class codes, so
    # compare with the argmax instead of going through classes_
    y_true = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == y_true))


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _reset_parameters(module: torch.nn.Module) -> int:
    n = 0
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()
            n += 1
    return n


# ---------------------------------------------------------------------------
# the estimator
# ---------------------------------------------------------------------------

class CoTeachingClassifier(NeuralNetClassifier):
    """Two networks trained with Co-Teaching behind ``fit`` / ``predict``.

    A :class:`skorch.NeuralNetClassifier` with a second module (``module2_``)
    and a second optimizer (``optimizer2_``) registered the skorch way, so
    ``set_params(module2__...)``, ``optimizer2__lr``, ``clone``, pickling,
    :class:`skorch.callbacks.Checkpoint` (``f_module2=``, ``f_optimizer2=``)
    and :class:`~sklearn.model_selection.GridSearchCV` work. Both modules must
    return logits; training uses cross-entropy through
    :func:`loss_coteaching`. Labels may be any sortable values (ints,
    strings, ...); ``predict`` maps back through ``classes_``.

    Parameters
    ----------
    module : torch module class or instance
        Network 1, returning logits. When it is a class whose constructor
        accepts ``n_features`` / ``n_classes`` and these are not given as
        ``module__*`` parameters, they are filled in from the data at ``fit``
        (see :class:`skal.nets.MLP`).
    module2 : torch module class or instance, default=None
        Network 2. ``None`` builds an independently initialised copy of
        ``module`` (a fresh instance of the class, or a deep copy of an
        instance with its parameters reset) -- never shared weights.
        ``module__*`` parameters reach both networks; ``module2__*`` override
        them for network 2.
    forget_rate : float, default=0.2
        Final fraction of every mini-batch each network drops, in [0, 1]. Set
        it to the expected noise rate when known.
    num_gradual : int, default=10
        Epochs over which the forget rate ramps up from 0.
    exponent : float, default=1
        Shape of the ramp (see :func:`forget_rate_scheduler`).
    epoch_decay_start : int or None, default=None
        Epoch from which the learning rate decays linearly to zero and Adam's
        beta1 drops to 0.1. ``None`` uses ``round(0.4 * max_epochs)``, the
        paper's 80 of 200 epochs; a value ``>= max_epochs`` disables the decay.
    min_batch_size : int, default=16
        Training mini-batches with fewer samples are skipped (a handful of
        samples gives a noisy small-loss ranking). It is clamped to the
        training-set size and to ``batch_size``, so tiny training sets are
        still trained on.
    class_weight : dict, "balanced" or None, default=None
        Class weights of the updates, scikit-learn style (keys are the
        original labels).
    predict_with : {"module1", "mean"}, default="module1"
        ``predict_proba`` from network 1, or the mean of both networks'
        probabilities.
    variant : {"coteaching", "plus"}, default="coteaching"
        ``"plus"`` exchanges only the samples on which the networks disagree
        (Co-Teaching+).
    fused : bool, default=False
        Run both networks as one vectorised call (``torch.func.vmap`` over
        stacked weights). Requires two modules of the same architecture;
        results match the unfused step up to floating-point rounding.
    criterion : torch criterion, default=torch.nn.CrossEntropyLoss
        Used for the validation loss only (training always uses
        cross-entropy on logits).
    optimizer : torch optimizer class, default=torch.optim.Adam
        Class of both optimizers. ``optimizer__*`` parameters reach both;
        ``optimizer2__*`` override them for optimizer 2.
    lr : float, default=0.001
        Base learning rate of both optimizers.
    max_epochs : int, default=50
        Number of epochs per ``fit``.
    batch_size : int, default=128
        Mini-batch size.
    train_split : callable or None, default=None
        skorch's validation split. ``None`` trains on everything (the active
        learner hands over small labeled sets); pass e.g.
        ``skorch.dataset.ValidSplit(5)`` for ``valid_loss`` / ``valid_acc``.
    device : str or torch.device, default="cuda" if available else "cpu"
        Where both networks live and train.
    **kwargs
        Any other :class:`skorch.NeuralNetClassifier` argument
        (``callbacks``, ``verbose``, ``iterator_train__shuffle``, ...).

    Attributes
    ----------
    module_, module2_ : torch.nn.Module
        The two trained networks.
    optimizer_, optimizer2_ : torch.optim.Optimizer
        Their optimizers.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    class_weight_ : ndarray of shape (n_classes,) or None
        The class weights used.
    n_features_in_ : int
        Number of input features (2-D array input only).
    history_ : skorch.History
        Per epoch: ``forget_rate``, ``lr``, ``beta1``, ``train_loss`` (mean of
        the two networks), ``train_loss1``, ``train_loss2``, ``train_acc1``,
        ``train_acc2`` (against the given labels), ``train_batches_skipped``.

    Examples
    --------
    >>> from skal import CoTeachingClassifier
    >>> from skal.nets import MLP
    >>> from skal.datasets import load_digits_embeddings
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> clf = CoTeachingClassifier(MLP, max_epochs=3, device="cpu", verbose=0)
    >>> clf.fit(X, y).predict(X[:3]).shape
    (3,)
    """

    def __init__(self, module, *, module2=None, forget_rate: float = 0.2,
                 num_gradual: int = 10, exponent: float = 1,
                 epoch_decay_start: int | None = None, min_batch_size: int = 16,
                 class_weight: dict | str | None = None, predict_with: str = "module1",
                 variant: str = "coteaching", fused: bool = False,
                 criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                 lr: float = 0.001, max_epochs: int = 50, batch_size: int = 128,
                 train_split=None, device: str | torch.device | None = _DEFAULT_DEVICE,
                 **kwargs) -> None:
        # set before skorch's __init__: once `initialized_` exists, skorch's
        # __setattr__ refuses torch modules (module2 may be an instance)
        self.module2 = module2
        self.forget_rate = forget_rate
        self.num_gradual = num_gradual
        self.exponent = exponent
        self.epoch_decay_start = epoch_decay_start
        self.min_batch_size = min_batch_size
        self.class_weight = class_weight
        self.predict_with = predict_with
        self.variant = variant
        self.fused = fused
        super().__init__(module, criterion=criterion, optimizer=optimizer, lr=lr,
                         max_epochs=max_epochs, batch_size=batch_size,
                         train_split=train_split, device=device, **kwargs)

    # -- callbacks -----------------------------------------------------------

    @property
    def _default_callbacks(self):
        base = super()._default_callbacks
        callbacks = [(name, cb) for name, cb in base if name not in ("valid_acc", "print_log")]
        for name in ("train_loss1", "train_loss2", "train_acc1", "train_acc2"):
            callbacks.append((name, PassthroughScoring(name=name, on_train=True,
                                                       lower_is_better="loss" in name)))
        callbacks.append(("valid_acc", EpochScoring(_accuracy_on_codes, name="valid_acc",
                                                    lower_is_better=False)))
        callbacks.insert(0, ("coteaching_schedule", CoTeachingSchedule()))
        callbacks.append(("print_log", _QuietPrintLog()))
        return callbacks

    # -- parameter checks and schedules -------------------------------------

    def _check_coteaching_params(self) -> None:
        check_fraction(self.forget_rate, "forget_rate")
        _check_non_negative_int(self.num_gradual, "num_gradual")
        forget_rate_scheduler(0, self.forget_rate, self.num_gradual, self.exponent)
        if self.epoch_decay_start is not None:
            _check_non_negative_int(self.epoch_decay_start, "epoch_decay_start")
        if (isinstance(self.min_batch_size, bool)
                or not isinstance(self.min_batch_size, numbers.Integral)
                or self.min_batch_size < 1):
            raise ValueError(f"min_batch_size must be a positive integer, got {self.min_batch_size!r}")
        if self.predict_with not in ("module1", "mean"):
            raise ValueError(f"predict_with must be 'module1' or 'mean', got {self.predict_with!r}")
        if self.variant not in ("coteaching", "plus"):
            raise ValueError(f"variant must be 'coteaching' or 'plus', got {self.variant!r}")

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
        if epoch < min(start, total):
            return 1.0, 0.9
        if start >= total:
            return 1.0, 0.9
        factor, betas = learning_rate_plan(total, start)
        if epoch < total:
            return float(factor[epoch]), float(betas[epoch])
        return 0.0, float(betas[-1])

    # -- targets ---------------------------------------------------------------

    def _learn_targets(self, X, y) -> None:
        """Record classes, class weights and the input width before initialising."""
        check_finite_inputs(X, "X")  # NaN inputs would train (and predict) NaN silently
        if isinstance(X, (np.ndarray, torch.Tensor)) and X.ndim == 2:
            self.n_features_in_ = int(X.shape[1])
        if y is None:
            return
        n = len(X) if isinstance(X, (np.ndarray, torch.Tensor)) else None
        y = check_labels(y, n)
        if self.classes is not None:
            classes = np.asarray(self.classes)
        else:
            classes = np.unique(y)
        self.classes_inferred_ = classes
        self.class_weight_ = self._compute_class_weight(y)

    def _compute_class_weight(self, y: np.ndarray) -> np.ndarray | None:
        if self.class_weight is None:
            return None
        classes = np.asarray(self.classes_)
        full = np.ones(len(classes))
        if isinstance(self.class_weight, str):
            if self.class_weight != "balanced":
                raise ValueError(
                    f"class_weight must be None, 'balanced' or a dict, got {self.class_weight!r}"
                )
            from sklearn.utils.class_weight import compute_class_weight

            # classes absent from y (possible with configured classes) keep weight 1
            present = np.unique(y)
            full[self._encode(present)] = compute_class_weight("balanced", classes=present, y=y)
            return full
        if not isinstance(self.class_weight, dict):
            raise TypeError(
                f"class_weight must be None, 'balanced' or a dict, got {type(self.class_weight).__name__}"
            )
        keys = np.asarray(list(self.class_weight.keys()))
        values = np.asarray(list(self.class_weight.values()), dtype=np.float64)
        if keys.size:
            full[self._encode(keys)] = values
        if not np.all(np.isfinite(full)) or np.any(full < 0):
            raise ValueError("class_weight values must be finite and non-negative")
        return full

    def _encode(self, y) -> np.ndarray:
        classes = np.asarray(self.classes_)
        y = check_labels(y)
        order = np.argsort(classes, kind="stable")
        pos = np.searchsorted(classes[order], y)
        pos = np.clip(pos, 0, len(classes) - 1)
        codes = order[pos]
        unknown = classes[codes] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains label(s) {np.unique(y[unknown])[:5].tolist()} not seen in the "
                f"classes {classes.tolist()[:10]} this estimator was fitted or configured with"
            )
        return codes.astype(np.int64)

    def check_data(self, X, y=None):
        """skorch's data check, for the Dataset-without-``y`` case only."""
        # y reaching fit_loop is already encoded; classes_ were learned from the
        # original labels, so only skorch's Dataset-without-y path is needed
        if y is None:
            super().check_data(X, y)

    def get_params_for(self, prefix: str) -> dict:
        """Init parameters of a component; merges the shared ones for network 2.

        ``module2`` gets ``module__*`` overridden by ``module2__*``;
        ``optimizer2`` gets ``optimizer__*`` overridden by ``optimizer2__*``.
        Network sizes (``n_features``, ``n_classes``) learned from the data
        are added for module classes that accept them.

        Parameters
        ----------
        prefix : str
            Component name, e.g. ``"module"``.

        Returns
        -------
        kwargs : dict
        """
        if prefix in ("module2", "optimizer2"):
            kwargs = {**super().get_params_for(prefix[:-1]), **super().get_params_for(prefix)}
        else:
            kwargs = super().get_params_for(prefix)
        if prefix in ("module", "module2"):
            target = self.module if prefix == "module" or self.module2 is None else self.module2
            kwargs = self._add_data_sizes(target, kwargs)
        return kwargs

    def _add_data_sizes(self, target, kwargs: dict) -> dict:
        if isinstance(target, torch.nn.Module) or not callable(target):
            return kwargs
        sizes = {}
        if getattr(self, "n_features_in_", None) is not None:
            sizes["n_features"] = self.n_features_in_
        with contextlib.suppress(AttributeError):
            sizes["n_classes"] = len(self.classes_)
        for name, value in sizes.items():
            if name not in kwargs and _accepts(target, name):
                kwargs = {**kwargs, name: value}
        return kwargs

    # -- initialisation ------------------------------------------------------

    def initialize(self):
        """Check the Co-Teaching parameters, then initialise like skorch."""
        self._check_coteaching_params()
        super().initialize()
        if self.fused:
            self._check_fusable()
        return self

    def initialize_module(self):
        """Build ``module_`` and an independent ``module2_``."""
        kwargs = self.get_params_for("module")
        self.module_ = self.initialized_instance(self.module, kwargs)
        self.module2_ = self.build_module2()
        return self

    def build_module2(self) -> torch.nn.Module:
        """Return network 2, never sharing parameters with ``module_``.

        Returns
        -------
        module2 : torch.nn.Module
        """
        kwargs = self.get_params_for("module2")
        source = self.module if self.module2 is None else self.module2
        if isinstance(source, torch.nn.Module) and not kwargs:
            if self.module2 is not None and source is not self.module_:
                module2 = source
            else:
                # deep copy + reset: same architecture, fresh random weights
                module2 = copy.deepcopy(source)
                if _reset_parameters(module2) == 0:
                    warnings.warn(
                        "module2 is a copy of module but none of its submodules has "
                        "reset_parameters(); both networks start from the same weights. "
                        "Pass module as a class or give module2 explicitly.",
                        UserWarning,
                        stacklevel=3,
                    )
        else:
            module2 = self.initialized_instance(source, kwargs)
        shared = {id(p) for p in self.module_.parameters()} & {id(p) for p in module2.parameters()}
        if shared:
            raise ValueError("module2 shares parameters with module; pass a separate network")
        return module2

    def initialize_optimizer(self, triggered_directly=None):
        """Build ``optimizer_`` for network 1 and ``optimizer2_`` for network 2."""
        args, kwargs = self.get_params_for_optimizer("optimizer", self.module_.named_parameters())
        self.optimizer_ = self.optimizer(*args, **kwargs)
        args, kwargs = self.get_params_for_optimizer("optimizer2", self.module2_.named_parameters())
        self.optimizer2_ = self.optimizer(*args, **kwargs)
        return self

    def coteaching_optimizers(self) -> list:
        """The two optimizers, network 1's first.

        Returns
        -------
        optimizers : list of torch.optim.Optimizer
        """
        return [self.optimizer_, self.optimizer2_]

    def set_params(self, **kwargs):
        """Set parameters, as skorch does.

        A learning rate changed on a fitted net becomes the new base rate of
        the learning-rate plan from the next ``fit`` / ``partial_fit`` on.

        Returns
        -------
        self
        """
        super().set_params(**kwargs)
        if getattr(self, "initialized_", False):
            shared = [k for k in ("lr", "optimizer__lr") if k in kwargs]
            if shared and "lr" not in super().get_params_for("optimizer2"):
                # optimizer__* parameters reach both optimizers
                for group in self.optimizer2_.param_groups:
                    group["lr"] = kwargs[shared[-1]]
            for key in kwargs:
                if key == "lr" or (key.startswith("optimizer") and key.endswith("lr")):
                    for opt in (getattr(self, "optimizer_", None), getattr(self, "optimizer2_", None)):
                        for group in getattr(opt, "param_groups", []):
                            group.pop("initial_lr", None)
        return self

    # -- fitting ---------------------------------------------------------------

    def fit(self, X, y, **fit_params):
        """Initialise both networks and train them with Co-Teaching.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...) or skorch-compatible data
            Inputs; float64 arrays are cast to float32.
        y : array-like of shape (n_samples,)
            Labels of any sortable type (possibly noisy).
        **fit_params : dict
            Passed to the modules' ``forward``.

        Returns
        -------
        self
        """
        if not self.warm_start or not self.initialized_:
            self._learn_targets(X, y)
        return super().fit(X, y, **fit_params)

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training without re-initialising (the schedules continue too).

        Parameters
        ----------
        X : array-like
            Inputs.
        y : array-like of shape (n_samples,)
            Labels; must belong to the classes seen at the first fit.
        classes : array-like, default=None
            Unused, for scikit-learn compatibility.
        **fit_params : dict
            Passed to the modules' ``forward``.

        Returns
        -------
        self
        """
        if not self.initialized_:
            self._learn_targets(X, y)
        return super().partial_fit(X, y, classes=classes, **fit_params)

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """Encode the labels as class codes, then run skorch's loop."""
        if y is not None:
            y = self._encode(y)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

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

    # -- forward passes --------------------------------------------------------

    def infer_pair(self, x, **fit_params) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of both networks on one batch.

        Parameters
        ----------
        x : input batch
        **fit_params : dict
            Passed to both modules' ``forward``.

        Returns
        -------
        logits_1, logits_2 : Tensor of shape (n_samples, n_classes)
        """
        x = to_tensor(x, device=self.device)
        if isinstance(x, dict):
            x1 = self._merge_x_and_fit_params(x, fit_params)
            return self.module_(**x1), self.module2_(**x1)
        return self.module_(x, **fit_params), self.module2_(x, **fit_params)

    def infer_pair_fused(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits of both networks from one vmapped call over stacked weights.

        The stacked weights are built with :func:`torch.stack` from the two
        modules' own parameters, so gradients flow back to ``module_`` and
        ``module2_`` and both optimizers work unchanged. Buffers (batch-norm
        statistics) are stacked too and copied back after a training pass.

        Parameters
        ----------
        x : Tensor or array
            An input batch.

        Returns
        -------
        logits_1, logits_2 : Tensor of shape (n_samples, n_classes)
        """
        from torch.func import functional_call, vmap

        x = to_tensor(x, device=self.device)
        if isinstance(x, dict):
            raise TypeError("fused=True needs a tensor input, not a dict")
        m1, m2 = self.module_, self.module2_
        p2 = dict(m2.named_parameters())
        b2 = dict(m2.named_buffers())
        params = {n: torch.stack([p, p2[n]]) for n, p in m1.named_parameters()}
        buffers = {n: torch.stack([b, b2[n]]) for n, b in m1.named_buffers()}

        def one(p, b, inp):
            return functional_call(m1, (p, b), (inp,))

        out = vmap(one, in_dims=(0, 0, None), randomness="different")(params, buffers, x)
        if m1.training and buffers:
            with torch.no_grad():  # running statistics were updated in the stacked copy
                b1 = dict(m1.named_buffers())
                for n, b in buffers.items():
                    b1[n].copy_(b[0])
                    b2[n].copy_(b[1])
        return out[0], out[1]

    def _check_fusable(self) -> None:
        s1 = [(n, p.shape, p.dtype) for n, p in self.module_.named_parameters()]
        s2 = [(n, p.shape, p.dtype) for n, p in self.module2_.named_parameters()]
        b1 = [(n, b.shape) for n, b in self.module_.named_buffers()]
        b2 = [(n, b.shape) for n, b in self.module2_.named_buffers()]
        if type(self.module_) is not type(self.module2_) or s1 != s2 or b1 != b2:
            raise ValueError(
                "fused=True needs module and module2 of the same architecture "
                "(same class, parameter names and shapes)"
            )

    def prediction_logits(self, logits_1: torch.Tensor, logits_2: torch.Tensor | None) -> torch.Tensor:
        """Combine the networks' outputs as ``predict_with`` asks.

        For ``"mean"`` this returns the log of the mean probabilities, whose
        softmax is the mean of the two softmaxes.

        Parameters
        ----------
        logits_1, logits_2 : Tensor
            Logits of the two networks (``logits_2`` unused for "module1").

        Returns
        -------
        logits : Tensor
        """
        if self.predict_with == "module1":
            return logits_1
        log_p = torch.stack([F.log_softmax(logits_1, dim=1), F.log_softmax(logits_2, dim=1)])
        return torch.logsumexp(log_p, dim=0) - math.log(2.0)

    def _predict_forward(self, Xi) -> torch.Tensor:
        x = to_tensor(Xi, device=self.device)
        if self.predict_with == "module1":
            return self.infer(x)
        return self.prediction_logits(*self.infer_pair(x))

    def evaluation_step(self, batch, training: bool = False):
        """Forward pass used by ``predict`` / ``predict_proba`` (see ``predict_with``)."""
        self.check_is_fitted()
        Xi, _ = unpack_data(batch)
        with torch.set_grad_enabled(training):
            self._set_training(training)
            return self._predict_forward(Xi)

    def validation_step(self, batch, **fit_params):
        """Validation loss of the prediction that ``predict_with`` makes."""
        self._set_training(False)
        Xi, yi = unpack_data(batch)
        with torch.no_grad():
            y_pred = self._predict_forward(Xi)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        return {"loss": loss, "y_pred": y_pred}

    # -- training step -----------------------------------------------------------

    def _set_training(self, training: bool = True) -> None:
        # skorch calls module.train() on every batch; that re-assigns the flag
        # on every submodule through nn.Module.__setattr__, which on small
        # networks costs a few percent of the step, so only do it on a change
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                    m.training != training for m in module.modules()):
                module.train(training)

    def current_forget_rate(self) -> float:
        """Forget rate of the running epoch, as recorded by the schedule callback.

        Returns
        -------
        rate : float
        """
        row = self.history[-1] if len(self.history) else {}
        if "forget_rate" in row:
            return float(row["forget_rate"])
        return self.forget_rate_at(max(len(self.history) - 1, 0))

    def get_coteaching_loss(self, logits_1: torch.Tensor, logits_2: torch.Tensor,
                            y_true: torch.Tensor):
        """The two networks' losses on a batch (override to change the exchange).

        Parameters
        ----------
        logits_1, logits_2 : Tensor of shape (n_samples, n_classes)
        y_true : Tensor of shape (n_samples,)
            Class codes.

        Returns
        -------
        loss_1, loss_2, idx_1, idx_2
            See :func:`loss_coteaching` with ``return_indices=True``.
        """
        weights = None
        if getattr(self, "class_weight_", None) is not None:
            weights = torch.as_tensor(self.class_weight_, dtype=logits_1.dtype,
                                      device=logits_1.device)
        return loss_coteaching(logits_1, logits_2, y_true, self.current_forget_rate(),
                               weights, plus=self.variant == "plus", return_indices=True)

    def train_step(self, batch, **fit_params):
        """One Co-Teaching step: a forward per network, the small-loss
        exchange, one backward, and one step of each optimizer.

        Parameters
        ----------
        batch : tuple
            ``(X, y)`` batch from the data loader (``y`` as class codes).
        **fit_params : dict
            Passed to the modules' ``forward``.

        Returns
        -------
        step : dict
            ``loss`` (mean of both networks' losses), ``y_pred`` (network 1's
            logits), ``loss1``, ``loss2``.
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        yi = to_tensor(yi, device=self.device).long()
        self._zero_grad_optimizer()
        if self.fused:
            if fit_params:
                raise TypeError("fused=True does not pass fit_params to the modules")
            logits_1, logits_2 = self.infer_pair_fused(Xi)
        else:
            logits_1, logits_2 = self.infer_pair(Xi, **fit_params)
        loss_1, loss_2, _, _ = self.get_coteaching_loss(logits_1, logits_2, yi)
        # the two graphs are disjoint, so one backward fills both gradients
        (loss_1 + loss_2).backward()
        self.notify("on_grad_computed",
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch, training=True)
        self._step_optimizer(None)
        with torch.no_grad():
            stats = torch.stack([
                loss_1.detach(), loss_2.detach(),
                (logits_1.argmax(1) == yi).float().mean(),
                (logits_2.argmax(1) == yi).float().mean(),
            ]).tolist()  # one device sync for the four numbers
        for name, value in zip(("train_loss1", "train_loss2", "train_acc1", "train_acc2"), stats):
            self.history.record_batch(name, value)
        return {"loss": (loss_1.detach() + loss_2.detach()) / 2, "y_pred": logits_1.detach(),
                "loss1": stats[0], "loss2": stats[1]}

    # -- prediction --------------------------------------------------------------

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, in the original label values.

        Parameters
        ----------
        X : array-like
            Inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return np.asarray(self.classes_)[self.predict_proba(X).argmax(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (see :meth:`skorch.NeuralNet.predict_proba`); ``X`` must be finite."""
        check_finite_inputs(X, "X")
        n_features = getattr(self, "n_features_in_", None)
        if n_features is not None and isinstance(X, (np.ndarray, torch.Tensor)) and (
                X.ndim != 2 or X.shape[1] != n_features):
            raise ValueError(
                f"X has shape {tuple(X.shape)}, but {type(self).__name__} was fitted on "
                f"{n_features} features"
            )
        proba = super().predict_proba(X)
        n_classes = len(getattr(self, "classes_", ()))
        if n_classes and proba.shape[1] != n_classes:
            # Otherwise predict() would index classes_ out of bounds.
            raise ValueError(
                f"the network outputs {proba.shape[1]} scores per sample but {n_classes} classes "
                "are known; set the module's number of outputs to the number of classes"
            )
        return proba
