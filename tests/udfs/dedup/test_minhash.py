"""document_minhash_deduplicator keeps exactly the rows Data-Juicer 1.6.1 keeps.

Inputs: the demo documents plus planted near-duplicates and exact copies
(tests/fixtures/dj_golden/near_dups.py); expected kept rows were produced by
DJ's own operator (make_minhash.py, minhash_kept.json).
"""

from __future__ import annotations

import json
import sys

import pytest

import juicedb
from juicedb.udfs.dedup.minhash import optimal_param
from tests.conftest import FIXTURES, write_jsonl

sys.path.insert(0, str(FIXTURES / "dj_golden"))
from near_dups import near_dup_texts

GOLDEN = json.loads((FIXTURES / "dj_golden" / "minhash_kept.json").read_text())
CASES = [k for k in GOLDEN if k != "n"]


def _args(params: dict) -> str:
    return "".join(f", {k} := {json.dumps(v).replace(chr(34), chr(39))}" for k, v in params.items())


@pytest.mark.parametrize("case", CASES)
def test_keeps_what_data_juicer_keeps(tmp_path, case):
    texts = near_dup_texts()
    assert len(texts) == GOLDEN["n"]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    params = GOLDEN[case]["params"]
    with juicedb.open(tmp_path / "ws") as ws:
        ws.sql(f"CREATE TABLE numbered AS SELECT row_number() OVER () - 1 AS i, * FROM dataset('{path}')")
        kept = ws.run(f"SELECT i FROM numbered WHERE document_minhash_deduplicator(text{_args(params)})")
        dropped = ws.sql("SELECT count(*) AS n FROM trace WHERE kind = 'dedup' AND detail LIKE 'duplicate of uid %'")
    assert kept.column("i").to_pylist() == GOLDEN[case]["kept"]
    assert dropped.column("n")[0].as_py() == len(texts) - len(GOLDEN[case]["kept"])


def test_dj_optimal_bands_and_rows():
    assert optimal_param(0.7, 256) == (25, 10)
    from scipy import integrate

    def djs(threshold: float, num_perm: int) -> tuple[int, int]:  # DJ's (datasketch's) loop with scipy's quad
        best, opt = float("inf"), (0, 0)
        for b in range(1, num_perm + 1):
            for r in range(1, num_perm // b + 1):
                fp = integrate.quad(lambda s, b=b, r=r: 1 - (1 - s ** r) ** b, 0.0, threshold)[0]
                fn = integrate.quad(lambda s, b=b, r=r: (1 - s ** r) ** b, threshold, 1.0)[0]
                if fp * 0.5 + fn * 0.5 < best:
                    best, opt = fp * 0.5 + fn * 0.5, (b, r)
        return opt
    for threshold, num_perm in ((0.5, 64), (0.8, 128), (0.9, 32), (0.35, 100)):
        assert optimal_param(threshold, num_perm) == djs(threshold, num_perm)


SIMHASH = json.loads((FIXTURES / "dj_golden" / "simhash_kept.json").read_text())


@pytest.mark.parametrize("case", [k for k in SIMHASH if k != "n"])
def test_simhash_keeps_what_data_juicer_keeps(tmp_path, case):
    pytest.importorskip("simhash")
    texts = near_dup_texts()
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    params = SIMHASH[case]["params"]
    with juicedb.open(tmp_path / "ws") as ws:
        ws.sql(f"CREATE TABLE numbered AS SELECT row_number() OVER () - 1 AS i, * FROM dataset('{path}')")
        kept = ws.run(f"SELECT i FROM numbered WHERE document_simhash_deduplicator(text{_args(params)})")
    assert kept.column("i").to_pylist() == SIMHASH[case]["kept"]


def test_compiled_sha1_equals_hashlib():
    import hashlib

    import numpy as np

    from juicedb.udfs.dedup.sha1 import sha1_first_words
    # every length up to three blocks (the one-block kernel takes <= 55 bytes), multi-byte UTF-8, the empty span
    pieces = [bytes(range(7, 250))[:n] for n in range(0, 200)] + ["日本語のテキスト😊".encode() * k for k in (1, 2, 5)]
    data = b"".join(pieces)
    ends = np.cumsum([len(p) for p in pieces])
    got = sha1_first_words(data, ends - [len(p) for p in pieces], ends)
    want = [int.from_bytes(hashlib.sha1(p).digest()[:4], "little") for p in pieces]
    assert got.tolist() == want


def test_signatures_equal_djs_uint64_arithmetic():
    import numpy as np

    from juicedb.udfs.dedup.minhash import MAX_HASH, MERSENNE_PRIME, _signatures, permutations
    rng = np.random.default_rng(7)
    for num_perm in (7, 256):
        a, b = permutations(num_perm)
        sizes = [1, 2, 3, 50, 1500, 3000]
        docs = [rng.integers(0, 1 << 32, n, dtype=np.uint64) for n in sizes]
        docs[2] = np.array([5, 5, 5], dtype=np.uint64)  # repeats
        docs[3][:2] = [0, (1 << 32) - 1]
        # hashes whose low word of h * a + b is >= 2**32 - 8 under some permutation: there lo + (x >> 61)
        # wraps past 2**32 and the 32-bit scan cannot bound the value, so it is computed exactly
        for k in range(min(num_perm, 40)):
            a_lo, b_lo = int(a[k]) & 0xFFFFFFFF, int(b[k]) & 0xFFFFFFFF
            if a_lo % 2:
                risky = [((1 << 32) - 1 - j - b_lo) * pow(a_lo, -1, 1 << 32) % (1 << 32) for j in range(8)]
                docs.append(np.array([*risky, *rng.integers(0, 1 << 32, 5)], dtype=np.uint64))
            elif a_lo:  # even: two different hashes 2**(32 - s) apart have the same low word (an exact tie)
                s_ = (a_lo & -a_lo).bit_length() - 1
                h1 = int(rng.integers(0, 1 << (32 - s_)))
                docs += [np.array([h1 + (i << (32 - s_)), h1 + (j << (32 - s_))], dtype=np.uint64)
                         for i, j in ((0, 1), (1, 0), (0, 3), (2, 1)) if max(i, j) < 1 << s_]
        # near ties: two tokens whose low 32 bits under permutation k differ by d <= 7 (a 32-bit shortcut
        # cannot tell which is smaller)
        for k in range(num_perm):
            a_lo = int(a[k]) & 0xFFFFFFFF
            if a_lo % 2:
                h1 = int(rng.integers(0, 1 << 32))
                docs += [np.array([h1, (h1 + pow(a_lo, -1, 1 << 32) * d) % (1 << 32)], dtype=np.uint64)
                         for d in range(1, 8)]
        h = np.concatenate(docs)
        doc = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        perm = rng.permutation(len(h))  # tokens in any order
        got = _signatures(h[perm], doc[perm], len(docs) + 1, num_perm)
        for i, d in enumerate(docs):
            want = np.bitwise_and((d[:, None] * a + b) % MERSENNE_PRIME, MAX_HASH).min(axis=0)  # DJ's formula
            assert (got[i] == want).all(), (num_perm, i)
        assert (got[len(docs)] == MAX_HASH).all()  # a document without tokens


def test_generated_sha1_kernel_is_up_to_date():
    from pathlib import Path

    from juicedb.udfs.dedup import kernels_gen
    assert Path(kernels_gen.TARGET).read_text() == kernels_gen.source(), \
        "run: python -m juicedb.udfs.dedup.kernels_gen"


def test_arrow_fast_path_lowercases_as_python():
    import pyarrow as pa

    from juicedb.udfs.common.text import TextBatch
    from juicedb.udfs.dedup.minhash import minhash_bands
    # texts with Python-only lower-casing (final sigma, dotted I, title-case digraphs, sharp s), ASCII, null,
    # empty, runs of spaces; an ignore pattern that matches nothing takes the per-string Python path
    texts = ["ΟΔΥΣΣΕΥΣ ΚΑΙ ΣΟΦΙΑ ΟΔΟΣ ΣΣ ΑΣ a b c", "İSTANBUL İ İ KIŞ Ǆ ǅ ß ẞ a b c d", None, "", "   ",
             "a  b   c d e f g", "ABC DEF GHI JKL MNO", "Ünïcödé AND ascii MIXED in ONE text here"] * 3
    array = pa.array(texts).slice(1)
    for lowercase in (True, False):
        fast = minhash_bands(TextBatch(array), lowercase=lowercase)
        assert fast.equals(minhash_bands(TextBatch(array), lowercase=lowercase, ignore_pattern="(?!)"))
    assert minhash_bands(TextBatch(array))[0] != minhash_bands(TextBatch(array), lowercase=False)[0]
