"""Every recipe in recipes/ compiles to its checked-in SQL snapshot and runs end to end.

Set JUICEDB_UPDATE_SNAPSHOTS=1 to rewrite the snapshots after a deliberate change.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

import juicedb
from tests.conftest import ROOT

RECIPES = sorted((ROOT / "recipes").glob("*.sql"))
SNAPSHOTS = Path(__file__).parent / "snapshots"


def normalise(text: str, recipe_dir: Path) -> str:
    text = text.replace(str(recipe_dir.resolve()), "<recipes>")
    return re.sub(r"\b(ds_[a-z0-9_]+?)_[0-9a-f]{6}\b", r"\1_<hash>", text)


@pytest.fixture
def recipe_copy(tmp_path):
    """recipes/ copied aside, so that outputs land in a temporary folder."""
    shutil.copytree(ROOT / "recipes", tmp_path / "recipes", ignore=shutil.ignore_patterns("out"))
    return tmp_path / "recipes"


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_recipe_compiles_to_snapshot(tmp_path, recipe_copy, recipe):
    with juicedb.open(tmp_path / "ws") as ws:
        plan = normalise(ws.explain(recipe_copy / recipe.name), recipe_copy) + "\n"
    snap = SNAPSHOTS / f"{recipe.stem}.sql"
    if os.environ.get("JUICEDB_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        snap.write_text(plan)
    assert plan == snap.read_text()


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.stem for r in RECIPES])
def test_recipe_runs_end_to_end(tmp_path, recipe_copy, recipe):
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(recipe_copy / recipe.name)
        report = ws.last_run
        errors = ws.sql("SELECT count(*) AS n FROM errors").column("n")[0].as_py()
    assert report.tables and all(rows > 0 for rows in report.tables.values())
    assert errors == 3  # the three broken lines planted in the demo data
    outputs = list((recipe_copy / "out").iterdir())
    assert outputs and all(p.stat().st_size > 0 for p in outputs)


def test_demo_recipe_keeps_the_expected_rows(tmp_path, recipe_copy):
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(recipe_copy / "demo_text.sql")
        kept = ws.sql("SELECT count(*) AS n, count(DISTINCT text) AS d FROM demo_refined").to_pylist()[0]
        dropped = dict(ws.sql("SELECT kind, count(*) FROM trace GROUP BY kind").to_pylist() and
                       [tuple(r.values()) for r in ws.sql("SELECT kind, count(*) FROM trace GROUP BY kind").to_pylist()])
    assert kept == {"n": 84, "d": 84}
    assert dropped == {"drop": 335, "dedup": 10}
