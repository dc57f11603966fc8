"""Shared CLI pieces: the workspace option, table printing, and error-to-exit-code mapping."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

WorkspaceOpt = Annotated[Path, typer.Option("--workspace", "-w", help="Workspace folder (created if missing).",
                                            envvar="JUICEDB_WORKSPACE")]
DEFAULT_WORKSPACE = Path(".juicedb")

# Options of the commands that read Data-Juicer configs (run, convert).
DjSkipMissingOpt = Annotated[bool, typer.Option(
    "--skip-missing", help="Data-Juicer config: skip the operators juicedb lacks (listed before any data is read) "
                           "and run the rest.")]
DjSkipOpt = Annotated[list[str] | None, typer.Option(
    "--skip", help="Data-Juicer config: leave out this operator (repeatable).")]
DjSetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Data-Juicer config: override a setting, KEY=VALUE read as YAML (repeatable), "
                  "e.g. --set dataset_path=data.jsonl")]


def dj_overrides(sets: list[str] | None) -> dict[str, object]:
    from juicedb.dj import parse_override
    return dict(parse_override(s) for s in sets or ())


def print_table(table: pa.Table, *, title: str | None = None, max_rows: int = 50) -> None:
    """Print an Arrow table as a terminal table (first ``max_rows`` rows)."""
    if table.num_columns == 0:
        console.print("[dim]ok[/dim]")
        return
    out = Table(title=title, show_lines=False, header_style="bold")
    for name in table.column_names:
        out.add_column(name, overflow="fold", max_width=60)
    for row in table.slice(0, max_rows).to_pylist():
        # cells as Text: data is never read as rich markup ("[b]") or emoji codes (":100:")
        out.add_row(*(Text("NULL" if v is None else _short(v)) for v in row.values()))
    console.print(out)
    if table.num_rows > max_rows:
        console.print(f"[dim]{table.num_rows} rows, first {max_rows} shown[/dim]")


def _short(value: object) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."
