"""special_characters_filter -> ``special_char_ratio``."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import filter_op
from juicedb.udfs.common.text import TextBatch


@filter_op("special_characters_filter", stat="special_char_ratio", cost="cheap",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.25)}, threads=True)
def special_char_ratio(batch: TextBatch) -> pa.Array:
    """Characters in DJ's SPECIAL_CHARACTERS set (punctuation, digits, whitespace, emoji, ...) / length.

    >>> special_char_ratio(TextBatch(["Do you need a cup of coffee?"])).to_pylist()
    [0.25]
    """
    return batch.ratio(batch.char_classes[:, 1])
