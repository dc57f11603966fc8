"""Emit the SQL DuckDB runs for a planned statement.

The source becomes the engine's working table (the source plus a row id
``__rid``) joined to one table per call; ``*`` skips the row id.

Before: ``SELECT * FROM ds_demo AS dataset WHERE __jdb_1 >= 10``
After:  ``SELECT dataset.* EXCLUDE (__rid), ... FROM __jdb_w0 AS dataset
          LEFT JOIN __jdb_o0_1 USING (__rid) WHERE __jdb_1 >= 10 ORDER BY dataset.__rid``
A plain filter keeps the source's row order.
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Context


def keep_table(table: str) -> str:
    return table + "_keep"


def emit(ctx: Context) -> Context:
    if ctx.kind != "planned" or ctx.select is None:
        return ctx
    ctx.base_sql, ctx.base_alias = ctx.source()
    select, alias = ctx.select, ctx.base_alias
    source = exp.Table(this=exp.to_identifier(ctx.work_table), alias=exp.TableAlias(this=exp.to_identifier(alias)))
    select.set("from_", exp.From(this=source))
    joins = []
    for cid in sorted(ctx.calls):
        call = ctx.calls[cid]
        tables = [call.table] + ([keep_table(call.table)] if call.spec.kind == "deduplicator" else [])
        for t in tables:
            joins.append(exp.Join(this=exp.Table(this=exp.to_identifier(t)), side="LEFT",
                                  using=[exp.to_identifier("__rid")]))
    select.set("joins", joins)
    exprs = []
    for e in select.expressions:
        if isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star)):
            star = e.this if isinstance(e, exp.Column) else e
            excluded = [*(star.args.get("except_") or star.args.get("except") or []), exp.column("__rid")]
            # REPLACE and RENAME stay: a Data-Juicer mapper chain is ``* REPLACE (mapped AS text)``
            new_star = exp.Star(**{"except_": excluded, "replace": star.args.get("replace"),
                                   "rename": star.args.get("rename")})
            e = exp.Column(this=new_star, table=exp.to_identifier(alias))
        exprs.append(e)
    select.set("expressions", exprs)
    if _row_preserving(select):
        # Keep the source's row order, as Data-Juicer does; parallel joins would shuffle it.
        select.set("order", exp.Order(expressions=[exp.Ordered(this=exp.column("__rid", table=alias))]))
    return ctx


def _row_preserving(select: exp.Select) -> bool:
    """A plain projection + filter: no ORDER BY, GROUP BY, DISTINCT, aggregate or window."""
    if any(select.args.get(k) for k in ("order", "group", "distinct", "having", "qualify", "limit")):
        return False
    return not any(e.find(exp.AggFunc, exp.Window) for e in select.expressions)
