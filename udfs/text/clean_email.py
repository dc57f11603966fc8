"""clean_email_mapper."""

from __future__ import annotations

import pyarrow as pa

from juicedb.registry import mapper_op
from juicedb.udfs.common.regex import regex_sub
from juicedb.udfs.common.text import TextBatch

EMAIL_PATTERN = r"[A-Za-z0-9.\-+_]+@[a-z0-9.\-+_]+\.[a-z]+"


@mapper_op("clean_email_mapper", cost="moderate")
def clean_email(batch: TextBatch, *, pattern: str | None = None, repl: str = "") -> pa.Array:
    """Replace e-mail addresses (or ``pattern``) with ``repl``.

    >>> clean_email(TextBatch(["mail me: a.b@example.com!"])).to_pylist()
    ['mail me: !']
    """
    return regex_sub(batch, pattern or EMAIL_PATTERN, repl)
