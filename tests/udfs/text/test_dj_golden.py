"""Conformance with stats computed by Data-Juicer 1.6.1 itself on 398 real, multilingual documents.

The fixture (tests/fixtures/dj_golden, see its NOTICE and make_golden.py) holds DJ's raw
values; juicedb must give the same numbers (to 1e-12) and the same mapped texts.
"""

from __future__ import annotations

import json

import pytest

from juicedb.registry import get_op
from juicedb.udfs.common.text import TextBatch
from tests.conftest import FIXTURES

ROWS = [json.loads(line) for line in (FIXTURES / "dj_golden" / "text_stats.jsonl").read_text().splitlines()]
BATCH_TEXTS = [r["text"] for r in ROWS]

STATS = {
    "text_len": ("text_length_filter", {}),
    "alnum_ratio": ("alphanumeric_filter", {}),
    "special_char_ratio": ("special_characters_filter", {}),
    "char_rep_ratio": ("character_repetition_filter", {}),
    "word_rep_ratio": ("word_repetition_filter", {}),
    "num_words": ("words_num_filter", {}),
    "stopwords_ratio": ("stopwords_filter", {}),
    "flagged_words_ratio": ("flagged_words_filter", {}),
    "char_rep_ratio_rep5": ("character_repetition_filter", {"rep_len": 5}),
    "word_rep_ratio_rep3": ("word_repetition_filter", {"rep_len": 3}),
}
MAPPERS = ["whitespace_normalization_mapper", "punctuation_normalization_mapper", "fix_unicode_mapper",
           "clean_email_mapper", "clean_links_mapper"]


def test_fixture_is_real_and_varied():
    assert len(ROWS) >= 390
    assert {"", " "} & set(BATCH_TEXTS)
    assert any(any("\u4e00" <= c <= "\u9fff" for c in t) for t in BATCH_TEXTS)
    assert any(r["stats"]["flagged_words_ratio"] > 0 for r in ROWS)


@pytest.mark.parametrize("key", list(STATS))
def test_stat_equals_data_juicer(key):
    op, params = STATS[key]
    spec = get_op(op)
    got = next(iter(spec.compute(TextBatch(BATCH_TEXTS), spec.resolve_params(params)).values())).to_pylist()
    want = [r["stats"][key] for r in ROWS]
    mismatches = [(i, g, w) for i, (g, w) in enumerate(zip(got, want)) if abs(g - w) > 1e-12]
    assert not mismatches, mismatches[:5]


@pytest.mark.parametrize("op", MAPPERS)
def test_mapper_equals_data_juicer(op):
    spec = get_op(op)
    got = spec.fn(TextBatch(BATCH_TEXTS), **spec.resolve_params({})).to_pylist()
    mismatches = [i for i, r in enumerate(ROWS) if got[i] != r["mapped"][op]]
    assert not mismatches, mismatches[:5]


def test_doc_hash_equals_data_juicer():
    spec = get_op("document_deduplicator")
    got = spec.fn(TextBatch(BATCH_TEXTS), **spec.resolve_params({})).to_pylist()
    assert got == [r["doc_hash"] for r in ROWS]


def test_stats_do_not_depend_on_batch_composition():
    """Shared intermediates are per batch: one text alone must give what it gives in the batch."""
    spec = get_op("word_repetition_filter")
    params = spec.resolve_params({})
    full = spec.compute(TextBatch(BATCH_TEXTS), params)["word_rep_ratio"].to_pylist()
    for i in (0, 57, 200, len(BATCH_TEXTS) - 1):
        assert spec.compute(TextBatch(BATCH_TEXTS[i:i + 1]), params)["word_rep_ratio"][0].as_py() == full[i]
