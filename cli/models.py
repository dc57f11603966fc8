"""``juicedb models``: the models operators use, where each comes from, and what is converted."""

from __future__ import annotations

import os
from pathlib import Path

from juicedb.cli.common import DEFAULT_WORKSPACE, WorkspaceOpt, print_table
from juicedb.models import models_table
from juicedb.udfs.common.onnx import CACHE_ENV


def models(workspace: WorkspaceOpt = DEFAULT_WORKSPACE) -> None:
    """Every model an operator can use: its package, whether it is installed, where it lies; converted ONNX models."""
    print_table(models_table(Path(os.environ.get(CACHE_ENV) or workspace / "models")), max_rows=10_000)
