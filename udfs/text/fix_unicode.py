"""fix_unicode_mapper."""

from __future__ import annotations

from typing import Annotated

import ftfy
import pyarrow as pa

from juicedb.arrays import strings
from juicedb.registry import OneOf, mapper_op
from juicedb.udfs.common.text import TextBatch


@mapper_op("fix_unicode_mapper", cost="expensive")
def fix_unicode(batch: TextBatch, *,
                normalization: Annotated[str, OneOf("NFC", "NFKC", "NFD", "NFKD")] = "NFC") -> pa.Array:
    """Repair mojibake and broken Unicode with ftfy, then normalise (NFC by default).

    >>> fix_unicode(TextBatch(["The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows."])).to_pylist()
    ["The Mona Lisa doesn't have eyebrows."]
    """
    return strings([ftfy.fix_text(s, normalization=normalization) if s is not None else None
                    for s in batch.strings])
