"""Reading a labeling pool from a file: embeddings, item ids and display data.

A pool file holds one row per item. Supported formats:

- ``.npy``: a 2-D array of embeddings; ids are the row numbers.
- ``.npz``: the embeddings are the array ``X`` (or ``embeddings``, or the only
  2-D array); ``id_column`` names a 1-D array of ids in the archive.
- ``.csv``: a header row; ``id_column`` names the id column; every other
  column that holds numbers only is a feature, the rest (text, image URLs) is
  kept as display data for the annotators.
- ``.parquet``: like CSV, read with pandas and pyarrow (``pip install
  skal[parquet]``).

The whole file is hashed (SHA-256): a labeling session stores the hash and
refuses to go on when the file changed, because its labels refer to rows.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Pool", "read_pool", "file_sha256", "LabelingError", "POOL_FORMATS"]

#: File extensions :func:`read_pool` reads.
POOL_FORMATS = (".npy", ".npz", ".csv", ".parquet")


class LabelingError(ValueError):
    """A data problem in a labeling session: a bad pool, answer or state file.

    The command line reports it as one line and exits with status 1.
    """


@dataclass
class Pool:
    """The items of a labeling session.

    Attributes
    ----------
    X : ndarray of shape (n_items, n_features)
        The embeddings the learner selects from.
    ids : list of str
        One unique id per row (the row number when the file has no ids).
    data : dict of str to list
        Display columns (text, image URLs), one value per row.
    feature_columns : list of str or None
        The CSV/parquet columns used as features (None for arrays).
    sha256 : str
        Hash of the file's bytes.
    """

    X: np.ndarray
    ids: list
    data: dict = field(default_factory=dict)
    feature_columns: list | None = None
    sha256: str = ""

    def __post_init__(self) -> None:
        self._index = None

    @property
    def n_items(self) -> int:
        return int(self.X.shape[0])

    def index_of(self, ids) -> np.ndarray:
        """Pool indices of ``ids`` (compared as strings); unknown ids raise LabelingError."""
        if self._index is None:
            self._index = {i: k for k, i in enumerate(self.ids)}
        keys = [_id_text(i) for i in ids]
        unknown = [k for k in keys if k not in self._index]
        if unknown:
            raise LabelingError(f"unknown id(s) {unknown[:5]} (not in the pool of "
                                f"{self.n_items} items)")
        return np.asarray([self._index[k] for k in keys], dtype=np.int64)


def _id_text(value) -> str:
    # Ids travel through CSV and JSON as text or numbers: 7, 7.0 and "7" are
    # the same item; anything else is compared by its text.
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).strip()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                return digest.hexdigest()
            digest.update(block)


def read_pool(path: str | os.PathLike, *, id_column: str | None = None) -> Pool:
    """Read a pool file (see the module docstring for the formats).

    Parameters
    ----------
    path : str or path-like
        A ``.npy``, ``.npz``, ``.csv`` or ``.parquet`` file.
    id_column : str or None, default=None
        The column (CSV, parquet) or array (``.npz``) holding item ids;
        ``None`` numbers the rows 0, 1, ...

    Returns
    -------
    pool : Pool

    Raises
    ------
    LabelingError
        The file is missing, unreadable, has no features, holds non-finite
        values or duplicate ids, or ``id_column`` is not in it.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in POOL_FORMATS:
        raise LabelingError(f"pool file {path!r}: unsupported format {ext or '(none)'!r}; "
                            f"use one of {', '.join(POOL_FORMATS)}")
    if not os.path.isfile(path):
        raise LabelingError(f"pool file {path!r} does not exist")
    if ext == ".npy" and id_column is not None:
        raise LabelingError(f"pool file {path!r}: a .npy file holds no ids, so --id-column "
                            f"{id_column!r} cannot be read from it (use .npz or .csv)")
    try:
        if ext == ".npy":
            X, ids, data, columns = np.load(path, allow_pickle=False), None, {}, None
        elif ext == ".npz":
            X, ids, data, columns = _read_npz(path, id_column)
        else:
            header, rows = _read_csv(path) if ext == ".csv" else _read_parquet(path)
            X, ids, data, columns = _split_columns(header, rows, id_column)
    except LabelingError as exc:
        raise LabelingError(f"pool file {path!r}: {exc}") from None
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        raise LabelingError(f"pool file {path!r} cannot be read: {exc}") from None
    X = _check_features(np.asarray(X), path)
    ids = [str(i) for i in range(X.shape[0])] if ids is None else [_id_text(i) for i in ids]
    if len(ids) != X.shape[0]:
        raise LabelingError(f"pool file {path!r}: {len(ids)} ids for {X.shape[0]} rows")
    _check_unique(ids, path)
    return Pool(X=X, ids=ids, data=data, feature_columns=columns, sha256=file_sha256(path))


def _check_features(X: np.ndarray, path: str) -> np.ndarray:
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise LabelingError(f"pool file {path!r}: the embeddings must be a non-empty 2-D "
                            f"array, got shape {X.shape}")
    if X.dtype.kind not in "fiub":
        raise LabelingError(f"pool file {path!r}: the embeddings must be numbers, got dtype "
                            f"{X.dtype}")
    X = X.astype(np.float32 if X.dtype == np.float32 else np.float64, copy=False)
    bad = ~np.isfinite(X)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise LabelingError(f"pool file {path!r}: row {row} holds a NaN or infinite value")
    return X


def _check_unique(ids: list, path: str) -> None:
    seen: set = set()
    dup = []
    for i in ids:
        if i in seen:
            dup.append(i)
        seen.add(i)
    if dup:
        raise LabelingError(f"pool file {path!r}: duplicate ids {dup[:5]}")
    if any(i == "" for i in ids):
        raise LabelingError(f"pool file {path!r}: an id is empty")


def _read_npz(path: str, id_column: str | None):
    with np.load(path, allow_pickle=False) as z:
        names = list(z.files)
        arrays = {n: z[n] for n in names}
    if id_column is not None and id_column not in arrays:
        raise LabelingError(f"no array {id_column!r} for the ids; it holds {names}")
    for key in ("X", "embeddings"):
        if key in arrays:
            X = arrays[key]
            break
    else:
        two_d = [n for n, a in arrays.items() if a.ndim == 2]
        if len(two_d) != 1:
            raise LabelingError(f"name the embeddings 'X' (or 'embeddings'): it holds {names}")
        X = arrays[two_d[0]]
    ids = None
    if id_column is not None:
        ids = arrays[id_column]
        if ids.ndim != 1:
            raise LabelingError(f"the ids {id_column!r} must be 1-D, got shape {ids.shape}")
        ids = ids.tolist()
    return X, ids, {}, None


def _read_csv(path: str) -> tuple[list, list]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise LabelingError("the file is empty (a header row is needed)")
        rows = []
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise LabelingError(f"line {line} has {len(row)} fields, the header has "
                                    f"{len(header)}")
            rows.append(row)
    return [h.strip() for h in header], rows


def _read_parquet(path: str) -> tuple[list, list]:
    try:
        import pandas as pd
        import pyarrow  # noqa: F401  (pandas needs it for parquet)
    except ImportError:
        raise LabelingError("reading .parquet needs pandas and pyarrow, which are not "
                            "installed: pip install 'skal[parquet]' (or save the pool as "
                            ".csv or .npz)") from None
    frame = pd.read_parquet(path)
    header = [str(c) for c in frame.columns]
    return header, frame.to_numpy(dtype=object).tolist()


def _as_number(value) -> float | None:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _split_columns(header: list, rows: list, id_column: str | None):
    if len(set(header)) != len(header):
        raise LabelingError(f"duplicate column names in the header {header}")
    if id_column is not None and id_column not in header:
        raise LabelingError(f"no id column {id_column!r}; the columns are {header}")
    if not rows:
        raise LabelingError("no rows below the header")
    features, data = [], []
    for k, name in enumerate(header):
        if name == id_column:
            continue
        values = [_as_number(r[k]) for r in rows]
        # A column that holds numbers only is a feature; text, URLs or a
        # partly empty column is display data for the annotators.
        (features if all(v is not None for v in values) else data).append(k)
    if not features:
        raise LabelingError(f"no numeric feature column among {header}")
    X = np.array([[_as_number(r[k]) for k in features] for r in rows], dtype=np.float64)
    ids = None if id_column is None else [r[header.index(id_column)] for r in rows]
    display = {header[k]: ["" if r[k] is None else str(r[k]) for r in rows] for k in data}
    return X, ids, display, [header[k] for k in features]
