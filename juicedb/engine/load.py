"""Loading dataset files into the workspace (the body of ``dataset('path')``).

A loaded dataset lives as a Parquet file in the workspace's ``data/`` folder
(readable by any Parquet tool: polars, pandas, Ray) and as a DuckDB view
``ds_<name>`` over it; the view is re-pointed when a workspace is opened, so a
workspace folder can be moved.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from juicedb.arrays import integers, numeric, strings
from juicedb.datasets import LoadError, read_jsonl
from juicedb.errors import DatasetError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv",
           ".tsv": "csv"}
OPTIONS = {"name", "text_key", "format"}
ROW_GROUP_ROWS = 4096
JSONL_CHUNK_ROWS = 8192
# A dataset's working copy is written once per load and read several times per run (each stage's
# inputs, the final rows). Uncompressed by default, like Data-Juicer's own cache (Arrow files): on the
# 200k-document pipeline LZ4 cost ~1 CPU-s of 8 (compressed at load, decompressed on every read) for 0.53x
# the bytes on disk, zstd more. $JUICEDB_DATASET_COMPRESSION trades it back for disk (lz4_raw, zstd, snappy).
COMPRESSION_ENV = "JUICEDB_DATASET_COMPRESSION"
COMPRESSIONS = {"uncompressed": "none", "lz4_raw": "lz4", "zstd": "zstd", "snappy": "snappy"}  # -> pyarrow's


def compression() -> str:
    """The working copies' Parquet compression (DuckDB's name), from ``$JUICEDB_DATASET_COMPRESSION``."""
    value = os.environ.get(COMPRESSION_ENV, "").strip().lower() or "uncompressed"
    if value == "lz4":
        value = "lz4_raw"
    if value not in COMPRESSIONS:
        raise DatasetError(f"${COMPRESSION_ENV}={value!r}: expected one of {', '.join(COMPRESSIONS)}")
    return value


@dataclass
class Loaded:
    table: str
    rows: int
    errors: int
    reused: bool


def detect_format(path: Path, given: str | None) -> str:
    if given:
        if given not in set(FORMATS.values()):
            raise DatasetError(f"format must be one of jsonl, parquet, csv; got {given!r}")
        return given
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    fmt = FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise DatasetError(f"{path.name}: cannot tell the format from the extension; expected one of "
                           f"{', '.join(sorted(FORMATS))} (optionally .gz), or pass format := 'jsonl'")
    return fmt


def table_name(path: Path, name: str | None) -> str:
    if name:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise DatasetError(f"dataset name must be an identifier (letters, digits, _), got {name!r}")
        return f"ds_{name}"
    stem = path.name.split(".", 1)[0]
    slug = re.sub(r"[^a-z0-9]+", "_", stem.lower()).strip("_")[:40] or "data"
    return f"ds_{slug}_{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"


def load_dataset(con: duckdb.DuckDBPyConnection, path: Path, options: dict[str, Any],
                 run_id: str | None, data_dir: Path) -> Loaded:
    unknown = set(options) - OPTIONS
    if unknown:
        raise DatasetError(f"dataset(): unknown option {sorted(unknown)[0]!r}; expected {', '.join(sorted(OPTIONS))}")
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path}")
    path = path.resolve()
    fmt = detect_format(path, options.get("format"))
    table = table_name(path, options.get("name"))
    st = path.stat()
    opts = json.dumps({k: v for k, v in sorted(options.items()) if k != "name"})
    row = next(iter(con.execute("SELECT path, size, mtime_ns, options, rows, errors FROM datasets WHERE name = ?",
                                [table]).fetchall()), None)
    parquet = data_dir / f"{table}.parquet"
    if row and parquet.is_file() and row[:4] == (str(path), st.st_size, st.st_mtime_ns, opts) \
            and _small_row_groups(con, parquet):
        return Loaded(table, row[4], row[5], True)
    text_key = options.get("text_key", "text")
    con.execute(f"DROP VIEW IF EXISTS {table}")
    con.execute("DELETE FROM errors WHERE dataset = ? AND op = 'load'", [table])
    # the file changed: its rows' stats are rebuilt from the cache by the next run (a removed row's
    # would linger, and the engine's "stats already cover every row" check would trust them)
    con.execute("DELETE FROM stats WHERE dataset = ?", [table])
    # and its kept stat tables hold the old file's rows, by row id
    drop_stat_tables(con, [n for (n,) in con.execute("SELECT table_name FROM jdb_cache.stat_tables WHERE dataset = ?",
                                                     [table]).fetchall()])
    data_dir.mkdir(parents=True, exist_ok=True)
    # Written next to the final file, then renamed: a failed load leaves the previous file intact.
    part = parquet.with_name(parquet.name + ".part")
    try:
        if fmt == "jsonl":
            errors = _load_jsonl(con, part, path, text_key, key_table_name(table, text_key))
        elif fmt == "parquet":
            errors = _load_parquet(con, part, path, text_key)
        else:
            errors = _load_columnar(con, part, path, fmt, text_key)
        part.replace(parquet)
        if fmt == "jsonl":
            _adopt_keys(con, table, text_key, parquet)
    finally:
        part.unlink(missing_ok=True)
        con.execute(f"DROP TABLE IF EXISTS {key_table_name(table, text_key)}{_LOADING}")  # a failed load's
    point_view(con, table, parquet)
    pa.default_memory_pool().release_unused()  # the parser's buffers: hand the pages back to the OS
    if errors:
        err = pa.table({  # noqa: F841 - read by the INSERT below
            "run_id": strings([run_id] * len(errors)),
            "dataset": strings([table] * len(errors)),
            "uid": integers([e.uid for e in errors]),
            "line": integers([e.line for e in errors]),
            "op": strings(["load"] * len(errors)),
            "message": strings([e.message for e in errors]),
            "raw": strings([e.raw for e in errors]),
        })
        con.execute("INSERT INTO errors BY NAME SELECT * FROM err")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.execute("INSERT OR REPLACE INTO datasets (name, path, format, options, size, mtime_ns, rows, errors) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [table, str(path), fmt, opts, st.st_size, st.st_mtime_ns, rows,
                                                   len(errors)])
    refresh_samples_view(con)
    return Loaded(table, rows, len(errors), False)


_LOADING = "__loading"  # the suffix of a key table the loader is still filling


def _adopt_keys(con: duckdb.DuckDBPyConnection, table: str, col: str, parquet: Path) -> None:
    """After a load that wrote ``parquet``: the loader's keys become the column's stored keys, valid for
    the file as it is now (a failed load's half-filled table is dropped by the caller)."""
    final = key_table_name(table, col)
    loading = final + _LOADING
    st = parquet.stat()
    con.execute(f"DROP TABLE IF EXISTS {final}")
    con.execute(f"ALTER TABLE {loading} RENAME TO {final.split('.', 1)[1]}")
    con.execute("INSERT OR REPLACE INTO jdb_cache.keys (dataset, col, size, mtime_ns, table_name) "
                "VALUES (?, ?, ?, ?, ?)", [table, col, st.st_size, st.st_mtime_ns, final])


def key_table_name(dataset: str, col: str) -> str:
    """Where a loaded dataset column's content keys (row id, md5 of the value) are stored."""
    return f"jdb_cache.k_{dataset}_{hashlib.sha1(col.encode()).hexdigest()[:8]}"


def content_key(expr: str) -> str:
    """SQL for the stats cache's key of a value: the md5 of its text, as a 128-bit number."""
    return f"md5_number(CAST(({expr}) AS VARCHAR))"


def drop_stat_tables(con: duckdb.DuckDBPyConnection, names: list[str]) -> None:
    """Drop kept stat tables (``jdb_cache.stat_tables``) and their registry rows."""
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DELETE FROM jdb_cache.stat_tables WHERE table_name = ?", [name])


def _small_row_groups(con: duckdb.DuckDBPyConnection, parquet: Path) -> bool:
    """Whether a dataset file has this version's row groups (an older workspace's file is rewritten
    once: the engine reads inputs by row-id range, and a big row group is decoded whole each time)."""
    biggest = con.execute(f"SELECT max(row_group_num_rows) FROM parquet_metadata('{sql_path(parquet)}')"
                          ).fetchall()[0][0]
    return biggest is None or biggest <= ROW_GROUP_ROWS


def _check_text_key(path: Path, cols: list[str], text_key: str) -> None:
    if text_key not in cols:
        raise DatasetError(f"{path.name}: expected a column {text_key!r}; found {', '.join(cols)}. "
                           f"Pass text_key := '<column>' to dataset()")


def _copy_to(con: duckdb.DuckDBPyConnection, query: str, out: Path) -> None:
    """Write a query's rows to the dataset's Parquet file, streaming.

    Small row groups: the engine reads a chunk of rows by row id range, decoding only its row groups.
    """
    con.execute(f"COPY ({query}) TO '{sql_path(out)}' (FORMAT parquet, COMPRESSION {compression()}, "
                f"ROW_GROUP_SIZE {ROW_GROUP_ROWS})")


def _load_jsonl(con: duckdb.DuckDBPyConnection, out: Path, path: Path, text_key: str, keys: str) -> list[LoadError]:
    """Parse chunk by chunk straight into the dataset's Parquet file (no chunk is held after it is
    written; a second thread writes and compresses a chunk while the next is parsed, and adds its texts'
    content keys to ``keys`` + ``_LOADING``, so that no run reads every text again to key it). A field
    first seen in a later chunk starts a new part; the parts are then unioned by column name in one
    streaming COPY (in order: row ids stay)."""
    from concurrent.futures import Future, ThreadPoolExecutor

    import pyarrow.parquet as pq

    errors: list[LoadError] = []
    parts: list[Path] = []
    writer: pq.ParquetWriter | None = None
    written: Future | None = None  # the previous chunk's write
    loading = keys + _LOADING
    codec = compression()
    con.execute(f"CREATE OR REPLACE TABLE {loading} (__rid BIGINT, key UHUGEINT)")
    cursor = con.cursor()  # the writer thread's
    rows = 0

    def write(w: pq.ParquetWriter, data: pa.Table, first: int) -> None:
        w.write_table(data, row_group_size=ROW_GROUP_ROWS)
        chunk = pa.table({"__rid": numeric(np.arange(first, first + data.num_rows), pa.int64()),  # noqa: F841
                          "v": data.column(text_key)})
        cursor.execute(f"INSERT INTO {loading} SELECT __rid, {content_key('v')} FROM chunk ORDER BY __rid")

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="juicedb-write") as io:
            for chunk in read_jsonl(path, text_key=text_key, chunk_rows=JSONL_CHUNK_ROWS):
                errors += chunk.errors
                data = chunk.table
                found = set(json.loads((data.schema.metadata or {}).get(b"juicedb.json_columns", b"[]")))
                data = data.replace_schema_metadata(None)
                for n in found:  # Parquet's JSON logical type: DuckDB reads the column as JSON
                    data = data.set_column(data.schema.get_field_index(n), n,
                                           data.column(n).cast(pa.json_(pa.string())))
                if written is not None:
                    written.result()
                    written = None
                if writer is not None and not set(data.column_names) <= set(writer.schema.names):
                    writer.close()
                    writer = None
                if writer is None:
                    parts.append(out.with_name(f"{out.name}.{len(parts)}"))
                    writer = pq.ParquetWriter(parts[-1], data.schema, compression=COMPRESSIONS[codec])
                for f in writer.schema:  # a field this chunk lacks: nulls
                    if f.name not in data.column_names:
                        data = data.append_column(f, pa.nulls(data.num_rows, f.type))
                written = io.submit(write, writer, data.select(writer.schema.names), rows)
                rows += data.num_rows
            if written is not None:
                written.result()
                written = None
        if writer is not None:
            writer.close()
            writer = None
        if not parts:
            _copy_to(con, f'SELECT NULL::BIGINT AS uid, NULL::VARCHAR AS "{text_key}" WHERE false', out)
        elif len(parts) == 1:
            parts[0].replace(out)
        else:
            files = ", ".join(f"'{sql_path(p)}'" for p in parts)
            _copy_to(con, f"SELECT * FROM read_parquet([{files}], union_by_name = true)", out)
    finally:
        if written is not None:
            written.exception()  # the write in flight ends before its file is closed or removed
        cursor.close()
        if writer is not None:
            writer.close()
        for p in parts:
            p.unlink(missing_ok=True)
    return errors


def _load_parquet(con: duckdb.DuckDBPyConnection, out: Path, path: Path, text_key: str) -> list[LoadError]:
    """A Parquet file streams into the dataset's file: one scan, no copy held in memory.

    Without a uid column, each row's uid is the md5 of its JSON (as for a JSONL line); rows equal
    in every column then share a uid, and only then is the file rewritten with occurrence numbers.
    """
    src = f"read_parquet('{sql_path(path)}')"
    try:
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
    except duckdb.Error as e:
        raise DatasetError(f"cannot read {path}: {e}") from None
    _check_text_key(path, cols, text_key)
    try:
        if "uid" in cols:
            _copy_to(con, f"SELECT * FROM {src}", out)
            return []
        _copy_to(con, f"SELECT (md5_number(to_json(s)::VARCHAR) >> 65)::BIGINT AS uid, * FROM {src} s", out)
    except duckdb.Error as e:
        raise DatasetError(f"cannot read {path}: {e}") from None
    repeated = con.execute(f"SELECT count(*) > count(DISTINCT uid) FROM read_parquet('{sql_path(out)}')"
                           ).fetchall()[0][0]
    if repeated:
        out.unlink()
        _load_columnar(con, out, path, "parquet", text_key)
    return []


def _load_columnar(con: duckdb.DuckDBPyConnection, out: Path, path: Path, fmt: str, text_key: str,
                   ) -> list[LoadError]:
    errors: list[LoadError] = []
    lit = "'" + str(path).replace("'", "''") + "'"
    if fmt == "parquet":
        src = f"read_parquet({lit})"
    else:
        con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
        src = f"read_csv({lit}, store_rejects = true)"
    try:
        con.execute(f"CREATE TEMP TABLE __jdb_src AS SELECT * FROM {src}")
    except duckdb.Error as e:
        raise DatasetError(f"cannot read {path}: {e}") from None
    try:
        if fmt == "csv":
            for line, msg, raw in con.execute(
                    "SELECT line, string_agg(DISTINCT error_message, '; '), any_value(csv_line) FROM reject_errors "
                    "GROUP BY line ORDER BY line").fetchall():
                errors.append(LoadError(line, None, f"malformed CSV line: {msg}", raw or ""))
        cols = [r[0] for r in con.execute("DESCRIBE __jdb_src").fetchall()]
        _check_text_key(path, cols, text_key)
        if "uid" in cols:
            _copy_to(con, "SELECT * FROM __jdb_src", out)
        else:
            # uid: md5 of the row's JSON plus its occurrence number, like JSONL lines.
            _copy_to(con, """
                WITH h AS (SELECT *, to_json(s)::VARCHAR AS __j, row_number() OVER () AS __pos FROM __jdb_src s),
                     o AS (SELECT *, row_number() OVER (PARTITION BY __j ORDER BY __pos) - 1 AS __n FROM h)
                SELECT (md5_number(CASE WHEN __n = 0 THEN __j ELSE __j || '#' || __n END) >> 65)::BIGINT AS uid,
                       * EXCLUDE (__j, __pos, __n)
                FROM o ORDER BY __pos""", out)
    finally:
        con.execute("DROP TABLE IF EXISTS __jdb_src")
    return errors


def sql_path(path: Path) -> str:
    """A path as the body of a SQL string literal."""
    return str(path.resolve()).replace("'", "''")


def point_view(con: duckdb.DuckDBPyConnection, table: str, parquet: Path) -> None:
    con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{sql_path(parquet)}')")


def reattach_datasets(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """Point every dataset view at this workspace's ``data/`` (the folder may have moved)."""
    for (name,) in con.execute("SELECT name FROM datasets").fetchall():
        parquet = data_dir / f"{name}.parquet"
        if parquet.is_file():
            point_view(con, name, parquet)
        else:
            con.execute(f"DROP VIEW IF EXISTS {name}")
    refresh_samples_view(con)


def refresh_samples_view(con: duckdb.DuckDBPyConnection) -> None:
    """``samples``: every loaded dataset, unioned by column name, with its name in ``dataset``."""
    names = [r[0] for r in con.execute(
        "SELECT d.name FROM datasets d JOIN duckdb_views() v ON v.view_name = d.name "
        "AND v.schema_name = 'main' ORDER BY d.name").fetchall()]
    if not names:
        body = "SELECT NULL::VARCHAR AS dataset, NULL::BIGINT AS uid, NULL::VARCHAR AS text WHERE false"
    else:
        body = " UNION ALL BY NAME ".join(f"SELECT '{n}' AS dataset, * FROM {n}" for n in names)
    con.execute(f"CREATE OR REPLACE VIEW samples AS {body}")
