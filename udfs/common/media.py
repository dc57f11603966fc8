"""``MediaBatch``: one batch of samples' media lists (paths or inline bytes), read once per batch.

A sample's ``images`` (or ``videos``) is a list; paths were made absolute when
the dataset was loaded (Data-Juicer: relative to the dataset file). Every
operator of a fused stage gets the same batch, so an image's header is read once
however many operators ask for its size. A missing or undecodable file raises
``MediaError`` naming the file: the engine then isolates the sample and records
it in ``errors``; the rest of the batch goes on. Null lists give null stats.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.lazy import lazy_property

Item = str | bytes


def any_all_keep(items: str, passes: str) -> str:
    """Data-Juicer's keep rule over per-item stats, as a filter's ``keep`` SQL.

    ``items`` is the SQL of the list (``{stat}`` placeholders), ``passes`` the test of
    one of its items ``v``; with ``'any'`` one passing item keeps the sample, with
    ``'all'`` every item must pass, and a sample without items is kept.

    >>> any_all_keep("{sizes}", "v <= {max_size}")
    "(len({sizes}) = 0 OR CASE WHEN {any_or_all} = 'any' THEN list_bool_or(list_transform({sizes}, \
lambda v: v <= {max_size})) ELSE list_bool_and(list_transform({sizes}, lambda v: v <= {max_size})) END)"
    """
    each = f"list_transform({items}, lambda v: {passes})"
    return (f"(len({items}) = 0 OR CASE WHEN {{any_or_all}} = 'any' THEN list_bool_or({each}) "
            f"ELSE list_bool_and({each}) END)")


def shape_keep(width: str, height: str) -> str:
    """DJ's shape rule (image_shape, video_resolution): an item passes when width and height are within bounds."""
    return any_all_keep(f"list_zip({{{width}}}, {{{height}}})",
                        "v[1] >= {min_width} AND v[1] <= {max_width} AND v[2] >= {min_height} AND v[2] <= {max_height}")


# the shape rule's parameters and DJ's defaults
SHAPE_RULE = {"min_width": 1, "max_width": sys.maxsize, "min_height": 1, "max_height": sys.maxsize, "any_or_all": "any"}


_POOL: list[ThreadPoolExecutor] = []
_POOL_LOCK = threading.Lock()


def media_pool() -> ThreadPoolExecutor:
    """Threads for decoding and preprocessing media, one per core: Pillow releases the GIL while it works."""
    if not _POOL:
        with _POOL_LOCK:
            if not _POOL:
                _POOL.append(ThreadPoolExecutor(os.cpu_count() or 1, thread_name_prefix="juicedb-media"))
    return _POOL[0]


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


@contextlib.contextmanager
def open_image(item: Item) -> Iterator[Any]:
    """The image as a lazily read PIL image; a missing or unreadable one raises ``MediaError`` naming it."""
    image = _pil()
    try:
        with image.open(item if isinstance(item, str) else io.BytesIO(item)) as im:
            yield im
    except FileNotFoundError:
        raise MediaError(f"image not found: {_label(item)}") from None
    except (OSError, ValueError, image.DecompressionBombError) as e:
        raise MediaError(f"cannot read image {_label(item)}: {e}") from None


def flip(image: Any, horizontal: bool = False, vertical: bool = False) -> Any:
    """The PIL image mirrored left-right and/or top-bottom (Data-Juicer's ``horizontal_flip`` / ``vertical_flip``)."""
    if not (horizontal or vertical):
        return image
    from PIL import ImageOps
    if horizontal:
        image = ImageOps.mirror(image)
    if vertical:
        image = ImageOps.flip(image)
    return image


def load_rgb(item: Item, horizontal_flip: bool = False, vertical_flip: bool = False) -> Any:
    """The image decoded as RGB (Data-Juicer's ``load_image``), flipped as asked; a bad one raises ``MediaError``."""
    with open_image(item) as im:
        image = im.convert("RGB")
    return flip(image, horizontal_flip, vertical_flip)


@contextlib.contextmanager
def open_video(item: Item) -> Iterator[tuple[Any, Any, Any]]:
    """``(av, container, first video stream)``; a missing or unreadable video raises ``MediaError`` naming it."""
    try:
        import av
    except ImportError:
        raise MissingDependencyError("video operators need PyAV: pip install 'juicedb[video]'") from None
    try:
        with av.open(item if isinstance(item, str) else io.BytesIO(item)) as container:
            if not container.streams.video:
                raise MediaError(f"no video stream in {_label(item)}")
            yield av, container, container.streams.video[0]
    except FileNotFoundError:
        raise MediaError(f"video not found: {_label(item)}") from None
    except av.FFmpegError as e:
        raise MediaError(f"cannot read video {_label(item)}: {e}") from None


def _seconds(av: Any, container: Any, stream: Any) -> float:
    """The first video stream's duration (the container's where the stream has none), DJ's reading."""
    if stream.duration is not None:
        return stream.duration * stream.time_base
    return (container.duration or 0) / av.time_base


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
        self._videos: dict[Item, tuple[int, int, int]] = {}
        self._frames: dict[tuple[Item, str, int], list[Any]] = {}

    def __len__(self) -> int:
        return len(self.array)

    @lazy_property
    def lists(self) -> list[list[Item] | None]:
        return self.array.to_pylist()

    def image_size(self, item: Item) -> tuple[int, int]:
        """(width, height) from the image's header (the pixels are not decoded)."""
        size = self._sizes.get(item)
        if size is None:
            with open_image(item) as im:
                size = im.size
            self._sizes[item] = size
        return size

    def video_info(self, item: Item) -> tuple[int, int, int]:
        """(duration in whole seconds, width, height) of the first video stream, from the container's headers.

        Data-Juicer's definitions: ``round(stream.duration * stream.time_base)`` (the container's
        duration where the stream has none) and the codec context's width and height.
        """
        info = self._videos.get(item)
        if info is None:
            with open_video(item) as (av, container, stream):
                info = (round(_seconds(av, container, stream)), stream.codec_context.width,
                        stream.codec_context.height)
            self._videos[item] = info
        return info

    def frames(self, item: Item, method: str = "all_keyframes", num: int = 3) -> list[Any]:
        """Sampled frames of a video's first stream as RGB PIL images, decoded once per batch for every operator.

        ``uniform``: ``num`` frames at evenly spaced times from the start to the end (one frame: the
        middle), each the first frame at or after its time (the last frame past the end);
        ``all_keyframes``: every key frame (Data-Juicer's two methods).
        """
        key = (item, method, num)
        found = self._frames.get(key)
        if found is not None:
            return found
        with open_video(item) as (av, container, stream):
            if method == "all_keyframes":
                stream.codec_context.skip_frame = "NONKEY"
                found = [f.to_image() for f in container.decode(stream)]
            else:
                duration = float(_seconds(av, container, stream))
                times = [duration / 2] if num == 1 else [duration * i / (num - 1) for i in range(num)]
                found, last = [], None
                for f in container.decode(stream):
                    last = f
                    while len(found) < len(times) and (f.time or 0.0) >= times[len(found)]:
                        found.append(f.to_image())
                    if len(found) == len(times):
                        break
                while last is not None and len(found) < len(times):
                    found.append(last.to_image())
        self._frames[key] = found
        return found

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


class PairBatch:
    """A batch of samples' text and media (image-text, video-text operators): ``.text`` and ``.media``.

    The engine hands these operators one struct per sample (``{text, images}``).

    >>> b = PairBatch(pa.array([{"text": "a cat", "images": ["cat.jpg"]}]))
    >>> b.text.strings, b.media.lists
    (['a cat'], [['cat.jpg']])
    """

    def __init__(self, values: pa.Array | pa.ChunkedArray) -> None:
        from juicedb.udfs.common.text import TextBatch

        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.array = values
        self.text = TextBatch(values.field(0))
        self.media = MediaBatch(values.field(1))

    def __len__(self) -> int:
        return len(self.array)
