"""The recipe compiler: a stack of small rewrite rules over sqlglot expressions.

``compile_sql`` splits a script into statements (DuckDB's own splitter), parses
each with sqlglot and runs ``RULES`` in order. Statements without juicedb
functions run exactly as written.

>>> from juicedb.compiler.testing import FakeCatalog
>>> [s] = compile_sql("SELECT * FROM t WHERE char_rep_ratio(text) < 0.5 AND text_len(text) > 9",
...                   FakeCatalog())
>>> s.sql.split(" WHERE ")[1]
'__jdb_2 > 9 AND __jdb_1 < 0.5 ORDER BY t.__rid'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from juicedb.compiler.plan import Catalog, Context
from juicedb.compiler.rules.classify import classify
from juicedb.compiler.rules.emit import emit
from juicedb.compiler.rules.expand_filters import expand_filters
from juicedb.compiler.rules.order_conjuncts import order_conjuncts
from juicedb.compiler.rules.plan_stages import plan_stages
from juicedb.compiler.rules.resolve_datasets import resolve_datasets
from juicedb.compiler.rules.resolve_ops import resolve_ops
from juicedb.compiler.rules.resolve_paths import resolve_paths
from juicedb.compiler.rules.split_conjuncts import split_conjuncts
from juicedb.errors import RecipeError, UnknownOperatorError
from juicedb.registry import sql_names

Rule = Callable[[Context], Context]

# Every operator call is validated (resolve_ops) before any dataset is loaded (resolve_datasets).
RULES: tuple[Rule, ...] = (
    resolve_paths,
    expand_filters,
    classify,
    resolve_ops,
    split_conjuncts,
    resolve_datasets,
    order_conjuncts,
    plan_stages,
    emit,
)


@dataclass
class Compiled:
    """One compiled statement: the plan (``ctx``) and the SQL DuckDB runs."""

    ctx: Context
    source: str
    line: int
    sql: str

    @property
    def kind(self) -> str:
        return self.ctx.kind


def _mentions_juicedb(text: str) -> bool:
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text.lower()))
    return "dataset" in words or bool(words & set(sql_names()))


def split_statements(script: str) -> list[tuple[str, int]]:
    """Statements of a script with the line each starts on; CTEs and FROM-subqueries that call
    operators become statements of their own (see ``hoist``)."""
    from juicedb.compiler.hoist import hoist
    return [(part, line) for i, (text, line) in enumerate(_split(script))
            for part in (hoist(text, str(i)) if _mentions_juicedb(text) else [text])]


_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)


def _split(script: str) -> list[tuple[str, int]]:
    try:
        # DuckDB 2.0.1 keeps the comments before a statement in ``query`` (2.0.0 dropped them): drop them here
        parts = [_LEADING_COMMENTS.sub("", s.query, count=1).strip() for s in duckdb.extract_statements(script)]
    except duckdb.Error as e:
        raise RecipeError(f"cannot parse the recipe: {e}") from None
    out, pos = [], 0
    for part in parts:
        if not part:
            continue
        found = script.find(part[: min(len(part), 40)], pos)
        start = found if found >= 0 else pos
        out.append((part, script.count("\n", 0, start) + 1))
        pos = start + 1
    return out


def compile_statement(text: str, catalog: Catalog, *, index: int = 0, base_dir: Path | None = None,
                      line: int = 1, rules: tuple[Rule, ...] = RULES) -> Compiled:
    if not _mentions_juicedb(text) and base_dir is None:
        return Compiled(Context(exp.Command(this=text), catalog, index), text, line, text)
    try:
        stmt = sqlglot.parse_one(text, read="duckdb")
    except ParseError as e:
        if not _mentions_juicedb(text):
            return Compiled(Context(exp.Command(this=text), catalog, index), text, line, text)
        err = e.errors[0] if e.errors else {}
        raise RecipeError(f"cannot parse statement: {err.get('description', e)}", sql=text,
                          line=line + (err.get("line") or 1) - 1, col=err.get("col")) from None
    if isinstance(stmt, exp.Block):  # "stmt; -- trailing comment" parses as a block
        real = [e for e in stmt.expressions if not isinstance(e, exp.Semicolon)]
        stmt = real[0] if len(real) == 1 else stmt
    if isinstance(stmt, (exp.Command, exp.Block)):  # sqlglot gave up on it: run it verbatim
        return Compiled(Context(stmt, catalog, index), text, line, text)
    ctx = Context(stmt, catalog, index, base_dir)
    try:
        for rule in rules:
            ctx = rule(ctx)
    except RecipeError as e:
        if e.line is None:
            raise type(e)(str(e), sql=text, line=line) from None
        raise
    if ctx.kind == "plain" and not ctx.datasets and not ctx.outputs:
        return Compiled(ctx, text, line, text)
    return Compiled(ctx, text, line, ctx.stmt.sql(dialect="duckdb", normalize_functions=False))


# The rules that need no catalog: enough to validate every call of a recipe before any data is read.
CHECK_RULES: tuple[Rule, ...] = RULES[: RULES.index(split_conjuncts) + 1]


class _NoCatalog:
    def dataset_table(self, ref: object) -> str:  # pragma: no cover - never reached by CHECK_RULES
        raise AssertionError("validation must not load data")

    def estimate(self, *args: object) -> object:  # pragma: no cover
        raise AssertionError("validation must not read stats")


def check_script(script: str, known_functions: set[str], *, base_dir: Path | None = None) -> None:
    """Fail before any data is read on a bad operator parameter, a misplaced deduplicator,
    or a function name neither DuckDB nor juicedb knows (with the closest names)."""
    import difflib
    for i, (text, line) in enumerate(split_statements(script)):
        c = compile_statement(text, _NoCatalog(), index=i, base_dir=base_dir, line=line, rules=CHECK_RULES)
        for node in c.ctx.stmt.find_all(exp.Anonymous):
            name = str(node.this).lower()
            if name not in known_functions and name != "dataset":
                close = difflib.get_close_matches(name, sorted(known_functions), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else "; `juicedb ops` lists the operators"
                raise UnknownOperatorError(f"unknown function {name}(){hint}", sql=text, line=line)


def compile_sql(script: str, catalog: Catalog, *, base_dir: Path | None = None,
                first_index: int = 0) -> list[Compiled]:
    """Compile every statement of ``script``. Relative paths resolve against ``base_dir``."""
    return [compile_statement(text, catalog, index=first_index + i, base_dir=base_dir, line=line)
            for i, (text, line) in enumerate(split_statements(script))]
