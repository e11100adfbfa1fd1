"""One BLAS thread for work made of many small products.

A pool filter's call is a chain of small steps on at most a few thousand rows
(a kNN graph, an eigensolve, a QR cut, k-means restarts, medians). OpenBLAS
runs each product on all cores and its worker threads then spin for a while
waiting for the next one; NumPy and SciPy each load their own OpenBLAS, and
scikit-learn's kNN search runs OpenMP threads of its own. On a small machine
the spinning pools take turns on the same cores: on 2 cores a filter round
of :class:`~skal.filters.CentroidFilter` at 100 labels on a 50,000-row pool
took 0.37–0.75 s with every pool threaded and 0.23–0.42 s with BLAS held to
one thread, the same code otherwise (``benchmarks/bench_filter_latency.py``,
six alternating runs). The results do not change. scikit-learn's own
``KMeans`` holds BLAS to one thread inside its Lloyd steps for the same
reason.

The limit is process-wide while it holds (that is how BLAS libraries expose
it) and is restored on exit, also when the call raises.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["one_blas_thread"]

F = TypeVar("F", bound=Callable[..., Any])

_controller = None


def _blas_controller():
    """The process's thread pools, inspected once (the scan reads every loaded library)."""
    global _controller
    if _controller is None:
        # SciPy's LAPACK-backed modules load SciPy's own OpenBLAS; import
        # them first so that the controller sees it.
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller


def one_blas_thread(func: F) -> F:
    """Decorate ``func`` to run with every BLAS library held to one thread.

    Examples
    --------
    >>> import numpy as np
    >>> @one_blas_thread
    ... def gram(A):
    ...     return A @ A.T
    >>> gram(np.eye(2)).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _blas_controller().limit(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
