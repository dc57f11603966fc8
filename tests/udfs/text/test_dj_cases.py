"""Data-Juicer's own published test expectations, run through juicedb's SQL functions.

Filters run in their DJ form (``special_characters_filter(text, max_ratio := 0.25)``),
through the compiler and engine, so the keep rule (closed bounds) is tested too.
"""

from __future__ import annotations

import math

import pytest

from juicedb.registry import get_op
from tests.conftest import write_jsonl
from tests.udfs.text.dj_cases import DEDUP_CASES, DJ_COMPUTED_STATS, FILTER_CASES, MAPPER_CASES, STATS_ABS_TOL


def _args(params: dict) -> str:
    def lit(v: object) -> str:
        if isinstance(v, bool):
            return "TRUE" if v else "FALSE"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)
    return "".join(f", {k} := {lit(v)}" for k, v in params.items())


@pytest.mark.parametrize(("case_id", "op", "params", "texts", "expected"), FILTER_CASES,
                         ids=[c[0] for c in FILTER_CASES])
def test_filter_keeps_what_dj_keeps(ws, tmp_path, case_id, op, params, texts, expected):
    path = write_jsonl(tmp_path / "in.jsonl", texts)
    kept = ws.sql(f"SELECT text FROM dataset('{path}') WHERE {op}(text{_args(params)})").column("text").to_pylist()
    assert kept == expected["kept"]


@pytest.mark.parametrize(("case_id", "op", "params", "texts", "expected"), FILTER_CASES,
                         ids=[c[0] for c in FILTER_CASES])
def test_filter_stats_equal_dj(con, case_id, op, params, texts, expected):
    spec = get_op(op)
    key, dj_values = DJ_COMPUTED_STATS[case_id]
    stat_params = {k: v for k, v in params.items() if k in {p.name for p in spec.params}}
    rows = con.execute(f"SELECT {key}(t{_args(stat_params)}) FROM unnest(?) AS u(t)", [texts]).fetchall()
    got = [r[0] for r in rows]
    assert got == pytest.approx(dj_values, abs=1e-12)
    for value, published in zip(got, expected["stats"]):
        if published is not None:
            assert math.isclose(value, published, abs_tol=STATS_ABS_TOL)


@pytest.mark.parametrize(("case_id", "op", "params", "texts", "expected"), MAPPER_CASES,
                         ids=[c[0] for c in MAPPER_CASES])
def test_mapper_output_equals_dj(con, case_id, op, params, texts, expected):
    fn = get_op(op).sql_name
    rows = con.execute(f"SELECT {fn}(t{_args(params)}) FROM unnest(?) WITH ORDINALITY AS u(t, i) ORDER BY i",
                       [texts]).fetchall()
    assert [r[0] for r in rows] == expected


@pytest.mark.parametrize(("case_id", "op", "params", "texts", "expected"), DEDUP_CASES,
                         ids=[c[0] for c in DEDUP_CASES])
def test_dedup_keeps_first_as_dj(ws, tmp_path, case_id, op, params, texts, expected):
    path = write_jsonl(tmp_path / "in.jsonl", texts)
    kept = ws.sql(f"SELECT text FROM dataset('{path}') WHERE {op}(text{_args(params)})").column("text").to_pylist()
    assert kept == expected["kept"]


def test_special_characters_coffee_is_exactly_a_quarter_and_kept(ws, tmp_path):
    """OPS.md: "Do you need a cup of coffee?" -> exactly 0.25, kept by max 0.25 (closed bound)."""
    path = write_jsonl(tmp_path / "c.jsonl", ["Do you need a cup of coffee?"])
    row = ws.sql(f"SELECT special_char_ratio(text) AS r, special_characters_filter(text, max_ratio := 0.25) AS keep "
                 f"FROM dataset('{path}')").to_pylist()
    assert row == [{"r": 0.25, "keep": True}]
