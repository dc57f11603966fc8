"""document_deduplicator -> ``doc_hash`` (md5 of the stripped text); keep the first of each hash."""

from __future__ import annotations

import hashlib
import string

import pyarrow as pa
import regex as re  # Data-Juicer's choice: its \s and \d tables differ from re's

from juicedb.arrays import strings
from juicedb.registry import dedup_op
from juicedb.udfs.common.text import TextBatch

_NON_CHARACTER = re.compile(rf"\s+|\d+|[{re.escape(string.punctuation)}]")


# threads: hashlib releases the GIL while hashing a text of 2 KB or more, and the per-text Python around it
# (strip, encode, hex) costs less than moving the text to a worker process would
@dedup_op("document_deduplicator", hash_key="doc_hash", cost="cheap", threads=True)
def doc_hash(batch: TextBatch, *, lowercase: bool = False, ignore_non_character: bool = False) -> pa.Array:
    """md5 hex of the text, optionally lower-cased and stripped of whitespace, digits and punctuation.

    >>> doc_hash(TextBatch([" Hello ", "hello"]), lowercase=True).to_pylist() == [hashlib.md5(b"hello").hexdigest()] * 2
    True
    """
    out = []
    for s in batch.strings:
        if s is None:
            out.append(None)
            continue
        if lowercase:
            s = s.lower()
        if ignore_non_character:
            s = _NON_CHARACTER.sub("", s)
        out.append(hashlib.md5(s.strip().encode("utf-8")).hexdigest())
    return strings(out)
