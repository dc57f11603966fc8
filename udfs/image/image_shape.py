"""image_shape_filter -> ``image_width``, ``image_height``: pixels of each image of a sample."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import SHAPE_RULE, MediaBatch, shape_keep

KEEP = shape_keep("image_width", "image_height")


@filter_op("image_shape_filter", stat={"image_width": pa.list_(pa.int64()), "image_height": pa.list_(pa.int64())},
           modality="image", inputs=("images",), requires=("Pillow",), keep=KEEP,
           rule_params=SHAPE_RULE)
def image_shape(batch: MediaBatch) -> dict[str, pa.Array]:
    """Width and height in pixels of each image (read from its header).

    >>> from tests.conftest import SHARED_DATA
    >>> out = image_shape(MediaBatch([[str(SHARED_DATA / "media" / "img2.jpg")], []]))
    >>> out["image_width"].to_pylist(), out["image_height"].to_pylist()
    ([[640], []], [[480], []])
    """
    return {"image_width": batch.per_item(lambda i: batch.image_size(i)[0], pa.int64()),
            "image_height": batch.per_item(lambda i: batch.image_size(i)[1], pa.int64())}
