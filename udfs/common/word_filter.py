"""Keep or drop whole words of a text the way Data-Juicer's word mappers do.

DJ's ``split_on_newline_tab_whitespace`` splits a text on '\\n', then each
line on '\\t', then each part on ' ' (dropping empty words);
``merge_on_whitespace_tab_newline`` joins the kept words back with the same
separators, dropping parts and lines that end up empty. So runs of separators
collapse, and blank lines disappear, even where no word was removed.

>>> keep_words("a bb  ccc\\n\\n\\tdddd x", lambda w: len(w) > 1)
'bb ccc\\ndddd'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from juicedb.udfs.common.chars import SPECIAL_CHARACTERS, char_class


def keep_words(text: str, keep: Callable[[str], bool] | None) -> str:
    """The text with only the words for which ``keep`` holds (all words if None), re-joined as DJ does."""
    lines = []
    for line in text.split("\n"):
        parts = []
        for part in line.split("\t"):
            words = [w for w in part.split(" ") if w and (keep is None or keep(w))]
            if words:
                parts.append(" ".join(words))
        if parts:
            lines.append("\t".join(parts))
    return "\n".join(lines)


@cache
def _core_pattern() -> re.Pattern[str]:
    s = char_class(sorted(ord(c) for c in SPECIAL_CHARACTERS if len(c) == 1))
    return re.compile(f"[^{s}](?:.*[^{s}])?", flags=re.DOTALL)


def strip_special(word: str) -> str:
    """DJ's ``strip(word, SPECIAL_CHARACTERS)``: special characters off both ends, one code point at a time.

    >>> strip_special("«(hello, world!)»"), strip_special("...")
    ('hello, world', '')
    """
    if not word or (word[0] not in SPECIAL_CHARACTERS and word[-1] not in SPECIAL_CHARACTERS):
        return word
    m = _core_pattern().search(word)
    return m.group() if m else ""


__all__ = ["keep_words", "strip_special"]
