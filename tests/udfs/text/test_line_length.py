"""average_line_length_filter and maximum_line_length_filter: Data-Juicer's unit tests and its definitions.

DJ's tests (tests/ops/filter/test_average_line_length_filter.py and
test_maximum_line_length_filter.py) keep the same two of six texts with
``min_len=10, max_len=20``; the stat values are DJ's formulas worked by hand:
``len(text) / len(text.splitlines())`` and ``max(map(len, text.splitlines()))``.
"""

from __future__ import annotations

import random

import pytest

from juicedb.udfs.common.lines import LineStats
from juicedb.udfs.common.text import TextBatch
from tests.conftest import write_jsonl

CJK_PUNCT = "，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►"
DJ_AVG_TEXTS = ["a=1\nb\nc=1+2+3+5\nd=6", "Today is Sund Sund Sunda and it's a happy day!\nYou know",
                "a v s e e f g a qkc", CJK_PUNCT, "Do you need a cup of coffee?", "emoji表情测试下😊，😸31231\n"]
DJ_MAX_TEXTS = [DJ_AVG_TEXTS[0], "Today is Sund Sund Sund Sunda and it's a happy day!\nYou know", *DJ_AVG_TEXTS[2:]]
DJ_KEPT = ["a v s e e f g a qkc", "emoji表情测试下😊，😸31231\n"]

CASES = [
    ("average", "average_line_length_filter", "avg_line_length", DJ_AVG_TEXTS, [4.75, 27.5, 19.0, 34.0, 28.0, 19.0]),
    ("maximum", "maximum_line_length_filter", "max_line_length", DJ_MAX_TEXTS, [9, 51, 19, 34, 28, 18]),
]


@pytest.mark.parametrize(("op", "texts"), [(c[1], c[3]) for c in CASES], ids=[c[0] for c in CASES])
def test_keeps_what_dj_keeps(ws, tmp_path, op, texts):
    path = write_jsonl(tmp_path / "in.jsonl", texts)
    kept = ws.sql(f"SELECT text FROM dataset('{path}') WHERE {op}(text, min_len := 10, max_len := 20)")
    assert kept.column("text").to_pylist() == DJ_KEPT


@pytest.mark.parametrize(("stat", "texts", "values"), [(c[2], c[3], c[4]) for c in CASES],
                         ids=[c[0] for c in CASES])
def test_stat_values(con, stat, texts, values):
    rows = con.execute(f"SELECT {stat}(t) FROM unnest(?) WITH ORDINALITY AS u(t, i) ORDER BY i", [texts]).fetchall()
    assert [r[0] for r in rows] == values


def test_default_bounds_are_djs(con):
    # min_len 10, no upper bound: a 9-character line is dropped, a very long one kept
    rows = con.execute("SELECT maximum_line_length_filter(t), average_line_length_filter(t) "
                       "FROM unnest(['123456789', repeat('x', 100000)]) WITH ORDINALITY AS u(t, i) ORDER BY i")
    assert rows.fetchall() == [(False, False), (True, True)]


def test_lines_cut_as_python_splitlines():
    pieces = ["a", "bc", " ", "\t", "😊", "\n", "\r", "\r\n", "\n\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
              "\u2028", "\u2029"]
    rng = random.Random(7)
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 10))) for _ in range(3000)] + ["", "\r", "\r\n"]
    stats = LineStats.of(TextBatch(texts))
    lines = [t.splitlines() for t in texts]
    assert stats.counts.tolist() == [len(ls) for ls in lines]
    assert stats.longest.tolist() == [max(map(len, ls), default=0) for ls in lines]
