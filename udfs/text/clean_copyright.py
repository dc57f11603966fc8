"""clean_copyright_mapper."""

from __future__ import annotations

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ (from RedPajama): the first C-style block comment of the text...
_BLOCK_COMMENT = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/")
_COPYRIGHT = re.compile("copyright", re.IGNORECASE)
# ...else the leading lines that are empty or start with '//', '#' or '--'
# (DJ walks ``text.split('\n')``, so a last line without '\n' counts too).
_HEADER_LINES = re.compile(r"(?:(?://|#|--)[^\n]*\n|\n)*(?:(?://|#|--)[^\n]*\Z)?")


def _clean(text: str) -> str:
    block = _BLOCK_COMMENT.search(text)
    if block:
        if _COPYRIGHT.search(block.group()):
            return text[: block.start()] + text[block.end():]
        return text
    return text[_HEADER_LINES.match(text).end():]


@mapper_op("clean_copyright_mapper", cost="moderate")
def clean_copyright(batch: TextBatch) -> pa.Array:
    """Drop the first ``/* ... */`` comment if it mentions "copyright"; without one, drop leading comment lines.

    A text without any block comment loses its leading lines that are empty or
    start with ``//``, ``#`` or ``--`` (DJ's greedy header rule).

    >>> clean_copyright(TextBatch(["/* Copyright 2024 X */int main;", "# license\\n\\nimport os", None])).to_pylist()
    ['int main;', 'import os', None]
    """
    return strings([_clean(s) if s is not None else None for s in batch.strings])
