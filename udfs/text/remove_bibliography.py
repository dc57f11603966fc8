"""remove_bibliography_mapper."""

from __future__ import annotations

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ (from RedPajama's arXiv cleaner): everything from the first of these to the end.
_BIBLIOGRAPHY = re.compile(
    r"(\\appendix|\\begin\{references\}|\\begin\{REFERENCES\}|\\begin\{thebibliography\}|\\bibliography\{.*\}).*$",
    flags=re.DOTALL,
)


@mapper_op("remove_bibliography_mapper", cost="moderate")
def remove_bibliography(batch: TextBatch) -> pa.Array:
    r"""Cut a LaTeX text at ``\appendix``, ``\begin{references}``, ``\begin{thebibliography}`` or ``\bibliography{``.

    >>> remove_bibliography(TextBatch(["Body text.\n\\bibliography{refs}\n\\end{document}\n", None])).to_pylist()
    ['Body text.\n', None]
    """
    return strings([_BIBLIOGRAPHY.sub("", s) if s is not None else None for s in batch.strings])
