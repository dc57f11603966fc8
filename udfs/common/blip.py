"""BLIP image-text matching (ITM) through ONNX Runtime, converted once from a transformers checkpoint.

``BlipForImageTextRetrieval`` (Data-Juicer's default ``Salesforce/blip-itm-base-coco``)
is exported as two graphs: the image tower (``vision_model``: pixels to its last
hidden states) and the matching graph (the BERT text encoder cross-attending to
those hidden states, the ITM head on the first token, ``softmax[:, 1]``). So an
image is encoded once however many texts it is matched with, and the images of
a batch are encoded together; only the (text, image) pairs run the matching graph.
The tokenizer is the one transformers loads for the checkpoint (BERT's), truncated
to ``max_position_embeddings`` as Data-Juicer asks; the image preprocessing is
``BlipImageProcessor``'s (``juicedb.udfs.common.hf_models``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.udfs.common.hf_models import HfSource, export, open_checkpoint, open_tokenizer, pixels, read_meta
from juicedb.udfs.common.media import media_pool
from juicedb.udfs.common.onnx import session

CONVERTER_VERSION = "1"
WHAT = "BLIP image-text matching"
IMAGE_RUN = 16  # images per run of the image tower; their hidden states stay only while their pairs are scored
PAIR_RUN = 32  # (text, image) pairs per run of the matching graph


def convert(source: HfSource, dest: Path, op: str) -> None:
    """Export ``source`` to ``dest``: image.onnx, itm.onnx, tokenizer.json, meta.json (written last)."""
    checkpoint = open_checkpoint(source.name, dest, op, WHAT, "BlipForImageTextRetrieval", "BlipImageProcessor")
    torch, model = checkpoint.torch, checkpoint.model
    side = model.config.vision_config.image_size
    meta = {"source": source.name, "operators": "image_text_matching_filter", "converter": CONVERTER_VERSION,
            "image": checkpoint.image, "pad_id": checkpoint.pad_id,
            # Data-Juicer: processor(..., truncation=True, max_length=text_config.max_position_embeddings)
            "max_length": model.config.text_config.max_position_embeddings}

    class ImageTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: Any) -> Any:
            return self.model.vision_model(pixel_values=pixel_values).last_hidden_state

    class Matching(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, image_embeds: Any) -> Any:
            image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
            out = self.model.text_encoder(input_ids=input_ids, attention_mask=attention_mask,
                                          encoder_hidden_states=image_embeds, encoder_attention_mask=image_atts)
            return self.model.itm_head(out.last_hidden_state[:, 0, :]).softmax(dim=-1)[:, 1]

    pixels_in = torch.zeros(2, 3, side, side)
    export(ImageTower(), (pixels_in,), dest / "image.onnx", ["pixel_values"], ["image_embeds"],
           {"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}})
    with torch.no_grad():
        embeds = model.vision_model(pixel_values=pixels_in).last_hidden_state
    ids = torch.ones(2, 5, dtype=torch.long)
    export(Matching(), (ids, torch.ones_like(ids), embeds), dest / "itm.onnx",
           ["input_ids", "attention_mask", "image_embeds"], ["match"],
           {"input_ids": {0: "pairs", 1: "tokens"}, "attention_mask": {0: "pairs", 1: "tokens"},
            "image_embeds": {0: "pairs"}, "match": {0: "pairs"}})
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


class BlipItm:
    """A converted BLIP ITM model: matching probabilities of (text, image) pairs, batched on ONNX Runtime."""

    def __init__(self, folder: Path, op: str) -> None:
        self.meta = read_meta(folder)
        self.tokenizer = open_tokenizer(folder, op, self.meta["max_length"])  # not padded: pairs are padded here
        self.image_session = session(folder / "image.onnx", op)
        self.itm_session = session(folder / "itm.onnx", op)

    def pixels(self, image: Any) -> np.ndarray:
        """BlipImageProcessor's preprocessing of one RGB PIL image: (3, height, width) float32."""
        return pixels(image, self.meta["image"])

    def scores(self, texts: list[str], items: list[Any], pairs: list[tuple[int, int]],
               load: Callable[[Any], Any]) -> np.ndarray:
        """ITM probability of each pair ``(text index, item index)``; ``load(item)`` gives its RGB PIL image.

        Images are decoded, preprocessed and encoded a run at a time on the media threads; each run's
        pairs are then matched in runs of similar text length (little padding).
        """
        out = np.zeros(len(pairs), dtype=np.float64)
        if not pairs:
            return out
        enc = self.tokenizer.encode_batch(texts)
        by_item: dict[int, list[int]] = {}
        for k, (_, i) in enumerate(pairs):
            by_item.setdefault(i, []).append(k)
        needed = sorted(by_item)
        pool = media_pool()
        for s in range(0, len(needed), IMAGE_RUN):
            run = needed[s:s + IMAGE_RUN]
            arrays = list(pool.map(lambda i: self.pixels(load(items[i])), run))
            embeds = self.image_session.run(None, {"pixel_values": np.stack(arrays)})[0]
            row = {i: r for r, i in enumerate(run)}
            todo = sorted((k for i in run for k in by_item[i]), key=lambda k: len(enc[pairs[k][0]].ids))
            for p in range(0, len(todo), PAIR_RUN):
                part = todo[p:p + PAIR_RUN]
                longest = max(len(enc[pairs[k][0]].ids) for k in part)
                ids = np.full((len(part), longest), self.meta["pad_id"], dtype=np.int64)
                mask = np.zeros((len(part), longest), dtype=np.int64)
                for r, k in enumerate(part):
                    t = enc[pairs[k][0]].ids
                    ids[r, :len(t)], mask[r, :len(t)] = t, 1
                feed = {"input_ids": ids, "attention_mask": mask,
                        "image_embeds": embeds[[row[pairs[k][1]] for k in part]]}
                out[part] = self.itm_session.run(None, feed)[0]
        return out


def load_blip_itm(model: str, op: str) -> BlipItm:
    """The BLIP ITM model named ``model``, converted on first use and loaded once per process."""
    source = HfSource("blip-itm", model, CONVERTER_VERSION)
    return source.load(lambda dest: convert(source, dest, op), lambda folder: BlipItm(folder, op))
