"""words_num_filter -> ``num_words``."""

from __future__ import annotations

import pyarrow as pa

from juicedb.arrays import numeric
from juicedb.registry import filter_op
from juicedb.udfs.common.text import TextBatch


@filter_op("words_num_filter", stat="num_words", stat_type=pa.int64(), cost="moderate",
           bounds={"min_num": ("min", 10), "max_num": ("max", None)}, threads=True)
def num_words(batch: TextBatch) -> pa.Array:
    """Number of refined words (split on space/newline/tab, special characters stripped, not lower-cased).

    >>> num_words(TextBatch(["Today is Sun day -- 42 !", ""])).to_pylist()
    [4, 0]
    """
    return numeric(batch.word_counts, pa.int64(), null=~batch.valid)
