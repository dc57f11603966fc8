"""character_repetition_filter -> ``char_rep_ratio``."""

from __future__ import annotations

from collections import Counter
from math import isqrt
from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.registry import Positive, filter_op
from juicedb.udfs.common.text import TextBatch

# Odd 64-bit multiplier for the rolling hash of n-grams longer than 3 code points.
_BASE = np.uint64(0x9E3779B97F4A7C15)
# Below this many n-grams a Counter over string slices beats numpy's per-call overhead.
_SMALL = 256


def _top_k_share(freqs: np.ndarray) -> float:
    """DJ's rule: k = min(isqrt(#distinct), #distinct - #singletons); top-k freqs / all freqs."""
    distinct = len(freqs)
    k = min(isqrt(distinct), distinct - int(np.count_nonzero(freqs == 1)))
    if k <= 0:
        return 0.0
    top = np.partition(freqs, distinct - k)[distinct - k:]
    return float(top.sum()) / float(freqs.sum())


def ngram_keys(cp: np.ndarray, n: int) -> np.ndarray:
    """One uint64 key per n-gram of code points.

    Exact (21 bits per code point, packed) for n <= 3; otherwise a polynomial
    hash mod 2**64, whose collision chance for the n-grams of one document is
    below 1e-11.
    """
    m = len(cp) - n + 1
    cp = cp.astype(np.uint64)
    key = cp[:m].copy()
    shift = np.uint64(21)
    for j in range(1, n):
        key = (key << shift) + cp[j:j + m] if n <= 3 else key * _BASE + cp[j:j + m]
    return key


def rep_ratio_of(text: str, cp: np.ndarray, n: int) -> float:
    m = len(text) - n + 1
    if m <= 0:
        return 0.0
    if m < _SMALL:
        freqs = np.fromiter(Counter(text[i:i + n] for i in range(m)).values(), dtype=np.int64)
    else:
        freqs = np.unique(ngram_keys(cp, n), return_counts=True)[1]
    return _top_k_share(freqs)


@filter_op("character_repetition_filter", stat="char_rep_ratio", cost="moderate",
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.5)})
def char_rep_ratio(batch: TextBatch, *, rep_len: Annotated[int, Positive()] = 10) -> pa.Array:
    """Share of character n-grams (n = rep_len) taken by the most repeated ones (DJ's top-k rule).

    >>> char_rep_ratio(TextBatch(["a v s e c s f e f g a a a a a a a a a a"]), rep_len=5).to_pylist()
    [0.45714285714285713]
    """
    cps, off = batch.codepoints, batch.offsets
    out = [rep_ratio_of(s, cps[off[i]:off[i + 1]], rep_len) if s else 0.0
           for i, s in enumerate(batch.strings)]
    return batch.from_list(out, pa.float64())
