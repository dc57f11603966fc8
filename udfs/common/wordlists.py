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

import numpy as np
import pyarrow as pa

from juicedb.arrays import numeric
from juicedb.errors import ParamError
from juicedb.udfs.common.hashing import string_hashes
from juicedb.udfs.common.text import TextBatch

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


def hash_set(values: np.ndarray) -> np.ndarray:
    """An open-addressing table of the distinct non-zero 64-bit ``values`` (0 marks an empty slot; a listed
    word hashing to 0 — odds 2**-64 — would not be found), at most a quarter full, for ``listed_counts``."""
    from juicedb.udfs.common.kernels import fill_set
    values = np.unique(values[values != 0])
    size = 16
    while size < 4 * len(values):
        size *= 2
    return fill_set(values, np.zeros(size, dtype=np.uint64))


@cache
def word_hashes(kind: str, lang: str, words_file: str | None = None) -> np.ndarray:
    """The list's words as a hash set of their ``string_hashes`` (see ``hash_set``)."""
    return hash_set(string_hashes(sorted(word_set(kind, lang, words_file))))


def words_ratio(batch: TextBatch, kind: str, lang: str, words_file: str | None) -> pa.Array:
    """Share of refined, lower-cased words in the list (0 for no words, capped at 1 as DJ does)."""
    from juicedb.udfs.common.kernels import listed_counts
    spans = batch.word_spans(lower=True)
    hits = listed_counts(spans.hashes, spans.bounds, word_hashes(kind, lang, words_file))
    ratio = np.minimum(batch.ratios(hits, spans.counts()), 1.0)
    return numeric(ratio, pa.float64(), null=~batch.valid)


def checker(kind: str):
    """A compile-time check that ``lang`` exists in the word list (default or ``words_file``)."""
    def check(params: dict) -> None:
        word_set(kind, params["lang"], params.get("words_file"))
    return check
