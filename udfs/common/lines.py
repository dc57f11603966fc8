"""Lines of a batch of texts, as Python's ``str.splitlines()`` cuts them, computed with numpy.

Data-Juicer's line-based filters call ``text.splitlines()``: a line ends at
``\\n``, ``\\r``, ``\\r\\n`` (one break), ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``,
``\\x85``, ``\\u2028`` or ``\\u2029``; a break at the very end opens no new line;
an empty text has no lines. ``LineStats`` gives, per text, the number of lines
and the length of the longest one (code points, breaks excluded).

>>> s = LineStats.of(TextBatch(["a\\r\\nbb\\n", "", "x\\n\\nyyy"]))
>>> s.counts.tolist(), s.longest.tolist()
([2, 0, 3], [2, 0, 3])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from juicedb.udfs.common.text import TextBatch

LINE_BREAKS = np.array([0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029], dtype=np.uint32)
_CR, _LF = 0x0D, 0x0A


@dataclass(frozen=True)
class LineStats:
    counts: np.ndarray   # lines per text (int64)
    longest: np.ndarray  # code points of the longest line per text (int64), 0 without lines

    @classmethod
    def of(cls, batch: TextBatch) -> LineStats:
        cps, offsets, lengths = batch.codepoints, batch.offsets, batch.lengths
        n_docs = len(lengths)
        doc_start = offsets[:-1]
        is_break = np.isin(cps, LINE_BREAKS)
        # the \n of a \r\n pair ends no line of its own
        if len(cps) > 1:
            tail_lf = np.zeros(len(cps), dtype=bool)
            tail_lf[1:] = (cps[1:] == _LF) & (cps[:-1] == _CR)
            tail_lf[doc_start[doc_start < len(cps)]] = False
            is_break &= ~tail_lf
        else:
            tail_lf = np.zeros(len(cps), dtype=bool)
        pos = np.flatnonzero(is_break)
        doc = np.searchsorted(offsets, pos, side="right") - 1
        # where the break sequence ends: one past it, two for \r\n
        ends = pos + 1
        crlf = np.zeros(len(pos), dtype=bool)
        inside = ends < len(cps)
        crlf[inside] = tail_lf[ends[inside]]
        ends = ends + crlf
        # each break closes the line that started after the previous break of its text (or at the text's start)
        starts = doc_start[doc].copy()
        if len(pos) > 1:
            same = doc[1:] == doc[:-1]
            starts[1:][same] = ends[:-1][same]
        line_len = pos - starts
        counts = np.bincount(doc, minlength=n_docs).astype(np.int64)
        longest = np.zeros(n_docs, dtype=np.int64)
        np.maximum.at(longest, doc, line_len)
        # the text after its last break is one more line when it is not empty
        last_end = doc_start.copy()
        if len(pos):
            last = np.flatnonzero(np.append(doc[1:] != doc[:-1], True))
            last_end[doc[last]] = ends[last]
        trailing = offsets[1:] - last_end
        counts += trailing > 0
        np.maximum(longest, trailing, out=longest)
        return cls(counts, longest)
