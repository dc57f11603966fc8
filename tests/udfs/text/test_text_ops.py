"""Text operators on edge cases and real non-English text; word-list options."""

from __future__ import annotations

import json

import pytest

from juicedb.errors import ParamError
from tests.conftest import SHARED_DATA


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchall()[0][0]


@pytest.mark.parametrize(("expr", "expected"), [
    ("text_len('')", 0),
    ("alnum_ratio('')", 0.0),
    ("special_char_ratio('')", 0.0),
    ("char_rep_ratio('')", 0.0),
    ("word_rep_ratio('')", 0.0),
    ("num_words('')", 0),
    ("stopwords_ratio('')", 0.0),
    ("flagged_words_ratio('   ')", 0.0),
    ("text_len(NULL)", None),
    ("num_words(NULL)", None),
    ("text_len('日本語のテキスト')", 8),
    ("num_words('Привет, мир! Как дела?')", 4),
    ("alnum_ratio('中文。')", 2 / 3),
    ("stopwords_ratio('le chat est sur la table', lang := 'fr')", 4 / 6),
    ("stopwords_ratio('el gato', lang := 'all')", 0.5),
    ("clean_links('voir www.example.fr/page et http://a.b/c?d=1.')", "voir  et ."),
    ("whitespace_normalization(' a\u3000b ')", "a b"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_edge_and_multilingual(con, expr, expected):
    got = one(con, f"SELECT {expr}")
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_words_file_in_dj_shape(con, tmp_path):
    words = tmp_path / "my_stopwords.json"
    words.write_text(json.dumps({"en": ["cat", "mat"], "xx": ["zz"]}))
    assert one(con, f"SELECT stopwords_ratio('The cat is on the mat', words_file := '{words}')") == pytest.approx(2 / 6)
    assert one(con, f"SELECT stopwords_ratio('zz top', lang := 'xx', words_file := '{words}')") == 0.5


def test_shared_wordlists_equal_the_packaged_defaults():
    from juicedb.udfs.common.wordlists import ASSETS
    for name in ("stopwords.json", "flagged_words.json"):
        shared = SHARED_DATA / "wordlists" / name
        if shared.exists():
            assert json.loads(shared.read_text()) == json.loads((ASSETS / name).read_text())


def test_unknown_language_lists_the_available_ones(con):
    with pytest.raises(Exception, match=r"stopwords_filter: lang .xx. is not in stopwords\.json; it has: all, ar"):
        one(con, "SELECT stopwords_ratio('a b', lang := 'xx')")


def test_bad_words_file_is_a_clear_error():
    from juicedb.udfs.common.wordlists import word_set
    with pytest.raises(ParamError, match="expected a JSON file"):
        word_set("stopwords", "en", "/nonexistent/words.json")


def _dj_char_rep(text: str, n: int) -> float:
    """Data-Juicer's character_repetition_filter stat, as DJ writes it (dict of n-gram counts, sorted)."""
    from collections import Counter
    from math import isqrt
    freqs = sorted(Counter(text[i:i + n] for i in range(len(text) - n + 1)).values(), reverse=True)
    if not freqs:
        return 0.0
    k = min(isqrt(len(freqs)), len(freqs) - sum(f == 1 for f in freqs))
    return sum(freqs[:k]) / sum(freqs) if k > 0 else 0.0


@pytest.mark.parametrize("rep_len", [1, 2, 3, 4, 10, 25])
def test_char_rep_ratio_equals_dj_on_real_multilingual_text(rep_len):
    """The compiled per-text hash count against DJ's own definition on real documents (Data-Juicer's demo
    datasets: English, Chinese, code, repeated boilerplate), a long repetitive text and edge cases."""
    from juicedb.udfs.common.text import TextBatch
    from juicedb.udfs.text.character_repetition import char_rep_ratio
    texts = [json.loads(line)["text"] for name in ("demo-dataset.jsonl", "demo-dataset-deduplication.jsonl")
             for line in (SHARED_DATA / "dj_demos" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += ["", "a", "ab" * 5000 + "xyz", "日本語のテキスト" * 40 + "😀" * 30, " " * 50, "abcdefghijklmnopqrstuvwxyz" * 3]
    got = char_rep_ratio(TextBatch([*texts, None]), rep_len=rep_len).to_pylist()
    assert got[:-1] == [_dj_char_rep(t, rep_len) for t in texts] and got[-1] is None
    assert len(texts) > 20 and sum(v > 0 for v in got[:-1]) > 3


def _demo_texts() -> list[str]:
    texts = [json.loads(line)["text"] for name in ("demo-dataset.jsonl", "demo-dataset-deduplication.jsonl")
             for line in (SHARED_DATA / "dj_demos" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [*texts, "", "  \t\n ", "... --- !!!", "the the the the the the. The THE the!", "a b a b a b a b c",
            "İstanbul ΣΊΣΥΦΟΣ straße " * 5, "word\tword\nword word,word (word) 'word'",
            "To be, or not to be: that is the question. " * 12]


@pytest.mark.parametrize("rep_len", [1, 2, 3, 5, 10])
def test_word_ops_equal_dj_definitions_on_real_text(rep_len):
    """The compiled word spans (num_words, word lists) and per-text n-gram counts (word_rep_ratio) against DJ's
    definitions written out over DJ's refined words (regex), on real multilingual text and edge cases."""
    from collections import Counter

    from juicedb.udfs.common.text import TextBatch
    from juicedb.udfs.common.wordlists import word_set
    from juicedb.udfs.text.stopwords import stopwords_ratio
    from juicedb.udfs.text.word_repetition import word_rep_ratio
    from juicedb.udfs.text.words_num import num_words
    texts = _demo_texts()
    ref = TextBatch(texts)
    lower, plain = ref.refined_words(lower=True), ref.refined_words(lower=False)
    want_rep = []
    for words in lower:
        grams = Counter(" ".join(words[i:i + rep_len]) for i in range(len(words) - rep_len + 1))
        total = sum(grams.values())
        want_rep.append(sum(f for f in grams.values() if f > 1) / total if total else 0.0)
    stop = word_set("stopwords", "en")
    want_stop = [min(sum(w in stop for w in ws) / len(ws), 1.0) if ws else 0.0 for ws in lower]
    assert word_rep_ratio(TextBatch(texts), rep_len=rep_len).to_pylist() == want_rep
    assert num_words(TextBatch(texts)).to_pylist() == [len(ws) for ws in plain]
    assert stopwords_ratio(TextBatch(texts), lang="en").to_pylist() == pytest.approx(want_stop, abs=1e-15)
    assert sum(v > 0 for v in want_rep) >= 2 and sum(v > 0 for v in want_stop) > 10


def test_long_texts_are_counted_by_sorting_with_the_same_results():
    """Texts over the hash table's limit are counted by sorting a copy: the same ratios (here with a limit of
    20 n-grams, so most real texts take that path)."""
    import numpy as np

    from juicedb.udfs.common.hashing import BASE, SEQ
    from juicedb.udfs.common.kernels import char_top_k_shares, repeated_ngram_shares
    from juicedb.udfs.common.text import TextBatch
    batch = TextBatch(_demo_texts())
    for n in (1, 3, 10):
        hashed = char_top_k_shares(batch.codepoints, batch.offsets, n, BASE, np.zeros(len(batch)))
        assert np.array_equal(char_top_k_shares(batch.codepoints, batch.offsets, n, BASE, np.zeros(len(batch)), 20),
                              hashed)
        assert (hashed > 0).sum() >= 2
        words = batch.word_spans(lower=True)
        hashed = repeated_ngram_shares(words.hashes, words.bounds, n, SEQ, np.zeros(len(batch)))
        assert np.array_equal(repeated_ngram_shares(words.hashes, words.bounds, n, SEQ, np.zeros(len(batch)), 20),
                              hashed)
        assert (hashed > 0).sum() >= 2


def test_a_10_mb_text_through_the_repetition_and_word_filters_stays_bounded(tmp_path):
    """One 10 MB text (sorted, not hashed: over the table's limit) next to short ones, in a fresh process."""
    import subprocess
    import sys
    code = (
        "import resource, numpy as np\n"
        "from juicedb.udfs.common.text import TextBatch\n"
        "from juicedb.udfs.text.character_repetition import char_rep_ratio\n"
        "from juicedb.udfs.text.word_repetition import word_rep_ratio\n"
        "from juicedb.udfs.text.words_num import num_words\n"
        "texts = [' '.join(f'w{i % 5000}' for i in range(1_800_000)), 'a b c d e f', 'x']\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "b = TextBatch(texts)\n"
        "c, w, n = char_rep_ratio(b).to_pylist(), word_rep_ratio(b).to_pylist(), num_words(b).to_pylist()\n"
        "grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024\n"
        "import json; print(json.dumps([c, w, n, grown]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    c, w, n, grown = json.loads(out.stdout)
    # 5,000 distinct words cycling: every word 10-gram repeats; a few char 10-grams dominate far less
    assert w == [1.0, 0.0, 0.0] and n == [1_800_000, 6, 1] and 0 < c[0] < 0.1 and c[1:] == [0.0, 0.0]
    assert grown < 1000  # ~250 MB here (the hash table alone would take ~1 GB)
