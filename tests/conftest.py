"""Shared fixtures: a fresh workspace, a DuckDB connection with every operator, paths to test data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import juicedb
from juicedb.engine.functions import register_functions

# One model cache for the whole run (and the next): converting SmolLM2 to ONNX takes ~40 s, once.
# A workspace would otherwise set it to its own models/ folder, one per test.
os.environ.setdefault("JUICEDB_MODEL_CACHE", str(Path.home() / ".cache" / "juicedb" / "models"))

# Fixture generators run in a Data-Juicer venv, not in the test run.
collect_ignore_glob = ["fixtures/*"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[juicedb.Workspace]:
    with juicedb.open(tmp_path / "ws", threads=2) as w:
        yield w


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    register_functions(c)
    yield c
    c.close()


def write_jsonl(path: Path, texts: list[str]) -> Path:
    import json
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path
