"""``juicedb ops``: the operator catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

import juicedb
from juicedb.cli.common import print_table


def ops(kind: Annotated[str | None, typer.Option(help="Only this kind: filter, mapper, deduplicator.")] = None,
        ) -> None:
    """Every operator: its SQL functions, parameters with Data-Juicer's defaults, bounds and cost class."""
    table = juicedb.ops_table()
    if kind:
        table = table.filter(table.column("kind") == kind)  # type: ignore[arg-type]
    print_table(table, max_rows=10_000)
