"""image_size_filter -> ``image_sizes``: bytes of each image file (or of its inline bytes).

Bounds are Data-Juicer's size strings (``min_size := '10KB'``, ``max_size := '1TB'``)
with DJ's reading of them (``size_to_bytes``): the digits of the string, times 2**10
per step of its unit (``b``, ``kb``/``kib``, ``mb``/``mib``, … ``yb``/``yib``, any case);
no unit is bytes. DJ keeps only the digits, so ``'1.5MB'`` is 15 MB there and here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from juicedb.registry import Constraint, Param, filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep

UNITS = ("b", "kb", "mb", "gb", "tb", "pb", "eb", "zb", "yb")
_STEP = {**{u: i for i, u in enumerate(UNITS)}, **{u[0] + "ib": i for i, u in enumerate(UNITS) if i}, "": 0}


def size_to_bytes(size: str) -> int:
    """DJ's ``size_to_bytes``.

    >>> size_to_bytes("0"), size_to_bytes("10KB"), size_to_bytes("1TB"), size_to_bytes("2 mib")
    (0, 10240, 1099511627776, 2097152)
    """
    digits = "".join(c for c in size if c.isdigit())
    unit = "".join(c for c in size if c.isalpha()).lower()
    if not digits or unit not in _STEP:
        raise ValueError(f"not a size: {size!r}")
    return int(digits) << (10 * _STEP[unit])


@dataclass(frozen=True)
class SizeString(Constraint):
    def check(self, value: Any) -> str | None:
        try:
            size_to_bytes(value)
        except ValueError:
            return f"must be a size such as '0', '512KB' or '1TB' (units {', '.join(UNITS)})"
        return None


def _bytes_sql(param: str) -> str:
    """SQL for size_to_bytes of a string literal (the rule is SQL; the literal was checked above)."""
    steps = " ".join(f"WHEN '{u}' THEN {s}" for u, s in _STEP.items())
    return (f"(CAST(regexp_replace({{{param}}}, '[^0-9]', '', 'g') AS HUGEINT) * (1::HUGEINT << (10 * CASE "
            f"lower(regexp_replace({{{param}}}, '[^[:alpha:]]', '', 'g')) {steps} END)))")


KEEP = any_all_keep("{image_sizes}", f"v >= {_bytes_sql('min_size')} AND v <= {_bytes_sql('max_size')}")


@filter_op("image_size_filter", stat="image_sizes", stat_type=pa.list_(pa.int64()), modality="image",
           inputs=("images",), cost="trivial", keep=KEEP,
           rule_params={"min_size": Param("min_size", str, "0", (SizeString(),)),
                        "max_size": Param("max_size", str, "1TB", (SizeString(),)), "any_or_all": "any"})
def image_sizes(batch: MediaBatch) -> pa.Array:
    """Bytes of each image's file.

    >>> from tests.conftest import SHARED_DATA
    >>> image_sizes(MediaBatch([[str(SHARED_DATA / "media" / "img3.jpg")], []])).to_pylist()
    [[113695], []]
    >>> image_sizes(MediaBatch([[b"abc", b"de"]])).to_pylist()  # inline bytes
    [[3, 2]]
    """
    return batch.per_item(batch.file_size, pa.int64())
