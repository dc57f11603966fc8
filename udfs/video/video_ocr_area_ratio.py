"""video_ocr_area_ratio_filter -> ``video_ocr_area_ratio``: share of a video's frames covered by detected text.

Data-Juicer samples ``frame_sample_num`` frames uniformly (1: the middle one; 2:
the first and the last; more: evenly from the first to the last), detects text in
each with EasyOCR's detector (CRAFT), sums the areas of the detected boxes (axis
rectangles and free-form quadrilaterals, overlaps counted twice) over the frame's
width x height, and averages the frames: one value per video, in the sample's order.

The detector here is PP-OCRv4's (DB, Chinese and Latin script), the model file
``rapidocr-onnxruntime`` ships, with RapidOCR's own pre- and post-processing and
defaults (``juicedb.udfs.common.ocr``): the same definition of the stat, another
detector, so ratios differ from DJ's (DJ's tests: video1 about 0.067, video2 0.288,
video3 0.075; here 0.05, 0.21, 0.06). DJ's ``languages_to_detect`` picks EasyOCR
language models; this detector has one model for both scripts, so it has no such
parameter. A video without frames is NaN (DJ's mean of nothing), which no range keeps.
All frames of a batch are detected together on ONNX Runtime (CUDA when onnxruntime-gpu
sees a GPU).
"""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa

from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep
from juicedb.udfs.common.ocr import load_detector, quad_area

OP = "video_ocr_area_ratio_filter"
KEEP = any_all_keep("{video_ocr_area_ratio}", "v >= {min_area_ratio} AND v <= {max_area_ratio}")


@filter_op(OP, stat="video_ocr_area_ratio", stat_type=pa.list_(pa.float64()), modality="video", inputs=("videos",),
           cost="gpu_model", requires=("rapidocr-onnxruntime (--no-deps)", "pyclipper", "opencv-python-headless", "av"),
           keep=KEEP, batch_rows=64, rule_params={"min_area_ratio": 0.0, "max_area_ratio": 1.0, "any_or_all": "any"})
def video_ocr_area_ratio(batch: MediaBatch, *, frame_sample_num: Annotated[int, Positive()] = 3) -> pa.Array:
    """Per video, the detected text area over the frame area, averaged over ``frame_sample_num`` uniform frames.

    >>> from tests.conftest import SHARED_DATA
    >>> video = str(SHARED_DATA / "media" / "video2.mp4")  # a caption bar and a printed T-shirt
    >>> out = video_ocr_area_ratio(MediaBatch([[video], []]), frame_sample_num=1).to_pylist()
    >>> [[round(r, 2) for r in v] for v in out]
    [[0.22], []]
    """
    videos = list(dict.fromkeys(v for items in batch.lists if items for v in items))
    frames = {v: batch.frames(v, "uniform", frame_sample_num) for v in videos}
    flat = [f for v in videos for f in frames[v]]
    boxes = iter(load_detector(OP).boxes(flat) if flat else [])
    ratio = {}
    for v in videos:
        per_frame = [quad_area(next(boxes)) / (f.width * f.height) for f in frames[v]]
        ratio[v] = sum(per_frame) / len(per_frame) if per_frame else float("nan")
    return batch.per_item(ratio.__getitem__, pa.float64())
