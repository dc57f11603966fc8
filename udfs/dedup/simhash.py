"""document_simhash_deduplicator -> ``simhash``; rows within a Hamming distance are one group.

Data-Juicer's algorithm via the same library (``simhash-pybind``): shingles of
``window_size`` tokens of the (lower-cased) text, ``simhash.unsigned_hash`` per
shingle, ``simhash.compute`` into a 64-bit fingerprint; fingerprints within
``hamming_distance`` bits (found by ``simhash.find_all`` with ``num_blocks``
permutation blocks) are joined transitively, equal fingerprints too, and the
first row of each group is kept.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import regex

from juicedb.errors import MissingDependencyError
from juicedb.registry import OneOf, Positive, dedup_op
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.dedup.minhash import shingles


def _simhash() -> Any:
    try:
        import simhash
    except ImportError:
        raise MissingDependencyError("document_simhash_deduplicator needs simhash-pybind (Data-Juicer's simhash "
                                     "library): pip install 'juicedb[text-models]'") from None
    return simhash


def near_pairs(hashes: np.ndarray, params: dict[str, Any]) -> list[tuple[int, int]]:
    """Index pairs of fingerprints within ``hamming_distance`` bits (distinct values only, as DJ's find_all)."""
    simhash = _simhash()
    values, first = np.unique(hashes, return_index=True)
    where = {int(v): int(i) for v, i in zip(values, first)}
    matches = simhash.find_all(values.astype(np.uint64), params["num_blocks"], params["hamming_distance"])
    return [(where[int(a)], where[int(b)]) for a, b in matches]


@dedup_op("document_simhash_deduplicator", hash_key="simhash", hash_type=pa.uint64(), cost="expensive",
          grouping=near_pairs)
def simhash_fingerprint(batch: TextBatch, *,
                        tokenization: Annotated[str, OneOf("space", "punctuation", "character")] = "space",
                        window_size: Annotated[int, Positive()] = 6, lowercase: bool = True,
                        ignore_pattern: str | None = None, num_blocks: Annotated[int, Positive()] = 6,
                        hamming_distance: Annotated[int, Positive()] = 4) -> pa.Array:
    """64-bit SimHash fingerprint of the text's shingles (DJ's parameters and defaults).

    >>> fp = simhash_fingerprint(TextBatch(["a b c d e f g h", "a b c d e f g h", None])).to_pylist()
    >>> fp[0] == fp[1], fp[2]
    (True, None)
    """
    simhash = _simhash()
    ignore = regex.compile(ignore_pattern) if ignore_pattern else None
    out = []
    for text in batch.strings:
        if text is None:
            out.append(None)
            continue
        if lowercase:
            text = text.lower()
        if ignore is not None:
            text = ignore.sub("", text)
        tokens = shingles(text, tokenization, window_size, unique=False)
        out.append(int(np.uint64(simhash.compute(map(simhash.unsigned_hash, tokens)))))
    return pa.array(out, pa.uint64())
