"""document_minhash_deduplicator -> ``minhash_bands``; near-duplicates share an LSH band.

Data-Juicer's algorithm and parameters: word shingles (``window_size`` words,
split on spaces) of the optionally lower-cased text, each hashed with the first
4 bytes of SHA-1 (little-endian), permuted ``num_permutations`` times with
``(h * a + b) mod (2**61 - 1)`` masked to 32 bits (a, b from
``numpy.random.RandomState(42)``, uint64 arithmetic as DJ does it), minimum per
permutation. The signature is cut into bands (rows per band chosen by DJ's
``optimal_param`` unless given); the stat stores one 64-bit key per band. Rows
sharing any band key are joined (union-find) and the first row of each
connected group is kept — exactly DJ's clustering, done by the engine over the
rows that reach the deduplicator.
"""

from __future__ import annotations

import hashlib
import struct
from functools import cache
from typing import Annotated

import numpy as np
import pyarrow as pa
import regex

from juicedb.registry import OneOf, Positive, dedup_op
from juicedb.udfs.common.hashing import mix
from juicedb.udfs.common.text import TextBatch

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
_PUNCTUATION = regex.compile(r"\p{P}")


@cache
def optimal_param(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising the equal-weighted false positive + false negative area (datasketch's rule)."""
    from scipy import integrate

    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp, _ = integrate.quad(lambda s, b=b, r=r: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)
            fn, _ = integrate.quad(lambda s, b=b, r=r: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)
            if fp * 0.5 + fn * 0.5 < best:
                best, opt = fp * 0.5 + fn * 0.5, (b, r)
    return opt


@cache
def permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed=42)
    a, b = np.array([(gen.randint(1, MERSENNE_PRIME, dtype=np.uint64), gen.randint(0, MERSENNE_PRIME, dtype=np.uint64))
                     for _ in range(num_perm)], dtype=np.uint64).T
    return a, b


def shingles(text: str, tokenization: str, window: int) -> set[bytes]:
    if tokenization == "character":
        return {text[i:i + window].encode() for i in range(len(text) - window + 1)}
    tokens = _PUNCTUATION.split(text) if tokenization == "punctuation" else [t for t in text.split(" ") if t]
    return {" ".join(tokens[i:i + window]).encode() for i in range(len(tokens) - window + 1)}


def signature(tokens: set[bytes], num_perm: int) -> np.ndarray:
    if not tokens:
        return np.full(num_perm, MAX_HASH, dtype=np.uint64)
    hv = np.fromiter((struct.unpack("<I", hashlib.sha1(t).digest()[:4])[0] for t in tokens), dtype=np.uint64,
                     count=len(tokens))
    a, b = permutations(num_perm)
    out = np.full(num_perm, MAX_HASH, dtype=np.uint64)
    block = max(1, (8 << 20) // (num_perm * 8))  # bounded memory for very long documents
    for s in range(0, len(hv), block):
        phv = np.bitwise_and((hv[s:s + block, None] * a + b) % MERSENNE_PRIME, MAX_HASH)
        np.minimum(out, phv.min(axis=0), out=out)
    return out


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band: a mix of the band's values (equal bands, equal keys)."""
    k = np.zeros(bands, dtype=np.uint64)
    for j in range(rows):
        k = mix(k ^ sig[j:bands * rows:rows])
    return mix(k ^ np.arange(bands, dtype=np.uint64))  # the band's index keeps bands apart


@dedup_op("document_minhash_deduplicator", hash_key="minhash_bands", hash_type=pa.list_(pa.uint64()),
          cost="expensive", grouping="lsh")
def minhash_bands(batch: TextBatch, *,
                  tokenization: Annotated[str, OneOf("space", "punctuation", "character")] = "space",
                  window_size: Annotated[int, Positive()] = 5, lowercase: bool = True,
                  ignore_pattern: str | None = None, num_permutations: Annotated[int, Positive()] = 256,
                  jaccard_threshold: float = 0.7, num_bands: int | None = None,
                  num_rows_per_band: int | None = None) -> pa.Array:
    """LSH band keys of the MinHash signature (DJ's parameters and defaults).

    >>> keys = minhash_bands(TextBatch(["a b c d e f g", "a b c d e f g", "x"])).to_pylist()
    >>> keys[0] == keys[1], keys[0] == keys[2], len(keys[0])
    (True, False, 25)
    """
    if num_bands is None or num_rows_per_band is None:
        num_bands, num_rows_per_band = optimal_param(jaccard_threshold, num_permutations)
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
        sig = signature(shingles(text, tokenization, window_size), num_permutations)
        out.append(band_keys(sig, num_bands, num_rows_per_band))
    return pa.array(out, pa.list_(pa.uint64()))
