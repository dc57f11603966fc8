"""CLIP image and text embeddings through ONNX Runtime, converted once from a transformers checkpoint.

A CLIP checkpoint (a local HuggingFace folder, or — on a machine with a network —
a hub id such as ``openai/clip-vit-base-patch32``) is loaded once with torch +
transformers; its image tower and its text tower, each followed by the L2
normalisation CLIP's similarity uses, are exported as two ONNX graphs into the
model cache (``juicedb.udfs.common.onnx``) with the tokenizer (``tokenizer.json``)
and the image preprocessing (``preprocessor_config.json``). Every later load
needs only ONNX Runtime, ``tokenizers`` and Pillow.

Image preprocessing is CLIPImageProcessor's (its PIL path): RGB, shortest edge
resized to ``size`` (bicubic), centre crop, ``/ 255``, normalised by the mean
and std; no CLIP weights ship in any package, so tests build a tiny random
CLIP of the same architecture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.udfs.common.hf_models import (
    HfSource,
    export,
    load_pretrained,
    open_tokenizer,
    read_meta,
    resize_image,
    start_conversion,
)
from juicedb.udfs.common.media import media_pool
from juicedb.udfs.common.onnx import session

CONVERTER_VERSION = "1"
WHAT, FILES = "CLIP", "config.json, weights, tokenizer"  # the error messages' model, and its folder's files
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_RUN = 64  # images per ONNX run of the image tower


def convert(source: HfSource, dest: Path, op: str) -> None:
    """Export the two towers of ``source`` to ``dest`` (image.onnx, text.onnx, tokenizer.json, meta.json)."""
    torch, transformers = start_conversion(source.name, op, WHAT, FILES)
    model = load_pretrained(transformers.CLIPModel, source.name, op, WHAT, FILES, dtype=torch.float32).eval()
    folder = Path(source.name)
    dest.mkdir(parents=True)
    if (folder / "tokenizer.json").is_file():
        shutil.copy(folder / "tokenizer.json", dest / "tokenizer.json")
    else:
        transformers.AutoTokenizer.from_pretrained(source.name).backend_tokenizer.save(str(dest / "tokenizer.json"))
    pre = json.loads((folder / "preprocessor_config.json").read_text()) \
        if (folder / "preprocessor_config.json").is_file() else {}
    side = model.config.vision_config.image_size
    size = pre.get("size", {"shortest_edge": side})
    crop = pre.get("crop_size", {"height": side, "width": side})
    meta = {"source": source.name, "operators": "image_text_similarity_filter, video_frames_text_similarity_filter",
            "converter": CONVERTER_VERSION,
            "shortest_edge": size["shortest_edge"] if isinstance(size, dict) else size,
            "crop": [crop["height"], crop["width"]] if isinstance(crop, dict) else [crop, crop],
            "mean": list(pre.get("image_mean", OPENAI_MEAN)), "std": list(pre.get("image_std", OPENAI_STD)),
            "context": model.config.text_config.max_position_embeddings,
            "pad_id": model.config.text_config.pad_token_id or 0}

    def features(out: Any) -> Any:  # transformers 5 returns an output object, 4.x a tensor
        return torch.nn.functional.normalize(out if torch.is_tensor(out) else out.pooler_output, dim=-1)

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: Any) -> Any:
            return features(self.model.get_image_features(pixel_values=pixel_values))

    class TextTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return features(self.model.get_text_features(input_ids=input_ids, attention_mask=attention_mask))

    export(ImageTower(), (torch.zeros(2, 3, *meta["crop"]),), dest / "image.onnx", ["pixel_values"], ["embeds"],
           {"pixel_values": {0: "batch"}, "embeds": {0: "batch"}})
    ids = torch.ones(2, 5, dtype=torch.long)
    export(TextTower(), (ids, torch.ones_like(ids)), dest / "text.onnx", ["input_ids", "attention_mask"], ["embeds"],
           {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "embeds": {0: "batch"}})
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


class Clip:
    """A converted CLIP: normalised image and text embeddings, batched on ONNX Runtime."""

    def __init__(self, folder: Path, op: str) -> None:
        self.meta = read_meta(folder)
        self.tokenizer = open_tokenizer(folder, op, self.meta["context"], self.meta["pad_id"])
        self.image_session = session(folder / "image.onnx", op)
        self.text_session = session(folder / "text.onnx", op)

    def pixels(self, image: Any) -> np.ndarray:
        """CLIPImageProcessor's preprocessing of one PIL image: (3, height, width) float32."""
        from PIL import Image
        image = resize_image(image.convert("RGB"), {"shortest_edge": self.meta["shortest_edge"]}, Image.BICUBIC)
        (w, h), (ch, cw) = image.size, self.meta["crop"]
        top, left = (h - ch) // 2, (w - cw) // 2
        arr = np.asarray(image, dtype=np.float32)[top:top + ch, left:left + cw] / 255.0
        arr = (arr - np.array(self.meta["mean"], dtype=np.float32)) / np.array(self.meta["std"], dtype=np.float32)
        return arr.transpose(2, 0, 1)

    def image_embeds(self, images: list[Any]) -> np.ndarray:
        run, pool = IMAGE_RUN, media_pool()
        parts = [self.image_session.run(None, {"pixel_values": np.stack(list(pool.map(self.pixels, images[s:s + run])))}
                                        )[0] for s in range(0, len(images), run)]
        return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def text_embeds(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        enc = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        return self.text_session.run(None, {"input_ids": ids, "attention_mask": mask})[0]


def load_clip(model: str, op: str) -> Clip:
    """The CLIP named ``model``, converted on first use and loaded once per process."""
    source = HfSource("clip", model, CONVERTER_VERSION)
    return source.load(lambda dest: convert(source, dest, op), lambda folder: Clip(folder, op))
