"""Compiled (numba) passes over a batch's texts straight from Arrow's buffers: UTF-8 decoding, counting the
code points a lookup table marks, word-list hits. They release the GIL, so operator threads run them side
by side. Callers take them from ``common/kernels`` (compiled ahead of time; this module is numba's JIT
fallback and the source of both).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _next_code_point(data, p, end):  # pragma: no cover (compiled)
    """The code point whose UTF-8 starts at ``data[p]`` (never reading past ``end``; a stray continuation
    byte is U+FFFD) and where the next one starts."""
    b = np.uint32(data[p])
    if b < 0x80:
        c, k = b, 0
    elif b >= 0xF0:
        c, k = b & 0x07, 3
    elif b >= 0xE0:
        c, k = b & 0x0F, 2
    elif b >= 0xC0:
        c, k = b & 0x1F, 1
    else:
        c, k = np.uint32(0xFFFD), 0
    p += 1
    for _ in range(k):
        if p < end:
            c = (c << np.uint32(6)) | (np.uint32(data[p]) & np.uint32(0x3F))
            p += 1
    return c, p


@njit(cache=True, nogil=True, boundscheck=False)
def decode_utf8(data, starts, ends, offsets, out):  # pragma: no cover (compiled)
    """Decode text ``i`` (bytes ``data[starts[i]:ends[i]]``) into ``out[offsets[i]:offsets[i+1]]``, one code
    point per lead byte (Arrow's strings are valid UTF-8; a stray byte is U+FFFD, and a text never writes
    past its own range)."""
    for i in range(len(starts)):
        o, end_out = offsets[i], offsets[i + 1]
        p, end = starts[i], ends[i]
        while p < end and o < end_out:
            c, p = _next_code_point(data, p, end)
            out[o] = c
            o += 1
        while o < end_out:  # only for malformed input: keep the range defined
            out[o] = 0xFFFD
            o += 1
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def count_marked(cps, offsets, lut):  # pragma: no cover (compiled)
    """Per text, how many of its code points have bit 0 and bit 1 of the uint8 ``lut`` (columns 0 and 1; its
    other bits must be 0)."""
    n = len(offsets) - 1
    out = np.zeros((n, 2), dtype=np.int64)
    for i in range(n):
        a0 = 0
        a1 = 0
        for p in range(offsets[i], offsets[i + 1]):
            v = lut[cps[p]]
            a0 += v & 1
            a1 += v >> 1
        out[i, 0] = a0
        out[i, 1] = a1
    return out


_MIX = np.uint64(0x9E3779B97F4A7C15)


@njit(cache=True, nogil=True, inline="always")
def _log2(n):  # pragma: no cover (compiled)
    b = 0
    while (1 << b) < n:
        b += 1
    return b


@njit(cache=True, nogil=True, boundscheck=False)
def _fill_set(values, table):  # pragma: no cover (compiled)
    mask = len(table) - 1
    shift = np.uint64(64 - _log2(len(table)))
    for v in values:
        s = np.int64((v * _MIX) >> shift)
        while table[s] != 0:
            s = (s + 1) & mask
        table[s] = v
    return table


@njit(cache=True, nogil=True, boundscheck=False)
def listed_counts(hashes, bounds, table):  # pragma: no cover (compiled)
    """Per text (words ``hashes[bounds[i]:bounds[i+1]]``), how many of its words are in ``table``
    (``hash_set``)."""
    n = len(bounds) - 1
    out = np.zeros(n, dtype=np.int64)
    mask = len(table) - 1
    shift = np.uint64(64 - _log2(len(table)))
    for i in range(n):
        c = 0
        for w in range(bounds[i], bounds[i + 1]):
            h = hashes[w]
            s = np.int64((h * _MIX) >> shift)
            while True:
                v = table[s]
                if v == h:
                    c += 1
                    break
                if v == 0:
                    break
                s = (s + 1) & mask
        out[i] = c
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def flag_marked(cps, offsets, lut):  # pragma: no cover (compiled)
    """Per text, whether any of its code points is marked by ``lut``."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        for p in range(offsets[i], offsets[i + 1]):
            if lut[cps[p]]:
                out[i] = True
                break
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def count_marked_utf8(data, starts, ends, lut):  # pragma: no cover (compiled)
    """``count_marked`` straight from UTF-8 bytes (text ``i`` is ``data[starts[i]:ends[i]]``): decodes as
    ``decode_utf8`` does, without writing the code points anywhere."""
    n = len(starts)
    out = np.zeros((n, 2), dtype=np.int64)
    for i in range(n):
        a0 = 0
        a1 = 0
        p, end = starts[i], ends[i]
        while p < end:
            c, p = _next_code_point(data, p, end)
            v = lut[c]
            a0 += v & 1
            a1 += v >> 1
        out[i, 0] = a0
        out[i, 1] = a1
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def refined_word_counts(cps, offsets, special):  # pragma: no cover (compiled)
    """Per text, how many of DJ's refined words it has (``WordSpans.counts`` without hashing them): the runs
    between ' ', '\\n' and '\\t' that hold a code point ``special`` does not mark."""
    n = len(offsets) - 1
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        words = 0
        counted = False  # the current run has a word already
        for p in range(offsets[i], offsets[i + 1]):
            c = cps[p]
            if c == 32 or c == 10 or c == 9:  # noqa: PLR1714 - compiled
                counted = False
            elif not counted and not special[c]:
                words += 1
                counted = True
        out[i] = words
    return out
