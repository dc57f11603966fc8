"""image_aspect_ratio_filter -> ``aspect_ratios``: width / height of each image of a sample."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep

KEEP = any_all_keep("{aspect_ratios}", "v >= {min_ratio} AND v <= {max_ratio}")


@filter_op("image_aspect_ratio_filter", stat="aspect_ratios", stat_type=pa.list_(pa.float64()), modality="image",
           inputs=("images",), requires=("Pillow",), keep=KEEP,
           rule_params={"min_ratio": 0.333, "max_ratio": 3.0, "any_or_all": "any"})
def aspect_ratios(batch: MediaBatch) -> pa.Array:
    """Width / height of each image (read from its header).

    >>> from tests.conftest import SHARED_DATA
    >>> m = str(SHARED_DATA / "media")
    >>> aspect_ratios(MediaBatch([[m + "/img1.png", m + "/img2.jpg"], [m + "/img3.jpg"], []])).to_pylist()
    [[1.0, 1.3333333333333333], [0.684], []]
    """
    def ratio(item: str | bytes) -> float:
        w, h = batch.image_size(item)
        return w / h
    return batch.per_item(ratio, pa.float64())
