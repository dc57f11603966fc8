"""video_resolution_filter -> ``video_width``, ``video_height``: pixels of each video of a sample."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import SHAPE_RULE, MediaBatch, shape_keep

KEEP = shape_keep("video_width", "video_height")


@filter_op("video_resolution_filter", stat={"video_width": pa.list_(pa.int64()), "video_height": pa.list_(pa.int64())},
           modality="video", inputs=("videos",), requires=("av",), keep=KEEP,
           rule_params=SHAPE_RULE)
def video_resolution(batch: MediaBatch) -> dict[str, pa.Array]:
    """Width and height of each video's first stream (its codec context, as DJ reads them).

    >>> from tests.conftest import SHARED_DATA
    >>> out = video_resolution(MediaBatch([[str(SHARED_DATA / "media" / "video2.mp4")]]))
    >>> out["video_width"].to_pylist(), out["video_height"].to_pylist()
    ([[480]], [[640]])
    """
    return {"video_width": batch.per_item(lambda i: batch.video_info(i)[1], pa.int64()),
            "video_height": batch.per_item(lambda i: batch.video_info(i)[2], pa.int64())}
