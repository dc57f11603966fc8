"""stopwords_filter -> ``stopwords_ratio``."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa

from juicedb.registry import FilePath, filter_op
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.common.wordlists import checker, words_ratio


@filter_op("stopwords_filter", stat="stopwords_ratio", cost="moderate",
           check=checker("stopwords"),
           bounds={"min_ratio": ("min", 0.3), "max_ratio": ("max", 1.0)}, threads=True)
def stopwords_ratio(batch: TextBatch, *, lang: str = "en",
                    words_file: Annotated[str | None, FilePath()] = None) -> pa.Array:
    """Share of refined, lower-cased words that are stop words of ``lang`` (capped at 1).

    >>> stopwords_ratio(TextBatch(["The cat is on the mat.", ""])).to_pylist()
    [0.6666666666666666, 0.0]
    """
    return words_ratio(batch, "stopwords", lang, words_file)
