"""Replace ``dataset('path', opt := v)`` table functions by the workspace table that holds the data.

Before: ``SELECT * FROM dataset('demo.jsonl') WHERE text_len(text) > 5``
After:  ``SELECT * FROM ds_demo_1a2b3c AS dataset WHERE text_len(text) > 5``
The catalog loads the file (once; again only when it changed).
"""

from __future__ import annotations

from sqlglot import exp

from juicedb.compiler.plan import Context, DatasetRef
from juicedb.compiler.rules._util import call_name, split_args
from juicedb.errors import RecipeError


def resolve_datasets(ctx: Context) -> Context:
    for table in list(ctx.stmt.find_all(exp.Table)):
        fn = table.this
        if not (isinstance(fn, exp.Func) and call_name(fn) == "dataset"):
            continue
        inputs, named = split_args(fn, "dataset")
        if len(inputs) != 1 or not (isinstance(inputs[0], exp.Literal) and inputs[0].is_string):
            raise RecipeError("dataset() expects one path string, e.g. dataset('data/demo.jsonl'), "
                              f"got {fn.sql(dialect='duckdb', normalize_functions=False)!r}")
        ref = DatasetRef(inputs[0].this, tuple(sorted(named.items())))
        name = ctx.catalog.dataset_table(ref)
        ctx.datasets.append((ref, name))
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier("dataset"))
        table.replace(exp.Table(this=exp.to_identifier(name), alias=alias))
    return ctx
