"""remove_words_with_incorrect_substrings_mapper."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import pyarrow as pa

from juicedb.arrays import strings
from juicedb.registry import Constraint, mapper_op
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.common.word_filter import keep_words, strip_special

DEFAULT_SUBSTRINGS = ("http", "www", ".com", "href", "//")


@dataclass(frozen=True)
class JsonStringList(Constraint):
    """The value is a JSON array of strings (SQL parameters are scalars)."""

    def check(self, value: Any) -> str | None:
        try:
            items = json.loads(value)
        except ValueError:
            items = None
        if isinstance(items, list) and all(isinstance(i, str) for i in items):
            return None
        return """must be a JSON array of strings, e.g. '["http", "www"]'"""


@dataclass(frozen=True)
class NoTokenizer(Constraint):
    def check(self, value: Any) -> str | None:
        return None if value is False else ("True needs DJ's sentencepiece model, which juicedb does not ship; "
                                            "use tokenization := false (words split on spaces, tabs, newlines)")


@mapper_op("remove_words_with_incorrect_substrings_mapper", cost="moderate")
def remove_words_with_incorrect_substrings(
        batch: TextBatch, *, lang: str = "en", tokenization: Annotated[bool, NoTokenizer()] = False,
        substrings: Annotated[str | None, JsonStringList()] = None) -> pa.Array:
    """Drop the words that, stripped of special characters, contain one of ``substrings``.

    ``substrings`` is a JSON array (DJ's list); by default
    ``["http", "www", ".com", "href", "//"]``. Words are split on ' ', '\\t' and
    '\\n' and joined back as Data-Juicer does (runs of separators collapse).
    ``lang`` only matters to DJ's tokenized mode, which is not supported.

    >>> remove_words_with_incorrect_substrings(TextBatch(["see https://x.com now", None])).to_pylist()
    ['see now', None]
    >>> remove_words_with_incorrect_substrings(TextBatch(["an ad: buy"]), substrings='["ad"]').to_pylist()
    ['an buy']
    """
    subs = json.loads(substrings) if substrings is not None else DEFAULT_SUBSTRINGS
    if not subs:  # DJ: all([]) keeps every word
        return strings([keep_words(s, None) if s is not None else None for s in batch.strings])
    contains = re.compile("|".join(map(re.escape, subs))).search

    def keep(word: str) -> bool:
        # stripping only shortens a word: a substring absent from the word is absent after it
        return not contains(word) or not contains(strip_special(word))

    # a text without any of the substrings keeps all its words (but is still re-joined)
    return strings([keep_words(s, keep if contains(s) else None) if s is not None else None
                    for s in batch.strings])
