"""word_repetition_filter -> ``word_rep_ratio``."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import pyarrow as pa

from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.text import TextBatch


def repeated_share(words: list[str], n: int) -> float:
    """Word n-grams occurring more than once, as a share of all n-grams (DJ)."""
    total = len(words) - n + 1
    if total <= 0:
        return 0.0
    # Words never contain a space, so a tuple of n words is equal exactly when
    # DJ's ' '.join of them is.
    freqs = Counter(zip(*(words[j:j + total] for j in range(n)))).values()
    return sum(f for f in freqs if f > 1) / total


@filter_op("word_repetition_filter", stat="word_rep_ratio", cost="moderate",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.5)})
def word_rep_ratio(batch: TextBatch, *, rep_len: Annotated[int, Positive()] = 10) -> pa.Array:
    """Share of word n-grams (refined, lower-cased words; n = rep_len) that occur more than once.

    >>> word_rep_ratio(TextBatch(["a b c a b c", "x"]), rep_len=3).to_pylist()
    [0.5, 0.0]
    """
    return batch.from_list([repeated_share(ws, rep_len) for ws in batch.refined_words(lower=True)],
                           pa.float64())
