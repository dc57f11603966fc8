"""Arrow arrays from numpy arrays and Python strings, built from their buffers.

``pa.array`` first asks pyarrow's pandas shim whether its argument is a pandas object, and the shim imports
pandas to answer (33 MB resident for the rest of the process) wherever pandas is installed. A run builds
its stats from numpy arrays and lists of strings only: the arrays it makes on every batch come from here,
so a process that never uses pandas never imports it.

>>> numeric(np.array([0.5, 2.0]), pa.float64(), null=np.array([False, True])).to_pylist()
[0.5, None]
>>> strings(["a", "ß", None]).to_pylist()
['a', 'ß', None]
>>> to_numpy(pa.chunked_array([numeric(np.array([1, 2]), pa.int64()), numeric(np.array([3]), pa.int64())]))
array([1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa


def _validity(null: np.ndarray | None, n: int) -> tuple[pa.Buffer | None, int]:
    if null is None:
        return None, 0
    null = np.asarray(null, dtype=bool)
    if len(null) != n:
        raise ValueError(f"null has {len(null)} entries for {n} values")
    count = int(null.sum())
    return (pa.py_buffer(np.packbits(~null, bitorder="little")) if count else None), count


def numeric(values: np.ndarray, type: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    """``pa.array(values, type, mask=null)`` for a fixed-width numeric or boolean ``type`` (values cast to it)."""
    n = len(values)
    validity, nulls = _validity(null, n)
    if pa.types.is_boolean(type):
        data = pa.py_buffer(np.packbits(np.asarray(values, dtype=bool), bitorder="little"))
    else:
        data = pa.py_buffer(np.ascontiguousarray(values, dtype=type.to_pandas_dtype()))
    return pa.Array.from_buffers(type, n, [validity, data], null_count=nulls)


def integers(values: Sequence[int | None]) -> pa.Array:
    """``pa.array(values, pa.int64())``."""
    null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    ints = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=len(values))
    return numeric(ints, pa.int64(), null=null)


def strings(values: Sequence[str | None]) -> pa.Array:
    """``pa.array(values, pa.string())``."""
    encoded = [b"" if v is None else v.encode("utf-8") for v in values]
    null = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    if offsets[-1] >= 2**31:  # past 32-bit offsets: Arrow's own conversion (it chunks)
        return pa.array(values, pa.string())
    offsets = offsets.astype(np.int32)
    validity, nulls = _validity(null, len(values))
    return pa.Array.from_buffers(pa.string(), len(values),
                                 [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))],
                                 null_count=nulls)


def to_numpy(values: pa.Array | pa.ChunkedArray, null: Any = None) -> np.ndarray:
    """``values.to_numpy()`` of a fixed-width numeric or boolean array: a read-only view of its buffer (one
    chunk, no nulls), booleans unpacked (as ``to_numpy(zero_copy_only=False)``); nulls become ``null`` (an
    error if it is None)."""
    if isinstance(values, pa.ChunkedArray):
        parts = [to_numpy(c, null) for c in values.chunks]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.empty(0, dtype=_dtype(values.type))
    if values.null_count and null is None:
        raise ValueError(f"to_numpy: {values.null_count} nulls in a {values.type} array")
    n, offset, data = len(values), values.offset, values.buffers()[1]
    if data is None or n == 0:
        return np.empty(0, dtype=_dtype(values.type))
    if pa.types.is_boolean(values.type):
        out = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little", count=offset + n)[offset:]
        out = out.view(bool)
    else:
        out = np.frombuffer(data, dtype=_dtype(values.type))[offset:offset + n]
        out.flags.writeable = False  # Arrow's memory, maybe shared: as pyarrow's zero-copy to_numpy
    if values.null_count:
        out = out.copy()
        out[to_numpy(values.is_null())] = null
    return out


def _dtype(type: pa.DataType) -> np.dtype:
    return np.dtype(bool) if pa.types.is_boolean(type) else np.dtype(type.to_pandas_dtype())
