"""64-bit polynomial hashes of code-point spans and of sequences, vectorised with numpy.

A word is hashed from its code points (and its length), so word lists can be
matched and word n-grams counted without building Python strings. Two
different words share a hash with probability about 2**-64; over a batch of
millions of words against a few hundred list words that is below 1e-10.
"""

from __future__ import annotations

from functools import cache

import numpy as np

BASE = np.uint64(0x9E3779B97F4A7C15)
LEN_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
SEQ = np.uint64(0x165667B19E3779F9)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output, so XOR-combined keys do not collide
    through structure."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@cache
def _powers(n: int) -> np.ndarray:
    """B**i modulo 2**64 for i < n (n a power of two, so the cache stays small)."""
    base = np.full(n, BASE, dtype=np.uint64)
    base[0] = 1
    return np.cumprod(base, dtype=np.uint64)


def span_hashes(cps: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Hash of ``cps[s:e]`` for every non-empty span: sum cps[s+i] * B**i, mixed with the length."""
    if len(starts) == 0:
        return np.zeros(0, dtype=np.uint64)
    lengths = ends - starts
    first = np.concatenate(([0], np.cumsum(lengths)[:-1]))     # where each span begins once packed
    shift = np.repeat(starts - first, lengths)                  # packed index -> code point index
    packed = np.arange(len(shift), dtype=np.int64)
    pos = packed - np.repeat(first, lengths)                    # index inside the span
    table = _powers(1 << max(int(lengths.max()).bit_length(), 10))
    h = np.add.reduceat(cps[packed + shift].astype(np.uint64) * table[pos], first)
    return mix(h ^ (lengths.astype(np.uint64) * LEN_MIX))


def string_hashes(words: list[str]) -> np.ndarray:
    """The same hash for Python strings (e.g. a stop-word list)."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    cps = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    ends = np.cumsum(lengths)
    return span_hashes(cps, ends - lengths, ends)
