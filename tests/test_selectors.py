"""Selectors (sql/selectors.sql) select exactly the rows Data-Juicer's selectors select.

The reference below transcribes DJ 1.6.1's selector code (heapq, stable ties,
stats_to_number's NULL-as-lowest) and runs on random data with many ties.
"""

from __future__ import annotations

import heapq
import random
import sys
from itertools import chain

import pytest

N = 200
RNG = random.Random(3)
VALUES = [None if RNG.random() < 0.05 else RNG.randrange(12) / 4 for _ in range(N)]
TAGS = [RNG.choice(["web", "book", "code", "wiki", None]) for _ in range(N)]


def _num(v):
    return -sys.maxsize if v is None else float(v)


def dj_topk(values, top_ratio=None, topk=None, reverse=True):
    if not top_ratio:
        n = topk
    else:
        n = top_ratio * len(values)
        if topk and topk < n:
            n = topk
    pick = heapq.nlargest if reverse else heapq.nsmallest
    return sorted(pick(int(n), range(len(values)), [_num(v) for v in values].__getitem__))


def dj_range(values, lp=None, up=None, lr=None, ur=None):
    lo, hi = 0, len(values)
    if lp is not None:
        lo = int(lp * len(values))
    if lr is not None:
        lo = max(lo, lr)
    if up is not None:
        hi = int(up * len(values))
    if ur is not None:
        hi = min(hi, ur)
    hi = max(lo, hi)
    nums = [_num(v) for v in values]
    first = heapq.nsmallest(int(hi), range(len(values)), nums.__getitem__)
    sub = [nums[i] for i in first]
    return sorted(first[j] for j in heapq.nlargest(int(hi - lo), range(len(first)), sub.__getitem__))


def dj_frequency(values, top_ratio=None, topk=None, reverse=True):
    groups: dict = {}
    for i, v in enumerate(values):
        groups.setdefault(v, []).append(i)
    if not top_ratio:
        n = topk
    else:
        n = top_ratio * len(groups)
        if topk and topk < n:
            n = topk
    return sorted(chain.from_iterable(sorted(groups.values(), key=len, reverse=reverse)[: int(n)]))


@pytest.fixture
def table(ws):
    ws.engine.con.execute("CREATE TABLE t AS SELECT unnest(range(?)) AS i, unnest(?) AS v, unnest(?) AS tag",
                          [N, VALUES, TAGS])
    return ws


def picked(ws, sql):
    return ws.sql(sql).column("i").to_pylist()


@pytest.mark.parametrize(("args", "kw"), [
    ("topk := 17", {"topk": 17}), ("top_ratio := 0.1", {"top_ratio": 0.1}),
    ("top_ratio := 0.3, topk := 20", {"top_ratio": 0.3, "topk": 20}),
    ("topk := 25, reverse := false", {"topk": 25, "reverse": False}),
])
def test_topk_is_djs(table, args, kw):
    assert picked(table, f"SELECT i FROM topk_specified_field_selector('t', 'v', {args})") == dj_topk(VALUES, **kw)


@pytest.mark.parametrize(("args", "kw"), [
    ("lower_percentile := 0.2, upper_percentile := 0.6", {"lp": 0.2, "up": 0.6}),
    ("lower_percentile := 0.0, upper_percentile := 0.333", {"lp": 0.0, "up": 0.333}),
    ("lower_rank := 10, upper_rank := 50", {"lr": 10, "ur": 50}),
    ("lower_percentile := 0.5, upper_percentile := 1.0, upper_rank := 150", {"lp": 0.5, "up": 1.0, "ur": 150}),
])
def test_range_is_djs(table, args, kw):
    assert picked(table, f"SELECT i FROM range_specified_field_selector('t', 'v', {args})") == dj_range(VALUES, **kw)


@pytest.mark.parametrize(("args", "kw"), [("topk := 2", {"topk": 2}), ("top_ratio := 0.4", {"top_ratio": 0.4}),
                                          ("topk := 1, reverse := false", {"topk": 1, "reverse": False})])
def test_frequency_is_djs(table, args, kw):
    got = picked(table, f"SELECT i FROM frequency_specified_field_selector('t', 'tag', {args})")
    assert got == dj_frequency(TAGS, **kw)


def test_tags_and_random(table):
    assert picked(table, "SELECT i FROM tags_specified_field_selector('t', 'tag', target_tags := ['web', 'wiki'])") == [
        i for i, t in enumerate(TAGS) if t in ("web", "wiki")]
    a = picked(table, "SELECT i FROM random_selector('t', select_ratio := 0.25, seed := 7)")
    b = picked(table, "SELECT i FROM random_selector('t', select_ratio := 0.25, seed := 7)")
    c = picked(table, "SELECT i FROM random_selector('t', select_num := 30, seed := 8)")
    assert a == b and len(a) == 50 and len(c) == 30 and a != c[:50]
