"""Resolve operator calls to stat columns.

Before: ``WHERE char_rep_ratio(text, rep_len := 5) <= 0.4``
After:  ``WHERE __jdb_1 <= 0.4``  with call 1 = character_repetition_filter(rep_len=5) on ``text``
Calls are resolved innermost first, so ``text_len(clean_email(text))`` becomes
call 2 over input ``__jdb_1``. Identical calls share one id. Parameters are
validated here, before any data is read.
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Context, OpCall
from juicedb.compiler.rules._util import op_of, split_args, sql
from juicedb.errors import RecipeError


def resolve_ops(ctx: Context) -> Context:
    if ctx.kind != "planned":
        return ctx
    seen: dict[tuple, int] = {}

    def visit(node: exp.Expression) -> None:
        found = op_of(node)
        written = sql(node) if found else ""
        for child in list(node.iter_expressions()):
            visit(child)
        if not found:
            return
        spec, role = found
        inputs, named = split_args(node, spec.name)
        if len(inputs) != len(spec.inputs):
            raise RecipeError(f"{written}: {spec.sql_name or spec.name} expects {len(spec.inputs)} input "
                              f"({', '.join(spec.inputs)}) before its named parameters, got {len(inputs)}")
        params = spec.resolve_params(named)
        output = spec.sql_name if role == "mapper" else (
            spec.stats[0].key if role == "deduplicator" else str(node.name if isinstance(node, exp.Anonymous)
                                                                 else node.sql_name()).lower())
        # several inputs (text and images) travel as one struct: one key, one batch, one cache entry per sample
        input_sql = sql(inputs[0]) if len(inputs) == 1 else \
            "struct_pack(" + ", ".join(f"{n} := {sql(i)}" for n, i in zip(spec.inputs, inputs)) + ")"
        key = (spec.name, output, role, tuple(sorted(params.items())), input_sql)
        if key not in seen:
            cid = len(ctx.calls) + 1
            deps = tuple(sorted({int(c.name[6:]) for i in inputs for c in i.find_all(exp.Column)
                                 if c.name.startswith("__jdb_")}))
            closure = set(deps)
            for d in deps:
                closure |= set(ctx.calls[d].deps)
            ctx.calls[cid] = OpCall(cid, spec, output, params, input_sql, tuple(sorted(closure)), written,
                                    ctx.index)
            seen[key] = cid
        cid = seen[key]
        name = f"__jdb_{cid}_keep" if role == "deduplicator" else f"__jdb_{cid}"
        node.replace(exp.column(name))

    visit(ctx.stmt)
    return ctx
