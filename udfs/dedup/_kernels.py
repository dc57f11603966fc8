"""Compiled (numba) kernels of document_minhash_deduplicator: SHA-1 of many messages, MinHash minima.

Imported on first use only (numba's import costs ~0.5 s); numba caches the compiled
code next to this file (or in ``$NUMBA_CACHE_DIR``), so only a fresh install compiles.
"""

from __future__ import annotations

import hashlib

import numpy as np
from numba import njit

from juicedb.udfs.dedup._sha1_block import sha1_rounds

_M = np.uint64(0xFFFFFFFF)
_H = np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0], dtype=np.uint32)
MAX_BLOCKS = 16  # longer messages (over 1 KB, rare as shingles) go to hashlib
CHUNK = 1 << 14   # messages per vectorised run: their block words (1 MB) stay in cache


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


def sha1_first_words(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """First 4 bytes of SHA-1 of every span ``data[s:e]``, read little-endian (Data-Juicer's ``sha1_hash32``)."""
    out = np.empty(len(starts), dtype=np.uint32)
    if len(starts) == 0:
        return out
    buf = np.frombuffer(data + bytes(128 + 3), dtype=np.uint8)
    be = np.empty(len(data) + 128, dtype=np.uint32)  # a block's words are read past its message's end
    _big_endian_words(buf, be)
    for i in range(0, len(starts), CHUNK):
        out[i:i + CHUNK] = _sha1_chunk(data, be, starts[i:i + CHUNK], ends[i:i + CHUNK])
    return out


def _sha1_chunk(data: bytes, be: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``sha1_first_words`` of a few thousand messages: sorted by their number of blocks, block k of every
    message that has one is compressed in one vectorised ``sha1_rounds`` call."""
    out = np.empty(len(starts), dtype=np.uint32)
    blocks = (ends - starts + 8) // 64 + 1
    order = np.argsort(-blocks, kind="stable")
    count = np.bincount(np.minimum(blocks, MAX_BLOCKS + 1), minlength=MAX_BLOCKS + 2)
    long = int(count[MAX_BLOCKS + 1])
    if long:
        sha1 = hashlib.sha1
        idx = order[:long]
        digests = b"".join([sha1(data[s:e]).digest() for s, e in zip(starts[idx].tolist(), ends[idx].tolist())])
        out[idx] = np.frombuffer(digests, dtype="<u4")[::5]
    order = order[long:]
    starts, ends = starts[order], ends[order]
    state = np.repeat(_H[:, None], len(order), axis=1)
    have = np.cumsum(count[::-1])[::-1]  # messages with more than k blocks, for k = 0, 1, ...
    buffer = np.empty(16 * len(order), dtype=np.uint32)
    for block in range(MAX_BLOCKS):
        m = int(have[block + 1]) - long  # they lead the order
        if m == 0:
            break
        words = buffer[:16 * m].reshape(16, m)
        _block_words(be, starts[:m], ends[:m], block, words)
        part = state if m == len(order) else np.ascontiguousarray(state[:, :m])
        sha1_rounds(words, part)
        state[:, :m] = part
    out[order] = state[0].byteswap()
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def minhash_minima(h, bounds, a, b, out):  # pragma: no cover (compiled)
    """``out[d, k] = min(out[d, k], min over t in [bounds[d], bounds[d+1]) of ((h[t] * a[k] + b[k]) mod 2**64
    mod P) & MAX_HASH)``, P = 2**61 - 1: Data-Juicer's permuted values in its uint64 arithmetic, exactly.

    x mod P is y = (x & P) + (x >> 61) (2**61 = 1 mod P), minus P when y >= P, i.e. when y + 1 >= 2**61;
    branch-free, the loop over permutations vectorises (SIMD 64-bit multiply and min)."""
    p = np.uint64((1 << 61) - 1)
    s61, one = np.uint64(61), np.uint64(1)
    m = np.empty(a.shape[0], dtype=np.uint64)
    for d in range(len(bounds) - 1):
        m[:] = out[d]
        for t in range(bounds[d], bounds[d + 1]):
            hv = h[t]
            for k in range(a.shape[0]):
                x = hv * a[k] + b[k]
                y = (x & p) + (x >> s61)
                m[k] = min(m[k], (y + ((y + one) >> s61)) & _M)
        out[d] = m
