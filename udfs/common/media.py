"""``MediaBatch``: one batch of samples' media lists (paths or inline bytes), read once per batch.

A sample's ``images`` (or ``videos``) is a list; paths were made absolute when
the dataset was loaded (Data-Juicer: relative to the dataset file). Every
operator of a fused stage gets the same batch, so an image's header is read once
however many operators ask for its size. A missing or undecodable file raises
``MediaError`` naming the file: the engine then isolates the sample and records
it in ``errors``; the rest of the batch goes on. Null lists give null stats.
"""

from __future__ import annotations

import io
import os
from functools import cached_property
from typing import Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError

Item = str | bytes


class MediaError(Exception):
    """A media item cannot be read (missing file, not an image, truncated data)."""


def _pil() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise MissingDependencyError("image operators need Pillow: pip install 'juicedb[image]'") from None
    return Image


def _label(item: Item) -> str:
    return item if isinstance(item, str) else f"<{len(item)} inline bytes>"


class MediaBatch:
    """A batch of media lists with per-item facts read lazily and cached.

    >>> b = MediaBatch(pa.array([["a.png"], None, []], pa.list_(pa.string())))
    >>> b.lists
    [['a.png'], None, []]
    """

    def __init__(self, values: pa.Array | pa.ChunkedArray | list[list[Item] | None]) -> None:
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks() if values.num_chunks else pa.array([], pa.list_(pa.string()))
        elif not isinstance(values, pa.Array):
            values = pa.array(values)
        if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)):
            raise TypeError(f"a media operator's input must be a list of paths or bytes, got {values.type}")
        self.array = values
        self._sizes: dict[Item, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self.array)

    @cached_property
    def lists(self) -> list[list[Item] | None]:
        return self.array.to_pylist()

    def image_size(self, item: Item) -> tuple[int, int]:
        """(width, height) from the image's header (the pixels are not decoded)."""
        size = self._sizes.get(item)
        if size is None:
            image = _pil()
            try:
                with image.open(item if isinstance(item, str) else io.BytesIO(item)) as im:
                    size = im.size
            except FileNotFoundError:
                raise MediaError(f"image not found: {_label(item)}") from None
            except (OSError, ValueError, image.DecompressionBombError) as e:
                raise MediaError(f"cannot read image {_label(item)}: {e}") from None
            self._sizes[item] = size
        return size

    @staticmethod
    def file_size(item: Item) -> int:
        """Bytes of the file (or of the inline bytes)."""
        if not isinstance(item, str):
            return len(item)
        try:
            return os.path.getsize(item)
        except FileNotFoundError:
            raise MediaError(f"media file not found: {item}") from None

    def per_item(self, fn: Any, type_: pa.DataType) -> pa.Array:
        """A list per sample of ``fn(item)`` for each of its items (null list for a null sample)."""
        out = [None if items is None else [fn(i) for i in items] for items in self.lists]
        return pa.array(out, pa.list_(type_))
