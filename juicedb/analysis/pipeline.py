"""``analyze`` and ``refine``: the stats a recipe (or a dataset) needs, described, plotted and refined.

Every number lands in a workspace table (``analysis_*``), queryable in ``juicedb shell``:

- ``analysis_stats``: one row per sample, one column per stat (and ``source``, ``uid``);
- ``analysis_describe``: one row per stat, DJ's describe (count, mean, std, min, percentiles, max;
  unique/top/freq for string stats);
- ``analysis_correlation``: Pearson r for every pair of stats; ``analysis_clusters``: each
  stat's group;
- ``analysis_thresholds``: the recipe's thresholds with their k-sigma refinement and the
  share of values each keeps (``refine`` writes ``analysis_refinement``, the rule it used);
- ``analysis_verb_noun`` / ``analysis_diversity``: root verb and object per sample, and the
  top verbs x top nouns counts (with ``diversity=True``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.analysis.compute import Computed, compute_stats
from juicedb.analysis.correlation import Correlation, cluster_stats, correlation_matrix, linkage
from juicedb.analysis.describe import describe, is_numeric, values_of
from juicedb.analysis.refine import (
    Refinement,
    check_method,
    method_name,
    refinement_rows,
    rewrite,
)
from juicedb.analysis.scan import Scan, Source, parse_stat_calls, scan_recipe
from juicedb.errors import DatasetError, JuicedbError, RecipeError
from juicedb.registry import all_ops
from juicedb.workspace import Workspace

DATASET_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".parquet", ".csv")
DEFAULT_CLUSTERS = 3


def default_stats() -> list[str]:
    """The text stats computed when a dataset is analysed without ``ops``: every model-free text filter's."""
    return [s.name for s in all_ops()
            if s.kind == "filter" and s.modality == "text" and not s.requires
            and s.cost in ("trivial", "cheap", "moderate")]


@dataclass
class Analysis:
    """The result of ``analyze``: every table it wrote, and the files of its report."""

    scan: Scan
    stats: pa.Table
    describe: pa.Table
    correlation: pa.Table
    clusters: pa.Table
    thresholds: pa.Table
    computed: int                  # stat values computed (0: everything came from the cache)
    seconds: float
    verb_noun: pa.Table | None = None
    diversity: pa.Table | None = None
    report: Path | None = None
    images: list[Path] = field(default_factory=list)


def plan(target: str | Path, *, ops: Sequence[str] | None = None, text_key: str | None = None) -> Scan:
    """What to analyse: a recipe's sources and thresholds, or a dataset file with ``ops`` (default: the
    model-free text stats)."""
    path = Path(target)
    if not path.exists():
        raise DatasetError(f"nothing to analyse at {path}: expected a recipe (.sql) or a dataset file "
                           f"({', '.join(DATASET_SUFFIXES)})")
    if path.suffix == ".sql":
        if ops:
            raise RecipeError("--op is for a dataset; a recipe analyses the stats it calls")
        scan = scan_recipe(path.read_text(encoding="utf-8"), base_dir=path.resolve().parent)
        if not scan.sources:
            raise RecipeError(f"{path} calls no stat or filter over a source: nothing to analyse")
        return scan
    if not path.name.endswith(DATASET_SUFFIXES):
        raise DatasetError(f"{path}: expected a recipe (.sql) or a dataset file ({', '.join(DATASET_SUFFIXES)})")
    options = f", text_key := '{text_key}'" if text_key else ""
    escaped = str(path.resolve()).replace("'", "''")
    source = Source(f"dataset('{path}')", f"dataset('{escaped}'{options})")
    for spec in ops or default_stats():
        for call in parse_stat_calls(spec):
            source.add(call)
    return Scan(sources=[source])


def _describe_all(scan: Scan, computed: Computed, percentiles: Sequence[float]) -> tuple[pa.Table, dict, dict]:
    """DJ's describe per source, with ``source`` and ``call`` columns; and lookups by (source, column)."""
    parts, described, values = [], {}, {}
    for src in scan.sources:
        rows = computed.table.filter(pc.equal(computed.table.column("source"), src.label))
        cols = [computed.columns[(src.label, c.identity)] for c in src.stats]
        d = describe(rows, percentiles, columns=cols)
        calls = {computed.columns[(src.label, c.identity)]: c.written for c in src.stats}
        d = d.add_column(1, "call", pa.array([calls[s] for s in d.column("stat").to_pylist()], pa.string()))
        d = d.add_column(0, "source", pa.array([src.label] * d.num_rows, pa.string()))
        parts.append(d)
        for row in d.to_pylist():
            described[(src.label, row["stat"])] = row
            if is_numeric(rows.schema.field(row["stat"]).type):
                values[(src.label, row["stat"])] = values_of(rows, row["stat"])
    return pa.concat_tables(parts), described, values


def _correlate(scan: Scan, computed: Computed, k: int) -> tuple[list[tuple[str, Correlation]], pa.Table, pa.Table]:
    corrs, corr_parts, cluster_parts = [], [], []
    for src in scan.sources:
        rows = computed.table.filter(pc.equal(computed.table.column("source"), src.label))
        corr = correlation_matrix(rows, [computed.columns[(src.label, c.identity)] for c in src.stats])
        corrs.append((src.label, corr))
        for part, table in ((corr_parts, corr.to_table()), (cluster_parts, cluster_stats(corr, k))):
            part.append(table.add_column(0, "source", pa.array([src.label] * table.num_rows, pa.string())))
    return corrs, pa.concat_tables(corr_parts), pa.concat_tables(cluster_parts)


def analyze(ws: Workspace, target: str | Path, *, ops: Sequence[str] | None = None, text_key: str | None = None,
            percentiles: Sequence[float] = (), clusters: int = DEFAULT_CLUSTERS, k_sigma: float = 3.0,
            out_dir: str | Path | None = None, diversity: bool = False, diversity_rows: int | None = None,
            top_verbs: int = 20, top_nouns: int = 4,
            on_progress: Callable[[str, int, int], None] | None = None) -> Analysis:
    """Compute the stats ``target`` needs (through the engine, cached), describe them as Data-Juicer's
    analyzer does, correlate and cluster them, and with ``out_dir`` draw the plots and write report.html.

    ``target`` is a recipe (.sql) or a dataset file; for a dataset, ``ops`` names the stats
    (``alnum_ratio``, ``char_rep_ratio(text, rep_len := 5)``, a filter name), default the model-free text
    stats. Every table is also written to the workspace (see the module doc).
    """
    t0 = time.perf_counter()
    k_sigma, _ = check_method(k_sigma, None)
    scan = plan(target, ops=ops, text_key=text_key)
    computed = compute_stats(ws, scan.sources, on_progress=on_progress)
    described_table, described, values = _describe_all(scan, computed, percentiles)
    corrs, corr_table, cluster_table = _correlate(scan, computed, clusters)
    thresholds = refinement_rows(scan, computed.columns, described, values, k_sigma=k_sigma, percentiles=None)
    for name, table in (("analysis_describe", described_table), ("analysis_correlation", corr_table),
                        ("analysis_clusters", cluster_table), ("analysis_thresholds", thresholds)):
        ws.write_table(name, table)
    analysis = Analysis(scan, computed.table, described_table, corr_table, cluster_table, thresholds,
                        computed.computed, 0.0)
    if diversity:
        from juicedb.analysis.diversity import diversity_of_source
        analysis.verb_noun, analysis.diversity = diversity_of_source(
            ws, scan.sources[0], rows=diversity_rows, top_verbs=top_verbs, top_nouns=top_nouns)
        ws.write_table("analysis_verb_noun", analysis.verb_noun)
        ws.write_table("analysis_diversity", analysis.diversity)
    if out_dir is not None:
        from juicedb.analysis.report import write_report
        analysis.report, analysis.images = write_report(
            Path(out_dir), analysis, values, {label: (corr, linkage(corr) if len(corr.stats) > 1 else None)
                                              for label, corr in corrs},
            title=str(target), k_sigma=k_sigma)
    analysis.seconds = time.perf_counter() - t0
    return analysis


def refine(ws: Workspace, recipe: str | Path, *, k_sigma: float | None = None,
           percentiles: Sequence[float] | None = None, output: str | Path | None = None,
           on_progress: Callable[[str, int, int], None] | None = None) -> Refinement:
    """Write a refined copy of ``recipe``: each threshold it writes becomes DJ's k-sigma bound (default
    k = 3) or the ``percentiles`` (lo, hi) value of its stat, with a comment naming where it came from.

    The stats are computed on all rows first (or found in the cache), so the refined recipe computes
    none. ``output`` defaults to ``<recipe>.refined.sql`` next to the recipe; the thresholds table is
    returned and written to the workspace as ``analysis_refinement``.
    """
    t0 = time.perf_counter()
    k, pcts = check_method(k_sigma, percentiles)
    path = Path(recipe)
    if path.suffix != ".sql" or not path.is_file():
        raise RecipeError(f"refine expects a recipe .sql file, got {path}")
    scan = plan(path)
    if not scan.thresholds:
        raise RecipeError(f"{path} has no threshold to refine: refine changes numbers compared with a stat "
                          "(text_len(text) >= 10) or a filter's bounds (text_length_filter(text, min_len := 10))")
    computed = compute_stats(ws, scan.sources, on_progress=on_progress)
    _, described, values = _describe_all(scan, computed, pcts or ())
    rows = refinement_rows(scan, computed.columns, described, values, k_sigma=k, percentiles=pcts)
    ws.write_table("analysis_refinement", rows)
    out = Path(output) if output is not None else path.with_name(path.name.removesuffix(".sql") + ".refined.sql")
    counts = dict(zip(*np.unique(computed.table.column("source").to_numpy(zero_copy_only=False),
                                 return_counts=True))) if computed.table.num_rows else {}
    text = rewrite(path.read_text(encoding="utf-8"), scan, rows, recipe=str(path), method=method_name(k, pcts),
                   rows_by_source={str(s): int(n) for s, n in counts.items()}, base_dir=path.resolve().parent,
                   out_dir=out.resolve().parent, workspace=str(ws.path))
    if out.resolve() == path.resolve():
        raise JuicedbError(f"refine would overwrite its recipe {path}: pass another --output")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return Refinement(rows, text, out, computed.computed, time.perf_counter() - t0)
