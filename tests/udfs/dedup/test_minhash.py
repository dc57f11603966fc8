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
