"""The Co-Teaching estimator: construction, fitting and prediction.

The rest of its methods live in the package's other modules, one job each,
and are mixed in (see the bottom of the class for the list).
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import torch
from sklearn.exceptions import NotFittedError
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochScoring, PassthroughScoring
from skorch.dataset import Dataset
from torch.utils.data import DataLoader

from ..nets import MLP
from ._callbacks import CoTeachingSchedule, _accuracy_on_codes, _QuietPrintLog
from ._data import _TrainingData
from ._pair import _NetworkPair
from ._params import _Parameters, check_device
from ._schedules import _SchedulePlans
from ._step import _TrainingStep
from ._targets import class_weights, encode_labels, validate_inputs


class CoTeachingClassifier(_Parameters, _SchedulePlans, _TrainingStep, _NetworkPair, _TrainingData,
                           NeuralNetClassifier):
    """Two networks trained with Co-Teaching behind ``fit`` / ``predict``.

    A :class:`skorch.NeuralNetClassifier` with a second module (``module2_``)
    and a second optimizer (``optimizer2_``) registered the skorch way, so
    ``set_params(module2__...)``, ``optimizer2__lr``, ``clone``, pickling,
    :class:`skorch.callbacks.Checkpoint` (``f_module2=``, ``f_optimizer2=``)
    and :class:`~sklearn.model_selection.GridSearchCV` work. Training runs
    skorch's own ``train_step`` (optimizer closures, so
    :class:`torch.optim.LBFGS` works; ``on_grad_computed`` callbacks fire),
    with the small-loss exchange of :func:`loss_coteaching` in ``get_loss``.
    Both modules return logits. Labels may be any sortable values (ints,
    strings, ...); ``predict`` maps back through ``classes_``. Arrays, lists
    and DataFrames are validated the scikit-learn way (``n_features_in_``,
    ``feature_names_in_``; sparse input is refused) and cast to float32.

    Parameters
    ----------
    module : torch module class or instance, default=skal.nets.MLP
        Network 1, returning logits. When it is a class whose constructor
        accepts ``n_features`` / ``n_classes`` and these are not given as
        ``module__*`` parameters, they are filled in from the data at ``fit``:
        by default a one-hidden-layer MLP (256 units, layer norm) sized from
        ``X`` and the classes.
    module2 : torch module class or instance, default=None
        Network 2. ``None`` builds an independently initialised copy of
        ``module`` (a fresh instance of the class, or a deep copy of an
        instance with its parameters reset) -- never shared weights.
        ``module__*`` parameters reach both networks; ``module2__*`` override
        them for network 2.
    forget_rate : float, default=0.2
        Final fraction of every mini-batch each network drops, in [0, 1). Set
        it to the expected noise rate when known.
    num_gradual : int, default=10
        Epochs over which the forget rate ramps up from 0.
    exponent : float, default=1.0
        Shape of the ramp (see :func:`forget_rate_scheduler`); > 0.
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
    random_state : int, RandomState instance or None, default=None
        Seeds torch's generators for a fit (weights, shuffling, dropout),
        which then leaves the caller's random state as it was: the same int
        gives the same model from every ``fit``; each continuation
        (``partial_fit``, warm start) gets its own reproducible seed. ``None``
        draws from torch's global generator, as skorch does.
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
        Mini-batch size (``-1``: the whole training set). Training batches
        are shuffled unless ``iterator_train__shuffle=False``.
    iterator_train, iterator_valid, dataset, callbacks
        As in :class:`skorch.NeuralNetClassifier`.
    predict_nonlinearity, compile, use_caching, torch_load_kwargs, classes
        As in :class:`skorch.NeuralNetClassifier`.
    train_split : callable or None, default=None
        skorch's validation split. ``None`` trains on everything (the active
        learner hands over small labeled sets); pass e.g.
        ``skorch.dataset.ValidSplit(5)`` for ``valid_loss`` / ``valid_acc``.
    warm_start : bool, default=False
        As in skorch: ``fit`` on a fitted net continues training (the
        schedules continue too) instead of starting from new networks.
    verbose : int, default=0
        ``1`` prints skorch's table of every epoch.
    device : "auto", str, torch.device or None, default="auto"
        Where both networks live and train. ``"auto"`` is resolved when the
        networks are built: ``"cuda"`` when available, else ``"cpu"``
        (``device_`` says which); the parameter keeps the value ``"auto"``.
    **kwargs
        skorch's ``prefix__name`` arguments: ``module__*``, ``module2__*``,
        ``optimizer__*``, ``optimizer2__*``, ``iterator_train__*``,
        ``callbacks__*``, ...

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
        Size of the second dimension of ``X`` (array-like input).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.
    device_ : str, torch.device or None
        The device the networks were built on.
    history_ : skorch.History
        Per epoch: ``forget_rate``, ``lr``, ``beta1``, ``train_loss`` (the sum
        of the two networks' losses, which is what the optimizers minimise),
        ``train_loss1``, ``train_loss2``, ``train_acc1``, ``train_acc2``
        (against the given labels), ``train_batches_skipped``.

    Examples
    --------
    >>> from skal import CoTeachingClassifier
    >>> from skal.datasets import load_digits_embeddings
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> clf = CoTeachingClassifier(max_epochs=3, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> clf.module_.layers[0].in_features, clf.module_.layers[-1].out_features
    (64, 10)
    """

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

    def get_params_for(self, prefix: str) -> dict:
        """Init parameters of a component, routed as in skorch with three additions.

        ``module2`` gets ``module__*`` overridden by ``module2__*`` and
        ``optimizer2`` gets ``optimizer__*`` overridden by ``optimizer2__*``;
        network sizes (``n_features``, ``n_classes``) learned from the data
        are added for module classes that accept them; training batches are
        shuffled unless ``iterator_train__shuffle=False`` (a fixed order would
        hand the same samples to the same small-loss exchanges every epoch).

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
        if prefix == "iterator_train":
            kwargs = {"shuffle": True, **kwargs}
        return kwargs

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

    # -- implemented in the package's other modules ------------------------------
    # Inherited from the mixins above; bound here as the class's own members
    # because the API reference lists a class's own members only.
    compute_device = _Parameters.compute_device
    set_params = _Parameters.set_params
    load_params = _Parameters.load_params
    forget_rate_at = _SchedulePlans.forget_rate_at
    learning_rate_plan_at = _SchedulePlans.learning_rate_plan_at
    current_forget_rate = _SchedulePlans.current_forget_rate
    get_coteaching_loss = _TrainingStep.get_coteaching_loss
    get_loss = _TrainingStep.get_loss
    train_step_single = _TrainingStep.train_step_single
    initialize_module = _NetworkPair.initialize_module
    build_module2 = _NetworkPair.build_module2
    initialize_optimizer = _NetworkPair.initialize_optimizer
    coteaching_optimizers = _NetworkPair.coteaching_optimizers
    infer = _NetworkPair.infer
    infer_pair = _NetworkPair.infer_pair
    infer_pair_fused = _NetworkPair.infer_pair_fused
    prediction_logits = _NetworkPair.prediction_logits
    evaluation_step = _NetworkPair.evaluation_step
    get_dataset = _TrainingData.get_dataset
    effective_min_batch_size = _TrainingData.effective_min_batch_size
    get_iterator = _TrainingData.get_iterator
    batch_indexing_iterator = _TrainingData.batch_indexing_iterator
    run_single_epoch = _TrainingData.run_single_epoch
