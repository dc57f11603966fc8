"""``juicedb run recipe.sql|config.yaml``: run a recipe or a Data-Juicer config, show progress and a summary."""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import juicedb
from juicedb import dj
from juicedb.cli.common import (
    DEFAULT_WORKSPACE,
    DjSetOpt,
    DjSkipMissingOpt,
    DjSkipOpt,
    WorkspaceOpt,
    console,
    dj_overrides,
    print_table,
)

DJ_SUFFIXES = (".yaml", ".yml")


class Engine(str, Enum):
    local = "local"
    ray = "ray"


def run(recipe: Annotated[Path, typer.Argument(help="Recipe .sql file, or a Data-Juicer process config (.yaml).",
                                               exists=True, dir_okay=False)],
        workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
        trace_mappers: Annotated[bool, typer.Option(help="Record before/after of every row a mapper changed.")]
        = False,
        threads: Annotated[int | None, typer.Option(help="DuckDB threads and operator worker processes "
                                                    "(default: a config's np, else all cores).")] = None,
        memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 8GB (default 2GB; "
                                                         "spills to the workspace beyond it).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
        engine: Annotated[Engine, typer.Option(
            help="Where operator batches run: local processes, or Ray Data jobs (needs juicedb\\[ray]; "
                 "planning, the stats cache and the SQL stay local).")] = Engine.local,
        address: Annotated[str | None, typer.Option(
            help="Ray cluster to use with --engine ray, e.g. auto or ray://head:10001 (default: start a local "
                 "one).")] = None,
        shared_dir: Annotated[Path | None, typer.Option(
            help="With --engine ray: a folder every node reads and writes; each stage's inputs and stats travel "
                 "through it as Parquet shards (default: the workspace's tmp/ray when Ray runs on this machine; "
                 "with --address and no folder, through Ray's object store).")] = None,
        skip_missing: DjSkipMissingOpt = False, skip: DjSkipOpt = None, sets: DjSetOpt = None,
        dj_trace: Annotated[Path | None, typer.Option(
            "--dj-trace", help="Also write Data-Juicer's tracer files (<folder>/trace/*.jsonl) from this run's "
                               "trace.")] = None) -> None:
    """Run a recipe: load its datasets, compute missing stats survivors-first, write its outputs.

    A Data-Juicer config (.yaml) runs as the recipe `juicedb convert` prints; the operators it names that
    juicedb lacks are listed before any data is read.
    """
    config = recipe.suffix.lower() in DJ_SUFFIXES
    if address is not None and engine is not Engine.ray:
        raise typer.BadParameter("--address is the Ray cluster of --engine ray", param_hint="--address")
    if shared_dir is not None and engine is not Engine.ray:
        raise typer.BadParameter("--shared-dir is the shard folder of --engine ray", param_hint="--shared-dir")
    if not config and (skip_missing or skip or sets):
        raise typer.BadParameter("--skip-missing, --skip and --set apply to Data-Juicer configs (.yaml), "
                                 f"not to {recipe.name}", param_hint="RECIPE")
    plan = dj.translate(recipe, overrides=dj_overrides(sets), skip_missing=skip_missing, skip=skip or ()) \
        if config else None
    if plan is not None:
        ran = sum(s.role != "skipped" for s in plan.steps)
        console.print(f"Data-Juicer config {recipe}: {ran} of {len(plan.steps)} operators run in juicedb")
        for step in plan.skipped:
            console.print(f"  [yellow]skipped[/yellow] step {step.index} {step.op}: {step.reason}", highlight=False)
        for note in plan.notes:
            console.print(f"  note: {note}", markup=False, highlight=False)
    cores = os.cpu_count() or 1
    workers = threads or (min(plan.np, cores) if plan is not None and plan.np else cores)
    if engine is Engine.ray:  # this machine's cores say nothing of the cluster's: Ray's CPUs unless --threads
        workers = threads
    files: list[str] = []
    with juicedb.open(workspace, threads=threads, workers=workers, memory_limit=memory_limit, engine=engine.value,
                      address=address, shared_dir=shared_dir) as ws, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=quiet) as progress:
        tasks: dict[str, int] = {}

        def on_progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(f"computing {label[:60]}", total=total)
            progress.update(tasks[label], completed=done)

        if plan is not None:
            files = dj.run_config(ws, plan, trace_mappers=trace_mappers, on_progress=on_progress, fetch=False).files
        else:  # the tables a recipe writes stay in the workspace: nothing read back here
            ws.run(recipe, trace_mappers=trace_mappers or dj_trace is not None, on_progress=on_progress, fetch=False)
        report = ws.last_run
        assert report is not None
        if dj_trace is not None:
            files += dj.export_trace(ws, dj_trace, run_id=report.run_id)
    for path, loaded in report.loads:
        state = "reused" if loaded.reused else "loaded"
        console.print(f"dataset {path}: {state} {loaded.rows} rows into {loaded.table}"
                      + (f", [yellow]{loaded.errors} bad lines in `errors`[/yellow]" if loaded.errors else ""))
    if report.steps:
        print_table(report.summary().drop_columns(["ops"]), title="per predicate")
    for table, rows in report.tables.items():
        console.print(f"table {table}: {rows} rows")
    for path in files:
        console.print(f"wrote {path}", highlight=False)
    if report.result is not None:
        print_table(report.result, title="result of the last statement")
    console.print(f"run {report.run_id}: {report.computed} stat values computed in {report.seconds:.2f} s; "
                  "see `juicedb shell` for stats, trace, errors")
