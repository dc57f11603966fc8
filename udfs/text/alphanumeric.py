"""alphanumeric_filter -> ``alnum_ratio``."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.text import TextBatch


@filter_op("alphanumeric_filter", stat="alnum_ratio", cost="cheap",
           bounds={"min_ratio": ("min", 0.25), "max_ratio": ("max", None)}, threads=True)
def alnum_ratio(batch: TextBatch) -> pa.Array:
    """Characters for which ``str.isalnum()`` holds, divided by the length.

    >>> alnum_ratio(TextBatch(["a1!?", "", "中文。"])).to_pylist()
    [0.5, 0.0, 0.6666666666666666]
    """
    return batch.ratio(batch.char_classes[:, 0])
