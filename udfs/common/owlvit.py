"""OWL-ViT open-vocabulary detection through ONNX Runtime, converted once from a transformers checkpoint.

``OwlViTForObjectDetection`` (Data-Juicer's default ``google/owlvit-base-patch32``)
is exported as two graphs, since its boxes depend on the image alone and its class
logits are a dot product of per-patch image embeddings with per-query text embeddings:

- the image graph: pixels to, per patch, the class head's normalised class embedding,
  its logit shift and scale (``elu + 1``), and the predicted box (centre, size; 0–1);
- the text graph: a query's token ids to its embedding (``text_projection`` of the
  pooled text state, normalised as ``OwlViTModel`` and then the class head do).

The logits are then ``(class_embeds @ queries.T + shift) * scale`` in numpy, with the
model's query mask (a query whose first token id is 0 is padding: its logits are the
float32 minimum). So each image and each phrase of a batch is encoded once, whatever
chunks they pair up in. The tokenizer is the one transformers loads, truncated to the
tokenizer's ``model_max_length`` (Data-Juicer passes ``truncation=True``); the image
preprocessing is ``OwlViTImageProcessor``'s (``juicedb.udfs.common.hf_models``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.udfs.common.hf_models import HfSource, export, open_checkpoint, open_tokenizer, pixels, read_meta
from juicedb.udfs.common.media import media_pool
from juicedb.udfs.common.onnx import session

CONVERTER_VERSION = "1"
WHAT = "OWL-ViT"
IMAGE_RUN = 16  # images per run of the image graph; their patch embeddings stay only while their pairs are scored
TEXT_RUN = 256  # queries per run of the text graph


def convert(source: HfSource, dest: Path, op: str) -> None:
    """Export ``source`` to ``dest``: image.onnx, text.onnx, tokenizer.json, meta.json (written last)."""
    checkpoint = open_checkpoint(source.name, dest, op, WHAT, "OwlViTForObjectDetection", "OwlViTImageProcessor")
    torch, model = checkpoint.torch, checkpoint.model
    side = model.config.vision_config.image_size
    positions = model.config.text_config.max_position_embeddings
    meta = {"source": source.name, "operators": "phrase_grounding_recall_filter", "converter": CONVERTER_VERSION,
            "image": checkpoint.image, "pad_id": checkpoint.pad_id,
            # truncation=True truncates to the tokenizer's model_max_length (16 for the released OWL-ViTs);
            # a tokenizer without one is held to the model's positions (more would fail in transformers)
            "max_length": min(checkpoint.max_length, positions)}

    class ImageGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: Any) -> Any:
            feature_map = self.model.image_embedder(pixel_values=pixel_values)[0]
            b, h, w, d = feature_map.shape
            feats = feature_map.reshape(b, h * w, d)
            head = self.model.class_head
            cls = head.dense0(feats)
            cls = cls / (torch.linalg.norm(cls, dim=-1, keepdim=True) + 1e-6)
            shift = head.logit_shift(feats)[..., 0]
            scale = head.elu(head.logit_scale(feats))[..., 0] + 1
            return cls, shift, scale, self.model.box_predictor(feats, feature_map)

    class TextGraph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            owl = self.model.owlvit
            pooled = owl.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
            text = owl.text_projection(pooled)
            text = text / torch.linalg.norm(text, ord=2, dim=-1, keepdim=True)  # OwlViTModel's text_embeds
            return text / (torch.linalg.norm(text, dim=-1, keepdim=True) + 1e-6)  # the class head's

    export(ImageGraph(), (torch.zeros(2, 3, side, side),), dest / "image.onnx", ["pixel_values"],
           ["class_embeds", "logit_shift", "logit_scale", "boxes"],
           {"pixel_values": {0: "batch"}, "class_embeds": {0: "batch"}, "logit_shift": {0: "batch"},
            "logit_scale": {0: "batch"}, "boxes": {0: "batch"}})
    ids = torch.ones(2, 5, dtype=torch.long)
    export(TextGraph(), (ids, torch.ones_like(ids)), dest / "text.onnx", ["input_ids", "attention_mask"],
           ["query_embeds"], {"input_ids": {0: "queries", 1: "tokens"}, "attention_mask": {0: "queries", 1: "tokens"},
                              "query_embeds": {0: "queries"}})
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


@dataclass
class ImageDetections:
    """One image's raw detections: per patch, class embedding, logit shift and scale, box (cx, cy, w, h; 0–1).

    ``size`` is the image's (width, height), what the boxes are scaled to.
    """

    size: tuple[int, int]
    class_embeds: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    boxes: np.ndarray

    def logits(self, queries: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """(patches, queries) class logits of OwlViTClassPredictionHead; invalid (padding) queries at the minimum."""
        out = (self.class_embeds @ queries.T + self.shift[:, None]) * self.scale[:, None]
        return np.where(valid[None, :], out, np.finfo(np.float32).min).astype(np.float32)


class OwlVit:
    """A converted OWL-ViT: query embeddings and per-image detections, batched on ONNX Runtime."""

    def __init__(self, folder: Path, op: str) -> None:
        self.meta = read_meta(folder)
        self.tokenizer = open_tokenizer(folder, op, self.meta["max_length"], self.meta["pad_id"])
        self.image_session = session(folder / "image.onnx", op)
        self.text_session = session(folder / "text.onnx", op)

    def pixels(self, image: Any) -> np.ndarray:
        """OwlViTImageProcessor's preprocessing of one RGB PIL image: (3, height, width) float32."""
        return pixels(image, self.meta["image"])

    def queries(self, phrases: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of ``phrases`` (normalised, (n, dim)) and whether each is a real query (first token id > 0)."""
        embeds, valid = [], []
        for s in range(0, len(phrases), TEXT_RUN):
            enc = self.tokenizer.encode_batch(phrases[s:s + TEXT_RUN])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            embeds.append(self.text_session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
            valid.append(ids[:, 0] > 0)
        if not embeds:
            return np.zeros((0, 0), dtype=np.float32), np.zeros(0, dtype=bool)
        return np.concatenate(embeds), np.concatenate(valid)

    def detections(self, items: list[Any], load: Callable[[Any], Any]) -> Iterator[tuple[int, ImageDetections]]:
        """``(index, detections)`` for each of ``items``, a run of images at a time (``load(item)``: RGB PIL)."""
        def prepare(item: Any) -> tuple[tuple[int, int], np.ndarray]:
            image = load(item)
            return image.size, self.pixels(image)

        pool = media_pool()
        for s in range(0, len(items), IMAGE_RUN):
            sizes, arrays = zip(*pool.map(prepare, items[s:s + IMAGE_RUN]))
            cls, shift, scale, boxes = self.image_session.run(None, {"pixel_values": np.stack(arrays)})
            for r, size in enumerate(sizes):
                yield s + r, ImageDetections(size, cls[r], shift[r], scale[r], boxes[r])


def load_owlvit(model: str, op: str) -> OwlVit:
    """The OWL-ViT named ``model``, converted on first use and loaded once per process."""
    source = HfSource("owlvit", model, CONVERTER_VERSION)
    return source.load(lambda dest: convert(source, dest, op), lambda folder: OwlVit(folder, op))
