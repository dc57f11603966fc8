"""Run a Data-Juicer config in a workspace: its recipe, DJ's export files, DJ's tracer files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from juicedb.dj.tracer import export_trace
from juicedb.dj.translate import DjRecipe, translate
from juicedb.workspace import RunReport, Workspace


@dataclass
class DjRun:
    """A finished config run: the recipe it ran, the run report, the result rows and the files written."""

    recipe: DjRecipe
    report: RunReport
    result: pa.Table
    files: list[str] = field(default_factory=list)


def run_config(ws: Workspace, config: DjRecipe | str | Path | Mapping[str, Any], *,
               overrides: Mapping[str, Any] | None = None, skip_missing: bool = False, skip: Iterable[str] = (),
               trace_mappers: bool = False, on_progress: Callable[[str, int, int], None] | None = None,
               fetch: bool = True) -> DjRun:
    """Translate (unless given a ``DjRecipe``) and run a DJ process config; write DJ's export and tracer files.
    ``fetch``: as for ``Workspace.run`` (False: the result's last table is not read back)."""
    recipe = config if isinstance(config, DjRecipe) else translate(config, overrides=overrides,
                                                                   skip_missing=skip_missing, skip=skip)
    for path in (recipe.export_path, recipe.stats_path):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    tracing = recipe.tracer is not None and recipe.has_mappers  # DJ's tracer shows what each mapper changed
    result = ws.run(recipe.sql, trace_mappers=trace_mappers or tracing, on_progress=on_progress, fetch=fetch)
    report = ws.last_run
    assert report is not None
    files = [p for p in (recipe.export_path, recipe.stats_path) if p and Path(p).is_file()]
    if recipe.tracer is not None:
        files += export_trace(ws, recipe.tracer.work_dir, run_id=report.run_id, trace_num=recipe.tracer.trace_num,
                              ops=recipe.tracer.ops)
    return DjRun(recipe, report, result, files)
