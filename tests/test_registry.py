"""The registry: declarations are validated at import time, parameters at compile time."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from juicedb.errors import ParamError, RegistryError, UnknownOperatorError
from juicedb.registry import filter_op, get_op, lookup_sql, unregister


def test_every_text_operator_of_the_issue_is_registered():
    names = {"text_length_filter", "alphanumeric_filter", "character_repetition_filter", "word_repetition_filter",
             "words_num_filter", "special_characters_filter", "stopwords_filter", "flagged_words_filter",
             "document_deduplicator", "whitespace_normalization_mapper", "punctuation_normalization_mapper",
             "fix_unicode_mapper", "clean_email_mapper", "clean_links_mapper"}
    for n in names:
        assert get_op(n).name == n


def test_stat_keys_resolve_to_their_operator():
    assert lookup_sql("char_rep_ratio")[0].name == "character_repetition_filter"
    assert lookup_sql("CLEAN_EMAIL") [0].name == "clean_email_mapper"
    assert lookup_sql("not_an_op") is None


def test_duplicate_operator_name_is_an_error():
    with pytest.raises(RegistryError, match="registered twice"):
        @filter_op("text_length_filter", stat="other_len")
        def other(batch):  # pragma: no cover - never called
            return batch


def test_duplicate_stat_key_is_an_error():
    with pytest.raises(RegistryError, match="already used by text_length_filter"):
        @filter_op("another_length_filter", stat="text_len")
        def another(batch):  # pragma: no cover - never called
            return batch
    assert lookup_sql("text_len")[0].name == "text_length_filter"


def test_unknown_operator_names_the_fix():
    with pytest.raises(UnknownOperatorError, match="juicedb ops"):
        get_op("nope_filter")


@pytest.mark.parametrize(("given", "message"), [
    ({"rep_len": 0}, "'rep_len' must be > 0, got 0"),
    ({"rep_len": "5"}, "'rep_len' expected int, got str '5'"),
    ({"rep_len": 2.5}, "'rep_len' expected int, got float 2.5"),
    ({"reps": 3}, "unknown parameter 'reps'; expected rep_len"),
], ids=["zero", "string", "fraction", "unknown"])
def test_bad_parameters_say_what_was_expected(given, message):
    with pytest.raises(ParamError, match=message.replace("(", r"\(").replace(")", r"\)")):
        get_op("character_repetition_filter").resolve_params(given)


def test_fingerprint_follows_params_and_word_file_content(tmp_path):
    spec = get_op("stopwords_filter")
    words = tmp_path / "w.json"
    words.write_text(json.dumps({"en": ["a"]}))
    fp1 = spec.fingerprint(spec.resolve_params({"words_file": str(words)}))
    assert fp1 != spec.fingerprint(spec.resolve_params({}))
    words.write_text(json.dumps({"en": ["a", "b"]}))
    assert spec.fingerprint(spec.resolve_params({"words_file": str(words)})) != fp1


def test_throwaway_operator_registers_and_unregisters():
    @filter_op("probe_len_filter", stat="probe_len", stat_type=pa.int64(), cost="model",
               bounds={"min_len": ("min", 1)})
    def probe_len(batch):
        return batch.from_list([len(s or "") for s in batch.strings], pa.int64())
    try:
        assert lookup_sql("probe_len")[0].cost == "model"
    finally:
        unregister("probe_len_filter")
    assert lookup_sql("probe_len") is None


def test_a_bound_can_name_which_stat_it_limits(con):
    @filter_op("probe_pair_filter", stat={"probe_label": pa.string(), "probe_score": pa.float64()}, cost="cheap",
               bounds={"min_score": ("min", 0.5, "probe_score")})
    def probe_pair(batch):
        return {"probe_label": pa.array(["x"] * len(batch), pa.string()),
                "probe_score": pa.array([len(s) / 10 for s in batch.strings], pa.float64())}
    try:
        from juicedb.engine.functions import register_functions
        register_functions(con)
        got = con.execute("SELECT probe_pair_filter(t) FROM unnest(['abcdefgh', 'ab']) u(t)").fetchall()
        assert got == [(True,), (False,)]
        with pytest.raises(RegistryError, match="bounds name stat"):
            filter_op("bad_bound_filter", stat="bad_x", bounds={"m": ("min", 1, "nope")})(lambda b: b)
    finally:
        unregister("probe_pair_filter")


def test_a_filter_with_its_own_keep_rule(con, ws, tmp_path):
    @filter_op("probe_edges_filter", stat="probe_edges", stat_type=pa.list_(pa.int64()), cost="cheap",
               keep="CASE WHEN {any_or_all} = 'any' THEN list_max({probe_edges}) >= {min_num} "
                    "ELSE len({probe_edges}) > 0 AND list_min({probe_edges}) >= {min_num} END",
               rule_params={"min_num": 1, "any_or_all": "all"})
    def probe_edges(batch):
        return pa.array([[len(w) - 3 for w in s.split()] for s in batch.strings], pa.list_(pa.int64()))
    try:
        from juicedb.engine.functions import register_functions
        from tests.conftest import write_jsonl
        register_functions(con)
        texts = ["long words here", "long a", ""]
        rows = con.execute("SELECT probe_edges_filter(t), probe_edges_filter(t, any_or_all := 'any') "
                           "FROM unnest(?) WITH ORDINALITY u(t, i) ORDER BY i", [texts]).fetchall()
        assert rows == [(True, True), (False, True), (False, None)]
        path = write_jsonl(tmp_path / "d.jsonl", texts)
        kept = ws.sql(f"SELECT text FROM dataset('{path}') WHERE probe_edges_filter(text, any_or_all := 'any')")
        assert kept.column("text").to_pylist() == ["long words here", "long a"]
    finally:
        unregister("probe_edges_filter")


def test_threads_follow_the_operator_and_its_params():
    from juicedb.registry import get_op, load_builtin_ops
    load_builtin_ops()
    kernel = get_op("character_repetition_filter")
    assert kernel.on_threads(kernel.resolve_params({}))
    mapper = get_op("clean_email_mapper")  # Python regexes: its batches go to processes
    assert not mapper.on_threads(mapper.resolve_params({}))
    minhash = get_op("document_minhash_deduplicator")
    assert minhash.on_threads(minhash.resolve_params({}))  # the Arrow-buffer kernel path
    assert not minhash.on_threads(minhash.resolve_params({"tokenization": "punctuation"}))
    assert not minhash.on_threads(minhash.resolve_params({"ignore_pattern": r"\p{P}"}))
