"""image_text_similarity_filter -> ``image_text_similarity``: CLIP similarity of each text chunk and its images.

Data-Juicer's pairing: the text is cut on ``<|__dj__eoc|>``; a chunk holding k
``<__dj__image>`` tokens takes the sample's next k images; its text (special
tokens removed) is scored against each of them and the scores reduced (``avg``,
``max``, ``min``); chunks without images are skipped, so the stat has one value
per chunk with images (empty list: kept). DJ's score is CLIP's
``logits_per_text / 100``, the cosine similarity for the released CLIPs (their
logit scale is 100); here it is the cosine similarity itself, for any CLIP.

``model`` is a local HuggingFace CLIP folder or a hub id (DJ's default
``openai/clip-vit-base-patch32``; no CLIP weights ship in any package), converted
once to ONNX (``juicedb.udfs.common.clip``).
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa

from juicedb.registry import OneOf, filter_op
from juicedb.udfs.common.clip import load_clip
from juicedb.udfs.common.image_model import REDUCE
from juicedb.udfs.common.media import PairBatch, any_all_keep, load_rgb, media_pool
from juicedb.udfs.common.spacy_model import remove_special_tokens

OP = "image_text_similarity_filter"
IMAGE_TOKEN, EOC = "<__dj__image>", "<|__dj__eoc|>"
KEEP = any_all_keep("{image_text_similarity}", "v >= {min_score} AND v <= {max_score}")


def chunks(text: str, items: list[Any], token: str = IMAGE_TOKEN) -> list[tuple[str, list[Any]]]:
    """DJ's chunks: (text without special tokens, the items its ``token``s take), chunks with items only.

    >>> text = "<__dj__image> a cat <|__dj__eoc|> no image <|__dj__eoc|><__dj__image><__dj__image> two"
    >>> chunks(text, ["a", "b", "c"])
    [('a cat', ['a']), ('two', ['b', 'c'])]
    >>> chunks("<__dj__video> a cat <|__dj__eoc|><__dj__image> two", ["a.mp4", "b.mp4"], "<__dj__video>")
    [('a cat', ['a.mp4'])]
    """
    out, offset = [], 0
    for chunk in text.split(EOC):
        count = chunk.count(token)
        if count == 0 or not chunk:
            continue
        out.append((remove_special_tokens(chunk), items[offset:offset + count]))
        offset += count
    return out


@filter_op(OP, stat="image_text_similarity", stat_type=pa.list_(pa.float64()), modality="multimodal",
           inputs=("text", "images"), cost="gpu_model", requires=("transformers (once)", "onnxruntime"), keep=KEEP,
           batch_rows=256, rule_params={"min_score": 0.1, "max_score": 1.0, "any_or_all": "any"})
def image_text_similarity(batch: PairBatch, *, model: str = "openai/clip-vit-base-patch32",
                          reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg",
                          horizontal_flip: bool = False, vertical_flip: bool = False) -> pa.Array:
    """Per chunk with images, the reduced cosine similarity of its text and its images under CLIP."""
    per_sample = [None if t is None or m is None else chunks(t, m)
                  for t, m in zip(batch.text.strings, batch.media.lists)]
    items = list(dict.fromkeys(i for cs in per_sample if cs for _, imgs in cs for i in imgs))
    texts = list(dict.fromkeys(t for cs in per_sample if cs for t, _ in cs))
    if not items:
        return pa.array([None if cs is None else [] for cs in per_sample], pa.list_(pa.float64()))
    clip = load_clip(model, OP)
    loaded = list(media_pool().map(lambda i: load_rgb(i, horizontal_flip, vertical_flip), items))
    image_vec = dict(zip(items, clip.image_embeds(loaded)))
    text_vec = dict(zip(texts, clip.text_embeds(texts)))
    reduce = REDUCE[reduce_mode]
    out = [None if cs is None else [float(reduce([float(image_vec[i] @ text_vec[t]) for i in imgs])) for t, imgs in cs]
           for cs in per_sample]
    return pa.array(out, pa.list_(pa.float64()))
