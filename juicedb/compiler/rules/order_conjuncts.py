"""Order WHERE conjuncts by cost / (1 - pass rate): cheap and selective first.

DuckDB evaluates conjuncts in the order written, later ones only on rows the
earlier kept, and never reorders them by cost; this rule does. A conjunct's
cost is the cost class of the calls it still has to compute (cached stats
cost nothing); its pass rate comes from stats already in the cache (unknown:
0.5). A deduplicator is a barrier: conjuncts never move across it, because
filtering before or after deduplication keeps different rows.

Before: ``WHERE __jdb_1 > 0.5 AND __jdb_2 >= 10``  (1 = model, 2 = text_len)
After:  ``WHERE __jdb_2 >= 10 AND __jdb_1 > 0.5``
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Conjunct, Context

UNKNOWN_PASS_RATE = 0.5
SQL_ONLY_COST = 0.1  # a predicate over plain columns


def rank(c: Conjunct, ctx: Context) -> float:
    cost = sum(ctx.calls[i].cost for i in c.calls) * (1.0 - c.estimate.cached) if c.calls else 0.0
    cost += SQL_ONLY_COST
    p = UNKNOWN_PASS_RATE if c.estimate.pass_rate is None else c.estimate.pass_rate
    return cost / max(1.0 - p, 1e-3)


def order_conjuncts(ctx: Context) -> Context:
    if ctx.kind != "planned" or not ctx.conjuncts:
        return ctx
    source_sql, _ = ctx.source()
    for c in ctx.conjuncts:
        if c.calls and c.dedup is None:
            c.estimate = ctx.catalog.estimate(source_sql, c, ctx.calls)
        c.rank = rank(c, ctx)
    ordered: list[Conjunct] = []
    segment: list[Conjunct] = []
    for c in ctx.conjuncts:
        if c.dedup is not None:
            ordered += [*sorted(segment, key=lambda x: x.rank), c]
            segment = []
        else:
            segment.append(c)
    ordered += sorted(segment, key=lambda x: x.rank)
    ctx.conjuncts = ordered
    ctx.select.set("where", exp.Where(this=exp.and_(*(c.expr for c in ordered))) if ordered else None)
    return ctx
