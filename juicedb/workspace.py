"""The Python API: a workspace is a folder with a DuckDB database; every answer is an Arrow table.

>>> import tempfile, juicedb
>>> with juicedb.open(tempfile.mkdtemp()) as ws:
...     ws.sql("SELECT text_len('héllo') AS n, char_rep_ratio('aaaa aaaa', rep_len := 2) AS r").to_pylist()
[{'n': 5, 'r': 0.75}]
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from juicedb.compiler import Compiled
from juicedb.engine import Engine, RunState, StepSummary
from juicedb.engine.load import Loaded
from juicedb.registry import all_ops, format_bound
from juicedb.udfs.common.onnx import CACHE_ENV

DB_FILE = "juicedb.duckdb"


@dataclass
class RunReport:
    """What one ``run`` did: per-predicate counts, datasets loaded, tables written, the last result."""

    run_id: str
    recipe: str
    seconds: float
    rows_out: int | None
    output_table: str | None
    steps: list[StepSummary] = field(default_factory=list)
    loads: list[tuple[str, Loaded]] = field(default_factory=list)
    computed: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    result: pa.Table | None = None  # rows of the recipe's last statement when it is a query

    def summary_rows(self) -> list[dict[str, Any]]:
        return [{"statement": s.statement, "step": s.step, "predicate": s.predicate, "ops": ", ".join(s.ops),
                 "rows_in": s.rows_in, "computed": s.computed, "reused": s.reused, "kept": s.kept}
                for s in self.steps]

    def summary(self) -> pa.Table:
        return pa.Table.from_pylist(self.summary_rows(), schema=pa.schema([
            ("statement", pa.int64()), ("step", pa.int64()), ("predicate", pa.string()), ("ops", pa.string()),
            ("rows_in", pa.int64()), ("computed", pa.int64()), ("reused", pa.int64()), ("kept", pa.int64())]))


class Workspace:
    """A juicedb workspace: datasets, stats, trace, errors and runs in one DuckDB file.

    ``workers`` > 1 computes operator batches in parallel (the CLI uses one per core):
    on that many threads of this process for operators whose batches release the GIL
    (the compiled text kernels: ``OpSpec.threads``), else in that many spawned
    processes. As with any ``multiprocessing`` code, a script that sets it must guard
    its entry point with ``if __name__ == "__main__":``.

    ``engine="ray"`` computes operator batches as Ray Data jobs on the cluster at
    ``address`` (or the Ray instance this process started, or a new local one), with
    ``workers`` concurrent tasks or actors (default: the cluster's CPUs); planning,
    the stats cache, dedup clustering and the SQL stay here. Needs ``juicedb[ray]``.
    Each stage's inputs and stats travel as Parquet shards through ``shared_dir``, a
    folder every node can read and write (default: the workspace's ``tmp/ray`` when Ray
    runs on this machine); with an ``address`` and no ``shared_dir`` they go through
    Ray's object store.
    """

    def __init__(self, path: str | Path = ".juicedb", *, threads: int | None = None,
                 memory_limit: str | None = None, batch_rows: int | None = None,
                 workers: int | None = None, engine: str = "local", address: str | None = None,
                 shared_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        # converted models (ONNX) live in the workspace unless the user keeps one cache for all
        # (set before the engine spawns operator workers, which inherit it)
        os.environ.setdefault(CACHE_ENV, str((self.path / "models").resolve()))
        self.engine = Engine(str(self.path / DB_FILE), threads=threads, memory_limit=memory_limit,
                             batch_rows=batch_rows, workers=workers, backend=engine, address=address,
                             shared_dir=shared_dir)
        self.last_run: RunReport | None = None

    # context manager -------------------------------------------------------
    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.close()

    # running ---------------------------------------------------------------
    def run(self, recipe: str | Path, *, trace: bool = True, trace_mappers: bool = False,
            on_progress: Callable[[str, int, int], None] | None = None, fetch: bool = True) -> pa.Table:
        """Run a recipe (a ``.sql`` file or SQL text); return the last SELECT's rows or the last table written.

        Relative paths in a recipe file are relative to the file. ``fetch=False``: the last table written
        is not read back (an empty table is returned; its row count is in ``last_run``), as the CLI runs
        a recipe: a large output costs no memory in this process.
        """
        script, base_dir, name = _read_recipe(recipe)
        state = RunState(run_id=_new_run_id(), trace=trace, trace_mappers=trace_mappers, on_progress=on_progress)
        started = datetime.now(timezone.utc).replace(tzinfo=None)
        t0 = time.perf_counter()
        con = self.engine.con
        con.execute("INSERT INTO runs (run_id, recipe, started, status) VALUES (?, ?, ?, 'running')",
                    [state.run_id, name, started])
        try:
            result, last_table = self.engine.execute_script(script, base_dir=base_dir, run=state)
        except BaseException as e:
            con.execute("UPDATE runs SET status = ?, finished = now() WHERE run_id = ?",
                        [f"failed: {type(e).__name__}: {e}"[:500], state.run_id])
            raise
        query_result, rows_out = result, None
        if result is None and last_table:
            if fetch:
                result = con.sql(f"SELECT * FROM {last_table}").to_arrow_table()
            else:
                rows_out = con.execute(f"SELECT count(*) FROM {last_table}").fetchall()[0][0]
        if result is not None:
            rows_out = result.num_rows
        report = RunReport(state.run_id, name, time.perf_counter() - t0, rows_out, last_table, state.steps,
                           state.loads, state.calls_computed, state.tables, query_result)
        con.execute("UPDATE runs SET status = 'ok', finished = now(), rows_out = ?, summary = ? WHERE run_id = ?",
                    [report.rows_out, json.dumps(report.summary_rows()), state.run_id])
        self.last_run = report
        return result if result is not None else pa.table({})

    def sql(self, query: str) -> pa.Table:
        """Run SQL with every operator available; returns the last statement's rows (empty if none)."""
        result, _ = self.engine.execute_script(query)
        return result if result is not None else pa.table({})

    def explain(self, recipe: str | Path) -> str:
        """The plan of a recipe: stages, predicate order with estimates, and the SQL DuckDB runs."""
        script, base_dir, _ = _read_recipe(recipe)
        return "\n".join(explain_statement(c) for c in self.engine.compile(script, base_dir))

    def compile(self, recipe: str | Path) -> list[Compiled]:
        script, base_dir, _ = _read_recipe(recipe)
        return self.engine.compile(script, base_dir)

    def load(self, path: str | Path, **options: Any) -> str:
        """Load a dataset file; returns its table name (what ``dataset(path)`` resolves to)."""
        from juicedb.compiler.plan import DatasetRef
        return self.engine.dataset_table(DatasetRef(str(Path(path).resolve()), tuple(sorted(options.items()))))

    # reading ---------------------------------------------------------------
    def table(self, name: str) -> pa.Table:
        return self.engine.con.sql(f"SELECT * FROM {name}").to_arrow_table()

    def stats(self) -> pa.Table:
        return self.table("stats")

    def write_table(self, name: str, table: pa.Table) -> None:
        """Store an Arrow table as workspace table ``name`` (replacing it), queryable in the shell."""
        self.engine.write_table(name, table)

    def errors(self) -> pa.Table:
        return self.table("errors")

    def trace(self) -> pa.Table:
        return self.table("trace")


def open(path: str | Path = ".juicedb", **kwargs: Any) -> Workspace:
    """Open (or create) the workspace at ``path``."""
    return Workspace(path, **kwargs)


def ops_table() -> pa.Table:
    """The operator catalogue: name, kind, SQL functions, params with defaults, cost class."""
    rows = []
    for s in all_ops():
        functions = [st.key for st in s.stats] if s.kind != "mapper" else [s.sql_name]
        if s.kind == "deduplicator":
            functions.append(s.name)
        rows.append({
            "op": s.name, "kind": s.kind, "modality": s.modality,
            "sql": ", ".join(functions),
            "params": ", ".join(f"{p.name} := {p.default!r}" for p in s.params),
            "bounds": ", ".join(f"{b.name} := {format_bound(b.default)}" for b in s.bounds),
            "cost": s.cost,
        })
    return pa.Table.from_pylist(rows)


def explain_statement(c: Compiled) -> str:
    ctx = c.ctx
    lines = [f"-- statement {ctx.index + 1} (line {c.line}): {c.kind}"]
    for ref, table in ctx.datasets:
        lines.append(f"--   dataset {ref.path} -> {table}")
    lines += [f"--   note: {n}" for n in ctx.notes]
    if c.kind == "planned":
        lines.append(f"--   source: {ctx.base_sql}")
        for n, stage in enumerate(ctx.stages, 1):
            computes = ", ".join(ctx.calls[i].written for i in stage.calls) or "nothing new"
            lines.append(f"--   stage {n} [{stage.cost_class or 'sql'}]: compute {computes}")
            for i in stage.conjuncts:
                cj = ctx.conjuncts[i]
                est = cj.estimate
                known = (f"pass {est.pass_rate:.3f}, cached {est.cached:.0%}" if est.pass_rate is not None
                         else "no stats yet")
                lines.append(f"--     {i + 1}. {cj.written}    (written #{cj.position}; {known}; "
                             f"rank {cj.rank:.2f})")
        if ctx.post_calls:
            lines.append("--   then on the survivors: compute "
                         + ", ".join(ctx.calls[i].written for i in ctx.post_calls))
    lines.append(c.sql.rstrip(";") + ";")
    return "\n".join(lines)


def _read_recipe(recipe: str | Path) -> tuple[str, Path | None, str]:
    if isinstance(recipe, Path) or (isinstance(recipe, str) and "\n" not in recipe
                                    and recipe.strip().lower().endswith(".sql")):
        path = Path(recipe)
        if not path.is_file():
            from juicedb.errors import RecipeError
            raise RecipeError(f"recipe file not found: {path}")
        return path.read_text(encoding="utf-8"), path.resolve().parent, str(path)
    return str(recipe), None, "<sql>"


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
