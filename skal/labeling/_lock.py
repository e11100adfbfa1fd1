"""Serialising writes to one state file across processes."""

from __future__ import annotations

import contextlib
import os

__all__ = ["file_lock", "stamp"]


@contextlib.contextmanager
def file_lock(state_path: str):
    # Two processes writing one session would lose one's labels; an advisory
    # lock on a sidecar file serialises them (POSIX only; elsewhere the
    # stamp check in _save still refuses a stale write).
    try:
        import fcntl
    except ImportError:
        yield
        return
    lock_path = os.path.join(os.path.dirname(os.path.abspath(state_path)),
                             "." + os.path.basename(state_path) + ".lock")
    with open(lock_path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def stamp(path: str) -> tuple:
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_size)
