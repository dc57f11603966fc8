"""Pearson correlation across stats, and hierarchical clustering of the stats into k groups.

As Data-Juicer's ``CorrelationAnalysis``: numeric stats only, a list stat enters as
the mean of its items per sample (0 for an empty list), string stats are left out, and
each pair is correlated over the samples where both are present (pandas' ``corr()``).
Stats are then clustered on the distance ``1 - |r|`` (average linkage): stats in one
group measure nearly the same thing, so keeping one per group (the sandbox's "best OP
per cluster") loses little.

>>> import pyarrow as pa
>>> t = pa.table({"a": [1.0, 2.0, 3.0, 4.0], "b": [2.0, 4.5, 6.0, 8.5], "c": [4.0, 1.0, 3.0, 2.0]})
>>> r = correlation_matrix(t)
>>> round(float(r.matrix[0, 1]), 3), round(float(r.matrix[0, 2]), 3)
(0.995, -0.4)
>>> cluster_stats(r, 2).to_pylist()
[{'stat': 'a', 'cluster': 1}, {'stat': 'b', 'cluster': 1}, {'stat': 'c', 'cluster': 2}]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.errors import JuicedbError


@dataclass
class Correlation:
    stats: list[str]
    matrix: np.ndarray          # Pearson r, NaN where undefined (a constant stat, < 2 shared samples)
    pairs: np.ndarray           # number of samples each pair was computed on

    def to_table(self) -> pa.Table:
        """Long form, one row per ordered pair: ``stat_a, stat_b, pearson, samples``."""
        n = len(self.stats)
        return pa.table({
            "stat_a": pa.array([a for a in self.stats for _ in range(n)], pa.string()),
            "stat_b": pa.array(self.stats * n, pa.string()),
            "pearson": pa.array(self.matrix.reshape(-1), pa.float64(), from_pandas=True),
            "samples": pa.array(self.pairs.reshape(-1), pa.int64()),
        })


def per_sample(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """One number per sample (a list stat's mean, 0 when empty, as DJ), or None for a non-numeric stat."""
    col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    t = col.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        if not (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type)):
            return None
        out = np.zeros(len(col), dtype=np.float64)
        flat = pc.cast(pc.list_flatten(col), pa.float64()).to_numpy(zero_copy_only=False)
        lengths = pc.list_value_length(col).fill_null(0).to_numpy(zero_copy_only=False)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        has = lengths > 0
        sums = np.add.reduceat(flat, starts[has]) if flat.size else np.zeros(0)
        out[has] = sums / lengths[has]
        return out
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
    return None


def correlation_matrix(table: pa.Table, columns: Sequence[str] | None = None) -> Correlation:
    """Pearson r of every pair of numeric stats, each pair over the samples where both are present."""
    names, series = [], []
    for name in columns if columns is not None else table.column_names:
        values = per_sample(table.column(name))
        if values is not None:
            names.append(name)
            series.append(values)
    n = len(names)
    matrix = np.full((n, n), np.nan)
    pairs = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(i, n):
            x, y = series[i], series[j]
            both = ~(np.isnan(x) | np.isnan(y))
            m = int(both.sum())
            pairs[i, j] = pairs[j, i] = m
            if m < 2:
                continue
            dx = x[both] - x[both].mean()
            dy = y[both] - y[both].mean()
            denom = np.sqrt((dx * dx).sum() * (dy * dy).sum())
            if denom > 0:
                matrix[i, j] = matrix[j, i] = float(np.clip((dx * dy).sum() / denom, -1.0, 1.0))
    return Correlation(names, matrix, pairs)


def linkage(corr: Correlation) -> np.ndarray:
    """scipy's average-linkage tree over the distance 1 - |r| (an undefined r counts as unrelated)."""
    from scipy.cluster.hierarchy import linkage as scipy_linkage
    from scipy.spatial.distance import squareform
    dist = 1.0 - np.abs(np.nan_to_num(corr.matrix, nan=0.0))
    np.fill_diagonal(dist, 0.0)
    return scipy_linkage(squareform(np.clip(dist, 0.0, 1.0), checks=False), method="average")


def cluster_stats(corr: Correlation, k: int) -> pa.Table:
    """``stat, cluster``: the stats cut into at most ``k`` groups; groups numbered in order of first stat."""
    n = len(corr.stats)
    if k < 1:
        raise JuicedbError(f"the number of clusters must be >= 1, got {k}")
    if n == 0:
        return pa.table({"stat": pa.array([], pa.string()), "cluster": pa.array([], pa.int64())})
    if n == 1:
        labels = np.ones(1, dtype=np.int64)
    else:
        from scipy.cluster.hierarchy import fcluster
        labels = fcluster(linkage(corr), t=min(k, n), criterion="maxclust")
    renumber: dict[int, int] = {}
    for lab in labels:
        renumber.setdefault(int(lab), len(renumber) + 1)
    return pa.table({"stat": pa.array(corr.stats, pa.string()),
                     "cluster": pa.array([renumber[int(lab)] for lab in labels], pa.int64())})
