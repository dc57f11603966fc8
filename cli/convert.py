"""``juicedb convert config.yaml``: the recipe SQL a Data-Juicer config runs as."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from juicedb import dj
from juicedb.cli.common import DjSetOpt, DjSkipMissingOpt, DjSkipOpt, console, dj_overrides, err_console


def convert(config: Annotated[Path, typer.Argument(help="Data-Juicer process config (.yaml).", exists=True,
                                                   dir_okay=False)],
            skip_missing: DjSkipMissingOpt = False, skip: DjSkipOpt = None, sets: DjSetOpt = None,
            output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the recipe to this file.")]
            = None) -> None:
    """Print the recipe.sql equivalent to a Data-Juicer process config; `juicedb run` runs the same SQL.

    Relative paths in the config are relative to the working directory, as in Data-Juicer; the recipe
    holds them absolute. Operators juicedb lacks are an error unless --skip-missing.
    """
    recipe = dj.translate(config, overrides=dj_overrides(sets), skip_missing=skip_missing, skip=skip or ())
    if output is None:
        console.print(recipe.sql, markup=False, highlight=False, end="", soft_wrap=True)
        return
    output.write_text(recipe.sql, encoding="utf-8")
    for step in recipe.skipped:
        err_console.print(f"skipped step {step.index} {step.op}: {step.reason}", markup=False)
    console.print(f"wrote {output}")
