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

import hashlib
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.media import media_pool
from juicedb.udfs.common.onnx import converted, load_once, session

CONVERTER_VERSION = "1"
CONVERT_EXTRA = "pip install 'juicedb[lm]'"  # torch + transformers, used once per model
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGE_RUN = 64  # images per ONNX run of the image tower


@dataclass(frozen=True)
class ClipSource:
    name: str

    def key(self) -> str:
        h = hashlib.sha1(f"clip-v{CONVERTER_VERSION}:{self.name}".encode())
        folder = Path(self.name)
        for f in sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.name)[:40]
        return f"clip-{slug}-{h.hexdigest()[:12]}"


def convert(source: ClipSource, dest: Path, op: str) -> None:
    """Export the two towers of ``source`` to ``dest`` (image.onnx, text.onnx, tokenizer.json, meta.json)."""
    try:
        import torch
        from transformers import AutoTokenizer, CLIPModel
    except ImportError:
        raise MissingDependencyError(f"{op}: converting CLIP model {source.name!r} to ONNX (once) needs torch and "
                                     f"transformers: {CONVERT_EXTRA}") from None
    folder = Path(source.name)
    hub_id = source.name.count("/") == 1 and not source.name.startswith((".", "/", "~")) and not folder.suffix
    if not folder.is_dir() and not hub_id:
        raise MissingDependencyError(f"{op}: CLIP model {source.name!r} is not a folder; pass a local HuggingFace "
                                     "CLIP folder (config.json, weights, tokenizer) or, with a network, a hub id")
    try:
        model = CLIPModel.from_pretrained(source.name, dtype=torch.float32).eval()
    except (OSError, ValueError) as e:
        raise MissingDependencyError(
            f"{op}: cannot load CLIP model {source.name!r} ({e}); pass a local HuggingFace CLIP folder "
            "(config.json, weights, tokenizer) or, on a machine with a network, a hub id") from None
    dest.mkdir(parents=True)
    if (folder / "tokenizer.json").is_file():
        shutil.copy(folder / "tokenizer.json", dest / "tokenizer.json")
    else:
        AutoTokenizer.from_pretrained(source.name).backend_tokenizer.save(str(dest / "tokenizer.json"))
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

    pixels = torch.zeros(2, 3, *meta["crop"])
    ids = torch.ones(2, 5, dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer and deprecation notices of the TorchScript exporter
        torch.onnx.export(ImageTower(), (pixels,), str(dest / "image.onnx"), input_names=["pixel_values"],
                          output_names=["embeds"], opset_version=18, dynamo=False,
                          dynamic_axes={"pixel_values": {0: "batch"}, "embeds": {0: "batch"}})
        torch.onnx.export(TextTower(), (ids, torch.ones_like(ids)), str(dest / "text.onnx"),
                          input_names=["input_ids", "attention_mask"], output_names=["embeds"], opset_version=18,
                          dynamo=False, dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                                      "attention_mask": {0: "batch", 1: "tokens"},
                                                      "embeds": {0: "batch"}})
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


class Clip:
    """A converted CLIP: normalised image and text embeddings, batched on ONNX Runtime."""

    def __init__(self, folder: Path, op: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise MissingDependencyError(f"{op} needs tokenizers: pip install 'juicedb[text-models]'") from None
        self.meta = json.loads((folder / "meta.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.meta["context"])
        self.tokenizer.enable_padding(pad_id=self.meta["pad_id"])
        self.image_session = session(folder / "image.onnx", op)
        self.text_session = session(folder / "text.onnx", op)

    def pixels(self, image: Any) -> np.ndarray:
        """CLIPImageProcessor's preprocessing of one PIL image: (3, height, width) float32."""
        from PIL import Image
        image = image.convert("RGB")
        w, h = image.size
        short = self.meta["shortest_edge"]
        # transformers' get_resize_output_image_size(default_to_square=False): the long edge scales with int()
        new = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        image = image.resize(new, resample=Image.BICUBIC)
        ch, cw = self.meta["crop"]
        top, left = (new[1] - ch) // 2, (new[0] - cw) // 2
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
    source = ClipSource(model)
    return load_once("clip", model, lambda: Clip(converted(source.key(), lambda dest: convert(source, dest, op)), op))
