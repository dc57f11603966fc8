"""text_length_filter -> ``text_len``."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from juicedb.registry import filter_op
from juicedb.udfs.common.text import TextBatch


@filter_op("text_length_filter", stat="text_len", stat_type=pa.int64(), cost="trivial",
           bounds={"min_len": ("min", 10), "max_len": ("max", None)}, threads=True)
def text_len(batch: TextBatch) -> pa.Array:
    """Number of Unicode code points.

    >>> text_len(TextBatch(["hi", "héllo", None])).to_pylist()
    [2, 5, None]
    """
    return pc.utf8_length(batch.array).cast(pa.int64())
