"""Data-Juicer configs as recipe SQL: settings, operators and arguments checked before any data is read."""

from __future__ import annotations

import math

import pytest

from juicedb.dj import translate
from juicedb.errors import ConfigError, MissingOperatorsError, ParamError, UnknownOperatorError
from tests.conftest import SHARED_DATA

RECIPES = SHARED_DATA / "dj_recipes"
NOWHERE = "/nonexistent/in.jsonl"  # translating never opens the dataset


def cfg(*process: object, **settings: object) -> dict:
    return {"dataset_path": NOWHERE, "export_path": "/out/res.jsonl", "process": list(process), **settings}


def test_demo_process_config_becomes_a_filter_on_lang_and_score():
    r = translate(RECIPES / "demo__process.yaml", overrides={"dataset_path": NOWHERE, "export_path": "/o/x.jsonl"})
    assert [(s.op, s.role) for s in r.steps] == [("language_id_score_filter", "filter")]
    assert "WHERE (language_id_score_filter(text, min_score := 0.8) AND lang(text) = 'zh');" in r.sql
    assert "FROM dataset('/nonexistent/in.jsonl')" in r.sql
    assert "TO '/o/x.jsonl' (FORMAT json);" in r.sql and "TO '/o/x_stats.jsonl' (FORMAT json);" in r.sql
    assert r.np == 4 and r.tracer is None and r.stats_path == "/o/x_stats.jsonl"


def test_relative_paths_are_relative_to_the_working_directory_as_in_dj(tmp_path):
    r = translate(cfg(dataset_path="data/in.jsonl", export_path="out/res.parquet"), cwd=tmp_path)
    assert r.dataset_path == str(tmp_path / "data" / "in.jsonl")
    assert r.export_path == str(tmp_path / "out" / "res.parquet")


def test_mappers_before_filters_map_every_row_and_later_ones_nest():
    r = translate(cfg({"clean_email_mapper": None}, {"text_length_filter": {"min_len": 5}},
                      {"whitespace_normalization_mapper": None}, {"words_num_filter": {"min_num": 2}}))
    assert "WITH mapped AS (\n    SELECT * REPLACE (clean_email(text) AS text)" in r.sql
    assert "SELECT * REPLACE (whitespace_normalization(text) AS text)" in r.sql
    assert "WHERE text_length_filter(text, min_len := 5)\n  AND words_num_filter(whitespace_normalization(text), " \
           "min_num := 2)" in r.sql
    assert "num_words := num_words(whitespace_normalization(text))" in r.sql


def test_redpajama_c4_lists_what_it_skips_and_why():
    r = translate(RECIPES / "data_juicer_recipes__redpajama-c4-refine.yaml", skip_missing=True,
                  skip=["perplexity_filter"], overrides={"dataset_path": NOWHERE})
    assert [(s.index, s.op, s.reason.split(" ")[0]) for s in r.skipped] == [
        (11, "perplexity_filter", "skipped"), (13, "words_num_filter", "tokenization=True"),
        (14, "word_repetition_filter", "tokenization=True")]
    assert r.tracer is not None and r.tracer.work_dir == "/path/to/your"  # DJ: the export's folder
    assert "document_simhash_deduplicator(text, tokenization := 'space', window_size := 6" in r.sql


def test_operators_juicedb_lacks_are_listed_together_before_any_data_is_read():
    with pytest.raises(MissingOperatorsError) as e:
        translate(RECIPES / "data_juicer_recipes__redpajama-book-refine.yaml", overrides={"dataset_path": NOWHERE})
    assert [m[:2] for m in e.value.missing] == [(9, "flagged_words_filter"), (14, "words_num_filter"),
                                                (15, "word_repetition_filter")]
    assert "--skip-missing" in str(e.value)


def test_an_operator_dj_has_and_juicedb_lacks_is_skippable():
    r = translate(cfg({"clean_ip_mapper": None}, {"text_length_filter": None}), skip_missing=True)
    assert [(s.op, s.reason) for s in r.skipped] == [("clean_ip_mapper", "not in juicedb")]


@pytest.mark.parametrize(("process", "error", "message"), [
    ([{"text_lenght_filter": {"min_len": 5}}], UnknownOperatorError,
     "process step 1: unknown operator 'text_lenght_filter'; did you mean text_length_filter, "),
    ([{"text_length_filter": {"max_lenn": 5}}], ParamError,
     "process step 1 (text_length_filter): unknown argument 'max_lenn'; did you mean max_len, min_len?"),
    ([{"character_repetition_filter": {"rep_len": 0}}], ParamError,
     "process step 1 (character_repetition_filter): parameter 'rep_len' must be > 0, got 0"),
    ([{"text_length_filter": {"min_len": "ten"}}], ParamError,
     "process step 1 (text_length_filter): min_len expected a number, got 'ten'"),
    (["text_length_filter", {"alphanumeric_filter": {"min_ratio": 0.1}, "extra": None}], ConfigError,
     "process step 2: expected one {operator: {arguments}}"),
], ids=["operator typo", "argument typo", "bad value", "not a number", "two operators in one step"])
def test_bad_operators_and_arguments_name_the_step_and_the_nearest_name(process, error, message):
    with pytest.raises(error) as e:
        translate(cfg(*process), skip_missing=True)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize(("settings", "message"), [
    ({"export_pth": "x.jsonl"}, "unknown setting 'export_pth' (did you mean export_path, export_type?)"),
    ({"export_path": "/o/x.csv"}, "export_path: juicedb writes jsonl, json, parquet as Data-Juicer does; got 'csv'"),
    ({"image_key": "imgs"}, "image_key: juicedb reads media from the 'images' field, got 'imgs'"),
    ({"text_keys": "text.instruction"}, "text_keys: expected a top-level field name"),
    ({"dataset_path": ""}, "dataset_path is not set"),
    ({"custom_operator_paths": ["my_ops/"]}, "custom_operator_paths: expected [], got ['my_ops/']"),
], ids=["typo", "export type", "media key", "nested text key", "no dataset", "custom operators"])
def test_bad_settings_are_config_errors(settings, message):
    with pytest.raises(ConfigError) as e:
        translate(cfg({"text_length_filter": None}, **settings))
    assert message in str(e.value)


def test_a_sandbox_pipeline_is_not_a_process_config():
    with pytest.raises(ConfigError, match=r"a Data-Juicer sandbox pipeline config \(evaluation_job_configs, .*probe_job"):
        translate(RECIPES / "demo__sandbox__sandbox.yaml")


def test_settings_without_effect_are_noted():
    r = translate(cfg({"text_length_filter": None}, op_fusion=True, executor_type="ray", use_cache=True))
    assert r.notes == ["op_fusion=True: juicedb always orders predicates by cost and fuses neighbours (its plan, "
                       "`juicedb explain`)", "executor_type='ray': juicedb runs on this machine (DuckDB)"]


def test_dj_argument_forms():
    r = translate(cfg(
        {"video_aspect_ratio_filter": {"min_ratio": "9/21", "max_ratio": "21/9"}},
        {"language_id_score_filter": {"lang": ["en", "fr"], "min_score": 0.5}},
        {"text_length_filter": {"max_len": math.inf}},
        {"image_text_similarity_filter": {"hf_clip": "/models/clip", "min_score": 0.2, "mem_required": "1GB"}},
        {"alphanumeric_filter": {"tokenization": False, "batch_size": 100}},
        {"remove_words_with_incorrect_substrings_mapper": {"substrings": ["http", "www"]}},
        {"words_num_filter": {"lang": "zh", "min_closed_interval": False}}))
    sql = r.sql
    assert "min_ratio := 0.42857142857142855, max_ratio := 2.3333333333333335" in sql  # DJ reads fractions
    assert "(language_id_score_filter(text, min_score := 0.5) AND lang(text) IN ('en', 'fr'))" in sql
    assert "text_length_filter(text)" in sql  # an infinite bound is no bound
    assert """words_num_filter(remove_words_with_incorrect_substrings(text, substrings := '["http", "www"]'), """ \
        "min_closed_interval := false)" in sql  # list arguments travel as JSON text
    assert "image_text_similarity_filter(text, images, model := '/models/clip', min_score := 0.2)" in sql
    assert "alphanumeric_filter(text)" in sql


def test_custom_special_tokens_reach_image_text_operators_as_djs_defaults():
    r = translate(cfg({"text_length_filter": None}, {"image_text_similarity_filter": {"hf_clip": "/m"}},
                      image_special_token="<image>", eoc_special_token="[EOC]"))
    assert "text_length_filter(text)" in r.sql  # text operators see the text as it is
    assert ("image_text_similarity_filter(replace(replace(text, '<image>', '<__dj__image>'), '[EOC]', "
            "'<|__dj__eoc|>'), images, model := '/m')") in r.sql


def test_a_repeated_filter_reads_the_first_ones_stat_as_dj_does():
    r = translate(cfg({"character_repetition_filter": {"rep_len": 5}}, {"clean_email_mapper": None},
                      {"character_repetition_filter": {"rep_len": 3, "max_ratio": 0.2}}))
    assert "AND character_repetition_filter(text, rep_len := 5, max_ratio := 0.2)" in r.sql
    assert r.notes == ["step 3 character_repetition_filter: reuses the stats of step 1, as Data-Juicer does (it "
                       "never recomputes a stat); its own input or parameters are not used"]


def test_every_operator_juicedb_has_takes_every_argument_of_djs_config_all():
    r = translate(RECIPES / "config_all.yaml", skip_missing=True, overrides={"dataset_path": NOWHERE})
    ran = [s.op for s in r.steps if s.role != "skipped"]
    assert len(r.steps) == 155 and len(ran) == 56
    assert {"average_line_length_filter", "maximum_line_length_filter", "random_selector"} <= set(ran)
    assert {s.reason for s in r.skipped} == {"not in juicedb"}


def test_keep_stats_and_parquet_export():
    r = translate(cfg({"text_length_filter": None}, export_path="/o/res.parquet", keep_stats_in_res_ds=True))
    assert "COPY (SELECT * EXCLUDE (uid) FROM dj_config) TO '/o/res.parquet' (FORMAT parquet);" in r.sql
    assert "TO '/o/res_stats.jsonl' (FORMAT json)" in r.sql
    r = translate(cfg({"clean_email_mapper": None}, export_path="/o/res.json"))
    assert "COPY (SELECT * EXCLUDE (uid) FROM dj_config) TO '/o/res.json' (FORMAT json, ARRAY true);" in r.sql
    assert r.stats_path is None and "_stats.jsonl" not in r.sql  # no filter, no stats: DJ writes no side file
