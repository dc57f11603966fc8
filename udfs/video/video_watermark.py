"""video_watermark_filter -> ``video_watermark_prob``: watermark probability of each video, from sampled frames.

Data-Juicer samples frames (``all_keyframes`` by default, or ``frame_num``
``uniform`` ones), takes image_watermark_filter's classifier probability of the
watermark class for each and reduces them per video (``avg``, ``max``, ``min``); a
video without frames scores 0.0. A sample is kept when a video's (with
``any_or_all='all'``: every video's) probability is strictly below ``prob_threshold``.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, Positive, filter_op
from juicedb.udfs.common.image_model import score_videos
from juicedb.udfs.common.media import MediaBatch, any_all_keep
from juicedb.udfs.image.image_watermark import DEFAULT_MODEL, load_classifier, watermark_probs

KEEP = any_all_keep("{video_watermark_prob}", "v < {prob_threshold}")


@filter_op("video_watermark_filter", stat="video_watermark_prob", stat_type=pa.list_(pa.float64()), modality="video",
           inputs=("videos",), cost="gpu_model", requires=("transformers (once)", "onnxruntime", "av"), keep=KEEP,
           batch_rows=64, rule_params={"prob_threshold": 0.8, "any_or_all": "any"})
def video_watermark_prob(batch: MediaBatch, *, hf_watermark_model: str = DEFAULT_MODEL,
                         trust_remote_code: bool = False,
                         frame_sampling_method: Annotated[str, OneOf("all_keyframes", "uniform")] = "all_keyframes",
                         frame_num: Annotated[int, Positive()] = 3,
                         reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg") -> pa.Array:
    """Per video, the reduced watermark probability of its sampled frames (all frames of the batch scored together).

    >>> video_watermark_prob(MediaBatch([[], None])).to_pylist()
    [[], None]
    """
    def score(frames: list[Any]) -> np.ndarray:
        return watermark_probs(load_classifier(hf_watermark_model, trust_remote_code), frames)
    return score_videos(batch, score, frame_sampling_method, frame_num, reduce_mode)
