"""``juicedb shell``: interactive SQL over the workspace, every operator registered."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer

import juicedb
from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, console, err_console, print_table
from juicedb.errors import JuicedbError

PROMPT, MORE = "juicedb> ", "     ... "


def shell(workspace: WorkspaceOpt = DEFAULT_WORKSPACE,
          command: Annotated[str | None, typer.Option("--command", "-c", help="Run one SQL string and exit.")]
          = None,
          max_rows: Annotated[int, typer.Option(help="Rows to print per result.")] = 50) -> None:
    """SQL over `samples`, `stats`, `trace`, `errors`, `runs` and your tables; end statements with ';'."""
    with juicedb.open(workspace) as ws:
        if command is not None:
            print_table(ws.sql(command), max_rows=max_rows)
            return
        _repl(ws, max_rows)


def _repl(ws: juicedb.Workspace, max_rows: int) -> None:
    import duckdb
    with contextlib.suppress(ImportError):  # line editing and history for input(), where available
        import readline  # noqa: F401
    console.print("juicedb shell: tables samples, stats, trace, errors, runs. `.quit` or Ctrl-D to leave.")
    buffer: list[str] = []
    while True:
        try:
            line = input(MORE if buffer else PROMPT)
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not buffer and line.strip() in (".quit", ".exit", "\\q"):
            return
        buffer.append(line)
        if not line.rstrip().endswith(";"):
            continue
        query, buffer = "\n".join(buffer), []
        try:
            print_table(ws.sql(query), max_rows=max_rows)
        except (JuicedbError, duckdb.Error) as e:
            err_console.print(f"[red]error:[/red] {e}")
