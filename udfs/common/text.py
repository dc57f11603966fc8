"""``TextBatch``: one batch of texts plus the intermediates operators share.

The engine builds one ``TextBatch`` per batch and hands the same object to
every text operator of a fused stage, so the words of a text, its refined
words and its code points are computed once per batch (the data half of OP
fusion). Null texts give null stats.

>>> b = TextBatch(pa.array(["Hi there!", None, ""]))
>>> b.refined_words(lower=True)
[['hi', 'there'], [], []]
>>> b.ratio(b.count_chars(special_lut())).to_pylist()
[0.2222222222222222, None, 0.0]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.arrays import numeric, to_numpy
from juicedb.udfs.common.chars import char_classes, lower_lut, refined_word_pattern, special_lut
from juicedb.udfs.common.hashing import BASE, LEN_MIX
from juicedb.udfs.common.lazy import lazy_property


def as_array(values: pa.Array | pa.ChunkedArray | list[str | None]) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    elif not isinstance(values, pa.Array):
        values = pa.array(values, pa.string())
    if pa.types.is_large_string(values.type) or pa.types.is_string_view(values.type):
        values = values.cast(pa.string())
    return values


class TextBatch:
    """A batch of texts with lazily computed, cached intermediates."""

    def __init__(self, text: pa.Array | pa.ChunkedArray | list[str | None]) -> None:
        self.array = as_array(text)
        self._refined: dict[bool, list[list[str]]] = {}
        self._spans: dict[bool, WordSpans] = {}

    def __len__(self) -> int:
        return len(self.array)

    @lazy_property
    def strings(self) -> list[str | None]:
        return self.array.to_pylist()

    @lazy_property
    def valid(self) -> np.ndarray:
        return ~to_numpy(self.array.is_null())

    @lazy_property
    def lengths(self) -> np.ndarray:
        """Code points per text (0 for null)."""
        return to_numpy(pc.utf8_length(self.array), null=0).astype(np.int64)

    @lazy_property
    def codepoints(self) -> np.ndarray:
        """All texts' code points, concatenated (row i spans ``offsets[i]:offsets[i+1]``), decoded from the
        array's UTF-8 buffer by a compiled pass (no Python strings)."""
        from juicedb.udfs.common.kernels import decode_utf8
        out = np.empty(int(self.offsets[-1]), dtype=np.uint32)
        if len(out) == 0:
            return out
        data, starts, ends = self._utf8
        return decode_utf8(data, starts, ends, self.offsets, out)

    @lazy_property
    def _utf8(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The array's UTF-8 bytes and each text's byte range (empty for a null text)."""
        arr = self.array
        bounds = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
        buf = arr.buffers()[2]
        data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, dtype=np.uint8)
        starts = bounds[:-1].astype(np.int64)
        return data, starts, np.where(self.valid, bounds[1:], bounds[:-1]).astype(np.int64)

    @lazy_property
    def offsets(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.lengths)))

    def count_chars(self, lut: np.ndarray) -> np.ndarray:
        """Per text, how many code points ``lut`` (boolean, one entry per code point) marks True."""
        return self._count_classes(lut.view(np.uint8))[:, 0]

    @lazy_property
    def char_classes(self) -> np.ndarray:
        """Per text, its alphanumeric (column 0) and DJ special (column 1) code points: one pass for both."""
        return self._count_classes(char_classes())

    def _count_classes(self, lut: np.ndarray) -> np.ndarray:
        """Per text, its code points with bit 0 and with bit 1 of ``lut`` (uint8 per code point)."""
        from juicedb.udfs.common.kernels import count_marked, count_marked_utf8
        if "codepoints" in self.__dict__:  # decoded already for another operator
            return count_marked(self.codepoints, self.offsets, lut)
        return count_marked_utf8(*self._utf8, lut)

    def ratio(self, counts: np.ndarray, denominators: np.ndarray | None = None) -> pa.Array:
        """counts / denominators (default: lengths), 0.0 where the denominator is 0, null for null text."""
        return numeric(self.ratios(counts, denominators), pa.float64(), null=~self.valid)

    def ratios(self, counts: np.ndarray, denominators: np.ndarray | None = None) -> np.ndarray:
        """``ratio``'s values, 0.0 for null text."""
        den = self.lengths if denominators is None else np.asarray(denominators)
        return np.divide(counts, den, out=np.zeros(len(den), dtype=np.float64), where=den != 0)

    @lazy_property
    def words(self) -> list[list[str]]:
        """DJ's ``get_words_from_document``: split on ' ', '\\n', '\\t', drop empty strings."""
        return [[w for w in s.replace("\n", " ").replace("\t", " ").split(" ") if w] if s else []
                for s in self.strings]

    def word_spans(self, lower: bool) -> WordSpans:
        """DJ's refined words as spans over code points, computed for the whole batch at once."""
        if lower not in self._spans:
            self._spans[lower] = WordSpans.lowered(self) if lower else WordSpans.of(self.codepoints, self.offsets)
        return self._spans[lower]

    @lazy_property
    def word_counts(self) -> np.ndarray:
        """DJ's number of refined words per text (not lower-cased), counted without hashing the words unless
        they are at hand already."""
        if False in self._spans:
            return self._spans[False].counts()
        from juicedb.udfs.common.kernels import refined_word_counts
        return refined_word_counts(self.codepoints, self.offsets, special_lut())

    def refined_words(self, lower: bool) -> list[list[str]]:
        """DJ's ``words_refinement``: (lower-case,) strip special characters from both ends, drop empty."""
        if lower not in self._refined:
            find = refined_word_pattern().findall
            self._refined[lower] = [find(s.lower() if lower else s) if s else [] for s in self.strings]
        return self._refined[lower]

    def from_list(self, values: list[float | int | None], type: pa.DataType) -> pa.Array:
        """Wrap per-row Python values, nulls where the text is null."""
        return pa.array(values, type, mask=~self.valid)


_NO_CASE = np.zeros(1, dtype=np.uint32)  # the case table's place when words are not lower-cased


class WordSpans:
    """Refined words of a batch.

    DJ splits a text on ' ', '\\n' and '\\t' and strips special characters from
    both ends of each word: so a refined word runs from the first to the last
    non-special code point of a separator-free run, and a run without one is no
    word. Computed for the whole batch in one compiled pass; words are identified
    by a 64-bit hash of their code points (``hashes``, as ``span_hashes``), never
    turned into strings.
    """

    def __init__(self, hashes: np.ndarray, doc: np.ndarray, bounds: np.ndarray) -> None:
        self.hashes, self.doc = hashes, doc  # each word's hash and text
        self.bounds = bounds  # text i's words: [bounds[i], bounds[i+1])
        self.n_docs = len(bounds) - 1

    @classmethod
    def of(cls, cps: np.ndarray, offsets: np.ndarray, case: np.ndarray | None = None) -> WordSpans:
        """The words of the texts ``cps[offsets[i]:offsets[i+1]]``, lower-cased through ``case`` if given."""
        from juicedb.udfs.common.kernels import refined_words
        lower = case is not None
        return cls(*refined_words(cps, np.asarray(offsets, dtype=np.int64), special_lut(), BASE, LEN_MIX,
                                  lower, case if lower else _NO_CASE))

    @classmethod
    def lowered(cls, batch: TextBatch) -> WordSpans:
        """The words of ``str.lower()`` of each text: through the one-to-one table in the compiled pass; the
        few texts whose ``lower()`` is not that map (see ``lower_lut``) through Python, spliced in."""
        from juicedb.udfs.common.kernels import flag_marked
        case, irregular = lower_lut()
        spans = cls.of(batch.codepoints, batch.offsets, case)
        odd = np.flatnonzero(flag_marked(batch.codepoints, batch.offsets, irregular))
        if len(odd) == 0:
            return spans
        texts = [batch.strings[i].lower() for i in odd]
        sub = cls.of(np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32),
                     np.concatenate(([0], np.cumsum([len(t) for t in texts]))))
        counts = spans.counts()
        counts[odd] = sub.counts()
        bounds = np.concatenate(([0], np.cumsum(counts)))
        hashes = np.empty(bounds[-1], dtype=np.uint64)
        doc = np.empty(bounds[-1], dtype=np.int64)
        is_odd = np.zeros(spans.n_docs, dtype=bool)
        is_odd[odd] = True
        keep = ~is_odd[spans.doc]
        at = bounds[spans.doc[keep]] + (np.flatnonzero(keep) - spans.bounds[spans.doc[keep]])
        hashes[at], doc[at] = spans.hashes[keep], spans.doc[keep]
        at = bounds[odd[sub.doc]] + (np.arange(len(sub.doc)) - sub.bounds[sub.doc])
        hashes[at], doc[at] = sub.hashes, odd[sub.doc]
        return cls(hashes, doc, bounds)

    def counts(self) -> np.ndarray:
        """Number of refined words per text."""
        return np.diff(self.bounds)

