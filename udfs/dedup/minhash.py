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
UTF-8 bytes (space tokenization), the SHA-1 of every shingle of at most 55
bytes is computed by a vectorised SHA-1 (``_sha1_first_word``, hashlib for the
rest), and the permutations run in 32-bit arithmetic with the exact 64-bit
value computed only for each minimum's candidates (``_signatures``).
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


_SHA1_K = tuple(np.uint32(k) for k in (0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xCA62C1D6))
_SHA1_CHUNK = 32768  # messages per vectorised run: its ~20 work arrays stay in cache (L2)


def _sha1_first_word(words: np.ndarray) -> np.ndarray:
    """First 32-bit word of the SHA-1 digest of many one-block messages: ``words`` is (16, n), the padded
    block of each message as big-endian words. FIPS 180-4 SHA-1, computed for all messages at once."""
    u = np.uint32
    w = list(words)
    n = words.shape[1]
    a, b, c = np.full(n, 0x67452301, u), np.full(n, 0xEFCDAB89, u), np.full(n, 0x98BADCFE, u)
    d, e = np.full(n, 0x10325476, u), np.full(n, 0xC3D2E1F0, u)
    f, t1, t2 = np.empty(n, u), np.empty(n, u), np.empty(n, u)
    for t in range(80):
        wt = w[t % 16]
        if t >= 16:  # message schedule, in place over the 16 previous words
            wt ^= w[(t - 3) % 16]
            wt ^= w[(t - 8) % 16]
            wt ^= w[(t - 14) % 16]
            np.left_shift(wt, u(1), out=t1)
            wt >>= u(31)
            wt |= t1
        if t < 20:
            np.bitwise_xor(c, d, out=f)
            f &= b
            f ^= d
        elif 40 <= t < 60:
            np.bitwise_or(b, c, out=f)
            f &= d
            np.bitwise_and(b, c, out=t1)
            f |= t1
        else:
            np.bitwise_xor(b, c, out=f)
            f ^= d
        f += e
        f += wt
        f += _SHA1_K[t // 20]
        np.left_shift(a, u(5), out=t1)
        np.right_shift(a, u(27), out=t2)
        t1 |= t2
        f += t1
        np.left_shift(b, u(30), out=t1)
        b >>= u(2)
        b |= t1
        a, b, c, d, e, f = f, a, b, c, d, e
    return a + u(0x67452301)


@cache
def _sha1_padding() -> tuple[np.ndarray, np.ndarray]:
    """Per message length L <= 55, as 8 uint64 words over a 64-byte block: the mask keeping the message's L bytes,
    and SHA-1's padding (byte 0x80 at L, the bit length big-endian in the last bytes)."""
    keep = np.zeros((56, 64), dtype=np.uint8)
    pad = np.zeros((56, 64), dtype=np.uint8)
    for n in range(56):
        keep[n, :n] = 0xFF
        pad[n, n] = 0x80
        pad[n, 56:] = np.frombuffer((8 * n).to_bytes(8, "big"), dtype=np.uint8)
    return keep.view(np.uint64), pad.view(np.uint64)


def _span_hashes(data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """``token_hashes`` of the byte spans ``data[s:e]`` (as uint32): spans of at most 55 bytes (one SHA-1 block)
    are hashed together with numpy, longer ones with hashlib."""
    lengths = ends - starts
    out = np.empty(len(starts), dtype=np.uint32)
    long = np.flatnonzero(lengths > 55)
    if len(long):
        sha1 = hashlib.sha1
        digests = b"".join([sha1(data[s:e]).digest() for s, e in zip(starts[long].tolist(), ends[long].tolist())])
        out[long] = np.frombuffer(digests, dtype="<u4")[::5]
    short = np.flatnonzero(lengths <= 55)
    if len(short) == 0:
        return out
    rows = np.lib.stride_tricks.sliding_window_view(np.frombuffer(data + bytes(64), dtype=np.uint8), 64)
    keep, pad = _sha1_padding()
    for i in range(0, len(short), _SHA1_CHUNK):
        idx = short[i:i + _SHA1_CHUNK]
        ln = lengths[idx]
        block = rows[starts[idx]].view(np.uint64)  # (n, 8): the 64 bytes from each start
        block &= keep[ln]                          # the message's bytes, then the padding
        block |= pad[ln]
        words = np.ascontiguousarray(block.view(">u4").T, dtype=np.uint32)
        out[idx] = _sha1_first_word(words).byteswap()  # the digest's first 4 bytes, read little-endian
    return out


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


@cache
def _unsafe_hashes(num_perm: int) -> np.ndarray | None:
    """Token hashes h for which ``(h * a + b) mod 2**64`` has low 32 bits >= 2**32 - 8 for some permutation
    (sorted), or None when there are too many.

    For every other h, ``(x mod P) & MAX_HASH == (x & MAX_HASH) + (x >> 61)``, x = (h * a + b) mod 2**64:
    x mod P = y or y - P with y = (x & P) + (x >> 61) < P + 8, y >= P needs (x & P) >= P - 7 and so low 32 bits
    >= 2**32 - 8, and below that the sum stays under 2**32. The low 32 bits of x are (h * a_lo + b_lo) mod 2**32:
    solve that linear congruence for each of the 8 targets.
    """
    a, b = permutations(num_perm)
    bad = []
    for ak, bk in zip((a & MAX_HASH).tolist(), (b & MAX_HASH).tolist()):
        if ak == 0:
            if bk >= (1 << 32) - 8:
                return None
            continue
        s = (ak & -ak).bit_length() - 1
        m = 1 << (32 - s)
        inv = pow(ak >> s, -1, m)
        for target in range((1 << 32) - 8, 1 << 32):
            d = (target - bk) % (1 << 32)
            if d % (1 << s):
                continue
            h0 = (d >> s) * inv % m
            bad.extend(range(h0, 1 << 32, m))
            if len(bad) > 1 << 20:
                return None
    return np.unique(np.array(bad, dtype=np.uint64))


def _exact_values(h: np.ndarray, k: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DJ's permuted value ``((h * a + b) mod 2**64 mod P) & MAX_HASH`` for pairs (h, permutation k), in uint64."""
    x = h * a[k] + b[k]
    y = (x & MERSENNE_PRIME) + (x >> np.uint64(61))  # x mod P, or that plus P: 2**61 = 1 (mod P)
    # y >= P iff y + 1 >= 2**61, and then y - P = y + 1 - 2**61
    return (y + ((y + np.uint64(1)) >> np.uint64(61))) & MAX_HASH


_PIECE = 1024          # tokens per piece: longer documents are cut into pieces, minima combined
_GROUP = 1 << 18       # (permutation x piece x token) values per group: the uint32 matrix stays in cache


def _signatures(h: np.ndarray, doc: np.ndarray, n_docs: int, num_perm: int) -> np.ndarray:
    """MinHash signatures of ``n_docs`` documents from token hashes ``h`` (uint64 < 2**32) of documents ``doc``
    (in any order; repeats allowed).

    DJ's value of token h under permutation k is v = ((h * a + b) mod 2**64 mod P) & MAX_HASH. For tokens
    outside ``_unsafe_hashes`` it equals lo + (x >> 61) with lo = (h * a_lo + b_lo) mod 2**32, a 32-bit
    product: v is in [lo, lo + 7]. So when a document's second smallest lo is more than 7 above its smallest,
    the token with the smallest lo holds the minimum, and only its exact value is computed; otherwise (a near
    tie, rare once repeated tokens are dropped) every token with lo <= smallest + 7 is computed exactly.
    Unsafe tokens (about one in two million) get the exact value for every permutation.

    Documents (cut in pieces of at most ``_PIECE`` tokens) are sorted by length and processed in groups of
    nearly equal length, as one (permutation x piece x token) matrix; the padding of shorter pieces is set to
    MAX_HASH, above every safe token's lo.
    """
    a, b = permutations(num_perm)
    out = np.full((n_docs, num_perm), MAX_HASH, dtype=np.uint64)
    if len(h) == 0:
        return out
    unsafe = _unsafe_hashes(num_perm)
    risky = np.ones(len(h), dtype=bool) if unsafe is None else np.isin(h, unsafe)
    if risky.any():
        for s in np.flatnonzero(risky):  # rare: every permutation exactly
            np.minimum(out[doc[s]], _exact_values(np.full(num_perm, h[s]), np.arange(num_perm), a, b),
                       out=out[doc[s]])
        h, doc = h[~risky], doc[~risky]
        if len(h) == 0:
            return out
    # one token per hash and document (DJ hashes a set of shingles): a repeated token would tie with itself
    key = np.sort((doc.astype(np.uint64) << np.uint64(32)) | h)
    key = key[np.concatenate(([True], key[1:] != key[:-1]))]
    doc, h = (key >> np.uint64(32)).astype(np.int64), key & MAX_HASH
    a32 = (a & MAX_HASH).astype(np.uint32)[:, None]
    b32 = (b & MAX_HASH).astype(np.uint32)[:, None]
    h32 = h.astype(np.uint32)
    # pieces: runs of one document's tokens, at most _PIECE long
    first = np.flatnonzero(np.concatenate(([True], doc[1:] != doc[:-1])))
    lens = np.diff(np.append(first, len(h)))
    cuts = (lens + _PIECE - 1) // _PIECE
    p_start = np.repeat(first, cuts) + _PIECE * (np.arange(cuts.sum()) - np.repeat(np.cumsum(cuts) - cuts, cuts))
    p_len = np.minimum(np.repeat(first + lens, cuts) - p_start, _PIECE)
    order = np.argsort(p_len, kind="stable")
    p_start, p_len = p_start[order], p_len[order]
    p_doc = doc[p_start]
    winner = np.empty((len(p_len), num_perm), dtype=np.int64)  # per piece and permutation: its minimum's token
    buf = np.empty(max(_GROUP, num_perm * int(p_len[-1])), dtype=np.uint32)  # a group holds at least one piece
    seven = np.uint32(7)
    i = 0
    while i < len(p_len):
        width = int(p_len[i])
        # pieces up to 1/8 longer share the group; at most _GROUP values
        j = int(np.searchsorted(p_len, width + max(width >> 3, 1), side="left"))
        j = min(j, i + max(1, _GROUP // (num_perm * int(p_len[j - 1]))))
        top = int(p_len[j - 1])
        nd = j - i
        col = np.arange(top)
        tok = p_start[i:j, None] + np.minimum(col, p_len[i:j, None] - 1)    # (nd, top) token indices
        flat = buf[:num_perm * nd * top].reshape(num_perm, nd * top)  # long inner loops for numpy
        np.multiply(a32, h32[tok].ravel(), out=flat)
        flat += b32
        lo = flat.reshape(num_perm, nd, top)
        pad = col >= p_len[i:j, None]
        if pad.any():
            lo[:, pad] = MAX_HASH  # padding never holds a minimum: lo < 2**32 - 8 for safe tokens
        rows = lo.reshape(num_perm * nd, top)
        best = rows.argmin(axis=1)
        winner[i:j] = tok[np.arange(nd)[None, :], best.reshape(num_perm, nd)].T
        if top > 1:
            r = np.arange(num_perm * nd)
            m1 = rows[r, best]
            rows[r, best] = MAX_HASH
            gap = rows.min(axis=1)
            gap -= m1
            near = np.flatnonzero(gap <= seven)
            if len(near):  # a near tie (rare): every token within 7 of the smallest lo, exactly
                rows[near, best[near]] = m1[near]
                rr, cc = np.nonzero(rows[near] <= (m1[near] + seven)[:, None])
                rr = near[rr]
                t = tok.ravel()[(rr % nd) * top + cc]
                np.minimum.at(out, (doc[t], rr // nd), _exact_values(h[t], rr // nd, a, b))
        i = j
    values = _exact_values(h[winner], np.arange(num_perm)[None, :], a, b)
    by_doc = np.argsort(p_doc, kind="stable")
    docs, at = np.unique(p_doc[by_doc], return_index=True)
    out[docs] = np.minimum(out[docs], np.minimum.reduceat(values[by_doc], at, axis=0))
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
    step = 1 << 16  # bounded intermediates for a 10 MB document
    parts = [_span_hashes(data, starts[i:i + step], ends[i:i + step]) for i in range(0, len(starts), step)]
    h = np.concatenate([np.zeros(0, dtype=np.uint32), *parts])
    keys = band_keys(_signatures(h.astype(np.uint64), doc, len(texts), num_permutations), num_bands, num_rows_per_band)
    flat = pa.array(keys.ravel(), pa.uint64())
    offsets = pa.array(np.arange(0, keys.size + 1, num_bands, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat, mask=pa.array(~batch.valid))
