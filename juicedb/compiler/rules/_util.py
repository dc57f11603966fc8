"""Small helpers shared by the rules."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from juicedb.errors import ParamError, RecipeError
from juicedb.registry import OpSpec, lookup_sql


def call_name(node: exp.Expression) -> str | None:
    """Lower-case name of a function call, or None."""
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(node, exp.Func):
        return node.sql_name().lower()
    return None


def op_of(node: exp.Expression) -> tuple[OpSpec, str] | None:
    """The registered operator a call names, with its role."""
    name = call_name(node)
    return lookup_sql(name) if name else None


def literal_value(node: exp.Expression, what: str) -> Any:
    """The Python value of a constant SQL expression, or a ParamError."""
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Neg):
        inner = literal_value(node.this, what)
        if isinstance(inner, (int, float)):
            return -inner
    if isinstance(node, exp.Paren):
        return literal_value(node.this, what)
    raise ParamError(f"{what} must be a constant (a number, string, TRUE/FALSE or NULL), "
                     f"got {node.sql(dialect='duckdb', normalize_functions=False)!r}")


def split_args(node: exp.Expression, op_name: str) -> tuple[list[exp.Expression], dict[str, Any]]:
    """Positional inputs and named (``name := value``) parameters of a call."""
    args = list(node.expressions) if isinstance(node, exp.Anonymous) else list(node.iter_expressions())
    inputs: list[exp.Expression] = []
    named: dict[str, Any] = {}
    for a in args:
        if isinstance(a, (exp.PropertyEQ, exp.EQ, exp.Kwarg)) and isinstance(a.this, (exp.Identifier, exp.Column)):
            key = a.this.name.lower()
            if key in named:
                raise ParamError(f"{op_name}: parameter {key!r} given twice")
            named[key] = literal_value(a.expression, f"{op_name}: parameter {key!r}")
        else:
            if named:
                raise RecipeError(f"{op_name}: positional argument {sql(a)!r} after named ones")
            inputs.append(a)
    return inputs, named


def sql(node: exp.Expression) -> str:
    return node.sql(dialect="duckdb", normalize_functions=False)


def to_literal(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        lit = exp.Literal.number(abs(value))
        return exp.Neg(this=lit) if value < 0 else lit
    return exp.Literal.string(str(value))
