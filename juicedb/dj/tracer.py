"""Data-Juicer's tracer files, written from juicedb's ``trace`` table.

DJ's tracer (``open_tracer: true``) writes into ``<work_dir>/trace/``, per operator,
the first ``trace_num`` samples it changed or removed:

- ``mapper-<op>.jsonl``: ``{"original text": ..., "processed_text": ...}``;
- ``filter-<op>.jsonl``: each removed sample, with its ``__dj__stats__``;
- ``duplicate-<op>.jsonl``: ``{"dup1": kept sample, "dup2": removed sample}``.

Here they come from a run's ``trace`` rows (mappers need ``trace_mappers``), in
the order of the samples in their dataset. juicedb orders predicates by cost, so
a sample two filters would both remove is attributed to the one that ran first
(DJ: the first in the config). Samples are written as they were loaded (DJ writes
them as they were when the operator ran); the stats of a removed sample are
those of the predicate that removed it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from juicedb.errors import UnknownOperatorError
from juicedb.registry import get_op
from juicedb.workspace import Workspace

_PAIR = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)=")


def parse_detail(detail: str | None) -> dict[str, Any]:
    """A trace row's stat values (``"text_len=8, aspect_ratios=[1.0, 2.5], lang=en"``) as a dict.

    >>> parse_detail("text_len=8, aspect_ratios=[1.0, 2.5], lang=en, lang_score=NULL")
    {'text_len': 8, 'aspect_ratios': [1.0, 2.5], 'lang': 'en', 'lang_score': None}
    """
    out: dict[str, Any] = {}
    if not detail:
        return out
    keys = list(_PAIR.finditer(detail))
    for m, nxt in zip(keys, [*keys[1:], None]):
        raw = detail[m.end(): nxt.start() if nxt else len(detail)].rstrip().removesuffix(",").rstrip()
        if raw == "NULL":
            out[m.group(1)] = None
            continue
        try:
            out[m.group(1)] = json.loads(raw)
        except json.JSONDecodeError:
            out[m.group(1)] = raw
    return out


def _round10(value: Any) -> Any:
    """Floats to 10 decimals, as DJ's JSON writer (pandas, double_precision=10) writes them."""
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, list):
        return [_round10(v) for v in value]
    if isinstance(value, dict):
        return {k: _round10(v) for k, v in value.items()}
    return value


def _op_of(ops: str | None) -> str | None:
    """The operator a trace row is about: the last non-mapper of its calls (mappers feed filters)."""
    names = [n for n in dict.fromkeys((ops or "").split(", ")) if n]
    for name in reversed(names):
        try:
            if get_op(name).kind != "mapper":
                return name
        except UnknownOperatorError:  # unregistered since the run
            return name
    return names[-1] if names else None


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _samples(ws: Workspace, labels: set[str], uids: list[int]) -> dict[int, tuple[int, dict[str, Any]]]:
    """uid -> (position in its table, the sample as DJ writes it) for the traced tables."""
    con = ws.engine.con
    existing = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() UNION ALL "
                                          "SELECT view_name FROM duckdb_views()").fetchall()}
    sources = [label for label in sorted(labels) if label in existing] or ["samples"]
    wanted = ", ".join(str(int(u)) for u in uids) or "NULL"
    found: dict[int, tuple[int, dict[str, Any]]] = {}
    for src in sources:
        rows = con.execute(f"SELECT to_json(s)::VARCHAR FROM (SELECT row_number() OVER () AS __pos, * FROM {src}) s "
                           f"WHERE uid IN ({wanted})").fetchall()
        for (text,) in rows:
            sample = json.loads(text)
            pos, uid = sample.pop("__pos"), sample.pop("uid")
            if src == "samples":
                sample.pop("dataset", None)
            found.setdefault(uid, (pos, sample))
    return found


def export_trace(ws: Workspace, work_dir: str | Path, *, run_id: str | None = None, trace_num: int = 10,
                 ops: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Write DJ's tracer files for ``run_id`` (default: the workspace's last run); return their paths."""
    con = ws.engine.con
    if run_id is None:
        row = con.execute("SELECT run_id FROM runs ORDER BY started DESC, run_id DESC LIMIT 1").fetchone()
        if row is None:
            return []
        run_id = row[0]
    rows = con.execute("SELECT kind, op, uid, detail, before, after, dataset FROM trace WHERE run_id = ? "
                       "ORDER BY statement, step", [run_id]).fetchall()
    groups: dict[tuple[str, str], list[tuple]] = {}
    for kind, op, uid, detail, before, after, dataset in rows:
        name = op if kind == "map" else _op_of(op)
        if name is None or (ops and name not in ops):
            continue
        groups.setdefault((kind, name), []).append((uid, detail, before, after, dataset))
    uids = {r[0] for g in groups.values() for r in g}
    for (kind, _), g in groups.items():
        if kind == "dedup":
            uids |= {int(m.group(1)) for r in g if (m := re.search(r"uid (-?\d+)", r[1] or ""))}
    samples = _samples(ws, {r[4] for g in groups.values() for r in g if r[4]}, sorted(uids))
    out_dir = Path(work_dir) / "trace"
    written = []
    prefix = {"map": "mapper", "drop": "filter", "dedup": "duplicate"}
    for (kind, name), g in sorted(groups.items()):
        g = sorted(g, key=lambda r: samples.get(r[0], (1 << 62, None))[0])[:trace_num]
        lines = []
        for uid, detail, before, after, _ in g:
            if kind == "map":
                lines.append({"original text": before, "processed_text": after})
            elif kind == "drop":
                sample = dict(samples.get(uid, (0, {"uid": uid}))[1])
                sample["__dj__stats__"] = _round10(parse_detail(detail))
                lines.append(sample)
            else:
                m = re.search(r"uid (-?\d+)", detail or "")
                kept = samples.get(int(m.group(1)), (0, {}))[1] if m else {}
                lines.append({"dup1": kept, "dup2": samples.get(uid, (0, {"uid": uid}))[1]})
        if not lines:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{prefix[kind]}-{name}.jsonl"
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        written.append(str(path))
    return written
