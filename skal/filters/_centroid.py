"""Robust class-centroid filter: a label is noisy when another class's centre is closer."""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions

from .._threads import one_blas_thread
from ._base import MIN_CLASS_COUNT, RANDOM_STATE, NoiseFilter, _small_class_mask, row_normalize
from ._calibration import channel_calibrated_clean_proba
from ._cluster_match import match_clusters_to_classes
from ._communities import anchor_centres, match_communities_to_classes
from ._finer_communities import match_finer_communities_to_classes
from ._geometric_median import _leave_one_out_geometric_medians, geometric_median
from ._naming import unnamed_label_posteriors
from ._pool import _dense, filter_pool_view
from ._spectral_view import spectral_clean_proba

__all__ = ["CentroidFilter", "geometric_median"]


class CentroidFilter(NoiseFilter):
    """Flag a label when some other class's robust centre is closer than its own.

    Each class is summarised by a robust centre of its labeled points (by
    default the geometric median, which a minority of wrong labels cannot
    drag away); a label is kept when the distance to the nearest *other*
    centre is at least the distance to its own centre (nearest-centroid
    agreement, ties kept).

    Parameters
    ----------
    center : {"geometric_median", "median", "mean"}, default="geometric_median"
        How a class centre is computed: the geometric median (robust, default),
        the coordinate-wise median, or the plain mean (not robust; for comparison).
    normalize : bool, default=True
        Project the rows onto the unit sphere first, so that distances compare
        directions (embeddings of different norms, cosine geometry).
    min_class_count : int, default=1
        Labels of classes with fewer labels are kept unjudged. With centres
        anchored to the pool (``anchor_to_pool``), a class of one or two
        labels has a centre worth judging by, so every label is judged; the
        default since the second revision of 2026-12-04, together with
        ``anchor_fade_after=5`` (below). Without a pool, one or two points do not make a robust
        centre: 3 keeps such classes unjudged (the default before).
    propose_below : float in (0, 1] or None, default=0.5
        A doubted label gets the class of its nearest other centre as the
        proposed label (``train_on="relabel"``) only when its calibrated
        ``clean_proba_`` is below this; other doubted labels get no proposal
        and are left out of training, as with ``train_on="clean"``. ``None``
        always proposes (the behaviour before 0.5 became the default). 0.5
        relabels only what the calibrated model finds more likely wrong than
        right: a careful annotator's doubted labels are dropped rather than
        changed. On the digits (NAS, ``"relabel"``, ``noise_dropout="auto"``,
        10 seeds) it cost 0.3 points against the plain strategy without noise
        instead of 0.5-1.1 with ``None``, and was level with ``None`` at
        20-50 % noise (``docs/benchmarks/nas_protocol_notebook.md``).
    limit_to_noise_rate : bool, default=False
        Flag at most ``round(noise_rate_ * n_judged)`` labels, those furthest
        on the wrong side first. Nearest-centroid disagreement also flags
        correct labels that sit near another class (about 7 % of the digits
        without any noise); the fitted noise rate says how many wrong labels
        the labels as a whole support. For careful annotators: on the digits
        (NAS, ``train_on="relabel"``, 5 seeds) it removes the cost of the
        filter at 0 % noise, but at 50 % noise and 20-40 labels the fitted
        rate falls short and MaxHerding loses 2.8 points, hence off by default
        (``docs/benchmarks/nas_protocol_notebook.md``).
    cluster_agreement : bool, default=True
        When the pool is given (``X_pool`` with ``sample_indices``, or
        ``X_unlabeled``), ask it for a second opinion: the pool is cut into
        clusters (``pool_clusters``; by default the spectral communities of
        its kNN graph, a fifth more of them than classes), every class is
        named to one cluster by the one-to-one assignment that agrees with
        the most labels, and each cluster left over is named by a clear
        majority of its labels or left without a name.
        A label is then kept when the centroid rule *or* its cluster's class
        agrees with it, and a doubted label gets a proposed label only when
        both name the same other class (otherwise it is left out of
        training). Without a pool the centroid rule decides alone. With the
        k-means cells that were its first cut, on the
        digits (NAS, ``train_on="relabel"``, ``noise_dropout="auto"``, the
        same learner with and without it) it added 0.7 points to the mean of
        the default search's four cells (both strategies, 50 % and 30 %
        noise) on seeds 0-4 and 0.75 on seeds 5-9, mostly for MaxHerding at
        50 %, and nothing changed without noise
        (``docs/benchmarks/nas_protocol_notebook.md``).
    pool_clusters : {"finer_communities", "kmeans", "communities"}, default="finer_communities"
        Which cut of the pool gives the second opinion
        (``cluster_agreement``). ``"kmeans"``: k-means cells, as many as
        there are classes (at most 2,048 sampled rows clustered, once per
        pool), named one-to-one (the default until the seventh revision of
        2026-12-04).
        ``"communities"``: the spectral communities of the pool's kNN graph
        that ``anchor_to_pool`` pulls the centres toward, named the same way
        (:func:`~skal.filters._communities.match_communities_to_classes`);
        where the pool cannot be cut into communities (see
        ``anchor_to_pool``), the k-means cells. It reuses the anchor's cut,
        so a first round on a 50,000 x 512 pool skips its k-means (0.17-0.19
        s instead of 0.23-0.28 s on 2 cores, ``benchmarks/bench_filter_latency.py``).
        On the digits (the paper protocol, forty seeds, paired with
        ``"kmeans"``) the recommended NAS pipeline scored the same (-0.14 to
        +0.26 points) while the same filter used for training only gained 0.5
        (MaxHerding) and 0.7 (ProbCover) points at 50 % noise; what NAS
        selection adds at 50 % fell from +2.7 / +3.0 to +1.3 / +2.0 points,
        below the +2 the library aims at, which is why it did not become the
        default (``docs/benchmarks/nas_protocol_notebook.md``).
        ``"finer_communities"``: the same graph cut into a fifth more
        communities than classes (``round(1.2 * n_classes)``), every class
        named to one of them by the one-to-one assignment, and each community
        left over named by a class holding at least 3 of its labels and more
        than any other class, or left without a name (no opinion on its
        labels; :func:`~skal.filters._finer_communities.match_finer_communities_to_classes`);
        where the pool cannot be cut into that many communities, the k-means
        cells. It reuses the anchor's eigenvectors (0.18-0.23 s for a round
        at 100 labels on a 50,000 x 512 pool, against 0.26-0.29 s with
        ``"kmeans"``). A class that spreads over several regions of the pool
        no longer shares its neighbours' communities, as it must when there
        is one community per class. The default since the seventh revision of
        2026-12-04: on the digits (the paper protocol, paired with
        ``"kmeans"``) the recommended NAS pipeline gained 1.4 / 0.7 / 0.0
        points (MaxHerding) and 0.7 / 0.8 / 0.3 (ProbCover) at 50 / 30 / 0 %
        noise on the forty seeds it was chosen on, and 2.3 / 0.7 / 0.0 and
        2.5 / 1.1 / 0.3 on forty more that no choice had used; on MNIST-5k
        (twenty seeds) it moved every cell by -0.4 to +0.9 points, within the
        0.5-point loss its adoption rule allowed
        (``docs/benchmarks/nas_protocol_notebook.md``).
    anchor_to_pool : bool, default=True
        When the pool is given, move each class centre toward the pool
        community its labels point to before judging: the pool's kNN graph
        (10 neighbours, at most 2,048 sampled rows) is cut into as many
        spectral communities as there are classes, the communities are named
        by the one-to-one assignment that agrees with the most labels, and a
        class matched to a community holding at least two of its labels (and
        no fewer than of any other class) moves to ``w * median(community) +
        (1 - w) * centre``, with ``w`` the share of its labels outside the
        community (:func:`~skal.filters._communities.anchor_centres`); when
        the sampled rows' graph falls into more connected components than
        there are classes, no single cut exists and no centre moves. A
        centre made of a few labels, half of them wrong, is pulled toward its
        wrong answers; told the true class centres, this filter's rule closes
        94-96 % of the gap to a perfect filter on the digits. The default
        since it had the best mean of the default's four selection cells on
        the digits among the candidates that lose nothing without noise
        (seeds 0-4, 69.12 against 68.17). In the paper protocol (NAS,
        ``train_on="relabel"``, 10 seeds, unfaded and judging classes of 3
        labels or more, against ``False`` in the same
        code) it added 1.7-2.8 points at 50 % noise on the digits and 0.7-1.1
        on MNIST-5k, lifting the NAS selection effect at 50 % on the digits
        to +3.0 (ProbCover) and +3.3 (MaxHerding); on MNIST-5k MaxHerding
        lost 0.8 points at 30 % and 0.6 without noise, and under
        pair-asymmetric noise the default lost 0.5-0.9 points to the one
        before. Unfaded, it is made for 1 to 5 labels per class: on the
        digits at 4 to 20 labels per class it scored 1.7-2.4 points below
        ``False``, whose label-made centres are reliable by then; the
        default fades it (``anchor_fade_after``). It costs: the first
        round's filtering on a 50,000 x 512 pool takes 0.18-0.23 s on 2 cores
        with the other defaults (the kNN graph and spectral embedding of the
        sampled rows, once per pool, which the pool's opinion reuses); with
        ``pool_clusters="kmeans"``, which adds a k-means for each number of
        classes seen, 0.23-0.28 s against 0.14-0.22 s without the anchor.
        ``False`` gives the centres of the labels alone.
    anchor_fade_after : int or None, default=5
        With ``anchor_to_pool``, the pull of a class with ``n`` labels is
        multiplied by ``min(1, anchor_fade_after / n)``: it fades as the
        class's own robust centre becomes reliable. ``None``: no fading.
        The unfaded anchor is made for 1 to 5 labels per class and costs
        beyond: on the digits at 4 to 20 labels per class it scored 1.7-2.4
        points below ``anchor_to_pool=False``; with ``5`` (the paper's
        largest per-class budget) it scored 0.2-1.3 points above. Chosen
        with ``min_class_count=1`` by the default's rule on the digits (mean
        of the four selection cells, seeds 0-4): 69.97 against 69.12 for
        the previous default (``anchor_fade_after=None, min_class_count=3``),
        69.64 with the fading alone and 69.21 with ``min_class_count=1``
        alone, the same without noise; on the seeds not used to choose,
        72.36 against 71.89 (5-9) and 70.66 against 70.25 (10-29)
        (``docs/benchmarks/nas_protocol_notebook.md``).
    soft_proposals : bool, default=True
        With ``anchor_to_pool``, a doubted label in a pool community that no
        class is pulled toward (the labels there do not name it) is proposed
        as a distribution over the classes rather than one class: the
        posterior that its community holds each class, over the one-to-one
        namings of the communities by all the labels, under a symmetric noisy
        channel at the fitted ``noise_rate_``
        (:func:`~skal.filters._naming.naming_posterior`; exact up to 14
        classes, Sinkhorn's approximation above). ``proposal_proba_`` holds
        it, ``proposed_labels_`` its most probable class; with
        ``train_on="relabel"`` the learner trains on the distribution (the
        row once per class, weighted by its probability) when its estimator
        takes ``sample_weight``. Such a label would otherwise be relabelled
        to the class of its nearest other centre, or dropped, on evidence the
        labels of its region cannot give. On the digits (the paper protocol,
        forty seeds, paired with ``False``) it added 1.0 point at 50 % noise
        for ProbCover and MaxHerding, 0.9 and 0.7 at 30 %, and nothing
        without noise (``docs/benchmarks/nas_protocol_notebook.md``). ``False``: the
        proposals of the centroid rule and the pool clusters only (the default
        until the third revision of 2026-12-04).
    random_state : int, RandomState instance or None, default=None
        Seeds the pool's k-means (``cluster_agreement``) and its spectral
        communities (``anchor_to_pool``, ``pool_clusters="communities"`` or
        ``"finer_communities"``). The learner gives
        an unseeded filter one seed for the whole run, so every round sees
        the same clusters.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Distance to the nearest other centre minus distance to the own centre.
    threshold_ : float
        0.0; with ``limit_to_noise_rate``, when it removed flags, the margin of
        the first label it kept (labels further below stay flagged).
    centers_ : ndarray of shape (n_classes, n_features)
        The class centres the rule judged by (in the normalised space when
        ``normalize=True``; moved toward the pool with ``anchor_to_pool``).
    clean_mask_ : ndarray of bool
    proposed_labels_ : ndarray of shape (n_samples,)
        The label the filter would give each point: the class of the nearest
        centre for a doubted label, the given label for a kept one. Used by
        ``NoiseAwareActiveLearner(train_on="relabel")``.
    clean_proba_ : ndarray of shape (n_samples,)
        Probability that each label is right: a softmax over minus the squared
        centre distances, through the symmetric noisy channel, with its
        temperature and noise rate fitted by likelihood on the given labels
        (:func:`~skal.filters._calibration.channel_calibrated_clean_proba`);
        1 for labels of classes too small to judge. Used by
        ``NoiseAwareActiveLearner(train_on="weighted")``.
    proposal_proba_ : ndarray of shape (n_samples, n_classes) or None
        With ``soft_proposals``: for each doubted label in a community the
        labels do not name, the posterior of its community's class (over
        ``classes_``); rows of zeros for every other label. ``None`` when no
        label got one.
    pool_clean_proba_ : ndarray of shape (n_samples,) or None
        With ``anchor_to_pool`` and a pool: the probability that each label
        is right by a second look, the same centroid rule read in the pool's
        spectral embedding (each label against its class's centre there,
        computed without it), calibrated the same way; 1 for a class's only
        label. ``None`` without a pool, or when the pool's kNN graph has
        more connected components than classes. It does not change the
        filter's decision; ``NoiseAwareActiveLearner(pool_doubt_weight=...)``
        lets a kept label it doubts cover its region less during selection.
    noise_rate_ : float
        The fitted noise rate of that model.
    temperature_ : float
        The fitted softmax temperature.
    cluster_classes_ : ndarray of shape (n_samples,) or None
        With ``cluster_agreement`` and a pool: the class each label's pool
        cluster (``pool_clusters``) was matched to (``None`` for a label whose
        community of the finer cut has no name); ``None`` otherwise, and when the centroid
        rule doubted no label (the pool's opinion then changes nothing and
        the pool is not clustered).
    classes_ : ndarray

    Notes
    -----
    One centre per class is the filter's assumption. A class made of several
    kinds of thing (two regions of the embedding that touch) has its centre
    between them, and right labels of either kind can sit nearer another
    class's centre: with the digits merged into five classes of two digits,
    it doubts 20-32 % of the right labels when the annotator makes no
    mistakes, against 2-5 % on the ten digits; ``anchor_to_pool=False`` doubts
    about half as many (``docs/benchmarks/nas_protocol_notebook.md``, twelfth
    session).

    A fit runs with BLAS held to one thread (``skal._threads.one_blas_thread``):
    its products are small (at most 2,048 pool rows at a time), and threaded
    BLAS pools spinning against each other and scikit-learn's kNN search made a
    round on a 50,000-row pool half again as slow on 2 cores. The limit is
    process-wide while a fit runs, as BLAS libraries expose it, and is
    restored after.

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.noise import make_noisy_labels
    >>> from skal.filters import CentroidFilter
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> y_noisy, is_noisy = make_noisy_labels(y[:500], 0.3, random_state=0)
    >>> keep = CentroidFilter().fit_filter(X[:500], y_noisy)
    >>> bool((~keep[is_noisy]).mean() > 0.7)
    True
    """

    _parameter_constraints: dict = {
        "center": [StrOptions({"geometric_median", "median", "mean"})],
        "normalize": ["boolean"],
        "min_class_count": MIN_CLASS_COUNT,
        "limit_to_noise_rate": ["boolean"],
        "propose_below": [Interval(Real, 0, 1, closed="right"), None],
        "cluster_agreement": ["boolean"],
        "pool_clusters": [StrOptions({"communities", "finer_communities", "kmeans"})],
        "anchor_to_pool": ["boolean"],
        "anchor_fade_after": [Interval(Integral, 1, None, closed="left"), None],
        "soft_proposals": ["boolean"],
        "random_state": RANDOM_STATE,
    }
    accepts_sparse = True

    def __init__(self, center="geometric_median", *, normalize=True, min_class_count=1,
                 limit_to_noise_rate=False, propose_below=0.5, cluster_agreement=True,
                 pool_clusters="finer_communities", anchor_to_pool=True, anchor_fade_after=5, soft_proposals=True,
                 random_state=None):
        self.center = center
        self.normalize = normalize
        self.min_class_count = min_class_count
        self.limit_to_noise_rate = limit_to_noise_rate
        self.propose_below = propose_below
        self.cluster_agreement = cluster_agreement
        self.pool_clusters = pool_clusters
        self.anchor_to_pool = anchor_to_pool
        self.anchor_fade_after = anchor_fade_after
        self.soft_proposals = soft_proposals
        self.random_state = random_state

    @property
    def uses_pool(self) -> bool:
        # The learner passes the pool (and the labels' pool indices) only to
        # filters that ask for it.
        return bool(self.cluster_agreement or self.anchor_to_pool)

    @property
    def _threshold_decision(self) -> bool:
        # The pool's opinion can keep a label whose margin is negative.
        return getattr(self, "cluster_classes_", None) is None

    # Small products only (at most a few thousand pool rows): threaded BLAS
    # pools would spin against each other and scikit-learn's OpenMP kNN search.
    @one_blas_thread
    def _fit_filter(self, X, y, n_classes, *, X_unlabeled, rng, sample_indices=None,
                    X_pool=None):
        Z = X if sp.issparse(X) else np.asarray(X, dtype=np.float64)
        if self.normalize:
            Z = row_normalize(Z)
        centers = self._class_centres(Z, y, n_classes)
        # The pool as this call sees it, built at most once (a pool stacked
        # from X_unlabeled is not cached between calls).
        pool = None
        has_pool = X_pool is not None or X_unlabeled is not None
        # The communities' seed, read from a copy of the stream: the pool
        # opinion's k-means draws from ``rng`` next and must get the seed it
        # gets without the communities. Only the pool's steps use it.
        seed = (None if self.random_state is None or not has_pool
                else int(copy.deepcopy(rng).integers(0, 2**31 - 1, size=2)[1]))
        if self.anchor_to_pool and has_pool:
            pool = filter_pool_view(self, X, X_unlabeled, sample_indices, X_pool)
            view, positions = pool
            centers = self._anchor_centres(centers, view, positions, y, n_classes, seed)
        # Squared distances through one matrix product; clip the round-off.
        z_sq = (np.asarray(Z.multiply(Z).sum(axis=1)).ravel() if sp.issparse(Z)
                else np.einsum("ij,ij->i", Z, Z))
        d2 = (z_sq[:, None] - 2 * np.asarray(Z @ centers.T)
              + np.einsum("ij,ij->i", centers, centers)[None, :])
        dist = np.sqrt(np.maximum(d2, 0.0))
        rows = np.arange(Z.shape[0])
        own = dist[rows, y].copy()
        dist[rows, y] = np.inf
        nearest_other = dist.argmin(axis=1)
        scores = dist[rows, nearest_other] - own
        keep = scores >= 0.0
        self.centers_ = centers
        judged = ~_small_class_mask(y, n_classes, self.min_class_count)
        # Minus the squared distance is the log-density of an isotropic
        # Gaussian class; its temperature and the annotator's noise rate are
        # fitted on the given labels (train_on="weighted" reads the result).
        # A label's own centre is taken without it (leave-one-out): with a
        # few labels per class the centre sits close to each of its members,
        # and the fit would read every label as confirmed.
        dist[rows, y] = self._own_distance_without(Z, y, centers, judged, own)
        self.clean_proba_, self.noise_rate_, self.temperature_ = \
            channel_calibrated_clean_proba(-dist**2, y, judged)
        # The second look from the pool's spectral embedding (NAS selection
        # reads it: ``NoiseAwareActiveLearner(pool_doubt_weight=...)``).
        self.pool_clean_proba_ = (None if pool is None
                                  else spectral_clean_proba(pool[0], pool[1], y, n_classes, seed))
        threshold = 0.0
        if self.limit_to_noise_rate:
            flagged = np.flatnonzero(~keep & judged)
            allowed = int(round(self.noise_rate_ * int(judged.sum())))
            if flagged.size > allowed:
                # The most negative margins stay flagged; ties by position.
                by_doubt = flagged[np.argsort(scores[flagged], kind="stable")]
                keep[by_doubt[allowed:]] = True
                threshold = float(scores[by_doubt[allowed]])
        # A doubted label's nearest centre belongs to another class: that class
        # is the filter's proposal (train_on="relabel"); kept labels keep theirs.
        # Encoded, -1 for no proposal.
        says = np.where(keep | ~judged, y, nearest_other)
        if self.propose_below is not None:
            says[~keep & judged & (self.clean_proba_ >= self.propose_below)] = -1
        self.cluster_classes_ = None
        # The pool's opinion only ever rescues or relabels a label the centroid
        # rule doubts: with none doubted (early rounds, where every class is
        # still too small to judge) it would change nothing, so the pool is
        # not clustered yet.
        doubted = ~keep & judged
        if self.cluster_agreement and doubted.any() and has_pool:
            if pool is None:
                pool = filter_pool_view(self, X, X_unlabeled, sample_indices, X_pool)
            keep, says = self._agree_with_pool(y, n_classes, keep, says, rng, seed, *pool)
        self.proposal_proba_ = None
        if self.soft_proposals and self.anchor_to_pool and pool is not None and not keep.all():
            says = self._propose_posteriors(y, n_classes, keep, says, seed, *pool)
        self.proposed_labels_ = _classes_or_none(self.classes_, says)
        return scores, threshold, keep

    def _class_centres(self, Z, y, n_classes: int) -> np.ndarray:
        """One centre per encoded class, from its labeled rows (``center``).

        A method of its own so that an analysis can hand the rule other
        centres (``benchmarks/nas_gap_decomposition.py`` tells it the pool's
        true class centres, to measure what estimating them costs).
        """
        centers = np.empty((n_classes, Z.shape[1]))
        for c in range(n_classes):
            members = Z[y == c]
            if self.center == "mean":
                centers[c] = np.asarray(members.mean(axis=0)).ravel()
            elif self.center == "median":
                dense = members.toarray() if sp.issparse(members) else members
                centers[c] = np.median(dense, axis=0)
            else:
                centers[c] = geometric_median(members)
        return centers

    def _anchor_centres(self, centers, view, positions, y, n_classes: int, seed) -> np.ndarray:
        """The class centres moved toward the pool's communities (``anchor_to_pool``).

        A method of its own, like :meth:`_class_centres`, so that an analysis
        can name the communities another way
        (``benchmarks/nas_gap_decomposition.py`` tells it which community
        holds which class, to measure what naming them from the labels costs).
        """
        return anchor_centres(centers, view, positions, y, n_classes, seed,
                              fade_after=self.anchor_fade_after)

    def _agree_with_pool(self, y, n_classes, keep, says, rng, community_seed, view, positions):
        """Combine the centroid rule with the pool clusters' classes (``cluster_agreement``).

        ``says`` is the centroid rule's label for each row (encoded, -1 for no
        proposal); ``community_seed`` seeds the pool's communities
        (``pool_clusters="communities"``); ``view`` and ``positions`` are the
        pool and the labels' rows in it. Returns the kept mask and the
        combined labels.
        """
        # Drawn whichever clustering is used, so that the stream, and with it
        # every later draw, does not depend on ``pool_clusters``. Unseeded: one
        # clustering per pool, reused by later calls (a fresh one per call
        # would cost a k-means each round and move the clusters).
        seed = None if self.random_state is None else int(rng.integers(0, 2**31 - 1))
        matched = None
        if self.pool_clusters == "communities":
            matched = match_communities_to_classes(view, positions, y, n_classes,
                                                   community_seed)
        elif self.pool_clusters == "finer_communities":
            # -1 for a label whose community has no name: no opinion on it.
            matched = match_finer_communities_to_classes(view, positions, y, n_classes,
                                                         community_seed)
        if matched is None:
            # The k-means cells, also where the pool cannot be cut into communities.
            matched, _ = match_clusters_to_classes(view, positions, y, n_classes, seed)
        kept = keep | (matched == y)
        # A doubted label is relabelled only where both views name the same class.
        final = np.where(kept, y, np.where((says == matched) & (matched >= 0), matched, -1))
        self.cluster_classes_ = _classes_or_none(self.classes_, matched)
        return kept, final

    def _propose_posteriors(self, y, n_classes, keep, says, seed, view, positions):
        """Soft proposals for the doubted labels of unnamed communities (``soft_proposals``).

        Sets ``proposal_proba_`` and returns ``says`` with each such label's
        most probable class.
        """
        found = unnamed_label_posteriors(view, positions, y, n_classes, seed, self.noise_rate_)
        if found is None:
            return says
        posterior, unnamed = found
        take = ~keep & unnamed
        if not take.any():
            return says
        proba = np.zeros((y.size, n_classes))
        proba[take] = posterior[take]
        self.proposal_proba_ = proba
        return np.where(take, posterior.argmax(axis=1), says)

    def _own_distance_without(self, Z, y, centers, judged, own):
        """Distance of each judged row to its class's centre computed without that row.

        Only classes of at most ``_LOO_MAX_CLASS`` labels: in a larger class one
        label moves the centre by O(1/n) and its own distance is used as it is.
        """
        out = own.copy()
        for c in np.unique(y[judged]):
            members = np.flatnonzero(y == c)
            if members.size > _LOO_MAX_CLASS or members.size < 2:
                continue
            M = _dense(Z[members])
            if self.center == "mean":
                loo = (members.size * centers[c][None, :] - M) / (members.size - 1)
            elif self.center == "median":
                loo = np.stack([np.median(np.delete(M, k, axis=0), axis=0)
                                for k in range(members.size)])
            else:
                loo = _leave_one_out_geometric_medians(M, centers[c])
            diff = M - loo
            take = judged[members]
            out[members[take]] = np.sqrt(np.einsum("ij,ij->i", diff, diff))[take]
        return out


def _classes_or_none(classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``classes[codes]``, with ``None`` (an object array) where a code is -1."""
    out = classes[np.maximum(codes, 0)]
    if (codes < 0).any():
        out = out.astype(object)
        out[codes < 0] = None
    return out


# Classes up to this size get leave-one-out centres for the calibration.
_LOO_MAX_CLASS = 256
