"""The pair of networks: building ``module2_`` / ``optimizer2_``, forward passes, prediction.

The second network and its optimizer are registered the skorch way: they are
created inside ``initialize_module`` / ``initialize_optimizer`` under the
names ``module2_`` and ``optimizer2_``, so skorch records them in
``_modules`` / ``_optimizers`` and handles their device, ``set_params``
re-initialisation, pickling and ``Checkpoint`` files like its own.
"""

from __future__ import annotations

import copy
import inspect
import math
import warnings

import torch
import torch.nn.functional as F
from skorch.utils import to_tensor


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


class _NetworkPair:
    """The classifier's methods that deal with its two networks (mixed into the classifier)."""

    # -- building ----------------------------------------------------------------

    def _add_data_sizes(self, target, kwargs: dict) -> dict:
        if isinstance(target, torch.nn.Module) or not callable(target):
            return kwargs
        sizes = {}
        if getattr(self, "n_features_in_", None) is not None:
            sizes["n_features"] = self.n_features_in_
        if getattr(self, "classes_inferred_", None) is not None or self.classes is not None:
            sizes["n_classes"] = len(self.classes_)
        for name, value in sizes.items():
            if name not in kwargs and _accepts(target, name):
                kwargs = {**kwargs, name: value}
        return kwargs

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

    # -- forward passes ------------------------------------------------------------

    def infer(self, x, **fit_params):
        """Forward pass of both networks on one batch (used in training and validation).

        Parameters
        ----------
        x : input batch
        **fit_params : dict
            Passed to both modules' ``forward`` (not with ``fused=True``).

        Returns
        -------
        prediction, logits_1, logits_2 : Tensor of shape (n_samples, n_classes)
            The logits ``predict_proba`` is the softmax of (see
            ``predict_with``), then each network's logits. skorch takes the
            first element of a tuple as the prediction, so validation scores
            and cached predictions use the combined one.
        """
        if self.fused:
            if fit_params:
                raise TypeError(f"fused=True cannot pass the fit parameters {sorted(fit_params)} "
                                "to the modules' forward; use fused=False")
            logits_1, logits_2 = self.infer_pair_fused(x)
        else:
            logits_1, logits_2 = self.infer_pair(x, **fit_params)
        return self.prediction_logits(logits_1, logits_2), logits_1, logits_2

    def _forward(self, module, x, fit_params):
        if isinstance(x, dict):
            return module(**self._merge_x_and_fit_params(x, fit_params))
        return module(x, **fit_params)

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
        x = to_tensor(x, device=self.compute_device())
        return self._forward(self.module_, x, fit_params), self._forward(self.module2_, x, fit_params)

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

        x = to_tensor(x, device=self.compute_device())
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

    def evaluation_step(self, batch, training: bool = False):
        """Forward pass used by ``predict`` / ``predict_proba`` (see ``predict_with``).

        Only the networks the prediction needs run: network 1 alone for
        ``predict_with="module1"``.
        """
        self.check_is_fitted()
        Xi = batch[0] if isinstance(batch, (tuple, list)) else batch
        with torch.set_grad_enabled(training):
            self._set_training(training)
            if self.predict_with == "module1" and not self.fused:
                x = to_tensor(Xi, device=self.compute_device())
                return self._forward(self.module_, x, {})
            return self.infer(Xi)[0]

    def _set_training(self, training: bool = True) -> None:
        # skorch calls module.train() on every batch; that re-assigns the flag
        # on every submodule through nn.Module.__setattr__, which on small
        # networks costs a few percent of the step, so only do it on a change
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and any(
                    m.training != training for m in module.modules()):
                module.train(training)
