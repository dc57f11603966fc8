"""The compiled kernels, ahead of time: one extension module built once per install, imported without numba.

The kernels are written for numba (``_text_kernels``, ``_ngram_kernels``, ``udfs/dedup/_kernels``,
``_sha1_block``). Run through numba's JIT, a process pays for numba itself on every start: ~0.5 s to import
it and load the cached machine code, and ~140 MB of LLVM and typing objects resident for the rest of the
run (on the 200k-document pipeline of ``benchmarks/`` that was a fifth of its peak RSS). So the same
functions are compiled ahead of time (numba's ``pycc``) into one extension module for this machine's CPU,
the first time a kernel is asked for, in a child process, and later processes import just that
(``KERNELS``: every entry point, its one signature, the arrays it writes). Each call checks its arguments
against the signature (an AOT function trusts its caller's dtypes: a wrong one would read past a buffer) and
goes to numba's JIT when they do not match, when no C compiler is there to build the module, or with
``$JUICEDB_KERNELS=jit``; ``$JUICEDB_KERNELS=aot`` makes a failed build an error instead.

The module lives in ``$JUICEDB_KERNEL_CACHE``, else in ``__pycache__/`` beside this file (as numba's cache),
else in ``~/.cache/juicedb/kernels``, under a key of the kernels' sources, numba's and Python's versions and
the CPU's features; a build is locked against concurrent ones, and a failed build is recorded (its log in
``build.log``) so it is not retried by every process.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

HASH_LIMIT = 1 << 20  # the n-gram counters' default: a text with more n-grams is counted by sorting a copy
# (8 bytes per n-gram, no table); ``_ngram_kernels`` takes it from here
MODULE = "_juicedb_kernels"
ENV_MODE = "JUICEDB_KERNELS"  # "jit": numba's JIT only; "aot": the AOT module or an error
ENV_CACHE = "JUICEDB_KERNEL_CACHE"
HERE = Path(__file__).resolve().parent
SOURCES = (HERE / "_text_kernels.py", HERE / "_ngram_kernels.py", HERE.parent / "dedup" / "_kernels.py",
           HERE.parent / "dedup" / "_sha1_block.py", Path(__file__).resolve())

# name: (module, function, signature); in the signature ``[::1]`` is a C-contiguous array, ``[:]`` any
# strides, a trailing ``!`` an array the kernel writes into; defaults fill trailing arguments left out
_T, _N, _D = "juicedb.udfs.common._text_kernels", "juicedb.udfs.common._ngram_kernels", "juicedb.udfs.dedup._kernels"
KERNELS: dict[str, tuple[str, str, str]] = {
    "decode_utf8": (_T, "decode_utf8", "u4[::1](u1[::1], i8[::1], i8[::1], i8[::1], u4[::1]!)"),
    "count_marked": (_T, "count_marked", "i8[:,::1](u4[::1], i8[::1], u1[::1])"),
    "count_marked_utf8": (_T, "count_marked_utf8", "i8[:,::1](u1[::1], i8[::1], i8[::1], u1[::1])"),
    "refined_word_counts": (_T, "refined_word_counts", "i8[::1](u4[::1], i8[::1], b1[::1])"),
    "flag_marked": (_T, "flag_marked", "b1[::1](u4[::1], i8[::1], b1[::1])"),
    "fill_set": (_T, "_fill_set", "u8[::1](u8[::1], u8[::1]!)"),
    "listed_counts": (_T, "listed_counts", "i8[::1](u8[::1], i8[::1], u8[::1])"),
    "char_top_k_shares": (_N, "char_top_k_shares", "f8[::1](u4[::1], i8[::1], i8, u8, f8[::1]!, i8)"),
    "refined_words": (_N, "refined_words",
                      "Tuple((u8[::1], i8[::1], i8[::1]))(u4[::1], i8[::1], b1[::1], u8, u8, b1, u4[::1])"),
    "repeated_ngram_shares": (_N, "repeated_ngram_shares", "f8[::1](u8[::1], i8[::1], i8, u8, f8[::1]!, i8)"),
    "big_endian_words": (_D, "_big_endian_words", "none(u1[::1], u4[::1]!)"),
    "block_words": (_D, "_block_words", "none(u4[::1], i8[::1], i8[::1], i8, u4[:,::1]!)"),
    "sha1_rounds": (_D, "sha1_rounds", "none(u4[:,::1], u4[:,::1]!)"),
    "space_shingles": (_D, "space_shingles",
                       "Tuple((u1[::1], i8[::1], i8[::1], i8[::1]))(u1[::1], i8[::1], i8)"),
    "minhash_minima": (_D, "minhash_minima", "none(u4[::1], i8[::1], u8[:], u8[:], u8[:,::1]!)"),
}
DEFAULTS: dict[str, tuple[Any, ...]] = {"char_top_k_shares": (HASH_LIMIT,), "repeated_ngram_shares": (HASH_LIMIT,)}

_DTYPES = {"u1": np.uint8, "u4": np.uint32, "u8": np.uint64, "i8": np.int64, "f8": np.float64, "b1": np.bool_}
_INTS = (int, np.integer)


@dataclass(frozen=True)
class Arg:
    """One argument of a kernel's signature, for the check before an AOT call."""

    dtype: np.dtype
    ndim: int  # 0: a scalar
    contiguous: bool = False
    written: bool = False

    def accepts(self, value: Any) -> bool:
        if self.ndim == 0:
            if self.dtype == np.bool_:
                return isinstance(value, (bool, np.bool_))
            return isinstance(value, _INTS) and not isinstance(value, (bool, np.bool_)) and (
                self.dtype.kind != "u" or value >= 0)
        return (type(value) is np.ndarray and value.dtype == self.dtype and value.ndim == self.ndim
                and (not self.contiguous or value.flags.c_contiguous)
                and (not self.written or value.flags.writeable))


def _split_args(sig: str) -> list[str]:
    """The argument types of ``ret(a, b, ...)``: the last top-level parenthesised list."""
    depth, start = 0, None
    for i, ch in enumerate(sig):
        if ch == "(":
            depth += 1
            if depth == 1:
                start = i
        elif ch == ")":
            depth -= 1
    inner = sig[start + 1:-1]
    out, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch in "(["
        depth -= ch in ")]"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [*out, cur.strip()] if cur.strip() else out


def parse_args(sig: str) -> tuple[Arg, ...]:
    args = []
    for a in _split_args(sig):
        written = a.endswith("!")
        a = a.rstrip("!")
        base, _, dims = a.partition("[")
        ndim = dims.count(":") - dims.count("::1") if dims else 0
        args.append(Arg(np.dtype(_DTYPES[base]), ndim, "::1" in dims, written))
    return tuple(args)


def numba_signature(sig: str) -> str:
    """The signature as numba reads it (without the ``!`` marks)."""
    return sig.replace("!", "")


# --------------------------------------------------------------------------- where the module lives

def _cpu_tag() -> str:
    """The CPU's model and features as the OS reports them (the module is compiled for this CPU)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    lines = [ln for ln in info.splitlines() if ln.startswith(("model name", "flags", "Features", "CPU part"))]
    return "\n".join(dict.fromkeys(lines))


@cache
def cache_key() -> str:
    from importlib.metadata import version
    h = hashlib.sha1()
    for path in SOURCES:
        h.update(path.read_bytes())
    for part in (version("numba"), sys.version, platform.machine(), _cpu_tag()):
        h.update(part.encode())
    return h.hexdigest()[:16]


def cache_root() -> Path:
    env = os.environ.get(ENV_CACHE)
    if env:
        return Path(env)
    beside = HERE / "__pycache__"
    with contextlib.suppress(OSError):
        beside.mkdir(exist_ok=True)
        if os.access(beside, os.W_OK):
            return beside / "aot"
    return Path.home() / ".cache" / "juicedb" / "kernels"


def module_path(root: Path | None = None) -> Path:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return (root or cache_root()) / cache_key() / f"{MODULE}{suffix}"


# --------------------------------------------------------------------------- building

def build(out_dir: Path) -> Path:
    """Compile every kernel of ``KERNELS`` into ``out_dir/_juicedb_kernels<suffix>`` (run in a child process:
    it imports numba and LLVM). Exported functions release the GIL, as the JIT ones (``nogil=True``)."""
    import importlib

    import numba.pycc.compiler as pycc_compiler
    from numba.pycc import CC

    class _Flags(pycc_compiler.Flags):  # pycc's wrappers hold the GIL; operator threads need it released
        def __init__(self, *a: Any, **k: Any) -> None:
            super().__init__(*a, **k)
            self.release_gil = True

    pycc_compiler.Flags = _Flags
    cc = CC(MODULE)
    cc.output_dir = str(out_dir)
    cc.target_cpu = "host"
    cc.verbose = False
    for name, (module, function, sig) in KERNELS.items():
        cc.export(name, numba_signature(sig))(getattr(importlib.import_module(module), function).py_func)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cc.compile()
    return out_dir / f"{MODULE}{importlib.machinery.EXTENSION_SUFFIXES[0]}"


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # not POSIX (Windows): builds are not locked against each other
        yield
        return
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def ensure_built(root: Path | None = None) -> tuple[Path | None, str]:
    """The AOT module's path, built now if it is missing (None and why, if it cannot be)."""
    target = module_path(root)
    if target.is_file():
        return target, ""
    failed = target.parent / "FAILED"
    if failed.is_file():
        return None, failed.read_text()
    with _locked(target.parent.parent / f"{target.parent.name}.lock"):
        if target.is_file():  # another process built it while this one waited
            return target, ""
        if failed.is_file():
            return None, failed.read_text()
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
        env = dict(os.environ, PYTHONWARNINGS="ignore", **{ENV_MODE: "jit"})  # the child compiles, never loads
        try:
            proc = subprocess.run([sys.executable, "-m", "juicedb.udfs.common.kernels", "build", str(tmp)],
                                  check=False, capture_output=True, text=True, env=env)
            if proc.returncode == 0 and (tmp / target.name).is_file():
                os.replace(tmp / target.name, target)
                return target, ""
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        log = (proc.stdout + proc.stderr).strip()
        (target.parent / "build.log").write_text(log)
        why = (f"building the compiled kernels failed (exit {proc.returncode}; a C compiler is needed, "
               f"e.g. apt-get install gcc): {log.splitlines()[-1] if log else 'no output'}; "
               f"log: {target.parent / 'build.log'}")
        failed.write_text(why)
        return None, why


# --------------------------------------------------------------------------- loading

_lock = threading.Lock()
_loaded: dict[str, Callable[..., Any]] = {}


@cache
def _aot_module() -> Any | None:
    mode = os.environ.get(ENV_MODE, "").lower()
    if mode == "jit":
        return None
    path, why = ensure_built()
    if path is None:
        if mode == "aot":
            raise RuntimeError(f"{ENV_MODE}=aot: {why}")
        warnings.warn(f"juicedb: {why}; using numba's JIT instead", RuntimeWarning, stacklevel=3)
        return None
    spec = importlib.util.spec_from_file_location(MODULE, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def jit(name: str) -> Callable[..., Any]:
    """The kernel ``name`` as numba's JIT dispatcher (imports numba)."""
    import importlib
    module, function, _ = KERNELS[name]
    return getattr(importlib.import_module(module), function)


def _guarded(name: str, aot: Callable[..., Any]) -> Callable[..., Any]:
    args = parse_args(KERNELS[name][2])
    defaults = DEFAULTS.get(name, ())
    n = len(args)

    def call(*values: Any) -> Any:
        if len(values) < n:
            values = (*values, *defaults[len(defaults) - (n - len(values)):])
        if len(values) == n and all(a.accepts(v) for a, v in zip(args, values)):
            return aot(*values)
        return jit(name)(*values)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"The compiled ``{KERNELS[name][1]}`` of ``{KERNELS[name][0]}`` (see ``kernels``)."
    return call


def get(name: str) -> Callable[..., Any]:
    """The kernel ``name``: the AOT build's, checked against its signature, else numba's JIT."""
    fn = _loaded.get(name)
    if fn is None:
        with _lock:
            fn = _loaded.get(name)
            if fn is None:
                module = _aot_module()
                fn = _guarded(name, getattr(module, name)) if module is not None else jit(name)
                _loaded[name] = fn
    return fn


def __getattr__(name: str) -> Callable[..., Any]:  # ``from juicedb.udfs.common.kernels import decode_utf8``
    if name in KERNELS:
        return get(name)
    raise AttributeError(name)


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "build":
    print(build(Path(sys.argv[2])))
