"""Pools: Data-Juicer's bucket cut, random control pools, downsampling, intersections, unions, duplication."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pyarrow as pa
import pytest

from juicedb.errors import SandboxError
from juicedb.sandbox.pools import Pools, split_points
from juicedb.sandbox.store import Store
from tests.conftest import write_jsonl

N = 200
RNG = random.Random(5)
VALUES = [RNG.randrange(15) / 3 for _ in range(N)]                      # many ties
LISTS = [[RNG.randrange(9) for _ in range(RNG.randrange(4))] for _ in range(N)]  # some empty


def dj_buckets(values: list, ratios=(1 / 3, 2 / 3)) -> list[list[int]]:
    """Data-Juicer's DataPoolConstruction on a list of stats: stable sort (a list by its mean, 0 if empty), cut."""
    def key(v):
        return (np.mean(v) if len(v) > 0 else 0) if isinstance(v, list) else v
    order = sorted(range(len(values)), key=lambda i: key(values[i]))
    points = [0] + [int(len(values) * r + 0.5) for r in ratios] + [len(values)]
    return [sorted(order[a:b]) for a, b in itertools.pairwise(points)]


@pytest.fixture
def pools(ws):
    ws.write_table("ds_toy", pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()),
                                       "text": [f"doc {i}" for i in range(N)]}))
    return Pools(Store(ws))


def uids_of(pools, name):
    return [u - 1000 for u in pools.uids(name)]


@pytest.mark.parametrize(("column", "values", "ratios"), [
    ("v", VALUES, (1 / 3, 2 / 3)),
    ("lst", LISTS, (1 / 3, 2 / 3)),
    ("v", VALUES, (0.1, 0.5, 0.9)),
], ids=["terciles-ties", "list-stat-by-mean", "four-buckets"])
def test_buckets_are_data_juicers_split(pools, column, values, ratios):
    table = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), column: values})
    made = pools.buckets("ds_toy", column, table, ratios=ratios)
    expected = dj_buckets(values, ratios)
    assert [sorted(uids_of(pools, p.name)) for p in made] == expected
    assert [p.rows for p in made] == [len(e) for e in expected]
    labels = [p.name.split(":")[1] for p in made]
    assert labels == (["low", "mid", "high"] if len(ratios) == 2 else ["q0", "q1", "q2", "q3"])
    assert made[0].definition["ranks"] == [1, split_points(N, ratios)[1]]


def test_buckets_record_definition_and_bounds(pools):
    table = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), "v": VALUES})
    low, mid, high = pools.buckets("ds_toy", "v", table, definition={"call": "v(text)", "recipe_sha1": "abc"})
    got = pools.get(mid.name)
    assert got.kind == "bucket" and got.definition["call"] == "v(text)" and got.definition["recipe_sha1"] == "abc"
    bounds = pools.bucket_bounds("ds_toy", "v")
    assert [b[0] for b in bounds] == [0, 1, 2]
    assert bounds[0][2] <= bounds[1][1] <= bounds[1][2] <= bounds[2][1]
    assert len({low.uids_hash, mid.uids_hash, high.uids_hash}) == 3


def test_random_pool_is_seeded_and_equal_size(pools):
    a = pools.random("r:s0", "ds_toy", 50, seed=0)
    again = pools.random("r:s0b", "ds_toy", 50, seed=0)
    b = pools.random("r:s1", "ds_toy", 50, seed=1)
    assert a.rows == b.rows == 50 and a.distinct_rows == 50
    assert a.uids_hash == again.uids_hash != b.uids_hash
    assert a.def_hash != b.def_hash
    with pytest.raises(SandboxError, match="201 samples asked, 200 available"):
        pools.random("r:big", "ds_toy", 201, seed=0)


def test_downsample_is_a_subset_in_parent_order(pools):
    table = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), "v": VALUES})
    high = pools.buckets("ds_toy", "v", table)[2]
    small = pools.downsample("v:high/20", high.name, 20, seed=3)
    got = uids_of(pools, small.name)
    assert len(got) == 20 and set(got) <= set(uids_of(pools, high.name))
    assert got == sorted(got)  # dataset order
    assert small.parents == (high.name,) and small.kind == "downsample"


def test_intersection_and_union(pools):
    t = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), "v": VALUES, "lst": LISTS})
    v_high = pools.buckets("ds_toy", "v", t)[2]
    l_high = pools.buckets("ds_toy", "lst", t)[2]
    both = pools.intersect("both", [v_high.name, l_high.name])
    either = pools.union("either", [v_high.name, l_high.name])
    a, b = set(uids_of(pools, v_high.name)), set(uids_of(pools, l_high.name))
    assert set(uids_of(pools, "both")) == a & b and both.rows == len(a & b)
    assert set(uids_of(pools, "either")) == a | b and either.distinct_rows == either.rows == len(a | b)
    assert uids_of(pools, "either")[: len(a)] == uids_of(pools, v_high.name)  # first parent first


def test_duplication_keeps_every_sample_k_times(pools):
    base = pools.random("r", "ds_toy", 30, seed=0)
    plain = pools.duplicate("r:x3", "r", 3)
    shuffled = pools.duplicate("r:x3s", "r", 3, shuffle=True, seed=1)
    assert plain.rows == shuffled.rows == 90 and plain.distinct_rows == 30
    assert uids_of(pools, "r:x3") == uids_of(pools, "r") * 3
    assert sorted(uids_of(pools, "r:x3s")) == sorted(uids_of(pools, "r:x3")) != uids_of(pools, "r:x3s")
    assert plain.parents == (base.name,)
    with pytest.raises(SandboxError, match="integer >= 1"):
        pools.duplicate("bad", "r", 0)


def test_fill_takes_the_top_then_lower_levels_in_order(pools):
    t = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), "v": VALUES, "lst": LISTS})
    v_high = pools.buckets("ds_toy", "v", t)[2]
    l_high = pools.buckets("ds_toy", "lst", t)[2]
    top = pools.intersect("top", [v_high.name, l_high.name])
    filled = pools.fill("top:fill2", "top", [v_high.name, l_high.name], 2 * top.rows, seed=0)
    got = uids_of(pools, "top:fill2")
    assert filled.rows == filled.distinct_rows == 2 * top.rows
    assert got[: top.rows] == uids_of(pools, "top")
    assert set(got[top.rows:]) <= set(uids_of(pools, v_high.name)) - set(uids_of(pools, "top"))


def test_pools_are_queryable_in_the_shell(ws, tmp_path):
    table = ws.load(write_jsonl(tmp_path / "d.jsonl", [f"doc {i}" for i in range(20)]))
    Pools(Store(ws)).random("r", table, 5, seed=0)
    rows = ws.sql("SELECT text, ord FROM pool('r')").to_pylist()
    assert len(rows) == 5 and [r["ord"] for r in rows] == list(range(5))
    assert all(r["text"].startswith("doc ") for r in rows)
    assert ws.sql("SELECT kind, rows FROM pools WHERE name = 'r'").to_pylist() == [{"kind": "random", "rows": 5}]


def test_unknown_pool_names_the_known_ones(pools):
    pools.random("r", "ds_toy", 5, seed=0)
    with pytest.raises(SandboxError, match="no pool named 'nope'; pools: r"):
        pools.get("nope")


def test_a_text_stat_cannot_be_bucketed(pools):
    t = pa.table({"uid": pa.array(range(1000, 1000 + N), pa.int64()), "lang": ["en"] * N})
    with pytest.raises(SandboxError, match="not a number"):
        pools.buckets("ds_toy", "lang", t)
