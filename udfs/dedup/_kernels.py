"""Compiled (numba) kernels of document_minhash_deduplicator: SHA-1 of many messages, MinHash minima.

Callers take them from ``common/kernels`` (compiled ahead of time, without numba's ~0.5 s import and
~140 MB; this module is numba's JIT fallback and the source of both); the SHA-1 driver is ``sha1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from juicedb.udfs.dedup._sha1_block import sha1_rounds  # noqa: F401 - exported (see common/kernels)
from juicedb.udfs.dedup.sha1 import PAD

_M = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True, boundscheck=False)
def _big_endian_words(data, out):  # pragma: no cover (compiled)
    """out[p] = the 4 bytes of ``data`` from p on, as a big-endian word."""
    for p in range(len(out)):
        out[p] = (np.uint32(data[p]) << np.uint32(24)) | (np.uint32(data[p + 1]) << np.uint32(16)) | \
            (np.uint32(data[p + 2]) << np.uint32(8)) | np.uint32(data[p + 3])


@njit(cache=True, nogil=True, boundscheck=False)
def _block_words(be, starts, ends, block, words):  # pragma: no cover (compiled)
    """words[:, i] = block number ``block`` of message i padded as SHA-1 pads (FIPS 180-4 5.1.1): the message
    bytes, 0x80, zeros, and in the last block the length in bits (64-bit big-endian). Branch-free, word by
    word over all messages, so the loops vectorise."""
    m = len(starts)
    for j in range(16):
        for i in range(m):
            r = ends[i] - starts[i] - 64 * block - 4 * j  # message bytes from this word on
            kept = min(max(r, 0), 4)
            x = be[starts[i] + 64 * block + 4 * j] & np.uint32(np.uint64(0xFFFFFFFF00000000) >> np.uint64(8 * kept))
            pad = np.uint32(np.uint64(0x80) << np.uint64(24 - 8 * min(max(r, 0), 3)))
            words[j, i] = x | (pad if 0 <= r < 4 else np.uint32(0))
    for i in range(m):
        n = ends[i] - starts[i]
        if (n + 8) // 64 == block:  # the last block
            words[14, i] = np.uint32(np.uint64(n) >> np.uint64(29))
            words[15, i] = np.uint32((np.uint64(n) << np.uint64(3)) & _M)


@njit(cache=True, nogil=True, boundscheck=False)
def space_shingles(buf, doc_ends, window):  # pragma: no cover (compiled)
    """Word shingles of the documents of ``buf`` (UTF-8; document d ends at ``doc_ends[d]``): tokens are the
    runs of non-space bytes (DJ's ``split(" ")`` dropping empty strings: 0x20 is only ever a space in UTF-8),
    a shingle is ``window`` consecutive tokens of one document joined by single spaces.

    Returns the documents' tokens joined by single spaces (then ``PAD`` zero bytes), and each shingle's
    start, end and document."""
    n_tok = 0
    begin = 0
    for d in range(len(doc_ends)):
        inside = False
        for p in range(begin, doc_ends[d]):
            word = buf[p] != 32
            n_tok += word and not inside
            inside = word
        begin = doc_ends[d]
    out = np.zeros(len(buf) + PAD, dtype=np.uint8)
    tok_start = np.empty(n_tok, dtype=np.int64)
    tok_end = np.empty(n_tok, dtype=np.int64)
    tok_doc = np.empty(n_tok, dtype=np.int64)
    q = 0
    i = 0
    begin = 0
    for d in range(len(doc_ends)):
        p, end, first = begin, doc_ends[d], True
        while p < end:
            if buf[p] == 32:
                p += 1
                continue
            if not first:
                out[q] = 32
                q += 1
            tok_start[i] = q
            while p < end and buf[p] != 32:
                out[q] = buf[p]
                q += 1
                p += 1
            tok_end[i] = q
            tok_doc[i] = d
            i += 1
            first = False
        begin = end
    n_sh = 0
    for t in range(n_tok - window + 1):
        n_sh += tok_doc[t] == tok_doc[t + window - 1]
    starts = np.empty(n_sh, dtype=np.int64)
    ends = np.empty(n_sh, dtype=np.int64)
    docs = np.empty(n_sh, dtype=np.int64)
    j = 0
    for t in range(n_tok - window + 1):
        if tok_doc[t] == tok_doc[t + window - 1]:
            starts[j], ends[j], docs[j] = tok_start[t], tok_end[t + window - 1], tok_doc[t]
            j += 1
    out[q:q + PAD] = 0
    return out[:q + PAD], starts, ends, docs


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _permuted(h, a, b):  # pragma: no cover (compiled)
    """Data-Juicer's permuted value ``((h * a + b) mod 2**64 mod P) & MAX_HASH``, P = 2**61 - 1, exactly: x mod P
    is y = (x & P) + (x >> 61) (2**61 = 1 mod P), minus P when y >= P, i.e. when y + 1 >= 2**61."""
    x = h * a + b
    y = (x & np.uint64((1 << 61) - 1)) + (x >> np.uint64(61))
    return (y + ((y + np.uint64(1)) >> np.uint64(61))) & _M


@njit(cache=True, nogil=True, boundscheck=False)
def minhash_minima(h, bounds, a, b, out):  # pragma: no cover (compiled)
    """``out[d, k] = min(out[d, k], min over t in [bounds[d], bounds[d+1]) of _permuted(h[t], a[k], b[k]))``.

    The scan runs in 32-bit SIMD arithmetic: the low word of h * a + b is lo = h * a_lo + b_lo (mod 2**32),
    and when lo < 2**32 - 8 the permuted value is lo + (x >> 61), within 7 above lo (no carry out of the low
    word; x mod P needs y >= P, whose low word is >= 2**32 - 8). So per permutation the scan keeps the smallest
    lo, its token's hash and the smallest lo of any other hash; when that one is more than 7 above, the
    smallest lo's token holds the minimum and only its exact value is computed. Otherwise (a near tie) or when
    some lo is >= 2**32 - 8, every token is computed exactly for that permutation (rare: ~1e-6 per document).
    """
    n = a.shape[0]
    a_lo = (a & _M).astype(np.uint32)
    b_lo = (b & _M).astype(np.uint32)
    top, unsafe_from = np.uint32(0xFFFFFFFF), np.uint32(0xFFFFFFF8)
    m1 = np.empty(n, dtype=np.uint32)    # smallest lo
    m2 = np.empty(n, dtype=np.uint32)    # smallest lo of any other hash
    arg = np.empty(n, dtype=np.uint32)   # the hash with the smallest lo
    risky = np.empty(n, dtype=np.uint32)
    for d in range(len(bounds) - 1):
        t0, t1 = bounds[d], bounds[d + 1]
        if t0 == t1:
            continue
        m1[:] = top
        m2[:] = top
        arg[:] = 0
        risky[:] = 0
        for t in range(t0, t1):
            hv = np.uint32(h[t])
            for k in range(n):
                lo = np.uint32(hv * a_lo[k] + b_lo[k])
                low = m1[k]
                again = (lo == low) & (hv == arg[k])  # the same hash again: not a second value
                m2[k] = min(m2[k], top if again else max(low, lo))
                arg[k] = hv if lo < low else arg[k]
                m1[k] = min(low, lo)
                risky[k] |= np.uint32(lo >= unsafe_from)
        for k in range(n):
            if risky[k] == 0 and m2[k] - m1[k] > np.uint32(7):
                v = _permuted(np.uint64(arg[k]), a[k], b[k])
            else:
                v = _M
                for t in range(t0, t1):
                    v = min(v, _permuted(np.uint64(h[t]), a[k], b[k]))
            out[d, k] = min(out[d, k], v)
