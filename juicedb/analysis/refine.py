"""Refine a recipe's thresholds from its stats: Data-Juicer's k-sigma rule, or percentiles.

k-sigma (DJ's ``tools/process_data_k_sigma``): a lower bound (a ``min`` parameter, or
``stat >= x``) becomes ``mean - k * std``, an upper bound ``mean + k * std``, with mean and
std from the analysis (list stats exploded). Percentiles: a lower bound becomes the
``lo`` percentile, an upper bound the ``hi`` one. Like DJ, only thresholds the recipe
writes are changed (a filter's default bound stays a default), and a NaN (a constant or
empty stat) leaves a threshold as it is. Unlike DJ, which rewrites every parameter with
"min" or "max" in its name, only keep-rule bounds move: ``max_tokens`` changes what a stat
means (and its cache key), ``min_closed_interval`` is a flag.

The refined recipe is the original text with those numbers replaced and a comment above
each statement saying where each came from. Thresholds are not part of a stat's cache
key, and the analysis computed every stat on every row, so it runs without computing any
stat again.

>>> refined_value("min", {"mean": 100.0, "std": 20.0}, k_sigma=3)
(40.0, 'mean 100 - 3 * std 20')
>>> refined_value("max", {"90%": 7.5}, percentiles=(0.1, 0.9))
(7.5, '90th percentile')
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.analysis.describe import percentile_label
from juicedb.analysis.scan import Scan
from juicedb.errors import JuicedbError

DEFAULT_K_SIGMA = 3.0


def check_method(k_sigma: float | None, percentiles: Sequence[float] | None) -> tuple[float | None,
                                                                                     tuple[float, float] | None]:
    """Validate the refinement rule: k-sigma (default k = 3) or a (lo, hi) percentile pair, not both."""
    if k_sigma is not None and percentiles is not None:
        raise JuicedbError("refine takes --k-sigma or --percentiles, not both")
    if percentiles is not None:
        pair = tuple(float(p) for p in percentiles)
        if len(pair) != 2 or not 0 <= pair[0] < pair[1] <= 1:
            raise JuicedbError(f"percentiles must be two numbers lo < hi in [0, 1] (e.g. 0.05 0.95), got {percentiles}")
        return None, (pair[0], pair[1])
    k = DEFAULT_K_SIGMA if k_sigma is None else float(k_sigma)
    if not k > 0:
        raise JuicedbError(f"k-sigma must be > 0 (DJ's default is 3), got {k_sigma}")
    return k, None


def method_name(k_sigma: float | None, percentiles: tuple[float, float] | None) -> str:
    if percentiles is not None:
        return f"percentiles {percentile_label(percentiles[0])}/{percentile_label(percentiles[1])}"
    return f"{k_sigma:g}-sigma"


def refined_value(side: str, described: dict[str, Any], *, k_sigma: float | None = None,
                  percentiles: tuple[float, float] | None = None) -> tuple[float | None, str]:
    """The new threshold of one bound and where it came from; None when the stats give none (NaN)."""
    if percentiles is not None:
        p = percentiles[0] if side == "min" else percentiles[1]
        value = described.get(percentile_label(p))
        origin = f"{_ordinal(p * 100)} percentile"
    else:
        mean, std = described.get("mean"), described.get("std")
        value = None if mean is None or std is None else (mean - k_sigma * std if side == "min"
                                                          else mean + k_sigma * std)
        origin = f"mean {_num(mean)} {'-' if side == 'min' else '+'} {k_sigma:g} * std {_num(std)}"
    if value is None or not math.isfinite(value):
        return None, "no finite value (a constant or empty stat)"
    return float(value), origin


def _ordinal(x: float) -> str:
    text = f"{round(x, 6):g}"
    if text.endswith(("11", "12", "13")) or "." in text:
        return text + "th"
    return text + {"1": "st", "2": "nd", "3": "rd"}.get(text[-1], "th")


def _num(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def format_threshold(value: float, side: str, integer: bool) -> str:
    """SQL text of a new threshold: 10 significant digits (DJ rounds stats to 10 decimals) unless that
    rounding would tighten the bound, or a whole number for an int parameter, rounded inwards so that it
    keeps the same integer values."""
    if integer:
        return str(int(math.ceil(value) if side == "min" else math.floor(value)))
    text = f"{value:.10g}"
    if (side == "min" and float(text) > value) or (side == "max" and float(text) < value):
        # rounded past the value (a constant stat's mean, exactly its values): write it exactly
        text = repr(float(value))
    return text if any(c in text for c in ".en") else text + ".0"


def share_kept(values: np.ndarray, side: str, threshold: float, strict: bool) -> float | None:
    """Share of the (exploded) values a single bound keeps."""
    if values.size == 0:
        return None
    if side == "min":
        kept = values > threshold if strict else values >= threshold
    else:
        kept = values < threshold if strict else values <= threshold
    return float(kept.mean())


REFINEMENT_SCHEMA = pa.schema([
    ("statement", pa.int64()), ("line", pa.int64()), ("source", pa.string()), ("stat", pa.string()),
    ("predicate", pa.string()), ("param", pa.string()), ("side", pa.string()), ("old", pa.float64()),
    ("new", pa.float64()), ("new_sql", pa.string()), ("method", pa.string()), ("origin", pa.string()),
    ("kept_old", pa.float64()), ("kept_new", pa.float64()),
])


def refinement_rows(scan: Scan, columns: dict[tuple[str, tuple], str], described: dict[tuple[str, str], dict],
                    values: dict[tuple[str, str], np.ndarray], *, k_sigma: float | None,
                    percentiles: tuple[float, float] | None) -> pa.Table:
    """One row per threshold of the recipe: the old and the refined value, where it came from, and the
    share of values each keeps. ``described``/``values`` are keyed by (source label, column)."""
    rows = []
    method = method_name(k_sigma, percentiles)
    for t in scan.thresholds:
        column = columns[(t.source, t.stat)]
        new, origin = refined_value(t.side, described.get((t.source, column), {}), k_sigma=k_sigma,
                                    percentiles=percentiles)
        new_sql = format_threshold(new, t.side, t.integer) if new is not None else None
        strict = t.param in (">", "<")
        vals = values.get((t.source, column), np.zeros(0))
        rows.append({
            "statement": t.statement, "line": t.line, "source": t.source, "stat": column, "predicate": t.written,
            "param": t.param, "side": t.side, "old": float(t.value), "new": float(new_sql) if new_sql else None,
            "new_sql": new_sql, "method": method, "origin": origin,
            "kept_old": share_kept(vals, t.side, float(t.value), strict),
            "kept_new": share_kept(vals, t.side, float(new_sql), strict) if new_sql else None,
        })
    return pa.Table.from_pylist(rows, schema=REFINEMENT_SCHEMA)


def rewrite(script: str, scan: Scan, rows: pa.Table, *, recipe: str, method: str, rows_by_source: dict[str, int],
            base_dir: Path | None = None, out_dir: Path | None = None, workspace: str | None = None) -> str:
    """The recipe text with each threshold replaced, a comment above each statement naming the origin of
    each number, and relative file paths re-pointed when the refined recipe lives in another folder."""
    edits: list[tuple[int, int, str]] = []
    by_statement: dict[int, list[dict]] = {}
    for t, row in zip(scan.thresholds, rows.to_pylist()):
        by_statement.setdefault(t.statement, []).append(row)
        if row["new_sql"] is not None:
            edits.append((t.start, t.end, row["new_sql"]))
    if base_dir is not None and out_dir is not None and base_dir.resolve() != out_dir.resolve():
        for start, end, path in scan.paths:
            if "://" not in path and not Path(path).is_absolute():
                target = (base_dir / path).resolve()
                moved = os.path.relpath(target, out_dir.resolve())
                if moved.startswith(".."):  # a path out of the new folder reads better absolute
                    moved = str(target)
                edits.append((start, end, "'" + moved.replace("'", "''") + "'"))
    for number, stmt_rows in by_statement.items():
        sources = sorted({r["source"] for r in stmt_rows})
        lines = [f"juicedb refine ({method}) from the stats of "
                 + ", ".join(f"{s} ({rows_by_source.get(s, 0)} rows)" for s in sources) + ":"]
        for r in stmt_rows:
            what = r["predicate"] if r["param"] in (">", ">=", "<", "<=") else f"{r['param']} of {r['predicate']}"
            if r["new_sql"] is None:
                lines.append(f"  {what}: kept {_fmt(r['old'])}, {r['origin']}")
            else:
                lines.append(f"  {what}: {_fmt(r['old'])} -> {r['new_sql']} ({r['origin']})")
        edits.append((scan.statement_starts[number], scan.statement_starts[number],
                      "".join(f"-- {line}\n" for line in lines)))
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    where = f" of workspace {workspace}" if workspace else ""
    edits.append((0, 0, f"-- Refined from {recipe} by `juicedb refine` ({method}), {stamp}.\n"
                        f"-- Only thresholds changed; every stat it reads is in the stats cache{where}.\n\n"))
    out = script
    for start, end, text in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        out = out[:start] + text + out[end:]
    return out


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.10g}"


@dataclass
class Refinement:
    """What ``refine`` did: the thresholds table, the refined recipe and what computing the stats cost."""

    thresholds: pa.Table
    recipe: str                 # the refined recipe's text
    path: Path | None           # where it was written
    computed: int               # stat values computed by the analysis (0 when all were cached)
    seconds: float
