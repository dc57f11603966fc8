"""flagged_words_filter -> ``flagged_words_ratio``."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa

from juicedb.registry import FilePath, filter_op
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.common.wordlists import checker, words_ratio


@filter_op("flagged_words_filter", stat="flagged_words_ratio", cost="moderate",
           check=checker("flagged_words"),
           bounds={"min_ratio": ("min", 0.0), "max_ratio": ("max", 0.045)}, threads=True)
def flagged_words_ratio(batch: TextBatch, *, lang: str = "en",
                        words_file: Annotated[str | None, FilePath()] = None) -> pa.Array:
    """Share of refined, lower-cased words that are flagged words of ``lang`` (capped at 1).

    >>> flagged_words_ratio(TextBatch(["a bdsm site", "hello"])).to_pylist()
    [0.3333333333333333, 0.0]
    """
    return words_ratio(batch, "flagged_words", lang, words_file)
