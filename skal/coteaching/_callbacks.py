"""skorch callbacks of the Co-Teaching classifier: the schedule, quiet logging, scoring."""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import Callback, PrintLog
from skorch.utils import to_numpy

__all__ = ["CoTeachingSchedule"]


class CoTeachingSchedule(Callback):
    """Apply the forget-rate schedule and the learning-rate / beta1 plan.

    At the start of every epoch the callback records ``forget_rate`` (read by
    :meth:`CoTeachingClassifier.get_loss` through
    :meth:`CoTeachingClassifier.current_forget_rate`), sets the learning rate
    of every parameter group of *both* optimizers to its base rate times the
    plan's factor, and sets Adam's beta1 (optimizers without ``betas`` keep
    theirs). It also records ``lr`` and ``beta1`` (of optimizer 1's first
    group) in the history. The base rate of a parameter group is its learning
    rate when training starts, stored as ``initial_lr`` in the group like
    torch's schedulers do.
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


def _accuracy_on_codes(net, X, y) -> float:
    # the validation targets inside skorch's dataset are class codes, so
    # compare with the argmax instead of going through classes_
    y_true = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
    return float(np.mean(net.predict_proba(X).argmax(axis=1) == y_true))
