"""Handing freed memory back to the operating system between the phases of a run.

Two allocators keep what a phase freed as resident pages for the next one: glibc's malloc (Python, numpy,
the JSONL reader) and the jemalloc that DuckDB's wheel links in (every vector, Arrow export and Parquet page
DuckDB decodes). jemalloc returns its dirty pages only on a later allocation in the same arena, after a one
second decay; a run's phases are shorter, so on the 200k-document pipeline ~450 MB of freed DuckDB pages
were still resident when the last statement began. Both are released at phase boundaries (after a load,
after each stage, before a planned statement's final SQL, after each statement): not on every free, which
would cost a page fault per re-use (2 CPU-s on that pipeline with jemalloc's decay at 0).

Both are best effort: a C library without ``malloc_trim`` (not glibc) or a DuckDB build without jemalloc
(macOS, Windows, some wheels) makes the call a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

_ARENAS_ALL = 4096  # jemalloc's MALLCTL_ARENAS_ALL: "arena.4096.purge" purges every arena


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


@functools.cache
def _duckdb_mallctl() -> ctypes._CFuncPtr | None:
    """DuckDB's jemalloc ``mallctl`` (its symbols carry the ``duckdb_je_`` prefix), or None."""
    try:
        import _duckdb  # the compiled module of the duckdb package
        fn = ctypes.CDLL(_duckdb.__file__).duckdb_je_mallctl
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    fn.restype = ctypes.c_int
    return fn


def cap_malloc_arenas(n: int) -> None:
    """Let glibc's malloc keep at most ``n`` arenas. Each thread that allocates (operator threads, the JSONL
    parser and writer) otherwise gets its own, and the large per-batch arrays freed in them stay mapped:
    on the 200k-document pipeline peak RSS fell ~10% (1,235-1,312 -> 1,115 MB) at the same speed. A no-op
    where the C library has no ``mallopt`` (not glibc)."""
    libc = _libc()
    try:
        if libc is not None:
            libc.mallopt(-8, max(int(n), 1))  # M_ARENA_MAX
    except AttributeError:
        pass


def use_system_arrow_pool() -> bool:
    """Make the C library's malloc pyarrow's default memory pool, unless ``$ARROW_DEFAULT_MEMORY_POOL``
    names one; whether it was changed. pyarrow's wheels default to mimalloc, which keeps the segments its
    threads freed for their next allocations: on the 200k-document pipeline, where the operator threads'
    Arrow compute and the Python side's arrays come and go batch after batch, glibc's malloc (arenas capped,
    trimmed at each phase, see above) held 45-55 MB less at the peak, at the same speed. The pool is
    process-wide (as pyarrow's own setting is)."""
    import pyarrow as pa
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return False
    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())
    return True


def release_free_memory() -> bool:
    """Return the pages both allocators hold free to the OS; whether either call was available."""
    done = False
    mallctl = _duckdb_mallctl()
    if mallctl is not None:
        done = mallctl(f"arena.{_ARENAS_ALL}.purge".encode(), None, None, None, 0) == 0
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
            done = True
    except AttributeError:
        pass
    return done


def duckdb_resident_bytes() -> int | None:
    """Bytes DuckDB's jemalloc holds resident (in use plus dirty), or None without it: for tests and
    benchmarks."""
    mallctl = _duckdb_mallctl()
    if mallctl is None:
        return None
    epoch = ctypes.c_uint64(1)
    size = ctypes.c_size_t(ctypes.sizeof(epoch))
    mallctl(b"epoch", ctypes.byref(epoch), ctypes.byref(size), ctypes.byref(epoch), ctypes.sizeof(epoch))
    value = ctypes.c_size_t()
    size = ctypes.c_size_t(ctypes.sizeof(value))
    if mallctl(b"stats.resident", ctypes.byref(value), ctypes.byref(size), None, 0) != 0:
        return None
    return value.value
