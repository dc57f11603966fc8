"""Arrow arrays built from their buffers (``juicedb/arrays.py``): the same arrays as ``pa.array`` and
``to_numpy``, and a text pipeline that never imports pandas (nor numba: its kernels are compiled ahead of
time)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from juicedb.arrays import numeric, strings, to_numpy
from tests.conftest import ROOT


@pytest.mark.parametrize("type_", [pa.int64(), pa.int32(), pa.float64(), pa.uint64(), pa.bool_()])
def test_numeric_is_pa_array(type_):
    values = np.array([3, 0, 7, 1, 0, 5, 2, 9, 4], dtype=type_.to_pandas_dtype())
    null = np.array([False, True, False, False, False, True, False, False, True])
    assert numeric(values, type_).equals(pa.array(values, type_))
    got = numeric(values, type_, null=null)
    assert got.equals(pa.array(values, type_, mask=null)) and got.null_count == 3
    assert numeric(values, type_, null=np.zeros(9, dtype=bool)).null_count == 0
    for part in (got.slice(2, 3), got.slice(5)):  # offsets inside the buffers
        expected = part.to_numpy(zero_copy_only=False)
        assert np.array_equal(to_numpy(part, null=0), np.where(part.is_null().to_numpy(zero_copy_only=False), 0,
                                                                expected).astype(expected.dtype))
    with pytest.raises(ValueError, match="3 nulls"):
        to_numpy(got)
    with pytest.raises(ValueError, match="null has 2 entries for 9"):
        numeric(values, type_, null=null[:2])


def test_strings_and_chunked_arrays():
    texts = ["", "ß", None, "日本語 text", "a" * 1000]
    assert strings(texts).equals(pa.array(texts, pa.string()))
    assert strings([]).equals(pa.array([], pa.string()))
    chunked = pa.chunked_array([pa.array([1, 2], pa.int64()), pa.array([], pa.int64()), pa.array([3], pa.int64())])
    assert to_numpy(chunked).tolist() == [1, 2, 3]
    assert to_numpy(pa.chunked_array([], pa.int64())).dtype == np.int64
    one = pa.chunked_array([pa.array([4, 5], pa.int64())])
    assert not to_numpy(one).flags.writeable  # a view of the buffer, as pyarrow's zero-copy to_numpy
    assert to_numpy(pa.array([True, False, True]).slice(1)).tolist() == [False, True]


def test_a_text_pipeline_imports_neither_pandas_nor_numba():
    code = ("import sys, juicedb, tempfile\n"
            "with juicedb.open(tempfile.mkdtemp()) as ws:\n"
            f"    ws.run(__import__('pathlib').Path({str(ROOT / 'recipes' / 'demo_text.sql')!r}))\n"
            "    print(ws.last_run.rows_out, sorted(m for m in ('pandas', 'numba', 'llvmlite') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows, loaded = proc.stdout.split(maxsplit=1)
    assert int(rows) > 0 and loaded.strip() == "[]"
