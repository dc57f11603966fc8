"""Thresholds found in a recipe, refined by k-sigma or percentiles, and a refined recipe that computes no stat."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

import juicedb
from juicedb.analysis import refine
from juicedb.analysis.compute import cache_rows
from juicedb.analysis.refine import format_threshold, refined_value
from juicedb.analysis.scan import scan_recipe
from juicedb.errors import JuicedbError, RecipeError


def test_thresholds_are_found_in_every_form_with_their_exact_place():
    script = ("-- a comment\nCREATE TABLE t AS SELECT * FROM dataset('d.jsonl') AS d\n"
              "WHERE 10 <= text_len(d.text) AND NOT (alnum_ratio(d.text) < 0.25)\n"
              "  AND num_words(d.text) BETWEEN 5 AND -3\n"
              "  AND text_length_filter(d.text, min_len := 7, max_len := 900, reversed_range := false)\n"
              "  AND image_shape_filter(d.images, min_width := 300) AND lang(d.text) = 'en';")
    scan = scan_recipe(script)
    found = [(t.line, t.stat[1], t.side, t.param, t.value, script[t.start:t.end], t.integer) for t in scan.thresholds]
    assert found == [
        (3, "text_len", "min", ">=", 10, "10", False),
        (3, "alnum_ratio", "min", ">=", 0.25, "0.25", False),  # NOT (x < 0.25) keeps x >= 0.25: a lower bound
        (4, "num_words", "min", ">=", 5, "5", False),
        (4, "num_words", "max", "<=", -3, "-3", False),
        (5, "text_len", "min", "min_len", 7, "7", False),
        (5, "text_len", "max", "max_len", 900, "900", False),
        (6, "image_width", "min", "min_width", 300, "300", True),  # an int keep-rule parameter stays whole
    ]
    [source] = scan.sources
    assert source.label == "dataset('d.jsonl') AS d"
    assert [c.column for c in source.stats] == ["text_len", "alnum_ratio", "num_words", "image_width",
                                                "image_height", "lang"]
    assert scan.statement_starts == {1: script.index("CREATE")}


def test_k_sigma_and_percentile_rules():
    assert refined_value("min", {"mean": 0.7, "std": 0.1}, k_sigma=2) == (pytest.approx(0.5), "mean 0.7 - 2 * std 0.1")
    assert refined_value("max", {"mean": 10.0, "std": 1.5}, k_sigma=3)[0] == 14.5
    assert refined_value("min", {"5%": 3.0, "95%": 9.0}, percentiles=(0.05, 0.95)) == (3.0, "5th percentile")
    assert refined_value("max", {"mean": 1.0, "std": math.nan}, k_sigma=3)[0] is None  # DJ skips NaN
    assert format_threshold(299.2, "min", True) == "300" and format_threshold(299.8, "max", True) == "299"
    assert format_threshold(0.30645341612, "min", False) == "0.3064534161"
    # rounding must not tighten a bound: a constant stat's k-sigma bound is its value, kept exactly
    assert format_threshold(1.8693221236, "min", False) == "1.8693221236"
    assert format_threshold(1.8693221236, "max", False) == "1.869322124"
    assert format_threshold(1.8693221234, "max", False) == "1.8693221234"
    assert format_threshold(-838.0, "min", False) == "-838.0"


def test_demo_analysis_thresholds_are_mean_minus_k_std(demo):
    ws, analysis = demo
    d = {r["stat"]: r for r in analysis.describe.to_pylist()}
    t = {r["stat"]: r for r in analysis.thresholds.to_pylist()}
    assert t["alnum_ratio"]["new"] == pytest.approx(d["alnum_ratio"]["mean"] - 3 * d["alnum_ratio"]["std"], rel=1e-9)
    assert t["char_rep_ratio"]["new"] == pytest.approx(d["char_rep_ratio"]["mean"] + 3 * d["char_rep_ratio"]["std"],
                                                       rel=1e-9)
    assert t["alnum_ratio"]["new"] == pytest.approx(0.306453416)
    assert t["text_len"]["old"] == 10 and t["text_len"]["kept_old"] == pytest.approx(1 - 6 / 429)
    stored = ws.sql("SELECT stat, new FROM analysis_thresholds WHERE stat = 'alnum_ratio'").to_pylist()
    assert stored == [{"stat": "alnum_ratio", "new": t["alnum_ratio"]["new"]}]


def test_refined_recipe_changes_only_numbers_and_computes_no_stat(demo, recipes):
    ws, _ = demo
    recipe = recipes / "demo_text.sql"
    result = refine(ws, recipe, k_sigma=3)
    assert result.computed == 0  # the analysis put every stat in the cache
    assert result.path == recipes / "demo_text.refined.sql"
    original, refined = recipe.read_text(), result.path.read_text()
    body = refined[refined.index("CREATE OR REPLACE TABLE"):]
    number = r"-?\d+(?:\.\d+)?(?:e-?\d+)?"
    assert re.sub(number, "N", body) == re.sub(number, "N", original[original.index("CREATE OR REPLACE TABLE"):])
    assert "AND alnum_ratio(text) >= 0.306453416\n" in body
    assert "--   alnum_ratio(text) >= 0.25: 0.25 -> 0.306453416 (mean 0.708577 - 3 * std 0.134041)\n" in refined
    before = cache_rows(ws)
    ws.run(result.path)
    steps = [s for s in ws.last_run.summary().to_pylist() if "mapper" not in s["ops"]]
    assert len(steps) == 9 and all(s["computed"] == 0 for s in steps)  # 8 stats and the dedup hash
    assert cache_rows(ws) == before
    assert ws.sql("SELECT count(*) AS n FROM demo_refined").column("n")[0].as_py() == 374


def test_percentile_refinement_of_dj_style_bounds_moved_elsewhere(demo, recipes, tmp_path):
    ws, _ = demo
    out = tmp_path / "elsewhere" / "dj.sql"
    result = refine(ws, recipes / "dj_style_filters.sql", percentiles=(0.05, 0.95), output=out)
    rows = {(r["stat"], r["param"]): r for r in result.thresholds.to_pylist()}
    stats = ws.table("analysis_stats")
    # written with 10 significant digits, as DJ rounds its stats
    assert rows[("text_len", "max_len")]["new"] == 1121.4
    assert np.quantile(stats.column("text_len").to_numpy(), 0.95) == pytest.approx(1121.4, rel=1e-12)
    assert rows[("num_words", "min_num")]["new"] == np.quantile(stats.column("num_words").to_numpy(), 0.05) == 3.0
    text = out.read_text()
    assert "words_num_filter(text, min_num := 3.0)" in text
    # relative paths now point from the new folder to the same files
    assert f"dataset('{(recipes / 'data' / 'demo-text.jsonl').resolve()}')" in text
    assert f"TO '{(recipes / 'out' / 'dj_style.parquet').resolve()}'" in text
    before = cache_rows(ws)
    ws.run(out)
    assert cache_rows(ws) == before
    assert ws.last_run.steps[0].computed == 0


def test_refine_errors_name_the_fix(tmp_path, demo):
    ws, _ = demo
    bare = tmp_path / "bare.sql"
    bare.write_text("SELECT 1;")
    with pytest.raises(RecipeError, match="calls no stat or filter"):
        refine(ws, bare)
    with pytest.raises(JuicedbError, match="--k-sigma or --percentiles, not both"):
        refine(ws, bare, k_sigma=2, percentiles=(0.1, 0.9))
    with pytest.raises(JuicedbError, match="two numbers lo < hi"):
        refine(ws, bare, percentiles=(0.9, 0.1))
    no_threshold = tmp_path / "nt.sql"
    no_threshold.write_text(f"SELECT text_len(text) FROM dataset('{tmp_path / 'x.jsonl'}');")
    with pytest.raises(RecipeError, match="no threshold to refine"):
        refine(ws, no_threshold)


def test_refine_in_a_fresh_workspace_computes_the_stats_first(tmp_path, recipes):
    with juicedb.open(tmp_path / "ws", threads=2) as ws:
        first = refine(ws, recipes / "dj_style_filters.sql", output=tmp_path / "r.sql")
        assert first.computed > 0
        ws.run(tmp_path / "r.sql")
        assert all(s.computed == 0 for s in ws.last_run.steps if "mapper" not in ", ".join(s.ops))
