"""A converted transformers checkpoint: its source (cache key, hub id, checks, loading once) and conversion helpers.

A checkpoint is a local HuggingFace folder or, on a machine with a network, a hub
id. It is converted once (torch + transformers) into the model cache
(``juicedb.udfs.common.onnx``) under ``HfSource.key()``: ONNX graphs, ``meta.json``
and, for the text-image models, the tokenizer (``tokenizer.json``). Every later load
needs only ONNX Runtime (and ``tokenizers``), Pillow and numpy. Every model operator
(CLIP, BLIP, OWL-ViT, the image models of ``image_model``) names its sources here.

Image preprocessing of BLIP and OWL-ViT (``image_settings``, ``pixels``) is the PIL path
of transformers' image processors (the ``*ImageProcessorPil`` classes of transformers 5,
the slow processors of 4.x that Data-Juicer runs): resize (PIL, the processor's
resample), optional centre crop, rescale in float64 then float32, normalise. The image
arrives as RGB already (Data-Juicer's ``load_image`` converts it), so ``do_convert_rgb``
changes nothing.

>>> is_hub_id("openai/clip-vit-base-patch32"), is_hub_id("./clip"), is_hub_id("models/clip.bin")
(True, False, False)
>>> HfSource("clip", "openai/clip-vit-base-patch32").key()
'clip-clip-vit-base-patch32-4818a012d1c8'
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.onnx import converted, load_once

CONVERT_EXTRA = "pip install 'juicedb[lm]'"  # torch + transformers, used once per model
HF_FILES = "config.json, weights, tokenizer, preprocessor_config.json"  # what a text-image model's folder holds

T = TypeVar("T")


# --------------------------------------------------------------------------- the source

def is_hub_id(name: str) -> bool:
    """``owner/name`` that is not a path on this machine (the model then comes from the hub)."""
    return (name.count("/") == 1 and not name.startswith((".", "/", "~")) and not Path(name).suffix
            and not Path(name).exists())


@dataclass(frozen=True)
class HfSource:
    """A checkpoint converted as ``kind`` (``clip``, ``blip-itm``, ``owlvit``, ``aesthetics``, ...): folder or hub id.

    ``version`` is the converter's: a new one converts again (a new cache key).
    """

    kind: str
    name: str
    version: str = "1"

    def key(self) -> str:
        """Cache folder name: changes with the converter version and the folder's files (size, mtime)."""
        h = hashlib.sha1(f"{self.kind}-v{self.version}:{self.name}".encode())
        folder = Path(self.name)
        for f in sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.name)[:40]
        return f"{self.kind}-{slug}-{h.hexdigest()[:12]}"

    def load(self, build: Callable[[Path], None], open_: Callable[[Path], T]) -> T:
        """``open_(folder)`` of the converted model, ``build(dest)`` converting it on first use; once per process."""
        return load_once(self.kind, self.name, lambda: open_(converted(self.key(), build)))


# --------------------------------------------------------------------------- conversion (torch, once)

def check_source(name: str, op: str, what: str, files: str = HF_FILES) -> None:
    """Refuse a name that is neither a folder nor a hub id, saying what folder to pass."""
    if not Path(name).is_dir() and not is_hub_id(name):
        raise MissingDependencyError(
            f"{op}: {what} model {name!r} is not a folder; pass a local HuggingFace {what} folder ({files}) or, "
            "on a machine with a network, a hub id")


def need_torch(op: str, what: str, name: str) -> Any:
    """``(torch, transformers)``, or the error naming the extra that converts ``name`` once."""
    try:
        import torch
        import transformers
    except ImportError:
        raise MissingDependencyError(f"{op}: converting {what} model {name!r} to ONNX (once) needs torch and "
                                     f"transformers: {CONVERT_EXTRA}") from None
    return torch, transformers


def start_conversion(name: str, op: str, what: str, files: str = HF_FILES) -> Any:
    """``(torch, transformers)`` to convert ``name``, after ``check_source``: the two errors a converter starts with."""
    check_source(name, op, what, files)
    return need_torch(op, what, name)


def load_pretrained(cls: Any, name: str, op: str, what: str, files: str = HF_FILES, **kwargs: Any) -> Any:
    """``cls.from_pretrained(name)``, a missing or broken checkpoint a ``MissingDependencyError``."""
    try:
        return cls.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as e:
        raise MissingDependencyError(
            f"{op}: cannot load {what} model {name!r} ({e}); pass a local HuggingFace {what} folder ({files}) or, "
            "on a machine with a network, a hub id") from None


def save_tokenizer(name: str, dest: Path, op: str, what: str) -> tuple[int, int]:
    """Save the tokenizer transformers loads for ``name`` as ``dest/tokenizer.json``; its pad id and max length."""
    from transformers import AutoTokenizer
    tok = load_pretrained(AutoTokenizer, name, op, what)
    backend = getattr(tok, "backend_tokenizer", None)
    if backend is None:
        raise MissingDependencyError(f"{op}: {what} model {name!r} has no fast tokenizer (tokenizer.json) to run "
                                     "without transformers; save one with the model")
    backend.save(str(dest / "tokenizer.json"))
    return int(tok.pad_token_id or 0), int(tok.model_max_length)


@dataclass
class Checkpoint:
    """A text-image checkpoint loaded for conversion (``open_checkpoint``)."""

    torch: Any
    model: Any  # float32, eval mode
    image: dict[str, Any]  # its image processor's settings (``image_settings``)
    pad_id: int
    max_length: int  # the tokenizer's model_max_length


def open_checkpoint(name: str, dest: Path, op: str, what: str, model_class: str, processor_class: str) -> Checkpoint:
    """Load ``name`` as ``transformers.<model_class>`` with its image processor and tokenizer, to convert into ``dest``.

    The processor is ``<processor_class>Pil`` where transformers has it (5.x), else ``processor_class``; a
    folder without ``preprocessor_config.json`` gets the class's defaults at the vision tower's image size.
    ``dest`` is created holding ``tokenizer.json``.
    """
    torch, transformers = start_conversion(name, op, what)
    model = load_pretrained(getattr(transformers, model_class), name, op, what, dtype=torch.float32).eval()
    processor_cls = getattr(transformers, f"{processor_class}Pil", None) or getattr(transformers, processor_class)
    side = model.config.vision_config.image_size
    folder = Path(name)
    if folder.is_dir() and not (folder / "preprocessor_config.json").is_file():
        processor = processor_cls(size={"height": side, "width": side})
    else:
        processor = load_pretrained(processor_cls, name, op, what)
    dest.mkdir(parents=True)
    pad_id, max_length = save_tokenizer(name, dest, op, what)
    return Checkpoint(torch, model, image_settings(processor), pad_id, max_length)


def image_settings(processor: Any) -> dict[str, Any]:
    """The preprocessing a transformers image processor applies, as plain JSON for ``meta.json``."""
    def hw(size: Any) -> dict[str, int]:
        if isinstance(size, int):  # old configs: an int is a square (BLIP and OWL-ViT resize to squares)
            return {"height": size, "width": size}
        return {k: int(v) for k, v in dict(size).items() if v is not None}

    return {"do_resize": bool(processor.do_resize), "size": hw(processor.size),
            "resample": int(processor.resample),
            "do_center_crop": bool(getattr(processor, "do_center_crop", False) or False),
            "crop_size": hw(processor.crop_size) if getattr(processor, "crop_size", None) else None,
            "do_rescale": bool(processor.do_rescale), "rescale_factor": float(processor.rescale_factor),
            "do_normalize": bool(processor.do_normalize),
            "mean": [float(v) for v in processor.image_mean], "std": [float(v) for v in processor.image_std]}


def export(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], outputs: list[str],
           dynamic: dict[str, dict[int, str]]) -> None:
    """``torch.onnx.export`` with the TorchScript exporter (opset 18), its tracer notices silenced."""
    import torch
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, opset_version=18,
                          dynamo=False, dynamic_axes=dynamic)


# --------------------------------------------------------------------------- runtime (ONNX Runtime only)

def read_meta(folder: Path) -> dict[str, Any]:
    """A converted model's ``meta.json``."""
    return json.loads((folder / "meta.json").read_text())


def open_tokenizer(folder: Path, op: str, max_length: int, pad_id: int | None = None) -> Any:
    """``folder/tokenizer.json`` truncating to ``max_length``, a batch padded with ``pad_id`` (None: not padded)."""
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise MissingDependencyError(f"{op} needs tokenizers: pip install 'juicedb[text-models]'") from None
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(max_length)
    if pad_id is None:
        tokenizer.no_padding()
    else:
        tokenizer.enable_padding(pad_id=pad_id)
    return tokenizer


def resize_image(image: Any, size: dict[str, int], resample: int) -> Any:
    """The PIL image resized as transformers' processors do: to ``height`` x ``width``, or its shortest edge to
    ``shortest_edge`` (``get_resize_output_image_size(default_to_square=False)``: the long edge scales with ``int()``).

    >>> from PIL import Image
    >>> resize_image(Image.new("RGB", (50, 30)), {"shortest_edge": 20}, 3).size
    (33, 20)
    """
    if "shortest_edge" in size:
        (w, h), short = image.size, size["shortest_edge"]
        new = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    else:
        new = (size["width"], size["height"])
    return image.resize(new, resample=resample)


def pixels(image: Any, pre: dict[str, Any]) -> np.ndarray:
    """The image processor's output (``image_settings``) for one RGB PIL image: (3, height, width) float32."""
    if pre["do_resize"]:
        image = resize_image(image, pre["size"], pre["resample"])
    arr = np.asarray(image)
    if pre["do_center_crop"] and pre["crop_size"]:
        ch, cw = pre["crop_size"]["height"], pre["crop_size"]["width"]
        top, left = max((arr.shape[0] - ch) // 2, 0), max((arr.shape[1] - cw) // 2, 0)
        arr = arr[top:top + ch, left:left + cw]
    arr = (arr.astype(np.float64) * pre["rescale_factor"]).astype(np.float32) if pre["do_rescale"] \
        else arr.astype(np.float32)
    if pre["do_normalize"]:
        arr = (arr - np.array(pre["mean"], dtype=np.float32)) / np.array(pre["std"], dtype=np.float32)
    return arr.transpose(2, 0, 1)
