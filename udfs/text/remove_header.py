"""remove_header_mapper."""

from __future__ import annotations

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ's pattern, unchanged: everything before the first sectioning command.
_HEADER = re.compile(
    r"^(.*?)("
    + "|".join(rf"\\\b{cmd}\b\*?(?:\[(.*?)\])?\{{(.*?)\}}"
               for cmd in ("chapter", "part", "section", "subsection", "subsubsection", "paragraph", "subparagraph"))
    + r")",
    flags=re.DOTALL,
)


def _remove(text: str, drop_no_head: bool) -> str:
    # DJ searches, then substitutes: one subn does both (``^`` anchors a single match)
    out, found = _HEADER.subn(r"\2", text)
    if not found:
        return "" if drop_no_head else text
    return out


@mapper_op("remove_header_mapper", cost="moderate")
def remove_header(batch: TextBatch, *, drop_no_head: bool = True) -> pa.Array:
    r"""Drop what precedes the first LaTeX ``\chapter``/``\part``/``\section``/... ``\subparagraph`` command.

    A text without one becomes '' when ``drop_no_head`` (DJ's default), else stays.

    >>> remove_header(TextBatch(["\\title{T}\n\\section{Intro} Hi", "no header", None])).to_pylist()
    ['\\section{Intro} Hi', '', None]
    """
    return strings([_remove(s, drop_no_head) if s is not None else None for s in batch.strings])
