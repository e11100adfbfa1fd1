"""ProbCover (Yehuda et al., 2022): greedy maximum coverage of δ-balls."""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions

from .._memory import check_memory, resolve_memory_limit
from ..neighbors import (
    block_rows_for,
    csr_gather_rows,
    delta_ball_graph,
    edge_flags,
    estimate_graph_bytes,
    purity_delta,
    sample_ball_sizes,
    unit_normalize,
)
from ._base import RANDOM_STATE_CONSTRAINT, CoverageStrategyMixin, QueryStrategy
from ._greedy import greedy_max_coverage

__all__ = ["ProbCover", "greedy_max_coverage"]

_DEFAULT_CLUSTERS = 10
# Pools above this size get a sampled estimate of the graph's memory first.
_ESTIMATE_ABOVE = 20_000
# Below this size the graph is small whatever delta is: skip the estimate.
_ESTIMATE_MIN = 2_000
# What a graph build sets; restored when the build fails, so that delta_
# always describes graph_ (graph_bytes_estimate_ is left to describe the
# attempt: it says why a refused build was refused).
_BUILD_STATE = ("graph_", "delta_", "purity_error_", "missed_edges_", "n_probe_",
                "_graph_key", "_graph_radius", "_largest_graph")
# Warn when the estimated CSR graph exceeds this many bytes.
_WARN_GRAPH_BYTES = 4 * 2**30
# Above this pool size, delta="auto" estimates the purity quantile from a row
# sample (each sampled row against the whole pool) instead of every row.
_PURITY_EXACT_MAX = 20_000
_PURITY_SAMPLE = 4_000
# Confidence of the stated purity error (Dvoretzky-Kiefer-Wolfowitz bound).
_PURITY_ALPHA = 0.05
# Rows of a restored graph re-derived from the pool to check its content.
_CACHE_CHECK_ROWS = 8


class ProbCover(CoverageStrategyMixin, QueryStrategy):
    """ProbCover: pick the points whose δ-balls cover the most uncovered points.

    Features are unit-normalised (divided by the largest norm, then projected
    onto the sphere). The δ-ball graph holds an edge ``x -> y`` iff
    ``||x - y|| < delta`` (self-loops included); it is built once per pool in
    tiles of matrix products and cached between calls. The greedy is exact:
    each pick covers the largest number of not-yet-covered points, ties broken
    at random with ``random_state``.

    Parameters
    ----------
    delta : float or "auto", default="auto"
        Ball radius. ``"auto"`` uses the purity heuristic: the largest δ for
        which ``purity`` of the balls hold points of a single k-means cluster.
        The NAS paper uses 0.65 on SimCLR features of CIFAR.
    n_clusters : int or None, default=None
        Clusters for ``delta="auto"``. ``None`` means the number of classes
        when a :class:`~skal.NoiseAwareActiveLearner` knows it, else 10.
    purity : float, default=0.95
        Required fraction of pure balls for ``delta="auto"``.
    metric : {"euclidean", "cosine"}, default="euclidean"
        ``"cosine"`` reads δ as a cosine distance ``1 - x.y`` (a Euclidean
        radius of ``sqrt(2 delta)`` on the sphere).
    noisy_weight : float in [0, 1], default=0.0
        How much coverage by labeled points outside ``covering`` still counts:
        0 ignores it (NAS), 1 counts it fully (plain ProbCover); ``p_hat``, the
        predicted clean rate, gives the weighted NAS variant.
    block_rows : int or None, default=None
        Rows per distance tile (``None``: about 256 MiB per tile).
    device : str or None, default=None
        ``None`` builds the graph with NumPy/BLAS; a torch device string
        (``"cuda"``, ``"cpu"``, ``"auto"``) builds it with torch there.
    screen : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of the products that screen candidate pairs. Every choice
        gives the same, exact graph: a proven error bound decides most pairs
        and the rest are measured in float64. ``"auto"`` takes bfloat16 where
        it is fast (CUDA tensor cores, AMX CPUs) and float32 elsewhere.
    approximate : bool, default=False
        Build the graph through an inverted-file partition of the sphere
        (:func:`skal._ann.ivf_delta_ball_graph`) instead of all pairs: for
        pools of ``10^6`` points. The result is a symmetric subgraph of the
        exact graph; ``missed_edges_`` reports, on a sample of rows, how many
        edges it may have missed. Uses faiss when installed (``skal[ann]``),
        pure NumPy otherwise.
    n_probe : int or "auto", default="auto"
        Cells compared with each cell in approximate mode; more is slower and
        misses fewer edges. ``"auto"`` measures, on the exact balls of 2,000
        sampled rows (half of them from the tenth of the pool furthest from
        its cell centres, where missed edges concentrate, weighted back), how
        many edges every probe count would keep, and takes the smallest count
        whose recall reaches ``min_recall`` at the lower end of a one-sided
        95 % interval (:func:`skal._ann.choose_n_probe`). The default was 16
        before; it kept 0.9986 of the edges of a 200,000-point mixture, where
        ``"auto"`` takes 30 probes, and probed eight times more than needed at
        10^6 points, where it takes 2.
    min_recall : float in (0, 1], default=0.999
        With ``approximate=True`` and ``n_probe="auto"``, the share of the
        graph's edges to keep, as estimated on the sampled rows;
        ``missed_edges_`` then checks it on an independent sample.
    max_memory : "auto", None, int or str, default="auto"
        Memory the graph build may use. Before building, the graph's size is
        estimated from a sample of balls; if the build (graph plus its
        temporary copy and one distance tile) would exceed this, a
        ``MemoryError`` says so instead of the operating system killing the
        process. ``"auto"`` is 80% of the RAM available at the time; ``None``
        disables the check; a number is bytes, a string such as ``"4GB"`` is parsed.
    progress : bool, default=False
        Show progress bars for the graph build.
    random_state : int, numpy Generator or None, default=None
        Seeds tie-breaking and the k-means of ``delta="auto"``.

    Attributes
    ----------
    delta_ : float
        The Euclidean radius used by the last call (resolved from ``"auto"``).
    graph_ : scipy.sparse.csr_matrix
        The cached δ-ball graph of the last pool. Its ``data`` is one
        read-only ``True`` shared by every edge (no byte per edge), so
        scipy's in-place methods that write ``data`` (``eliminate_zeros``)
        fail on it: work on ``graph_.copy()`` or ``graph_.astype(...)``.
    coverage_ : float
        Fraction of the pool covered by ``covering`` plus the picks of the last call.
    graph_bytes_estimate_ : int or None
        Sampled estimate of the graph's memory, made before building it on
        pools larger than 20,000 points (``None`` on smaller pools); after a
        build refused for memory, the estimate that refused it.
    purity_error_ : float or None
        With ``delta="auto"`` on pools above 20,000 points the purity quantile
        is estimated from 4,000 sampled rows: with 95% confidence the fraction
        of pure balls at ``delta_`` is within ``purity_error_`` of ``purity``
        (Dvoretzky-Kiefer-Wolfowitz); 0 when every row was used, ``None`` when
        δ was given.
    missed_edges_ : dict or None
        In approximate mode, the report of
        :func:`skal._ann.estimate_missed_edges` (``recall``,
        ``missed_edges_estimate``, ...); ``None`` for the exact graph.
    n_probe_ : int or None
        In approximate mode, the probe count the graph was built with (the
        choice of ``n_probe="auto"``); ``None`` for the exact graph.

    Examples
    --------
    >>> from skal.datasets import load_digits_embeddings
    >>> from skal.strategies import ProbCover
    >>> X, y = load_digits_embeddings(return_X_y=True)
    >>> picks = ProbCover(delta=0.6, random_state=0).select(X, 10)
    >>> picks.shape
    (10,)
    """

    _parameter_constraints: dict = {
        "delta": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "n_clusters": [Interval(Integral, 1, None, closed="left"), None],
        "purity": [Interval(Real, 0, 1, closed="right")],
        "metric": [StrOptions({"euclidean", "cosine"})],
        "noisy_weight": [Interval(Real, 0, 1, closed="both")],
        "block_rows": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str, None],
        "screen": [StrOptions({"auto", "float32", "bfloat16"})],
        "approximate": ["boolean"],
        "n_probe": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "min_recall": [Interval(Real, 0, 1, closed="right")],
        "max_memory": [Interval(Real, 0, None, closed="neither"), str, None],
        "progress": ["boolean"],
        "random_state": RANDOM_STATE_CONSTRAINT,
    }

    def __init__(self, delta="auto", *, n_clusters=None, purity=0.95, metric="euclidean",
                 noisy_weight=0.0, block_rows=None, device=None, screen="auto",
                 approximate=False, n_probe="auto", min_recall=0.999, max_memory="auto",
                 progress=False, random_state=None):
        self.delta = delta
        self.n_clusters = n_clusters
        self.purity = purity
        self.metric = metric
        self.noisy_weight = noisy_weight
        self.block_rows = block_rows
        self.device = device
        self.screen = screen
        self.approximate = approximate
        self.n_probe = n_probe
        self.min_recall = min_recall
        self.max_memory = max_memory
        self.progress = progress
        self.random_state = random_state

    # -- overridable pieces -------------------------------------------------
    def _validate_params(self):
        super()._validate_params()
        # The string form ("4GB") is parsed here so a typo fails before any work.
        resolve_memory_limit(self.max_memory)

    def _euclidean_radius(self, delta: float) -> float:
        return float(np.sqrt(2.0 * delta)) if self.metric == "cosine" else float(delta)

    def resolve_delta(self, X: np.ndarray, Xn: np.ndarray | None = None) -> float:
        """The Euclidean radius this strategy uses on pool ``X``."""
        self._validate_params()
        if self.delta != "auto":
            self.purity_error_ = None
            return self._euclidean_radius(self.delta)
        if Xn is None:
            Xn = unit_normalize(X)
        k = self.n_clusters or _DEFAULT_CLUSTERS
        # On large pools an all-pairs pass for every point's nearest
        # other-cluster neighbour costs as much as the graph itself; the
        # purity quantile is then estimated from a row sample (each sampled
        # row against the whole pool), with a DKW error stated in purity_error_.
        n = Xn.shape[0]
        # Exact and approximate graphs alike: the error of the estimate depends
        # on the sample, not on the pool (at 10^6 points 20,000 rows took 195 s).
        sample = _PURITY_SAMPLE if n > _PURITY_EXACT_MAX else None
        m = n if sample is None else min(n, sample)
        self.purity_error_ = 0.0 if m == n else math.sqrt(math.log(2 / _PURITY_ALPHA) / (2 * m))
        return purity_delta(Xn, k, purity=self.purity, normalized=True,
                            random_state=self.random_state, device=self.device,
                            sample_rows=sample)

    def build_graph(self, X: np.ndarray):
        """Build (or reuse) the δ-ball graph of pool ``X``; sets ``graph_`` and ``delta_``.

        When δ changed but the pool and the other parameters did not, a graph
        of the pool at a larger δ (the current one, or the largest built so
        far) holds every new edge, and only its pairs are compared
        (``delta_ball_graph(..., superset=...)``); the graph is the same.
        """
        self._validate_params()
        key = (self._pool_key(X),) + self._graph_params()
        if getattr(self, "_graph_key", None) == key:
            return self.graph_
        # A failed build (memory check, interrupt) leaves the strategy as it was.
        snapshot = {a: self.__dict__[a] for a in _BUILD_STATE if a in self.__dict__}
        try:
            return self._build_graph(X, key)
        except BaseException:
            for a in _BUILD_STATE:
                self.__dict__.pop(a, None)
            self.__dict__.update(snapshot)
            raise

    def _build_graph(self, X: np.ndarray, key: tuple):
        # A graph of the same pool at a larger δ (a δ schedule moving it) holds
        # every edge of the new one: only its pairs need comparing.
        known = self._known_graphs(key)
        Xn = unit_normalize(X)
        self.delta_ = self.resolve_delta(X, Xn)
        fits = [(radius, graph) for radius, graph in known if radius >= self.delta_]
        superset = min(fits, key=lambda rg: rg[0])[1] if fits else None
        self.graph_bytes_estimate_ = None
        n_edges = None
        limit = resolve_memory_limit(self.max_memory)
        # Estimated when the graph could matter: large pools, or a limit that
        # even a complete graph (every pair an edge) might exceed.
        worst = 5.0 * X.shape[0] ** 2 + 8.0 * (X.shape[0] + 1)
        if X.shape[0] > _ESTIMATE_ABOVE or (limit is not None and X.shape[0] > _ESTIMATE_MIN
                                            and 2 * worst > limit):
            n_edges, nbytes = estimate_graph_bytes(Xn, self.delta_, random_state=self.random_state)
            self.graph_bytes_estimate_ = nbytes
            # The build holds the per-tile pieces and their concatenation at
            # once, plus one distance tile.
            tile = block_rows_for(X.shape[0]) * X.shape[0] * 4 if self.block_rows is None \
                else self.block_rows * X.shape[0] * 4
            check_memory(
                2 * nbytes + tile, limit,
                f"ProbCover's delta-ball graph (delta={self.delta_:.4g}, {X.shape[0]} points)",
                "use a smaller delta, approximate=True, or a larger max_memory",
            )
            if nbytes > _WARN_GRAPH_BYTES:
                warnings.warn(
                    f"the delta-ball graph for delta={self.delta_:.4g} is estimated at "
                    f"{nbytes / 2**30:.1f} GiB; a smaller delta keeps it in memory",
                    ResourceWarning, stacklevel=3,
                )
        self.missed_edges_ = None
        self.n_probe_ = None
        if self.approximate:
            from .._ann import estimate_missed_edges, ivf_delta_ball_graph

            self.graph_, info = ivf_delta_ball_graph(
                Xn, self.delta_, n_probe=self.n_probe, min_recall=self.min_recall,
                random_state=self.random_state, expected_edges=n_edges,
                progress=self.progress, return_info=True)
            self.n_probe_ = info["n_probe"]
            self.missed_edges_ = estimate_missed_edges(Xn, self.graph_, self.delta_,
                                                       random_state=self.random_state)
        else:
            self.graph_ = delta_ball_graph(Xn, self.delta_, normalized=True,
                                           block_rows=self.block_rows, device=self.device,
                                           expected_edges=n_edges, screen=self.screen,
                                           superset=superset, progress=self.progress)
        self._graph_key, self._graph_radius = key, float(self.delta_)
        self._keep_largest(key, known)
        return self.graph_

    def _known_graphs(self, key: tuple) -> list[tuple[float, object]]:
        """``(radius, graph)`` of the exact graphs held for this pool and these parameters but δ."""
        if self.approximate:
            return []
        known = []
        old_key = getattr(self, "_graph_key", None)
        # The radius stored with the graph, not delta_: a build that failed
        # after resolving a new δ must not pass the old graph off as that δ's.
        radius = getattr(self, "_graph_radius", None)
        same = _without_delta(key)
        if old_key is not None and _without_delta(old_key) == same \
                and radius is not None and getattr(self, "graph_", None) is not None:
            known.append((radius, self.graph_))
        largest = getattr(self, "_largest_graph", None)
        if largest is not None and largest[0] == same:
            known.append(largest[1:])
        return known

    def _keep_largest(self, key: tuple, known: list) -> None:
        # A δ that grows again (a schedule's δ can go down and up) would need a
        # full build; the largest graph of the pool is kept to serve it when it
        # takes at most a quarter of the memory limit. Never more than it plus
        # the current graph are held.
        self._largest_graph = None
        if self.approximate or not known:
            return
        radius, graph = max(known, key=lambda rg: rg[0])
        if radius <= self.delta_:
            return                                  # the current graph is the largest
        limit = resolve_memory_limit(self.max_memory)
        nbytes = graph.indices.nbytes + graph.indptr.nbytes + graph.data.nbytes
        if limit is None or 4 * nbytes <= limit:
            self._largest_graph = (_without_delta(key), radius, graph)

    def pool_graph(self, X: np.ndarray):
        """The δ-ball graph of pool ``X`` when it is the one cached, else ``None``."""
        graph = getattr(self, "graph_", None)
        key = getattr(self, "_graph_key", None)
        if graph is None or key is None or graph.shape[0] != X.shape[0]:
            return None
        return graph if key == (self._pool_key(X),) + self._graph_params() else None

    def initial_gain(self, graph, labeled: np.ndarray, covering: np.ndarray) -> np.ndarray:
        """Per-point value of covering it, given the labeled points' coverage."""
        n = graph.shape[0]
        gain = np.ones(n, dtype=np.float64)
        noisy = np.setdiff1d(labeled, covering)
        if noisy.size and self.noisy_weight > 0:
            gain[csr_gather_rows(graph.indptr, graph.indices, noisy)] = 1.0 - self.noisy_weight
        if covering.size:
            gain[csr_gather_rows(graph.indptr, graph.indices, covering)] = 0.0
        return gain

    def _select(self, X, budget, *, labeled, covering, estimator, rng):
        graph = self.build_graph(X)
        gain = self.initial_gain(graph, labeled, covering)
        selectable = np.ones(X.shape[0], dtype=bool)
        selectable[labeled] = False
        picks = greedy_max_coverage(graph, budget, selectable, gain, rng)
        self.coverage_ = float(np.mean(gain == 0.0))
        return picks

    def coverage(self, X, covering) -> float:
        """Fraction of the pool within δ of at least one point of ``covering``."""
        from .._validation import check_embeddings, check_indices

        X = check_embeddings(X)
        covering = check_indices(covering, X.shape[0], "covering")
        graph = self.build_graph(X)
        covered = np.zeros(X.shape[0], dtype=bool)
        covered[csr_gather_rows(graph.indptr, graph.indices, covering)] = True
        return float(covered.mean())

    def _graph_params(self) -> tuple:
        # Everything besides the pool that decides the graph (screen does not:
        # every precision gives the same exact graph).
        params = (self.delta, self.n_clusters, self.purity, self.metric, bool(self.approximate),
                  self.n_probe if self.approximate else None)
        # Appended only where it matters, so that the exact graph's key (and
        # saved caches) stay as they were.
        if self.approximate and self.n_probe == "auto":
            params += (self.min_recall,)
        return params

    def get_pool_cache(self) -> dict[str, np.ndarray]:
        """The δ-ball graph (CSR arrays) and resolved δ of the last pool.

        See :meth:`QueryStrategy.get_pool_cache`. Keys: ``fingerprint``,
        ``delta`` (the Euclidean radius), ``indptr``, ``indices``, ``checksum``
        (edge count and index sums, checked on restore), ``purity_error``.
        """
        key = getattr(self, "_graph_key", None)
        if key is None or getattr(self, "graph_", None) is None:
            return {}
        g = self.graph_
        fp = np.array([key[0], type(self).__name__, repr(key[1:])])
        return {
            "fingerprint": fp,
            "delta": np.array([self.delta_], dtype=np.float64),
            "indptr": g.indptr,
            "indices": g.indices,
            "checksum": _csr_checksum(g.indptr, g.indices),
            "purity_error": np.array([getattr(self, "purity_error_", 0.0)], dtype=np.float64),
        }

    def set_pool_cache(self, X, arrays) -> bool:
        """Install a saved graph when it belongs to pool ``X`` and these parameters.

        Besides the fingerprint, the arrays must form a valid CSR graph of
        ``X``'s size whose checksum matches, and a few rows re-derived from
        ``X`` must equal the stored ones; anything else is ignored.
        """
        X = self._cache_matches(X, arrays, self._graph_params())
        if X is None:
            return False
        n = X.shape[0]
        try:
            delta = float(np.asarray(arrays["delta"], dtype=np.float64).reshape(-1)[0])
            indptr = np.asarray(arrays["indptr"])
            indices = np.asarray(arrays["indices"])
            checksum = np.asarray(arrays["checksum"])
            purity_error = float(np.asarray(arrays.get("purity_error", [0.0])).reshape(-1)[0])
        except (KeyError, IndexError, TypeError, ValueError):
            return False
        if not (np.isfinite(delta) and delta > 0) or indptr.dtype.kind not in "iu" \
                or indices.dtype.kind not in "iu" or indptr.shape != (n + 1,) or indices.ndim != 1:
            return False
        if indptr[0] != 0 or indptr[-1] != indices.size or np.any(np.diff(indptr) < 1):
            return False
        # Bounds and checksum in one pass over the indices (cache-sized chunks).
        lo, hi, total = _index_scan(indices)
        if lo < 0 or hi >= n or checksum.shape != (3,):
            return False
        want = _csr_checksum(indptr, indices, index_sum=total)
        if not np.array_equal(checksum, want):
            return False
        Xn = unit_normalize(X)
        rows = np.random.default_rng(n).choice(n, size=min(n, _CACHE_CHECK_ROWS), replace=False)
        _, balls = sample_ball_sizes(Xn, delta, rows)
        for r, ball in zip(rows, balls):
            stored = indices[indptr[r]:indptr[r + 1]]
            ok = np.isin(stored, ball).all() if self.approximate else np.array_equal(stored, ball)
            if not ok:
                return False
        g = sp.csr_matrix((edge_flags(indices.size), indices, indptr), shape=(n, n),
                          copy=False)
        g.has_sorted_indices = True
        self.graph_, self.delta_, self.purity_error_ = g, delta, purity_error
        self.graph_bytes_estimate_ = None
        self.missed_edges_ = None
        # The count "auto" chose is not part of the saved graph.
        self.n_probe_ = None if not self.approximate or self.n_probe == "auto" else self.n_probe
        self._graph_key = (self._pool_key(X),) + self._graph_params()
        self._graph_radius = delta
        return True

    def __getstate__(self):
        # The cached graph can be hundreds of MB and is cheap to rebuild: keep
        # pickles and clones small.
        state = dict(self.__dict__)
        for key in ("graph_", "_graph_key", "_graph_radius", "_pool_fp", "_largest_graph"):
            state.pop(key, None)
        return state


def _without_delta(key: tuple) -> tuple:
    # A graph key is (pool, delta, the other graph parameters): the pool and
    # parameters a graph of another δ must share to hold or serve this one.
    return (key[0],) + key[2:]


def _index_scan(indices: np.ndarray, chunk: int = 1 << 22) -> tuple[int, int, int]:
    """``(min, max, sum)`` of an index array, chunk by chunk so memory is read once."""
    lo, hi, total = 0, -1, 0
    for s in range(0, indices.size, chunk):
        c = indices[s:s + chunk]
        lo = min(lo, int(c.min())) if s else int(c.min())
        hi = max(hi, int(c.max()))
        total += int(c.sum(dtype=np.int64))
    return lo, hi, total


def _csr_checksum(indptr: np.ndarray, indices: np.ndarray, *,
                  index_sum: int | None = None) -> np.ndarray:
    """Edge count and two index sums: cheap (one pass) evidence that a CSR is intact."""
    weights = np.arange(1, indptr.size, dtype=np.int64) % 65_521
    if index_sum is None:
        index_sum = int(np.sum(indices, dtype=np.int64))
    return np.array([indices.size, index_sum,
                     int(np.dot(np.diff(indptr).astype(np.int64), weights))], dtype=np.int64)
