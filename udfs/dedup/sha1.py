"""SHA-1 of many short messages at once (the shingles of document_minhash_deduplicator), vectorised across
messages: each message is padded into 16-word blocks and block k of every message that has one goes through
one compiled ``sha1_rounds`` call (``_sha1_block``; the compiled kernels come through ``common/kernels``).
"""

from __future__ import annotations

import hashlib

import numpy as np

_H = np.array([0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0], dtype=np.uint32)
PAD = 128 + 3     # zero bytes after the data: a block's words are read past its message's end
MAX_BLOCKS = 16  # longer messages (over 1 KB, rare as shingles) go to hashlib
CHUNK = 1 << 14   # messages per vectorised run: their block words (1 MB) stay in cache


def sha1_first_words(data: bytes | np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """First 4 bytes of SHA-1 of every span ``data[s:e]``, read little-endian (Data-Juicer's ``sha1_hash32``).
    ``data`` is bytes, or a uint8 array ending in ``PAD`` zero bytes that the spans do not cover."""
    from juicedb.udfs.common.kernels import big_endian_words

    out = np.empty(len(starts), dtype=np.uint32)
    if len(starts) == 0:
        return out
    buf = data if isinstance(data, np.ndarray) else np.frombuffer(bytes(data) + bytes(PAD), dtype=np.uint8)
    be = np.empty(len(buf) - 3, dtype=np.uint32)
    big_endian_words(buf, be)
    for i in range(0, len(starts), CHUNK):
        out[i:i + CHUNK] = _sha1_chunk(buf, be, starts[i:i + CHUNK], ends[i:i + CHUNK])
    return out


def _sha1_chunk(data: np.ndarray, be: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``sha1_first_words`` of a few thousand messages: sorted by their number of blocks, block k of every
    message that has one is compressed in one vectorised ``sha1_rounds`` call."""
    from juicedb.udfs.common.kernels import block_words, sha1_rounds

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
        block_words(be, starts[:m], ends[:m], block, words)
        part = state if m == len(order) else np.ascontiguousarray(state[:, :m])
        sha1_rounds(words, part)
        state[:, :m] = part
    out[order] = state[0].byteswap()
    return out
