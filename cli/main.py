"""The ``juicedb`` application: registers the commands and maps errors to exit codes in one place."""

from __future__ import annotations

import gc
import sys

import duckdb
import typer
from rich.markup import escape

from juicedb.cli.analyze import analyze
from juicedb.cli.common import err_console
from juicedb.cli.convert import convert
from juicedb.cli.explain import explain
from juicedb.cli.models import models
from juicedb.cli.ops import ops
from juicedb.cli.refine import refine
from juicedb.cli.run import run
from juicedb.cli.sandbox import app as sandbox_app
from juicedb.cli.shell import shell
from juicedb.errors import JuicedbError

app = typer.Typer(name="juicedb", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Data-Juicer-compatible data processing on DuckDB: recipes are SQL.")
app.command()(run)
app.command()(explain)
app.command()(convert)
app.command()(shell)
app.command()(ops)
app.command()(models)
app.add_typer(sandbox_app, name="sandbox")
app.command()(analyze)
app.command()(refine)


def main() -> None:
    """Console entry point: known errors print one clear line and exit with their code."""
    try:
        app()  # usage errors are typer's: it prints them and exits 2
    except JuicedbError as e:
        err_console.print(f"[red]error:[/red] {escape(str(e))}")  # "juicedb[ray]" is not markup
        sys.exit(e.exit_code)
    except duckdb.Error as e:
        err_console.print(f"[red]SQL error:[/red] {escape(str(e))}")
        sys.exit(2)
    finally:
        # The interpreter's exit runs the cyclic GC over every object left, numba's compiler and type
        # system included (~0.4 s after a text pipeline); frozen objects are skipped. Files and the
        # workspace are closed by then, and nothing of ours relies on a finaliser of a cycle at exit.
        gc.freeze()
