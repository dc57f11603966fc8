"""Pearson correlation as Data-Juicer's CorrelationAnalysis (pandas' corr()), and the clusters of stats."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from juicedb.analysis import cluster_stats, correlation_matrix

pd = pytest.importorskip("pandas")


def test_pearson_equals_pandas_on_the_demo_stats(demo):
    ws, analysis = demo
    stats = analysis.stats.drop_columns(["source", "uid"])
    corr = correlation_matrix(stats)
    ref = pd.DataFrame({c: stats.column(c).to_numpy() for c in corr.stats}).corr()
    assert np.allclose(corr.matrix, ref.to_numpy(), rtol=0, atol=1e-12)
    i, j = corr.stats.index("text_len"), corr.stats.index("num_words")
    assert corr.matrix[i, j] == pytest.approx(0.93, abs=0.005)
    stored = ws.sql("SELECT pearson FROM analysis_correlation WHERE stat_a = 'num_words' AND stat_b = 'text_len'")
    assert stored.column(0)[0].as_py() == pytest.approx(corr.matrix[i, j], abs=1e-15)


def test_list_stats_enter_as_their_mean_and_strings_are_left_out():
    """DJ: a list stat becomes the mean of its items per sample (0 for an empty list); pairwise NaN handling."""
    rng = np.random.default_rng(3)
    n = 400
    widths = [list(rng.integers(100, 2000, int(rng.integers(0, 4))).astype(float)) for _ in range(n)]
    size = np.array([np.mean(w) * 3.0 + rng.normal() * 50 if w else 0.0 for w in widths])
    score = rng.random(n)
    score[::9] = np.nan
    table = pa.table({"image_width": pa.array(widths, pa.list_(pa.float64())), "size": size,
                      "score": pa.array(score, from_pandas=True), "lang": ["en"] * n})
    corr = correlation_matrix(table)
    assert corr.stats == ["image_width", "size", "score"]
    ref = pd.DataFrame({"image_width": [np.mean(w) if w else 0 for w in widths], "size": size, "score": score}).corr()
    assert np.allclose(corr.matrix, ref.to_numpy(), atol=1e-12)
    assert corr.pairs[1, 2] == n - len(range(0, n, 9))


def test_clusters_group_stats_that_move_together():
    rng = np.random.default_rng(0)
    a = rng.normal(size=500)
    b = rng.normal(size=500)
    table = pa.table({"text_len": a, "num_words": a * 0.2 + rng.normal(size=500) * 0.01, "alnum_ratio": b,
                      "special_char_ratio": -b + rng.normal(size=500) * 0.05, "constant": np.ones(500)})
    corr = correlation_matrix(table)
    clusters = dict(zip(*[cluster_stats(corr, 3).column(c).to_pylist() for c in ("stat", "cluster")]))
    assert clusters == {"text_len": 1, "num_words": 1, "alnum_ratio": 2, "special_char_ratio": 2, "constant": 3}
    assert set(cluster_stats(corr, 1).column("cluster").to_pylist()) == {1}
    assert cluster_stats(corr, 99).column("cluster").to_pylist() == [1, 2, 3, 4, 5]


def test_demo_clusters_are_in_the_workspace(demo):
    ws, _analysis = demo
    rows = ws.sql("SELECT stat, cluster FROM analysis_clusters ORDER BY stat").to_pylist()
    groups = {r["stat"]: r["cluster"] for r in rows}
    assert len(rows) == 8 and len(set(groups.values())) == 3
    assert groups["text_len"] == groups["num_words"]
    assert groups["alnum_ratio"] == groups["special_char_ratio"]
