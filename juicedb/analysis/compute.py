"""Compute the stats an analysis needs through the engine, so that they land in the stats cache.

Every stat of a source is computed on **all** its rows by one planned statement
(``CREATE TABLE ... AS SELECT uid, <stat calls> FROM <source>``), and every deduplicator's
hash by one more (``SELECT count(*) FROM <source> WHERE <deduplicator>``). A recipe run
after it, with any thresholds, finds every stat and hash in the cache: survivors-first
planning then has nothing left to compute, however far a refined threshold moves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from juicedb.analysis.scan import Source
from juicedb.workspace import Workspace

STATS_TABLE = "analysis_stats"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Computed:
    """The stats table of an analysis and what computing it cost."""

    table: pa.Table                                  # source, uid, one column per stat
    columns: dict[tuple[str, tuple], str]            # (source label, StatCall.identity) -> column
    computed: int                                    # stat values added to the cache (0: all reused)
    seconds: float
    summary: pa.Table = field(default_factory=pa.table)  # the engine's per-step counts


def cache_rows(ws: Workspace) -> int:
    """Stat values in the workspace's stats cache (every operator's table together)."""
    names = ws.sql("SELECT table_name FROM jdb_cache.entries").column(0).to_pylist()
    if not names:
        return 0
    total = " + ".join(f"(SELECT count(*) FROM {n})" for n in names)
    return int(ws.sql(f"SELECT {total} AS n").column(0)[0].as_py())


def _columns(sources: list[Source]) -> dict[tuple[str, tuple], str]:
    """A column name per (source, stat): the stats-table name, numbered when two stats share it."""
    out: dict[tuple[str, tuple], str] = {}
    for src in sources:
        taken: set[str] = {"source", "uid"}
        for call in src.stats:
            name, n = call.column, 1
            while name in taken:
                n += 1
                name = f"{call.column}__{n}"
            taken.add(name)
            out[(src.label, call.identity)] = name
    return out


def _has_uid(ws: Workspace, src: Source) -> bool:
    probe = ws.sql(f"{src.with_sql} SELECT * FROM {src.sql} LIMIT 0".strip())
    return "uid" in probe.column_names


def analysis_script(sources: list[Source], columns: dict[tuple[str, tuple], str], uids: list[bool],
                    table: str = STATS_TABLE) -> str:
    """The SQL that computes every stat (and deduplicator hash) of every source on all rows."""
    parts: list[str] = []
    for i, (src, uid) in enumerate(zip(sources, uids)):
        cols = [*(["uid"] if uid else []),
                *(f"{c.sql} AS {_quote(columns[(src.label, c.identity)])}" for c in src.stats)]
        if cols:
            parts.append(f"CREATE OR REPLACE TABLE __jdb_analysis_{i} AS {src.with_sql} "
                         f"SELECT {', '.join(cols)} FROM {src.sql}".replace("  ", " "))
        parts += [f"{src.with_sql} SELECT count(*) AS kept FROM {src.sql} WHERE {d}".strip() for d in src.dedups]
    made = [i for i, src in enumerate(sources) if src.stats or uids[i]]
    if made:
        union = " UNION ALL BY NAME ".join(
            f"SELECT {_literal(sources[i].label)} AS source, * FROM __jdb_analysis_{i}" for i in made)
        parts.append(f"CREATE OR REPLACE TABLE {_quote(table)} AS {union}")
        parts += [f"DROP TABLE __jdb_analysis_{i}" for i in made]
    return ";\n".join(parts) + ";\n"


def compute_stats(ws: Workspace, sources: list[Source], *,
                  on_progress: Callable[[str, int, int], None] | None = None) -> Computed:
    """Compute (or find in the cache) every stat of ``sources`` on all their rows; the analysis table."""
    columns = _columns(sources)
    uids = [_has_uid(ws, s) for s in sources]
    before = cache_rows(ws)
    ws.run(analysis_script(sources, columns, uids), on_progress=on_progress, fetch=False)
    report = ws.last_run
    assert report is not None
    return Computed(ws.table(STATS_TABLE), columns, cache_rows(ws) - before, report.seconds, report.summary())
