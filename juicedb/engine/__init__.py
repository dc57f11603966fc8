"""The engine: the only part of juicedb that talks to DuckDB.

It loads datasets, registers operators as UDFs, and executes compiled
statements. A planned statement runs in stages: for each stage, the rows that
survived every earlier predicate are keyed by the md5 of their input; keys not
in the operator's cache table are computed in large batches the engine
controls (each operator's ``batch_rows``, or the workspace's; not DuckDB's
2048-row vectors, nor the ~20-row vectors it hands a UDF after a selective filter) and added to the
cache; then the stat is joined back. The final SQL filters with the computed
stats, and the trace, the stats table and the run summary are written.

A loaded dataset is read in place from its Parquet file (row id = the file's row
number; a chunk of inputs decodes only its row groups), and the md5 keys of its
columns are stored once per file, so a re-run hashes no text. When every row of
the dataset has a stat cached, the stat is joined to all rows from the stored
keys directly (re-thresholding reads no text and builds no survivor sets).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from juicedb.arrays import integers, numeric, strings, to_numpy
from juicedb.compiler import Compiled, check_script, compile_sql, compile_statement, split_statements
from juicedb.compiler.plan import Conjunct, Context, DatasetRef, Estimate, OpCall
from juicedb.compiler.rules.emit import keep_table
from juicedb.engine.functions import compute_group, compute_group_by_name, output_keys, register_functions, sql_type
from juicedb.engine.load import (
    FORMATS,
    Loaded,
    content_key,
    drop_stat_tables,
    key_table_name,
    load_dataset,
    reattach_datasets,
    sql_path,
)
from juicedb.engine.memory import cap_malloc_arenas, release_free_memory, use_system_arrow_pool
from juicedb.registry import OpSpec, load_builtin_ops

if TYPE_CHECKING:
    from juicedb.engine.ray_backend import RayBackend

ESTIMATE_SAMPLE_ROWS = 10_000
POOL_MIN_ROWS = 20_000
FLUSH_ROWS = 65_536  # computed stats held before one INSERT into the cache (a crash loses at most these)
DEFAULT_MEMORY_LIMIT = "2GB"  # below this, starting worker processes costs more than it saves


def _poolable(spec: OpSpec) -> bool:
    """Whether a batch of this operator may go to a worker process.

    Workers find operators by name: only those of the ``juicedb.udfs`` package. A
    ``gpu_model`` operator stays in this process: its runtime (ONNX Runtime) already
    uses every core, or the one GPU, and a copy of the model per worker would only
    multiply memory and split the device.
    """
    return spec.fn.__module__.startswith("juicedb.udfs.") and spec.cost != "gpu_model"


def _slices(values: pa.ChunkedArray, step: int, own: bool) -> list[pa.Array]:
    """``values`` (a fetched chunk's inputs, in DuckDB's record batches) in batches of ``step`` rows: a batch
    inside one record batch is a view of it, one across two is concatenated (only its rows: combining the
    whole chunk first copied every fetched text once more). ``own``: every batch in its own buffers, as a
    worker process gets it (a pickled view would carry its whole record batch)."""
    out = []
    for i in range(0, len(values), step):
        part = values.slice(i, step)
        chunks = [c for c in part.chunks if len(c)]
        out.append(chunks[0] if len(chunks) == 1 and not own else pa.concat_arrays(chunks))
    return out


def _remote(spec: OpSpec) -> bool:
    """Whether a batch of this operator may go to a Ray worker (found by name; GPU ones too, on their own GPU)."""
    return spec.fn.__module__.startswith("juicedb.udfs.")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class InPlace:
    """A loaded dataset a planned statement reads straight from its Parquet file."""

    dataset: str
    parquet: Path
    columns: set[str]


@dataclass
class StepSummary:
    """One row of the run summary: a predicate (or a post-WHERE call) of one statement."""

    statement: int
    step: int
    predicate: str
    ops: list[str]
    rows_in: int = 0
    computed: int = 0
    reused: int = 0
    kept: int | None = None
    seconds: float = 0.0


@dataclass
class RunState:
    run_id: str
    trace: bool = False
    trace_mappers: bool = False
    steps: list[StepSummary] = field(default_factory=list)
    loads: list[tuple[str, Loaded]] = field(default_factory=list)
    tables: dict[str, int] = field(default_factory=dict)  # tables written -> rows
    calls_computed: int = 0
    on_progress: Callable[[str, int, int], None] | None = None


@dataclass
class _CallStats:
    rows_in: int = 0
    computed: int = 0


class Engine:
    """A DuckDB connection with juicedb's schema, functions and executor."""

    def __init__(self, database: str, *, threads: int | None = None, memory_limit: str | None = None,
                 batch_rows: int | None = None, workers: int | None = None, backend: str = "local",
                 address: str | None = None, shared_dir: str | Path | None = None) -> None:
        if backend not in ("local", "ray"):
            raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")
        # Ray is checked before the database opens: a missing extra fails before any data is read
        self._ray: RayBackend | None = None
        if backend == "ray":
            from juicedb.engine.ray_backend import RayBackend
            # a local Ray instance shares this machine's disk: stage inputs and stats go as Parquet shards
            # through the workspace's tmp/; a cluster needs a folder every node sees (else the object store)
            if shared_dir is None and address is None:
                shared_dir = Path(database).resolve().parent / "tmp" / "ray"
            self._ray = RayBackend(address, workers, shared_dir)
        cap_malloc_arenas(max(2, workers or 1))
        use_system_arrow_pool()
        self.con = duckdb.connect(database)
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # DuckDB's own default (80% of RAM) leaves nothing for the operator workers and models;
        # past the limit it spills to the workspace's tmp/ folder.
        self.con.execute(f"SET memory_limit = '{memory_limit or DEFAULT_MEMORY_LIMIT}'")
        tmp = str(Path(database).resolve().parent / "tmp").replace("'", "''")
        self.con.execute(f"SET temp_directory = '{tmp}'")
        self.con.execute(resources.files("juicedb.sql").joinpath("schema.sql").read_text())
        self.data_dir = Path(database).resolve().parent / "data"
        reattach_datasets(self.con, self.data_dir)
        register_functions(self.con)
        self.con.execute(resources.files("juicedb.sql").joinpath("selectors.sql").read_text())
        self.batch_rows = batch_rows
        self.workers = workers or 1
        self._executor: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self.base_dir: Path | None = None
        self.run: RunState | None = None
        self._samples: dict[str, str] = {}
        self._next_index = 0
        self._in_place: InPlace | None = None  # the dataset the running planned statement reads in place
        self._tables: dict[int, str] = {}  # call id -> the shared table holding its value (else call.table)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
        if self._threads is not None:
            self._threads.shutdown(cancel_futures=True)
        if self._ray is not None:
            self._ray.close()
        self.con.close()

    def _pool(self) -> ProcessPoolExecutor | None:
        """Worker processes for operator batches (spawned: forking a process running DuckDB is unsafe)."""
        if self.workers < 2:
            return None
        if self._executor is None:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=load_builtin_ops)
        return self._executor

    def _thread_pool(self) -> ThreadPoolExecutor | None:
        """Threads of this process for operators whose batches release the GIL (``OpSpec.threads``)."""
        if self.workers < 2:
            return None
        if self._threads is None:
            self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="juicedb-op")
        return self._threads

    # ------------------------------------------------------------------ catalog (for the compiler)

    def dataset_table(self, ref: DatasetRef) -> str:
        path = Path(ref.path)
        if not path.is_absolute():
            path = (self.base_dir or Path.cwd()) / path
        loaded = load_dataset(self.con, path, dict(ref.options), self.run.run_id if self.run else None,
                              self.data_dir)
        if self.run is not None:
            self.run.loads.append((str(path), loaded))
        release_free_memory()  # the parsed chunks' buffers
        return loaded.table

    def estimate(self, base_sql: str, conjunct: Conjunct, calls: dict[int, OpCall]) -> Estimate:
        """Pass rate and cached share of a conjunct on a sample of the source, from cached stats only."""
        used = [calls[i] for i in conjunct.calls]
        if any(c.spec.kind == "mapper" or c.deps for c in used):
            return Estimate()
        tables = {c.id: self._cache_table(c, create=False) for c in used}
        if any(t is None for t in tables.values()):
            return Estimate()
        stored = self._sample_keys(base_sql, conjunct, used)
        if stored is not None:  # a sample of the dataset's stored keys: no text is read
            sample, key_of = stored
        else:
            sample = self._sample(base_sql)
            key_of = {c.id: content_key(c.input_sql) for c in used}
        total = self.con.execute(f"SELECT count(*) FROM {sample}").fetchall()[0][0]
        if total == 0:
            return Estimate()
        joins = " ".join(f"JOIN {tables[c.id]} c{c.id} ON c{c.id}.key = {key_of[c.id]}" for c in used)
        cols = ", ".join(f"c{c.id}.{quote(c.output)} AS {c.placeholder}" for c in used)
        hit, passed = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE {conjunct.sql}) "
            f"FROM (SELECT s.*, {cols} FROM {sample} s {joins})").fetchall()[0]
        if hit == 0:
            return Estimate()
        return Estimate(pass_rate=passed / hit, cached=hit / total)

    def _sample_keys(self, base_sql: str, conjunct: Conjunct, used: list[OpCall]) -> tuple[str, dict[int, str]] | None:
        """A sample of a dataset's rows as their stored content keys, when the conjunct reads only
        stats of bare dataset columns; else None."""
        parquet = self._dataset_parquet(base_sql)
        if parquet is None:
            return None
        try:
            refs = exp.maybe_parse(conjunct.sql, dialect="duckdb").find_all(exp.Column)
        except Exception:  # noqa: BLE001 - the general path samples whole rows
            return None
        if not all(r.name.startswith("__jdb_") and not r.table for r in refs):
            return None
        source = InPlace(base_sql, parquet, {r[0] for r in self.con.execute(f"DESCRIBE {base_sql}").fetchall()})
        tables = {c.id: self._key_table(source, base_sql, c.input_sql) for c in used}
        if any(t is None for t in tables.values()):
            return None
        name = f"__jdb_sample{len(self._samples)}"
        first = next(iter(tables.values()))
        cols = "".join(f", k{cid}.key AS key_{cid}" for cid in tables)
        joins = " ".join(f"JOIN {t} k{cid} USING (__rid)" for cid, t in tables.items())
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT s.__rid{cols} FROM (SELECT __rid FROM {first} "
                         f"USING SAMPLE reservoir({ESTIMATE_SAMPLE_ROWS} ROWS) REPEATABLE (7)) s {joins}")
        self._samples[f"keys:{name}"] = name
        return name, {cid: f"s.key_{cid}" for cid in tables}

    def _sample(self, base_sql: str) -> str:
        if base_sql not in self._samples:
            name = f"__jdb_sample{len(self._samples)}"
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {base_sql} "
                             f"USING SAMPLE reservoir({ESTIMATE_SAMPLE_ROWS} ROWS) REPEATABLE (7)")
            self._samples[base_sql] = name
        return self._samples[base_sql]

    # ------------------------------------------------------------------ cache tables

    def _cache_table(self, call: OpCall, *, create: bool) -> str | None:
        fp = call.fingerprint
        if call.spec.kind == "mapper":  # mapper outputs live for the session only
            name = f"__jdb_map_{fp}"
            if create:
                self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} "
                                 f"(key UHUGEINT, {quote(call.output)} {sql_type(call.spec.output_type)})")
                return name
            exists = self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary",
                                      [name]).fetchall()[0][0]
            return name if exists else None
        name = f"jdb_cache.t_{fp}"
        row = next(iter(self.con.execute("SELECT table_name FROM jdb_cache.entries WHERE fingerprint = ?",
                                         [fp]).fetchall()), None)
        if row:
            return row[0]
        if not create:
            return None
        cols = ", ".join(f"{quote(s.key)} {sql_type(s.type)}" for s in call.spec.stats)
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {name} (key UHUGEINT, {cols})")
        self.con.execute("INSERT INTO jdb_cache.entries (fingerprint, op, params, table_name) VALUES (?, ?, ?, ?)",
                         [fp, call.spec.name, json.dumps(call.params, default=str), name])
        return name

    def _dataset_parquet(self, base_sql: str) -> Path | None:
        """The Parquet file of a loaded dataset named as a statement's whole source, else None."""
        if not base_sql.replace("_", "").isalnum():
            return None
        row = self.con.execute("SELECT count(*) FROM datasets WHERE name = ?", [base_sql]).fetchall()[0][0]
        parquet = self.data_dir / f"{base_sql}.parquet"
        return parquet if row and parquet.is_file() else None

    def _key_table(self, source: InPlace, alias: str, input_sql: str) -> str | None:
        """The stored content keys of a dataset column, when ``input_sql`` is that bare column.

        A dataset's file never changes once loaded (a reload writes a new one), so the md5 of
        each row's column is computed once, stored with the row id, and every later run of any
        recipe on it reads 24 bytes per row instead of hashing the text again. Rebuilt when the
        file's size or mtime changes.
        """
        try:
            col = exp.maybe_parse(input_sql, dialect="duckdb")
        except Exception:  # noqa: BLE001 - not a bare column: keys are computed as usual
            return None
        if not isinstance(col, exp.Column) or col.table not in ("", alias) or \
                col.name not in source.columns or col.name == "__rid":
            return None
        st = source.parquet.stat()
        name = key_table_name(source.dataset, col.name)
        row = next(iter(self.con.execute("SELECT size, mtime_ns FROM jdb_cache.keys WHERE dataset = ? AND col = ?",
                                         [source.dataset, col.name]).fetchall()), None)
        if row != (st.st_size, st.st_mtime_ns):
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT file_row_number AS __rid, "
                             f"{content_key(quote(col.name))} AS key FROM "
                             f"read_parquet('{sql_path(source.parquet)}', file_row_number = true) ORDER BY __rid")
            self.con.execute("INSERT OR REPLACE INTO jdb_cache.keys (dataset, col, size, mtime_ns, table_name) "
                             "VALUES (?, ?, ?, ?, ?)", [source.dataset, col.name, st.st_size, st.st_mtime_ns, name])
        return name

    def write_table(self, name: str, table: pa.Table) -> None:
        """Create (or replace) the workspace table ``name`` with the rows of an Arrow table."""
        view = "__jdb_arrow_in"
        self.con.register(view, table)
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS SELECT * FROM {view}")
        finally:
            self.con.unregister(view)

    # ------------------------------------------------------------------ compile and execute

    def compile(self, script: str, base_dir: Path | None = None) -> list[Compiled]:
        self.base_dir = base_dir
        self._samples.clear()
        return compile_sql(script, self, base_dir=base_dir)

    def execute_script(self, script: str, *, base_dir: Path | None = None, run: RunState | None = None,
                       ) -> tuple[pa.Table | None, str | None]:
        """Compile and run every statement; return the last SELECT's rows or the last table written."""
        check_script(script, self._known_functions(), base_dir=base_dir)
        self.run, self.base_dir = run, base_dir
        self._next_index = 0
        result: pa.Table | None = None
        last_table: str | None = None
        try:
            for text, line in split_statements(script):
                self._samples.clear()
                compiled = compile_statement(text, self, index=self._next_index, base_dir=base_dir, line=line)
                self._next_index += 1
                result, written = self.execute(compiled)
                release_free_memory()
                last_table = written or last_table
                if run is not None and written:
                    run.tables[written] = self.con.execute(f"SELECT count(*) FROM {written}").fetchall()[0][0]
        finally:
            self._drop_samples()
            for (name,) in self.con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary "
                                            "AND starts_with(table_name, '__jdb_cte')").fetchall():
                self.con.execute(f"DROP TABLE IF EXISTS {name}")
            self.run = None
        return result, last_table

    def _known_functions(self) -> set[str]:
        rows = self.con.execute("SELECT DISTINCT lower(function_name) FROM duckdb_functions()").fetchall()
        return {r[0] for r in rows}

    def _drop_samples(self) -> None:
        for name in self._samples.values():
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
        self._samples.clear()

    def execute(self, c: Compiled) -> tuple[pa.Table | None, str | None]:
        for out in c.ctx.outputs:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
        written = _written_table(c)
        if c.kind != "planned":
            return self._final(c), written
        temps: list[str] = []
        # a loaded dataset read in place is a local file in the workspace: DuckDB's Parquet prefetching
        # (made for remote files) held each thread's next row groups while the run read them by row id
        # (200k documents: the statement reading the survivors +270 -> +220 MB, the run as fast; 1M rows
        # 0.80-0.94 -> 0.71-0.77 s). Remote Parquet the statement reads is not in place and keeps it.
        parquet = self._dataset_parquet(c.ctx.base_sql)
        try:
            with self._setting("disable_parquet_prefetching", "true") if parquet else contextlib.nullcontext():
                table = self._run_planned(c, temps, parquet)
        finally:
            for t in reversed(temps):
                kind, name = t if isinstance(t, tuple) else ("TABLE", t)
                self.con.execute(f"DROP {kind} IF EXISTS {name}")
            self._in_place = None
            self._tables = {}
        return table, written

    def _final(self, c: Compiled, scan: bool = False) -> pa.Table | None:
        """Run a statement's SQL as it stands; its rows, if it returns any. ``scan``: its rows are a plain
        read of the dataset by row id (a planned statement's survivors, row by row)."""
        if _returns_rows(c):
            rel = self.con.sql(c.sql)
            return rel.to_arrow_table() if rel is not None else None
        # DuckDB writes rows in their order on several threads by holding what each thread wrote until the
        # rows before it are written (then merging them), one thread streams them. A COPY to JSONL/CSV holds
        # a table row group (122,880 rows, ~250 MB of JSON for 2 KB documents) per thread: 200k documents
        # on 2 threads 2.7 s and +1.6 GB, on one 1.0 s and +0.5 GB (30k: 0.36 s +205 MB -> 0.17 s +24 MB).
        # A table written from a read of survivors by row id: 30k of 200k documents +228 -> +174 MB, as
        # fast (150k of 1M: +0.1-0.2 s, -100 MB). Parquet buffers a row group either way and compresses it,
        # which several threads speed up, and a query keeps its threads for the query.
        one = _text_export(c, scan) or (scan and _written_table(c) is not None)
        with self._setting("threads", "1") if one else contextlib.nullcontext():
            self.con.execute(c.sql)
        return None

    @contextlib.contextmanager
    def _setting(self, name: str, value: str) -> Iterator[None]:
        """DuckDB's setting ``name`` at ``value`` for the block, then as it was."""
        old = self.con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]
        self.con.execute(f"SET {name} = {value}")
        try:
            yield
        finally:
            self.con.execute(f"SET {name} = {str(old).lower()}")

    # ------------------------------------------------------------------ planned statements

    def _relation(self, ctx: Context, ids: set[int]) -> str:
        rel = f"{ctx.work_table} AS {quote(ctx.base_alias)}"
        joined: set[str] = set()
        for cid in sorted(ids):
            call = ctx.calls[cid]
            table = self._tables.get(cid, call.table)
            if table not in joined:
                joined.add(table)
                rel += f" LEFT JOIN {table} USING (__rid)"
            if call.spec.kind == "deduplicator":
                rel += f" LEFT JOIN {keep_table(call.table)} USING (__rid)"
        return rel

    def _run_planned(self, c: Compiled, temps: list[str], parquet: Path | None) -> pa.Table | None:
        ctx, con, run = c.ctx, self.con, self.run
        alias = quote(ctx.base_alias)
        if parquet is not None:
            # A loaded dataset is read in place: its Parquet file's row number is the row id, and
            # a range of row ids reads only the row groups that hold it (no copy of the text).
            con.execute(f"CREATE OR REPLACE TEMP VIEW {ctx.work_table} AS SELECT file_row_number AS __rid, "
                        f"* EXCLUDE (file_row_number) FROM read_parquet('{sql_path(parquet)}', "
                        "file_row_number = true)")
            temps.append(("VIEW", ctx.work_table))
        else:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {ctx.work_table} AS "
                        f"SELECT row_number() OVER () - 1 AS __rid, * FROM {ctx.base_sql} AS {alias}")
            temps.append(ctx.work_table)
        columns = {r[0] for r in con.execute(f"DESCRIBE {ctx.work_table}").fetchall()}
        self._in_place = InPlace(ctx.base_sql, parquet, columns) if parquet is not None else None
        uid_sql = f"{alias}.uid" if "uid" in columns else f"{alias}.__rid"
        done: set[int] = set()
        alive: list[str] = []
        call_stats: dict[int, _CallStats] = {}
        if self._in_place is not None:
            self._stats_from_cache(ctx, done, call_stats, temps)
        for stage in ctx.stages:
            if stage.calls:
                self._compute_calls(ctx, stage.calls, alive, done, call_stats, temps, uid_sql)
                release_free_memory()  # the stage's fetched inputs and batch arrays
            for i in stage.conjuncts:
                alive.append(ctx.conjuncts[i].sql)
        if ctx.post_calls:
            self._compute_calls(ctx, ctx.post_calls, alive, done, call_stats, temps, uid_sql)
        rel = self._relation(ctx, set(ctx.calls))
        if run is not None:
            self._summarise(c, rel, call_stats)
            if run.trace and ctx.conjuncts:
                self._trace_drops(c, rel, uid_sql)
            if run.trace_mappers:
                self._trace_mappers(c, rel, uid_sql)
            if "uid" in columns:
                self._upsert_stats(ctx, rel, alias, call_stats)
        if self._tables:
            c = self._shared_joins(c)
        scan = False
        if parquet is not None:
            read = self._survivors_by_row_id(c, rel, temps)
            c, scan = read, read is not c and _row_by_row(ctx.select, where=False)
        release_free_memory()  # before the final SQL reads the surviving rows whole
        return self._final(c, scan)

    def _survivors_by_row_id(self, c: Compiled, rel: str, temps: list) -> Compiled:
        """The final SQL as a read of the surviving rows by row id: the row ids come from the stats first (no
        text read), and the dataset's Parquet scan, filtered on its row number, skips the other rows' values
        instead of decoding every text and joining it to ten stat tables (200k docs, 30k kept: the statement
        +376 -> +234 MB, the run 0.3-0.5 s faster). Stats the select list, a GROUP BY or ORDER BY uses (as a
        Data-Juicer config's ``__dj__stats__`` column) come along with the row ids, one join (that config
        on 200k docs: 378 MB in use in the statement, the run's peak RSS 803-814 -> 471-479 MB). Unchanged
        when a join is the user's, a stat column is named through its table, or a subquery reads the
        dataset too."""
        ctx = c.ctx
        select = ctx.select
        if select is None or not ctx.conjuncts or len(re.findall(rf"\b{ctx.work_table}\b", c.sql)) != 1:
            return c
        stat_tables = {self._tables.get(cid, call.table) for cid, call in ctx.calls.items()}
        stat_tables |= {keep_table(call.table) for call in ctx.calls.values() if call.spec.kind == "deduplicator"}
        if any(j.this.name not in stat_tables for j in select.args.get("joins") or []):
            return c
        rest = select.copy()
        rest.set("where", None)
        rest.set("joins", None)
        stats = sorted({col.name for col in rest.find_all(exp.Column)
                        if col.name.startswith("__jdb_") and col.name != "__rid"})
        if stats and any(col.table in stat_tables for col in rest.find_all(exp.Column)):
            return c
        if stats and any(isinstance(e, exp.Star) for e in rest.expressions):
            return c  # a bare * would take the stat columns too
        rids = f"__jdb_r{ctx.index}"
        alias = quote(ctx.base_alias)
        where = " AND ".join(f"({cj.sql})" for cj in ctx.conjuncts)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {rids} AS SELECT {', '.join([f'{alias}.__rid', *stats])} "
                         f"FROM {rel} WHERE {where}")
        temps.append(rids)
        if stats:
            select.set("joins", sqlglot.parse_one(f"SELECT 1 FROM t JOIN {rids} USING (__rid)",
                                                  dialect="duckdb").args["joins"])
            select.set("where", None)
        else:
            select.set("joins", None)
            select.set("where", exp.Where(this=sqlglot.parse_one(f"{alias}.__rid IN (SELECT __rid FROM {rids})",
                                                                 dialect="duckdb")))
        return Compiled(ctx, c.source, c.line, ctx.stmt.sql(dialect="duckdb", normalize_functions=False))

    def _shared_joins(self, c: Compiled) -> Compiled:
        """The statement's SQL joining each shared stat table once (the compiler joins one table per call)."""
        names = {ctx_call.table: self._tables.get(cid, ctx_call.table) for cid, ctx_call in c.ctx.calls.items()}
        joins, seen = [], set()
        for j in c.ctx.select.args.get("joins") or []:
            name = names.get(j.this.name, j.this.name)
            if name in seen:
                continue
            seen.add(name)
            j.set("this", exp.Table(this=exp.to_identifier(name)))
            joins.append(j)
        c.ctx.select.set("joins", joins)
        return Compiled(c.ctx, c.source, c.line, c.ctx.stmt.sql(dialect="duckdb", normalize_functions=False))

    def _stats_from_cache(self, ctx: Context, done: set[int], call_stats: dict[int, _CallStats],
                          temps: list[str]) -> None:
        """Re-thresholding fast path: the stats of every row of the dataset read in place, for all the calls
        whose stat is cached for every row, in one table (one join per cache, one check per input column),
        before any stage runs. Not for deduplicators (they group the survivors only), mappers (session
        caches) or calls on other calls' outputs; the stages compute whatever is left.

        When every such call is covered, the table is kept (``jdb_cache.stat_tables``): a re-run of the
        recipe with other thresholds reads it as it is, with no check and no join."""
        groups: dict[str, list[OpCall]] = {}
        for call in ctx.calls.values():
            if call.spec.kind not in ("deduplicator", "mapper") and not call.deps:
                groups.setdefault(call.input_sql, []).append(call)
        stored = {i: self._key_table(self._in_place, ctx.base_alias, i) for i in groups}
        caches = {c.id: self._cache_table(c, create=False) for calls in groups.values() for c in calls}
        groups = {i: calls for i, calls in groups.items()
                  if stored[i] is not None and all(caches[c.id] is not None for c in calls)}
        if not groups:
            return
        st = self._in_place.parquet.stat()
        # one column per (input, operator and parameters, stat): text_len(text) and text_len(title) are two
        column = {c.id: "s_" + hashlib.sha1(f"{i}\x00{c.fingerprint}\x00{c.output}".encode()).hexdigest()[:20]
                  for i, calls in groups.items() for c in calls}
        spec = json.dumps([self._in_place.dataset, st.st_size, st.st_mtime_ns,
                           sorted((i, column[c.id]) for i, calls in groups.items() for c in calls)])
        kept = f"jdb_cache.s_{self._in_place.dataset}_{hashlib.sha1(spec.encode()).hexdigest()[:12]}"
        view = f"__jdb_o{ctx.index}_cached"
        if self.con.execute("SELECT count(*) FROM jdb_cache.stat_tables WHERE table_name = ?", [kept]).fetchall()[0][0]:
            self.con.execute("UPDATE jdb_cache.stat_tables SET used = current_timestamp WHERE table_name = ?", [kept])
            covered = groups
        else:
            covered = {}
            for input_sql, calls in groups.items():
                missing = " OR ".join(f"NOT EXISTS (SELECT 1 FROM {t} c WHERE c.key = k.key)"
                                      for t in dict.fromkeys(caches[c.id] for c in calls))
                if not self.con.execute(f"SELECT EXISTS (SELECT 1 FROM {stored[input_sql]} k WHERE k.key IS NOT NULL "
                                        f"AND ({missing}))").fetchall()[0][0]:
                    covered[input_sql] = calls
            if not covered:
                return
            cols, joins = [], []
            for input_sql, calls in covered.items():
                k = f"k{len(joins)}"
                joins.append(f"{stored[input_sql]} {k}" if not joins else f"JOIN {stored[input_sql]} {k} USING (__rid)")
                alias = {}
                for t in dict.fromkeys(caches[c.id] for c in calls):  # two stats of one operator share a cache
                    alias[t] = f"c{len(joins)}"
                    joins.append(f"LEFT JOIN {t} {alias[t]} ON {alias[t]}.key = {k}.key")
                cols += [f"{alias[caches[c.id]]}.{quote(c.output)} AS {quote(column[c.id])}" for c in calls]
            body = f"SELECT k0.__rid, {', '.join(cols)} FROM {' '.join(joins)}"
            if len(covered) == len(groups):
                self.con.execute(f"CREATE OR REPLACE TABLE {kept} AS {body}")
                self.con.execute("INSERT OR REPLACE INTO jdb_cache.stat_tables (table_name, dataset, size, mtime_ns) "
                                 "VALUES (?, ?, ?, ?)", [kept, self._in_place.dataset, st.st_size, st.st_mtime_ns])
                self._prune_stat_tables(self._in_place.dataset, st)
            else:
                kept = f"__jdb_o{ctx.index}_partial"
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {kept} AS {body}")
                temps.append(kept)
        calls = [c for cs in covered.values() for c in cs]
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT __rid, "
                         + ", ".join(f"{quote(column[c.id])} AS {c.placeholder}" for c in calls) + f" FROM {kept}")
        temps.append(("VIEW", view))
        for call in calls:
            self._tables[call.id] = view
            call_stats[call.id] = _CallStats(-1, 0)  # rows in: the step's, from the summary
            done.add(call.id)

    def _prune_stat_tables(self, dataset: str, st: os.stat_result, keep: int = 4) -> None:
        """Drop the kept stat tables of an older file of ``dataset`` and all but its ``keep`` latest used."""
        drop_stat_tables(self.con, [name for (name,) in self.con.execute(
            "SELECT table_name FROM (SELECT *, row_number() OVER (ORDER BY used DESC) AS n FROM "
            "jdb_cache.stat_tables WHERE dataset = ?) WHERE n > ? OR size IS DISTINCT FROM ? "
            "OR mtime_ns IS DISTINCT FROM ?", [dataset, keep, st.st_size, st.st_mtime_ns]).fetchall()])

    def _compute_calls(self, ctx: Context, ids: tuple[int, ...], alive: list[str], done: set[int],
                       call_stats: dict[int, _CallStats], temps: list[str], uid_sql: str) -> None:
        """Compute ``ids`` on the rows passing ``alive``; calls with one input share each batch."""
        groups: dict[str, list[OpCall]] = {}
        for cid in ids:
            if cid not in done:  # already joined from the cache (``_stats_from_cache``)
                groups.setdefault(ctx.calls[cid].input_sql, []).append(ctx.calls[cid])
        for input_sql, calls in sorted(groups.items(), key=lambda kv: kv[1][0].id):
            needed = set(done)
            for call in calls:
                needed |= set(call.deps)
            rel = self._relation(ctx, needed)
            where = " AND ".join(f"({a})" for a in alive) or "TRUE"
            first = calls[0]
            keys = f"__jdb_k{ctx.index}_{first.id}"
            temps.append(keys)
            stored = self._key_table(self._in_place, ctx.base_alias, input_sql) if self._in_place else None
            if stored is None:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT {quote(ctx.base_alias)}.__rid AS __rid, "
                    f"{content_key(input_sql)} AS key FROM {rel} WHERE {where}")
            elif where == "TRUE":
                self.con.execute(f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT __rid, key FROM {stored}")
            else:  # the dataset's stored keys of the surviving rows: no text is read
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {keys} AS SELECT __rid, key FROM {stored} WHERE __rid IN "
                    f"(SELECT {quote(ctx.base_alias)}.__rid FROM {rel} WHERE {where})")
            n_in = self.con.execute(f"SELECT count(*) FROM {keys}").fetchall()[0][0]
            caches = {call.id: self._cache_table(call, create=True) for call in calls}
            # One row per distinct missing input (its first row, by row id), with a flag per call that
            # lacks it; the input itself is read chunk by chunk when computed, so a fully cached stage
            # moves no text at all.
            needs = ", ".join(f"NOT EXISTS (SELECT 1 FROM {caches[c.id]} c WHERE c.key = d.key) AS need_{c.id}"
                              for c in calls)
            todo = f"__jdb_m{ctx.index}_{first.id}"
            temps.append(todo)
            missing = " OR ".join(f"need_{c.id}" for c in calls)
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {todo} AS "
                f"WITH m AS (SELECT * FROM (SELECT d.key, d.__rid, {needs} FROM (SELECT key, min(__rid) AS __rid "
                f"FROM {keys} WHERE key IS NOT NULL GROUP BY key) d) WHERE {missing}) "
                f"SELECT row_number() OVER (ORDER BY __rid) AS rn, * FROM m")
            for call in calls:
                n_missing = self.con.execute(
                    f"SELECT count(*) FROM {keys} k JOIN {todo} m USING (key) WHERE m.need_{call.id}").fetchall()[0][0]
                call_stats[call.id] = _CallStats(n_in, n_missing)
            # two stats of one operator (lang, lang_score) share one cache table: compute and fill it once
            deps: set[int] = set()
            for call in calls:
                deps |= set(call.deps)
            self._fill_caches(ctx, list({c.fingerprint: c for c in calls}.values()), caches, todo, keys, uid_sql,
                              deps, input_sql)
            for call in calls:
                value = quote(call.output)
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {call.table} AS SELECT k.__rid, c.{value} AS {call.placeholder} "
                    f"FROM {keys} k LEFT JOIN {caches[call.id]} c USING (key)")
                temps.append(call.table)
                if call.spec.kind == "deduplicator":
                    self._dedup_keep(ctx, call, temps, uid_sql)
                done.add(call.id)

    def _fill_caches(self, ctx: Context, calls: list[OpCall], caches: dict[int, str], todo: str, keys: str,
                     uid_sql: str, deps: set[int], input_sql: str) -> None:
        """Compute the rows of ``todo`` batch by batch and add them to each call's cache.

        Batches hold each operator's preferred number of rows; calls of one input share
        each batch's intermediates. With several cores, batches go to threads of this process when every
        call's operator releases the GIL (``OpSpec.threads``), else to worker processes; with the Ray
        backend, each chunk's batches are one Ray Data job.
        Keys stay inside DuckDB (128-bit md5 numbers do not survive Arrow); batches carry ``rn``.
        Each chunk's inputs are read by row id range, chunks in row id order: from a dataset's Parquet file
        only the row groups holding the chunk are decoded.
        """
        # every row to compute, in rn order (rn runs 1..total): its row id and need flags, sliced per chunk
        rows = self.con.sql(f"SELECT rn, __rid, {', '.join(f'need_{c.id}' for c in calls)} FROM {todo} "
                            "ORDER BY rn").to_arrow_table()
        rids = to_numpy(rows.column("__rid"))
        total = len(rids)
        step = self.batch_rows or min(c.spec.batch_rows for c in calls)
        ray = self._ray if self._ray is not None and all(_remote(c.spec) for c in calls) else None
        pool: Executor | None = None
        threaded = kernels = ray is None and all(c.spec.on_threads(c.params) for c in calls)
        if threaded:  # no copy of the data, no process to start: any size is worth it
            pool = self._thread_pool()
            threaded = pool is not None
        elif ray is None and total >= POOL_MIN_ROWS and all(_poolable(c.spec) for c in calls):
            pool = self._pool()
        fetch = step * (ray.batches_per_job if ray else 4 * self.workers if pool else 1)
        label = ", ".join(c.written for c in calls)
        by_name = [(c.spec.name, c.params) for c in calls]
        if ray is not None and ray.shared_dir is not None:
            if total:
                self._fill_via_shards(ctx, calls, caches, todo, keys, uid_sql, deps, input_sql, ray, step, rids)
                if self.run is not None and self.run.on_progress:
                    self.run.on_progress(label, total, total)
            return
        pending: tuple[pa.Table, list, int] | None = None  # a chunk whose batches the workers are computing

        held: dict[int, list[pa.Table]] = {c.id: [] for c in calls}  # computed rows not yet in the cache

        def flush() -> None:
            for call in calls:
                if held[call.id]:
                    self._insert(call, caches[call.id], pa.concat_tables(held[call.id]), todo)
                    held[call.id] = []

        def finish(chunk: pa.Table, parts: list, end: int) -> None:
            if pool:
                parts = [p.result() for p in parts]
            elif ray is not None:
                parts = parts.result()
            for j, call in enumerate(calls):
                held[call.id].append(self._computed(ctx, call, chunk, [p[j] for p in parts], step, todo, keys,
                                                    uid_sql))
            # one INSERT per call for many chunks (each costs ~10 ms); mapped texts, being large, go at once
            if any(c.spec.kind == "mapper" for c in calls) or sum(t.num_rows for t in held[calls[0].id]) >= FLUSH_ROWS:
                flush()
            if self.run is not None and self.run.on_progress:
                self.run.on_progress(label, min(end, total), total)

        for start in range(0, total, fetch):
            chunk = self._fetch(ctx, todo, calls, deps, input_sql, rows, start, start + fetch, whole=kernels)
            slices = _slices(chunk.column("x"), step, own=not threaded)
            if ray is not None:  # as the pool: the cluster starts on this chunk while the previous one is stored
                parts = ray.map(by_name, slices)
            elif threaded:  # the threads start on this chunk while the previous one is stored
                specs = [(c.spec, c.params) for c in calls]
                parts = [pool.submit(compute_group, specs, v) for v in slices]
            elif pool:  # the workers start on this chunk while the previous one is stored
                parts = [pool.submit(compute_group_by_name, by_name, v) for v in slices]
            else:
                parts = [compute_group([(c.spec, c.params) for c in calls], v) for v in slices]
            if pending is not None:
                finish(*pending)
            pending = (chunk, parts, start + fetch)
        if pending is not None:
            finish(*pending)
        flush()

    def _fill_via_shards(self, ctx: Context, calls: list[OpCall], caches: dict[int, str], todo: str, keys: str,
                         uid_sql: str, deps: set[int], input_sql: str, ray: RayBackend, step: int,
                         rids: np.ndarray) -> None:
        """The Ray engine with a shared folder: the stage's missing inputs are written there as Parquet shards,
        one Ray Data job reads them, computes them and writes the stats as Parquet shards, which DuckDB reads
        into the cache (failed rows into ``errors``)."""
        inputs, outputs = ray.shard_job()
        alias = quote(ctx.base_alias)
        rel = self._relation(ctx, deps) if deps else f"{ctx.work_table} AS {alias}"
        try:
            rows = ray.shard_rows(len(rids), step)
            for i, start in enumerate(range(0, len(rids), rows)):
                lo, hi = int(rids[start]), int(rids[min(start + rows, len(rids)) - 1])
                self.con.execute(
                    f"COPY (SELECT t.rn AS pos, ({input_sql}) AS x FROM {todo} t JOIN {rel} ON {alias}.__rid = t.__rid "
                    f"WHERE t.rn > {start} AND t.rn <= {start + rows} AND {alias}.__rid BETWEEN {lo} AND {hi} "
                    f"ORDER BY t.rn) TO '{sql_path(inputs / f'part-{i:05d}.parquet')}' (FORMAT parquet)")
            ray.run_shards([(c.spec.name, c.params) for c in calls], inputs, outputs, step)
            out = f"read_parquet('{sql_path(outputs)}/*.parquet')"
            for j, call in enumerate(calls):
                failed = quote(f"{j}.__failed")
                bad = self.con.execute(f"SELECT pos, {failed} FROM {out} WHERE {failed} IS NOT NULL ORDER BY pos"
                                       ).fetchall()
                if bad:
                    self._record_failures(ctx, call, integers([r[0] for r in bad]),
                                          [r[1] for r in bad], todo, keys, uid_sql)
                names = output_keys(call.spec)
                select = ", ".join(f"o.{quote(f'{j}.{n}')}" for n in names)
                added = self.con.execute(
                    f"INSERT INTO {caches[call.id]} SELECT m.key, {select} FROM {out} o JOIN {todo} m ON m.rn = o.pos "
                    f"WHERE m.need_{call.id} AND o.{failed} IS NULL").fetchall()[0][0]
                if self.run is not None:
                    self.run.calls_computed += added
        finally:
            ray.done(inputs)

    def _fetch(self, ctx: Context, todo: str, calls: list[OpCall], deps: set[int], input_sql: str,
               rows: pa.Table, start: int, end: int, whole: bool = False) -> pa.Table:
        """Rows ``start < rn <= end`` of ``todo`` (``rows``: all of them, in ``rn`` order, with their row ids and
        need flags): ``rn``, the need flags and the input ``x`` (not necessarily in ``rn`` order).

        Without dependencies the input is read straight from the working relation by row id range
        (a dataset's Parquet file decodes only the row groups of the range; in a sparse range only the
        rows to be computed are converted); otherwise through the joins, by row id. ``whole``: a dense
        range is given whole, the rows not to compute included (for the compiled kernels on this
        process's threads, which take any text, null too, at little cost).
        """
        alias = quote(ctx.base_alias)
        part = rows.slice(start, end - start)
        want = to_numpy(part.column("__rid"))
        lo, hi = int(want[0]), int(want[-1])
        needs = ", ".join(f"t.need_{c.id}" for c in calls)
        if deps:
            return self.con.sql(
                f"SELECT t.rn, ({input_sql}) AS x, {needs} FROM {todo} t JOIN {self._relation(ctx, deps)} "
                f"ON {alias}.__rid = t.__rid WHERE t.rn > {start} AND t.rn <= {end} AND {alias}.__rid BETWEEN {lo} "
                f"AND {hi} ORDER BY t.rn").to_arrow_table()
        meta = part.select(["rn", *(f"need_{c.id}" for c in calls)])
        wanted = pa.table({"__rid": numeric(want, pa.int64())})  # noqa: F841 - read by SQL
        # a sparse range (a later stage's survivors): only the wanted rows leave DuckDB
        only = " AND __rid IN (SELECT __rid FROM wanted)" if len(want) < 0.9 * (hi - lo + 1) else ""
        got = self.con.sql(f"SELECT __rid, ({input_sql}) AS x FROM {ctx.work_table} AS {alias} "
                           f"WHERE __rid BETWEEN {lo} AND {hi}{only}").to_arrow_table()
        have, values = to_numpy(got.column(0)), got.column(1)
        if len(have) != len(want) and not whole:  # a dense range read whole: the wanted rows, in rn order
            order = np.argsort(have, kind="stable")
            values = values.take(numeric(order[np.searchsorted(have[order], want)], pa.int64()))
        elif not np.array_equal(have, want):
            # the rows in the order DuckDB's threads returned them: the (small) meta is reordered to match
            # them (row ids ascend with rn) rather than the texts copied into rn order. A dense range given
            # whole also holds rows not to compute (a repeated or null text, a cached one, a row an earlier
            # stage dropped): their rn and need flags are null, so they are computed with the rest and their
            # outputs dropped; taking the wanted texts out copied every chunk's texts once more (~15 MB
            # each, at the peak of the run)
            at = np.minimum(np.searchsorted(want, have), len(want) - 1)
            meta = meta.take(numeric(at, pa.int64(), null=want[at] != have))
        return meta.append_column("x", values)

    def _computed(self, ctx: Context, call: OpCall, chunk: pa.Table, parts: list, step: int, todo: str, keys: str,
                  uid_sql: str) -> pa.Table:
        """One call's outputs for a fetched chunk, by ``rn``, the rows it needs and did not fail on; failed rows
        go to ``errors``. A row read only because its range was read whole has no ``rn``: its outputs are
        dropped, and so is its failure (its text's own row, computed too, records it)."""
        names = output_keys(call.spec)
        rns = chunk.column("rn")
        batch = pa.table({"rn": rns, **{k: pa.concat_arrays([outs[k] for outs, _ in parts]) for k in names}})
        failures = {i * step + r: msg for i, (_, f) in enumerate(parts) for r, msg in f.items()}
        if failures:
            bad = sorted(failures)
            self._record_failures(ctx, call, rns.take(integers(bad)), [failures[i] for i in bad],
                                  todo, keys, uid_sql)
        keep = chunk.column(f"need_{call.id}").combine_chunks()
        if failures:
            keep = pc.and_(keep, numeric(np.array([i not in failures for i in range(batch.num_rows)]), pa.bool_()))
        return batch.filter(keep)

    def _insert(self, call: OpCall, cache: str, batch: pa.Table, todo: str) -> None:
        """Add computed rows (by ``rn``) to a call's cache under their content keys."""
        names = output_keys(call.spec)
        rns = batch.column("rn")
        lo, hi = (pc.min(rns).as_py(), pc.max(rns).as_py()) if len(rns) else (0, 0)
        select = ", ".join(f"b.{quote(n)}" for n in names)
        self.con.execute(f"INSERT INTO {cache} SELECT m.key, {select} FROM batch b JOIN {todo} m USING (rn) "
                         f"WHERE m.rn BETWEEN {lo} AND {hi}")
        if self.run is not None:
            self.run.calls_computed += batch.num_rows

    def _record_failures(self, ctx: Context, call: OpCall, rns: pa.Array, messages: list[str], todo: str,
                         keys: str, uid_sql: str) -> None:
        """One ``errors`` row per sample whose input made the operator fail."""
        failed = pa.table({"rn": rns, "message": strings(messages)})  # noqa: F841 - read by SQL
        alias = quote(ctx.base_alias)
        self.con.execute(
            f"INSERT INTO errors (run_id, dataset, uid, op, message) SELECT ?, ?, {uid_sql}, ?, f.message "
            f"FROM failed f JOIN {todo} m USING (rn) JOIN {keys} k ON k.key = m.key "
            f"JOIN {ctx.work_table} AS {alias} ON {alias}.__rid = k.__rid",
            [self.run.run_id if self.run else None, _dataset_label(ctx), call.spec.name])

    def _dedup_keep(self, ctx: Context, call: OpCall, temps: list[str], uid_sql: str) -> None:
        """Which rows a deduplicator keeps: the first of each group, and which row each dropped one repeats."""
        alias = quote(ctx.base_alias)
        h = call.placeholder
        if call.spec.grouping != "equal":
            self._cluster_keep(ctx, call, uid_sql)
            temps.append(keep_table(call.table))
            return
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {keep_table(call.table)} AS SELECT __rid, "
            f"({h} IS NULL OR row_number() OVER w = 1) AS {h}_keep, first_value({uid_sql}) OVER w AS {h}_first "
            f"FROM {call.table} JOIN {ctx.work_table} AS {alias} USING (__rid) "
            f"WINDOW w AS (PARTITION BY {h} ORDER BY __rid)")
        temps.append(keep_table(call.table))

    def _cluster_keep(self, ctx: Context, call: OpCall, uid_sql: str) -> None:
        """Connected components of the rows a deduplicator joins; the lowest row of each is kept (as DJ's
        union-find). Each row is linked to the lowest row of every group it is in; scipy labels the components."""
        import numpy as np
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components

        h, alias = call.placeholder, quote(ctx.base_alias)
        if call.spec.grouping == "lsh":  # rows sharing a band key
            groups = f"SELECT __rid, unnest({h}) AS g FROM {call.table} WHERE {h} IS NOT NULL"
        else:  # rows with equal hashes, and the pairs the operator's grouping names
            groups = f"SELECT __rid, {h} AS g FROM {call.table} WHERE {h} IS NOT NULL"
        links = self.con.sql(f"SELECT first, __rid FROM (SELECT __rid, min(__rid) OVER (PARTITION BY g) AS first "
                             f"FROM ({groups})) WHERE __rid <> first").to_arrow_table()
        a = to_numpy(links.column("first")).astype(np.int64)
        b = to_numpy(links.column("__rid")).astype(np.int64)
        if call.spec.grouping != "lsh":
            rows = self.con.sql(f"SELECT __rid, {h} AS h FROM {call.table} WHERE {h} IS NOT NULL "
                                "ORDER BY __rid").to_arrow_table()
            rids = to_numpy(rows.column("__rid")).astype(np.int64)
            pairs = np.asarray(call.spec.grouping(rows.column("h").to_numpy(), call.params), dtype=np.int64)
            if pairs.size:
                a, b = np.concatenate([a, rids[pairs[:, 0]]]), np.concatenate([b, rids[pairs[:, 1]]])
        nodes = np.unique(np.concatenate([a, b]))
        n = len(nodes)
        graph = coo_matrix((np.ones(len(a), dtype=np.int8), (np.searchsorted(nodes, a), np.searchsorted(nodes, b))),
                           shape=(n, n))
        count, labels = connected_components(graph, directed=False)
        lowest = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(lowest, labels, nodes)
        roots = pa.table({"__rid": numeric(nodes, pa.int64()),  # noqa: F841 - read by SQL
                          "root": numeric(lowest[labels], pa.int64())})
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE {keep_table(call.table)} AS SELECT t.__rid, "
            f"(r.root IS NULL OR r.root = t.__rid) AS {h}_keep, rootrow.uid AS {h}_first "
            f"FROM {call.table} t LEFT JOIN roots r USING (__rid) "
            f"LEFT JOIN (SELECT {alias}.__rid, {uid_sql} AS uid FROM {ctx.work_table} AS {alias}) rootrow "
            f"ON rootrow.__rid = r.root")

    # ------------------------------------------------------------------ bookkeeping

    def _summarise(self, c: Compiled, rel: str, call_stats: dict[int, _CallStats]) -> None:
        ctx = c.ctx
        conds = [f"coalesce(({cj.sql}), false)" for cj in ctx.conjuncts]
        filters = [" AND ".join(conds[: i + 1]) for i in range(len(conds))]
        counts = self.con.execute(
            "SELECT count(*)" + "".join(f", count(*) FILTER (WHERE {f})" for f in filters) + f" FROM {rel}"
        ).fetchall()[0]
        seen: set[int] = set()
        for i, cj in enumerate(ctx.conjuncts):
            new = [cid for cid in cj.calls if cid not in seen]
            seen.update(new)
            step = StepSummary(ctx.index + 1, i + 1, cj.written, [ctx.calls[cid].spec.name for cid in cj.calls],
                               rows_in=counts[i], kept=counts[i + 1])
            for cid in new:
                cs = call_stats.get(cid, _CallStats())
                step.computed += cs.computed
                step.reused += max((cs.rows_in if cs.rows_in >= 0 else counts[i]) - cs.computed, 0)
            self.run.steps.append(step)
        post = list(ctx.post_calls)
        if post:
            step = StepSummary(ctx.index + 1, len(ctx.conjuncts) + 1,
                               ", ".join(ctx.calls[cid].written for cid in post),
                               [ctx.calls[cid].spec.name for cid in post], rows_in=counts[-1])
            for cid in post:
                cs = call_stats.get(cid, _CallStats())
                step.computed += cs.computed
                step.reused += max(cs.rows_in - cs.computed, 0)
            self.run.steps.append(step)

    def _trace_drops(self, c: Compiled, rel: str, uid_sql: str) -> None:
        ctx = c.ctx
        whens, details, ops, preds = [], [], [], []
        for i, cj in enumerate(ctx.conjuncts, 1):
            whens.append(f"WHEN NOT coalesce(({cj.sql}), false) THEN {i}")
            if cj.dedup is not None:
                ph = ctx.calls[cj.dedup].placeholder
                detail = f"'duplicate of uid ' || {ph}_first::VARCHAR"
            else:
                parts = [f"'{ctx.calls[cid].output}=' || coalesce({ctx.calls[cid].placeholder}::VARCHAR, 'NULL')"
                         for cid in cj.calls if ctx.calls[cid].spec.kind != "mapper"]
                detail = " || ', ' || ".join(parts) if parts else "NULL"
            details.append(f"WHEN {i} THEN {detail}")
            ops.append(f"WHEN {i} THEN {_lit(', '.join(ctx.calls[cid].spec.name for cid in cj.calls) or None)}")
            preds.append(f"WHEN {i} THEN {_lit(cj.written)}")
        kind = "CASE step " + " ".join(
            f"WHEN {i} THEN '{'dedup' if cj.dedup is not None else 'drop'}'"
            for i, cj in enumerate(ctx.conjuncts, 1)) + " END"
        self.con.execute(
            f"INSERT INTO trace (run_id, statement, dataset, uid, kind, step, op, predicate, detail) "
            f"SELECT ?, ?, ?, __uid, {kind}, step, CASE step {' '.join(ops)} END, CASE step {' '.join(preds)} END, "
            f"CASE step {' '.join(details)} END FROM (SELECT {uid_sql} AS __uid, CASE {' '.join(whens)} END AS step, "
            f"* FROM {rel}) WHERE step IS NOT NULL",
            [self.run.run_id, ctx.index + 1, _dataset_label(ctx)])

    def _trace_mappers(self, c: Compiled, rel: str, uid_sql: str) -> None:
        ctx = c.ctx
        for call in ctx.calls.values():
            if call.spec.kind != "mapper":
                continue
            self.con.execute(
                f"INSERT INTO trace (run_id, statement, dataset, uid, kind, op, predicate, before, after) "
                f"SELECT ?, ?, ?, {uid_sql}, 'map', ?, ?, CAST(({call.input_sql}) AS VARCHAR), {call.placeholder} "
                f"FROM {rel} WHERE {call.placeholder} IS NOT NULL "
                f"AND {call.placeholder} IS DISTINCT FROM CAST(({call.input_sql}) AS VARCHAR)",
                [self.run.run_id, ctx.index + 1, _dataset_label(ctx), call.spec.name, call.written])

    def _upsert_stats(self, ctx: Context, rel: str, alias: str, call_stats: dict[int, _CallStats]) -> None:
        calls = [c for c in ctx.calls.values() if c.spec.kind != "mapper"]
        if not calls:
            return
        cols: dict[str, OpCall] = {}
        for call in calls:
            cols.setdefault(call.column, call)
        for name, call in cols.items():
            stype = next(s.type for s in call.spec.stats if s.key == call.output)
            self.con.execute(f"ALTER TABLE stats ADD COLUMN IF NOT EXISTS {quote(name)} {sql_type(stype)}")
        if not any(call_stats.get(c.id, _CallStats()).computed for c in calls):
            # Nothing new was computed (a re-threshold). A stat value is a function of the content and
            # the operator, so the upsert is skipped when the stats table already holds a value of each
            # column for every row that has one here: the column covers the whole dataset, or this
            # statement joined the column to all rows and the table holds at least as many values.
            have = self.con.execute(
                "SELECT " + ", ".join(f"count({quote(n)})" for n in cols) + " FROM stats WHERE dataset = ?",
                [_dataset_label(ctx)]).fetchall()[0]
            new = self.con.execute("SELECT " + ", ".join(
                f"(SELECT count({c.placeholder}) FROM {self._tables.get(c.id, c.table)})" for c in cols.values())
            ).fetchall()[0]
            rows = self.con.execute(f"SELECT count(*) FROM {ctx.work_table}").fetchall()[0][0]
            if all(h >= n and (h >= rows or call_stats.get(c.id, _CallStats()).rows_in == -1)
                   for h, n, c in zip(have, new, cols.values(), strict=True)):
                return
        names = ", ".join(quote(n) for n in cols)
        values = ", ".join(call.placeholder for call in cols.values())
        updates = ", ".join(f"{quote(n)} = coalesce(excluded.{quote(n)}, stats.{quote(n)})" for n in cols)
        self.con.execute(
            f"INSERT INTO stats (dataset, uid, {names}) SELECT DISTINCT ON (uid) ?, {alias}.uid, {values} "
            f"FROM {rel} WHERE {alias}.uid IS NOT NULL ON CONFLICT (dataset, uid) DO UPDATE SET {updates}",
            [_dataset_label(ctx)])


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _dataset_label(ctx: Context) -> str:
    return ctx.base_sql if ctx.base_sql.replace("_", "").isalnum() else ctx.base_alias


_ROW_STATEMENTS = ("SELECT", "WITH", "FROM", "DESCRIBE", "SHOW", "SUMMARIZE", "PRAGMA", "VALUES", "EXPLAIN",
                   "TABLE", "(")


def _returns_rows(c: Compiled) -> bool:
    head = c.source.lstrip().split(None, 1)[0].upper() if c.source.strip() else ""
    return head.startswith(_ROW_STATEMENTS)


_TEXT_FORMATS = {"csv", "json", "jsonl"}  # DuckDB's FORMAT names and the loader's (``FORMATS``) of text files


def _text_export(c: Compiled, scan: bool = False) -> bool:
    """Whether ``c`` is a ``COPY ... TO`` one file in a row-by-row text format (CSV, JSON), named by its
    FORMAT option or else by the file's extension (a compression suffix aside), of a table's rows or
    (``scan``) of a planned statement's survivors read by row id: a scan, which one thread keeps up with.
    A COPY of any other query keeps every thread for the query."""
    stmt = c.ctx.stmt
    if isinstance(stmt, exp.Command) and c.sql.lstrip()[:4].upper() == "COPY":  # kept as text (plain SQL)
        try:
            stmt = sqlglot.parse_one(c.sql, dialect="duckdb")
        except sqlglot.errors.ParseError:
            return False
    if not isinstance(stmt, exp.Copy) or stmt.args.get("kind") or len(stmt.args.get("files") or []) != 1:
        return False
    if not scan and not _reads_a_table(stmt.this):
        return False
    fmt = None
    for param in stmt.args.get("params") or []:
        name = param.this.name.lower()
        if name in ("partition_by", "per_thread_output", "file_size_bytes"):
            return False  # several files: DuckDB writes them in parallel without holding rows back
        if name == "format" and param.expression is not None:
            fmt = param.expression.name.lower()
    if fmt is None:  # by the extension, as the loader reads it
        file = stmt.args["files"][0]
        suffixes = [x.lower() for x in Path(file.name if isinstance(file, exp.Literal) else "").suffixes
                    if x.lower() not in (".gz", ".zst", ".gzip", ".zstd")]
        fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    return fmt in _TEXT_FORMATS


def _row_by_row(select: exp.Select, where: bool = True) -> bool:
    """Whether ``select`` gives its rows as it reads them: no grouping, aggregate, window, DISTINCT, CTE or
    subquery (``where=False``: but in its WHERE, as the row id filter of the survivors' read), and no sort
    but by row id."""
    if any(select.args.get(k) for k in ("group", "having", "qualify", "distinct", "with_", "with", "windows")):
        return False
    order = select.args.get("order")
    if order and any(not isinstance(o.this, exp.Column) or o.this.name != "__rid" for o in order.expressions):
        return False
    skip = set() if where or select.args.get("where") is None else {id(n) for n in select.args["where"].walk()}
    return not any(n is not select and id(n) not in skip
                   for n in select.find_all(exp.Select, exp.AggFunc, exp.Window))


def _reads_a_table(node: exp.Expression) -> bool:
    """Whether ``node`` (a COPY's source) is a table, or a SELECT of one table's rows as they stand (no join;
    Data-Juicer's export of a table's columns)."""
    while isinstance(node, exp.Subquery):
        node = node.this
    if isinstance(node, exp.Table):
        return isinstance(node.this, exp.Identifier)
    if not isinstance(node, exp.Select) or node.args.get("joins") or node.args.get("laterals"):
        return False
    source = node.args.get("from_") or node.args.get("from")
    return (source is not None and isinstance(source.this, exp.Table)
            and isinstance(source.this.this, exp.Identifier) and _row_by_row(node))


def _written_table(c: Compiled) -> str | None:
    stmt = c.ctx.stmt
    if isinstance(stmt, exp.Create) and str(stmt.args.get("kind", "")).upper() == "TABLE":
        return stmt.this.sql(dialect="duckdb") if not isinstance(stmt.this, exp.Schema) else \
            stmt.this.this.sql(dialect="duckdb")
    if isinstance(stmt, exp.Insert):
        target = stmt.this
        return (target.this if isinstance(target, exp.Schema) else target).sql(dialect="duckdb")
    return None

