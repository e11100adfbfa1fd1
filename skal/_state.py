"""The saved-state format of :class:`~skal.NoiseAwareActiveLearner`: no pickle anywhere.

A saved learner is a single ZIP archive (the ``.npz`` layout NumPy uses) that
holds

* ``state.json``: the learner's parameters, its scalar state, its history and
  the bit-generator state of its random number generators, as JSON; and
* one ``<name>.npy`` member per array (labeled indices, labels, filter
  decisions, features of the labeled points, ...), written and read with
  ``allow_pickle=False``.

Parameters that are estimators (the strategy, the noise filter, the final
estimator and any estimator nested in their parameters) are stored as
``{"__estimator__": "skal.strategies._prob_cover.ProbCover", "params": {...}}``
and rebuilt by importing the class, which must live in an allow-listed package
(``skal`` or ``sklearn`` by default) and subclass
:class:`sklearn.base.BaseEstimator`. Loading therefore never runs code from a
package the user did not allow, which is what makes a state file from an
untrusted source safe to open (unlike a pickle).

One file (rather than a JSON file beside an ``.npz``) is what makes saving
atomic: the archive is written to a temporary file in the target's folder,
flushed to disk, and moved over the target with :func:`os.replace`, so a crash
at any point leaves either the previous state or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import math
import os
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

__all__ = [
    "ALLOWED_MODULES",
    "encode_value",
    "decode_value",
    "write_archive",
    "read_archive",
    "atomic_write_bytes",
]

#: Top-level packages whose estimator classes may be saved and rebuilt.
ALLOWED_MODULES: tuple[str, ...] = ("skal", "sklearn")
#: Packages whose *classes* (not instances) may appear as parameters, e.g. the
#: ``module``/``optimizer`` of a skorch-based classifier.
ALLOWED_CLASS_MODULES: tuple[str, ...] = ("skal", "sklearn", "torch.nn", "torch.optim")

_STATE_MEMBER = "state.json"
# The names of the array members, written inside the CRC-checked state.json:
# a flipped byte in the ZIP's central directory can rename or hide a member
# without any checksum noticing, and a missing array must not read as "empty".
_MANIFEST_KEY = "__array_members__"


class StateFormatError(ValueError):
    """A value cannot be saved, or a saved file cannot be read back."""


# --------------------------------------------------------------------- classes
def _class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _allowed(module: str, allowed: Iterable[str]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def _check_class(cls: type, allowed: Iterable[str], where: str) -> str:
    allowed = tuple(allowed)
    path = _class_path(cls)
    if "<locals>" in cls.__qualname__ or "." in cls.__qualname__:
        raise StateFormatError(
            f"{where}: class {path} is not defined at module level, so it cannot be "
            "rebuilt by import when the state is loaded"
        )
    if not _allowed(cls.__module__, allowed):
        raise StateFormatError(
            f"{where}: class {path} is outside the allowed packages {list(allowed)}; only "
            "classes from these packages are saved (pass allowed_modules=[...] to save and "
            "load to trust another package)"
        )
    return path


def _import_class(path: Any, allowed: Iterable[str], where: str) -> type:
    allowed = tuple(allowed)
    if not isinstance(path, str) or "." not in path:
        raise StateFormatError(f"{where}: invalid class name {path!r} in the saved state")
    module, _, name = path.rpartition(".")
    if not _allowed(module, allowed):
        # Checked before importing: importing runs the module's code.
        raise StateFormatError(
            f"{where}: the saved state names class {path}, outside the allowed packages "
            f"{list(allowed)}; pass allowed_modules=[...] to load it if you trust it"
        )
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise StateFormatError(f"{where}: cannot import class {path}: {exc}") from exc
    if not isinstance(obj, type):
        raise StateFormatError(f"{where}: {path} is not a class")
    return obj


# ---------------------------------------------------------------- JSON values
def encode_value(value: Any, where: str = "value", *,
                 allowed_modules: Iterable[str] = ()) -> Any:
    """Turn a parameter value into JSON-able data (tagged dicts for non-JSON types).

    Parameters
    ----------
    value : object
        ``None``, bools, numbers, strings, lists, tuples, dicts, NumPy arrays
        and scalars, NumPy random generators, estimators from allowed packages
        (their ``get_params(deep=False)`` encoded recursively) and classes
        from allowed packages.
    where : str
        Name of the value, used in error messages (e.g. ``"strategy.delta"``).
    allowed_modules : iterable of str
        Extra top-level packages to trust besides :data:`ALLOWED_MODULES`.

    Returns
    -------
    data : JSON-able object

    Raises
    ------
    StateFormatError
        A ``ValueError`` naming ``where`` when the value cannot be saved safely.
    """
    extra = tuple(allowed_modules)
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, list):
        return [encode_value(v, f"{where}[{i}]", allowed_modules=extra) for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, f"{where}[{i}]", allowed_modules=extra)
                              for i, v in enumerate(value)]}
    if isinstance(value, Mapping):
        return {"__dict__": [[encode_value(k, f"{where} key", allowed_modules=extra),
                              encode_value(v, f"{where}[{k!r}]", allowed_modules=extra)]
                             for k, v in value.items()]}
    if isinstance(value, np.ndarray):
        if value.dtype == object or value.dtype.kind not in "biufUS":
            raise StateFormatError(f"{where}: arrays of dtype {value.dtype} cannot be saved")
        data = value.tolist()
        if value.dtype.kind == "S":
            data = np.char.decode(value, "latin-1").tolist()
        return {"__ndarray__": data, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, os.PathLike):
        # A checkpoint path: loaded back as a plain string, which works the same.
        return os.fspath(value)
    if isinstance(value, np.random.Generator):
        state = value.bit_generator.state
        return {"__generator__": encode_value(state, f"{where}.bit_generator.state")}
    if isinstance(value, np.random.RandomState):
        return {"__random_state__": encode_value(value.get_state(legacy=False), where)}
    if isinstance(value, BaseEstimator):
        path = _check_class(type(value), ALLOWED_MODULES + extra, where)
        params = value.get_params(deep=False)
        return {"__estimator__": path,
                "params": {k: encode_value(v, f"{where}.{k}", allowed_modules=extra)
                           for k, v in params.items()}}
    if isinstance(value, type):
        return {"__class__": _check_class(value, ALLOWED_CLASS_MODULES + extra, where)}
    raise StateFormatError(
        f"{where}: a value of type {type(value).__module__}.{type(value).__qualname__} cannot "
        "be saved safely (only JSON values, NumPy arrays, random generators, and estimators "
        "or classes from allowed packages can)"
    )


def decode_value(data: Any, where: str = "value", *,
                 allowed_modules: Iterable[str] = ()) -> Any:
    """Inverse of :func:`encode_value`; imports only classes from allowed packages."""
    extra = tuple(allowed_modules)
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode_value(v, f"{where}[{i}]", allowed_modules=extra) for i, v in enumerate(data)]
    if not isinstance(data, dict):
        raise StateFormatError(f"{where}: unexpected {type(data).__name__} in the saved state")
    if "__tuple__" in data:
        return tuple(decode_value(v, where, allowed_modules=extra) for v in data["__tuple__"])
    if "__dict__" in data:
        return {decode_value(k, where, allowed_modules=extra):
                decode_value(v, where, allowed_modules=extra) for k, v in data["__dict__"]}
    if "__ndarray__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in "biufUS":
            raise StateFormatError(f"{where}: arrays of dtype {dtype} cannot be loaded")
        raw = data["__ndarray__"]
        arr = (np.char.encode(np.asarray(raw, dtype=str), "latin-1") if dtype.kind == "S"
               else np.asarray(raw, dtype=dtype))
        return arr.astype(dtype).reshape(data["shape"])
    if "__generator__" in data:
        return generator_from_state(decode_value(data["__generator__"], where), where)
    if "__random_state__" in data:
        rs = np.random.RandomState()
        rs.set_state(decode_value(data["__random_state__"], where))
        return rs
    if "__estimator__" in data:
        cls = _import_class(data["__estimator__"], ALLOWED_MODULES + extra, where)
        if not issubclass(cls, BaseEstimator):
            raise StateFormatError(f"{where}: {data['__estimator__']} is not a scikit-learn estimator")
        params = {k: decode_value(v, f"{where}.{k}", allowed_modules=extra)
                  for k, v in data["params"].items()}
        try:
            return cls(**params)
        except TypeError as exc:
            raise StateFormatError(f"{where}: cannot rebuild {data['__estimator__']}: {exc}") from exc
    if "__class__" in data:
        return _import_class(data["__class__"], ALLOWED_CLASS_MODULES + extra, where)
    raise StateFormatError(f"{where}: unknown tagged value {sorted(data)} in the saved state")


_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def generator_from_state(state: Any, where: str = "rng") -> np.random.Generator:
    """Rebuild a :class:`numpy.random.Generator` from its ``bit_generator.state``."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise StateFormatError(f"{where}: unknown bit generator {name!r} in the saved state")
    bit_gen = getattr(np.random, name)()
    bit_gen.state = state
    return np.random.Generator(bit_gen)


# -------------------------------------------------------------------- arrays
def array_for_saving(values: np.ndarray, where: str) -> tuple[np.ndarray, bool]:
    """A typed array for an ``.npy`` member, and whether the original was ``object``.

    Object arrays (the learner keeps the annotator's labels as Python objects)
    are converted to a NumPy dtype; the conversion must be exact, so mixed
    label types (``[1, "a"]`` would silently become strings) are refused.
    """
    values = np.asarray(values)
    if values.dtype != object:
        if values.dtype.kind not in "biufUS":
            raise StateFormatError(f"{where}: arrays of dtype {values.dtype} cannot be saved")
        return values, False
    items = values.tolist()
    typed = np.array(items) if items else np.empty(0)
    if typed.dtype == object or typed.dtype.kind not in "biufUS" or typed.shape != values.shape \
            or typed.tolist() != items:
        raise StateFormatError(
            f"{where}: values of mixed or non-array types cannot be saved exactly "
            f"(got types {sorted({type(v).__name__ for v in items})})"
        )
    return typed, True


def array_from_saved(values: np.ndarray, was_object: bool) -> np.ndarray:
    """Inverse of :func:`array_for_saving`."""
    if not was_object:
        return values
    out = np.empty(values.shape, dtype=object)
    out[...] = list(values) if values.ndim == 1 else values.tolist()
    return out


# ------------------------------------------------------------------- archive
def _json_dumps(state: dict) -> bytes:
    def check(obj, where="state"):
        # Python's json writes NaN/Infinity (not strict JSON); they are read back
        # by json.loads, so only refuse what json cannot write at all.
        if isinstance(obj, float) and not math.isfinite(obj):
            return
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise StateFormatError(f"{where}: non-string key {k!r}")
                check(v, f"{where}.{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                check(v, f"{where}[{i}]")
        elif not (obj is None or isinstance(obj, (bool, int, float, str))):
            raise StateFormatError(f"{where}: {type(obj).__name__} is not JSON-able")

    check(state)
    return json.dumps(state, indent=1, sort_keys=True).encode("utf-8")


def build_archive(state: dict, arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialise ``state`` (JSON) and ``arrays`` (``.npy``, no pickle) into one ZIP archive."""
    if _MANIFEST_KEY in state:
        raise ValueError(f"state must not use the reserved key {_MANIFEST_KEY!r}")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_STATE_MEMBER, _json_dumps({**state, _MANIFEST_KEY: sorted(arrays)}))
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(arr), allow_pickle=False)
            zf.writestr(f"{name}.npy", member.getvalue())
    return buf.getvalue()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one.

    The bytes go to a temporary file in the same folder (same file system, so
    the rename is atomic), are flushed and fsynced, and the temporary file is
    moved over ``path`` with :func:`os.replace`; the folder is fsynced too so
    the rename itself survives a power loss.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp creates the file owner-only; the saved file gets the mode the
        # target already has, or the one a plain open() would give (umask).
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            _write_all(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms (Windows) cannot open a folder; the rename is done
        return
    try:
        # Some filesystems cannot fsync a directory; the rename is still atomic.
        with contextlib.suppress(OSError):
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_all(f, data: bytes, chunk: int = 1 << 20) -> None:
    # Chunked so that a failure part-way (full disk) is a realistic partial write.
    view = memoryview(data)
    for start in range(0, len(view), chunk):
        f.write(view[start:start + chunk])


def write_archive(path: str | os.PathLike, state: dict, arrays: Mapping[str, np.ndarray]) -> None:
    """Atomically write a state archive (see the module docstring)."""
    atomic_write_bytes(path, build_archive(state, arrays))


def read_archive(path: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a state archive written by :func:`write_archive` (never unpickles).

    Returns
    -------
    state : dict
    arrays : dict of str to ndarray
    """
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:  # a damaged archive can fail in many ways (zlib, struct, EOF)
        raise StateFormatError(f"{path!r} is not a skal state file (not a readable ZIP archive: "
                               f"{type(exc).__name__}: {exc})") from exc
    with zf:
        names = zf.namelist()
        if _STATE_MEMBER not in names:
            raise StateFormatError(f"{path!r} is not a skal state file (no {_STATE_MEMBER})")
        try:
            state = json.loads(zf.read(_STATE_MEMBER).decode("utf-8"))
            arrays = {}
            for name in names:
                if name.endswith(".npy"):
                    with zf.open(name) as f:
                        arrays[name[:-4]] = np.lib.format.read_array(
                            io.BytesIO(f.read()), allow_pickle=False)
        except Exception as exc:
            # A flipped byte surfaces as a zlib error, an EOFError, zipfile's
            # refusal of an unknown compression method, a CRC error, a JSON
            # error ...: all of them mean the same thing to the caller.
            if isinstance(exc, StateFormatError):
                raise
            raise StateFormatError(f"{path!r} is damaged: {type(exc).__name__}: {exc}") from exc
    if not isinstance(state, dict):
        raise StateFormatError(f"{path!r}: {_STATE_MEMBER} does not hold a JSON object")
    if _MANIFEST_KEY in state:         # files written before the manifest have none
        manifest = state.pop(_MANIFEST_KEY)
        if not isinstance(manifest, list) or sorted(map(str, manifest)) != sorted(arrays):
            raise StateFormatError(
                f"{path!r} is damaged: its array members {sorted(arrays)} are not the ones "
                f"it was written with ({manifest})")
    return state, arrays
