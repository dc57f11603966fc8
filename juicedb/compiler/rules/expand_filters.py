"""Expand filter-style calls (Data-Juicer op names) into predicates over their stat.

Before: ``WHERE text_length_filter(text, min_len := 10, max_len := 50)``
After:  ``WHERE (text_len(text) >= 10 AND text_len(text) <= 50)``
DJ's keep rule: ``min <= stat <= max``; ``min_closed_interval``/``max_closed_interval``
false make a bound strict, ``reversed_range`` negates the rule.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from juicedb.compiler.plan import Context
from juicedb.compiler.rules._util import op_of, split_args, sql, to_literal
from juicedb.errors import ParamError
from juicedb.registry import OpSpec

_FLAGS = {"min_closed_interval": True, "max_closed_interval": True, "reversed_range": False}


def expand_call(spec: OpSpec, node: exp.Expression) -> exp.Expression:
    inputs, named = split_args(node, spec.name)
    bounds = {b.name: b for b in spec.bounds}
    flags = {k: named.pop(k, v) for k, v in _FLAGS.items()}
    for k, v in flags.items():
        if not isinstance(v, bool):
            raise ParamError(f"{spec.name}: parameter {k!r} expected bool, got {v!r}")
    limits = {n: named.pop(n, b.default) for n, b in bounds.items()}
    rules = {r.name: r.validate(spec.name, named.pop(r.name, r.default)) for r in spec.rule_params}
    stat_args = [*(i.copy() for i in inputs),
                 *(exp.PropertyEQ(this=exp.to_identifier(k), expression=to_literal(v)) for k, v in named.items())]
    if spec.keep is not None:
        calls = {s.key: sql(exp.Anonymous(this=s.key, expressions=[a.copy() for a in stat_args]))
                 for s in spec.stats}
        rule = spec.keep.format(**calls, **{k: to_literal(v).sql(dialect="duckdb") for k, v in rules.items()})
        pred = exp.Paren(this=sqlglot.parse_one(rule, read="duckdb"))
        out = exp.Not(this=pred) if flags["reversed_range"] else pred
        # a rule over list stats reads badly once expanded: explain, the run summary and the trace
        # name the predicate as the user wrote it (the WHERE's flatten() unwraps the parentheses)
        for n in (out, pred.unnest()):
            n.meta["written"] = node.sql(dialect="duckdb", normalize_functions=False)
        return out
    terms: list[exp.Expression] = []
    for name, b in bounds.items():
        value = limits[name]
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ParamError(f"{spec.name}: parameter {name!r} expected a number, got {value!r}")
        stat = exp.Anonymous(this=b.stat, expressions=[a.copy() for a in stat_args])
        closed = flags["min_closed_interval" if b.side == "min" else "max_closed_interval"]
        cls = {("min", True): exp.GTE, ("min", False): exp.GT, ("max", True): exp.LTE, ("max", False): exp.LT}
        terms.append(cls[(b.side, closed)](this=stat.copy(), expression=to_literal(value)))
    first = exp.Anonymous(this=spec.stats[0].key, expressions=stat_args)
    pred: exp.Expression = exp.and_(*terms) if terms else exp.Not(this=exp.Is(this=first, expression=exp.Null()))
    pred = exp.Paren(this=pred)
    return exp.Not(this=pred) if flags["reversed_range"] else pred


def expand_filters(ctx: Context) -> Context:
    def rewrite(node: exp.Expression) -> exp.Expression:
        found = op_of(node)
        if found and found[1] == "filter":
            return expand_call(found[0], node)
        return node

    ctx.stmt = ctx.stmt.transform(rewrite, copy=False)
    return ctx
