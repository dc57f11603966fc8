"""image_text_similarity_filter on a tiny randomly initialised CLIP (transformers' architecture) built here.

No CLIP weights ship in any package: the test saves a tiny CLIPModel and a word-level
tokenizer as a HuggingFace folder; the operator converts it to ONNX once and must give
the torch model's similarities, with transformers' own image preprocessing as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from juicedb.errors import MissingDependencyError
from tests.conftest import SHARED_DATA
from tests.udfs.tiny_models import build_tiny_clip, clip_similarities, requires, write_dataset

transformers, Image, *_ = requires("transformers", "PIL.Image", "torch", "tokenizers")

MEDIA = SHARED_DATA / "media"


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def reference(clip_dir):
    """``reference(text, image paths)``: CLIP's cosine similarities with transformers' own model and processor."""
    sims = clip_similarities(clip_dir)
    return lambda text, paths: sims(text, [Image.open(p).convert("RGB") for p in paths]).tolist()


def test_preprocessing_is_transformers(clip_dir) -> None:
    from juicedb.udfs.common.clip import load_clip
    clip = load_clip(str(clip_dir), "test")
    processor = transformers.CLIPImageProcessorPil.from_pretrained(clip_dir)
    for name in ("img2.jpg", "img3.jpg", "img1.png"):  # landscape, portrait, square
        image = Image.open(MEDIA / name)
        want = processor(images=[image.convert("RGB")], return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(clip.pixels(image), want, atol=1e-5)


def test_similarities_equal_the_torch_model(ws, tmp_path, clip_dir, reference) -> None:
    img1, img2, img3 = (str(MEDIA / n) for n in ("img1.png", "img2.jpg", "img3.jpg"))
    samples = [
        {"text": "<__dj__image> a red bus", "images": [img2]},
        {"text": "<__dj__image> a bed <|__dj__eoc|> no image here <|__dj__eoc|><__dj__image><__dj__image> "
                 "a woman holding an umbrella", "images": [img1, img3, img2]},
        {"text": "a caption without images"},
    ]
    path = write_dataset(tmp_path, samples)
    model = str(clip_dir)
    rows = ws.sql(f"SELECT image_text_similarity(text, images, model := '{model}') AS s, "
                  f"image_text_similarity(text, images, model := '{model}', reduce_mode := 'max') AS m "
                  f"FROM dataset('{path}')").to_pylist()
    bus = reference("a red bus", [img2])
    bed = reference("a bed", [img1])
    woman = reference("a woman holding an umbrella", [img3, img2])
    assert rows[0]["s"] == pytest.approx(bus, abs=1e-4)
    assert rows[1]["s"] == pytest.approx([bed[0], sum(woman) / 2], abs=1e-4)  # one value per chunk with images
    assert rows[1]["m"] == pytest.approx([bed[0], max(woman)], abs=1e-4)
    assert rows[2] == {"s": [], "m": []}
    # the filter: DJ's rule over the chunks ('any' by default); no images: kept
    lo = min(bus[0], bed[0], sum(woman) / 2)
    kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_text_similarity_filter(text, images, "
                  f"model := '{model}', min_score := {lo + 1e-6}, max_score := 1.0, any_or_all := 'all')")
    expected = [s["text"] for s, r in zip(samples, rows) if all(v >= lo + 1e-6 for v in r["s"])]
    assert kept.column("text").to_pylist() == expected and samples[2]["text"] in expected and len(expected) < 3


def test_a_model_that_is_not_there_is_a_clear_error(ws, tmp_path) -> None:
    path = write_dataset(tmp_path, [{"text": "<__dj__image> x", "images": [str(MEDIA / "img1.png")]}])
    with pytest.raises(MissingDependencyError, match="is not a folder; pass a local HuggingFace CLIP folder"):
        ws.run(f"SELECT image_text_similarity(text, images, model := '{tmp_path / 'nope'}') FROM dataset('{path}')")
