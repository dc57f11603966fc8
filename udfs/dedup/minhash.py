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

Speed, bit for bit the same values: a batch's shingles (space tokenization, over
its UTF-8 bytes), their SHA-1s and the minima over the permutations run in
compiled loops (numba, ``_kernels``, ahead of time): SHA-1 vectorised across shingles (its
rounds unrolled, SIMD lanes = shingles), the permutations scanned in 32-bit SIMD
arithmetic with DJ's exact 64-bit value computed for each minimum's token only.
Memory is linear in the batch's bytes (a 10 MB document: a few hundred MB).
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import regex

from juicedb.arrays import to_numpy
from juicedb.registry import OneOf, Positive, dedup_op
from juicedb.udfs.common.hashing import mix
from juicedb.udfs.common.text import TextBatch, as_array

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
_PUNCTUATION = regex.compile(r"\p{P}")


@cache
def optimal_param(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) minimising the equal-weighted false positive + false negative area (datasketch's rule).

    The two areas are integrals of polynomials of degree bands * rows <= num_perm, so Gauss-Legendre quadrature
    with num_perm / 2 + 1 nodes is exact (DJ integrates them with scipy's adaptive quad: the same choices,
    without importing scipy.integrate, ~1 s, in every worker)."""
    x, w = np.polynomial.legendre.leggauss(num_perm // 2 + 1)
    below, below_w = threshold * (x + 1) / 2, w * threshold / 2
    above, above_w = threshold + (1 - threshold) * (x + 1) / 2, w * (1 - threshold) / 2
    best, opt = float("inf"), (0, 0)
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1, dtype=np.float64)[:, None]
        fp = (1 - (1 - below ** r) ** b) @ below_w       # P(candidate) over similarities below the threshold
        fn = (1 - (1 - (1 - above ** r) ** b)) @ above_w  # P(missed) over similarities above it
        err = fp * 0.5 + fn * 0.5
        i = int(np.argmin(err))
        if err[i] < best:
            best, opt = float(err[i]), (b, i + 1)
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


def _signatures(h: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int) -> np.ndarray:
    """MinHash signatures of ``n_docs`` documents from token hashes ``h`` (uint32) of documents ``doc`` (in any
    order; repeats allowed): per permutation, the minimum of DJ's permuted values, MAX_HASH without tokens."""
    from juicedb.udfs.common.kernels import minhash_minima

    a, b = permutations(num_perm)
    out = np.full((n_docs, num_perm), MAX_HASH, dtype=np.uint64)
    if len(h) and (doc[1:] < doc[:-1]).any():
        order = np.argsort(doc, kind="stable")
        h, doc = h[order], doc[order]
    bounds = np.searchsorted(doc, np.arange(n_docs + 1))
    minhash_minima(h.astype(np.uint32, copy=False), bounds, a, b, out)
    return out


def _utf8(batch: TextBatch, lowercase: bool) -> tuple[np.ndarray, np.ndarray]:
    """The batch's texts as one UTF-8 buffer (null = empty) and each text's end, lower-cased as Python's
    ``str.lower`` does: Arrow's ``ascii_lower`` for ASCII texts, ``str.lower`` for the others (final sigma,
    dotted I...)."""
    arr = pc.fill_null(batch.array, "")
    if lowercase:
        ascii_ = to_numpy(pc.string_is_ascii(arr))
        lowered = pc.ascii_lower(arr)
        if not ascii_.all():
            other = pa.array([t.lower() for t in arr.filter(pa.array(~ascii_)).to_pylist()], pa.string())
            lowered = pc.replace_with_mask(lowered, pa.array(~ascii_), other)
        arr = lowered
    arr = as_array(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else \
        np.zeros(0, dtype=np.uint8)
    return data[offsets[0]:offsets[-1]], (offsets[1:] - offsets[0]).astype(np.int64)


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band and document: a mix of the band's values (equal bands, equal keys)."""
    k = np.zeros((sigs.shape[0], bands), dtype=np.uint64)
    for j in range(rows):
        k = mix(k ^ sigs[:, j:bands * rows:rows])
    return mix(k ^ np.arange(bands, dtype=np.uint64))  # the band's index keeps bands apart


@dedup_op("document_minhash_deduplicator", hash_key="minhash_bands", hash_type=pa.list_(pa.uint64()),
          cost="expensive", grouping="lsh",
          # the default path reads Arrow's UTF-8 buffer into compiled kernels; the others build Python strings
          threads=lambda p: p["tokenization"] == "space" and not p["ignore_pattern"])
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
    from juicedb.udfs.common.kernels import space_shingles
    from juicedb.udfs.dedup.sha1 import sha1_first_words

    if tokenization == "space" and not ignore_pattern:  # straight from Arrow's UTF-8 buffer
        buf, doc_ends = _utf8(batch, lowercase)
        data, starts, ends, doc = space_shingles(buf, doc_ends, window_size)
    else:
        ignore = regex.compile(ignore_pattern) if ignore_pattern else None
        texts = []
        for text in batch.strings:
            text = text or ""
            if lowercase:
                text = text.lower()
            if ignore is not None:
                text = ignore.sub("", text)
            texts.append(text)
        if tokenization == "space":
            encoded = [t.encode() for t in texts]
            doc_ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
            data, starts, ends, doc = space_shingles(np.frombuffer(b"".join(encoded), np.uint8), doc_ends,
                                                     window_size)
        else:
            grams = [shingles(t, tokenization, window_size) for t in texts]
            counts = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
            flat = [g for gs in grams for g in gs]
            ends = np.cumsum(np.fromiter(map(len, flat), dtype=np.int64, count=len(flat)))
            starts = ends - np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
            data, doc = b"".join(flat), np.repeat(np.arange(len(grams)), counts)
    h = sha1_first_words(data, starts, ends)
    keys = band_keys(_signatures(h, doc, len(batch), num_permutations), num_bands, num_rows_per_band)
    flat = pa.array(keys.ravel(), pa.uint64())
    offsets = pa.array(np.arange(0, keys.size + 1, num_bands, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(~batch.valid))
