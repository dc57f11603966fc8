"""Reading Data-Juicer JSONL robustly: one bad line is one ``errors`` row, never a lost batch.

Each sample gets a stable ``uid``: the first 63 bits of the md5 of its line
(plus an occurrence number for identical lines), so the same file gives the
same uids on every load and on every machine, whatever the line order.
Media paths are made absolute relative to the dataset file. Fields other than
text and media are kept as JSON columns under their own names.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

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


def stable_uid(content: bytes, seen: dict[int, int]) -> int:
    """63-bit id from the md5 of ``content``; the n-th repeat of a content hashes ``content#n``."""
    uid = int.from_bytes(hashlib.md5(content).digest()[:8], "big") & _MASK63
    n = seen.get(uid, 0)
    seen[uid] = n + 1
    if n:
        uid = int.from_bytes(hashlib.md5(content + b"#%d" % n).digest()[:8], "big") & _MASK63
    return uid


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


def read_jsonl(path: Path, *, text_key: str = "text", chunk_rows: int = 50_000) -> Iterator[Chunk]:
    """Yield Arrow chunks of the valid samples and the errors of the invalid lines."""
    base = path.resolve().parent
    seen: dict[int, int] = {}
    rows: list[dict[str, Any]] = []
    errors: list[LoadError] = []
    with _open(path) as f:
        for lineno, raw in enumerate(f, 1):
            content = raw.strip()
            if not content:
                continue
            uid = stable_uid(content, seen)
            row, why = _parse_line(content, text_key, base)
            if why:
                errors.append(LoadError(lineno, uid, why, content.decode("utf-8", "replace")[:2000]))
                continue
            row["uid"] = uid
            rows.append(row)
            if len(rows) >= chunk_rows:
                yield Chunk(_to_table(rows, text_key), errors)
                rows, errors = [], []
    if rows or errors:
        yield Chunk(_to_table(rows, text_key), errors)


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
            cols[name] = pa.array(values, pa.int64())
        elif name == text_key:
            cols[name] = pa.array(values, pa.string())
        elif name in MEDIA_KEYS:  # a sample without the key (or with null) has no media, as in DJ: []
            cols[name] = pa.array([[] if v is None else v for v in values], pa.list_(pa.string()))
        else:
            cols[name] = pa.array(values, pa.string())
    table = pa.table(cols)
    json_cols = [n for n in names if n not in ("uid", text_key, *MEDIA_KEYS)]
    meta = {b"juicedb.json_columns": json.dumps(json_cols).encode()}
    return table.replace_schema_metadata(meta)
