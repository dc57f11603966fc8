"""maximum_line_length_filter -> ``max_line_length``."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.lines import LineStats
from juicedb.udfs.common.text import TextBatch


@filter_op("maximum_line_length_filter", stat="max_line_length", stat_type=pa.int64(), cost="cheap",
           bounds={"min_len": ("min", 10), "max_len": ("max", None)})
def max_line_length(batch: TextBatch) -> pa.Array:
    """Data-Juicer's definition: the longest of ``text.splitlines()`` in code points, 0 without lines.

    >>> max_line_length(TextBatch(["a=1\\nb\\nc=1+2+3+5\\nd=6", "x\\r\\nyz\\u2028", "", None])).to_pylist()
    [9, 2, 0, None]
    """
    return pa.array(LineStats.of(batch).longest, pa.int64(), mask=~batch.valid)
