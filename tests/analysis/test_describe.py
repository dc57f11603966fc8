"""describe() equals pandas' describe() (Data-Juicer's OverallAnalysis), to the last bit."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from juicedb.analysis import describe
from juicedb.analysis.describe import explode, percentile_label

pd = pytest.importorskip("pandas")

DEFAULT = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")


def dj_describe(column: pa.ChunkedArray, percentiles=(0.25, 0.5, 0.75)):
    """Data-Juicer's OverallAnalysis on one stat: lists exploded, then pandas' describe()."""
    series = pd.Series(column.to_pylist())
    if pa.types.is_list(column.type):
        series = series.explode().infer_objects()
    elif pa.types.is_integer(column.type) and column.null_count == 0:
        series = series.astype("int64")
    return series.describe(percentiles=list(percentiles))


def same(a, b) -> bool:
    return (a is None and b is None) or a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def test_describe_of_the_demo_stats_equals_pandas_describe(demo):
    """Real stats (eight text stats of 429 demo documents, ints and ratios), default percentiles exact."""
    _ws, analysis = demo
    stats = analysis.stats
    ours = {r["stat"]: r for r in describe(stats.drop_columns(["source", "uid"])).to_pylist()}
    assert set(ours) == {"text_len", "alnum_ratio", "special_char_ratio", "char_rep_ratio", "word_rep_ratio",
                         "num_words", "stopwords_ratio", "flagged_words_ratio"}
    for name, row in ours.items():
        ref = dj_describe(stats.column(name))
        for field in DEFAULT:
            assert same(row[field], float(ref[field])), (name, field, row[field], ref[field])
    assert ours["text_len"]["count"] == 429
    assert ours["text_len"]["mean"] == pytest.approx(402.0536, abs=1e-4)
    assert ours["text_len"]["max"] == 3354.0


def test_describe_of_list_stats_nulls_and_strings_equals_pandas():
    rng = np.random.default_rng(7)
    f = rng.lognormal(2, 1.5, 5000)
    f[rng.random(5000) < 0.02] = np.nan
    lists = [list(rng.random(int(rng.integers(0, 4)))) for _ in range(3000)]
    ints = [[int(x) for x in rng.integers(1, 4000, int(rng.integers(0, 3)))] for _ in range(3000)]
    langs = [str(x) for x in rng.choice(["en", "de", "fr", "zh"], 3000, p=[0.4, 0.3, 0.2, 0.1])]
    table = pa.table({"score": pa.array(f[:3000], from_pandas=True), "scores": pa.array(lists, pa.list_(pa.float64())),
                      "image_width": pa.array(ints, pa.list_(pa.int64())), "lang": langs})
    ours = {r["stat"]: r for r in describe(table).to_pylist()}
    for name in ("score", "scores", "image_width"):
        ref = dj_describe(table.column(name))
        assert all(same(ours[name][f], float(ref[f])) for f in DEFAULT), name
    ref = pd.Series(langs).describe()
    assert (ours["lang"]["count"], ours["lang"]["unique"], ours["lang"]["top"], ours["lang"]["freq"]) == \
        (ref["count"], ref["unique"], ref["top"], ref["freq"]) == (3000, 4, "en", ours["lang"]["freq"])
    assert ours["lang"]["mean"] is None


def test_extra_percentiles_and_labels():
    values = pa.table({"x": pa.array(np.arange(1001, dtype=np.float64) ** 1.5)})
    row = describe(values, [0.999, 0.05, 0.5]).to_pylist()[0]
    assert [c for c in row if c.endswith("%")] == ["5%", "25%", "50%", "75%", "99.9%"]
    ref = pd.Series(values.column("x").to_numpy()).describe(percentiles=[0.05, 0.25, 0.5, 0.75, 0.999])
    for p in (0.05, 0.25, 0.5, 0.75, 0.999):
        # pandas 3 asks np.quantile for p, pandas 2 np.percentile for 100 p: equal up to rounding
        assert row[percentile_label(p)] == pytest.approx(ref[percentile_label(p)], rel=1e-13)


def test_empty_lists_explode_to_one_missing_value_each():
    col = pa.array([[1, 2], [], None, [3]], pa.list_(pa.int64()))
    assert explode(col).to_pylist() == [1, 2, None, None, 3]
    row = describe(pa.table({"w": col})).to_pylist()[0]
    assert (row["count"], row["mean"], row["std"]) == (3, 2.0, 1.0)


def test_constant_and_single_value_stats_have_nan_std():
    row = describe(pa.table({"one": [5]})).to_pylist()[0]
    assert row["count"] == 1 and row["mean"] == 5.0 and math.isnan(row["std"])


def test_bad_percentile_is_a_clear_error():
    with pytest.raises(Exception, match=r"percentiles must lie in \[0, 1\] \(0.9 is the 90th\), got 90.0"):
        describe(pa.table({"x": [1.0]}), [90])
