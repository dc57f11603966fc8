"""Analyze and refine: Data-Juicer's analyzer and k-sigma recipe refinement over the stats cache.

The pure pieces take and return Arrow tables: ``describe`` (DJ's describe per stat),
``correlation_matrix`` / ``cluster_stats`` (Pearson, hierarchical clusters), ``verb_noun`` /
``top_verb_nouns`` (diversity).

>>> import pyarrow as pa
>>> describe(pa.table({"alnum_ratio": [0.25, 0.5, 0.75]})).select(["stat", "mean", "std"]).to_pylist()
[{'stat': 'alnum_ratio', 'mean': 0.5, 'std': 0.25}]
"""

from juicedb.analysis.correlation import Correlation, cluster_stats, correlation_matrix
from juicedb.analysis.describe import describe
from juicedb.analysis.diversity import top_verb_nouns, verb_noun

__all__ = ["Correlation", "cluster_stats", "correlation_matrix", "describe", "top_verb_nouns", "verb_noun"]
