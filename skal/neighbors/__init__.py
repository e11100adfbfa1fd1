"""The numerical core: normalisation, blocked δ-ball graphs, k-means helpers.

Everything here works on tiles of the pool so that no dense ``N x N`` matrix
is ever held in memory; distances come from BLAS matrix products (NumPy) or
from torch on the device the user picked. One module per job:

- ``_tiles``: unit rows and the row tiles every blocked computation walks;
- ``_delta_graph``: the exact δ-ball graph;
- ``_subgraph``: the plan that builds a smaller δ's graph from a larger one's;
- ``_sparse``: CSR helpers (chunked sums and gathers, assembly of a graph
  from its upper triangle);
- ``_clusters``: k-means helpers and the purity δ;
- ``_distances``: squared distances, kernel rows, bandwidths;
- ``_ball_sizes``: δ-ball sizes from a sample (a graph's size before it is built).
"""

from ._ball_sizes import estimate_graph_bytes, sample_ball_sizes
from ._clusters import (  # noqa: F401  (nearest_center: used across skal, not in __all__)
    fit_kmeans,
    nearest_center,
    nearest_other_cluster_distance,
    purity_delta,
)
from ._delta_graph import delta_ball_graph
from ._distances import kernel_block, median_bandwidth, min_sq_dist_to, row_sq_norms, sq_dists_block
from ._sparse import (  # noqa: F401  (the last three: used across skal, not in __all__)
    csr_gather_rows,
    csr_row_sums,
    edge_flags,
    subtract_neighbour_weights,
)
from ._tiles import block_rows_for, iter_row_blocks, unit_normalize

__all__ = [
    "unit_normalize",
    "iter_row_blocks",
    "block_rows_for",
    "delta_ball_graph",
    "nearest_other_cluster_distance",
    "purity_delta",
    "fit_kmeans",
    "csr_gather_rows",
    "row_sq_norms",
    "sq_dists_block",
    "kernel_block",
    "min_sq_dist_to",
    "median_bandwidth",
    "sample_ball_sizes",
    "estimate_graph_bytes",
]
