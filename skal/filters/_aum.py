"""Area Under the Margin (Pleiss et al., 2020), with the low-budget variant of NAS."""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import MIN_CLASS_COUNT, RANDOM_STATE, NoiseFilter

# A sparse labeled set is densified for the linear probe up to this size.
_DENSE_LIMIT_BYTES = 512 * 2**20

__all__ = ["AUMFilter", "area_under_margin"]


def area_under_margin(X: np.ndarray, y: np.ndarray, n_outputs: int, *, epochs: int = 40,
                      lr: float = 0.1, momentum: float = 0.9, weight_decay: float = 1e-4,
                      batch_size: int = 64, device: str = "cpu",
                      rng: np.random.Generator | None = None,
                      initial_weights: tuple[np.ndarray, np.ndarray] | None = None,
                      n_threads: int | None = 1) -> np.ndarray:
    """Train a linear layer with SGD and return each sample's average margin.

    The margin of a sample in a mini-batch is the logit of its assigned label
    minus the largest other logit, read from the forward pass of that training
    step; AUM is its mean over every mini-batch the sample appears in.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of int, shape (n_samples,)
        Assigned labels in ``[0, n_outputs)``.
    n_outputs : int
        Number of logits (classes plus the fake threshold class).
    epochs, lr, momentum, weight_decay, batch_size : training recipe
        SGD with Nesterov momentum; the defaults are the NAS recipe.
    device : str, default="cpu"
        Torch device.
    rng : numpy Generator, optional
        Seeds the initialisation and the shuffles.
    initial_weights : (weight, bias) of shapes (n_outputs, n_features), (n_outputs,), optional
        Start from these parameters instead of PyTorch's default uniform
        initialisation (for warm starts and exact checks of the margin).
    n_threads : int or None, default=1
        CPU threads torch may use during training (restored afterwards);
        ``None`` leaves torch's setting alone. The mini-batch products of a
        linear probe are far too small to gain from intra-op threads, and on a
        busy machine the threads' synchronisation costs many times the work.

    Returns
    -------
    aum : ndarray of shape (n_samples,)
    """
    import torch

    if n_threads is None or torch.device(device).type != "cpu":
        return _train_aum(X, y, n_outputs, epochs, lr, momentum, weight_decay, batch_size,
                          device, rng, initial_weights)
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        return _train_aum(X, y, n_outputs, epochs, lr, momentum, weight_decay, batch_size,
                          device, rng, initial_weights)
    finally:
        torch.set_num_threads(previous)


def _train_aum(X, y, n_outputs, epochs, lr, momentum, weight_decay, batch_size, device, rng,
               initial_weights):
    import torch

    rng = rng if rng is not None else np.random.default_rng()
    dev = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(int(rng.integers(0, 2**63 - 1)))
    Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
    yt = torch.as_tensor(y, dtype=torch.int64, device=dev)
    n, d = Xt.shape
    # Built on the meta device, then filled from our own generator: the
    # default initialisation would draw from (and advance) torch's global RNG.
    layer = torch.nn.Linear(d, n_outputs, device="meta").to_empty(device=dev)
    # Seeded initialisation, identical on every device.
    bound = 1.0 / math.sqrt(d)
    with torch.no_grad():
        if initial_weights is None:
            layer.weight.copy_(torch.rand(n_outputs, d, generator=gen) * 2 * bound - bound)
            layer.bias.copy_(torch.rand(n_outputs, generator=gen) * 2 * bound - bound)
        else:
            weight, bias = initial_weights
            layer.weight.copy_(torch.as_tensor(np.asarray(weight).reshape(n_outputs, d)))
            layer.bias.copy_(torch.as_tensor(np.asarray(bias).reshape(n_outputs)))
    opt = torch.optim.SGD(layer.parameters(), lr=lr, momentum=momentum,
                          weight_decay=weight_decay, nesterov=momentum > 0)
    loss_fn = torch.nn.CrossEntropyLoss()
    margin_sum = torch.zeros(n, dtype=torch.float64, device=dev)
    seen = torch.zeros(n, dtype=torch.float64, device=dev)
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(dev)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            logits = layer(Xt[idx])
            target = yt[idx]
            with torch.no_grad():
                assigned = logits.gather(1, target[:, None]).squeeze(1)
                others = logits.scatter(1, target[:, None], float("-inf"))
                margin = assigned - others.max(dim=1).values
                margin_sum.index_add_(0, idx, margin.double())
                seen.index_add_(0, idx, torch.ones_like(margin, dtype=torch.float64))
            loss = loss_fn(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return (margin_sum / seen.clamp_min(1)).cpu().numpy()


class AUMFilter(NoiseFilter):
    """Area-Under-the-Margin noise filter, in NAS's low-budget form by default.

    A fake class is added and given *threshold samples*: points known to be
    wrongly labeled by construction. A linear layer is trained on the
    features; a real label whose average margin (AUM) is below the
    ``percentile``-th percentile of the threshold samples' AUM is flagged.

    Two recipes:

    * ``recipe="low_budget"`` (default, used by NAS): ``ceil(|L| / C)``
      threshold samples drawn from the unlabeled pool ``X_unlabeled``,
      80th percentile, one run. Falls back to ``"original"`` when
      ``X_unlabeled`` is not given or too small.
    * ``recipe="original"`` (Pleiss et al.): ``N / (C + 1)`` labeled samples
      become threshold samples, 99th percentile, two runs with disjoint
      threshold sets; a label is flagged only when flagged in every run where
      it kept its own label.

    Parameters
    ----------
    recipe : {"low_budget", "original"}, default="low_budget"
    percentile : float or None, default=None
        Percentile of the threshold samples' AUM used as τ; ``None`` means 80
        for the low-budget recipe and 99 for the original.
    epochs : int, default=40
    lr : float, default=0.1
    momentum : float, default=0.9
        Nesterov momentum of SGD.
    weight_decay : float, default=1e-4
    batch_size : int, default=64
    device : str, default="cpu"
        Torch device for the linear probe (``"cuda"`` when available and wanted).
    n_threads : int or None, default=1
        CPU threads torch uses while training (see :func:`area_under_margin`).
    min_class_count : int, default=3
        Labels of classes with fewer labels are kept unjudged: a linear probe
        cannot give a class seen once or twice a large margin.
    random_state : int, numpy Generator or None, default=None

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        AUM of each labeled sample. For the original recipe: the best
        ``AUM - τ`` over the runs that judged the sample, plus ``threshold_``.
    threshold_ : float
        τ (the mean over runs for the original recipe).
    threshold_scores_ : ndarray
        AUM of the threshold samples (of the last run).
    recipe_ : str
        The recipe actually used.
    clean_mask_ : ndarray of bool
    classes_ : ndarray

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import AUMFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:500], 0.3, random_state=0)
    >>> keep = AUMFilter(random_state=0).fit_filter(X[:500], y_noisy, X_unlabeled=X[500:])
    >>> keep.dtype, keep.shape
    (dtype('bool'), (500,))
    """

    uses_unlabeled = True
    accepts_sparse = True

    _parameter_constraints: dict = {
        "recipe": [StrOptions({"low_budget", "original"})],
        "percentile": [Interval(numbers.Real, 0, 100, closed="both"), None],
        "epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "lr": [Interval(numbers.Real, 0, None, closed="neither")],
        "momentum": [Interval(numbers.Real, 0, None, closed="left")],
        "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "device": [str],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_class_count": MIN_CLASS_COUNT,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, recipe="low_budget", *, percentile=None, epochs=40, lr=0.1, momentum=0.9,
                 weight_decay=1e-4, batch_size=64, device="cpu", n_threads=1,
                 min_class_count=3, random_state=None):
        self.recipe = recipe
        self.percentile = percentile
        self.epochs = epochs
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.device = device
        self.n_threads = n_threads
        self.min_class_count = min_class_count
        self.random_state = random_state

    def _aum(self, X, y, n_outputs, rng):
        aum = area_under_margin(X, y, n_outputs, epochs=self.epochs, lr=self.lr,
                                momentum=self.momentum, weight_decay=self.weight_decay,
                                batch_size=self.batch_size, device=self.device, rng=rng,
                                n_threads=self.n_threads)
        if not np.all(np.isfinite(aum)):
            # A diverged probe gives NaN margins, and NaN >= tau is False: every
            # label would be silently flagged as noisy.
            raise ValueError(
                "AUMFilter's linear probe diverged (non-finite margins): X holds values up to "
                f"{float(np.abs(X).max()):.3g}; standardise the features or lower lr"
            )
        return aum

    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng):
        X = _dense(X, "X")
        n = X.shape[0]
        n_threshold = math.ceil(n / n_classes)
        recipe = self.recipe
        if recipe == "low_budget" and (X_unlabeled is None or X_unlabeled.shape[0] < 1):
            recipe = "original"
        self.recipe_ = recipe
        if recipe == "low_budget":
            return self._fit_low_budget(X, y, n_classes, X_unlabeled, n_threshold, rng)
        return self._fit_original(X, y, n_classes, rng)

    def _fit_low_budget(self, X, y, n_classes, X_unlabeled, n_threshold, rng):
        pct = 80.0 if self.percentile is None else float(self.percentile)
        n_threshold = min(n_threshold, X_unlabeled.shape[0])
        pick = rng.choice(X_unlabeled.shape[0], size=n_threshold, replace=False)
        X_all = np.vstack([X, _dense(X_unlabeled[pick], "X_unlabeled")])
        y_all = np.concatenate([y, np.full(n_threshold, n_classes, dtype=np.int64)])
        aum = self._aum(X_all, y_all, n_classes + 1, rng)
        scores, thr_scores = aum[: X.shape[0]], aum[X.shape[0]:]
        threshold = float(np.percentile(thr_scores, pct))
        self.threshold_scores_ = thr_scores
        return scores, threshold, scores >= threshold

    def _fit_original(self, X, y, n_classes, rng, n_runs=2):
        pct = 99.0 if self.percentile is None else float(self.percentile)
        n = X.shape[0]
        # Two disjoint threshold sets of N / (C + 1) samples each (or half the
        # data each when the set is tiny), so every sample keeps its own label
        # in at least one run.
        per_run = max(1, min(n // (n_classes + 1), n // n_runs))
        perm = rng.permutation(n)
        flagged_all = np.ones(n, dtype=bool)
        judged = np.zeros(n, dtype=bool)
        best_rel = np.full(n, -np.inf)
        thresholds = []
        for run in range(n_runs):
            thr_idx = perm[run * per_run:(run + 1) * per_run]
            y_run = y.copy()
            y_run[thr_idx] = n_classes
            aum = self._aum(X, y_run, n_classes + 1, rng)
            tau = float(np.percentile(aum[thr_idx], pct))
            thresholds.append(tau)
            own = np.ones(n, dtype=bool)
            own[thr_idx] = False
            flagged_all[own] &= aum[own] < tau
            judged |= own
            best_rel[own] = np.maximum(best_rel[own], aum[own] - tau)
            self.threshold_scores_ = aum[thr_idx]
        threshold = float(np.mean(thresholds))
        # A label is clean when some run puts it above that run's τ, so the
        # score is the best margin over τ, shifted to the mean τ: then
        # "scores_ >= threshold_" is exactly the decision.
        scores = np.where(judged, best_rel, 0.0) + threshold
        clean = ~(flagged_all & judged)
        return scores, threshold, clean


def _dense(X, name: str) -> np.ndarray:
    """A dense copy of a sparse block for the linear probe, within a memory limit."""
    if not sp.issparse(X):
        return X
    n_bytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
    if n_bytes > _DENSE_LIMIT_BYTES:
        raise ValueError(
            f"AUMFilter trains a dense linear probe: the sparse {name} of shape {X.shape} would "
            f"take {n_bytes / 2**20:.0f} MiB dense; reduce it first, e.g. with "
            "sklearn.decomposition.TruncatedSVD(n_components=256)"
        )
    return X.toarray()
