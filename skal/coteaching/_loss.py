"""The small-loss exchange of Co-Teaching on one mini-batch."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._validation import check_fraction

__all__ = ["loss_coteaching"]


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
