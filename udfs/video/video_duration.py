"""video_duration_filter -> ``video_duration``: seconds of each video of a sample, rounded."""

from __future__ import annotations

import sys

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep

KEEP = any_all_keep("{video_duration}", "v >= {min_duration} AND v <= {max_duration}")


@filter_op("video_duration_filter", stat="video_duration", stat_type=pa.list_(pa.int64()), modality="video",
           inputs=("videos",), requires=("av",), keep=KEEP,
           rule_params={"min_duration": 0, "max_duration": sys.maxsize, "any_or_all": "any"})
def video_duration(batch: MediaBatch) -> pa.Array:
    """Duration of each video in whole seconds (DJ: the first video stream's, rounded).

    >>> from tests.conftest import SHARED_DATA
    >>> m = SHARED_DATA / "media"
    >>> video_duration(MediaBatch([[str(m / "video1.mp4"), str(m / "video3.mp4")], []])).to_pylist()
    [[12, 50], []]
    """
    return batch.per_item(lambda i: batch.video_info(i)[0], pa.int64())
