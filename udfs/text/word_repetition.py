"""word_repetition_filter -> ``word_rep_ratio``."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.hashing import ngram_hashes
from juicedb.udfs.common.text import TextBatch


@filter_op("word_repetition_filter", stat="word_rep_ratio", cost="moderate",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.5)})
def word_rep_ratio(batch: TextBatch, *, rep_len: Annotated[int, Positive()] = 10) -> pa.Array:
    """Share of word n-grams (refined, lower-cased words; n = rep_len) that occur more than once.

    >>> word_rep_ratio(TextBatch(["a b c a b c", "x"]), rep_len=3).to_pylist()
    [0.5, 0.0]
    """
    spans = batch.word_spans(lower=True)
    keys, doc = ngram_hashes(spans.hashes, spans.doc, rep_len)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    repeated = np.bincount(doc, weights=counts[inverse] > 1, minlength=spans.n_docs)
    return batch.ratio(repeated, np.bincount(doc, minlength=spans.n_docs))
