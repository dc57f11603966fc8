"""video_frames_text_similarity_filter -> ``video_frames_text_similarity``: CLIP similarity of text chunks and frames.

Data-Juicer's pairing: the text is cut on ``<|__dj__eoc|>``; a chunk holding k
``<__dj__video>`` tokens takes the sample's next k videos; the frames sampled from
them (``all_keyframes`` by default, or ``frame_num`` ``uniform`` ones), optionally
flipped, are all scored against the chunk's text (special tokens removed) and the
scores reduced together (``avg``, ``max``, ``min``). Chunks without videos are
skipped, so the stat has one value per chunk with videos (empty list: kept); a
chunk whose videos gave no frames is 0.0. DJ's score is CLIP's
``logits_per_text / 100``, the cosine similarity for the released CLIPs (their logit
scale is 100); here it is the cosine similarity itself, for any CLIP.

``model`` (DJ: ``hf_clip``; ``model`` as in image_text_similarity_filter) is a local
HuggingFace CLIP folder or a hub id (DJ's default ``openai/clip-vit-base-patch32``;
no CLIP weights ship in any package), converted once to ONNX
(``juicedb.udfs.common.clip``). A batch's frames are embedded together, each video's
once however many chunks or samples name it.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, Positive, filter_op
from juicedb.udfs.common.clip import load_clip
from juicedb.udfs.common.media import PairBatch, any_all_keep, flip
from juicedb.udfs.image.image_text_similarity import REDUCE, chunks

OP = "video_frames_text_similarity_filter"
VIDEO_TOKEN = "<__dj__video>"
KEEP = any_all_keep("{video_frames_text_similarity}", "v >= {min_score} AND v <= {max_score}")


@filter_op(OP, stat="video_frames_text_similarity", stat_type=pa.list_(pa.float64()), modality="multimodal",
           inputs=("text", "videos"), cost="gpu_model", requires=("transformers (once)", "onnxruntime", "av"),
           keep=KEEP, batch_rows=64, rule_params={"min_score": 0.1, "max_score": 1.0, "any_or_all": "any"})
def video_frames_text_similarity(batch: PairBatch, *, model: str = "openai/clip-vit-base-patch32",
                                 frame_sampling_method: Annotated[str, OneOf("all_keyframes", "uniform")]
                                 = "all_keyframes",
                                 frame_num: Annotated[int, Positive()] = 3,
                                 horizontal_flip: bool = False, vertical_flip: bool = False,
                                 reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg") -> pa.Array:
    """Per chunk with videos, the reduced cosine similarity of its text and its videos' sampled frames under CLIP."""
    # DJ: no videos, no chunks (an empty list); videos but none for a chunk's tokens: that chunk is 0.0
    per_sample = [None if t is None or m is None else chunks(t, m, VIDEO_TOKEN) if m else []
                  for t, m in zip(batch.text.strings, batch.media.lists)]
    videos = list(dict.fromkeys(v for cs in per_sample if cs for _, vs in cs for v in vs))
    frames = {v: batch.media.frames(v, frame_sampling_method, frame_num) for v in videos}
    flat = [flip(f, horizontal_flip, vertical_flip) for v in videos for f in frames[v]]
    frame_vecs: dict[Any, list[np.ndarray]] = {v: [] for v in videos}
    text_vec: dict[str, np.ndarray] = {}
    if flat:
        clip = load_clip(model, OP)
        embeds = iter(clip.image_embeds(flat))
        frame_vecs = {v: [next(embeds) for _ in frames[v]] for v in videos}
        texts = list(dict.fromkeys(t for cs in per_sample if cs for t, vs in cs if any(frames[v] for v in vs)))
        text_vec = dict(zip(texts, clip.text_embeds(texts)))
    reduce = REDUCE[reduce_mode]

    def score(text: str, vs: list[Any]) -> float:
        sims = [float(f @ text_vec[text]) for v in vs for f in frame_vecs[v]]
        return float(reduce(sims)) if sims else 0.0

    out = [None if cs is None else [score(t, vs) for t, vs in cs] for cs in per_sample]
    return pa.array(out, pa.list_(pa.float64()))
