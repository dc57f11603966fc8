"""``juicedb refine recipe.sql --k-sigma 3``: a copy of the recipe with thresholds from its stats."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

import juicedb
from juicedb.analysis import refine as run_refine
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console, print_table


def refine(recipe: Annotated[Path, typer.Argument(help="Recipe .sql file.", exists=True, dir_okay=False)],
           workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
           k_sigma: Annotated[float | None, typer.Option(
               help="Data-Juicer's k-sigma rule: a lower bound becomes mean - k*std, an upper one mean + k*std "
                    "(the default, k = 3).")] = None,
           percentiles: Annotated[tuple[float, float] | None, typer.Option(
               help="Instead: a lower bound becomes the LO percentile, an upper one the HI one, e.g. 0.05 0.95.")]
           = None,
           output: Annotated[Path | None, typer.Option(
               "--output", "-o", help="Where to write the refined recipe (default: <recipe>.refined.sql).")] = None,
           threads: Annotated[int | None, typer.Option(help="DuckDB threads and operator worker processes "
                                                       "(default: all cores).")] = None,
           memory_limit: Annotated[str | None, typer.Option(help="DuckDB memory limit, e.g. 8GB.")] = None) -> None:
    """Write a refined copy of a recipe: each threshold it writes is replaced by one computed from the
    stats of all its rows, with a comment naming where each number came from.

    The stats come from the stats cache (computed once, e.g. by `juicedb analyze`), so refining and
    then running the refined recipe compute no stat again.
    """
    workers = threads or os.cpu_count() or 1
    with juicedb.open(workspace, threads=threads, workers=workers, memory_limit=memory_limit) as ws:
        result = run_refine(ws, recipe, k_sigma=k_sigma, percentiles=percentiles, output=output)
    print_table(result.thresholds.select(["line", "predicate", "param", "old", "new", "origin", "kept_old",
                                          "kept_new"]), title="thresholds (analysis_refinement)")
    console.print(f"wrote {result.path}: {result.thresholds.num_rows} thresholds; {result.computed} stat values "
                  f"computed (0: all from the cache) in {result.seconds:.2f} s")
    console.print(f"run it: juicedb run {result.path} -w {workspace}")
