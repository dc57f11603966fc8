"""Character sets with Data-Juicer's exact membership.

``SPECIAL_CHARACTERS`` reproduces Data-Juicer's set (data_juicer/ops/common/
special_characters.py, Apache-2.0, itself from the BigScience text-data-filtering
space): ``string.punctuation + string.digits + string.whitespace``, a fixed list
of 191 extra characters (written as escapes below because many are invisible),
and every key of ``emoji.EMOJI_DATA``. DJ tests membership one code point at a
time, so only single-code-point emoji can ever match. Conformance depends on
the emoji release: Data-Juicer 1.6.1 runs with ``emoji==2.2.0``, which we pin.

>>> "7" in SPECIAL_CHARACTERS, "a" in SPECIAL_CHARACTERS, "\u2009" in SPECIAL_CHARACTERS
(True, False, True)
"""

from __future__ import annotations

import hashlib
import os
import re
import string
import sys
import threading
import unicodedata
from collections.abc import Callable
from functools import cache
from pathlib import Path

import emoji
import numpy as np

OTHER_SPECIAL_CHARACTERS = (
    "\u0092\u2009\u0093\u0097\u200a\u009d\u0099\u202f\u0096\u2005\u0095\u0091\u009c\u3000\u2002\u0020"
    "\u2008\u0098\u0081\u2003\u0082\ufffc\u0083\u0084\u2019\u201c\u201d\u2013\u30fc\u4e00\u25ac\u2026"
    "\u2726\ufffd\u00ad\u00a3\u200b\u2022\u20ac\u00ab\u00bb\u00b0\u00b7\u2550\u00d7\u58eb\uff3e\u02d8"
    "\u21d3\u2193\u2191\u2190\u2192\uff08\uff09\u00a7\u2033\u2032\u00b4\u00bf\u2212\u00b1\u2208\ufeff"
    "\u00a2\u00f8\u201a\u201e\u00bd\u00bc\u00be\u00b9\u00b2\u00b3\u2015\u2043\uff0c\u02cc\u00b8\u2039"
    "\u203a\u02ba\u02c8\u02bb\u00a6\u2010\u2800\u2030\u0085\u0085\u2011\u2264\u2265\u2016\u25c6\u25cf"
    "\u25a0\u25ba\u25bc\u25b2\u25b4\u2206\u25bb\u00a1\u2605\u2606\u2731\u02d0\u00ba\u3002\u00af\u02dc"
    "\u00a5\u026a\u2248\u2020\u4e0a\u30f3\uff1a\u223c\u2044\u30fb\u2661\u2713\u2295\u2024\uff0e\u22c5"
    "\u00f7\uff11\u201f\uff1b\u060c\u3001\u00a8\u093e\u09be\u0940\u094d\u0947\u25e6\u02da\u309c\u02bc"
    "\u2256\u02bc\u00a4\u30c3\u30c4\u30b7\u2103\u221a\uff01\u3010\u3011\u203f\u221e\u27a4\uff5e\u03c0"
    "\u0647\u06e9\u261b\u20a8\u27a9\u263b\u0e51\u066a\u2665\u0131\u097d\u300a\u2018\u00a9\ufd3f\u066c"
    "\uff1f\u25b7\u0413\u266b\u221f\u2122\u00aa\u20aa\u00ae\u300c\u2014\u2756\u300d\ufd3e\u300b"
)

SPECIAL_CHARACTERS: frozenset[str] = frozenset(
    set(string.punctuation + string.digits + string.whitespace + OTHER_SPECIAL_CHARACTERS)
    | set(emoji.EMOJI_DATA)
)

# Code points DJ's whitespace_normalization_mapper turns into a plain space.
VARIOUS_WHITESPACES: frozenset[str] = frozenset(
    chr(c) for c in (0x20, 0x09, 0xA0, 0x84, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007,
                     0x2008, 0x2009, 0x200A, 0x200B, 0x200C, 0x200D, 0x202F, 0x205F, 0x2060, 0x3000, 0xFFFC)
)

MAX_CODE_POINT = 0x110000


def _single_code_points(chars: frozenset[str]) -> list[int]:
    return sorted(ord(c) for c in chars if len(c) == 1)


@cache
def special_lut() -> np.ndarray:
    """Boolean lookup table over all code points: is it a special character?"""
    lut = np.zeros(MAX_CODE_POINT, dtype=bool)
    lut[_single_code_points(SPECIAL_CHARACTERS)] = True
    return lut


TABLE_CACHE_ENV = "JUICEDB_TABLE_CACHE"
_building = threading.Lock()  # operator threads ask for a table at once: one builds it, the others wait


def _table_dir() -> Path:
    """Where built tables are kept: ``$JUICEDB_TABLE_CACHE``, else ``~/.cache/juicedb/tables``."""
    env = os.environ.get(TABLE_CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "juicedb" / "tables"


def _stored(name: str, build: Callable[[], np.ndarray]) -> np.ndarray:
    """A table over all code points, built once per Python, Unicode and emoji version (and version of this
    file) and kept on disk (building one from Python's string methods costs ~0.1-0.3 s in every process);
    built in memory when the folder cannot be written, rebuilt when its file cannot be read."""
    source = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:10]  # a changed recipe: a new table
    key = (f"{name}-py{sys.version_info[0]}.{sys.version_info[1]}-ucd{unicodedata.unidata_version}"
           f"-emoji{emoji.__version__}-{source}.npy")
    path = _table_dir() / key
    with _building:
        try:
            table = np.load(path, allow_pickle=False)
            if table.shape[0] == MAX_CODE_POINT:
                return table
        except (OSError, ValueError):
            pass
        table = build()
        tmp = path.with_name(f"{key}.{os.getpid()}.tmp.npy")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(tmp, table, allow_pickle=False)
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)
        return table


def _every_code_point(sep: str = "") -> str:
    """Every code point but U+0000 (the separator), in order."""
    return sep.join(map(chr, range(1, MAX_CODE_POINT)))


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@cache
def alnum_lut() -> np.ndarray:
    """Boolean lookup table: Python's ``str.isalnum()`` for every code point (``re``'s Unicode ``\\w`` is
    exactly isalnum() or '_', so one substitution over all code points marks them)."""
    def build() -> np.ndarray:
        marked = _code_points(re.sub(r"[^\W_]", "\0", _every_code_point())) == 0
        return np.concatenate(([False], marked))
    return _stored("isalnum", build)


@cache
def char_classes() -> np.ndarray:
    """One uint8 per code point: bit 0 ``str.isalnum()``, bit 1 DJ's special characters."""
    return alnum_lut().view(np.uint8) | (special_lut().view(np.uint8) << 1)


@cache
def lower_lut() -> tuple[np.ndarray, np.ndarray]:
    """Python's ``str.lower()`` one code point at a time, as a table, and the code points where a text's
    ``lower()`` is not that map: one that lowers to several code points (U+0130) and capital sigma, whose
    lower case depends on its neighbours (final sigma)."""
    def build() -> np.ndarray:  # two columns: the table, and 1 where irregular
        lowered = ["\0", *_every_code_point("\0").lower().split("\0")]
        single = np.fromiter((len(x) == 1 for x in lowered), dtype=bool, count=MAX_CODE_POINT)
        lut = np.arange(MAX_CODE_POINT, dtype=np.uint32)
        lut[single] = _code_points("".join(x for x in lowered if len(x) == 1))
        irregular = ~single
        irregular[0x3A3] = True
        return np.stack([lut, irregular.astype(np.uint32)], axis=1)
    both = _stored("lower", build)
    return np.ascontiguousarray(both[:, 0]), both[:, 1].astype(bool)


def char_class(code_points: list[int]) -> str:
    """A regex character class body (ranges) matching exactly ``code_points``."""
    parts: list[str] = []
    start = prev = None
    for cp in code_points:
        if prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            parts.append(_range(start, prev))
        start = prev = cp
    if start is not None:
        parts.append(_range(start, prev))
    return "".join(parts)


def _range(a: int, b: int) -> str:
    return re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"


@cache
def refined_word_pattern() -> re.Pattern[str]:
    """One regex that yields DJ's refined words of a whole document.

    DJ splits on ' ', '\\n', '\\t', then strips special characters from both
    ends of each word and drops empty words. Special characters include those
    three separators, so a refined word is: a non-special character, then
    greedily anything but a separator, backtracking to end on a non-special one.
    """
    s = char_class(_single_code_points(SPECIAL_CHARACTERS))
    return re.compile(f"[^{s}](?:[^ \\n\\t]*[^{s}])?")
