"""``juicedb explain recipe.sql``: the plan and the SQL, without running it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import juicedb
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console


def explain(recipe: Annotated[Path, typer.Argument(help="Recipe .sql file.", exists=True, dir_okay=False)],
            workspace: WorkspaceOpt = DEFAULT_WORKSPACE) -> None:
    """Show each statement's stages, predicate order (with estimates from cached stats) and final SQL.

    Datasets the recipe names are loaded (once) so that estimates can be read.
    """
    with juicedb.open(workspace) as ws:
        console.print(ws.explain(recipe), markup=False, highlight=False)
