"""Regex replacement with Data-Juicer's conventions for user patterns.

Data-Juicer runs these patterns with the ``regex`` package, not ``re``: its
Unicode tables and ``\\b``/``\\w``/``\\s`` rules differ, so we use it too.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.errors import ParamError
from juicedb.udfs.common.text import TextBatch


@cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a user pattern; DJ also accepts it wrapped as ``r'...'`` or ``r"..."``."""
    if len(pattern) > 2 and pattern[:2] in ("r'", 'r"') and pattern[-1] == pattern[1]:
        pattern = pattern[2:-1]
    try:
        return re.compile(pattern, flags=re.DOTALL)
    except re.error as e:
        raise ParamError(f"pattern {pattern!r} is not a valid regular expression: {e}") from None


def regex_sub(batch: TextBatch, pattern: str, repl: str) -> pa.Array:
    rx = compile_pattern(pattern)
    return strings([rx.sub(repl, s) if s is not None else None for s in batch.strings])
