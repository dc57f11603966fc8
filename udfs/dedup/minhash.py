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

Speed, bit for bit the same values: a batch is shingled with numpy over its
UTF-8 bytes (space tokenization); the SHA-1 of every shingle and the minima
over the 256 permutations run in compiled loops (numba, ``_kernels``): SHA-1
vectorised across shingles (its rounds unrolled, SIMD lanes = shingles), the
permutations in SIMD 64-bit arithmetic with DJ's ``mod P`` done branch-free.
Memory is linear in the batch's bytes (a 10 MB document: a few hundred MB).
"""

from __future__ import annotations

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


def _space_shingles(data: bytes, doc_ends: np.ndarray, window: int) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """Word shingles of every document of ``data`` (documents end at ``doc_ends``): tokens are the runs of
    non-space bytes (DJ's ``split(" ")`` dropping empty strings: a space is the only byte 0x20 in UTF-8), and
    a shingle is ``window`` consecutive tokens of one document joined by single spaces.

    Returns the documents' text with runs of spaces collapsed, each shingle's span in it, and its document.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    word = buf != 32
    doc_starts = np.concatenate(([0], doc_ends[:-1]))
    prev = np.zeros(len(buf), dtype=bool)
    prev[1:] = word[:-1]
    prev[doc_starts[doc_starts < doc_ends]] = False  # a document's first byte starts a token
    nxt = np.zeros(len(buf), dtype=bool)
    nxt[:-1] = word[1:]
    nxt[doc_ends[doc_starts < doc_ends] - 1] = False
    tok_start = np.flatnonzero(word & ~prev)
    tok_end = np.flatnonzero(word & ~nxt) + 1
    tok_doc = np.searchsorted(doc_ends, tok_start, side="right")
    empty = np.zeros(0, dtype=np.int64)
    if len(tok_start) < window:
        return b"", empty, empty, empty
    # keep the bytes of tokens and the one space after each token that is followed by a token of its document
    last = np.ones(len(tok_start), dtype=bool)
    last[:-1] = tok_doc[1:] != tok_doc[:-1]
    keep = word.copy()
    keep[tok_end[~last]] = True
    first = np.flatnonzero(tok_doc[: len(tok_doc) - window + 1] == tok_doc[window - 1:])
    starts, ends = tok_start[first], tok_end[first + window - 1]
    if not keep.all():
        pos = np.cumsum(keep, dtype=np.int32 if len(buf) < 1 << 31 else np.int64)  # new end of each byte
        data = buf[keep].tobytes()
        starts, ends = pos[starts] - 1, pos[ends - 1]
    return data, starts, ends, tok_doc[first]


def _signatures(h: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int) -> np.ndarray:
    """MinHash signatures of ``n_docs`` documents from token hashes ``h`` (uint32) of documents ``doc`` (in any
    order; repeats allowed): per permutation, the minimum of DJ's permuted values, MAX_HASH without tokens."""
    from juicedb.udfs.dedup._kernels import minhash_minima

    a, b = permutations(num_perm)
    out = np.full((n_docs, num_perm), MAX_HASH, dtype=np.uint64)
    if len(h) and (doc[1:] < doc[:-1]).any():
        order = np.argsort(doc, kind="stable")
        h, doc = h[order], doc[order]
    bounds = np.searchsorted(doc, np.arange(n_docs + 1))
    minhash_minima(h.astype(np.uint64, copy=False), bounds, a, b, out)
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
        data, starts, ends, doc = _space_shingles(b"".join(encoded), doc_ends, window_size)
    else:
        grams = [shingles(t, tokenization, window_size) for t in texts]
        counts = np.fromiter(map(len, grams), dtype=np.int64, count=len(grams))
        flat = [g for gs in grams for g in gs]
        ends = np.cumsum(np.fromiter(map(len, flat), dtype=np.int64, count=len(flat)))
        starts = ends - np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
        data, doc = b"".join(flat), np.repeat(np.arange(len(grams)), counts)
    from juicedb.udfs.dedup._kernels import sha1_first_words

    h = sha1_first_words(data, starts, ends)
    keys = band_keys(_signatures(h, doc, len(texts), num_permutations), num_bands, num_rows_per_band)
    flat = pa.array(keys.ravel(), pa.uint64())
    offsets = pa.array(np.arange(0, keys.size + 1, num_bands, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(~batch.valid))
