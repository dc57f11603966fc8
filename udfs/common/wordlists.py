"""Word lists in Data-Juicer's ``{lang: [words]}`` JSON shape.

The packaged defaults are the BigScience-ROOTS stop-word and flagged-word lists
that Data-Juicer downloads at run time (see ``udfs/assets/NOTICE``). A user may
pass any file of the same shape. ``lang='all'`` merges every language, as DJ does.

>>> "the" in word_set("stopwords", "en")
True
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from juicedb.errors import ParamError

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@cache
def _load(path: str) -> dict[str, frozenset[str]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ParamError(f"words_file {path!r}: expected a JSON file shaped {{lang: [words]}}, "
                         f"could not read it: {e}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ParamError(f"words_file {path!r}: expected a JSON object {{lang: [words]}}, "
                         f"got {type(data).__name__}")
    sets = {lang: frozenset(map(str, words)) for lang, words in data.items()}
    if "all" not in sets:
        sets["all"] = frozenset().union(*sets.values())
    return sets


def word_set(kind: str, lang: str, words_file: str | None = None) -> frozenset[str]:
    """The words of ``lang`` from ``words_file`` or the packaged ``<kind>.json``."""
    path = str(words_file or ASSETS / f"{kind}.json")
    sets = _load(path)
    if lang not in sets:
        raise ParamError(f"lang {lang!r} is not in {Path(path).name}; it has: {', '.join(sorted(sets))}")
    return sets[lang]


def words_ratio(refined: list[list[str]], words: frozenset[str]) -> list[float]:
    """Share of refined words found in ``words`` (0 for no words, capped at 1 as DJ does)."""
    return [min(1.0, sum(w in words for w in ws) / len(ws)) if ws else 0.0 for ws in refined]


def checker(kind: str):
    """A compile-time check that ``lang`` exists in the word list (default or ``words_file``)."""
    def check(params: dict) -> None:
        word_set(kind, params["lang"], params.get("words_file"))
    return check
