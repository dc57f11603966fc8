"""Compiled (numba) n-gram counting for the repetition filters: one call per batch, a hash table per text.

Callers take them from ``common/kernels`` (compiled ahead of time; this module is numba's JIT fallback and
the source of both).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from juicedb.udfs.common.kernels import HASH_LIMIT

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
def _run_lengths(keys):  # pragma: no cover (compiled)
    """(number of distinct keys, the counts of the repeated ones) by sorting a copy of ``keys``."""
    s = np.sort(keys)
    repeats = np.empty(len(s) // 2 + 1, dtype=np.int64)
    distinct, n_rep, run = 0, 0, 1
    for t in range(1, len(s) + 1):
        if t < len(s) and s[t] == s[t - 1]:
            run += 1
            continue
        distinct += 1
        if run > 1:
            repeats[n_rep] = run
            n_rep += 1
        run = 1
    return distinct, repeats[:n_rep]


@njit(cache=True, nogil=True, boundscheck=False)
def _table_size(offsets, limit):  # pragma: no cover (compiled)
    """Slots of the hash table shared by a batch's texts of at most ``limit`` keys: a power of two >= 2x the
    longest one (each text uses the first 2-4x its own keys: small texts stay in cache)."""
    longest = 0
    for i in range(len(offsets) - 1):
        m = offsets[i + 1] - offsets[i]
        if m <= limit:
            longest = max(longest, m)
    size = 16
    while size < 2 * longest:
        size *= 2
    return size, longest


@njit(cache=True, nogil=True, boundscheck=False)
def _counting_space(offsets, limit):  # pragma: no cover (compiled)
    """The hash table (keys, counts: 0 an empty slot) and the work arrays ``_count`` uses for the texts of
    ``offsets`` with at most ``limit`` keys, shared by all of them."""
    size, longest = _table_size(offsets, limit)
    return (np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.int32), np.empty(longest, dtype=np.int64),
            np.empty(longest, dtype=np.int64))


@njit(cache=True, nogil=True, boundscheck=False)
def _count(keys, lo, hi, table, counts, used, repeats):  # pragma: no cover (compiled)
    """Count ``keys[lo:hi]`` in the first 2-4x (hi - lo) slots of ``table``; (distinct keys, repeated keys),
    the repeated keys' counts in ``repeats``. Leaves ``counts`` all zero again."""
    b = 4
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
        counts[used[u]] = 0
        if c > 1:
            repeats[n_rep] = c
            n_rep += 1
    return n_used, n_rep


@njit(cache=True, nogil=True, boundscheck=False)
def _top_k_share(keys, lo, hi, limit, table, counts, used, repeats):  # pragma: no cover (compiled)
    """DJ's repetition ratio of the n-gram keys ``keys[lo:hi]``: the share of all n-grams taken by the k most
    frequent distinct ones, k = min(isqrt(#distinct), #distinct - #singletons); 0 when k <= 0 or there is no
    n-gram. More than ``limit`` keys are counted by sorting a copy, fewer in ``table``."""
    if hi <= lo:
        return 0.0
    if hi - lo > limit:
        distinct, reps = _run_lengths(keys[lo:hi])
        n_rep = len(reps)
    else:
        distinct, n_rep = _count(keys, lo, hi, table, counts, used, repeats)
        reps = repeats[:n_rep]
    k = min(_isqrt(distinct), n_rep)
    if k <= 0:
        return 0.0
    return np.sort(reps)[n_rep - k:].sum() / (hi - lo)


@njit(cache=True, nogil=True, boundscheck=False)
def _char_keys(cp, o, m, n, base, lead, dst):  # pragma: no cover (compiled)
    """The m >= 1 keys of the code point n-grams starting at ``cp[o]`` into ``dst[:m]``: 21 bits per code point
    packed for n <= 3, else sum of cp[j] * base**(n-1-j) mod 2**64 (a rolling polynomial hash)."""
    key = np.uint64(0)
    for j in range(n - 1):  # m >= 1: the text has at least n code points
        key = (key << np.uint64(21)) + np.uint64(cp[o + j]) if n <= 3 else key * base + np.uint64(cp[o + j])
    for t in range(m):
        if n <= 3:  # exact: 21 bits per code point, the oldest shifted out of the 63 kept bits
            key = ((key << np.uint64(21)) + np.uint64(cp[o + t + n - 1])) & np.uint64((1 << (21 * n)) - 1)
        else:  # rolling polynomial hash, the same value as the direct sum mod 2**64
            key = key * base + np.uint64(cp[o + t + n - 1])
        dst[t] = key
        if n > 3:
            key -= np.uint64(cp[o + t]) * lead


@njit(cache=True, nogil=True, boundscheck=False)
def _ngram_offsets(offsets, n):  # pragma: no cover (compiled)
    """Where each text's n-grams start and end once packed (a text of L items has max(L - n + 1, 0))."""
    koff = np.zeros(len(offsets), dtype=np.int64)
    for i in range(len(offsets) - 1):
        koff[i + 1] = koff[i] + max(offsets[i + 1] - offsets[i] - n + 1, 0)
    return koff


@njit(cache=True, nogil=True, boundscheck=False)
def _lead(base, n):  # pragma: no cover (compiled)
    """base ** (n - 1) mod 2**64: the weight of the item that leaves a rolling window."""
    lead = np.uint64(1)
    for _ in range(n - 1):
        lead *= base
    return lead


@njit(cache=True, nogil=True, boundscheck=False)
def char_top_k_shares(cp, offsets, n, base, out, limit=HASH_LIMIT):  # pragma: no cover (compiled)
    """Per text ``i`` (code points ``cp[offsets[i]:offsets[i+1]]``): Data-Juicer's character repetition ratio
    of its n-grams (``_top_k_share`` of ``_char_keys``), each text's keys made in a scratch buffer just before
    they are counted (they stay in cache; the batch's keys are never all held). Texts of more than ``limit``
    n-grams are counted by sorting."""
    koff = _ngram_offsets(offsets, n)
    table, counts, used, repeats = _counting_space(koff, limit)
    longest = len(used)
    scratch = np.empty(longest, dtype=np.uint64)
    lead = _lead(base, n)
    for i in range(len(offsets) - 1):
        m = koff[i + 1] - koff[i]
        if m == 0:
            out[i] = 0.0
            continue
        keys = scratch if m <= longest else np.empty(m, dtype=np.uint64)  # over the limit: sorted, own copy
        _char_keys(cp, offsets[i], m, n, base, lead, keys)
        out[i] = _top_k_share(keys, 0, m, limit, table, counts, used, repeats)
    return out


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _mix(x):  # pragma: no cover (compiled)
    """splitmix64's finaliser (``hashing.mix``)."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, boundscheck=False)
def refined_words(cps, offsets, special, base, len_mix, lower, case):  # pragma: no cover (compiled)
    """DJ's refined words of every text, as the hashes of their code points (``span_hashes``), their texts,
    and per text the range of its words; with ``lower``, of the code points mapped through ``case`` first
    (else ``case`` is not read).

    A text splits into runs at ' ', '\n' and '\t' (and at its start); a run's word goes from its first to
    its last code point that ``special`` does not mark (a run without one has no word)."""
    n_docs = len(offsets) - 1
    runs = n_docs  # at most one word per run: the separators bound the words
    for p in range(offsets[0] if n_docs else 0, offsets[n_docs] if n_docs else 0):
        c = cps[p]
        if c == 32 or c == 10 or c == 9:  # noqa: PLR1714 - compiled
            runs += 1
    doc = np.empty(runs, dtype=np.int64)
    hashes = np.empty(runs, dtype=np.uint64)
    bounds = np.zeros(n_docs + 1, dtype=np.int64)
    w = 0
    for d in range(n_docs):
        start = -1
        end = -1
        h = np.uint64(0)
        power = np.uint64(1)
        for p in range(offsets[d], offsets[d + 1] + 1):
            boundary = p == offsets[d + 1]
            c = np.uint32(32)
            if not boundary:
                c = cps[p]
                if lower:
                    c = case[c]
                boundary = c == 32 or c == 10 or c == 9  # noqa: PLR1714 - compiled
            if boundary:  # a run ends before p: its word, if it has one
                if start >= 0:
                    doc[w] = d
                    hashes[w] = _mix(h ^ (np.uint64(end - start) * len_mix))
                    w += 1
                start = -1
                continue
            if not special[c]:
                if start < 0:
                    start = p
                    end = p
                    h = np.uint64(0)
                    power = np.uint64(1)
                # the word grows to p: first the special code points inside it since its last end
                for q in range(end, p):
                    cq = cps[q]
                    if lower:
                        cq = case[cq]
                    h += np.uint64(cq) * power
                    power *= base
                h += np.uint64(c) * power
                power *= base
                end = p + 1
        bounds[d + 1] = w
    if w < runs // 2:  # give the slack back
        return hashes[:w].copy(), doc[:w].copy(), bounds
    return hashes[:w], doc[:w], bounds


@njit(cache=True, nogil=True, boundscheck=False)
def repeated_ngram_shares(hashes, bounds, n, seq, out, limit=HASH_LIMIT):  # pragma: no cover (compiled)
    """Per text (words ``hashes[bounds[i]:bounds[i+1]]``): the share of its word n-grams that occur in it more
    than once (DJ's word repetition ratio); 0 when it has no n-gram. The n-grams' keys (a rolling polynomial of
    the word hashes, mixed) are counted in a hash table, by sorting for texts of more than ``limit``."""
    koff = _ngram_offsets(bounds, n)
    keys = np.empty(koff[-1], dtype=np.uint64)
    lead = _lead(seq, n)
    for i in range(len(bounds) - 1):
        lo = bounds[i]
        key = np.uint64(0)
        for j in range(min(n - 1, bounds[i + 1] - lo)):
            key = key * seq + hashes[lo + j]
        for t in range(koff[i + 1] - koff[i]):
            key = key * seq + hashes[lo + t + n - 1]
            keys[koff[i] + t] = _mix(key)
            key -= hashes[lo + t] * lead
    table, counts, used, repeats = _counting_space(koff, limit)
    for i in range(len(bounds) - 1):
        lo, hi = koff[i], koff[i + 1]
        out[i] = 0.0
        if hi <= lo:
            continue
        if hi - lo > limit:
            reps = _run_lengths(keys[lo:hi])[1]
        else:
            reps = repeats[:_count(keys, lo, hi, table, counts, used, repeats)[1]]
        out[i] = reps.sum() / (hi - lo)
    return out
