"""image_aesthetics_filter -> ``image_aesthetics_scores``: LAION aesthetics score of each image, 0 to 1.

Data-Juicer scores images with simple-aesthetics-predictor's models (default
``shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE``): CLIP's vision
tower with its projection (transformers' ``CLIPVisionModelWithProjection``), the
image embedding L2-normalised, then a head: one linear layer (``AestheticsPredictorV1``,
LAION-Aesthetics v1) or an MLP (``AestheticsPredictorV2Linear`` /
``AestheticsPredictorV2ReLU``, christophschuhmann's improved predictor). Its output
is on LAION's 0–10 scale; DJ divides it by 10 when the model name contains
``shunk031/aesthetics-predictor``. Here it is also divided by 10 when the folder's
``config.json`` names one of those three classes in ``architectures`` (a local copy
of a released checkpoint scores as its hub id does); other models' scores are kept.

The model accepted (local folder or hub id) is a released checkpoint's layout:
``config.json`` with the CLIP vision fields (``hidden_size``, ``projection_dim``,
``image_size``, ``patch_size``, ...; a full CLIP config's ``vision_config`` is also
read), weights (``model.safetensors`` or ``pytorch_model.bin``, sharded or not) with
CLIPVisionModelWithProjection's keys (``vision_model.*``, ``visual_projection.weight``)
and the head's: ``predictor.weight/bias`` (v1), or ``layers.{0,2,4,6,7}.*`` (v2
linear) or ``layers.{0,3,6,9,11}.*`` (v2 ReLU); and ``preprocessor_config.json``
(DJ's ``CLIPProcessor``; without one, CLIP's defaults for the tower's image size).
It is converted once to ONNX (``juicedb.udfs.common.image_model``); no aesthetics
weights ship in any package, so tests build a tiny random predictor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError
from juicedb.registry import filter_op
from juicedb.udfs.common.hf_models import is_hub_id, start_conversion
from juicedb.udfs.common.image_model import (
    ImageModel,
    export_onnx,
    input_side,
    load_image_model,
    preprocess_spec,
    score_images,
)
from juicedb.udfs.common.media import MediaBatch, any_all_keep, load_rgb

OP = "image_aesthetics_filter"
WHAT, FILES = "aesthetics predictor", "config.json, weights, preprocessor_config.json"
DEFAULT_MODEL = "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE"
KEEP = any_all_keep("{image_aesthetics_scores}", "v >= {min_score} AND v <= {max_score}")
PREDICTORS = ("AestheticsPredictorV1", "AestheticsPredictorV2Linear", "AestheticsPredictorV2ReLU")
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
# the heads' Linear layers, by index in their nn.Sequential; the other indices hold Dropout (and ReLU)
V2_LINEAR = (0, 2, 4, 6, 7)
V2_RELU = (0, 3, 6, 9, 11)


def _fetch(name: str) -> Path:
    """A local folder of ``name``'s config, processor config and weights (downloaded when it is a hub id)."""
    if not is_hub_id(name):
        return Path(name)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError
    folder = Path(hf_hub_download(name, "config.json")).parent
    for wanted in (("preprocessor_config.json",), ("model.safetensors", "pytorch_model.bin")):
        for file in wanted:  # the first of these the repository has
            try:
                hf_hub_download(name, file)
                break
            except EntryNotFoundError:
                continue
    return folder


def _state_dict(folder: Path, torch: Any) -> dict[str, Any]:
    files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise MissingDependencyError(f"{OP}: no weights (model.safetensors or pytorch_model.bin) in {folder}")
    state: dict[str, Any] = {}
    for f in files:
        if f.suffix == ".safetensors":
            from safetensors.torch import load_file
            state.update(load_file(str(f)))
        else:
            state.update(torch.load(str(f), map_location="cpu", weights_only=True))
    return {k: v.float() for k, v in state.items()}


def _head(state: dict[str, Any], torch: Any) -> tuple[str, Any]:
    """The predictor head of a checkpoint, built from the shapes of its weights: (kind, module)."""
    nn = torch.nn
    if "predictor.weight" in state:
        w = state["predictor.weight"]
        head = nn.Linear(w.shape[1], w.shape[0])
        head.load_state_dict({"weight": w, "bias": state["predictor.bias"]})
        return "v1", head
    linear = tuple(sorted({int(k.split(".")[1]) for k in state if k.startswith("layers.") and k.endswith(".weight")}))
    if linear not in (V2_LINEAR, V2_RELU):
        raise MissingDependencyError(
            f"{OP}: the checkpoint has no aesthetics head of simple-aesthetics-predictor's layout "
            "('predictor.weight' of AestheticsPredictorV1, or 'layers.N.weight' of AestheticsPredictorV2Linear/ReLU)"
            f"; its head keys: {sorted(k for k in state if not k.startswith(('vision_model.', 'visual_projection.')))}")
    relu = linear == V2_RELU
    modules: list[Any] = []
    for i in range(linear[-1] + 1):
        if i in linear:
            w = state[f"layers.{i}.weight"]
            modules.append(nn.Linear(w.shape[1], w.shape[0]))
        else:  # Dropout (identity when exporting) or, in the ReLU head, ReLU right after each Linear
            modules.append(nn.ReLU() if relu and i - 1 in linear else nn.Dropout(0.0))
    head = nn.Sequential(*modules)
    head.load_state_dict({k.removeprefix("layers."): v for k, v in state.items() if k.startswith("layers.")})
    return "v2-relu" if relu else "v2-linear", head


def convert(name: str, dest: Path, trust_remote_code: bool) -> None:
    """Export the predictor ``name`` (tower + head, raw 0–10 output) to ``dest``."""
    torch, transformers = start_conversion(name, OP, WHAT, FILES)
    try:
        folder = _fetch(name)
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as e:
        raise MissingDependencyError(f"{OP}: cannot load aesthetics predictor {name!r} ({e}); pass a local "
                                     "folder in simple-aesthetics-predictor's layout or, with a network, a hub id"
                                     ) from None
    fields = dict(config.get("vision_config") or config)
    if "vision_config" in config and config.get("projection_dim"):
        fields["projection_dim"] = config["projection_dim"]
    for k in ("model_type", "architectures", "auto_map", "transformers_version", "_name_or_path"):
        fields.pop(k, None)
    vision_config = transformers.CLIPVisionConfig.from_dict(fields)
    state = _state_dict(folder, torch)
    kind, head = _head(state, torch)
    tower = transformers.CLIPVisionModelWithProjection(vision_config)
    want = tower.state_dict()
    tower_state = {k: v for k, v in state.items() if k in want}
    missing = sorted(set(want) - set(tower_state) - {k for k in want if k.endswith("position_ids")})
    if missing:
        raise MissingDependencyError(f"{OP}: {name!r} lacks CLIPVisionModelWithProjection weights {missing[:3]}...; "
                                     "pass a folder in simple-aesthetics-predictor's layout")
    tower.load_state_dict(tower_state, strict=False)

    if (folder / "preprocessor_config.json").is_file():
        cls = getattr(transformers, "CLIPImageProcessorPil", None) or transformers.CLIPImageProcessor
        processor = cls.from_pretrained(str(folder), trust_remote_code=trust_remote_code)
        spec = preprocess_spec(processor, OP)
    else:  # CLIPImageProcessor's defaults for the tower's input size
        side = vision_config.image_size
        spec = {"resize": {"shortest_edge": side}, "resample": 3, "crop": [side, side], "rescale": 1 / 255,
                "mean": list(OPENAI_MEAN), "std": list(OPENAI_STD)}

    class Predictor(torch.nn.Module):
        """simple-aesthetics-predictor's forward: normalised projected embedding -> head -> one score."""

        def __init__(self) -> None:
            super().__init__()
            self.tower, self.head = tower, head

        def forward(self, pixel_values: Any) -> Any:
            embeds = self.tower(pixel_values=pixel_values).image_embeds
            return self.head(embeds / embeds.norm(dim=-1, keepdim=True))[:, 0]

    dest.mkdir(parents=True)
    export_onnx(Predictor(), dest, *input_side(spec, vision_config.image_size), outputs=["score"])
    released = "shunk031/aesthetics-predictor" in name or bool(set(config.get("architectures") or ()) & set(PREDICTORS))
    meta = {"source": name, "operators": "image_aesthetics_filter, video_aesthetics_filter", "head": kind,
            "scale": 0.1 if released else 1.0, "preprocess": spec}
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


def load_predictor(model: str, trust_remote_code: bool = False) -> ImageModel:
    """The aesthetics predictor named ``model``, converted on first use and loaded once per process."""
    return load_image_model("aesthetics", model, OP, lambda dest: convert(model, dest, trust_remote_code))


def aesthetics(predictor: ImageModel, images: list[Any], load: Any = None) -> np.ndarray:
    """Scores of ``images`` (normalised to 0–1 for the released predictors, as DJ)."""
    return predictor.run(images, load).astype(np.float64) * predictor.meta["scale"]


@filter_op(OP, stat="image_aesthetics_scores", stat_type=pa.list_(pa.float64()), modality="image",
           inputs=("images",), cost="gpu_model", requires=("transformers (once)", "onnxruntime"), keep=KEEP,
           batch_rows=256, rule_params={"min_score": 0.5, "max_score": 1.0, "any_or_all": "any"})
def image_aesthetics_scores(batch: MediaBatch, *, hf_scorer_model: str = DEFAULT_MODEL,
                            trust_remote_code: bool = False) -> pa.Array:
    """Per image, the aesthetics predictor's score (0–1 for the released predictors).

    >>> image_aesthetics_scores(MediaBatch([[], None])).to_pylist()
    [[], None]
    """
    def score(items: list[Any]) -> np.ndarray:
        return aesthetics(load_predictor(hf_scorer_model, trust_remote_code), items, load_rgb)
    return score_images(batch, score)

