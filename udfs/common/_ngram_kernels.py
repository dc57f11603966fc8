"""Compiled (numba) n-gram counting for the repetition filters: one call per batch, a hash table per text.

Imported on first use; numba caches the compiled code (see ``udfs/dedup/_kernels``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits of key * _MIX pick the slot


@njit(cache=True, nogil=True, boundscheck=False)
def _isqrt(n):  # pragma: no cover (compiled)
    r = int(np.sqrt(np.float64(n)))
    while r * r > n:
        r -= 1
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r


@njit(cache=True, nogil=True, boundscheck=False)
def top_k_shares(keys, offsets, out):  # pragma: no cover (compiled)
    """Per text ``i`` (n-gram keys ``keys[offsets[i]:offsets[i+1]]``): Data-Juicer's repetition ratio, the share
    of all n-grams taken by the k most frequent distinct ones, k = min(isqrt(#distinct), #distinct - #singletons);
    0 when k <= 0 or the text has no n-gram."""
    longest = 0
    for i in range(len(offsets) - 1):
        longest = max(longest, offsets[i + 1] - offsets[i])
    bits = 4
    while (1 << bits) < 2 * longest:
        bits += 1
    size = 1 << bits
    table = np.zeros(size, dtype=np.uint64)
    counts = np.zeros(size, dtype=np.int64)  # 0: an empty slot
    used = np.empty(size, dtype=np.int64)
    repeats = np.empty(size, dtype=np.int64)
    for i in range(len(offsets) - 1):
        lo, hi = offsets[i], offsets[i + 1]
        out[i] = 0.0
        if hi <= lo:
            continue
        b = 4  # a table of 2-4x the text's n-grams: small texts stay in cache
        while (1 << b) < 2 * (hi - lo):
            b += 1
        shift = np.uint64(64 - b)
        mask = (1 << b) - 1
        n_used = 0
        for t in range(lo, hi):
            key = keys[t]
            s = np.int64((key * _MIX) >> shift)
            while counts[s] != 0 and table[s] != key:
                s = (s + 1) & mask
            if counts[s] == 0:
                table[s] = key
                used[n_used] = s
                n_used += 1
            counts[s] += 1
        n_rep = 0
        for u in range(n_used):
            c = counts[used[u]]
            counts[used[u]] = 0  # the table is empty again for the next text
            if c > 1:
                repeats[n_rep] = c
                n_rep += 1
        k = min(_isqrt(n_used), n_rep)
        if k > 0:
            top = np.sort(repeats[:n_rep])[n_rep - k:].sum()
            out[i] = top / (hi - lo)
    return out


@njit(cache=True, nogil=True, boundscheck=False)
def char_ngram_keys(cp, offsets, n, base):  # pragma: no cover (compiled)
    """The keys of every text's code point n-grams, as ``character_repetition.ngram_keys`` gives them (21 bits
    per code point packed for n <= 3, else sum of cp[j] * base**(n-1-j) mod 2**64), and each text's range."""
    counts = np.maximum(offsets[1:] - offsets[:-1] - n + 1, 0)
    koff = np.zeros(len(counts) + 1, dtype=np.int64)
    for i in range(len(counts)):
        koff[i + 1] = koff[i] + counts[i]
    keys = np.empty(koff[-1], dtype=np.uint64)
    lead = np.uint64(1)  # base ** (n - 1): the weight of the code point that leaves a rolling window
    for _ in range(n - 1):
        lead *= base
    for i in range(len(counts)):
        o = offsets[i]
        if counts[i] == 0:
            continue
        key = np.uint64(0)
        for j in range(n - 1):
            key = (key << np.uint64(21)) + np.uint64(cp[o + j]) if n <= 3 else key * base + np.uint64(cp[o + j])
        for t in range(counts[i]):
            if n <= 3:  # exact: 21 bits per code point, the oldest shifted out of the 63 kept bits
                key = ((key << np.uint64(21)) + np.uint64(cp[o + t + n - 1])) & np.uint64((1 << (21 * n)) - 1)
            else:  # rolling polynomial hash, the same value as the direct sum mod 2**64
                key = key * base + np.uint64(cp[o + t + n - 1])
            keys[koff[i] + t] = key
            if n > 3:
                key -= np.uint64(cp[o + t]) * lead
    return keys, koff
