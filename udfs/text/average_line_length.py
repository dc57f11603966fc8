"""average_line_length_filter -> ``avg_line_length``."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.lines import LineStats
from juicedb.udfs.common.text import TextBatch


@filter_op("average_line_length_filter", stat="avg_line_length", cost="cheap",
           bounds={"min_len": ("min", 10), "max_len": ("max", None)})
def avg_line_length(batch: TextBatch) -> pa.Array:
    """Data-Juicer's definition: ``len(text) / len(text.splitlines())``, 0.0 for a text without lines.

    The length counts every code point, line breaks included.

    >>> avg_line_length(TextBatch(["a=1\\nb\\nc=1+2+3+5\\nd=6", "", "\\n", None])).to_pylist()
    [4.75, 0.0, 1.0, None]
    """
    return batch.ratio(batch.lengths, LineStats.of(batch).counts)
