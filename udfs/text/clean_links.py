"""clean_links_mapper."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import mapper_op
from juicedb.udfs.common.regex import regex_sub
from juicedb.udfs.common.text import TextBatch

# Data-Juicer's default pattern (URLs with a scheme, www., or domain/path).
LINK_PATTERN = (
    r"(?i)\b("
    r"(?:[a-z][\w-]+:(?:\/{1,3}|[a-z0-9%])|www\d{0,3}[.]|[a-z0-9.\-]+[.][a-z]{2,4}\/)"
    r"(?:[^\s()<>]+|\(([^\s()<>]+|(\([^\s()<>]+\)))*\))"
    r"+(?:\(([^\s()<>]+|(\([^\s()<>]+\)))*\)|[^\s`!()\[\]{};:'\".,<>?«»“”‘’])"
    r")"
)


@mapper_op("clean_links_mapper", cost="moderate")
def clean_links(batch: TextBatch, *, pattern: str | None = None, repl: str = "") -> pa.Array:
    """Replace links (http/ftp URLs, www. hosts, domain/paths; or ``pattern``) with ``repl``.

    >>> clean_links(TextBatch(["see https://example.com/a?b=1 now"])).to_pylist()
    ['see  now']
    """
    return regex_sub(batch, pattern or LINK_PATTERN, repl)
