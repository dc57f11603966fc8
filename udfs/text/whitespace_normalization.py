"""whitespace_normalization_mapper."""

from __future__ import annotations

import re

import pyarrow as pa

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.chars import VARIOUS_WHITESPACES
from juicedb.udfs.common.text import TextBatch

_VARIOUS = re.compile("[" + "".join(sorted(VARIOUS_WHITESPACES)) + "]")


@mapper_op("whitespace_normalization_mapper", cost="cheap")
def whitespace_normalization(batch: TextBatch) -> pa.Array:
    """Strip both ends (``str.strip``), then turn every kind of Unicode space into ' '.

    >>> whitespace_normalization(TextBatch(["  a\\u2009b\\u3000c\\n"])).to_pylist()
    ['a b c']
    """
    return strings([_VARIOUS.sub(" ", s.strip()) if s is not None else None for s in batch.strings])
