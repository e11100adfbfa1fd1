"""A second look at the labels from the pool's spectral embedding.

The centroid rule judges a label by its distance to the class centres in
the embedding itself, where a wrong answer near the border of two classes
often sits closer to the class it was given. In the spectral embedding of the
pool's kNN graph (the leading eigenvectors of its normalised affinity, rows
scaled to unit length as spectral clustering does), each pool row sits near
the axis of its own region of the graph, so a label given to a point of
another region lies far from its class's centre there. Among the labels the
centroid filter keeps on the digits at 50 % noise, this ranks the wrong ones
below the right ones with an area under the ROC curve of 0.76-0.89 in rounds
2-5, against 0.66-0.73 for the filter's own clean probability
(``docs/benchmarks/nas_protocol_notebook.md``, ninth session).

It is too unsure to drop labels by (training on fewer right labels costs
more than the wrong ones removed), but NAS selection can let such labels
cover their regions a little less (``NoiseAwareActiveLearner(pool_doubt_weight=...)``).
"""

from __future__ import annotations

import numpy as np

from ._calibration import channel_calibrated_clean_proba
from ._communities import (
    _knn_affinity,
    _n_components,
    _spectral_vectors,
    community_of,
    community_seed,
)
from ._pool import PoolView

__all__ = ["spectral_clean_proba"]


def spectral_clean_proba(view: PoolView, positions: np.ndarray, y: np.ndarray, n_classes: int,
                         seed: int | None) -> np.ndarray | None:
    """``P(label is right)`` from the centroid rule in the pool's spectral embedding.

    Parameters
    ----------
    view : PoolView
        The pool's unit rows.
    positions : ndarray of int
        The pool row of each label.
    y : ndarray of int
        The given labels, encoded ``0 .. n_classes - 1``, every class held by
        at least one label (as a filter encodes them).
    n_classes : int
        The number of classes the labels hold; the embedding has as many
        columns.
    seed : int or None
        Seeds the row sample and the eigensolver, as for the pool's
        communities (the same graph and embedding are reused; ``None``: the
        pool's own unseeded draw, see :func:`pool_communities`).

    Returns
    -------
    proba : ndarray of shape (n_labels,) or None
        Each label's distance to its class's centre in the embedding (the
        centre computed without it) against its distances to the other
        centres, turned into a probability by the symmetric noisy channel
        fitted on the labels themselves
        (:func:`~skal.filters._calibration.channel_calibrated_clean_proba`).
        Labels of a class with a single label get 1 (nothing to compare
        with). ``None`` when the pool's graph cannot be embedded in one piece
        (too few rows, or more connected components than classes), or fewer
        than two labels can be judged.
    """
    seed = community_seed(view, seed)
    rows, affinity, _, _ = _knn_affinity(view, seed)
    if (affinity is None or n_classes < 2 or rows.size < n_classes + 1
            or _n_components(view, seed) > n_classes):
        return None
    vectors = _spectral_vectors(view, seed, n_classes)
    # A label off the sample takes its nearest sampled row's place.
    nearest = community_of(view, np.asarray(positions), rows, np.arange(rows.size))
    E = vectors[nearest]
    E = E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-12)
    counts = np.bincount(y, minlength=n_classes)
    centres = np.zeros((n_classes, E.shape[1]))
    np.add.at(centres, y, E)
    centres /= counts[:, None]
    d2 = ((E[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    judged = counts[y] >= 2
    if judged.sum() < 2:
        return None
    # Each judged label's own centre without it (leave-one-out): with two to
    # ten labels a class's centre sits close to each of its members.
    own = judged.nonzero()[0]
    n_own = counts[y[own]][:, None]
    loo = (n_own * centres[y[own]] - E[own]) / (n_own - 1)
    d2[own, y[own]] = ((E[own] - loo) ** 2).sum(axis=1)
    proba, _, _ = channel_calibrated_clean_proba(-d2, y, judged)
    return proba
