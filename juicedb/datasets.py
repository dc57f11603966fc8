"""Reading Data-Juicer JSONL robustly: one bad line is one ``errors`` row, never a lost batch.

Each sample gets a stable ``uid``: the first 63 bits of the md5 of its line
(plus an occurrence number for identical lines), so the same file gives the
same uids on every load and on every machine, whatever the line order.
Media paths are made absolute relative to the dataset file. Fields other than
text and media are kept as JSON columns under their own names.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.arrays import numeric, strings

MEDIA_KEYS = ("images", "videos", "audios")
_MASK63 = (1 << 63) - 1


@dataclass
class LoadError:
    line: int | None
    uid: int | None
    message: str
    raw: str


@dataclass
class Chunk:
    table: pa.Table
    errors: list[LoadError] = field(default_factory=list)


def stable_uids(contents: Sequence[bytes | memoryview], seen: dict[int, int]) -> list[int]:
    """63-bit ids from the md5 of each content; the n-th repeat of a content (counted in ``seen``, across
    calls) hashes ``content#n``."""
    md5 = hashlib.md5
    uids = [int.from_bytes(md5(c).digest()[:8], "big") & _MASK63 for c in contents]
    if seen.keys().isdisjoint(uids) and len(set(uids)) == len(uids):  # no repeat: the common case, in C
        seen.update(dict.fromkeys(uids, 1))
        return uids
    for i, uid in enumerate(uids):
        n = seen.get(uid, 0)
        seen[uid] = n + 1
        if n:
            uids[i] = int.from_bytes(md5(bytes(contents[i]) + b"#%d" % n).digest()[:8], "big") & _MASK63
    return uids


def resolve_media(value: Any, base: Path) -> str:
    text = str(value)
    if "://" in text or Path(text).is_absolute():
        return text
    return str((base / text).resolve())


def _media(obj: dict[str, Any], key: str, base: Path) -> tuple[list[str] | None, str | None]:
    value = obj.get(key)
    if value is None:
        return None, None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None, f"field {key!r} expected a list of paths, got {type(value).__name__} {str(value)[:80]!r}"
    return [resolve_media(v, base) for v in value], None


def _open(path: Path) -> Any:
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


_BLOCK_BYTES = 16 << 20
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\n\r\x0b\x0c")] = True  # what bytes.strip() strips


class _Lines:
    """One chunk's non-blank lines, stripped: ``data`` is them joined by newlines (what Arrow parses),
    ``views`` each one (what is hashed), ``contents`` each one as bytes (made only when asked)."""

    def __init__(self, data: bytes | memoryview, views: Sequence[bytes | memoryview], linenos: Sequence[int]):
        self.data, self.views, self.linenos = data, views, linenos

    def __len__(self) -> int:
        return len(self.linenos)

    @functools.cached_property
    def contents(self) -> list[bytes]:
        return [bytes(v) for v in self.views]

    @classmethod
    def of(cls, buf: bytes, ends: np.ndarray, lineno: int) -> _Lines:
        """The lines of ``buf`` ending at the newlines ``ends`` (the first starts at 0), the first being line
        ``lineno + 1``. Lines with nothing to strip but their newline (nearly all) stay slices of ``buf``;
        a chunk with a blank line, a carriage return or other spaces at a line's end is stripped line by line."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        starts = np.empty_like(ends)
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
        if (ends > starts).all() and not _SPACE[arr[starts]].any() and not _SPACE[arr[ends - 1]].any():
            mv = memoryview(buf)
            views = [mv[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
            return cls(mv[:int(ends[-1])], views, range(lineno + 1, lineno + 1 + len(ends)))
        contents, linenos = [], []
        for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
            content = buf[a:b].strip()
            if content:
                contents.append(content)
                linenos.append(lineno + 1 + i)
        return cls(b"\n".join(contents), contents, linenos)  # bytes(b) is b: contents are not copied again


def _line_chunks(f: Any, chunk_rows: int) -> Iterator[_Lines]:
    """The file's lines, ``chunk_rows`` at a time, read in large blocks: one bytes object per block rather
    than one per line, no copy to strip or join them."""
    buf = b""
    ends = np.empty(0, dtype=np.int64)  # the newlines in buf
    lineno = 0
    eof = False
    while True:
        while not eof and len(ends) < chunk_rows:
            block = f.read(max(_BLOCK_BYTES, len(buf)))
            if not block:
                eof = True
                break
            found = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + len(buf)
            buf = buf + block if buf else block
            ends = np.concatenate([ends, found])
        if eof and buf and not buf.endswith(b"\n"):  # the last line has no newline
            buf += b"\n"
            ends = np.append(ends, len(buf) - 1)
        if not len(ends):
            return
        take = min(chunk_rows, len(ends))
        lines = _Lines.of(buf, ends[:take], lineno)
        if len(lines):
            yield lines
        lineno += take
        cut = int(ends[take - 1]) + 1
        buf, ends = buf[cut:], ends[take:] - cut


def read_jsonl(path: Path, *, text_key: str = "text", chunk_rows: int = 50_000) -> Iterator[Chunk]:
    """Yield Arrow chunks of the valid samples and the errors of the invalid lines.

    Each chunk of lines is parsed by Arrow's JSON reader; a chunk it cannot take as is (a bad line, a
    repeated key, a text that is not a string...) goes line by line through Python's ``json``, which
    names each bad line's fault and keeps the rest. Arrow parses a chunk on a second thread while this
    one hashes the chunk's lines into uids and reads the next."""
    from concurrent.futures import Future, ThreadPoolExecutor

    import duckdb

    base = path.resolve().parent
    seen: dict[int, int] = {}
    con = duckdb.connect()
    cursor = con.cursor()  # the parser thread's
    pending: tuple[Future, _Lines, list[int]] | None = None

    def finish(parsed: Future, lines: _Lines, uids: list[int]) -> Chunk:
        table = parsed.result()
        if table is None:
            return _parse_slow(lines.contents, lines.linenos, uids, text_key, base)
        return Chunk(table.set_column(0, "uid", numeric(np.array(uids, dtype=np.int64), pa.int64())))

    try:
        with _open(path) as f, ThreadPoolExecutor(1, thread_name_prefix="juicedb-json") as parser:
            for lines in _line_chunks(f, chunk_rows):
                parsed = parser.submit(_parse_fast, cursor, lines, text_key, base)
                uids = stable_uids(lines.views, seen)
                if pending is not None:
                    yield finish(*pending)
                pending = (parsed, lines, uids)
            if pending is not None:
                yield finish(*pending)
    finally:
        con.close()


def _parse_slow(contents: list[bytes], linenos: Sequence[int], uids: list[int], text_key: str, base: Path) -> Chunk:
    rows: list[dict[str, Any]] = []
    errors: list[LoadError] = []
    for content, lineno, uid in zip(contents, linenos, uids):
        row, why = _parse_line(content, text_key, base)
        if why:
            errors.append(LoadError(lineno, uid, why, content.decode("utf-8", "replace")[:2000]))
            continue
        row["uid"] = uid
        rows.append(row)
    return Chunk(_to_table(rows, text_key), errors)


def _json_path(key: str) -> str | None:
    """A DuckDB JSON path (as a SQL literal) selecting an object's ``key``; None for a key it cannot quote."""
    if any(c in key for c in "\"\\'") or not key.isprintable():
        return None
    return f"'$.\"{key}\"'"


def _parse_fast(con: Any, lines: _Lines, text_key: str, base: Path) -> pa.Table | None:
    """The chunk parsed by Arrow's JSON reader (C++; its first column, uid, is left null for the
    caller to fill); None when it must go through
    ``_parse_slow``: a bad line (Python then names each), a repeated key, or a text that is not a string.

    Fields other than text and media become JSON text as ``_parse_line`` writes it: integers, booleans
    and strings (escaped by DuckDB's ``to_json``, as ``json.dumps(..., ensure_ascii=False)``) straight
    from Arrow's columns; fields Arrow reads as something else (floats, nested values, ISO dates it
    turns into timestamps, explicit nulls it cannot tell from absent keys) are cut from the lines by
    DuckDB's ``json_extract``."""
    import pyarrow.json as pj

    if not len(lines):
        return None
    try:
        parsed = pj.read_json(pa.BufferReader(pa.py_buffer(lines.data)),
                              read_options=pj.ReadOptions(block_size=1 << 20),
                              parse_options=pj.ParseOptions(unexpected_field_behavior="infer"),
                              memory_pool=pa.system_memory_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if parsed.num_rows != len(lines) or text_key not in parsed.column_names:
        return None
    text = parsed.column(text_key)
    if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)) or text.null_count:
        return None
    out: dict[str, Any] = {"uid": pa.nulls(len(lines), pa.int64()), text_key: text.cast(pa.string())}
    for key in MEDIA_KEYS:
        if key not in parsed.column_names:
            continue
        values = []
        for value in parsed.column(key).to_pylist():
            paths, why = _media({key: value}, key, base)
            if why:
                return None
            values.append(paths or [])
        out[key] = pa.array(values, pa.list_(pa.string()))
    other = [k for k in parsed.column_names if k != text_key and k not in MEDIA_KEYS]
    names = {k: "_uid" if k == "uid" else k for k in other}  # the sample's own "uid" field is kept as _uid
    sql: dict[str, str] = {}
    for i, key in enumerate(other):
        col = parsed.column(key)
        if col.null_count == 0 and (pa.types.is_integer(col.type) or pa.types.is_boolean(col.type)):
            out[names[key]] = col.cast(pa.string())
        elif col.null_count == 0 and pa.types.is_string(col.type):
            sql[key] = f"to_json(c{i})::VARCHAR"
        else:
            path = _json_path(key)
            if path is None:
                return None
            sql[key] = f"json_extract(line, {path})::VARCHAR"
    if sql:
        cut = any(v.startswith("json_extract") for v in sql.values())  # only then are the lines read
        cols = {"line": pa.array(lines.contents, pa.binary()).cast(pa.string()) if cut
                else pa.nulls(len(lines), pa.string())}
        cols.update({f"c{i}": parsed.column(k) for i, k in enumerate(other) if sql.get(k, "").startswith("to_json")})
        src = pa.Table.from_batches(pa.table(cols).to_batches(2048))  # noqa: F841 - read by SQL
        got = con.sql(f"SELECT {', '.join(sql.values())} FROM src").to_arrow_table()
        for j, key in enumerate(sql):
            out[names[key]] = got.column(j).combine_chunks()
    json_cols = [names[k] for k in other]
    table = pa.table({k: out[k] for k in ["uid", text_key, *(k for k in MEDIA_KEYS if k in out), *json_cols]})
    return table.replace_schema_metadata({b"juicedb.json_columns": json.dumps(json_cols).encode()})


def _parse_line(content: bytes, text_key: str, base: Path) -> tuple[dict[str, Any], str | None]:
    try:
        line = content.decode("utf-8")
    except UnicodeDecodeError as e:
        return {}, f"non-UTF-8 byte 0x{content[e.start]:02x} at byte {e.start} of the line"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        return {}, f"malformed JSON: {e.msg} (column {e.colno})"
    if not isinstance(obj, dict):
        return {}, f"expected a JSON object per line, got {type(obj).__name__}"
    if text_key not in obj:
        return {}, f"missing field {text_key!r} (fields: {', '.join(list(obj)[:10]) or 'none'})"
    text = obj.pop(text_key)
    if not isinstance(text, str):
        return {}, f"field {text_key!r} expected a string, got {type(text).__name__} {str(text)[:80]!r}"
    row: dict[str, Any] = {text_key: text}
    for key in MEDIA_KEYS:
        if key in obj:
            paths, why = _media(obj, key, base)
            if why:
                return {}, why
            row[key] = paths
            del obj[key]
    for key, value in obj.items():
        row[key if key != "uid" else "_uid"] = json.dumps(value, ensure_ascii=False)
    return row, None


def _to_table(rows: list[dict[str, Any]], text_key: str) -> pa.Table:
    names: dict[str, None] = {"uid": None, text_key: None}
    for r in rows:
        names.update(dict.fromkeys(r))
    cols: dict[str, pa.Array] = {}
    for name in names:
        values = [r.get(name) for r in rows]
        if name == "uid":
            cols[name] = numeric(np.array(values, dtype=np.int64), pa.int64())
        elif name in MEDIA_KEYS:  # a sample without the key (or with null) has no media, as in DJ: []
            lists = [[] if v is None else v for v in values]
            offsets = np.zeros(len(lists) + 1, dtype=np.int32)
            np.cumsum([len(v) for v in lists], out=offsets[1:])
            cols[name] = pa.ListArray.from_arrays(numeric(offsets, pa.int32()),
                                                  strings([p for v in lists for p in v]))
        else:  # the text, and the other fields as JSON text
            cols[name] = strings(values)
    table = pa.table(cols)
    json_cols = [n for n in names if n not in ("uid", text_key, *MEDIA_KEYS)]
    meta = {b"juicedb.json_columns": json.dumps(json_cols).encode()}
    return table.replace_schema_metadata(meta)
