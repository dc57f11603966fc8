"""Analyze and refine: Data-Juicer's analyzer and k-sigma recipe refinement over the stats cache.

The pure pieces take and return Arrow tables: ``describe`` (DJ's describe per stat),
``correlation_matrix`` / ``cluster_stats`` (Pearson, hierarchical clusters), ``verb_noun`` /
``top_verb_nouns`` (diversity). ``analyze`` and ``refine`` run them over a workspace: the
stats are computed through the engine (so they land in the stats cache) and every result is
also a workspace table (``analysis_*``).

>>> import pyarrow as pa
>>> describe(pa.table({"alnum_ratio": [0.25, 0.5, 0.75]})).select(["stat", "mean", "std"]).to_pylist()
[{'stat': 'alnum_ratio', 'mean': 0.5, 'std': 0.25}]
"""

from juicedb.analysis.correlation import Correlation, cluster_stats, correlation_matrix
from juicedb.analysis.describe import describe
from juicedb.analysis.diversity import top_verb_nouns, verb_noun
from juicedb.analysis.pipeline import Analysis, analyze, refine
from juicedb.analysis.refine import Refinement

__all__ = ["Analysis", "Correlation", "Refinement", "analyze", "cluster_stats", "correlation_matrix", "describe",
           "refine", "top_verb_nouns", "verb_noun"]
