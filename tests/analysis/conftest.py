"""One analysed copy of the demo recipe for the package's tests (computing its stats takes ~2 s)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

import juicedb
from juicedb.analysis import Analysis, analyze
from tests.conftest import ROOT


@pytest.fixture(scope="package")
def recipes(tmp_path_factory) -> Iterator:
    """recipes/ copied aside, so that refined recipes and outputs land in a temporary folder."""
    tmp = tmp_path_factory.mktemp("recipes")
    shutil.copytree(ROOT / "recipes", tmp / "recipes", ignore=shutil.ignore_patterns("out", "media"))
    yield tmp / "recipes"


@pytest.fixture(scope="package")
def demo(tmp_path_factory, recipes) -> Iterator[tuple[juicedb.Workspace, Analysis]]:
    """The demo recipe analysed in a workspace of its own, plots and report included."""
    tmp = tmp_path_factory.mktemp("demo")
    with juicedb.open(tmp / "ws", threads=2) as ws:
        yield ws, analyze(ws, recipes / "demo_text.sql", out_dir=tmp / "report", percentiles=[0.1, 0.9])
