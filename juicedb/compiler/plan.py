"""The data structures the compiler rules read and write.

A statement is compiled by running every rule of ``RULES`` in order over a
``Context``. Rules rewrite the sqlglot expression and fill in the plan: which
operator calls exist (``OpCall``), the WHERE conjuncts in execution order
(``Conjunct``) and the stages that compute missing stats survivors-first
(``Stage``). Table names the engine creates are derived from the statement
index, so the emitted SQL is a pure function of the recipe and the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlglot import exp

from juicedb.registry import OpSpec


@dataclass(frozen=True)
class DatasetRef:
    """A ``dataset('path', ...)`` call: the file and its load options."""

    path: str
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass
class OpCall:
    """One operator call in a statement, replaced in the SQL by the column ``placeholder``."""

    id: int
    spec: OpSpec
    output: str                 # stat key (filters, deduplicators) or SQL name (mappers)
    params: dict[str, Any]      # validated, defaults filled in
    input_sql: str              # SQL of the input, inner calls already placeholders
    deps: tuple[int, ...]       # ids of calls nested in the input
    written: str                # the call as written, for explain and trace
    stmt: int = 0

    @property
    def placeholder(self) -> str:
        return f"__jdb_{self.id}"

    @property
    def table(self) -> str:
        """Temp table the engine fills with ``(__rid, placeholder)``."""
        return f"__jdb_o{self.stmt}_{self.id}"

    @property
    def fingerprint(self) -> str:
        return self.spec.fingerprint(self.params)

    @property
    def column(self) -> str:
        """Column name in the ``stats`` table: the stat key, suffixed with non-default params."""
        extra = self.spec.non_default(self.params)
        suffix = "".join(f"__{k}_{_slug(v)}" for k, v in sorted(extra.items()))
        return self.output + suffix

    @property
    def cost(self) -> float:
        return self.spec.cost_value


def _slug(value: Any) -> str:
    text = Path(value).stem if isinstance(value, str) and ("/" in value or "\\" in value) else str(value)
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower() or "x"


@dataclass
class Estimate:
    """What the catalog knows of a conjunct from existing stats."""

    pass_rate: float | None = None   # share of sampled rows that pass, None when unknown
    cached: float = 0.0              # share of sampled rows whose stats are all cached


@dataclass
class Conjunct:
    """One top-level AND term of a WHERE."""

    expr: exp.Expression             # with placeholders
    written: str                     # as written (before placeholders), for explain and trace
    calls: tuple[int, ...]           # every call it needs, nested ones included, deps first
    position: int                    # 1-based position as written
    dedup: int | None = None         # id of the deduplicator call when this is a dedup conjunct
    estimate: Estimate = field(default_factory=Estimate)
    rank: float = 0.0

    @property
    def sql(self) -> str:
        return self.expr.sql(dialect="duckdb", normalize_functions=False)


@dataclass
class Stage:
    """Calls computed together on the rows that survived every earlier conjunct."""

    conjuncts: tuple[int, ...]       # indexes into Context.conjuncts (execution order)
    calls: tuple[int, ...]           # call ids first computed here
    cost_class: str = ""


class Catalog(Protocol):
    """What the compiler may ask of the workspace."""

    def dataset_table(self, ref: DatasetRef) -> str: ...

    def estimate(self, base_sql: str, conjunct: Conjunct, calls: dict[int, OpCall]) -> Estimate: ...


Kind = Literal["plain", "planned", "passthrough"]


@dataclass
class Context:
    """Everything the rules know about one statement."""

    stmt: exp.Expression
    catalog: Catalog
    index: int = 0
    base_dir: Path | None = None
    kind: Kind = "plain"
    select: exp.Select | None = None
    base_sql: str = ""
    base_alias: str = ""
    calls: dict[int, OpCall] = field(default_factory=dict)
    conjuncts: list[Conjunct] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    post_calls: tuple[int, ...] = ()
    datasets: list[tuple[DatasetRef, str]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def work_table(self) -> str:
        return f"__jdb_w{self.index}"

    def source(self) -> tuple[str, str]:
        """SQL (without alias) and alias of the planned SELECT's single FROM source."""
        assert self.select is not None
        src = (self.select.args.get("from_") or self.select.args.get("from")).this.copy()
        alias = src.alias or (src.name if isinstance(src, exp.Table) and src.name else "__jdb_base")
        src.set("alias", None)
        return src.sql(dialect="duckdb", normalize_functions=False), alias
