"""A tiny sandbox: the first 300 documents of the demo corpus, a tiny LM, tens of steps."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from tests.conftest import ROOT

DEMO = ROOT / "recipes" / "data" / "sandbox"

TINY_TRAINER = {"type": "text_lm", "tokens": 2048, "context": 32, "batch": 8, "d_model": 16, "layers": 1,
                "heads": 2, "threads": 1}


def tiny_config(folder: Path, **over: object) -> dict:
    """A config over ``folder``'s data.jsonl and eval sets; every stage on unless overridden."""
    cfg = {
        "name": "tiny", "dataset": "data.jsonl", "output": "out", "seeds": [0, 1],
        "probe": {"ops": ["text_len(text)", "alnum_ratio(text)", "stopwords_ratio(text, lang := 'en')"]},
        "trainer": dict(TINY_TRAINER),
        "evaluators": [{"type": "text_lm", "eval_sets": {"en": "eval_en.jsonl", "mixed": "eval_mixed.jsonl"},
                        "max_bytes": 1024, "threads": 1}],
        "analyze": {"clusters": 2}, "combine": {"top_k": 2}, "duplicate": {"times": [2]},
        "refine": {"seeds": [0, 1, 2]},
    }
    cfg.update(over)
    return cfg


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    folder = tmp_path / "sbx"
    folder.mkdir()
    with gzip.open(DEMO / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        (folder / "data.jsonl").write_text("".join(itertools.islice(f, 300)), encoding="utf-8")
    for src, dst in (("eval_docs_en", "eval_en"), ("eval_mixed", "eval_mixed")):
        with (DEMO / f"{src}.jsonl").open(encoding="utf-8") as f:
            (folder / f"{dst}.jsonl").write_text("".join(itertools.islice(f, 20)), encoding="utf-8")
    return folder


def write_config(folder: Path, cfg: dict) -> Path:
    import yaml
    path = folder / "sandbox.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path
