"""``juicedb run recipe.sql``: run a recipe, show progress and a per-predicate summary."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import juicedb
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console, print_table


def run(recipe: Annotated[Path, typer.Argument(help="Recipe .sql file.", exists=True, dir_okay=False)],
        workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
        trace_mappers: Annotated[bool, typer.Option(help="Record before/after of every row a mapper changed.")]
        = False,
        threads: Annotated[int | None, typer.Option(help="DuckDB threads and operator worker processes "
                                                    "(default: all cores).")] = None,
        memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 8GB (default 2GB; "
                                                         "spills to the workspace beyond it).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Run a recipe: load its datasets, compute missing stats survivors-first, write its outputs."""
    workers = threads or os.cpu_count() or 1
    with juicedb.open(workspace, threads=threads, workers=workers, memory_limit=memory_limit) as ws, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=quiet) as progress:
        tasks: dict[str, int] = {}

        def on_progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(f"computing {label[:60]}", total=total)
            progress.update(tasks[label], completed=done)

        ws.run(recipe, trace_mappers=trace_mappers, on_progress=on_progress)
        report = ws.last_run
    assert report is not None
    for path, loaded in report.loads:
        state = "reused" if loaded.reused else "loaded"
        console.print(f"dataset {path}: {state} {loaded.rows} rows into {loaded.table}"
                      + (f", [yellow]{loaded.errors} bad lines in `errors`[/yellow]" if loaded.errors else ""))
    if report.steps:
        print_table(report.summary().drop_columns(["ops"]), title="per predicate")
    for table, rows in report.tables.items():
        console.print(f"table {table}: {rows} rows")
    if report.result is not None:
        print_table(report.result, title="result of the last statement")
    console.print(f"run {report.run_id}: {report.computed} stat values computed in {report.seconds:.2f} s; "
                  "see `juicedb shell` for stats, trace, errors")
