"""Loading datasets: bad lines become `errors` rows, the rest loads; uids are stable."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import juicedb
from juicedb.errors import DatasetError
from tests.conftest import SHARED_DATA


def _corrupt_jsonl(path, n=1000, bad=20, seed=3):
    """n lines of which `bad` are broken in the ways real dumps break."""
    rng = random.Random(seed)
    bad_rows = set(rng.sample(range(n), bad))
    kinds = ["truncated", "non_utf8", "missing_text", "wrong_type", "not_object"]
    lines, expected = [], {}
    for i in range(n):
        doc = json.dumps({"text": f"Sample {i}: the quick brown fox jumps over the lazy dog.", "meta": {"i": i}})
        if i in bad_rows:
            kind = kinds[len(expected) % len(kinds)]
            expected[i + 1] = kind
            doc = {"truncated": doc[:-7],
                   "non_utf8": doc.encode().replace(b"quick", b"qu\xffick"),
                   "missing_text": json.dumps({"content": "no text key"}),
                   "wrong_type": json.dumps({"text": ["a", "list"]}),
                   "not_object": json.dumps(["text", "in", "a", "list"])}[kind]
        lines.append(doc if isinstance(doc, bytes) else doc.encode())
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected


def test_twenty_bad_lines_in_a_thousand(tmp_path):
    path = tmp_path / "mixed.jsonl"
    expected = _corrupt_jsonl(path)
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT * FROM dataset('{path}') WHERE text_len(text) > 0")
        errors = ws.sql("SELECT line, message FROM errors ORDER BY line").to_pylist()
    assert out.num_rows == 980
    assert [e["line"] for e in errors] == sorted(expected)
    reasons = {e["line"]: e["message"] for e in errors}
    words = {"truncated": "malformed JSON", "non_utf8": "non-UTF-8 byte 0xff", "missing_text": "missing field 'text'",
             "wrong_type": "field 'text' expected a string, got list", "not_object": "expected a JSON object"}
    for line, kind in expected.items():
        assert words[kind] in reasons[line]


def test_uids_are_stable_and_distinct_for_duplicate_lines(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b"}\n{"text": "a"}\n')
    with juicedb.open(tmp_path / "ws1") as ws:
        first = ws.sql(f"SELECT uid FROM dataset('{path}')").column("uid").to_pylist()
    moved = tmp_path / "sub" / "moved.jsonl"
    moved.parent.mkdir()
    moved.write_text('{"text": "b"}\n{"text": "a"}\n{"text": "a"}\n')
    with juicedb.open(tmp_path / "ws2") as ws:
        second = ws.sql(f"SELECT uid FROM dataset('{moved}')").column("uid").to_pylist()
    assert len(set(first)) == 3
    assert sorted(first) == sorted(second)


def test_media_paths_resolve_relative_to_the_dataset(tmp_path):
    demo = SHARED_DATA / "dj_demos" / "demo-dataset-images.jsonl"
    if not demo.exists():
        pytest.skip("shared data not present")
    with juicedb.open(tmp_path / "ws") as ws:
        rows = ws.sql(f"SELECT images FROM dataset('{demo}')").column("images").to_pylist()
    paths = [p for r in rows for p in r]
    assert len(paths) == 3
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in paths)


def test_extra_fields_are_json_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a", "meta": {"src": "x", "n": 2}}\n{"text": "b", "lang": "en"}\n')
    with juicedb.open(tmp_path / "ws") as ws:
        rows = ws.sql(f"SELECT meta->>'$.src' AS src, lang->>'$' AS lang FROM dataset('{path}')").to_pylist()
    assert rows == [{"src": "x", "lang": None}, {"src": None, "lang": "en"}]


def test_parquet_and_csv_load_with_uids(tmp_path):
    pq.write_table(pa.table({"content": ["x y z", "a b", "x y z"], "score": [1, 2, 3]}), tmp_path / "d.parquet")
    (tmp_path / "d.csv").write_text('text,score\n"hello world",1\n"bad line",2,3,4\n"again",3\n')
    with juicedb.open(tmp_path / "ws") as ws:
        pq_rows = ws.sql(f"SELECT uid, num_words(content) AS n FROM dataset('{tmp_path / 'd.parquet'}', "
                         "text_key := 'content')").to_pylist()
        csv_rows = ws.sql(f"SELECT text FROM dataset('{tmp_path / 'd.csv'}')").column("text").to_pylist()
        errors = ws.sql("SELECT line, message FROM errors").to_pylist()
    assert [r["n"] for r in pq_rows] == [3, 2, 3]
    assert len({r["uid"] for r in pq_rows}) == 3
    assert csv_rows == ["hello world", "again"]
    assert len(errors) == 1 and errors[0]["line"] == 3 and "malformed CSV line" in errors[0]["message"]


def test_unchanged_file_is_not_reloaded(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "a"}\n')
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT * FROM dataset('{path}')")
        assert ws.last_run.loads[0][1].reused is False
        ws.run(f"SELECT * FROM dataset('{path}')")
        assert ws.last_run.loads[0][1].reused is True


@pytest.mark.parametrize(("name", "match"), [
    ("missing.jsonl", "dataset file not found"),
    ("data.xyz", "cannot tell the format"),
])
def test_unreadable_dataset_is_a_clear_error(tmp_path, name, match):
    if name.endswith(".xyz"):
        (tmp_path / name).write_text("x")
    with juicedb.open(tmp_path / "ws") as ws, pytest.raises(DatasetError, match=match):
        ws.sql(f"SELECT * FROM dataset('{tmp_path / name}')")


def test_datasets_live_as_parquet_and_the_workspace_can_move(tmp_path):
    import shutil
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "hello world", "meta": {"k": 1}}\n{"text": "again"}\n')
    with juicedb.open(tmp_path / "ws") as ws:
        table = ws.load(path)
    files = list((tmp_path / "ws" / "data").glob("*.parquet"))
    assert [f.stem for f in files] == [table]
    assert pq.read_table(files[0]).column("text").to_pylist() == ["hello world", "again"]
    shutil.move(tmp_path / "ws", tmp_path / "moved")
    with juicedb.open(tmp_path / "moved") as ws:
        rows = ws.sql("SELECT text, meta->>'$.k' AS k FROM samples").to_pylist()
    assert rows == [{"text": "hello world", "k": "1"}, {"text": "again", "k": None}]


def test_a_field_first_seen_in_a_later_chunk_is_a_column_with_nulls_before(tmp_path, monkeypatch):
    from juicedb.engine import load
    monkeypatch.setattr(load, "JSONL_CHUNK_ROWS", 2)
    lines = ['{"text": "a"}', '{"text": "b"}', '{"text": "c", "meta": {"k": 1}}', '{"text": "d"}',
             '{"text": "e", "images": ["x.png"]}']
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    with juicedb.open(tmp_path / "ws") as ws:
        rows = ws.sql(f"SELECT text, meta->>'$.k' AS k, len(images) AS n FROM dataset('{tmp_path / 'd.jsonl'}')"
                      ).to_pylist()
        kinds = dict(ws.sql(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                            f"dataset('{tmp_path / 'd.jsonl'}'))").to_pylist() and
                     [(r["column_name"], r["column_type"]) for r in ws.sql(
                         f"DESCRIBE SELECT * FROM dataset('{tmp_path / 'd.jsonl'}')").to_pylist()])
    assert [r["text"] for r in rows] == ["a", "b", "c", "d", "e"]
    assert [r["k"] for r in rows] == [None, None, "1", None, None]
    assert [r["n"] for r in rows] == [None, None, None, None, 1]
    assert kinds["meta"] == "JSON" and kinds["images"] == "VARCHAR[]"


def test_parquet_rows_equal_in_every_column_get_distinct_uids(tmp_path):
    pq.write_table(pa.table({"text": ["x y", "a b", "x y", "x y"], "n": [1, 2, 1, 1]}), tmp_path / "d.parquet")
    with juicedb.open(tmp_path / "ws") as ws:
        uids = ws.sql(f"SELECT uid, text FROM dataset('{tmp_path / 'd.parquet'}')").to_pylist()
    assert [r["text"] for r in uids] == ["x y", "a b", "x y", "x y"]
    assert len({r["uid"] for r in uids}) == 4


def test_an_older_workspace_file_with_big_row_groups_is_rewritten_once(tmp_path):
    from juicedb.engine.load import ROW_GROUP_ROWS
    path = tmp_path / "d.jsonl"
    path.write_text("".join(f'{{"text": "doc {i}"}}\n' for i in range(ROW_GROUP_ROWS + 10)))
    with juicedb.open(tmp_path / "ws") as ws:
        ws.sql(f"SELECT count(*) FROM dataset('{path}')")
        data = next((tmp_path / "ws" / "data").glob("*.parquet"))
        pq.write_table(pq.read_table(data), data, row_group_size=ROW_GROUP_ROWS * 4)  # as an older version wrote
        ws.sql(f"SELECT count(*) FROM dataset('{path}')")
        groups = [data.stat().st_mtime_ns, pq.ParquetFile(data).metadata.num_row_groups]
        ws.sql(f"SELECT count(*) FROM dataset('{path}')")
        assert data.stat().st_mtime_ns == groups[0]  # rewritten once, then reused
    assert groups[1] == 2


def test_arrow_json_fast_path_equals_the_line_by_line_parse(tmp_path, monkeypatch):
    """Chunks Arrow's JSON reader takes give the rows, columns and JSON values Python's ``json`` gives;
    a chunk with a bad line falls back line by line and still keeps every good line."""
    import juicedb.datasets as D

    rng = random.Random(5)
    lines = []
    for i in range(4000):
        row = {"text": f"Dokument {i}: é ü 中文 \"quoted\" \\ tab\t" * rng.randint(0, 3), "id": i,
               "score": rng.random() * 10 ** rng.randint(-6, 6), "flag": i % 3 == 0, "uid": f"u\"{i}é\\",
               "when": f"2020-01-{1 + i % 28:02d}", "meta": {"a": [1, 2.5, None], "b": "x" * (i % 4)},
               "images": [f"img/{i}.jpg"] if i < 3000 or i % 2 else "one.png", "maybe": None if i % 5 else i}
        if i % 7 == 0:
            del row["meta"]
        lines.append(json.dumps(row, ensure_ascii=i % 2 == 0))
    path = tmp_path / "rich.jsonl"
    path.write_text("\n".join([*lines[:1500], "", "{truncated", *lines[1500:]]) + "\n", encoding="utf-8")

    used = []
    real = D._parse_fast
    monkeypatch.setattr(D, "_parse_fast", lambda *a: used.append(real(*a)) or used[-1])
    fast = list(D.read_jsonl(path, chunk_rows=1000))
    monkeypatch.setattr(D, "_parse_fast", lambda *a: None)
    slow = list(D.read_jsonl(path, chunk_rows=1000))
    # Python parses the chunk with the bad line, and the one whose images are sometimes one path, not a list
    assert [c is not None for c in used] == [True, False, True, False, False]
    assert [(e.line, e.message[:14]) for c in fast for e in c.errors] == [(1502, "malformed JSON")]
    for f, s in zip(fast, slow):
        assert f.table.schema.names == s.table.schema.names
        assert sorted(f.table.schema.names) == ["_uid", "flag", "id", "images", "maybe", "meta", "score", "text",
                                                "uid", "when"]
        assert f.table.schema.metadata == s.table.schema.metadata
        for name in ("uid", "text", "images", "id", "flag", "_uid", "when"):
            assert f.table.column(name).to_pylist() == s.table.column(name).to_pylist(), name
        for name in ("score", "meta", "maybe"):  # JSON text: equal values (number formatting may differ)
            assert [None if v is None else json.loads(v) for v in f.table.column(name).to_pylist()] == \
                [None if v is None else json.loads(v) for v in s.table.column(name).to_pylist()], name
    assert sum(c.table.num_rows for c in fast) == 4000


@pytest.mark.parametrize("setting, codec", [("", "UNCOMPRESSED"), ("lz4", "LZ4_RAW"), ("zstd", "ZSTD")])
def test_working_copy_compression_follows_the_environment(tmp_path, monkeypatch, setting, codec):
    monkeypatch.setenv("JUICEDB_DATASET_COMPRESSION", setting)
    (tmp_path / "d.jsonl").write_text("".join(f'{{"text": "doc {i}"}}\n' for i in range(50)))
    pq.write_table(pa.table({"text": ["x", "y"]}), tmp_path / "d.parquet")  # through DuckDB's COPY
    with juicedb.open(tmp_path / "ws") as ws:
        assert ws.sql(f"SELECT count(*) AS n FROM dataset('{tmp_path / 'd.jsonl'}')").to_pylist() == [{"n": 50}]
        assert ws.sql(f"SELECT count(*) AS n FROM dataset('{tmp_path / 'd.parquet'}')").to_pylist() == [{"n": 2}]
    import duckdb
    files = sorted((tmp_path / "ws" / "data").glob("*.parquet"))
    assert len(files) == 2
    for f in files:
        codecs = duckdb.sql(f"SELECT DISTINCT compression FROM parquet_metadata('{f}')").fetchall()
        assert codecs == [(codec,)], f


def test_an_unknown_working_copy_compression_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("JUICEDB_DATASET_COMPRESSION", "brotli9")
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n')
    with juicedb.open(tmp_path / "ws") as ws, pytest.raises(DatasetError, match=r"JUICEDB_DATASET_COMPRESSION.*lz4_raw"):
        ws.sql(f"SELECT count(*) FROM dataset('{tmp_path / 'd.jsonl'}')")


def _reference_uids_and_lines(raw: bytes) -> tuple[list[int], list[int]]:
    """The uid definition spelled out line by line: md5 of the stripped line, ``#n`` for its n-th repeat."""
    import hashlib
    seen: dict[int, int] = {}
    uids, linenos = [], []
    for lineno, line in enumerate(raw.split(b"\n"), 1):
        content = line.strip()
        if not content:
            continue
        uid = int.from_bytes(hashlib.md5(content).digest()[:8], "big") & ((1 << 63) - 1)
        n = seen.get(uid, 0)
        seen[uid] = n + 1
        if n:
            uid = int.from_bytes(hashlib.md5(content + b"#%d" % n).digest()[:8], "big") & ((1 << 63) - 1)
        uids.append(uid)
        linenos.append(lineno)
    return uids, linenos


@pytest.mark.parametrize("chunk_rows, block", [(3, 64), (4, 1 << 20), (1000, 7)])
def test_block_reader_gives_the_line_by_line_uids_and_line_numbers(tmp_path, monkeypatch, chunk_rows, block):
    """Blank and whitespace-only lines, CRLF endings, padded lines, repeats across chunks, a line longer than
    a block and a last line without its newline: the same rows, uids and line numbers as line by line."""
    import gzip

    from juicedb import datasets as D
    monkeypatch.setattr(D, "_BLOCK_BYTES", block)
    docs = [json.dumps({"text": f"doc {i} " + "x" * (i % 5) * 40}).encode() for i in range(12)]
    lines = [docs[0], b"", docs[1], b"   ", docs[2] + b"\r", b"  " + docs[3] + b"\t", docs[0], docs[4],
             b'{"text": "' + b"long " * 100 + b'"}', docs[0], b"{broken", *docs[5:], docs[1]]
    raw = b"\n".join(lines)  # no final newline
    for path in (tmp_path / "d.jsonl", tmp_path / "d.jsonl.gz"):
        path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
        chunks = list(D.read_jsonl(path, chunk_rows=chunk_rows))
        uids = [u for c in chunks for u in c.table.column("uid").to_pylist()]
        errors = [(e.line, e.uid) for c in chunks for e in c.errors]
        want_uids, want_lines = _reference_uids_and_lines(raw)
        bad = want_lines.index(11)  # "{broken" is line 11
        assert errors == [(11, want_uids[bad])]
        assert uids == want_uids[:bad] + want_uids[bad + 1:]
        texts = [t for c in chunks for t in c.table.column("text").to_pylist()]
        assert texts[0] == "doc 0 " and texts[3] == json.loads(docs[3])["text"] and len(texts) == len(uids)
