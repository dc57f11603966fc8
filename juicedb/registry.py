"""The operator registry: one declarative spec per operator, registered by decorator.

An operator module in ``udfs/`` declares a pure function ``batch -> Arrow`` and
decorates it with :func:`filter_op`, :func:`mapper_op` or :func:`dedup_op`.
Parameters are read from the function's keyword-only arguments: their
annotation gives the type (``Annotated[int, Positive()]`` adds a check) and
their default is Data-Juicer's default. A duplicate operator name or stat key
is an error at import time.

>>> spec = get_op("character_repetition_filter")
>>> spec.stats[0].key, spec.param("rep_len").default
('char_rep_ratio', 10)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from juicedb.errors import ParamError, RegistryError, UnknownOperatorError

Kind = Literal["filter", "mapper", "deduplicator"]

# Relative cost of computing one row, by class. Only the ratios matter: the
# compiler orders conjuncts by cost / (1 - pass rate).
COST_CLASSES: dict[str, float] = {
    "trivial": 1.0,     # vectorised Arrow kernels (lengths)
    "cheap": 4.0,       # one pass over code points (numpy lookup tables)
    "moderate": 20.0,   # word splitting, n-grams, regex mappers
    "expensive": 200.0,  # heavy pure-Python work per row
    "model": 2000.0,    # a model on CPU
    "gpu_model": 5000.0,  # a large model, batched on GPU when one exists
}


# --------------------------------------------------------------------------- params

@dataclass(frozen=True)
class Constraint:
    """A check on a parameter value, declared in the annotation."""

    def check(self, value: Any) -> str | None:  # pragma: no cover - interface
        """Return an explanation when ``value`` is invalid, else None."""
        raise NotImplementedError


@dataclass(frozen=True)
class Positive(Constraint):
    def check(self, value: Any) -> str | None:
        return None if value > 0 else "must be > 0"


@dataclass(frozen=True)
class OneOf(Constraint):
    choices: tuple[Any, ...]

    def __init__(self, *choices: Any) -> None:
        object.__setattr__(self, "choices", tuple(choices))

    def check(self, value: Any) -> str | None:
        if value in self.choices:
            return None
        return "must be one of {" + ", ".join(repr(c) for c in self.choices) + "}"


@dataclass(frozen=True)
class FilePath(Constraint):
    """The value names a file; its content (not its name) enters the fingerprint."""

    def check(self, value: Any) -> str | None:
        if value is None or Path(value).is_file():
            return None
        return "must name an existing file"


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any
    constraints: tuple[Constraint, ...] = ()
    doc: str = ""

    @property
    def is_path(self) -> bool:
        return any(isinstance(c, FilePath) for c in self.constraints)

    def validate(self, op: str, value: Any) -> Any:
        """Coerce ``value`` to the declared type and run the checks."""
        if value is None:
            if self.default is None:
                return None
            raise ParamError(f"{op}: parameter {self.name!r} expected {self.type.__name__}, got NULL")
        ok = isinstance(value, self.type) and not (self.type is int and isinstance(value, bool))
        if not ok:
            if self.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif self.type is int and isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ParamError(f"{op}: parameter {self.name!r} expected {self.type.__name__}, "
                                 f"got {type(value).__name__} {value!r}")
        for c in self.constraints:
            why = c.check(value)
            if why:
                raise ParamError(f"{op}: parameter {self.name!r} {why}, got {value!r}")
        return value


@dataclass(frozen=True)
class Stat:
    key: str
    type: pa.DataType


@dataclass(frozen=True)
class Bound:
    """A keep-rule parameter of a filter: ``min <= stat <= max`` (DJ semantics)."""

    name: str
    stat: str
    side: Literal["min", "max"]
    default: float | None


# --------------------------------------------------------------------------- spec

@dataclass
class OpSpec:
    """Declarative description of one operator."""

    name: str
    kind: Kind
    fn: Callable[..., Any]
    stats: tuple[Stat, ...] = ()
    params: tuple[Param, ...] = ()
    bounds: tuple[Bound, ...] = ()
    modality: str = "text"
    inputs: tuple[str, ...] = ("text",)
    cost: str = "cheap"
    requires: tuple[str, ...] = ()
    version: str = "1"
    sql_name: str = ""
    output_type: pa.DataType | None = None  # mappers
    doc: str = field(default="", repr=False)
    check: Callable[[dict[str, Any]], None] | None = field(default=None, repr=False)  # cross-param validation
    batch_rows: int = 1024  # rows per call: text kernels are cache-bound, models want more
    # its batches release the GIL for most of their time (compiled kernels, Arrow compute): they run on
    # threads of the engine's process, with no copy of the data and no worker process to start; a function
    # of the resolved params where that depends on them (a kernel path for some, Python for others)
    threads: bool | Callable[[dict[str, Any]], bool] = False
    # deduplicators: "equal" hashes; "lsh": any shared band key; or a function (hashes, params) -> index pairs
    grouping: Literal["equal", "lsh"] | Callable[[Any, dict[str, Any]], list[tuple[int, int]]] = "equal"
    keep: str | None = None  # filters whose rule is not min/max: SQL over {stat} and {rule param} names
    rule_params: tuple[Param, ...] = ()

    @property
    def cost_value(self) -> float:
        return COST_CLASSES[self.cost]

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def resolve_params(self, given: dict[str, Any]) -> dict[str, Any]:
        """Validate named parameters and fill in defaults."""
        names = {p.name for p in self.params}
        unknown = sorted(set(given) - names)
        if unknown:
            expected = ", ".join(sorted(names)) or "no parameters"
            raise ParamError(f"{self.name}: unknown parameter {unknown[0]!r}; expected {expected}")
        params = {p.name: p.validate(self.name, given.get(p.name, p.default)) for p in self.params}
        if self.check is not None:
            try:
                self.check(params)
            except ParamError as e:
                raise ParamError(f"{self.name}: {e}") from None
        return params

    def non_default(self, params: dict[str, Any]) -> dict[str, Any]:
        return {p.name: params[p.name] for p in self.params if params[p.name] != p.default}

    def fingerprint(self, params: dict[str, Any]) -> str:
        """Name + version + the params that change the value (file params by content)."""
        material: dict[str, Any] = {"op": self.name, "v": self.version}
        for p in self.params:
            value = params[p.name]
            if p.is_path and value is not None:
                value = "md5:" + hashlib.md5(Path(value).read_bytes()).hexdigest()
            material[p.name] = value
        blob = json.dumps(material, sort_keys=True, default=str).encode()
        return hashlib.sha1(blob).hexdigest()[:16]

    def on_threads(self, params: dict[str, Any]) -> bool:
        """Whether a batch with these params may run on a thread of the engine's process (``threads``)."""
        return bool(self.threads(params) if callable(self.threads) else self.threads)

    def compute(self, batch: Any, params: dict[str, Any]) -> dict[str, pa.Array]:
        """Run the operator on one batch; always returns ``{stat key: array}``."""
        out = self.fn(batch, **params)
        if isinstance(out, dict):
            return out
        key = self.stats[0].key if self.stats else self.sql_name
        return {key: out}


# --------------------------------------------------------------------------- registry

_OPS: dict[str, OpSpec] = {}
_SQL: dict[str, tuple[OpSpec, str]] = {}  # sql function name -> (spec, role)


def _params_from_signature(fn: Callable[..., Any]) -> tuple[Param, ...]:
    hints = typing.get_type_hints(fn, include_extras=True)
    params = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        hint = hints.get(name, type(p.default))
        constraints: tuple[Constraint, ...] = ()
        if typing.get_origin(hint) is typing.Annotated:
            hint, *extra = typing.get_args(hint)
            constraints = tuple(e for e in extra if isinstance(e, Constraint))
        if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if p.default is inspect.Parameter.empty:
            raise RegistryError(f"{fn.__name__}: parameter {name!r} needs a default (DJ's value)")
        params.append(Param(name, hint, p.default, constraints))
    return tuple(params)


def _source(spec: OpSpec) -> str:
    try:
        return str(Path(inspect.getsourcefile(spec.fn) or "").resolve()) + ":" + spec.fn.__qualname__
    except TypeError:
        return repr(spec.fn)


def register(spec: OpSpec) -> OpSpec:
    """Add ``spec`` to the registry; a second operator with the same name is an error.

    The same function seen again (its module imported under a second name, as
    doctest collection does) keeps the first registration.
    """
    if spec.name in _OPS:
        if _source(_OPS[spec.name]) == _source(spec):
            return _OPS[spec.name]
        raise RegistryError(f"operator {spec.name!r} is registered twice "
                            f"({_source(_OPS[spec.name])} and {_source(spec)})")
    names = [s.key for s in spec.stats] + ([spec.sql_name] if spec.sql_name else [])
    if spec.kind == "filter":
        names.append(spec.name)
    for n in names:
        if n in _SQL:
            raise RegistryError(f"SQL name {n!r} of {spec.name} is already used by {_SQL[n][0].name}")
    _OPS[spec.name] = spec
    for s in spec.stats:
        _SQL[s.key] = (spec, "stat")
    if spec.kind == "filter":
        _SQL[spec.name] = (spec, "filter")
    elif spec.sql_name:
        _SQL[spec.sql_name] = (spec, spec.kind)
    return spec


def unregister(name: str) -> None:
    """Remove an operator (tests register throw-away operators)."""
    spec = _OPS.pop(name)
    for key in [k for k, (s, _) in _SQL.items() if s is spec]:
        del _SQL[key]


def _stats_arg(stats: str | dict[str, pa.DataType], stat_type: pa.DataType | None) -> tuple[Stat, ...]:
    if isinstance(stats, str):
        return (Stat(stats, stat_type or pa.float64()),)
    return tuple(Stat(k, t) for k, t in stats.items())


def filter_op(name: str, *, stat: str | dict[str, pa.DataType], stat_type: pa.DataType | None = None,
              bounds: dict[str, tuple] | None = None, cost: str = "cheap",
              modality: str = "text", inputs: tuple[str, ...] = ("text",), requires: Iterable[str] = (),
              version: str = "1", check: Callable[[dict[str, Any]], None] | None = None,
              keep: str | None = None, rule_params: dict[str, Any] | None = None, batch_rows: int = 1024,
              threads: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a filter: the function computes its stat(s); ``bounds`` are its keep rule.

    ``bounds`` maps DJ's bound parameter names to ``(side, default)``, e.g.
    ``{"min_len": ("min", 10), "max_len": ("max", None)}``; None is unbounded. A
    third item names the stat a bound applies to when there are several
    (``{"min_score": ("min", 0.8, "lang_score")}``); default: the first stat.
    A rule that is not a min/max (list stats, any/all) is ``keep``: SQL with
    ``{stat_key}`` and ``{param}`` placeholders, its own params in ``rule_params``
    (name -> DJ default, or a ``Param`` with constraints), e.g. ``keep="list_min({edges}) >= {min_num}"``.
    ``batch_rows``: rows per call (models want more than the cache-bound text kernels). ``threads``: the
    function releases the GIL for most of its time, so its batches run on threads (see ``OpSpec.threads``).
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        stats = _stats_arg(stat, stat_type)
        bnds = tuple(Bound(n, b[2] if len(b) > 2 else stats[0].key, b[0], b[1]) for n, b in (bounds or {}).items())
        unknown = {b.stat for b in bnds} - {s.key for s in stats}
        if unknown:
            raise RegistryError(f"{name}: bounds name stat(s) {sorted(unknown)} it does not compute")
        _check_cost(name, cost)
        rules = tuple(v if isinstance(v, Param) else Param(k, type(v), v) for k, v in (rule_params or {}).items())
        if keep is not None:
            try:
                keep.format(**{s.key: "x" for s in stats}, **{r.name: "x" for r in rules})
            except (KeyError, IndexError) as e:
                raise RegistryError(f"{name}: keep rule names {e} which is neither a stat nor a rule param") from None
        fn.spec = register(OpSpec(name, "filter", fn, stats, _params_from_signature(fn), bnds, modality,
                                  inputs, cost, tuple(requires), version, doc=inspect.getdoc(fn) or "", check=check,
                                  keep=keep, rule_params=rules, batch_rows=batch_rows, threads=threads))
        return fn
    return deco


def mapper_op(name: str, *, cost: str = "moderate", modality: str = "text", inputs: tuple[str, ...] = ("text",),
              output_type: pa.DataType = pa.string(), requires: Iterable[str] = (), version: str = "1",
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a mapper; in SQL it is called by its name without ``_mapper``."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _check_cost(name, cost)
        sql_name = name.removesuffix("_mapper")
        fn.spec = register(OpSpec(name, "mapper", fn, (), _params_from_signature(fn), (), modality, inputs, cost,
                                  tuple(requires), version, sql_name, output_type, inspect.getdoc(fn) or ""))
        return fn
    return deco


def dedup_op(name: str, *, hash_key: str, hash_type: pa.DataType = pa.string(), cost: str = "cheap",
             modality: str = "text", inputs: tuple[str, ...] = ("text",), version: str = "1",
             grouping: Any = "equal", threads: bool | Callable[[dict[str, Any]], bool] = False,
             ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a deduplicator: the function computes a hash per row; of the rows it groups, the first is kept.

    ``grouping="equal"``: rows with equal hashes; ``"lsh"``: the hash is a list of band
    keys, rows sharing any band key are joined transitively (union-find); a function
    ``(hashes, params) -> [(i, j), ...]`` names pairs to join, rows with equal hashes joined too.
    """
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        _check_cost(name, cost)
        fn.spec = register(OpSpec(name, "deduplicator", fn, (Stat(hash_key, hash_type),),
                                  _params_from_signature(fn), (), modality, inputs, cost, (), version, name,
                                  doc=inspect.getdoc(fn) or "", grouping=grouping, threads=threads))
        return fn
    return deco


def _check_cost(name: str, cost: str) -> None:
    if cost not in COST_CLASSES:
        raise RegistryError(f"{name}: cost must be one of {sorted(COST_CLASSES)}, got {cost!r}")


def load_builtin_ops() -> None:
    """Import the operator package so every decorator has run."""
    import juicedb.udfs  # noqa: F401


def all_ops() -> list[OpSpec]:
    load_builtin_ops()
    return sorted(_OPS.values(), key=lambda s: (s.modality, s.kind, s.name))


def get_op(name: str) -> OpSpec:
    load_builtin_ops()
    try:
        return _OPS[name]
    except KeyError:
        raise UnknownOperatorError(f"unknown operator {name!r}; `juicedb ops` lists them") from None


def lookup_sql(name: str) -> tuple[OpSpec, str] | None:
    """Resolve a SQL function name to ``(spec, role)``; role is stat/filter/mapper/deduplicator."""
    load_builtin_ops()
    return _SQL.get(name.lower())


def sql_names() -> dict[str, tuple[OpSpec, str]]:
    load_builtin_ops()
    return dict(_SQL)


def format_bound(value: float | None) -> str:
    return "inf" if value is None or value == math.inf else repr(value)
