"""image_text_matching_filter -> ``image_text_matching_score``: BLIP's image-text matching probability per chunk.

Data-Juicer's pairing (``image_text_similarity.chunks``): the text is cut on
``<|__dj__eoc|>``; a chunk holding k ``<__dj__image>`` tokens takes the sample's
next k images, its text (special tokens removed) is matched with each of them and
the k probabilities reduced (``avg``, ``max``, ``min``); chunks without images are
skipped, so the stat has one value per chunk with images (no images: ``[]``, kept).
The probability is DJ's: BLIP's ITM head on the pair, ``softmax(itm_score)[:, 1]``,
images flipped first when ``horizontal_flip`` / ``vertical_flip`` ask.

``hf_blip`` is a local HuggingFace ``BlipForImageTextRetrieval`` folder or a hub id
(DJ's default ``Salesforce/blip-itm-base-coco``; no BLIP weights ship in any package),
converted once to ONNX (``juicedb.udfs.common.blip``). The images and the
(text, image) pairs of a whole batch are scored together, each once.
"""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa

from juicedb.registry import OneOf, filter_op
from juicedb.udfs.common.blip import load_blip_itm
from juicedb.udfs.common.media import PairBatch, any_all_keep, load_rgb
from juicedb.udfs.image.image_text_similarity import REDUCE, chunks

OP = "image_text_matching_filter"
KEEP = any_all_keep("{image_text_matching_score}", "v >= {min_score} AND v <= {max_score}")


@filter_op(OP, stat="image_text_matching_score", stat_type=pa.list_(pa.float64()), modality="multimodal",
           inputs=("text", "images"), cost="gpu_model", requires=("transformers (once)", "onnxruntime"), keep=KEEP,
           batch_rows=256, rule_params={"min_score": 0.003, "max_score": 1.0, "any_or_all": "any"})
def image_text_matching_score(batch: PairBatch, *, hf_blip: str = "Salesforce/blip-itm-base-coco",
                              reduce_mode: Annotated[str, OneOf("avg", "max", "min")] = "avg",
                              horizontal_flip: bool = False, vertical_flip: bool = False) -> pa.Array:
    """Per chunk with images, BLIP's reduced probability that its text matches its images.

    >>> image_text_matching_score(PairBatch(pa.array([{"text": "no image", "images": []},
    ...                                               {"text": None, "images": None}]))).to_pylist()
    [[], None]
    """
    per_sample = [None if t is None or m is None else chunks(t, m)
                  for t, m in zip(batch.text.strings, batch.media.lists)]
    wanted = list(dict.fromkeys((t, i) for cs in per_sample if cs for t, imgs in cs for i in imgs))
    if not wanted:
        return pa.array([None if cs is None else [] for cs in per_sample], pa.list_(pa.float64()))
    texts = list(dict.fromkeys(t for t, _ in wanted))
    items = list(dict.fromkeys(i for _, i in wanted))
    t_index, i_index = {t: k for k, t in enumerate(texts)}, {i: k for k, i in enumerate(items)}
    blip = load_blip_itm(hf_blip, OP)
    probs = blip.scores(texts, items, [(t_index[t], i_index[i]) for t, i in wanted],
                        lambda item: load_rgb(item, horizontal_flip, vertical_flip))
    score = dict(zip(wanted, probs.tolist()))
    reduce = REDUCE[reduce_mode]
    out = [None if cs is None else [float(reduce([score[(t, i)] for i in imgs])) for t, imgs in cs]
           for cs in per_sample]
    return pa.array(out, pa.list_(pa.float64()))
