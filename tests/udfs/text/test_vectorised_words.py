"""The vectorised word kernels equal a plain transcription of Data-Juicer's per-word Python.

Random texts mix the characters where the two could part ways: separators, other
whitespace, special characters at word edges and inside words, letters whose
lower case changes special-ness (Г -> г, Ø -> ø), length-changing lower case
(İ), Greek final sigma, emoji, CJK.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from juicedb.registry import get_op
from juicedb.udfs.common.chars import SPECIAL_CHARACTERS
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.common.wordlists import word_set

ALPHABET = [*list("abcxyz AB  \n\t\r.,;!?-'\"()0123"), "Г", "г", "Ø", "ø", "İ", "Σ", "σ", "ς", "😊", "表", "情", "\xa0", "\u2009", "\u200b", "the", "is", "and", "of"]


def dj_words(text: str, lower: bool) -> list[str]:
    words = [w for w in text.replace("\n", " ").replace("\t", " ").split(" ") if w]
    if lower:
        words = [w.lower() for w in words]
    out = []
    for w in words:
        a, b = 0, len(w)
        while a < b and w[a] in SPECIAL_CHARACTERS:
            a += 1
        while b > a and w[b - 1] in SPECIAL_CHARACTERS:
            b -= 1
        if a < b:
            out.append(w[a:b])
    return out


def dj_word_rep(words: list[str], n: int) -> float:
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    freq = Counter(grams)
    return sum(f for f in freq.values() if f > 1) / len(grams)


def texts(seed: int, count: int = 1500) -> list[str]:
    rng = random.Random(seed)
    out = ["", " ", "\n\t", "x"]
    for _ in range(count):
        k = rng.choice([3, 10, 40, 200])
        out.append("".join(rng.choice(ALPHABET) for _ in range(k)))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_num_words_and_ratios_match_per_word_python(seed):
    data = texts(seed)
    batch = TextBatch(data)
    stop = word_set("stopwords", "en")
    got_n = get_op("words_num_filter").compute(batch, {})["num_words"].to_pylist()
    got_s = get_op("stopwords_filter").compute(batch, {"lang": "en", "words_file": None})["stopwords_ratio"]
    for n in (1, 2, 3, 10):
        got_r = get_op("word_repetition_filter").compute(batch, {"rep_len": n})["word_rep_ratio"].to_pylist()
        assert got_r == pytest.approx([dj_word_rep(dj_words(t, True), n) for t in data], abs=1e-12)
    assert got_n == [len(dj_words(t, False)) for t in data]
    want_s = []
    for t in data:
        ws = dj_words(t, True)
        want_s.append(min(1.0, sum(w in stop for w in ws) / len(ws)) if ws else 0.0)
    assert got_s.to_pylist() == pytest.approx(want_s, abs=1e-12)


def test_words_spans_equal_the_regex_reference():
    data = texts(7, 500)
    batch = TextBatch(data)
    for lower in (False, True):
        assert batch.refined_words(lower) == [dj_words(t, lower) for t in data]


def test_code_points_decoded_from_a_sliced_array_with_nulls():
    import numpy as np
    import pyarrow as pa
    data = ["skip me", "héllo wörld", None, "", "表情😊 x", None, "\x00a\U0010ffff", "last"]
    arr = pa.array(data, pa.string()).slice(1, 6)  # an offset into shared buffers, nulls inside
    batch = TextBatch(arr)
    want = [t or "" for t in data[1:7]]
    assert batch.lengths.tolist() == [len(t) for t in want]
    assert batch.codepoints.tolist() == [ord(c) for c in "".join(want)]
    assert np.array_equal(batch.count_chars(np.ones(0x110000, dtype=bool)), batch.lengths)
    # counted straight from the UTF-8 bytes (no code points decoded yet) = counted over the code points
    from juicedb.udfs.common.chars import alnum_lut, special_lut
    for lut in (alnum_lut(), special_lut()):
        fresh = TextBatch(arr)
        direct = fresh.count_chars(lut)
        assert "codepoints" not in fresh.__dict__
        assert direct.tolist() == [sum(bool(lut[ord(c)]) for c in t) for t in want]
        assert np.array_equal(batch.count_chars(lut), direct)
    # both classes in one pass (digits are both), from the bytes and from decoded code points alike
    want = np.column_stack([TextBatch(arr).count_chars(alnum_lut()), TextBatch(arr).count_chars(special_lut())])
    assert np.array_equal(TextBatch(arr).char_classes, want) and np.array_equal(batch.char_classes, want)
    assert TextBatch(["a1!"]).char_classes.tolist() == [[2, 2]]
    assert get_op("words_num_filter").compute(batch, {})["num_words"].to_pylist() == [2, None, 0, 2, None, 1]


def test_lookup_tables_equal_python_per_code_point():
    import numpy as np

    from juicedb.udfs.common.chars import MAX_CODE_POINT, alnum_lut, lower_lut
    chars = [chr(c) for c in range(MAX_CODE_POINT)]
    assert np.array_equal(alnum_lut(), np.fromiter((c.isalnum() for c in chars), dtype=bool, count=MAX_CODE_POINT))
    case, irregular = lower_lut()
    lowered = [c.lower() for c in chars]
    assert np.flatnonzero(irregular).tolist() == [0x130, 0x3A3]  # İ -> i̇ (two code points), Σ (final sigma)
    ok = ~irregular
    assert np.array_equal(case[ok], np.array([ord(x) if len(x) == 1 else 0 for x in lowered], dtype=np.uint32)[ok])


def test_lowered_words_splice_the_irregular_texts_back_in_order():
    # texts whose lower() needs Python (İ, Σ) between plain ones: every text keeps its own words
    data = ["The A", "İSTANBUL and ΟΔΟΣ.", None, "plain words here", "ΣΑΣ", "x"]
    batch = TextBatch(data)
    got = batch.word_spans(lower=True)
    ref = TextBatch([t.lower() if t else t for t in data]).word_spans(lower=False)
    assert got.bounds.tolist() == ref.bounds.tolist()
    assert got.doc.tolist() == ref.doc.tolist()
    assert got.hashes.tolist() == ref.hashes.tolist()


def test_code_point_tables_are_kept_on_disk_and_rebuilt_when_unreadable(tmp_path, monkeypatch):
    import numpy as np

    from juicedb.udfs.common import chars
    monkeypatch.setenv(chars.TABLE_CACHE_ENV, str(tmp_path))
    builds = []

    def build():
        builds.append(1)
        return np.arange(chars.MAX_CODE_POINT, dtype=np.uint32) % 7

    first = chars._stored("test", build)
    [path] = tmp_path.iterdir()
    assert np.array_equal(chars._stored("test", build), first) and len(builds) == 1  # read back, not built
    path.write_bytes(b"not a table")
    assert np.array_equal(chars._stored("test", build), first) and len(builds) == 2  # rebuilt, rewritten
    assert np.array_equal(np.load(path), first)
