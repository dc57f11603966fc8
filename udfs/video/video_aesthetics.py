"""video_aesthetics_filter -> ``video_frames_aesthetics_score``: aesthetics of each video, from sampled frames.

Data-Juicer samples frames (``uniform`` with ``frame_num`` 3 by default, or
``all_keyframes``), scores each with image_aesthetics_filter's predictor (divided
by 10 for the released predictors) and reduces the scores per video (``avg``,
``max``, ``min``); a video without frames scores 0.0. The predictor, its
conversion and its preprocessing are image_aesthetics_filter's.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, Positive, filter_op
from juicedb.udfs.common.image_model import score_videos
from juicedb.udfs.common.media import MediaBatch, any_all_keep
from juicedb.udfs.image.image_aesthetics import DEFAULT_MODEL, aesthetics, load_predictor

KEEP = any_all_keep("{video_frames_aesthetics_score}", "v >= {min_score} AND v <= {max_score}")


@filter_op("video_aesthetics_filter", stat="video_frames_aesthetics_score", stat_type=pa.list_(pa.float64()),
           modality="video", inputs=("videos",), cost="gpu_model",
           requires=("transformers (once)", "onnxruntime", "av"), keep=KEEP, batch_rows=64,
           rule_params={"min_score": 0.4, "max_score": 1.0, "any_or_all": "any"})
def video_frames_aesthetics_score(batch: MediaBatch, *, hf_scorer_model: str = DEFAULT_MODEL,
                                  trust_remote_code: bool = False,
                                  frame_sampling_method: Annotated[str, OneOf("all_keyframes", "uniform")] = "uniform",
                                  frame_num: Annotated[int, Positive()] = 3,
                                  reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg") -> pa.Array:
    """Per video, the reduced aesthetics score of its sampled frames (all frames of the batch scored together).

    >>> video_frames_aesthetics_score(MediaBatch([[], None])).to_pylist()
    [[], None]
    """
    def score(frames: list[Any]) -> np.ndarray:
        return aesthetics(load_predictor(hf_scorer_model, trust_remote_code), frames)
    return score_videos(batch, score, frame_sampling_method, frame_num, reduce_mode)
