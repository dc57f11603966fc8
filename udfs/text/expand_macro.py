"""expand_macro_mapper."""

from __future__ import annotations

import pyarrow as pa
import regex as re

from juicedb.arrays import strings
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ (from RedPajama's arXiv cleaner): argument-less macros, each ending its line:
# \newcommand{\name}{value} / \newcommand*{\name}{value}, then \def\name{value}.
_NEWCOMMAND = re.compile(r"\\\bnewcommand\b\*?\{(\\[a-zA-Z0-9]+?)\}\{(.*?)\}$", flags=re.MULTILINE)
_DEF = re.compile(r"\\def\s*(\\[a-zA-Z0-9]+?)\s*\{(.*?)\}$", flags=re.MULTILINE)


def _escaped(s: str) -> str:
    # DJ escapes name and value with 'unicode-escape' and uses them as a regex
    # pattern and a replacement template; we keep that so results stay identical
    return s.encode("unicode-escape").decode("utf-8")


def _expand(text: str) -> str:
    macros: dict[str, str] = {}
    for definition in (_NEWCOMMAND, _DEF):
        for m in definition.finditer(text):
            macros[_escaped(m.group(1))] = _escaped(m.group(2))
    for name, value in macros.items():
        # the macro must not run on into a longer alphanumeric name
        text = re.sub("(" + name + ")([^a-zA-Z0-9])", value + r"\2", text)
    return text


@mapper_op("expand_macro_mapper", cost="expensive")
def expand_macro(batch: TextBatch) -> pa.Array:
    r"""Expand a LaTeX text's argument-less ``\newcommand`` and ``\def`` macros in place.

    Like Data-Juicer, the definitions themselves are rewritten too, and macros
    that take arguments are left alone.

    >>> expand_macro(TextBatch(["\\newcommand{\\nas}{NAS}\nWe study \\nas.", None])).to_pylist()
    ['\\newcommand{NAS}{NAS}\nWe study NAS.', None]
    """
    return strings([_expand(s) if s is not None else None for s in batch.strings])
