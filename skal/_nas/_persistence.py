"""Saving and loading a learner's whole state: one ZIP archive, no pickle.

Everything read back is validated here, in :func:`load`: a damaged or edited
file fails with :class:`~skal._state.StateFormatError` (a ``ValueError``)
naming what is wrong, not later with a ``KeyError`` in the middle of a round.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import io
import os
from collections.abc import Iterable

import numpy as np

from .. import _state
from ._engine import OpenRound
from ._ledger import Ledger

__all__ = ["FORMAT", "FORMAT_VERSION", "save", "load", "read_metadata"]

#: Identity and version of the saved-state format.
FORMAT = "skal.NoiseAwareActiveLearner"
FORMAT_VERSION = 1

# Strategy caches (a δ-ball graph) saved inside the archive by older versions
# are arrays named with this prefix; they now live in a side file (see
# _write_cache_file), so that saving after every answer stays cheap.
_CACHE_PREFIX = "strategy_cache__"


def encoded_params(est, allowed_modules: Iterable[str] = ()) -> dict:
    return {name: _state.encode_value(value, name, allowed_modules=allowed_modules)
            for name, value in est.get_params(deep=False).items()}


def save(est, path: str | os.PathLike, *, allowed_modules: Iterable[str] = (),
         include_cache: bool = True, metadata: dict | None = None) -> None:
    """Write ``est`` to ``path`` atomically (see ``NoiseAwareActiveLearner.save``).

    ``metadata`` is any JSON-able dict stored beside the state (a labeling
    session keeps its pool file and ids there); :func:`read_metadata` reads it.
    """
    extra = tuple(allowed_modules)
    if metadata is not None and not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
    state: dict = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "class": f"{type(est).__module__}.{type(est).__qualname__}",
        "params": encoded_params(est, extra),
        "fitted": "_ledger" in est.__dict__,
        "metadata": metadata,
    }
    arrays: dict = {}
    if state["fitted"]:
        ledger = est._ledger
        labels, labels_object = _state.array_for_saving(ledger.labels, "labels_")
        classes, classes_object = _state.array_for_saving(est.classes_, "classes_")
        open_round = est._open
        state.update({
            "n_pool_": int(est.n_pool_),
            "n_features_in_": int(est.n_features_in_),
            "n_rounds_done_": int(est.n_rounds_done_),
            "history_": est.history_,
            "corrections": ledger.corrections,
            "strategy_": _state.encode_value(est.strategy_, "strategy_", allowed_modules=extra),
            "noise_filter_": _state.encode_value(est.noise_filter_, "noise_filter_",
                                                 allowed_modules=extra),
            "n_clusters_set": bool(est._n_clusters_set),
            "classes_fixed": bool(est._classes_fixed),
            "estimator_seed": int(est._estimator_seed),
            "rng": _state.encode_value(est._rng, "rng"),
            "open_round": None if open_round is None else open_round.to_json(),
            "has_estimator": est.estimator_ is not None,
            "delta_initial": est._delta_initial,
            "labels_object": labels_object,
            "classes_object": classes_object,
        })
        arrays = {**ledger.arrays(), "labels": labels, "classes": classes,
                  "fit_positions": est._fit_positions}
        if open_round is not None and open_round.asked.size:
            arrays["asked"] = open_round.asked
        if include_cache:
            state["strategy_cache_file"] = _write_cache_file(est, path)
    _state.write_archive(path, state, arrays)


def read_metadata(path: str | os.PathLike) -> dict | None:
    """The ``metadata`` dict saved with a learner (None when there is none)."""
    state, _ = _state.read_archive(path)
    if state.get("format") != FORMAT:
        raise _state.StateFormatError(f"{os.fspath(path)!r} is not a saved NoiseAwareActiveLearner")
    metadata = state.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _state.StateFormatError(f"{os.fspath(path)!r} is damaged: metadata is not a record")
    return metadata


def _strategy_cache(est) -> dict:
    get_cache = getattr(est.strategy_, "get_pool_cache", None)
    cache = get_cache() if callable(get_cache) else None
    return cache or getattr(est, "_saved_cache", None) or {}


def _cache_key(cache: dict) -> str:
    """A short identity of a strategy cache, from its small arrays (fingerprint, δ, checksum)."""
    h = hashlib.blake2b(digest_size=8)
    for name in sorted(cache):
        a = np.asarray(cache[name])
        h.update(name.encode())
        h.update(repr((a.shape, a.dtype.str)).encode())
        if a.size <= 64:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _write_cache_file(est, path) -> str | None:
    """Write the strategy's per-pool cache beside the state file, once per cache.

    The cache (ProbCover's δ-ball graph: hundreds of MB at 50k points) does
    not change between rounds, while the state is saved after every answer:
    it goes to ``<state>.cache-<key>.npz`` (uncompressed, no pickle), written
    only when no file of that key exists. It is an accelerator, never trusted:
    the strategy checks it against the pool on load and rebuilds when it is
    missing, stale or damaged.
    """
    cache = _strategy_cache(est)
    if not cache:
        return None
    path = os.fspath(path)
    name = f"{os.path.basename(path)}.cache-{_cache_key(cache)}.npz"
    target = os.path.join(os.path.dirname(os.path.abspath(path)), name)
    if not os.path.exists(target):
        buf = io.BytesIO()
        np.savez(buf, **{k: np.asarray(v) for k, v in cache.items()})
        _state.atomic_write_bytes(target, buf.getvalue())
        stale = glob.glob(glob.escape(os.path.join(os.path.dirname(target),
                                                   os.path.basename(path))) + ".cache-*.npz")
        for old in stale:
            if old != target:
                with contextlib.suppress(OSError):
                    os.unlink(old)
    return name


def _read_cache_file(path, name) -> dict | None:
    if not isinstance(name, str) or os.sep in name or "/" in name:
        return None
    target = os.path.join(os.path.dirname(os.path.abspath(os.fspath(path))), name)
    try:
        with np.load(target, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception:  # missing or damaged: the strategy rebuilds its structures
        return None


def load(cls, path: str | os.PathLike, *, allowed_modules: Iterable[str] = ()):
    """Read a learner written by :func:`save`; every field is validated."""
    extra = tuple(allowed_modules)
    where = repr(os.fspath(path))
    state, arrays = _state.read_archive(path)
    if state.get("format") != FORMAT:
        raise _state.StateFormatError(f"{where} is not a saved NoiseAwareActiveLearner")
    if state.get("version") != FORMAT_VERSION:
        raise _state.StateFormatError(
            f"{where} has state format version {state.get('version')!r}; this skal reads "
            f"version {FORMAT_VERSION}")
    try:
        if not isinstance(state.get("params"), dict):
            raise ValueError("the parameters are missing")
        params = {name: _state.decode_value(value, name, allowed_modules=extra)
                  for name, value in state["params"].items()}
        est = cls(**params)
        if state.get("fitted") is False:
            return est
        if state.get("fitted") is not True:
            raise ValueError("'fitted' must be true or false")
        _restore(est, state, arrays, extra)
        if est._saved_cache is None and state.get("strategy_cache_file"):
            est._saved_cache = _read_cache_file(path, state["strategy_cache_file"])
    except _state.StateFormatError as exc:
        raise _state.StateFormatError(f"{where} is damaged: {exc}") from exc
    except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise _state.StateFormatError(f"{where} is damaged: {what}") from exc
    return est


def _int(state: dict, key: str, low: int = 0) -> int:
    value = state[key]
    if type(value) is not int or value < low:
        raise ValueError(f"{key} must be an integer >= {low}, got {value!r}")
    return value


def _bool(state: dict, key: str) -> bool:
    value = state[key]
    if type(value) is not bool:
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def _restore(est, state: dict, arrays: dict, extra: tuple) -> None:
    def decode(key):
        return _state.decode_value(state[key], key, allowed_modules=extra)

    n_pool = _int(state, "n_pool_", 1)
    n_features = _int(state, "n_features_in_", 1)
    n_rounds_done = _int(state, "n_rounds_done_")
    history = state["history_"]
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history) \
            or len(history) != n_rounds_done:
        raise ValueError("history_ must hold one record per finished round")
    labels_object = _bool(state, "labels_object")
    classes_object = _bool(state, "classes_object")
    labels = _state.array_from_saved(arrays["labels"], labels_object)
    ledger = Ledger.from_saved(arrays, labels, state.get("corrections", []), n_pool, n_features)
    classes = _state.array_from_saved(arrays["classes"], classes_object)
    if classes.ndim != 1:
        raise ValueError("classes must be 1-D")
    if ledger.size and (ledger.proposed.min() < -1 or ledger.proposed.max() >= max(classes.size, 1)):
        raise ValueError("proposed labels must index the classes")
    if ledger.proposal_proba.shape[1] > classes.size:
        raise ValueError("proposal_proba has more columns than there are classes")
    strategy = decode("strategy_")
    noise_filter = decode("noise_filter_")
    from ..filters._base import NoiseFilter
    from ..strategies._base import QueryStrategy
    if not isinstance(strategy, QueryStrategy):
        raise ValueError("strategy_ is not a query strategy")
    if noise_filter is not None and not isinstance(noise_filter, NoiseFilter):
        raise ValueError("noise_filter_ is not a noise filter")
    rng = decode("rng")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng is not a random generator state")
    fit_positions = arrays["fit_positions"]
    if fit_positions.ndim != 1 or fit_positions.dtype.kind not in "iu" or \
            (fit_positions.size and (fit_positions.min() < 0 or fit_positions.max() >= ledger.size)):
        raise ValueError("fit_positions must be positions into the labeled set")
    open_data = state["open_round"]
    open_round = None if open_data is None else OpenRound.from_json(
        open_data, arrays.get("asked"), n_pool=n_pool, n_labeled=ledger.size,
        n_rounds_done=n_rounds_done)
    if open_round is not None and open_round.asked.size and \
            np.isin(open_round.asked, ledger.idx).any():
        raise ValueError("an asked index is already labeled")
    if open_round is None and "asked" in arrays:
        raise ValueError("asked indices without an open round")
    if open_round is None and n_rounds_done and \
            history[-1].get("n_labeled") not in (None, ledger.size):
        raise ValueError("the labeled set does not match the last round's record")
    has_estimator = _bool(state, "has_estimator")
    delta_initial = state.get("delta_initial")
    if delta_initial is not None and not isinstance(delta_initial, (int, float)):
        raise ValueError(f"delta_initial must be a number or null, got {delta_initial!r}")
    # Every check passed: only now is the learner's state set.
    est.n_pool_ = n_pool
    est.n_features_in_ = n_features
    est.n_rounds_done_ = n_rounds_done
    est.history_ = list(history)
    est._ledger = ledger
    est.classes_ = classes
    est.strategy_ = strategy
    est.noise_filter_ = noise_filter
    est._n_clusters_set = _bool(state, "n_clusters_set")
    est._classes_fixed = _bool(state, "classes_fixed")
    est._estimator_seed = _int(state, "estimator_seed")
    est._rng = rng
    est._open = open_round
    est._fit_positions = fit_positions.astype(np.int64)
    est._pool = None
    cache = {name[len(_CACHE_PREFIX):]: a for name, a in arrays.items()
             if name.startswith(_CACHE_PREFIX)}
    est._saved_cache = cache or None
    est._delta_initial = None if delta_initial is None else float(delta_initial)
    est.estimator_ = None
    if has_estimator:
        from ._steps import fit_estimator
        fit_estimator(est, est._fit_positions)
