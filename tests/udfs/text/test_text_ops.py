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
