"""video_aspect_ratio_filter -> ``video_aspect_ratios``: width / height of each video of a sample.

Data-Juicer's bounds are fractions (``min_ratio='9/21'``); here they are numbers
(``min_ratio := 9/21`` is evaluated by SQL to the same value).
"""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep

KEEP = any_all_keep("{video_aspect_ratios}", "v >= {min_ratio} AND v <= {max_ratio}")


@filter_op("video_aspect_ratio_filter", stat="video_aspect_ratios", stat_type=pa.list_(pa.float64()),
           modality="video", inputs=("videos",), requires=("av",), keep=KEEP,
           rule_params={"min_ratio": 9 / 21, "max_ratio": 21 / 9, "any_or_all": "any"})
def video_aspect_ratios(batch: MediaBatch) -> pa.Array:
    """Width / height of each video's first stream.

    >>> from tests.conftest import SHARED_DATA
    >>> m = SHARED_DATA / "media"
    >>> video_aspect_ratios(MediaBatch([[str(m / "video1.mp4"), str(m / "video2.mp4")]])).to_pylist()
    [[1.7777777777777777, 0.75]]
    """
    def ratio(item: str | bytes) -> float:
        _, w, h = batch.video_info(item)
        return w / h
    return batch.per_item(ratio, pa.float64())
