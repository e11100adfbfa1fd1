"""The Co-Teaching training step on skorch's machinery.

skorch's ``train_step`` builds a closure around :meth:`train_step_single`,
fires ``on_grad_computed`` in it and hands it to every optimizer's ``step``.
The classifier keeps that loop and overrides its parts: ``infer`` (both
networks, in ``_pair.py``), ``get_loss`` (the small-loss exchange),
``train_step_single`` (records both networks' losses and accuracies) and
``_step_optimizer`` (one evaluation of the closure for both optimizers).
"""

from __future__ import annotations

import torch
from skorch.dataset import unpack_data
from skorch.utils import to_tensor

from ._loss import loss_coteaching


class _TrainingStep:
    """The classifier's training-step methods (mixed into the classifier)."""

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

    def _step_optimizer(self, step_fn):
        """Step both optimizers from one evaluation of the training closure.

        skorch hands the closure to each optimizer's ``step``, and most
        optimizers evaluate it once: with two optimizers that is two forward
        and backward passes per batch, and network 2 would rank the batch
        with network 1 already updated. Co-Teaching updates both networks
        from one exchange, so the closure runs once and every optimizer's
        first call of it gets that result (the gradients of both networks are
        already in place). Later calls -- the line search of
        :class:`torch.optim.LBFGS` -- evaluate it again.
        """
        if step_fn is None:
            return super()._step_optimizer(step_fn)
        latest = [step_fn()]

        def evaluate():
            latest[0] = step_fn()
            return latest[0]

        for name in self._optimizers:
            fresh = [True]

            def closure(fresh=fresh):
                if fresh[0]:
                    fresh[0] = False
                    return latest[0]
                return evaluate()

            getattr(self, name + "_").step(closure)
        return None
