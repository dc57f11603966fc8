"""The sandbox's one door to the workspace database: its schema, parameterised SQL, and the jobs table.

Everything the sandbox keeps lives in workspace tables (``sql/sandbox.sql``): buckets, pools and
their members, jobs and metrics. A job row is written ``running`` when it starts and ``done``
with its metrics in one transaction when it ends, so a run killed midway leaves every finished
job finished and at most one job to redo.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from typing import Any

import pyarrow as pa

from juicedb.workspace import Workspace


class Store:
    """Parameterised SQL over the workspace's DuckDB connection, with the sandbox schema in place."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.con = ws.engine.con
        self.con.execute(resources.files("juicedb.sql").joinpath("sandbox.sql").read_text())

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        self.con.execute(sql, list(params) if params is not None else None)

    def rows(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, list(params) if params is not None else None).fetchall()

    def one(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=list(params) if params is not None else None).to_arrow_table()

    def write_table(self, name: str, table: pa.Table) -> None:
        self.ws.write_table(name, table)

    def replace_rows(self, table: str, key: dict[str, Any], rows: pa.Table) -> None:
        """Delete ``table``'s rows matching ``key``, then insert ``rows`` (created from them if missing)."""
        view = "__jdb_sandbox_rows"
        self.con.register(view, rows)
        try:
            exists = self.one("SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'",
                              [table])
            if not exists:
                self.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {view} LIMIT 0')
            else:  # a newer juicedb may report more columns: add them, the other sandboxes' rows stay
                have = {r[0] for r in self.rows(f'DESCRIBE "{table}"')}
                for name, kind, *_ in self.rows(f"DESCRIBE {view}"):
                    if name not in have:
                        self.execute(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {kind}')
            where = " AND ".join(f'"{k}" = ?' for k in key) or "true"
            self.execute("BEGIN TRANSACTION")
            self.execute(f'DELETE FROM "{table}" WHERE {where}', list(key.values()))
            self.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM {view}')
            self.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister(view)

    # ------------------------------------------------------------------ jobs

    def finished_job(self, job: str) -> dict[str, tuple[float, bool]] | None:
        """The metrics of a finished job, or None when it never finished."""
        status = self.one("SELECT status FROM sandbox_jobs WHERE job = ?", [job])
        if status != "done":
            return None
        return {m: (v, hib) for m, v, hib in self.rows(
            "SELECT metric, value, higher_is_better FROM sandbox_metrics WHERE job = ? ORDER BY metric", [job])}

    def start_job(self, job: str, **fields: Any) -> None:
        self.execute("DELETE FROM sandbox_jobs WHERE job = ?", [job])
        self.execute("DELETE FROM sandbox_metrics WHERE job = ?", [job])
        cols = ["job", "status", "started", *fields]
        self.execute(f"INSERT INTO sandbox_jobs ({', '.join(cols)}) VALUES (?, 'running', now(), "
                     f"{', '.join('?' for _ in fields)})", [job, *fields.values()])

    def finish_job(self, job: str, metrics: Sequence[tuple[str, float, bool]], *, seconds: float, artifact: str,
                   info: dict[str, Any]) -> None:
        self.execute("BEGIN TRANSACTION")
        try:
            for name, value, hib in metrics:
                self.execute("INSERT INTO sandbox_metrics VALUES (?, ?, ?, ?)", [job, name, value, hib])
            self.execute("UPDATE sandbox_jobs SET status = 'done', seconds = ?, artifact = ?, info = ?, "
                         "finished = now() WHERE job = ?", [seconds, artifact, json.dumps(info, default=str), job])
            self.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def fail_job(self, job: str, message: str) -> None:
        self.execute("UPDATE sandbox_jobs SET status = ?, finished = now() WHERE job = ?",
                     [f"failed: {message}"[:500], job])
