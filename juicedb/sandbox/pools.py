"""Data pools: uid sets in workspace tables, each with the definition that made it.

A stat's samples are sorted ascending and cut into buckets at ``int(N * r + 0.5)`` for each
split ratio ``r`` (Data-Juicer's ``DataPoolConstruction``; a list stat sorts by the mean of its
items, 0 for an empty list; NULL sorts first; ties keep dataset order). The buckets of every
stat live in ``pool_buckets``; a pool is a named uid list in ``pool_members`` with its
definition, parents, seed and a hash of its members in ``pools``. Random pools, downsampling,
intersections, unions, duplication and filling are SQL over those tables.

>>> import tempfile, juicedb, pyarrow as pa
>>> from juicedb.sandbox.store import Store
>>> with juicedb.open(tempfile.mkdtemp()) as ws:
...     ws.write_table("ds_toy", pa.table({"uid": list(range(10)), "text": [str(i) for i in range(10)]}))
...     pools = Pools(Store(ws))
...     values = pa.table({"uid": list(range(10)), "n": [5, 1, 9, 3, 7, 0, 2, 8, 4, 6]})
...     low, mid, high = pools.buckets("ds_toy", "n", values)
...     [p.rows for p in (low, mid, high)], pools.uids(high.name)
([3, 4, 3], [2, 4, 7])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import pyarrow as pa

from juicedb.errors import SandboxError
from juicedb.sandbox.store import Store

DEFAULT_SPLIT = (1 / 3, 2 / 3)
TMP = "__jdb_pool_new"


def bucket_labels(n_buckets: int) -> list[str]:
    """``low, mid, high`` for terciles; ``q0 .. q<n-1>`` otherwise."""
    return ["low", "mid", "high"] if n_buckets == 3 else [f"q{i}" for i in range(n_buckets)]


def parse_ratios(ratios: Sequence[float | str]) -> tuple[float, ...]:
    """Split ratios as floats (``"1/3"`` allowed, as DJ), each in (0, 1), increasing."""
    out = []
    for r in ratios:
        try:
            v = float(Fraction(str(r)))
        except (ValueError, ZeroDivisionError):
            raise SandboxError(f"a split ratio must be a number or a fraction like 1/3, got {r!r}") from None
        out.append(v)
    if not out or any(not 0 < v < 1 for v in out) or out != sorted(set(out)):
        raise SandboxError(f"split ratios must be increasing numbers in (0, 1), got {list(ratios)}")
    return tuple(out)


def split_points(n: int, ratios: Sequence[float]) -> list[int]:
    """DJ's cut points: ``[0, int(n*r1 + 0.5), ..., n]``.

    >>> split_points(10, (1/3, 2/3))
    [0, 3, 7, 10]
    """
    return [0, *(int(n * r + 0.5) for r in ratios), n]


@dataclass(frozen=True)
class Pool:
    name: str
    dataset: str
    kind: str
    definition: dict[str, Any]
    def_hash: str
    parents: tuple[str, ...] = ()
    seed: int | None = None
    rows: int = 0
    distinct_rows: int = 0
    uids_hash: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


def _sha1(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Pools:
    """Create, read and combine pools in a workspace (tables ``pool_buckets``, ``pools``, ``pool_members``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ reading

    def get(self, name: str) -> Pool:
        row = self.store.rows("SELECT name, dataset, kind, definition, def_hash, parents, seed, rows, distinct_rows, "
                              "uids_hash FROM pools WHERE name = ?", [name])
        if not row:
            known = [r[0] for r in self.store.rows("SELECT name FROM pools ORDER BY name LIMIT 20")]
            raise SandboxError(f"no pool named {name!r}; pools: {', '.join(known) or 'none yet'}")
        r = row[0]
        return Pool(r[0], r[1], r[2], json.loads(r[3]), r[4], tuple(r[5] or ()), r[6], r[7], r[8], r[9])

    def exists(self, name: str) -> bool:
        return bool(self.store.one("SELECT count(*) FROM pools WHERE name = ?", [name]))

    def uids(self, name: str) -> list[int]:
        """Member uids in pool order (a duplicated uid once per copy)."""
        return [r[0] for r in self.store.rows("SELECT uid FROM pool_members WHERE pool = ? ORDER BY ord", [name])]

    def samples(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """The pool's samples in pool order, one row per copy, with ``ord`` and ``copy``."""
        pool = self.get(name)
        cols = ", ".join(f"s.{_q(c)}" for c in columns) if columns else "s.*"
        return self.store.arrow(f"SELECT m.ord, m.copy, {cols} FROM pool_members m JOIN {_q(pool.dataset)} s "
                                "ON s.uid = m.uid WHERE m.pool = ? ORDER BY m.ord", [name])

    def list(self) -> pa.Table:
        return self.store.arrow("SELECT name, kind, rows, distinct_rows, parents, seed, def_hash, uids_hash, "
                                "definition FROM pools ORDER BY created, name")

    # ------------------------------------------------------------------ writing

    def _save(self, name: str, dataset: str, kind: str, definition: dict[str, Any], *, members_sql: str,
              params: Sequence[Any] = (), parents: Sequence[str] = (), seed: int | None = None) -> Pool:
        """Store a pool whose members ``members_sql`` selects as ``(ord, uid, copy)``."""
        parent_hashes = [self.get(p).def_hash for p in parents]
        def_hash = _sha1({"kind": kind, "dataset": dataset, "definition": definition, "parents": parent_hashes,
                          "seed": seed})
        self.store.execute(f"CREATE OR REPLACE TEMP TABLE {TMP} AS SELECT row_number() OVER (ORDER BY ord) - 1 "
                           f"AS ord, uid, copy FROM ({members_sql})", params)
        rows, distinct, uids_hash = self.store.rows(
            f"SELECT count(*), count(DISTINCT uid), md5(coalesce(string_agg(uid::VARCHAR, ',' ORDER BY ord), '')) "
            f"FROM {TMP}")[0]
        self.store.execute("BEGIN TRANSACTION")
        try:
            self.store.execute("DELETE FROM pool_members WHERE pool = ?", [name])
            self.store.execute(f"INSERT INTO pool_members SELECT ?, ord, uid, copy FROM {TMP}", [name])
            self.store.execute("DELETE FROM pools WHERE name = ?", [name])
            self.store.execute(
                "INSERT INTO pools (name, dataset, kind, definition, def_hash, parents, seed, rows, distinct_rows, "
                "uids_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, dataset, kind, json.dumps(definition, default=str), def_hash, list(parents), seed, rows,
                 distinct, uids_hash])
            self.store.execute("COMMIT")
        except BaseException:
            self.store.con.execute("ROLLBACK")
            raise
        finally:
            self.store.execute(f"DROP TABLE IF EXISTS {TMP}")
        return Pool(name, dataset, kind, definition, def_hash, tuple(parents), seed, rows, distinct, uids_hash)

    def _position(self, dataset: str) -> str:
        """``(uid, pos)``: each sample's position in its dataset (ties keep this order, as DJ's stable sort)."""
        return f"(SELECT uid, row_number() OVER () AS pos FROM {_q(dataset)})"

    def buckets(self, dataset: str, stat: str, values: pa.Table, *, ratios: Sequence[float] = DEFAULT_SPLIT,
                definition: dict[str, Any] | None = None, prefix: str | None = None) -> list[Pool]:
        """Cut ``values`` (columns ``uid`` and ``stat``) into ``len(ratios) + 1`` bucket pools ``<stat>:<label>``.

        ``definition`` (the stat's call and recipe hash) is recorded with each pool.
        """
        ratios = parse_ratios(ratios)
        if "uid" not in values.column_names or stat not in values.column_names:
            raise SandboxError(f"bucket values need columns uid and {stat!r}; got {', '.join(values.column_names)}")
        col = values.column(stat)
        t = col.type
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            value_sql = f"CASE WHEN len(v.{_q(stat)}) = 0 THEN 0 ELSE list_avg(v.{_q(stat)}) END"
        elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
            value_sql = f"v.{_q(stat)}"
        else:
            raise SandboxError(f"stat {stat!r} is {t}, not a number or a list of numbers: it cannot be bucketed")
        view = "__jdb_bucket_values"
        self.store.con.register(view, values.select(["uid", stat]))
        try:
            n = self.store.one(f"SELECT count(*) FROM {view}")
            if n == 0:
                raise SandboxError(f"no values for stat {stat!r}: nothing to bucket")
            cuts = split_points(n, ratios)
            case = " ".join(f"WHEN rank <= {c} THEN {i}" for i, c in enumerate(cuts[1:-1]))
            self.store.execute("DELETE FROM pool_buckets WHERE dataset = ? AND stat = ?", [dataset, stat])
            self.store.execute(
                f"INSERT INTO pool_buckets SELECT ?, ?, uid, value, rank, CASE {case} ELSE {len(cuts) - 2} END "
                f"FROM (SELECT v.uid, ({value_sql})::DOUBLE AS value, row_number() OVER "
                f"(ORDER BY ({value_sql})::DOUBLE ASC NULLS FIRST, p.pos) AS rank "
                f"FROM {view} v LEFT JOIN {self._position(dataset)} p ON p.uid = v.uid)", [dataset, stat])
        finally:
            self.store.con.unregister(view)
        labels = bucket_labels(len(cuts) - 1)
        bounds = self.store.rows("SELECT bucket, min(value), max(value), count(*) FROM pool_buckets "
                                 "WHERE dataset = ? AND stat = ? GROUP BY bucket ORDER BY bucket", [dataset, stat])
        by_bucket = {b: (lo, hi, cnt) for b, lo, hi, cnt in bounds}
        out = []
        for i, label in enumerate(labels):
            lo, hi, _ = by_bucket.get(i, (None, None, 0))
            d = {**(definition or {}), "stat": stat, "bucket": label, "bucket_index": i,
                 "ratios": list(ratios), "ranks": [cuts[i] + 1, cuts[i + 1]], "of": n, "min": lo, "max": hi}
            out.append(self._save(
                f"{prefix or stat}:{label}", dataset, "bucket", d,
                members_sql=f"SELECT p.pos AS ord, b.uid, 0 AS copy FROM pool_buckets b "
                            f"JOIN {self._position(dataset)} p USING (uid) "
                            "WHERE b.dataset = ? AND b.stat = ? AND b.bucket = ?",
                params=[dataset, stat, i]))
        return out

    def random(self, name: str, dataset: str, size: int, seed: int, *, source: str | None = None) -> Pool:
        """``size`` samples drawn without replacement (seeded) from ``source`` (a pool) or the whole dataset."""
        if source is not None:
            src = f"(SELECT ord AS pos, uid FROM pool_members WHERE pool = {self._lit(source)})"
            available = self.get(source).rows
        else:
            src = self._position(dataset)
            available = self.store.one(f"SELECT count(*) FROM {_q(dataset)}")
        if size > available:
            raise SandboxError(f"random pool {name!r}: {size} samples asked, {available} available")
        return self._save(name, dataset, "random" if source is None else "downsample",
                          {"size": size, "of": available, "from": source or dataset},
                          members_sql=f"SELECT pos AS ord, uid, 0 AS copy FROM {src} "
                                      f"ORDER BY md5(uid::VARCHAR || ':' || {int(seed)}), pos LIMIT {int(size)}",
                          parents=[source] if source else [], seed=seed)

    def downsample(self, name: str, parent: str, size: int, seed: int) -> Pool:
        """A seeded random ``size``-subset of ``parent`` (DJ's DataPoolDownsampling), in the parent's order."""
        return self.random(name, self.get(parent).dataset, size, seed, source=parent)

    def intersect(self, name: str, parents: Sequence[str]) -> Pool:
        """Samples in every parent (in the first parent's order)."""
        return self._combine(name, parents, "intersect")

    def union(self, name: str, parents: Sequence[str]) -> Pool:
        """Samples in any parent, each once (in order of first appearance, parent by parent)."""
        return self._combine(name, parents, "union")

    def _combine(self, name: str, parents: Sequence[str], kind: str) -> Pool:
        if not parents:
            raise SandboxError(f"{kind} of no pools: name at least one parent")
        pools = [self.get(p) for p in parents]
        dataset = pools[0].dataset
        if any(p.dataset != dataset for p in pools):
            raise SandboxError(f"{kind}: pools of different datasets ({', '.join(sorted({p.dataset for p in pools}))})")
        lits = ", ".join(self._lit(p) for p in parents)
        if kind == "intersect":
            sql = (f"SELECT min(ord) AS ord, uid, 0 AS copy FROM pool_members WHERE pool = {self._lit(parents[0])} "
                   f"AND uid IN (SELECT uid FROM pool_members WHERE pool IN ({lits}) GROUP BY uid "
                   f"HAVING count(DISTINCT pool) = {len(set(parents))}) GROUP BY uid")
        else:
            order = " ".join(f"WHEN {self._lit(p)} THEN {i}" for i, p in enumerate(parents))
            sql = (f"SELECT min((CASE pool {order} END) * 1e12 + ord) AS ord, uid, 0 AS copy FROM pool_members "
                   f"WHERE pool IN ({lits}) GROUP BY uid")
        return self._save(name, dataset, kind, {"of": list(parents)}, members_sql=sql, parents=parents)

    def duplicate(self, name: str, parent: str, times: int, *, shuffle: bool = False, seed: int = 42) -> Pool:
        """``parent`` repeated ``times`` (DJ's DataPoolDuplication): copy by copy, or shuffled (seeded)."""
        if not isinstance(times, int) or times < 1:
            raise SandboxError(f"duplication times must be an integer >= 1, got {times!r}")
        base = self.get(parent)
        order = (f"md5(m.uid::VARCHAR || ':' || c.copy || ':' || {int(seed)})" if shuffle
                 else f"c.copy * {base.rows} + m.ord")
        return self._save(name, base.dataset, "duplicate", {"times": times, "shuffle": shuffle},
                          members_sql=f"SELECT {order} AS ord, m.uid, c.copy FROM pool_members m, "
                                      f"range({times}) c(copy) WHERE m.pool = {self._lit(parent)}",
                          parents=[parent], seed=seed if shuffle else None)

    def fill(self, name: str, top: str, sources: Sequence[str], size: int, seed: int) -> Pool:
        """``top`` plus samples from ``sources`` taken in order (each source shuffled, seeded) up to ``size``.

        The diversity side of duplication vs diversity: the same size as ``top`` duplicated, made of
        new samples from lower pyramid levels instead of copies.
        """
        lits = [self._lit(top), *(self._lit(s) for s in sources)]
        tagged = " UNION ALL ".join(
            f"SELECT {i} AS src, ord, uid FROM pool_members WHERE pool = {lit}" for i, lit in enumerate(lits))
        sql = (f"SELECT k AS ord, uid, 0 AS copy FROM (SELECT uid, row_number() OVER (ORDER BY src, top_ord, "
               f"md5(uid::VARCHAR || ':' || {int(seed)})) AS k FROM (SELECT uid, min(src) AS src, "
               f"min(ord) FILTER (WHERE src = 0) AS top_ord FROM ({tagged}) GROUP BY uid)) WHERE k <= {int(size)}")
        return self._save(name, self.get(top).dataset, "fill", {"size": size, "top": top, "from": list(sources)},
                          members_sql=sql, parents=[top, *sources], seed=seed)

    def from_uids(self, name: str, dataset: str, kind: str, definition: dict[str, Any], uids: pa.Array | list[int],
                  *, parents: Sequence[str] = ()) -> Pool:
        """A pool of the given uids (in dataset order), e.g. the rows a refined recipe keeps."""
        view = "__jdb_pool_uids"
        self.store.con.register(view, pa.table({"uid": pa.array(uids, pa.int64())}))
        try:
            return self._save(name, dataset, kind, definition,
                              members_sql=f"SELECT p.pos AS ord, u.uid, 0 AS copy FROM (SELECT DISTINCT uid "
                                          f"FROM {view}) u JOIN {self._position(dataset)} p USING (uid)",
                              parents=parents)
        finally:
            self.store.con.unregister(view)

    def bucket_bounds(self, dataset: str, stat: str) -> list[tuple[int, float | None, float | None, int]]:
        """``(bucket, min value, max value, rows)`` per bucket of a stat."""
        return self.store.rows("SELECT bucket, min(value), max(value), count(*) FROM pool_buckets WHERE dataset = ? "
                               "AND stat = ? GROUP BY bucket ORDER BY bucket", [dataset, stat])

    @staticmethod
    def _lit(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"
