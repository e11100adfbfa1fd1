"""The Co-Teaching estimator: parameters, fitting, the training step, prediction."""

from __future__ import annotations

from numbers import Integral, Real
from types import MappingProxyType

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, PassthroughScoring
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_tensor
from torch.utils.data import DataLoader

from ..nets import MLP
from ._callbacks import CoTeachingSchedule, _accuracy_on_codes, _QuietPrintLog
from ._data import _TrainingData
from ._loss import loss_coteaching
from ._pair import _NetworkPair
from ._runtime import _Runtime, check_device
from ._schedules import forget_rate_scheduler, learning_rate_plan
from ._targets import class_weights, encode_labels, validate_inputs

_COMPONENT = [callable]  # a class, a factory, or an instance (instances are callable too)


class CoTeachingClassifier(_Runtime, _NetworkPair, _TrainingData, NeuralNetClassifier):
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

    # skorch sets these three in NeuralNet.__init__; scikit-learn's convention
    # is that __init__ stores parameters only, so they are class-level
    # defaults until initialize() / fit() sets them on the instance.
    initialized_ = False
    history_ = None
    virtual_params_ = MappingProxyType({})

    def __init__(self, module=MLP, *, module2=None, forget_rate: float = 0.2,
                 num_gradual: int = 10, exponent: float = 1.0,
                 epoch_decay_start: int | None = None, min_batch_size: int = 16,
                 class_weight: dict | str | None = None, predict_with: str = "module1",
                 variant: str = "coteaching", fused: bool = False, random_state=None,
                 criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                 lr: float = 0.001, max_epochs: int = 50, batch_size: int = 128,
                 iterator_train=DataLoader, iterator_valid=DataLoader, dataset=Dataset,
                 train_split=None, callbacks=None, predict_nonlinearity="auto",
                 warm_start: bool = False, verbose: int = 0,
                 device: str | torch.device | None = "auto", compile: bool = False,
                 use_caching="auto", torch_load_kwargs: dict | None = None, classes=None,
                 **kwargs) -> None:
        params = dict(locals())
        for name in ("self", "kwargs", "__class__"):
            params.pop(name, None)
        vars(self).update(params)
        # skorch's `prefix__name` arguments (module__hidden_units, ...),
        # checked against the components when the net is initialised
        vars(self).update(kwargs)
        self._params_to_validate = set(kwargs)

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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags

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

    # -- parameters and schedules ------------------------------------------------

    def _check_params(self) -> None:
        """Check the parameters against ``_parameter_constraints`` (scikit-learn's messages)."""
        validate_parameter_constraints(self._parameter_constraints,
                                       self.get_params(deep=False),
                                       caller_name=type(self).__name__)
        check_device(self.__dict__.get("device"))

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

    # -- initialisation and parameters -------------------------------------------

    def initialize(self):
        """Check the parameters, then build both networks, optimizers and callbacks."""
        self._check_params()
        self.device_ = check_device(self.compute_device())
        with self._device_resolved():
            super().initialize()
        if self.fused:
            self._check_fusable()
        return self

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

    # -- fitting -------------------------------------------------------------------

    def _learn_targets(self, y, classes=None) -> None:
        self.classes_inferred_ = np.unique(y if classes is None else np.asarray(classes))
        self.class_weight_ = class_weights(self.class_weight, self.classes_, y)

    def _encode(self, y) -> np.ndarray:
        return encode_labels(self.classes_, y)

    def check_data(self, X, y=None):
        """skorch's data check, for the Dataset-without-``y`` case only."""
        # y reaching fit_loop is already encoded; classes_ were learned from the
        # original labels, so only skorch's Dataset-without-y path is needed
        if y is None:
            super().check_data(X, y)

    def fit(self, X, y, **fit_params):
        """Initialise both networks and train them with Co-Teaching.

        With ``warm_start=True`` a fitted net is trained further instead (as
        :meth:`partial_fit`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Inputs: arrays, lists and DataFrames (validated, cast to float32;
            images may have more dimensions), or what skorch accepts beyond
            them (dicts, torch datasets, integer tensors).
        y : array-like of shape (n_samples,)
            Labels of any sortable type (possibly noisy).
        **fit_params : dict
            Passed to the modules' ``forward``.

        Returns
        -------
        self
        """
        self._check_params()
        cold = not self.warm_start or not self.initialized_
        with self._training_run(0 if cold else len(self.history)):
            X, y = validate_inputs(self, X, y, reset=cold)
            if cold:
                self._learn_targets(y)
                self.initialize()
            super().partial_fit(X, self._encode(y), _routing_method="fit", **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training without re-initialising (the schedules continue too).

        Parameters
        ----------
        X : array-like
            Inputs, as for :meth:`fit`.
        y : array-like of shape (n_samples,)
            Labels; must belong to the classes seen at the first call.
        classes : array-like, default=None
            All the classes, on the first call (as in scikit-learn); later
            calls ignore it.
        **fit_params : dict
            Passed to the modules' ``forward``.

        Returns
        -------
        self
        """
        self._check_params()
        first = not self.initialized_
        with self._training_run(0 if first else len(self.history)):
            X, y = validate_inputs(self, X, y, reset=first)
            if first:
                self._learn_targets(y, classes)
                self.initialize()
            super().partial_fit(X, self._encode(y), **fit_params)
        return self

    # -- the training step -----------------------------------------------------------

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

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """The Co-Teaching objective in training; the criterion on the prediction otherwise.

        Parameters
        ----------
        y_pred : tuple or Tensor
            What :meth:`infer` returns: ``(prediction, logits_1, logits_2)``.
        y_true : Tensor
            Class codes.
        X : input batch, default=None
        training : bool, default=False
            ``True``: the sum of both networks' small-loss losses (the two
            graphs are disjoint, so each network gets the gradient of its own
            loss). ``False``: ``criterion`` on the prediction's logits.

        Returns
        -------
        loss : Tensor
        """
        y_true = to_tensor(y_true, device=self.compute_device())
        if training:
            _, logits_1, logits_2 = y_pred
            loss_1, loss_2, _, _ = self.get_coteaching_loss(logits_1, logits_2, y_true.long())
            self._pair_losses = (loss_1.detach(), loss_2.detach())
            return loss_1 + loss_2
        prediction = y_pred[0] if isinstance(y_pred, tuple) else y_pred
        return super().get_loss(prediction, y_true, X=X, training=training)

    def train_step_single(self, batch, **fit_params):
        """One forward of each network, the small-loss exchange and one backward.

        skorch's ``train_step`` wraps this in the optimizers' closure (see
        ``_step_optimizer`` for how one evaluation serves both optimizers)
        and fires ``on_grad_computed`` after it.

        Returns
        -------
        step : dict
            ``loss`` (the sum of both networks' losses, as optimised) and
            ``y_pred`` (:meth:`infer`'s tuple, detached).
        """
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        self._pair_losses = None
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        y_pred = tuple(t.detach() for t in y_pred)
        if self._pair_losses is not None:  # None when a subclass's get_loss skips ours
            yi = to_tensor(yi, device=y_pred[1].device).long()
            stats = torch.stack([
                *self._pair_losses,
                (y_pred[1].argmax(1) == yi).float().mean(),
                (y_pred[2].argmax(1) == yi).float().mean(),
            ]).tolist()  # one device sync for the four numbers
            for name, value in zip(("train_loss1", "train_loss2", "train_acc1", "train_acc2"),
                                   stats):
                self.history.record_batch(name, value)
        self._pair_losses = None
        return {"loss": loss.detach(), "y_pred": y_pred}

    # -- prediction ------------------------------------------------------------------

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, in the order of ``classes_``.

        Parameters
        ----------
        X : array-like
            Inputs, as for :meth:`fit`.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        self.check_is_fitted()
        X, _ = validate_inputs(self, X, reset=False)
        with self._device_resolved():
            proba = super().predict_proba(X)
        n_classes = len(self._fitted_classes())
        if proba.shape[1] != n_classes:
            # Otherwise predict() would index classes_ out of bounds.
            raise ValueError(
                f"the network outputs {proba.shape[1]} scores per sample but {n_classes} classes "
                "are known; set the module's number of outputs to the number of classes"
            )
        return proba

    def predict(self, X) -> np.ndarray:
        """Predicted class labels, in the original label values.

        Parameters
        ----------
        X : array-like
            Inputs, as for :meth:`fit`.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._fitted_classes()[self.predict_proba(X).argmax(axis=1)]

    def _fitted_classes(self) -> np.ndarray:
        self.check_is_fitted()
        try:
            return np.asarray(self.classes_)
        except AttributeError as exc:  # initialize()d, never fitted, no `classes`
            raise NotFittedError(
                f"This {type(self).__name__} has networks but no classes: call fit, or "
                "pass classes=... when initialising it directly"
            ) from exc

