"""The compiled kernels ahead of time (``udfs/common/kernels``): the same values as numba's JIT, no numba in
the process, a call whose arguments do not match the signature goes to the JIT, a failed build is recorded
and falls back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from juicedb.udfs.common import kernels
from tests.conftest import SHARED_DATA

# every operator that runs a compiled kernel, with parameters that reach each of them
OPS = [("text_length_filter", {}), ("alphanumeric_filter", {}), ("special_characters_filter", {}),
       ("words_num_filter", {}),
       *[("character_repetition_filter", {"rep_len": n}) for n in (1, 5, 10)],
       *[("word_repetition_filter", {"rep_len": n}) for n in (1, 3, 10)],
       ("stopwords_filter", {}), ("stopwords_filter", {"lang": "all"}), ("flagged_words_filter", {}),
       ("document_minhash_deduplicator", {}), ("document_minhash_deduplicator", {"window_size": 2})]

SCRIPT = r"""
import json, sys
import pyarrow as pa
from juicedb.registry import get_op, load_builtin_ops
from juicedb.engine.functions import compute_rows, make_batch
load_builtin_ops()
texts = json.loads(sys.stdin.read())
ops = json.loads(sys.argv[1])
out = []
for name, params in ops:
    spec = get_op(name)
    params = spec.resolve_params({k: v for k, v in params.items() if k in {p.name for p in spec.params}})
    values, failed = compute_rows(spec, make_batch(spec, pa.array(texts, pa.string())), params)
    assert not failed, failed
    out.append({k: v.to_pylist() for k, v in values.items()})
print(json.dumps({"out": out, "numba": "numba" in sys.modules, "llvmlite": "llvmlite" in sys.modules}))
"""


def _texts() -> list[str | None]:
    texts = [json.loads(line)["text"] for name in ("demo-dataset.jsonl", "demo-dataset-deduplication.jsonl")
             for line in (SHARED_DATA / "dj_demos" / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [*texts, None, "", "  \t\n ", "İstanbul ΣΊΣΥΦΟΣ straße " * 5, "a b a b a b a b c",
            "To be, or not to be: that is the question. " * 12]


def _run(mode: str) -> dict:
    env = dict(os.environ)
    env.pop(kernels.ENV_MODE, None)
    if mode:
        env[kernels.ENV_MODE] = mode
    proc = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(OPS)], input=json.dumps(_texts()),
                          capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


def test_aot_gives_the_jit_values_without_numba_in_the_process():
    aot, jit = _run("aot"), _run("jit")
    assert jit["numba"] and not aot["numba"] and not aot["llvmlite"]
    assert aot["out"] == jit["out"]
    ratios = aot["out"][OPS.index(("character_repetition_filter", {"rep_len": 10}))]["char_rep_ratio"]
    assert ratios[-1] > 0.1 and ratios[-2] == 0.5 and ratios[len(_texts()) - 6] is None  # the null text
    bands = aot["out"][OPS.index(("document_minhash_deduplicator", {}))]
    assert len({json.dumps(b) for b in next(iter(bands.values()))}) < len(_texts())  # the planted duplicates


def test_signatures_are_parsed_with_the_arrays_each_kernel_writes():
    args = kernels.parse_args(kernels.KERNELS["char_top_k_shares"][2])
    assert [(a.dtype.name, a.ndim, a.contiguous, a.written) for a in args] == [
        ("uint32", 1, True, False), ("int64", 1, True, False), ("int64", 0, False, False),
        ("uint64", 0, False, False), ("float64", 1, True, True), ("int64", 0, False, False)]
    sha = kernels.parse_args(kernels.KERNELS["minhash_minima"][2])
    assert [(a.ndim, a.contiguous) for a in sha] == [(1, True), (1, True), (1, False), (1, False), (2, True)]
    assert kernels.parse_args(kernels.KERNELS["refined_words"][2])[5].dtype == np.bool_
    assert set(kernels.KERNELS) == {n for n in kernels.KERNELS if callable(getattr(kernels, n))}


def test_arguments_off_the_signature_go_to_the_jit_with_the_same_values():
    cps = np.frombuffer("ab1 ?c".encode("utf-32-le"), dtype=np.uint32)
    offsets = np.array([0, 3, 6], dtype=np.int64)
    lut = np.zeros(0x110000, dtype=np.uint8)
    lut[[ord("a"), ord("b"), ord("c")]] = 1
    lut[ord("?")] = 2
    expected = [[2, 0], [1, 1]]
    count = kernels.get("count_marked")
    assert count(cps, offsets, lut).tolist() == expected
    assert count(cps.astype(np.int64), offsets, lut).tolist() == expected  # a dtype the AOT one would misread
    assert count(cps, offsets.astype(np.int32), lut).tolist() == expected
    assert count(np.repeat(cps, 2)[::2], offsets, lut).tolist() == expected  # not contiguous
    out = np.zeros(2)
    out.flags.writeable = False
    with pytest.raises(Exception, match="Cannot modify readonly array"):  # the JIT's error, not a crash
        kernels.get("char_top_k_shares")(cps, offsets, 1, np.uint64(3), out)
    assert not kernels.Arg(np.dtype(np.uint64), 0).accepts(-1)
    assert not kernels.Arg(np.dtype(np.int64), 0).accepts(True)


def test_a_failed_build_is_recorded_once_and_falls_back(tmp_path, monkeypatch):
    calls = []

    def failing(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "error: command 'gcc' failed: No such file or directory")

    monkeypatch.setattr(kernels.subprocess, "run", failing)
    for _ in range(2):
        path, why = kernels.ensure_built(tmp_path)
        assert path is None and "C compiler" in why and "'gcc' failed" in why
    assert len(calls) == 1  # the second process reads the record instead of building again
    assert (kernels.module_path(tmp_path).parent / "build.log").read_text().endswith("No such file or directory")
    monkeypatch.undo()

    env = dict(os.environ, **{kernels.ENV_CACHE: str(tmp_path), kernels.ENV_MODE: "aot"})
    code = "from juicedb.udfs.common.kernels import decode_utf8"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode != 0 and "JUICEDB_KERNELS=aot: building the compiled kernels failed" in proc.stderr
    env.pop(kernels.ENV_MODE)
    code += "; import sys; print(decode_utf8.__module__, 'numba' in sys.modules)"
    proc = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "using numba's JIT instead" in proc.stderr and proc.stdout.split() == [kernels._T, "True"]


def test_a_fresh_cache_builds_the_module_once(tmp_path):
    path, why = kernels.ensure_built(tmp_path)
    assert why == "" and path == kernels.module_path(tmp_path) and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the build folder is gone
    mtime = path.stat().st_mtime_ns
    assert kernels.ensure_built(tmp_path) == (path, "") and path.stat().st_mtime_ns == mtime
    assert Path(kernels.cache_root()).name == "aot" or os.environ.get(kernels.ENV_CACHE)
