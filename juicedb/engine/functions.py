"""Register every operator in DuckDB so it works in ad-hoc SQL too.

Each stat is a macro under its Data-Juicer stat key with the operator's
parameters as named arguments defaulting to DJ's values
(``char_rep_ratio(text, rep_len := 5)``), over a vectorised Arrow UDF. Each
filter is also a boolean macro under its DJ name with its bounds
(``text_length_filter(text, min_len := 10)``); each mapper under its name
without ``_mapper``. Macros are TEMP: the database file never refers to
Python functions a later process may not have registered.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.datasets import MEDIA_KEYS
from juicedb.errors import JuicedbError, ParamError
from juicedb.registry import OpSpec, Param, all_ops, get_op
from juicedb.udfs.common.media import MediaBatch, PairBatch
from juicedb.udfs.common.text import TextBatch

_SQL_TYPES = {int: "BIGINT", float: "DOUBLE", str: "VARCHAR", bool: "BOOLEAN"}


def sql_type(t: pa.DataType) -> str:
    if pa.types.is_unsigned_integer(t):
        return "UBIGINT"
    if pa.types.is_integer(t):
        return "BIGINT"
    if pa.types.is_floating(t):
        return "DOUBLE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_list(t):
        return sql_type(t.value_type) + "[]"
    return "VARCHAR"


def sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def make_batch(spec: OpSpec, values: pa.Array | pa.ChunkedArray) -> TextBatch | MediaBatch | PairBatch:
    """The shared-intermediates batch for an operator's modality (several inputs arrive as one struct)."""
    if len(spec.inputs) > 1:
        return PairBatch(values)
    return MediaBatch(values) if spec.modality in ("image", "video") else TextBatch(values)


Outputs = tuple[dict[str, pa.Array], dict[int, str]]


def compute_rows(spec: OpSpec, batch: TextBatch | MediaBatch | PairBatch, params: dict[str, Any]) -> Outputs:
    """Compute a batch; if it fails, compute row by row so one bad row costs one row.

    Returns the outputs (null where a row failed) and ``{row index: error message}``.
    """
    try:
        return spec.compute(batch, params), {}
    except JuicedbError:
        raise  # a bad parameter or a missing model is not a row's fault
    except Exception:  # noqa: BLE001 - isolate the failing rows below
        pass
    failures: dict[int, str] = {}
    parts: dict[str, list[Any]] = {}
    for i in range(len(batch)):
        try:
            out = spec.compute(make_batch(spec, batch.array.slice(i, 1)), params)
            for k, arr in out.items():
                parts.setdefault(k, []).append(arr[0].as_py())
        except Exception as e:  # noqa: BLE001 - the row's error becomes an `errors` row
            failures[i] = f"{type(e).__name__}: {e}"
            for k in output_keys(spec):
                parts.setdefault(k, []).append(None)
    types = _output_types(spec)
    return {k: pa.array(v, types[k]) for k, v in parts.items()}, failures


def compute_group(calls: list[tuple[OpSpec, dict[str, Any]]], values: pa.Array) -> list[Outputs]:
    """Run several operators on one batch of one input, sharing the batch's intermediates."""
    batch = make_batch(calls[0][0], values) if calls else None
    return [compute_rows(spec, batch, params) for spec, params in calls]


def compute_group_by_name(calls: list[tuple[str, dict[str, Any]]], values: pa.Array) -> list[Outputs]:
    """``compute_group`` for a worker process, which finds the operators by name."""
    return compute_group([(get_op(name), params) for name, params in calls], values)


def output_keys(spec: OpSpec) -> list[str]:
    """The columns an operator's batch returns: its stats' keys, or a mapper's SQL name."""
    return [s.key for s in spec.stats] or [spec.sql_name]


def _output_types(spec: OpSpec) -> dict[str, pa.DataType]:
    if spec.stats:
        return {s.key: s.type for s in spec.stats}
    return {spec.sql_name: spec.output_type or pa.string()}


def _constant(p: Param, arr: pa.Array) -> Any:
    if len(arr) == 0:
        return p.default
    if len(pc.unique(arr)) > 1:
        raise ParamError(f"parameter {p.name!r} must be a constant, got a column with several values")
    return arr[0].as_py()


def _udf(spec: OpSpec, key: str) -> Callable[..., pa.Array]:
    cache: dict[tuple, dict[str, Any]] = {}
    out_type = _output_types(spec)[key]

    def udf(*arrays: pa.Array) -> pa.Array:
        n = len(spec.inputs)
        values, param_arrays = arrays[0], arrays[n:]
        if n > 1:  # the planned path's struct, built here for a plain call
            values = pa.StructArray.from_arrays([a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
                                                 for a in arrays[:n]], names=list(spec.inputs))
        raw = tuple(_constant(p, a) for p, a in zip(spec.params, param_arrays))
        if raw not in cache:
            cache[raw] = spec.resolve_params(dict(zip((p.name for p in spec.params), raw)))
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        outs, _ = compute_rows(spec, make_batch(spec, values), cache[raw])
        return outs[key].cast(out_type)
    # DuckDB checks the arity against the signature: make it exact.
    n = len(spec.inputs) + len(spec.params)
    udf.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY) for i in range(n)])
    return udf


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register every operator's UDF and macros on ``con``."""
    for spec in all_ops():
        # a media input is a list of paths per sample
        in_types = ["VARCHAR[]" if i in MEDIA_KEYS else "VARCHAR" for i in spec.inputs] + \
            [_SQL_TYPES[p.type] for p in spec.params]
        inputs = list(spec.inputs)
        args = ", ".join(inputs + [f"{p.name} := {sql_literal(p.default)}" for p in spec.params])
        call_args = ", ".join(inputs + [p.name for p in spec.params])
        for key in output_keys(spec):
            fn_name = f"__jdb_{key}"
            with contextlib.suppress(duckdb.Error):  # registering again (a new operator appeared) replaces
                con.remove_function(fn_name)
            con.create_function(fn_name, _udf(spec, key), in_types, sql_type(_output_types(spec)[key]),
                                type="arrow", null_handling="special", side_effects=False)
            con.execute(f"CREATE OR REPLACE TEMP MACRO {key}({args}) AS {fn_name}({call_args})")
        if spec.kind == "filter":
            _filter_macro(con, spec, inputs, args)


def _filter_macro(con: duckdb.DuckDBPyConnection, spec: OpSpec, inputs: list[str], args: str) -> None:
    """DJ's keep rule as a boolean macro, with DJ's interval options."""
    bounds = ", ".join([f"{b.name} := {sql_literal(b.default)}" for b in spec.bounds]
                       + ["min_closed_interval := TRUE", "max_closed_interval := TRUE", "reversed_range := FALSE"])
    call_args = ", ".join(inputs + [f"{p.name} := {p.name}" for p in spec.params])
    terms = []
    for b in spec.bounds:
        stat_call = f"{b.stat}({call_args})"
        closed = "min_closed_interval" if b.side == "min" else "max_closed_interval"
        op, strict = (">=", ">") if b.side == "min" else ("<=", "<")
        terms.append(f"({b.name} IS NULL OR CASE WHEN {closed} THEN {stat_call} {op} {b.name} "
                     f"ELSE {stat_call} {strict} {b.name} END)")
    keep = " AND ".join(terms) or f"{spec.stats[0].key}({call_args}) IS NOT NULL"
    if spec.keep is not None:
        keep = spec.keep.format(**{s.key: f"{s.key}({call_args})" for s in spec.stats},
                                **{r.name: r.name for r in spec.rule_params})
        bounds = ", ".join([f"{r.name} := {sql_literal(r.default)}" for r in spec.rule_params]
                           + ["reversed_range := FALSE"])
    con.execute(f"CREATE OR REPLACE TEMP MACRO {spec.name}({args}, {bounds}) AS "
                f"CASE WHEN reversed_range THEN NOT ({keep}) ELSE ({keep}) END")
