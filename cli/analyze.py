"""``juicedb analyze recipe.sql | data.jsonl``: Data-Juicer's analysis of the stats, as tables and a report."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import juicedb
from juicedb.analysis import analyze as run_analysis
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console, print_table

DESCRIBE_SHOWN = ("stat", "count", "mean", "std", "min", "25%", "50%", "75%", "max")


def analyze(target: Annotated[Path, typer.Argument(help="A recipe (.sql) or a dataset file (.jsonl, .parquet, .csv).",
                                                   exists=True, dir_okay=False)],
            workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
            op: Annotated[list[str] | None, typer.Option(
                "--op", help="For a dataset: a stat to compute, e.g. alnum_ratio or 'char_rep_ratio(text, rep_len "
                ":= 5)' (repeat it; default: the model-free text stats).")] = None,
            text_key: Annotated[str | None, typer.Option(help="For a dataset: the text field (default text).")]
            = None,
            percentile: Annotated[list[float] | None, typer.Option(
                "--percentile", "-p", help="Another percentile to describe, e.g. 0.9 (repeat it; 25/50/75 always).")]
            = None,
            clusters: Annotated[int, typer.Option("--clusters", "-k", help="Groups to cluster the stats into.")] = 3,
            k_sigma: Annotated[float, typer.Option(help="k of the k-sigma thresholds shown for the recipe.")] = 3.0,
            out: Annotated[Path | None, typer.Option(
                "--out", "-o", help="Folder for report.html and the PNGs (default: <workspace>/analysis/<name>).")]
            = None,
            report: Annotated[bool, typer.Option(help="Write the PNGs and report.html (needs matplotlib: "
                                                      "pip install 'juicedb\\[analysis]'); --no-report: tables only.")]
            = True,
            diversity: Annotated[bool, typer.Option(help="Also the verb-noun diversity (spaCy; text-models extra).")]
            = False,
            diversity_rows: Annotated[int | None, typer.Option(help="Verb-noun analysis on a seeded sample of this "
                                                                    "many rows (default: all).")] = None,
            threads: Annotated[int | None, typer.Option(help="DuckDB threads and operator worker processes "
                                                        "(default: all cores).")] = None,
            memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 8GB.")] = None,
            quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Compute the stats a recipe (or a dataset) needs, describe them as Data-Juicer's analyzer does, and
    write histograms, box plots, a correlation heatmap, the stat clusters and report.html.

    The stats are computed through the stats cache (once; a re-run computes nothing) on every row;
    every number is also a workspace table: analysis_describe, analysis_correlation,
    analysis_clusters, analysis_thresholds, analysis_stats (and analysis_diversity).
    """
    name = target.name.split(".")[0] or "analysis"
    out_dir = (out if out is not None else workspace / "analysis" / name) if report else None
    workers = threads or os.cpu_count() or 1
    with juicedb.open(workspace, threads=threads, workers=workers, memory_limit=memory_limit) as ws, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True, disable=quiet) as progress:
        tasks: dict[str, int] = {}

        def on_progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(f"computing {label[:60]}", total=total)
            progress.update(tasks[label], completed=done)

        result = run_analysis(ws, target, ops=op or None, text_key=text_key, percentiles=percentile or (),
                              clusters=clusters, k_sigma=k_sigma, out_dir=out_dir, diversity=diversity,
                              diversity_rows=diversity_rows, on_progress=on_progress)
    shown = [c for c in result.describe.column_names if c in DESCRIBE_SHOWN or c.endswith("%")]
    print_table(result.describe.select(shown), title="stats (Data-Juicer's describe: analysis_describe)")
    if result.thresholds.num_rows:
        print_table(result.thresholds.select(["predicate", "param", "old", "new", "origin", "kept_old", "kept_new"]),
                    title=f"the recipe's thresholds and their {k_sigma:g}-sigma refinement (analysis_thresholds)")
    groups: dict[int, list[str]] = {}
    for row in result.clusters.to_pylist():
        groups.setdefault(row["cluster"], []).append(row["stat"])
    for g, stats in sorted(groups.items()):
        console.print(f"cluster {g}: {', '.join(stats)}")
    if result.diversity is not None:
        print_table(result.diversity, title="top verbs x top nouns (analysis_diversity)", max_rows=20)
    console.print(f"{result.stats.num_rows} rows, {len(result.describe)} stats: {result.computed} stat values "
                  f"computed (the rest from the cache) in {result.seconds:.2f} s")
    if result.report is not None:
        console.print(f"report: {result.report}")
