"""Freed memory handed back to the OS between a run's phases (``juicedb.engine.memory``)."""

from __future__ import annotations

import platform

import duckdb
import pytest

from juicedb.engine import memory


@pytest.mark.skipif(platform.system() != "Linux", reason="DuckDB's Linux wheels link jemalloc, and glibc has malloc_trim")
def test_release_returns_duckdbs_freed_pages():
    con = duckdb.connect()
    con.execute("SET threads = 2")
    before = memory.duckdb_resident_bytes()
    assert before is not None, "the duckdb wheel should carry its jemalloc (duckdb_je_mallctl)"
    # a sort of ~200 MB of strings: DuckDB frees it all when the query ends, jemalloc keeps the pages
    n = con.execute("SELECT count(*) FROM (SELECT repeat('x', 1000 + i % 7) || i AS s FROM range(200000) t(i) "
                    "ORDER BY s)").fetchone()[0]
    assert n == 200_000
    held = memory.duckdb_resident_bytes()
    assert held - before > 100 * 2**20
    assert memory.release_free_memory() is True
    assert memory.duckdb_resident_bytes() - before < 32 * 2**20
    con.close()


def test_release_without_duckdbs_jemalloc_is_a_no_op(monkeypatch):
    monkeypatch.setattr(memory, "_duckdb_mallctl", lambda: None)
    monkeypatch.setattr(memory, "_libc", lambda: None)
    assert memory.release_free_memory() is False
    assert memory.duckdb_resident_bytes() is None
    memory.cap_malloc_arenas(2)  # no C library: nothing to set, no error
