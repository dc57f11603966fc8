"""Data-Juicer's own recipe files, run unchanged on its demo data (paths given as DJ's command line would).

The recipes are in ../shared/data/dj_recipes, the data in ../shared/data/dj_demos and
recipes/data. Operators juicedb lacks, and those whose models are not on this machine
(CLIP, BLIP) or too slow for a unit test (perplexity), are skipped, as a user would.
"""

from __future__ import annotations

import json
import shutil

import pytest

import juicedb
from juicedb import dj
from tests.conftest import ROOT, SHARED_DATA

RECIPES = SHARED_DATA / "dj_recipes"
DEMOS = SHARED_DATA / "dj_demos"


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def run(ws, tmp_path, recipe: str, data, **kwargs) -> dj.DjRun:
    overrides = {"dataset_path": str(data), "export_path": str(tmp_path / "out" / "result.jsonl"),
                 **kwargs.pop("overrides", {})}
    return dj.run_config(ws, RECIPES / recipe, overrides=overrides, **kwargs)


def test_demo_process_keeps_chinese_and_writes_djs_files(ws, tmp_path):
    result = run(ws, tmp_path, "demo__process.yaml", DEMOS / "demo-dataset.jsonl")
    out = tmp_path / "out"
    assert result.files == [str(out / "result.jsonl"), str(out / "result_stats.jsonl")]
    # fastText lid.176 (quantised) calls the second Chinese sample Japanese (0.40): one of six kept
    assert lines(out / "result.jsonl") == [{"text": "你好，请问你是谁", "meta": {"src": "customized", "author": "xxx"}}]
    assert lines(out / "result_stats.jsonl") == [{"__dj__stats__": {"lang": "zh", "lang_score": 0.9481925964}}]
    assert result.report.steps[0].rows_in == 6 and result.report.steps[0].kept == 1


def test_demo_dedup_removes_near_duplicates_and_traces_them(ws, tmp_path):
    result = run(ws, tmp_path, "demo__dedup.yaml", DEMOS / "demo-dataset-deduplication.jsonl")
    given = lines(DEMOS / "demo-dataset-deduplication.jsonl")
    # en >= 0.5 keeps 9 of 14; character MinHash drops line 9 ~ 8, 11 ~ 10 (one word differs) and 12 = 7
    assert lines(tmp_path / "out" / "result.jsonl") == [given[i - 1] for i in (1, 2, 6, 7, 8, 10)]
    trace = tmp_path / "out" / "trace"  # open_tracer: true, in DJ's layout under the export's folder
    assert sorted(p.name for p in trace.iterdir()) == ["duplicate-document_minhash_deduplicator.jsonl",
                                                       "filter-language_id_score_filter.jsonl"]
    pairs = lines(trace / "duplicate-document_minhash_deduplicator.jsonl")
    assert len(pairs) == 3 and pairs[2]["dup1"] == pairs[2]["dup2"] == {
        "text": "This paper proposed a novel method on LLM pretraining."}
    dropped = lines(trace / "filter-language_id_score_filter.jsonl")
    assert [d["text"] for d in dropped] == [given[i - 1]["text"] for i in (3, 4, 5, 13, 14)]
    assert dropped[1]["__dj__stats__"] == {"lang_score": 0.9918646812, "lang": "fr"}
    assert result.report.summary().column("kept").to_pylist() == [9, 6]


@pytest.fixture
def recipes_dir(tmp_path):
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes", ignore=shutil.ignore_patterns("out"))
    return tmp_path / "recipes"


def test_redpajama_c4_keeps_the_rows_and_stats_of_the_sql_recipe(tmp_path, recipes_dir):
    """DJ's redpajama-c4-refine.yaml and recipes/dj_redpajama_c4.sql, written by hand, on the same 429 documents."""
    data = recipes_dir / "data" / "demo-text.jsonl"
    with juicedb.open(tmp_path / "ws_yaml", threads=2) as ws:
        result = run(ws, tmp_path, "data_juicer_recipes__redpajama-c4-refine.yaml", data, skip_missing=True,
                     skip=["perplexity_filter"], overrides={"keep_stats_in_res_ds": True})
        from_yaml = ws.sql(f"SELECT uid, text, meta::VARCHAR AS meta, __dj__stats__ AS s "
                           f"FROM {result.recipe.result_table}").to_pylist()
    with juicedb.open(tmp_path / "ws_sql", threads=2) as ws:
        ws.run(recipes_dir / "dj_redpajama_c4.sql")
        from_sql = ws.sql("SELECT uid, text, meta::VARCHAR AS meta, struct_pack(alnum_ratio := alnum_ratio(text), "
                          "avg_line_length := avg_line_length(text), char_rep_ratio := char_rep_ratio(text), "
                          "lang := lang(text), lang_score := lang_score(text), "
                          "max_line_length := max_line_length(text), "
                          "special_char_ratio := special_char_ratio(text)) AS s FROM c4_refined").to_pylist()
    assert len(from_yaml) == len(from_sql) == 257
    assert from_yaml == from_sql
    assert [s.op for s in result.recipe.skipped] == ["perplexity_filter", "words_num_filter", "word_repetition_filter"]
    exported = lines(tmp_path / "out" / "result.jsonl")  # keep_stats_in_res_ds: stats in the result, 10 decimals
    assert [r["text"] for r in exported] == [r["text"] for r in from_yaml]
    assert exported[0]["__dj__stats__"] == {k: round(v, 10) if isinstance(v, float) else v
                                            for k, v in from_yaml[0]["s"].items()}
    assert exported[0]["__dj__stats__"]["avg_line_length"] == 160.0
    assert len(lines(tmp_path / "out" / "result_stats.jsonl")) == 257


def test_llava_pretrain_image_filters_on_djs_image_demo(ws, tmp_path):
    result = run(ws, tmp_path, "data_juicer_recipes__llava-pretrain-refine.yaml", DEMOS / "demo-dataset-images.jsonl",
                 skip=["perplexity_filter", "image_text_similarity_filter", "image_text_matching_filter"])
    assert len(result.recipe.steps) - len(result.recipe.skipped) == 10
    [row] = lines(tmp_path / "out" / "result.jsonl")  # max_size '124KB' drops img1 and img2 (171 and 189 kB)
    assert row["text"] == "<__dj__image> Black and white photograph of a woman holding an umbrella."
    [stats] = lines(tmp_path / "out" / "result_stats.jsonl")
    assert stats["__dj__stats__"] == {"alnum_ratio": 0.7638888889, "char_rep_ratio": 0.0, "flagged_words_ratio": 0.0,
                                      "special_char_ratio": 0.2361111111, "word_rep_ratio": 0.0,
                                      "aspect_ratios": [0.684], "image_width": [342], "image_height": [500],
                                      "image_sizes": [113695]}
    dropped = lines(tmp_path / "out" / "trace" / "filter-image_size_filter.jsonl")
    assert [d["__dj__stats__"] for d in dropped] == [{"image_sizes": [171427]}, {"image_sizes": [189406]}]


def test_a_selector_splits_the_recipe(ws, tmp_path):
    """A range selector on a stat, between filters: DJ keeps the middle of the survivors, then filters on."""
    data = tmp_path / "in.jsonl"
    data.write_text("".join(json.dumps({"text": "x" * n}) + "\n" for n in (3, 12, 15, 20, 30, 40, 50)))
    config = {"dataset_path": str(data), "export_path": str(tmp_path / "out.jsonl"), "process": [
        {"text_length_filter": {"min_len": 10}},
        {"range_specified_field_selector": {"field_key": "__dj__stats__.text_len", "lower_percentile": 0.2,
                                            "upper_percentile": 0.8}},
        {"maximum_line_length_filter": {"max_len": 35}}]}
    result = dj.run_config(ws, config)
    assert [len(r["text"]) for r in lines(tmp_path / "out.jsonl")] == [15, 20, 30]
    assert lines(tmp_path / "out_stats.jsonl")[0] == {"__dj__stats__": {"text_len": 15, "max_line_length": 15}}
    assert result.result.num_rows == 3
