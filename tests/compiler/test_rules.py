"""Golden before/after fixtures for each compiler rule (tests/compiler/fixtures/<rule>.sql).

A case runs the rules in order up to and including the fixture's rule, with a fake
catalog (datasets -> ds_<stem>, estimates from ``-- estimate:`` lines), and compares
the SQL plus the plan it has built so far. JUICEDB_UPDATE_SNAPSHOTS=1 rewrites them.
Rules that keep SQL executable are also run on DuckDB to show the meaning is unchanged.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from juicedb.compiler import RULES, compile_statement
from juicedb.compiler.plan import Estimate
from juicedb.compiler.testing import FakeCatalog

FIXTURES = Path(__file__).parent / "fixtures"
RULE_NAMES = [r.__name__ for r in RULES]
BASE_DIR = Path("/recipes")


def parse_cases(path: Path) -> list[dict]:
    cases = []
    for block in re.split(r"^-- name: ", path.read_text(), flags=re.M)[1:]:
        name, rest = block.split("\n", 1)
        source, _, expected = rest.partition("-- expect:\n")
        estimates = dict(re.findall(r"^-- estimate: (.+?) = ([0-9.]+)$", source, flags=re.M))
        sql = "\n".join(line for line in source.splitlines() if not line.startswith("--")).strip()
        cases.append({"name": name.strip(), "sql": sql, "expected": expected.strip(),
                      "estimates": {k: Estimate(float(v), 1.0) for k, v in estimates.items()}})
    return cases


def render(rule: str, case: dict) -> str:
    upto = RULES[: RULE_NAMES.index(rule) + 1]
    c = compile_statement(case["sql"], FakeCatalog(case["estimates"]), base_dir=BASE_DIR, rules=upto)
    ctx = c.ctx
    lines = [ctx.stmt.sql(dialect="duckdb", normalize_functions=False) + ";", f"-- kind: {ctx.kind}"]
    if ctx.calls:
        lines.append("-- calls: " + " | ".join(f"{i}={call.written} on {call.input_sql}"
                                                 for i, call in sorted(ctx.calls.items())))
    if ctx.conjuncts:
        lines.append("-- conjuncts: " + " | ".join(f"#{cj.position} {cj.written}" for cj in ctx.conjuncts))
    if ctx.stages:
        lines.append("-- stages: " + " | ".join(
            f"[{st.cost_class or 'sql'}] calls {list(st.calls)} then #"
            + ",#".join(str(ctx.conjuncts[i].position) for i in st.conjuncts) for st in ctx.stages))
    if ctx.post_calls:
        lines.append(f"-- then on survivors: calls {list(ctx.post_calls)}")
    return "\n".join(lines)


CASES = [(path.stem, case) for path in sorted(FIXTURES.glob("*.sql")) for case in parse_cases(path)]


def test_every_rule_has_a_fixture():
    assert {p.stem for p in FIXTURES.glob("*.sql")} == set(RULE_NAMES)


@pytest.mark.parametrize(("rule", "case"), CASES, ids=[f"{r}:{c['name']}" for r, c in CASES])
def test_rule_fixture(rule, case):
    got = render(rule, case)
    if os.environ.get("JUICEDB_UPDATE_SNAPSHOTS"):
        path = FIXTURES / f"{rule}.sql"
        text = path.read_text()
        head, _, tail = text.partition(f"-- name: {case['name']}\n")
        body, _sep, rest = tail.partition("-- expect:\n")
        nxt = rest.find("-- name: ")
        rest = rest[nxt:] if nxt >= 0 else ""
        path.write_text(f"{head}-- name: {case['name']}\n{body}-- expect:\n{got}\n\n{rest}")
        return
    assert got == case["expected"]


EQUIVALENCE_DATA = ["Today is", "Do you need a cup of coffee?", "Today is Sunday and it's a happy day!",
                    "a v s e c s f e f g a a a a a a a a a a", "", "the the the the the the the the the the the"]


@pytest.mark.parametrize("case", parse_cases(FIXTURES / "expand_filters.sql"), ids=lambda c: c["name"])
def test_expand_filters_keeps_the_meaning(con, case):
    con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?) AS text", [EQUIVALENCE_DATA])
    expanded = compile_statement(case["sql"], FakeCatalog(), rules=RULES[: RULE_NAMES.index("expand_filters") + 1])
    before = con.execute(case["sql"]).fetchall()
    after = con.execute(expanded.ctx.stmt.sql(dialect="duckdb")).fetchall()
    assert sorted(map(str, before)) == sorted(map(str, after))


@pytest.mark.parametrize("case", parse_cases(FIXTURES / "order_conjuncts.sql"), ids=lambda c: c["name"])
def test_reordering_keeps_the_meaning(con, case):
    if "document_deduplicator" in case["sql"]:
        pytest.skip("a deduplicator has no row-wise SQL form to compare with")
    con.execute("CREATE OR REPLACE TABLE t AS SELECT unnest(?) AS text", [EQUIVALENCE_DATA])
    c = compile_statement(case["sql"], FakeCatalog(case["estimates"]),
                          rules=RULES[: RULE_NAMES.index("order_conjuncts") + 1])
    reordered = " AND ".join(f"({cj.written})" for cj in c.ctx.conjuncts)
    before = con.execute(case["sql"]).fetchall()
    after = con.execute(f"SELECT * FROM t WHERE {reordered}").fetchall()
    assert sorted(map(str, before)) == sorted(map(str, after))


@pytest.mark.parametrize(("sql", "expected"), [
    ("WITH c AS (SELECT clean_email(text) AS text FROM t) SELECT * FROM c WHERE text_len(text) > 3",
     ["CREATE OR REPLACE TEMP TABLE __jdb_cte0_c AS SELECT clean_email(text) AS text FROM t",
      "SELECT * FROM __jdb_cte0_c AS c WHERE text_len(text) > 3"]),
    ("CREATE TABLE r AS WITH a AS (SELECT * FROM t), b AS (SELECT * FROM a WHERE num_words(text) > 1) "
     "SELECT * FROM b",
     ["CREATE OR REPLACE TEMP TABLE __jdb_cte0_a AS SELECT * FROM t",
      "CREATE OR REPLACE TEMP TABLE __jdb_cte0_b AS SELECT * FROM __jdb_cte0_a AS a WHERE num_words(text) > 1",
      "CREATE TABLE r AS SELECT * FROM __jdb_cte0_b AS b"]),
    ("SELECT * FROM (SELECT text FROM t WHERE num_words(text) > 3) s WHERE alnum_ratio(s.text) > 0.5",
     ["CREATE OR REPLACE TEMP TABLE __jdb_cte0_from AS SELECT text FROM t WHERE num_words(text) > 3",
      "SELECT * FROM __jdb_cte0_from AS s WHERE alnum_ratio(s.text) > 0.5"]),
    ("WITH c AS (SELECT 1 AS x) SELECT * FROM c", ["WITH c AS (SELECT 1 AS x) SELECT * FROM c"]),
], ids=["cte", "chained-ctes", "from-subquery", "no-operator"])
def test_hoist_ctes_and_subqueries(sql, expected):
    from juicedb.compiler import split_statements
    assert [s for s, _ in split_statements(sql)] == expected
