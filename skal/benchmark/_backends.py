"""joblib backends of the benchmark runner: loky, dask.distributed, sequential."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import joblib

__all__ = ["BACKENDS", "backend_context", "check_scheduler"]

BACKENDS = ("loky", "dask", "sequential")


def check_scheduler(scheduler: Any, timeout: float, name: str = "scheduler") -> None:
    """Fail fast on a dask scheduler address that cannot be reached.

    ``distributed.Client`` keeps retrying a refused connection until its
    timeout (30 s by default) and then raises from deep inside asyncio; a
    plain TCP connection answers in milliseconds when nothing listens.

    Parameters
    ----------
    scheduler : str
        ``"tcp://host:port"`` (other schemes are left to dask).
    timeout : float
        Seconds to wait for the TCP handshake.
    name : str, default="scheduler"
        How to call the address in error messages (``"--scheduler"``).

    Raises
    ------
    ValueError
        For an address dask cannot parse.
    ConnectionError
        When nothing answers at the address.
    """
    if not isinstance(scheduler, str):
        raise TypeError(f"{name} must be an address such as 'tcp://host:8786' or a "
                        f"distributed.Client, got {scheduler!r}")
    from distributed.comm import parse_address, parse_host_port

    try:
        scheme, location = parse_address(scheduler)
        if scheme != "tcp":
            return  # tls://, ws://, ucx://: the client's own timeout applies
        host, port = parse_host_port(location)
    except ValueError as exc:
        raise ValueError(f"{name} {scheduler!r} is not a dask address "
                         f"(e.g. tcp://host:8786): {exc}") from exc
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectionError(f"{name} {scheduler!r}: no dask scheduler reachable "
                              f"within {timeout:g} s ({reason})") from exc


@contextmanager
def backend_context(backend: str, n_jobs: int | None, scheduler: Any,
                    cluster_kwargs: dict | None, scatter: list,
                    scheduler_timeout: float = 10.0) -> Iterator[dict]:
    """Configure joblib for the chosen backend; yields a JSON description of it."""
    if backend == "sequential":
        with joblib.parallel_config(backend="sequential"):
            yield {"backend": "sequential", "n_jobs": 1}
        return
    if backend == "loky":
        n = n_jobs if n_jobs is not None else -1
        with joblib.parallel_config(backend="loky", n_jobs=n):
            yield {"backend": "loky", "n_jobs": n}
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ImportError("backend='dask' needs dask.distributed: pip install 'skal[dask]'") from exc
    if isinstance(scheduler, Client):
        client_ctx, cluster_ctx, where = nullcontext(scheduler), nullcontext(), "client"
    elif scheduler is None:
        kwargs = {"n_workers": n_jobs if n_jobs and n_jobs > 0 else min(4, os.cpu_count() or 1),
                  "threads_per_worker": 1, "dashboard_address": None}
        kwargs.update(cluster_kwargs or {})
        cluster_ctx = LocalCluster(**kwargs)
        client_ctx, where = None, f"LocalCluster({kwargs})"
    else:
        check_scheduler(scheduler, scheduler_timeout)
        try:
            client = Client(scheduler, timeout=scheduler_timeout)
        except OSError as exc:  # it answered TCP but is not a scheduler, or went away
            raise ConnectionError(f"scheduler {scheduler!r}: cannot connect a dask client "
                                  f"within {scheduler_timeout:g} s ({exc})") from exc
        cluster_ctx, client_ctx, where = nullcontext(), client, str(scheduler)
    with cluster_ctx as cluster:
        if client_ctx is None:
            client_ctx = Client(cluster)
        with client_ctx as client:
            n_workers = len(client.scheduler_info().get("workers", {}))
            # Scattering the arrays once keeps them from being shipped with
            # every task.
            with joblib.parallel_config(backend="dask", client=client, scatter=scatter,
                                        n_jobs=-1):
                yield {"backend": "dask", "scheduler": where, "n_workers": n_workers}
