"""Hoist CTEs and FROM-subqueries that call operators into statements of their own.

The planner handles one SELECT over one source. A recipe often names a cleaned
relation first (``WITH cleaned AS (SELECT clean_email(text) AS text FROM ...)``)
and filters it next; in a statement that calls operators, each CTE (and a FROM
subquery that calls operators) is materialised as a temporary table by a
statement of its own, so its calls are cached, traced and planned
survivors-first too.

Before: ``WITH c AS (SELECT clean_email(text) AS text FROM t) SELECT * FROM c WHERE text_len(text) > 3``
After:  ``CREATE OR REPLACE TEMP TABLE __jdb_cte_c AS SELECT clean_email(text) AS text FROM t``
        ``SELECT * FROM __jdb_cte_c AS c WHERE text_len(text) > 3``
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from juicedb.compiler.rules._util import op_of
from juicedb.compiler.rules.classify import target_select


def _calls_operators(node: exp.Expression) -> bool:
    return any(op_of(n) for n in node.walk())


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect="duckdb", normalize_functions=False)


def hoist(text: str, prefix: str = "") -> list[str]:
    """The statement as one or more statements; temp tables are named ``__jdb_cte{prefix}_<name>``."""
    try:
        stmt = sqlglot.parse_one(text, read="duckdb")
    except ParseError:
        return [text]
    if isinstance(stmt, exp.Block):
        real = [e for e in stmt.expressions if not isinstance(e, exp.Semicolon)]
        if len(real) != 1:
            return [text]
        stmt = real[0]
    select = target_select(stmt)
    if select is None or not _calls_operators(stmt):
        return [text]
    before: list[str] = []
    with_ = select.args.get("with_") or select.args.get("with")
    if with_ is not None and not with_.args.get("recursive"):
        # every CTE goes: the planned SELECT must read one source by itself
        for cte in list(with_.expressions):
            name, table = cte.alias, f"__jdb_cte{prefix}_{cte.alias}"
            before += hoist(f"CREATE OR REPLACE TEMP TABLE {table} AS {_sql(cte.this)}", f"{prefix}_{name}")
            cte.pop()
            for ref in stmt.find_all(exp.Table):
                if ref.name == name and not ref.args.get("db"):
                    alias = ref.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name))
                    ref.replace(exp.Table(this=exp.to_identifier(table), alias=alias))
        if not with_.expressions:
            select.set("with_", None)
            select.set("with", None)
    source = (select.args.get("from_") or select.args.get("from"))
    if source is not None and isinstance(source.this, exp.Subquery) and _calls_operators(source.this.this):
        sub, table = source.this, f"__jdb_cte{prefix}_from"
        before += hoist(f"CREATE OR REPLACE TEMP TABLE {table} AS {_sql(sub.this)}", f"{prefix}_from")
        alias = sub.args.get("alias") or exp.TableAlias(this=exp.to_identifier("__jdb_base"))
        sub.replace(exp.Table(this=exp.to_identifier(table), alias=alias))
    return [*before, _sql(stmt)] if before else [text]
