"""``juicedb sandbox run|pools|jobs``: the Probe-Analyze-Refine workflow and its pools, thin over juicedb.sandbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

import juicedb
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console, print_table

app = typer.Typer(name="sandbox", no_args_is_help=True, add_completion=False,
                  help="Data pools, trained models and the Probe-Analyze-Refine workflow.")


@app.command("run")
def run(config: Annotated[Path, typer.Argument(help="Sandbox config (.yaml).", exists=True, dir_okay=False)],
        workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
        output: Annotated[Path | None, typer.Option(help="Folder for the report, plots and refined recipe "
                                                    "(default: the config's `output`).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the summary.")] = False) -> None:
    """Run a sandbox config: pools, training jobs, ranking, combinations, duplication, refined recipe, report.

    Resumable: a job that finished (same pool content, trainer, evaluators, seed) is never trained again.
    """
    from juicedb.sandbox import config as sandbox_config
    from juicedb.sandbox import run_sandbox
    cfg = sandbox_config.load(config)
    if output is not None:
        cfg.output = output.resolve()
    t0 = time.perf_counter()

    def log(line: str) -> None:
        if not quiet:
            console.print(f"{time.perf_counter() - t0:7.1f}s {line}", markup=False, highlight=False, emoji=False,
                          soft_wrap=True)

    with juicedb.open(cfg.workspace or workspace) as ws:
        res = run_sandbox(ws, cfg, log=log)
    console.print(f"sandbox {cfg.name}: {res.trained} jobs trained, {res.reused} reused, {res.seconds:.0f} s")
    if res.ranking:
        best = res.ranking[0]
        console.print(f"best single-OP pool: {best.label} {best.mean:+.2f}% ± {best.std:.2f}% over random")
    for a in res.agreement:
        console.print(f"Spearman rank agreement, seeds {a['seed_a']} and {a['seed_b']}: {a['spearman']:.3f}")
    if res.refined:
        r = res.refined
        console.print(f"refined recipe: {res.recipe_path} ({r['rows']} samples); "
                      f"{'beats' if r['beats_random'] else 'does not beat'} random beyond seed noise "
                      f"(Welch p = {r['p_value'] if r['p_value'] is None else round(r['p_value'], 4)})")
    console.print(f"report: {res.report}")


@app.command("pools")
def pools(workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
          max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 100) -> None:
    """The pools in the workspace: kind, size, parents, seed, definition hash (`SELECT * FROM pool('name')`)."""
    from juicedb.sandbox import Pools, Store
    with juicedb.open(workspace) as ws:
        table = Pools(Store(ws)).list().drop_columns(["definition", "uids_hash"])
        print_table(table, max_rows=max_rows)


@app.command("jobs")
def jobs(workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
         sandbox: Annotated[str | None, typer.Option(help="Only this sandbox's jobs.")] = None,
         max_rows: Annotated[int, typer.Option(help="Rows to print.")] = 100) -> None:
    """Training jobs: pool, seed, budget scale, status, seconds."""
    from juicedb.sandbox import Store
    with juicedb.open(workspace) as ws:
        where, params = ("WHERE sandbox = ?", [sandbox]) if sandbox else ("", [])
        print_table(Store(ws).arrow(
            f"SELECT sandbox, stage, pool, seed, scale, status, round(seconds, 2) AS seconds, finished "
            f"FROM sandbox_jobs {where} ORDER BY started", params), max_rows=max_rows)
