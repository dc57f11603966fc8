"""Loading dataset files into the workspace (the body of ``dataset('path')``).

A loaded dataset lives as a Parquet file in the workspace's ``data/`` folder
(readable by any Parquet tool: polars, pandas, Ray) and as a DuckDB view
``ds_<name>`` over it; the view is re-pointed when a workspace is opened, so a
workspace folder can be moved.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from juicedb.datasets import LoadError, read_jsonl
from juicedb.errors import DatasetError

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".csv": "csv",
           ".tsv": "csv"}
OPTIONS = {"name", "text_key", "format"}


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
    if row and parquet.is_file() and row[:4] == (str(path), st.st_size, st.st_mtime_ns, opts):
        return Loaded(table, row[4], row[5], True)
    text_key = options.get("text_key", "text")
    con.execute(f"DROP VIEW IF EXISTS {table}")
    con.execute("DELETE FROM errors WHERE dataset = ? AND op = 'load'", [table])
    staging = f"__jdb_load_{table}"
    con.execute(f"DROP TABLE IF EXISTS {staging}")
    if fmt == "jsonl":
        errors = _load_jsonl(con, staging, path, text_key)
    else:
        errors = _load_columnar(con, staging, path, fmt, text_key)
    data_dir.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY {staging} TO '{_sql_path(parquet)}' (FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"DROP TABLE {staging}")
    point_view(con, table, parquet)
    if errors:
        err = pa.table({  # noqa: F841 - read by the INSERT below
            "run_id": pa.array([run_id] * len(errors), pa.string()),
            "dataset": pa.array([table] * len(errors), pa.string()),
            "uid": pa.array([e.uid for e in errors], pa.int64()),
            "line": pa.array([e.line for e in errors], pa.int64()),
            "op": pa.array(["load"] * len(errors), pa.string()),
            "message": pa.array([e.message for e in errors], pa.string()),
            "raw": pa.array([e.raw for e in errors], pa.string()),
        })
        con.execute("INSERT INTO errors BY NAME SELECT * FROM err")
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    con.execute("INSERT OR REPLACE INTO datasets (name, path, format, options, size, mtime_ns, rows, errors) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [table, str(path), fmt, opts, st.st_size, st.st_mtime_ns, rows,
                                                   len(errors)])
    refresh_samples_view(con)
    return Loaded(table, rows, len(errors), False)


def _load_jsonl(con: duckdb.DuckDBPyConnection, table: str, path: Path, text_key: str) -> list[LoadError]:
    errors: list[LoadError] = []
    columns: dict[str, str] = {}
    for chunk in read_jsonl(path, text_key=text_key):
        errors += chunk.errors
        data = chunk.table
        json_cols = set(json.loads((data.schema.metadata or {}).get(b"juicedb.json_columns", b"[]")))
        select = ", ".join(f'"{n}"::JSON AS "{n}"' if n in json_cols else f'"{n}"' for n in data.column_names)
        if not columns:
            con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM data")
        else:
            for n in data.column_names:
                if n not in columns:
                    kind = "JSON" if n in json_cols else ("VARCHAR[]" if pa.types.is_list(data.schema.field(n).type)
                                                          else "VARCHAR")
                    con.execute(f'ALTER TABLE {table} ADD COLUMN "{n}" {kind}')
            con.execute(f"INSERT INTO {table} BY NAME SELECT {select} FROM data")
        columns.update(dict.fromkeys(data.column_names, ""))
    if not columns:
        con.execute(f'CREATE TABLE {table} (uid BIGINT, "{text_key}" VARCHAR)')
    return errors


def _load_columnar(con: duckdb.DuckDBPyConnection, table: str, path: Path, fmt: str, text_key: str,
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
        if text_key not in cols:
            raise DatasetError(f"{path.name}: expected a column {text_key!r}; found {', '.join(cols)}. "
                               f"Pass text_key := '<column>' to dataset()")
        if "uid" in cols:
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM __jdb_src")
        else:
            # uid: md5 of the row's JSON plus its occurrence number, like JSONL lines.
            con.execute(f"""
                CREATE TABLE {table} AS
                WITH h AS (SELECT *, to_json(s)::VARCHAR AS __j, row_number() OVER () AS __pos FROM __jdb_src s),
                     o AS (SELECT *, row_number() OVER (PARTITION BY __j ORDER BY __pos) - 1 AS __n FROM h)
                SELECT (md5_number(CASE WHEN __n = 0 THEN __j ELSE __j || '#' || __n END) >> 65)::BIGINT AS uid,
                       * EXCLUDE (__j, __pos, __n)
                FROM o ORDER BY __pos""")
    finally:
        con.execute("DROP TABLE IF EXISTS __jdb_src")
    return errors


def _sql_path(path: Path) -> str:
    return str(path.resolve()).replace("'", "''")


def point_view(con: duckdb.DuckDBPyConnection, table: str, parquet: Path) -> None:
    con.execute(f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{_sql_path(parquet)}')")


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
