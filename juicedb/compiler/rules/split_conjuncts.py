"""Split the WHERE of a planned SELECT into its top-level AND terms.

Before: ``WHERE __jdb_1 >= 10 AND (__jdb_2 < 0.5 OR lang = 'en')``
After:  conjuncts ``[__jdb_1 >= 10, (__jdb_2 < 0.5 OR lang = 'en')]``, each
knowing the calls it needs and its text as written.
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Conjunct, Context, OpCall
from juicedb.compiler.rules._util import sql
from juicedb.errors import RecipeError


def call_ids(expr: exp.Expression, calls: dict[int, OpCall]) -> tuple[int, ...]:
    """Ids of the calls ``expr`` reads, nested dependencies included, innermost first."""
    ids: set[int] = set()
    for col in expr.find_all(exp.Column):
        name = col.name
        if name.startswith("__jdb_"):
            cid = int(name[6:].removesuffix("_keep"))
            ids |= {cid, *calls[cid].deps}
    return tuple(sorted(ids))


def written_sql(expr: exp.Expression, calls: dict[int, OpCall]) -> str:
    """``expr`` with placeholders turned back into the calls as written."""
    def back(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.name.startswith("__jdb_"):
            cid = int(node.name[6:].removesuffix("_keep"))
            return exp.Var(this=calls[cid].written)
        return node
    return sql(expr.copy().transform(back))


def split_conjuncts(ctx: Context) -> Context:
    if ctx.kind != "planned" or ctx.select is None:
        return ctx
    where = ctx.select.args.get("where")
    terms = list(where.this.flatten()) if where is not None and isinstance(where.this, exp.And) else (
        [where.this] if where is not None else [])
    for pos, term in enumerate(terms, 1):
        ids = call_ids(term, ctx.calls)
        dedup = None
        for col in term.find_all(exp.Column):
            if col.name.endswith("_keep") and col.name.startswith("__jdb_"):
                if term is not col:
                    raise RecipeError(f"{written_sql(term, ctx.calls)}: a deduplicator must be a whole "
                                      "AND term of the WHERE, e.g. WHERE ... AND document_deduplicator(text)")
                dedup = int(col.name[6:].removesuffix("_keep"))
        text = term.meta.get("written") or written_sql(term, ctx.calls)
        ctx.conjuncts.append(Conjunct(term, text, ids, pos, dedup))
    for col in ctx.stmt.find_all(exp.Column):
        if col.name.endswith("_keep") and col.name.startswith("__jdb_") and not any(
                c.expr is col for c in ctx.conjuncts):
            raise RecipeError("a deduplicator can only be used as an AND term of the WHERE")
    return ctx
