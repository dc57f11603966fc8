"""clean_html_mapper."""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from juicedb.arrays import strings
from juicedb.errors import MissingDependencyError
from juicedb.registry import mapper_op
from juicedb.udfs.common.text import TextBatch

# DJ turns list items into '*' bullets on new lines before parsing; the order matters.
_LIST_MARKUP = (("<li>", "\n*"), ("</li>", ""), ("<ol>", "\n*"), ("</ol>", ""))


@cache
def _parser() -> Any:
    try:
        from selectolax.lexbor import LexborHTMLParser
    except ImportError:
        raise MissingDependencyError("clean_html_mapper needs selectolax (Data-Juicer's HTML parser): "
                                     "pip install 'selectolax>=1.0,<2'") from None
    return LexborHTMLParser


def _clean(html: str, parser: Any) -> str:
    for tag, repl in _LIST_MARKUP:
        html = html.replace(tag, repl)
    return parser(html).text()


@mapper_op("clean_html_mapper", cost="expensive", requires=("selectolax",))
def clean_html(batch: TextBatch) -> pa.Array:
    """HTML to its text content with selectolax's Lexbor parser, ``<li>``/``<ol>`` as ``\\n*`` bullets.

    >>> clean_html(TextBatch(["<p>Fruit:<ul><li>apple</li><li>pear</li></ul> &copy; me</p>", None])).to_pylist()
    ['Fruit:\\n*apple\\n*pear © me', None]
    """
    parser = _parser()
    return strings([_clean(s, parser) if s is not None else None for s in batch.strings])
