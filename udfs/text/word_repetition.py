"""word_repetition_filter -> ``word_rep_ratio``."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.arrays import numeric
from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.hashing import SEQ
from juicedb.udfs.common.text import TextBatch


@filter_op("word_repetition_filter", stat="word_rep_ratio", cost="moderate",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.5)}, threads=True)
def word_rep_ratio(batch: TextBatch, *, rep_len: Annotated[int, Positive()] = 10) -> pa.Array:
    """Share of word n-grams (refined, lower-cased words; n = rep_len) that occur more than once in the text,
    counted per text in a compiled hash table.

    >>> word_rep_ratio(TextBatch(["a b c a b c", "x"]), rep_len=3).to_pylist()
    [0.5, 0.0]
    """
    from juicedb.udfs.common.kernels import repeated_ngram_shares

    spans = batch.word_spans(lower=True)
    out = repeated_ngram_shares(spans.hashes, spans.bounds, rep_len, SEQ, np.zeros(spans.n_docs))
    return numeric(out, pa.float64(), null=~batch.valid)
