"""How the labeling page shows an item: an image file, pool pixels, a text column or columns.

The page never sends the pool: it asks for one item at a time, and images
travel as separate requests (``/api/image/<index>``), so a pool of a million
rows costs the page what a pool of ten does.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

import numpy as np

__all__ = ["Display", "resolve_display", "parse_shape", "item_view", "find_image",
           "render_pixels", "IMAGE_EXTENSIONS"]

#: Extensions tried, in this order, for the image of item ``id`` in ``--images DIR``.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg")


@dataclass(frozen=True)
class Display:
    """What the page shows for each item.

    Attributes
    ----------
    kind : {"images", "pixels", "text", "columns", "none"}
        ``images``: a file per item id in ``images``; ``pixels``: the pool
        row drawn as a ``shape`` image; ``text``: one display column;
        ``columns``: every display column of the pool; ``none``: the id only.
    images : str or None
    text_column : str or None
    shape : tuple of int or None
        ``(height, width)`` or ``(height, width, 3)`` for ``pixels``.
    """

    kind: str
    images: str | None = None
    text_column: str | None = None
    shape: tuple | None = None


def parse_shape(text: str | None) -> tuple | None:
    """``"8x8"`` -> ``(8, 8)``; ``"32x32x3"`` -> ``(32, 32, 3)``; None stays None."""
    if text is None:
        return None
    parts = str(text).lower().split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        dims = ()
    if len(dims) not in (2, 3) or min(dims) < 1 or (len(dims) == 3 and dims[2] != 3):
        raise ValueError(f"shape must be HxW or HxWx3 with positive integers, got {text!r}")
    return dims


def resolve_display(pool, *, images: str | None = None, text_column: str | None = None,
                    shape: str | tuple | None = None) -> Display:
    """Choose what to show from the options and the pool.

    Explicit options win (``images``, then ``text_column``, then ``shape``).
    Otherwise: the pool's display columns when it has any, else its rows as
    square grey images when the feature count is a square (64 -> 8x8), else
    the item id.

    Raises
    ------
    ValueError
        ``images`` is not a folder, ``text_column`` is not a display column
        of the pool, or ``shape`` does not hold the pool's feature count.
    """
    given = [name for name, v in (("images", images), ("text_column", text_column))
             if v is not None]
    if len(given) > 1:
        raise ValueError("give images or text_column, not both")
    n_features = int(pool.X.shape[1])
    dims = parse_shape(shape) if isinstance(shape, (str, type(None))) else tuple(shape)
    if dims is not None and math.prod(dims) != n_features:
        raise ValueError(f"shape {'x'.join(map(str, dims))} holds {math.prod(dims)} values, "
                         f"the pool rows have {n_features} features")
    if images is not None:
        if not os.path.isdir(images):
            raise ValueError(f"images folder {os.fspath(images)!r} does not exist")
        return Display("images", images=os.path.abspath(images))
    if text_column is not None:
        if text_column not in pool.data:
            raise ValueError(f"text_column {text_column!r} is not a display column of the "
                             f"pool; it has {sorted(pool.data) or 'none'}")
        return Display("text", text_column=text_column)
    if dims is not None:
        return Display("pixels", shape=dims)
    if pool.data:
        return Display("columns")
    side = math.isqrt(n_features)
    if n_features >= 16 and side * side == n_features:
        return Display("pixels", shape=(side, side))
    return Display("none")


def item_view(display: Display, pool, index: int) -> dict:
    """The JSON the page needs to show pool row ``index``: id, text and/or image URL."""
    view = {"index": int(index), "id": pool.ids[index], "text": None, "image": None}
    if display.kind in ("images", "pixels"):
        view["image"] = f"api/image/{int(index)}"
    elif display.kind == "text":
        view["text"] = pool.data[display.text_column][index]
    elif display.kind == "columns":
        view["text"] = "\n".join(f"{c}: {pool.data[c][index]}" for c in sorted(pool.data))
    return view


def find_image(display: Display, item_id: str) -> str | None:
    """The file ``<images>/<id>.<ext>`` of an item, or None when there is none.

    Ids that would leave the folder (``..``, separators) have no image.
    """
    name = str(item_id)
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        return None
    for ext in ("",) + IMAGE_EXTENSIONS:
        path = os.path.join(display.images, name + ext)
        # The bare id is accepted only when it already carries an image extension.
        if ext == "" and not name.lower().endswith(IMAGE_EXTENSIONS):
            continue
        if os.path.isfile(path):
            return path
    return None


def render_pixels(row: np.ndarray, shape: tuple) -> bytes:
    """A pool row as PNG bytes (grey, or RGB for ``(h, w, 3)``), scaled to its own range.

    Each image is stretched to its own minimum and maximum so that
    normalised embeddings (rows on the unit sphere) show as well as raw
    pixel counts; the browser enlarges it without smoothing.
    """
    from matplotlib.image import imsave  # imported on the first image only

    values = np.asarray(row, dtype=np.float64).reshape(shape)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    buffer = io.BytesIO()
    if len(shape) == 3:
        imsave(buffer, scaled, format="png")
    else:
        # Dark strokes on white, like ink on paper (sklearn's digits are ink counts).
        imsave(buffer, scaled, cmap="gray_r", vmin=0.0, vmax=1.0, format="png")
    return buffer.getvalue()
