"""punctuation_normalization_mapper."""

from __future__ import annotations

import pyarrow as pa

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# Data-Juicer's table, unchanged (note '１' -> '"' and '—' -> ' - ', both DJ's).
PUNCTUATION_UNICODE = {
    "，": ",", "。": ".", "、": ",", "„": '"', "”": '"', "“": '"', "«": '"', "»": '"', "１": '"',
    "」": '"', "「": '"', "《": '"', "》": '"', "´": "'", "∶": ":", "：": ":", "？": "?", "！": "!",
    "（": "(", "）": ")", "；": ";", "–": "-", "—": " - ", "．": ". ", "～": "~", "’": "'",
    "…": "...", "━": "-", "〈": "<", "〉": ">", "【": "[", "】": "]", "％": "%", "►": "-",
}
_TABLE = str.maketrans(PUNCTUATION_UNICODE)


@mapper_op("punctuation_normalization_mapper", cost="cheap")
def punctuation_normalization(batch: TextBatch) -> pa.Array:
    """Replace full-width and typographic punctuation with ASCII, as Data-Juicer does.

    >>> punctuation_normalization(TextBatch(["你好，世界！“ok”…"])).to_pylist()
    ['你好,世界!"ok"...']
    """
    return strings([s.translate(_TABLE) if s is not None else None for s in batch.strings])
