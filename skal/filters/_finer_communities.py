"""The pool's second opinion from a cut a little finer than the classes.

A cut of the pool's kNN graph into exactly one community per class must
merge two classes somewhere when one class spreads over several regions (on
the digits, the ones fall into a small pure community and two that belong
mostly to the eights and the nines; on MNIST-5k into three of their own).
Cut into a fifth more communities than classes, such a class keeps its parts
apart and its neighbours' communities come out purer (on the digits, what the
change gains is mostly theirs: the eights' recall rises, the ones' does not).
Every class is still named to one community by the one-to-one
assignment that agrees with the most labels (the assignment is what makes a
wrong answer rarely land in the community its name was matched to); a
community left over is named only by a clear majority of its labels, and
stays without a name otherwise.
"""

from __future__ import annotations

import numpy as np

from ._cluster_match import one_to_one_names
from ._communities import community_votes
from ._pool import PoolView

__all__ = ["FINER_SHARE", "LEFTOVER_MIN_VOTES", "finer_cut_size", "match_finer_communities_to_classes",
           "name_communities"]

#: A fifth more communities than classes.
FINER_SHARE = 1.2
#: A community the one-to-one assignment leaves over is named by a class
#: holding at least this many of its labels, and more than any other class.
LEFTOVER_MIN_VOTES = 3


def finer_cut_size(n_classes: int) -> int:
    """How many communities the finer cut has: ``round(1.2 * n_classes)``, at least ``n_classes``."""
    return max(int(n_classes), int(round(FINER_SHARE * n_classes)))


def name_communities(counts: np.ndarray, min_votes: int = LEFTOVER_MIN_VOTES) -> np.ndarray:
    """The class of each community, ``-1`` for one left without a name.

    Parameters
    ----------
    counts : ndarray of shape (n_communities, n_classes)
        ``counts[m, c]``: the labels of class ``c`` in community ``m``.
    min_votes : int, default=3
        A community the one-to-one assignment leaves over takes the class
        holding at least this many of its labels and strictly more than any
        other class.

    Returns
    -------
    names : ndarray of int, shape (n_communities,)

    Examples
    --------
    Four communities, three classes: the assignment names three of them; the
    fourth holds three labels of class 0 and one of class 2, so it is named 0
    as well.

    >>> import numpy as np
    >>> counts = np.array([[4, 0, 1], [0, 3, 0], [1, 0, 2], [3, 0, 1]])
    >>> name_communities(counts).tolist()
    [0, 1, 2, 0]
    >>> name_communities(counts, min_votes=4).tolist()
    [0, 1, 2, -1]
    """
    counts = np.asarray(counts)
    names = one_to_one_names(counts)
    for m in np.flatnonzero(names < 0):
        top = counts[m].max()
        if top >= min_votes and np.count_nonzero(counts[m] == top) == 1:
            names[m] = int(counts[m].argmax())
    return names


def match_finer_communities_to_classes(view: PoolView, positions: np.ndarray, y: np.ndarray,
                                       n_classes: int, seed: int | None) -> np.ndarray | None:
    """The class of each label's community in the finer cut, ``-1`` where it has none.

    The arguments are those of
    :func:`~skal.filters._communities.match_communities_to_classes` (the pool,
    each label's row in it, the encoded labels, their number of classes and
    the cut's seed). Returns ``None`` when the pool cannot be cut into
    :func:`finer_cut_size` communities, else one class per label (``int``).

    Examples
    --------
    Four tight groups; class 0 spreads over the first two. The finer cut of
    three classes has four communities, and both of class 0's are named 0:

    >>> import numpy as np
    >>> from skal.filters._pool import PoolView
    >>> jitter = 0.02 * np.random.default_rng(0).standard_normal((80, 4))
    >>> view = PoolView(np.repeat(np.eye(4), 20, axis=0) + jitter)
    >>> positions = np.array([0, 1, 2, 20, 21, 22, 40, 41, 60, 61])
    >>> y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2, 2])
    >>> match_finer_communities_to_classes(view, positions, y, 3, seed=0).tolist()
    [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
    """
    votes = community_votes(view, positions, y, n_classes, seed,
                            n_communities=finer_cut_size(n_classes))
    return None if votes is None else name_communities(votes.counts)[votes.community]
