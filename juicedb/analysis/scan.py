"""What a recipe asks of its stats: the stat calls over each source, and the thresholds written on them.

A recipe is read statement by statement, without running it. In every SELECT over one
source (a dataset, a table, a file, a CTE) each stat call is found, whether written as a
stat (``stopwords_ratio(text, lang := 'en') >= 0.3``) or as a Data-Juicer filter with its
bounds (``text_length_filter(text, min_len := 10)``), and so is each threshold: a number
compared with a stat (``>``, ``>=``, ``<``, ``<=``, ``BETWEEN``) or a filter's bound
parameter. Each threshold keeps the place of its number in the recipe text, so that a
refined recipe changes those numbers and nothing else.

>>> script = "SELECT * FROM dataset('d.jsonl') WHERE text_len(text) >= 10 AND alnum_ratio(text) < 0.9"
>>> scan = scan_recipe(script)
>>> [(s.label, [c.column for c in s.stats]) for s in scan.sources]
[("dataset('d.jsonl')", ['text_len', 'alnum_ratio'])]
>>> [(t.side, t.value, script[t.start:t.end]) for t in scan.thresholds]
[('min', 10, '10'), ('max', 0.9, '0.9')]
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from juicedb.compiler.plan import Context, OpCall
from juicedb.compiler.rules._util import call_name, literal_value, op_of, split_args, sql
from juicedb.compiler.rules.classify import target_select
from juicedb.compiler.rules.resolve_paths import _READERS, resolve_paths
from juicedb.errors import RecipeError
from juicedb.registry import OpSpec

Side = Literal["min", "max"]
_FLAGS = ("min_closed_interval", "max_closed_interval", "reversed_range")
_LEADING = re.compile(r"\A(?:\s+|--[^\n]*|/\*.*?\*/)*", re.S)
_SIDES: dict[type, Side] = {exp.GT: "min", exp.GTE: "min", exp.LT: "max", exp.LTE: "max"}


@dataclass(frozen=True)
class StatCall:
    """One stat to compute: the operator, its validated params and its input, as SQL."""

    op: str
    key: str
    params: tuple[tuple[str, Any], ...]
    input_sql: str
    sql: str         # the call to compute (paths absolute)
    written: str     # the call as the recipe writes it
    column: str      # stats-table column name: the key plus its non-default params

    @property
    def identity(self) -> tuple:
        return (self.op, self.key, self.params, self.input_sql)


@dataclass
class Source:
    """One relation the recipe filters, and every stat and deduplicator called over it."""

    label: str                  # as written: dataset('data/x.jsonl'), a table or CTE name
    sql: str                    # the FROM item, paths absolute, alias kept
    with_sql: str = ""          # the statement's WITH clause when the source is one of its CTEs
    stats: list[StatCall] = field(default_factory=list)
    dedups: list[str] = field(default_factory=list)

    def add(self, call: StatCall) -> None:
        if all(c.identity != call.identity for c in self.stats):
            self.stats.append(call)


@dataclass(frozen=True)
class Threshold:
    """A number the recipe compares a stat with (or a filter's bound parameter), and where it is."""

    statement: int              # 1-based
    line: int
    source: str                 # Source.label
    stat: tuple                 # StatCall.identity
    side: Side
    value: float
    written: str                # the predicate or filter call as written
    param: str                  # the comparison it makes (">=", NOT and sides resolved) or the bound ("min_len")
    start: int                  # [start, end) of the number in the recipe text, sign included
    end: int
    integer: bool = False       # an int-typed parameter: a refined value must stay whole


@dataclass
class Scan:
    sources: list[Source] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    statement_starts: dict[int, int] = field(default_factory=dict)  # statement -> offset of its first token
    paths: list[tuple[int, int, str]] = field(default_factory=list)   # [start, end) and value of file paths
    notes: list[str] = field(default_factory=list)

    def source(self, label: str) -> Source:
        return next(s for s in self.sources if s.label == label)

    def stat(self, identity: tuple) -> StatCall:
        return next(c for s in self.sources for c in s.stats if c.identity == identity)


def statements(script: str) -> Iterator[tuple[int, int, str]]:
    """``(offset, line, text)`` of each statement: its first token's offset in ``script`` and its text."""
    try:
        parts = [s.query for s in duckdb.extract_statements(script)]
    except duckdb.Error as e:
        raise RecipeError(f"cannot parse the recipe: {e}") from None
    pos = 0
    for part in parts:
        at = script.find(part, pos)
        if at < 0:  # not expected: DuckDB returns the statement as written
            raise RecipeError("cannot locate a statement in the recipe text; refine needs the recipe as a file")
        pos = at + len(part)
        lead = _LEADING.match(part).end()  # type: ignore[union-attr]
        text = part[lead:].rstrip()
        if text and text != ";":
            yield at + lead, script.count("\n", 0, at + lead) + 1, text


def _parse(text: str) -> exp.Expression | None:
    try:
        stmt = sqlglot.parse_one(text, read="duckdb")
    except ParseError:
        return None
    if isinstance(stmt, exp.Block):
        real = [e for e in stmt.expressions if not isinstance(e, exp.Semicolon)]
        stmt = real[0] if len(real) == 1 else None
    return None if isinstance(stmt, (exp.Command, exp.Block)) else stmt


def _path_literals(stmt: exp.Expression, text: str, offset: int) -> list[tuple[int, int, str]]:
    """The file-path strings a statement reads or writes (what ``resolve_paths`` makes absolute)."""
    found: list[exp.Expression] = []
    if isinstance(stmt, exp.Copy):
        found += [f for f in stmt.args.get("files") or [] if isinstance(f, exp.Literal) and f.is_string]
    for table in stmt.find_all(exp.Table):
        fn = table.this
        if isinstance(fn, exp.Func) and (call_name(fn) or "") in _READERS:
            args = list(fn.expressions or []) or ([fn.this] if fn.this is not None else [])
            if args and isinstance(args[0], exp.Literal) and args[0].is_string:
                found.append(args[0])
    out = []
    for lit in found:
        start, end = lit.meta.get("start"), lit.meta.get("end")
        if start is not None and text[start] == "'" and text[end] == "'":
            out.append((offset + start, offset + end + 1, lit.this))
    return out


def _scope(node: exp.Expression) -> Iterator[exp.Expression]:
    """Nodes of a SELECT that belong to it, not to a nested SELECT, CTE or FROM subquery."""
    for child in node.iter_expressions():
        if isinstance(child, (exp.Select, exp.Subquery, exp.With, exp.CTE, exp.Union)):
            continue
        yield child
        yield from _scope(child)


def _absolute(node: exp.Expression, base_dir: Path | None) -> exp.Expression:
    return resolve_paths(Context(node.copy(), None, base_dir=base_dir)).stmt  # type: ignore[arg-type]


def _input_sql(spec: OpSpec, inputs: list[exp.Expression], written: str) -> str:
    if len(inputs) != len(spec.inputs):
        raise RecipeError(f"{written}: {spec.sql_name or spec.name} expects {len(spec.inputs)} input "
                          f"({', '.join(spec.inputs)}) before its named parameters, got {len(inputs)}")
    # as resolve_ops keys a call: several inputs travel as one struct
    return sql(inputs[0]) if len(inputs) == 1 else \
        "struct_pack(" + ", ".join(f"{n} := {sql(i)}" for n, i in zip(spec.inputs, inputs)) + ")"


def stat_call(spec: OpSpec, key: str, inputs: list[exp.Expression], named: dict[str, Any], written: str,
              base_dir: Path | None = None) -> StatCall:
    """The stat ``key`` of ``spec`` over ``inputs`` with operator params ``named`` (validated here)."""
    params = spec.resolve_params(named)
    input_sql = _input_sql(spec, inputs, written)
    call = exp.Anonymous(this=key, expressions=[
        *(_absolute(i, base_dir) for i in inputs),
        *(exp.PropertyEQ(this=exp.to_identifier(k), expression=_literal(v)) for k, v in named.items())])
    column = OpCall(0, spec, key, params, input_sql, (), written).column
    return StatCall(spec.name, key, tuple(sorted(params.items())), input_sql, sql(call), written, column)


def _literal(value: Any) -> exp.Expression:
    from juicedb.compiler.rules._util import to_literal
    return to_literal(value)


def parse_stat_calls(text: str, *, base_dir: Path | None = None) -> list[StatCall]:
    """Stat calls from a short form: ``alnum_ratio``, ``char_rep_ratio(text, rep_len := 5)`` or a filter name.

    A bare name is called on ``text``; a filter (``text_length_filter``) stands for all its stats.

    >>> [c.column for c in parse_stat_calls("char_rep_ratio(text, rep_len := 5)")]
    ['char_rep_ratio__rep_len_5']
    """
    expr_text = text.strip()
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", expr_text):
        expr_text += "(text)"
    try:
        node = sqlglot.parse_one(expr_text, read="duckdb")
    except ParseError as e:
        raise RecipeError(f"cannot parse the stat {text!r}: {e}") from None
    found = op_of(node)
    if not found or found[1] not in ("stat", "filter"):
        raise RecipeError(f"{text!r} is not a stat or a filter; `juicedb ops` lists them "
                          "(e.g. alnum_ratio or char_rep_ratio(text, rep_len := 5))")
    spec, role = found
    inputs, named = split_args(node, spec.name)
    if role == "stat":
        return [stat_call(spec, str(node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower(),
                          inputs, named, sql(node), base_dir)]
    _, _, rest = _filter_args(spec, named)
    return [stat_call(spec, s.key, inputs, rest, sql(node), base_dir) for s in spec.stats]


def _filter_args(spec: OpSpec, named: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A filter call's named args split into (bounds and numeric rule params, flags and other rules, op params)."""
    bounds = {b.name for b in spec.bounds}
    rules = {r.name for r in spec.rule_params}
    limits = {k: v for k, v in named.items() if k in bounds or k in rules}
    flags = {k: v for k, v in named.items() if k in _FLAGS}
    rest = {k: v for k, v in named.items() if k not in limits and k not in flags}
    return limits, flags, rest


def _numeric(node: exp.Expression) -> exp.Expression | None:
    """The literal (or negated literal) node of a constant number, else None."""
    inner = node.unnest() if isinstance(node, exp.Paren) else node
    lit = inner.this if isinstance(inner, exp.Neg) else inner
    if isinstance(lit, exp.Literal) and not lit.is_string:
        return inner
    return None


def _span(text: str, node: exp.Expression) -> tuple[int, int] | None:
    """[start, end) of a number node in ``text`` (with its minus sign), checked against the text."""
    lit = node.this if isinstance(node, exp.Neg) else node
    meta = lit.meta
    if "start" not in meta or text[meta["start"]: meta["end"] + 1] != lit.this:
        return None
    start = meta["start"]
    if isinstance(node, exp.Neg):
        j = start - 1
        while j >= 0 and text[j].isspace():
            j -= 1
        if j < 0 or text[j] != "-":
            return None
        start = j
    return start, meta["end"] + 1


def _stat_of_rule(spec: OpSpec, param: str) -> str | None:
    """The stat a keep-rule parameter bounds: the only stat, or the one its name points to (min_width)."""
    if len(spec.stats) == 1:
        return spec.stats[0].key
    word = param.removeprefix("min_").removeprefix("max_")
    keys = [s.key for s in spec.stats if s.key.endswith(word)]
    return keys[0] if len(keys) == 1 else None


def _negations(node: exp.Expression, stop: exp.Expression) -> int:
    n, parent = 0, node.parent
    while parent is not None and parent is not stop:
        n += isinstance(parent, exp.Not)
        parent = parent.parent
    return n


def scan_recipe(script: str, *, base_dir: Path | None = None) -> Scan:
    """Sources, stat calls and thresholds of a recipe's text (relative paths resolve against ``base_dir``)."""
    scan = Scan()
    for number, (offset, line, text) in enumerate(statements(script), 1):
        stmt = _parse(text)
        if stmt is None:
            continue
        scan.statement_starts[number] = offset
        scan.paths += _path_literals(stmt, text, offset)
        root = target_select(stmt)
        with_ = root.args.get("with_") or root.args.get("with") if root is not None else None
        cte_names = {c.alias for c in with_.expressions} if with_ is not None else set()
        for select in stmt.find_all(exp.Select):
            _scan_select(scan, select, with_, cte_names, number, line, offset, text, base_dir)
    scan.thresholds.sort(key=lambda t: t.start)
    return scan


def _scan_select(scan: Scan, select: exp.Select, with_: exp.Expression | None, cte_names: set[str], number: int,
                 line: int, offset: int, text: str, base_dir: Path | None) -> None:
    calls = [n for n in _scope(select) if op_of(n) and op_of(n)[1] != "mapper"]  # type: ignore[index]
    if not calls:
        return
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is None or select.args.get("joins"):
        scan.notes.append(f"statement {number} (line {line}): operator calls over a join or without FROM "
                          "are not analysed")
        return
    src = from_.this
    name = src.name if isinstance(src, exp.Table) and not src.args.get("db") else ""
    uses_cte = name in cte_names
    label = name if uses_cte else sql(src)
    source = next((s for s in scan.sources if s.label == label), None)
    if source is None:
        source = Source(label, sql(_absolute(src, base_dir)),
                        sql(_absolute(with_, base_dir)) if uses_cte and with_ is not None else "")
        scan.sources.append(source)
    where = select.args.get("where")
    for node in calls:
        spec, role = op_of(node)  # type: ignore[misc]
        written = sql(node)
        inputs, named = split_args(node, spec.name)
        if role == "deduplicator":
            if sql(_absolute(node, base_dir)) not in source.dedups:
                source.dedups.append(sql(_absolute(node, base_dir)))
            continue
        if role == "stat":
            key = str(node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            source.add(stat_call(spec, key, inputs, named, written, base_dir))
            continue
        limits, _, rest = _filter_args(spec, named)
        by_key = {s.key: stat_call(spec, s.key, inputs, rest, written, base_dir) for s in spec.stats}
        for call in by_key.values():
            source.add(call)
        if not node.find_ancestor(exp.Where):
            continue
        bounds = {b.name: b for b in spec.bounds}
        rules = {r.name: r for r in spec.rule_params}
        for arg in node.expressions if isinstance(node, exp.Anonymous) else []:
            if not isinstance(arg, exp.PropertyEQ) or arg.this.name.lower() not in limits:
                continue
            pname = arg.this.name.lower()
            # DJ's k-sigma rule goes by the parameter's name: "min" in it is a lower bound, "max" an upper one
            side: Side | None = bounds[pname].side if pname in bounds else (
                "min" if "min" in pname else "max" if "max" in pname else None)
            stat = bounds[pname].stat if pname in bounds else _stat_of_rule(spec, pname)
            number_node = _numeric(arg.expression)
            rule = rules.get(pname)
            if side is None or stat is None or number_node is None or (rule and rule.type not in (int, float)):
                continue
            _add(scan, number, line, offset, text, label, by_key[stat].identity, side, number_node,
                 written, pname, integer=bool(rule and rule.type is int))
    if where is not None:
        _scan_comparisons(scan, where, number, line, offset, text, label, source, base_dir)


def _scan_comparisons(scan: Scan, where: exp.Expression, number: int, line: int, offset: int, text: str,
                      label: str, source: Source, base_dir: Path | None) -> None:
    for node in _scope(where):
        if isinstance(node, exp.Between):
            pairs = [(node.this, node.args.get("low"), "min", False), (node.this, node.args.get("high"), "max", False)]
        elif type(node) in _SIDES:
            left, right = node.this.unnest(), node.expression.unnest()
            side = _SIDES[type(node)]
            if _numeric(left) is not None:  # 10 <= text_len(text): the stat is on the right
                left, right = right, left
                side = "max" if side == "min" else "min"
            pairs = [(left, right, side, isinstance(node, (exp.GT, exp.LT)))]
        else:
            continue
        for stat_node, value_node, side, strict in pairs:
            stat_node = stat_node.unnest() if stat_node is not None else None
            found = op_of(stat_node) if stat_node is not None else None
            number_node = _numeric(value_node) if value_node is not None else None
            if not found or found[1] != "stat" or number_node is None:
                continue
            spec = found[0]
            inputs, named = split_args(stat_node, spec.name)
            key = str(stat_node.name if isinstance(stat_node, exp.Anonymous) else stat_node.sql_name()).lower()
            call = stat_call(spec, key, inputs, named, sql(stat_node), base_dir)
            if _negations(node, where) % 2:  # NOT (x < 3) keeps x >= 3: the number is a lower bound
                side, strict = ("max" if side == "min" else "min"), not strict
            op = (">" if strict else ">=") if side == "min" else ("<" if strict else "<=")
            _add(scan, number, line, offset, text, label, call.identity, side, number_node, sql(node), op)


def _add(scan: Scan, number: int, line: int, offset: int, text: str, label: str, stat: tuple, side: Side,
         number_node: exp.Expression, written: str, param: str, *, integer: bool = False) -> None:
    span = _span(text, number_node)
    if span is None:
        scan.notes.append(f"statement {number} (line {line}): cannot locate the number in {written}; left as is")
        return
    value = literal_value(number_node, written)
    scan.thresholds.append(Threshold(number, line + text.count("\n", 0, span[0]), label, stat, side, value,
                                     written, param, offset + span[0], offset + span[1], integer))
