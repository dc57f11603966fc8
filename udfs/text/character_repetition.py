"""character_repetition_filter -> ``char_rep_ratio``."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.arrays import numeric
from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.hashing import BASE
from juicedb.udfs.common.text import TextBatch


@filter_op("character_repetition_filter", stat="char_rep_ratio", cost="moderate",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.5)}, threads=True)
def char_rep_ratio(batch: TextBatch, *, rep_len: Annotated[int, Positive()] = 10) -> pa.Array:
    """Share of character n-grams (n = rep_len) taken by the most repeated ones (DJ's top-k rule:
    k = min(isqrt(#distinct), #distinct - #singletons)), counted per text in a compiled hash table.

    >>> char_rep_ratio(TextBatch(["a v s e c s f e f g a a a a a a a a a a"]), rep_len=5).to_pylist()
    [0.45714285714285713]
    """
    from juicedb.udfs.common.kernels import char_top_k_shares

    # n-grams of over 3 code points are keyed by a polynomial hash (a collision among one document's
    # n-grams: below 1e-11), shorter ones exactly (21 bits per code point)
    out = char_top_k_shares(batch.codepoints, batch.offsets, rep_len, BASE, np.zeros(len(batch)))
    return numeric(out, pa.float64(), null=~batch.valid)
