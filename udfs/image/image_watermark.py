"""image_watermark_filter -> ``image_watermark_prob``: probability that each image carries a watermark.

Data-Juicer runs a transformers image classifier (default
``amrul-hzz/watermark_detector``) through ``AutoModelForImageClassification`` and
its ``AutoImageProcessor``, and takes the softmax probability of class index 1
(that model's watermark label). Here the same: any transformers image
classification checkpoint (local folder or hub id; none ships in a package, tests
build a tiny random ViT) is converted once to ONNX with a softmax on top
(``juicedb.udfs.common.image_model``), its processor's preprocessing kept as data,
and the probability of class 1 is the stat. DJ keeps a sample when an image's (with
``any_or_all='all'``: every image's) probability is strictly below ``prob_threshold``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import filter_op
from juicedb.udfs.common.hf_models import load_pretrained, start_conversion
from juicedb.udfs.common.image_model import (
    ImageModel,
    export_onnx,
    input_side,
    load_image_model,
    preprocess_spec,
    score_images,
)
from juicedb.udfs.common.media import MediaBatch, any_all_keep, load_rgb

OP = "image_watermark_filter"
DEFAULT_MODEL = "amrul-hzz/watermark_detector"
KEEP = any_all_keep("{image_watermark_prob}", "v < {prob_threshold}")
WATERMARK_CLASS = 1  # DJ: softmax(logits)[1]
WHAT, FILES = "image-classification", "config.json, weights, preprocessor_config.json"


def convert(name: str, dest: Path, trust_remote_code: bool) -> None:
    """Export ``name`` (classifier + softmax: class probabilities) to ``dest``."""
    torch, transformers = start_conversion(name, OP, WHAT, FILES)
    model = load_pretrained(transformers.AutoModelForImageClassification, name, OP, WHAT, FILES, dtype=torch.float32,
                            trust_remote_code=trust_remote_code).eval()
    processor = load_pretrained(transformers.AutoImageProcessor, name, OP, WHAT, FILES,
                                trust_remote_code=trust_remote_code)
    labels = model.config.num_labels
    if labels <= WATERMARK_CLASS:
        raise MissingDependencyError(f"{OP}: {name!r} has {labels} class(es); the watermark probability is class "
                                     f"{WATERMARK_CLASS} of a classifier with at least two")
    spec = preprocess_spec(processor, OP)
    side = getattr(model.config, "image_size", 224)

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, pixel_values: Any) -> Any:
            return torch.softmax(self.model(pixel_values=pixel_values).logits, dim=-1)

    dest.mkdir(parents=True)
    export_onnx(Classifier(), dest, *input_side(spec, side if isinstance(side, int) else side[0]), outputs=["probs"])
    meta = {"source": name, "operators": "image_watermark_filter, video_watermark_filter",
            "architecture": type(model).__name__, "labels": {str(k): v for k, v in model.config.id2label.items()},
            "preprocess": spec}
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


def load_classifier(model: str, trust_remote_code: bool = False) -> ImageModel:
    """The watermark classifier named ``model``, converted on first use and loaded once per process."""
    return load_image_model("image-classifier", model, OP, lambda dest: convert(model, dest, trust_remote_code))


def watermark_probs(classifier: ImageModel, images: list[Any], load: Any = None) -> np.ndarray:
    """Softmax probability of the watermark class (index 1, as DJ) for each image."""
    return classifier.run(images, load)[:, WATERMARK_CLASS].astype(np.float64)


@filter_op(OP, stat="image_watermark_prob", stat_type=pa.list_(pa.float64()), modality="image", inputs=("images",),
           cost="gpu_model", requires=("transformers (once)", "onnxruntime"), keep=KEEP, batch_rows=256,
           rule_params={"prob_threshold": 0.8, "any_or_all": "any"})
def image_watermark_prob(batch: MediaBatch, *, hf_watermark_model: str = DEFAULT_MODEL,
                         trust_remote_code: bool = False) -> pa.Array:
    """Per image, the classifier's watermark probability, 0 to 1.

    >>> image_watermark_prob(MediaBatch([[], None])).to_pylist()
    [[], None]
    """
    def score(items: list[Any]) -> np.ndarray:
        return watermark_probs(load_classifier(hf_watermark_model, trust_remote_code), items, load_rgb)
    return score_images(batch, score)
