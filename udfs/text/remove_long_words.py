"""remove_long_words_mapper."""

from __future__ import annotations

import sys

import pyarrow as pa

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.common.word_filter import keep_words, strip_special


@mapper_op("remove_long_words_mapper", cost="moderate")
def remove_long_words(batch: TextBatch, *, min_len: int = 1, max_len: int = sys.maxsize) -> pa.Array:
    """Keep the words whose length is within ``[min_len, max_len]``, or is once special characters are stripped.

    Words are split on ' ', '\\t' and '\\n' and joined back as Data-Juicer does
    (runs of separators and blank lines collapse). Only a too-long word is
    stripped of special characters (punctuation, digits, emoji...) and tested again.

    >>> remove_long_words(TextBatch(["a tiny pneumonoultramicroscopic word.", None]),
    ...                   min_len=3, max_len=15).to_pylist()
    ['tiny word.', None]
    """
    def keep(word: str) -> bool:
        n = len(word)
        if min_len <= n <= max_len:
            return True
        return n > max_len and min_len <= len(strip_special(word)) <= max_len

    # every word of a text fits when the bounds span 1..len(text) (DJ's defaults): skip the per-word test
    return strings([keep_words(s, None if min_len <= 1 and max_len >= len(s) else keep) if s is not None else None
                    for s in batch.strings])
