"""image_aesthetics_filter and image_watermark_filter on tiny randomly initialised models built here.

No aesthetics or watermark weights ship in any package: the tests save tiny models of
the real architectures as HuggingFace folders — simple-aesthetics-predictor's layout
(CLIPVisionModelWithProjection + a v1 linear or v2 MLP head) and a transformers
ViTForImageClassification — and the operators (converted once to ONNX) must give the
torch models' outputs on the shared images, with transformers' image processors as the
reference preprocessing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.media import MediaBatch
from tests.conftest import SHARED_DATA
from tests.udfs.tiny_models import write_dataset

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
Image = pytest.importorskip("PIL.Image")

MEDIA = SHARED_DATA / "media"
IMAGES = [str(MEDIA / n) for n in ("img1.png", "img2.jpg", "img3.jpg", "cat.jpg")]  # square, landscape, portrait
PIL_PROCESSOR = {"clip": getattr(transformers, "CLIPImageProcessorPil", transformers.CLIPImageProcessor),
                 "vit": getattr(transformers, "ViTImageProcessorPil", transformers.ViTImageProcessor)}
TINY_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
               "image_size": 32, "patch_size": 8, "projection_dim": 16}


class AestheticsPredictor(transformers.CLIPVisionModelWithProjection):
    """simple-aesthetics-predictor's models: the projected CLIP image embedding, normalised, into a head."""

    def __init__(self, config, head: str = "v2-linear") -> None:
        super().__init__(config)
        nn, d = torch.nn, config.projection_dim
        if head == "v1":
            self.predictor = nn.Linear(d, 1)
        elif head == "v2-linear":
            self.layers = nn.Sequential(nn.Linear(d, 1024), nn.Dropout(0.2), nn.Linear(1024, 128), nn.Dropout(0.2),
                                        nn.Linear(128, 64), nn.Dropout(0.1), nn.Linear(64, 16), nn.Linear(16, 1))
        else:
            self.layers = nn.Sequential(nn.Linear(d, 1024), nn.ReLU(), nn.Dropout(0.2), nn.Linear(1024, 128),
                                        nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.1),
                                        nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1))
        self.post_init()

    def score(self, pixel_values):
        embeds = super().forward(pixel_values=pixel_values).image_embeds
        embeds = embeds / embeds.norm(dim=-1, keepdim=True)
        return (self.predictor if hasattr(self, "predictor") else self.layers)(embeds)[:, 0]


ARCH = {"v1": "AestheticsPredictorV1", "v2-linear": "AestheticsPredictorV2Linear",
        "v2-relu": "AestheticsPredictorV2ReLU"}


def build_predictor(folder, head: str = "v2-linear", seed: int = 0):
    """A tiny predictor saved as the released checkpoints are: CLIP vision config, weights, CLIP processor."""
    torch.manual_seed(seed)
    model = AestheticsPredictor(transformers.CLIPVisionConfig(**TINY_VISION), head).eval()
    with torch.no_grad():  # the heads' random outputs are tiny: widen them so scores differ visibly
        for p in (model.predictor if head == "v1" else model.layers).parameters():
            p.mul_(4.0)
    model.save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | {"architectures": [ARCH[head]]}))
    PIL_PROCESSOR["clip"](size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return model


def build_classifier(folder, seed: int = 0):
    """A tiny ViT watermark classifier (two labels, as amrul-hzz/watermark_detector) with its ViT processor."""
    torch.manual_seed(seed)
    cfg = transformers.ViTConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                                 image_size=32, patch_size=8, num_labels=2,
                                 id2label={0: "no_watermark", 1: "watermark"},
                                 label2id={"no_watermark": 0, "watermark": 1})
    model = transformers.ViTForImageClassification(cfg).eval()
    with torch.no_grad():
        model.classifier.weight.mul_(50.0)  # spread the probabilities of a random head around 0.5
    model.save_pretrained(folder)
    PIL_PROCESSOR["vit"](size={"height": 32, "width": 32}).save_pretrained(folder)
    return model


def reference_aesthetics(folder, model, images, scale=0.1) -> list[float]:
    processor = PIL_PROCESSOR["clip"].from_pretrained(folder)
    pixels = processor(images=[Image.open(p).convert("RGB") if isinstance(p, str) else p for p in images],
                       return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return (model.score(pixels) * scale).tolist()


def reference_watermark(folder, model, images) -> list[float]:
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    pixels = processor(images=[Image.open(p).convert("RGB") if isinstance(p, str) else p for p in images],
                       return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        return torch.softmax(model(pixel_values=pixels).logits, dim=-1)[:, 1].tolist()


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-aesthetics-v2")
    return folder, build_predictor(folder)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-watermark")
    return folder, build_classifier(folder)


@pytest.mark.parametrize("processor", [
    pytest.param(lambda: PIL_PROCESSOR["clip"](size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
                 id="clip-shortest-edge-crop"),
    pytest.param(lambda: PIL_PROCESSOR["vit"](size={"height": 24, "width": 40}), id="vit-fixed-size"),
    pytest.param(lambda: PIL_PROCESSOR["clip"](size={"shortest_edge": 20}, crop_size={"height": 24, "width": 24}),
                 id="crop-larger-than-image-pads"),
])
def test_preprocessing_is_transformers(processor) -> None:
    from juicedb.udfs.common.image_model import pixels, preprocess_spec
    proc = processor()
    spec = preprocess_spec(proc, "test")
    for path in IMAGES:
        image = Image.open(path).convert("RGB")
        want = proc(images=[image], return_tensors="np")["pixel_values"][0]
        np.testing.assert_allclose(pixels(image, spec), want, atol=1e-5)


def test_unsupported_preprocessing_is_refused() -> None:
    from juicedb.udfs.common.image_model import preprocess_spec
    with pytest.raises(MissingDependencyError, match="resizes by crop_pct"):
        convnext = getattr(transformers, "ConvNextImageProcessorPil", transformers.ConvNextImageProcessor)
        preprocess_spec(convnext(), "image_watermark_filter")


def test_aesthetics_equal_the_torch_predictor(predictor, tmp_path) -> None:
    from juicedb.udfs.image.image_aesthetics import image_aesthetics_scores
    folder, model = predictor
    gray = tmp_path / "gray.png"  # not RGB: converted first, as DJ's load_image does
    Image.open(IMAGES[1]).convert("L").save(gray)
    batch = MediaBatch([[IMAGES[0], IMAGES[1]], [], None, [IMAGES[2], IMAGES[0], str(gray)]])
    out = image_aesthetics_scores(batch, hf_scorer_model=str(folder)).to_pylist()
    want = reference_aesthetics(folder, model, [IMAGES[0], IMAGES[1], IMAGES[2], str(gray)])
    assert out[1:3] == [[], None]
    assert out[0] == pytest.approx(want[:2], abs=1e-5)
    assert out[3] == pytest.approx([want[2], want[0], want[3]], abs=1e-5)
    assert len(set(np.round(want, 4))) == len(want)  # the images really score differently


@pytest.mark.parametrize("head", ["v1", "v2-relu"])
def test_other_heads_equal_the_torch_predictor(tmp_path, head) -> None:
    from juicedb.udfs.common.image_model import load_image_model
    from juicedb.udfs.image.image_aesthetics import convert, image_aesthetics_scores
    folder = tmp_path / head
    model = build_predictor(folder, head, seed=1)
    if head == "v1":  # not a released predictor by name nor by architectures: DJ keeps the raw score
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({k: v for k, v in config.items() if k != "architectures"}))
    out = image_aesthetics_scores(MediaBatch([IMAGES[:3]]), hf_scorer_model=str(folder)).to_pylist()
    scale = 1.0 if head == "v1" else 0.1
    assert out[0] == pytest.approx(reference_aesthetics(folder, model, IMAGES[:3], scale), abs=1e-5)
    meta = load_image_model("aesthetics", str(folder), "t", lambda d: convert(str(folder), d, False)).meta
    assert (meta["head"], meta["scale"]) == (head, scale)


def test_watermark_equals_the_torch_classifier(classifier) -> None:
    from juicedb.udfs.image.image_watermark import image_watermark_prob
    folder, model = classifier
    out = image_watermark_prob(MediaBatch([IMAGES[:2], [IMAGES[2], IMAGES[3], IMAGES[0]]]),
                               hf_watermark_model=str(folder)).to_pylist()
    want = reference_watermark(folder, model, IMAGES)
    assert out == [pytest.approx(want[:2], abs=1e-5), pytest.approx([want[2], want[3], want[0]], abs=1e-5)]
    assert len(set(np.round(want, 4))) == len(want)


def test_filters_in_sql_keep_by_any_or_all_and_report_broken_images(ws, tmp_path, predictor, classifier) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    samples = [{"text": "a", "images": [IMAGES[0]]}, {"text": "b", "images": [IMAGES[1], IMAGES[2]]},
               {"text": "c", "images": [str(tmp_path / "bad.jpg")]}, {"text": "d"},
               {"text": "e", "images": [str(tmp_path / "missing.png")]}]
    path = write_dataset(tmp_path, samples)
    aes, wm = str(predictor[0]), str(classifier[0])
    stats = ws.sql(f"SELECT text, image_aesthetics_scores(images, hf_scorer_model := '{aes}') AS a, "
                   f"image_watermark_prob(images, hf_watermark_model := '{wm}') AS w FROM dataset('{path}')"
                   ).to_pylist()
    a = {r["text"]: r["a"] for r in stats}
    w = {r["text"]: r["w"] for r in stats}
    assert a["d"] == [] and w["d"] == [] and a["c"] is None and a["e"] is None
    assert a["b"] == pytest.approx(reference_aesthetics(predictor[0], predictor[1], IMAGES[1:3]), abs=1e-5)
    # a threshold between image 2's and image 3's scores: 'any' keeps b, 'all' drops it
    lo, hi = sorted(a["b"])
    mid = (lo + hi) / 2
    for mode, want in (("any", {"b", "d"}), ("all", {"d"})):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_aesthetics_filter(images, "
                      f"hf_scorer_model := '{aes}', min_score := {mid}, max_score := 1.0, any_or_all := '{mode}')")
        assert set(kept.column("text").to_pylist()) == want | ({"a"} if a["a"][0] >= mid else set())
    lo, hi = sorted(w["b"])
    mid = (lo + hi) / 2
    for mode, want in (("any", {"b", "d"}), ("all", {"d"})):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_watermark_filter(images, "
                      f"hf_watermark_model := '{wm}', prob_threshold := {mid}, any_or_all := '{mode}')")
        assert set(kept.column("text").to_pylist()) == want | ({"a"} if w["a"][0] < mid else set())
    errors = ws.sql("SELECT DISTINCT s.text, e.op, e.message FROM errors e JOIN samples s USING (uid) ORDER BY 1, 2"
                    ).to_pylist()
    assert [(e["text"], e["op"]) for e in errors] == [
        ("c", "image_aesthetics_filter"), ("c", "image_watermark_filter"),
        ("e", "image_aesthetics_filter"), ("e", "image_watermark_filter")]
    assert "bad.jpg" in errors[0]["message"] and "missing.png" in errors[2]["message"]


def test_dj_defaults_and_keep_rules() -> None:
    from juicedb.registry import get_op
    aes, wm = get_op("image_aesthetics_filter"), get_op("image_watermark_filter")
    assert aes.param("hf_scorer_model").default == "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE"
    assert {r.name: r.default for r in aes.rule_params} == {"min_score": 0.5, "max_score": 1.0, "any_or_all": "any"}
    assert wm.param("hf_watermark_model").default == "amrul-hzz/watermark_detector"
    assert {r.name: r.default for r in wm.rule_params} == {"prob_threshold": 0.8, "any_or_all": "any"}
    assert "v < {prob_threshold}" in wm.keep  # DJ: strictly below the threshold


def test_a_model_that_is_not_there_or_not_a_predictor_is_a_clear_error(tmp_path) -> None:
    from juicedb.udfs.image.image_aesthetics import image_aesthetics_scores
    from juicedb.udfs.image.image_watermark import image_watermark_prob
    batch = MediaBatch([[IMAGES[0]]])
    with pytest.raises(MissingDependencyError, match="is not a folder; pass a local HuggingFace aesthetics predictor "
                                                     "folder"):
        image_aesthetics_scores(batch, hf_scorer_model=str(tmp_path / "nope"))
    with pytest.raises(MissingDependencyError, match="is not a folder; pass a local HuggingFace image-classification "
                                                     "folder"):
        image_watermark_prob(batch, hf_watermark_model=str(tmp_path / "nope"))
    plain = tmp_path / "plain-clip-vision"  # a CLIP tower without an aesthetics head
    transformers.CLIPVisionModelWithProjection(transformers.CLIPVisionConfig(**TINY_VISION)).save_pretrained(plain)
    with pytest.raises(MissingDependencyError, match="no aesthetics head of simple-aesthetics-predictor's layout"):
        image_aesthetics_scores(MediaBatch([[IMAGES[0]]]), hf_scorer_model=str(plain))
