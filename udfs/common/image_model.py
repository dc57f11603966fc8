"""Image models of transformers run through ONNX Runtime: converted once, then scored in large batches.

An image model (an aesthetics predictor, an image classifier) is named by a local
HuggingFace folder or, on a machine with a network, a hub id (its cache key and
checks: ``juicedb.udfs.common.hf_models.HfSource``). The first use loads it once
with torch + transformers, wraps it in a small torch module whose output
is the number the operator wants, exports that to ONNX into the model cache
(``juicedb.udfs.common.onnx``) and writes ``meta.json`` with the image
preprocessing as data. Every later load needs only ONNX Runtime, numpy and Pillow.

The preprocessing is the transformers image processor's PIL path, read from the
processor at conversion: RGB; resize to ``height`` x ``width`` or the shortest edge
to ``shortest_edge`` (the long edge scaled with ``int()``) with the processor's
resample filter; centre crop (zero padding where the image is smaller); multiply by
``rescale_factor``; normalise by the mean and std. Processors with other steps
(``crop_pct``, padding, ``longest_edge``) are refused at conversion, not scored wrong.

>>> spec = {"resize": {"height": 2, "width": 2}, "resample": 2, "crop": None, "rescale": 1 / 255,
...         "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
>>> from PIL import Image
>>> pixels(Image.new("RGB", (5, 3), (255, 0, 0)), spec)[:, 0, 0].tolist()
[1.0, -1.0, -1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.hf_models import HfSource, export, read_meta, resize_image
from juicedb.udfs.common.media import Item, MediaBatch, media_pool
from juicedb.udfs.common.onnx import session

CONVERTER_VERSION = "1"
RUN = 64  # images per ONNX run: (64, 3, 224, 224) float32 is 38 MB
REDUCE = {"avg": np.mean, "max": np.max, "min": np.min}


# --------------------------------------------------------------------------- conversion (torch, once)

def _size(value: Any) -> dict[str, int]:
    """A processor's size (dict, transformers 5 ``SizeDict`` or None) as a dict of its set keys."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    keys = ("height", "width", "shortest_edge", "longest_edge", "max_height", "max_width", "min_pixels", "max_pixels")
    return {k: getattr(value, k) for k in keys if getattr(value, k, None) is not None}


def preprocess_spec(processor: Any, op: str) -> dict[str, Any]:
    """The PIL-path preprocessing of a transformers image processor, as the data ``pixels`` runs."""
    def refuse(why: str) -> MissingDependencyError:
        return MissingDependencyError(f"{op}: the image processor {type(processor).__name__} {why}; juicedb "
                                      "reproduces resize (height x width or shortest_edge), centre crop, rescale "
                                      "and normalise only")

    if getattr(processor, "crop_pct", None) is not None:
        raise refuse(f"resizes by crop_pct={processor.crop_pct}")
    if getattr(processor, "do_pad", None):
        raise refuse("pads")
    resize = None
    if getattr(processor, "do_resize", False):
        size = _size(processor.size)
        if set(size) == {"shortest_edge"} or set(size) == {"height", "width"}:
            resize = size
        else:
            raise refuse(f"resizes to {size}")
    crop = None
    if getattr(processor, "do_center_crop", False):
        c = _size(processor.crop_size)
        if set(c) != {"height", "width"}:
            raise refuse(f"crops to {c}")
        crop = [c["height"], c["width"]]
    resample = getattr(processor, "resample", None)
    normalise = bool(getattr(processor, "do_normalize", False))

    def triple(v: Any) -> list[float]:
        return [float(x) for x in (v if isinstance(v, (list, tuple)) else [v] * 3)]

    return {"resize": resize, "resample": 2 if resample is None else int(resample), "crop": crop,
            "rescale": float(processor.rescale_factor) if getattr(processor, "do_rescale", False) else None,
            "mean": triple(processor.image_mean) if normalise else None,
            "std": triple(processor.image_std) if normalise else None}


def export_onnx(module: Any, dest: Path, height: int, width: int, outputs: Sequence[str]) -> None:
    """Export ``module(pixel_values)`` with a dynamic batch axis to ``dest/model.onnx``."""
    import torch
    export(module.eval(), (torch.zeros(2, 3, height, width),), dest / "model.onnx", ["pixel_values"], list(outputs),
           {"pixel_values": {0: "batch"}, **{o: {0: "batch"} for o in outputs}})


def input_side(spec: dict[str, Any], fallback: int) -> tuple[int, int]:
    """The (height, width) the model sees after ``spec``'s resize and crop."""
    if spec["crop"]:
        return tuple(spec["crop"])  # type: ignore[return-value]
    resize = spec["resize"] or {}
    if "height" in resize:
        return resize["height"], resize["width"]
    return fallback, fallback


# --------------------------------------------------------------------------- runtime (ONNX Runtime only)

def pixels(image: Any, spec: dict[str, Any]) -> np.ndarray:
    """One PIL image preprocessed by ``spec``: (3, height, width) float32."""
    image = image.convert("RGB")
    if spec["resize"]:
        image = resize_image(image, spec["resize"], spec["resample"])
    arr = np.asarray(image)
    if spec["crop"]:
        ch, cw = spec["crop"]
        h, w = arr.shape[:2]
        if h < ch or w < cw:  # transformers pads with zeros around the centre first
            canvas = np.zeros((max(h, ch), max(w, cw), 3), dtype=arr.dtype)
            top, left = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
            canvas[top:top + h, left:left + w] = arr
            arr, h, w = canvas, *canvas.shape[:2]
        top, left = (h - ch) // 2, (w - cw) // 2
        arr = arr[top:top + ch, left:left + cw]
    out = arr.astype(np.float32)
    if spec["rescale"] is not None:
        out = (arr.astype(np.float64) * spec["rescale"]).astype(np.float32)
    if spec["mean"] is not None:
        out = (out - np.array(spec["mean"], dtype=np.float32)) / np.array(spec["std"], dtype=np.float32)
    return out.transpose(2, 0, 1)


class ImageModel:
    """A converted image model: ``meta.json`` (with ``preprocess``) and ``model.onnx``, batched on ONNX Runtime."""

    def __init__(self, folder: Path, op: str) -> None:
        self.meta = read_meta(folder)
        self.session = session(folder / "model.onnx", op)

    def run(self, images: Sequence[Any], load: Callable[[Any], Any] | None = None) -> np.ndarray:
        """The model's first output for each image (PIL images, or items ``load`` opens), in runs of ``RUN``."""
        spec = self.meta["preprocess"]

        def prepare(x: Any) -> np.ndarray:
            return pixels(load(x) if load else x, spec)

        parts = [self.session.run(None, {"pixel_values": np.stack(list(media_pool().map(prepare, images[s:s + RUN])))}
                                  )[0] for s in range(0, len(images), RUN)]
        return np.concatenate(parts) if parts else np.zeros((0,), dtype=np.float32)


def load_image_model(kind: str, model: str, op: str, convert: Callable[[Path], None]) -> ImageModel:
    """The ``kind`` model named ``model``, converted by ``convert(dest)`` on first use, loaded once per process."""
    return HfSource(kind, model, CONVERTER_VERSION).load(convert, lambda folder: ImageModel(folder, op))


# --------------------------------------------------------------------------- per-batch scoring

def score_images(batch: MediaBatch, score: Callable[[list[Item]], np.ndarray]) -> pa.Array:
    """A list per sample of ``score``'s value for each image; every distinct image of the batch scored once."""
    items = list(dict.fromkeys(i for items in batch.lists if items for i in items))
    values = dict(zip(items, score(items).tolist())) if items else {}
    return batch.per_item(values.__getitem__, pa.float64())


def score_videos(batch: MediaBatch, score: Callable[[list[Any]], np.ndarray], method: str, num: int,
                 reduce_mode: str) -> pa.Array:
    """A list per sample of each video's frame scores reduced (``avg``/``max``/``min``); no frames: 0.0 (DJ).

    Every distinct video's frames are sampled once per batch (``MediaBatch.frames``) and
    all frames of the batch scored together.
    """
    videos = list(dict.fromkeys(v for items in batch.lists if items for v in items))
    frames = {v: batch.frames(v, method, num) for v in videos}
    flat = [f for v in videos for f in frames[v]]
    scores = iter(score(flat).tolist() if flat else [])
    reduce = REDUCE[reduce_mode]
    per_video = {}
    for v in videos:
        values = [next(scores) for _ in frames[v]]
        per_video[v] = float(reduce(values)) if values else 0.0
    return batch.per_item(per_video.__getitem__, pa.float64())
