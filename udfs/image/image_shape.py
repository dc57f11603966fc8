"""image_shape_filter -> ``image_width``, ``image_height``: pixels of each image of a sample."""

from __future__ import annotations

import sys

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.media import MediaBatch

# DJ's rule: an image passes when both its width and its height are within bounds; any/all over the
# images; a sample without images is kept
_PASS = ("list_transform(list_zip({image_width}, {image_height}), lambda s: s[1] >= {min_width} "
         "AND s[1] <= {max_width} AND s[2] >= {min_height} AND s[2] <= {max_height})")
KEEP = (f"(len({{image_width}}) = 0 OR CASE WHEN {{any_or_all}} = 'any' THEN list_bool_or({_PASS}) "
        f"ELSE list_bool_and({_PASS}) END)")


@filter_op("image_shape_filter", stat={"image_width": pa.list_(pa.int64()), "image_height": pa.list_(pa.int64())},
           modality="image", inputs=("images",), requires=("Pillow",), keep=KEEP,
           rule_params={"min_width": 1, "max_width": sys.maxsize, "min_height": 1, "max_height": sys.maxsize,
                        "any_or_all": "any"})
def image_shape(batch: MediaBatch) -> dict[str, pa.Array]:
    """Width and height in pixels of each image (read from its header).

    >>> from tests.conftest import SHARED_DATA
    >>> out = image_shape(MediaBatch([[str(SHARED_DATA / "media" / "img2.jpg")], []]))
    >>> out["image_width"].to_pylist(), out["image_height"].to_pylist()
    ([[640], []], [[480], []])
    """
    return {"image_width": batch.per_item(lambda i: batch.image_size(i)[0], pa.int64()),
            "image_height": batch.per_item(lambda i: batch.image_size(i)[1], pa.int64())}
