"""Make relative file paths in a recipe relative to the recipe's folder.

Before: ``COPY refined TO 'out/refined.parquet'`` (recipe in /r)
After:  ``COPY refined TO '/r/out/refined.parquet'``; the engine creates /r/out.
"""

from __future__ import annotations

from pathlib import Path

from sqlglot import exp

from juicedb.compiler.plan import Context
from juicedb.compiler.rules._util import call_name

_READERS = ("read_parquet", "read_json", "read_json_auto", "read_ndjson", "read_ndjson_auto", "read_csv",
            "read_csv_auto", "parquet_scan", "read_text", "read_blob", "dataset")


def _absolute(ctx: Context, literal: exp.Literal) -> exp.Literal:
    path = literal.this
    if ctx.base_dir is None or "://" in path or Path(path).is_absolute():
        return literal
    return exp.Literal.string(str((ctx.base_dir / path).resolve()))


def resolve_paths(ctx: Context) -> Context:
    stmt = ctx.stmt
    if isinstance(stmt, exp.Copy):
        files = [_absolute(ctx, f) if isinstance(f, exp.Literal) and f.is_string else f
                 for f in stmt.args.get("files") or []]
        stmt.set("files", files)
        if not stmt.args.get("kind"):  # kind is False for COPY ... TO
            ctx.outputs = [f.this for f in files if isinstance(f, exp.Literal)]
    for table in stmt.find_all(exp.Table):
        fn = table.this
        if isinstance(fn, exp.Func) and (call_name(fn) or "") in _READERS:
            args = list(fn.expressions or []) or ([fn.this] if fn.this is not None else [])
            first = args[0] if args else None
            if isinstance(first, exp.Literal) and first.is_string:
                first.replace(_absolute(ctx, first))
    return ctx
