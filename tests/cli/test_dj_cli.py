"""``juicedb run config.yaml`` and ``juicedb convert``: Data-Juicer configs from the command line."""

from __future__ import annotations

import json

from tests.cli.test_cli import juicedb
from tests.conftest import ROOT, SHARED_DATA

RECIPES = SHARED_DATA / "dj_recipes"


def test_convert_prints_the_recipe_that_run_runs(tmp_path):
    out = juicedb("convert", str(RECIPES / "demo__process.yaml"), "--set", "dataset_path=data/in.jsonl",
                  "--set", "export_path=out/res.jsonl", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("-- Data-Juicer config ")
    assert f"FROM dataset('{tmp_path}/data/in.jsonl')\nWHERE (language_id_score_filter(text, min_score := 0.8) " \
           "AND lang(text) = 'zh');" in out.stdout
    assert f"TO '{tmp_path}/out/res_stats.jsonl' (FORMAT json);" in out.stdout


def test_missing_operators_are_one_error_before_any_data_is_read(tmp_path):
    out = juicedb("run", str(RECIPES / "data_juicer_recipes__redpajama-book-refine.yaml"), "-w", str(tmp_path / "ws"),
                  "--set", "dataset_path=/nonexistent.jsonl")
    assert out.returncode == 2, out.stderr
    err = " ".join(out.stderr.split())
    assert "3 of 16 operators cannot run in juicedb: step 9 flagged_words_filter (tokenization=True" in err
    assert "step 14 words_num_filter" in err and "step 15 word_repetition_filter" in err
    assert "--skip-missing" in err and "Traceback" not in out.stderr


def test_run_lists_skipped_operators_first_then_runs_the_rest(tmp_path):
    data = tmp_path / "in.jsonl"
    data.write_text("".join((ROOT / "recipes" / "data" / "demo-text.jsonl").read_text().splitlines(True)[:60]))
    out = juicedb("run", str(RECIPES / "data_juicer_recipes__redpajama-c4-refine.yaml"), "-w", str(tmp_path / "ws"),
                  "-q", "--skip-missing", "--skip", "perplexity_filter", "--set", f"dataset_path={data}",
                  "--set", "export_path=out/c4.jsonl", "--set", "open_tracer=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "12 of 15 operators run in juicedb" in text
    skipped = text.index("skipped step 11 perplexity_filter: skipped on request (--skip)")
    assert skipped < text.index("skipped step 13 words_num_filter: tokenization=True") < text.index("dataset ")
    assert f"wrote {tmp_path}/out/c4.jsonl" in text and f"wrote {tmp_path}/out/c4_stats.jsonl" in text
    kept = [json.loads(line) for line in (tmp_path / "out" / "c4.jsonl").read_text().splitlines()]
    assert 0 < len(kept) < 60 and set(kept[0]) == {"text", "meta"}


def test_config_options_are_refused_for_sql_recipes(tmp_path):
    recipe = tmp_path / "r.sql"
    recipe.write_text("SELECT 1;")
    out = juicedb("run", str(recipe), "--skip-missing", "-w", str(tmp_path / "ws"))
    assert out.returncode == 2
    assert "apply to Data-Juicer configs (.yaml)" in " ".join(out.stderr.split())
