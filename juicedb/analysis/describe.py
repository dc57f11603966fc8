"""Describe stats as Data-Juicer's analyzer does (``OverallAnalysis``: pandas' ``describe()``).

A numeric stat gets count, mean, std (ddof 1), min, the 25/50/75 percentiles plus any
requested, and max; a string stat (``lang``) gets count, unique, top and freq. A list
stat (one value per image) is exploded first, an empty list counting as one missing
value, as ``Series.explode()`` makes it. The arithmetic is pandas' own (``nanops``: the
same sums in the same order, two-pass variance, ``np.quantile``'s linear interpolation as
pandas 3 calls it), so the numbers are equal to the last bit, without pandas at run time.
(pandas 2 asked ``np.percentile`` for ``100 * p``: a percentile other than 25/50/75 may
then differ in its last bits.)

>>> import pyarrow as pa
>>> t = describe(pa.table({"text_len": [3, 5, 10, 2]}))
>>> {k: t.column(k)[0].as_py() for k in ("count", "mean", "min", "50%", "max")}
{'count': 4, 'mean': 5.0, 'min': 2.0, '50%': 4.0, 'max': 10.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.errors import JuicedbError

DEFAULT_PERCENTILES = (0.25, 0.5, 0.75)
NUMERIC_FIELDS = ("count", "mean", "std", "min")  # then the percentiles, then max
STRING_FIELDS = ("unique", "top", "freq")


def percentile_label(p: float) -> str:
    """pandas' row label of a percentile: 0.25 -> '25%', 0.999 -> '99.9%'."""
    return f"{round(p * 100, 8):g}%"


def merge_percentiles(extra: Iterable[float] = ()) -> tuple[float, ...]:
    """DJ's percentiles: the requested ones and 25/50/75, sorted, each once; each must lie in [0, 1]."""
    merged = sorted({*DEFAULT_PERCENTILES, *(float(p) for p in extra)})
    bad = [p for p in merged if not 0 <= p <= 1]
    if bad:
        raise JuicedbError(f"percentiles must lie in [0, 1] (0.9 is the 90th), got {bad[0]!r}")
    return tuple(merged)


def explode(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A list stat's items in row order; an empty or null list becomes one null (``Series.explode()``)."""
    values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not (pa.types.is_list(values.type) or pa.types.is_large_list(values.type)):
        return values
    empty = pc.equal(pc.list_value_length(values).fill_null(0), 0)
    if pc.any(empty).as_py():
        values = pc.if_else(empty, pa.scalar([None], values.type), values)
    return pc.list_flatten(values)


def is_numeric(t: pa.DataType) -> bool:
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        t = t.value_type
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def to_numpy(values: pa.Array) -> np.ndarray:
    """What pandas holds for the column: int64 without nulls, float64 with NaN otherwise."""
    if pa.types.is_integer(values.type) and values.null_count == 0:
        return values.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)


def describe_numeric(values: np.ndarray, percentiles: Sequence[float] = DEFAULT_PERCENTILES) -> dict[str, float]:
    """count, mean, std, min, percentiles, max of one exploded numeric stat, pandas' way (``nanops``)."""
    mask = np.isnan(values) if values.dtype.kind == "f" else None
    present = values[~mask] if mask is not None else values
    count = int(present.size)
    out: dict[str, Any] = {"count": count}
    if values.dtype.kind == "f":
        filled = np.where(mask, 0.0, values)
        total = filled.sum(dtype=np.float64)
    else:
        filled = values.astype(np.float64)
        total = values.sum(dtype=np.float64)
    mean = total / count if count else np.nan
    out["mean"] = float(mean)
    if count > 1:
        # two-pass variance over the zero-filled values, as pandas' nanvar
        avg = filled.sum(dtype=np.float64) / np.float64(count)
        sqr = (avg - filled) ** 2
        if mask is not None:
            np.putmask(sqr, mask, 0)
        out["std"] = float(np.sqrt(sqr.sum(dtype=np.float64) / (np.float64(count) - 1)))
    else:
        out["std"] = float("nan")
    out["min"] = float(present.min()) if count else float("nan")
    if count:
        qs = np.quantile(present, np.asarray(percentiles, dtype=np.float64), method="linear")
    else:
        qs = [float("nan")] * len(percentiles)
    for p, q in zip(percentiles, qs):
        out[percentile_label(p)] = float(q)
    out["max"] = float(present.max()) if count else float("nan")
    return out


def describe_strings(values: pa.Array) -> dict[str, Any]:
    """count, unique, top, freq of a string stat; ties go to the value seen first (pandas' value_counts)."""
    items = [v for v in values.to_pylist() if v is not None]
    counts: dict[Any, int] = {}
    for v in items:
        counts[v] = counts.get(v, 0) + 1
    top = max(counts, key=counts.__getitem__) if counts else None  # max() keeps the first of equal counts
    return {"count": len(items), "unique": len(counts), "top": None if top is None else str(top),
            "freq": counts[top] if counts else None}


def describe_schema(percentiles: Sequence[float]) -> pa.Schema:
    fields = [pa.field("stat", pa.string()), pa.field("count", pa.int64())]
    fields += [pa.field(n, pa.float64()) for n in NUMERIC_FIELDS[1:]]
    fields += [pa.field(percentile_label(p), pa.float64()) for p in percentiles]
    fields += [pa.field("max", pa.float64()), pa.field("unique", pa.int64()), pa.field("top", pa.string()),
               pa.field("freq", pa.int64())]
    return pa.schema(fields)


def describe(table: pa.Table, percentiles: Iterable[float] = (), *, columns: Sequence[str] | None = None,
             ) -> pa.Table:
    """One row per stat column of ``table`` (DJ's overall analysis, one row per stat instead of per column).

    ``percentiles`` are added to 25/50/75. Columns that are neither numbers, strings nor
    lists of numbers are skipped (DJ warns and skips them too); ``columns`` picks some.
    """
    pcts = merge_percentiles(percentiles)
    schema = describe_schema(pcts)
    rows = []
    for name in columns if columns is not None else table.column_names:
        col = table.column(name)
        flat = explode(col)
        if is_numeric(col.type):
            row: dict[str, Any] = describe_numeric(to_numpy(flat), pcts)
        elif pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type):
            row = describe_strings(flat)
        else:
            continue
        rows.append({"stat": name, **row})
    return pa.Table.from_pylist(rows, schema=schema)


def values_of(table: pa.Table, column: str) -> np.ndarray:
    """The exploded numeric values of a stat without missing ones (what quantiles and plots read)."""
    values = to_numpy(explode(table.column(column)))
    return values[~np.isnan(values)] if values.dtype.kind == "f" else values
