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


def shingles(text: str, tokenization: str, window: int, unique: bool = True) -> set[bytes] | list[bytes]:
    """DJ's shingles: ``window`` characters, or ``window`` tokens (split on spaces or on punctuation) joined by ' '."""
    if tokenization == "character":
        grams = (text[i:i + window].encode() for i in range(len(text) - window + 1))
    else:
        tokens = _PUNCTUATION.split(text) if tokenization == "punctuation" else [t for t in text.split(" ") if t]
        grams = (" ".join(tokens[i:i + window]).encode() for i in range(len(tokens) - window + 1))
    return set(grams) if unique else list(grams)


def token_hashes(tokens: set[bytes]) -> np.ndarray:
    """DJ's token hash: the first 4 bytes of SHA-1, little-endian."""
    return np.fromiter((int.from_bytes(hashlib.sha1(t).digest()[:4], "little") for t in tokens), dtype=np.uint64,
                       count=len(tokens))


def signatures(hashes: list[np.ndarray], num_perm: int) -> np.ndarray:
    """MinHash signatures, one row per document (uint64 arithmetic exactly as DJ's).

    Per document, in blocks of bounded size: a 10 MB document never materialises its
    whole token x permutation matrix, and small blocks stay in cache (one big matrix
    for the whole batch measured 3x slower).
    """
    a, b = permutations(num_perm)
    out = np.full((len(hashes), num_perm), MAX_HASH, dtype=np.uint64)
    block = max(1, (1 << 20) // (num_perm * 8))
    for i, hv in enumerate(hashes):
        row = out[i]
        for s in range(0, len(hv), block):
            phv = np.bitwise_and((hv[s:s + block, None] * a + b) % MERSENNE_PRIME, MAX_HASH)
            np.minimum(row, phv.min(axis=0), out=row)
    return out


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band and document: a mix of the band's values (equal bands, equal keys)."""
    k = np.zeros((sigs.shape[0], bands), dtype=np.uint64)
    for j in range(rows):
        k = mix(k ^ sigs[:, j:bands * rows:rows])
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
    hashes = []
    for text in batch.strings:
        text = text or ""
        if lowercase:
            text = text.lower()
        if ignore is not None:
            text = ignore.sub("", text)
        hashes.append(token_hashes(shingles(text, tokenization, window_size)))
    keys = band_keys(signatures(hashes, num_permutations), num_bands, num_rows_per_band)
    flat = pa.array(keys.ravel(), pa.uint64())
    offsets = pa.array(np.arange(0, keys.size + 1, num_bands, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(~batch.valid))
