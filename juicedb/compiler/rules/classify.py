"""Decide how a statement runs: ``plain``, ``planned`` or ``passthrough``.

- plain: no operator calls; DuckDB runs it as written.
- planned: every operator call sits in one SELECT over a single source (a
  table, a dataset, a file or a subquery without calls), no joins: stats are
  computed by the engine in large batches, survivors first, cached.
- passthrough: calls elsewhere (joins, CTEs, subqueries): DuckDB calls the
  registered UDFs itself; correct, but without caching or reordering.
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Context
from juicedb.compiler.rules._util import op_of, sql
from juicedb.errors import RecipeError


def target_select(stmt: exp.Expression) -> exp.Select | None:
    """The SELECT whose rows a statement returns, creates, inserts or copies."""
    node = stmt
    if isinstance(stmt, (exp.Create, exp.Insert)):
        node = stmt.expression
    elif isinstance(stmt, exp.Copy):
        node = stmt.this
    while isinstance(node, exp.Subquery):
        node = node.this
    return node if isinstance(node, exp.Select) else None


def _enclosing_select(node: exp.Expression) -> exp.Expression | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


def classify(ctx: Context) -> Context:
    calls = [n for n in ctx.stmt.walk() if op_of(n) and op_of(n)[1] != "filter"]  # type: ignore[index]
    if not calls:
        ctx.kind = "plain"
        return ctx
    select = target_select(ctx.stmt)
    source = select.args.get("from_") or select.args.get("from") if select is not None else None
    plannable = (
        select is not None and source is not None and not select.args.get("joins")
        and isinstance(source.this, (exp.Table, exp.Subquery))
        and all(_enclosing_select(n) is select for n in calls)
        and not select.args.get("with_") and not select.args.get("with")
    )
    if plannable:
        ctx.kind, ctx.select = "planned", select
        return ctx
    dedups = [n for n in calls if op_of(n)[1] == "deduplicator"]  # type: ignore[index]
    if dedups:
        raise RecipeError(f"{sql(dedups[0])}: a deduplicator must be a top-level AND term "
                          "of the WHERE of a SELECT over one table (no joins or CTEs around it)")
    ctx.kind = "passthrough"
    ctx.notes.append("operator calls inside joins, CTEs or subqueries run as plain DuckDB UDFs "
                     "(no stats cache, no reordering)")
    return ctx
