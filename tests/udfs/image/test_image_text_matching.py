"""image_text_matching_filter on a tiny randomly initialised BLIP ITM model (transformers' architecture) built here.

No BLIP weights ship in any package: the test saves a tiny BlipForImageTextRetrieval, a
word-level tokenizer and a BLIP image processor as a HuggingFace folder; the operator
converts it to ONNX once and must give what Data-Juicer computes with the torch model and
transformers' BlipProcessor: ``softmax(itm_score)[:, 1]`` of each chunk's text with its images.
"""

from __future__ import annotations

import numpy as np
import pytest

from juicedb.errors import MissingDependencyError
from tests.conftest import SHARED_DATA
from tests.udfs.tiny_models import build_tiny_blip, requires, torch_pair, write_dataset

torch, transformers, Image, ImageOps, _ = requires("torch", "transformers", "PIL.Image", "PIL.ImageOps", "tokenizers")

MEDIA = SHARED_DATA / "media"
POSITIONS = 24  # max_position_embeddings: DJ truncates the text to it
IMG1, IMG2, IMG3, CAT = (str(MEDIA / n) for n in ("img1.png", "img2.jpg", "img3.jpg", "cat.jpg"))
LONG = " ".join(["a red bus on the sofa with the black and white cat"] * 4)  # 48 words: truncated


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory):
    return build_tiny_blip(tmp_path_factory.mktemp("tiny-blip"), POSITIONS)


@pytest.fixture(scope="module")
def reference(blip_dir):
    """DJ's computation: BlipProcessor(text=chunk, images=its images, truncation, max_length) -> softmax[:, 1]."""
    model, processor = torch_pair(blip_dir, "BlipForImageTextRetrieval", "BlipProcessor", "BlipImageProcessorPil")

    def probs(text: str, paths: list[str], flip: bool = False) -> list[float]:
        images = [Image.open(p).convert("RGB") for p in paths]
        images = [ImageOps.mirror(i) for i in images] if flip else images
        inputs = processor(text=text, images=images, return_tensors="pt", truncation=True,
                           max_length=model.config.text_config.max_position_embeddings, padding=True)
        with torch.no_grad():
            return model(**inputs).itm_score.softmax(dim=-1)[:, 1].tolist()
    return probs


def test_preprocessing_is_transformers(blip_dir) -> None:
    from juicedb.udfs.common.blip import load_blip_itm
    blip = load_blip_itm(str(blip_dir), "test")
    processor = transformers.BlipImageProcessorPil.from_pretrained(blip_dir)
    for name in ("img2.jpg", "img3.jpg", "img1.png"):  # landscape, portrait, square
        image = Image.open(MEDIA / name).convert("RGB")
        want = processor(images=[image], return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(blip.pixels(image), want, atol=1e-6)


def test_scores_equal_the_torch_model(ws, tmp_path, blip_dir, reference) -> None:
    samples = [
        {"text": "<__dj__image> a red bus", "images": [IMG2]},
        {"text": "<__dj__image> a bed <|__dj__eoc|> no image here <|__dj__eoc|><__dj__image><__dj__image> "
                 "a woman holding an umbrella", "images": [IMG1, IMG3, IMG2]},
        {"text": "a caption without images"},
        {"text": f"<__dj__image><__dj__image><__dj__image> {LONG}", "images": [CAT, IMG2, CAT]},
    ]
    path = write_dataset(tmp_path, samples)
    model = str(blip_dir)
    rows = ws.sql(f"SELECT image_text_matching_score(text, images, hf_blip := '{model}') AS avg, "
                  f"image_text_matching_score(text, images, hf_blip := '{model}', reduce_mode := 'max') AS max, "
                  f"image_text_matching_score(text, images, hf_blip := '{model}', reduce_mode := 'min') AS min, "
                  f"image_text_matching_score(text, images, hf_blip := '{model}', horizontal_flip := true) AS flip "
                  f"FROM dataset('{path}')").to_pylist()
    bus, bed = reference("a red bus", [IMG2]), reference("a bed", [IMG1])
    woman, long = reference("a woman holding an umbrella", [IMG3, IMG2]), reference(LONG, [CAT, IMG2, CAT])
    assert len(set(np.round(bus + bed + woman + long, 3))) >= 5  # the tiny model tells pairs apart
    assert rows[0]["avg"] == pytest.approx(bus, abs=1e-5)
    assert rows[1]["avg"] == pytest.approx([bed[0], np.mean(woman)], abs=1e-5)  # one value per chunk with images
    assert rows[1]["max"] == pytest.approx([bed[0], max(woman)], abs=1e-5)
    assert rows[1]["min"] == pytest.approx([bed[0], min(woman)], abs=1e-5)
    assert rows[2] == {"avg": [], "max": [], "min": [], "flip": []}
    assert rows[3]["avg"] == pytest.approx([np.mean(long)], abs=1e-5)  # the text truncated to 24 tokens, as DJ
    assert rows[3]["max"] == pytest.approx([max(long)], abs=1e-5)
    flipped = reference("a woman holding an umbrella", [IMG3, IMG2], flip=True)
    assert rows[1]["flip"] == pytest.approx([reference("a bed", [IMG1], flip=True)[0], np.mean(flipped)], abs=1e-5)
    assert rows[1]["flip"] != pytest.approx(rows[1]["avg"], abs=1e-3)

    # the filter: DJ's rule over the chunks ('any' by default), no images: kept
    values = [v for r in rows for v in r["avg"]]
    cut = sorted(values)[2]
    for mode in ("any", "all"):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_text_matching_filter(text, images, "
                      f"hf_blip := '{model}', min_score := {cut}, any_or_all := '{mode}')")
        test = any if mode == "any" else all
        expected = [s["text"] for s, r in zip(samples, rows) if not r["avg"] or test(v >= cut for v in r["avg"])]
        assert kept.column("text").to_pylist() == expected
    assert len(expected) < len(samples)


def test_a_corrupt_or_missing_image_is_an_error_row(ws, tmp_path, blip_dir, reference) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    samples = [{"text": "<__dj__image> a cat", "images": [CAT]},
               {"text": "<__dj__image> broken", "images": [str(bad)]},
               {"text": "<__dj__image> gone", "images": [str(tmp_path / "gone.jpg")]}]
    path = write_dataset(tmp_path, samples)
    rows = ws.sql(f"SELECT text, image_text_matching_score(text, images, hf_blip := '{blip_dir}') AS s "
                  f"FROM dataset('{path}')").to_pylist()
    assert rows[0]["s"] == pytest.approx(reference("a cat", [CAT]), abs=1e-5)
    assert [r["s"] for r in rows[1:]] == [None, None]
    errors = ws.sql("SELECT s.text, e.op, e.message FROM errors e JOIN samples s USING (uid) ORDER BY s.text").to_pylist()
    assert [(e["text"], e["op"]) for e in errors] == [("<__dj__image> broken", "image_text_matching_filter"),
                                                     ("<__dj__image> gone", "image_text_matching_filter")]
    assert "cannot read image" in errors[0]["message"] and "image not found" in errors[1]["message"]


def test_a_model_that_is_not_there_is_a_clear_error(ws, tmp_path) -> None:
    path = write_dataset(tmp_path, [{"text": "<__dj__image> x", "images": [IMG1]}])
    with pytest.raises(MissingDependencyError, match="is not a folder; pass a local HuggingFace BLIP"):
        ws.run(f"SELECT image_text_matching_score(text, images, hf_blip := '{tmp_path / 'nope'}') "
               f"FROM dataset('{path}')")
