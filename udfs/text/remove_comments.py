"""remove_comments_mapper."""

from __future__ import annotations

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ's patterns, unchanged. Note that ``[^\\]`` also matches a newline, so an
# inline match can start at the end of the previous line and take its '\n'.
_INLINE = re.compile(r"[^\\]%.+$", flags=re.MULTILINE)
_WHOLE_LINE = re.compile(r"(?m)^%.*\n?", flags=re.MULTILINE)


def _remove(text: str, inline: bool, multiline: bool) -> str:
    if inline:
        text = _INLINE.sub("", text)
    if multiline:
        text = _WHOLE_LINE.sub("", text)
    return text


@mapper_op("remove_comments_mapper", cost="moderate")
def remove_comments(batch: TextBatch, *, doc_type: str = "tex", inline: bool = True,
                    multiline: bool = True) -> pa.Array:
    r"""Remove TeX ``%`` comments: lines that start with ``%`` (``multiline``) and line ends (``inline``).

    ``doc_type`` is accepted for Data-Juicer compatibility; like DJ, only TeX
    comments are removed whatever its value. DJ's inline rule also takes the
    character before the ``%``.

    >>> remove_comments(TextBatch(["% header\n\\section{A} text % note\nmore", None])).to_pylist()
    ['\\section{A} text\nmore', None]
    """
    return strings([_remove(s, inline, multiline) if s is not None else None for s in batch.strings])
