"""What the converted transformers checkpoints (BLIP, OWL-ViT) share: the source key, loading, image preprocessing.

A checkpoint is a local HuggingFace folder or, on a machine with a network, a hub
id. It is converted once (torch + transformers) into the model cache
(``juicedb.udfs.common.onnx``): ONNX graphs, the tokenizer transformers would use
(``tokenizer.json``) and the settings of its image processor in ``meta.json``.
Every later load needs only ONNX Runtime, ``tokenizers``, Pillow and numpy.

Image preprocessing is the PIL path of transformers' image processors (the
``*ImageProcessorPil`` classes of transformers 5, the slow processors of 4.x that
Data-Juicer runs): resize (PIL, the processor's resample), optional centre crop,
rescale in float64 then float32, normalise. The image arrives as RGB already
(Data-Juicer's ``load_image`` converts it), so ``do_convert_rgb`` changes nothing.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import MissingDependencyError

CONVERT_EXTRA = "pip install 'juicedb[lm]'"  # torch + transformers, used once per model


@dataclass(frozen=True)
class HfSource:
    """A checkpoint to convert: ``kind`` (``blip-itm``, ``owlvit``) and its folder or hub id."""

    kind: str
    name: str
    version: str

    def key(self) -> str:
        """Cache folder name: changes with the converter version and the folder's files (size, mtime)."""
        h = hashlib.sha1(f"{self.kind}-v{self.version}:{self.name}".encode())
        folder = Path(self.name)
        for f in sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []:
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}".encode())
        slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in folder.name)[:40]
        return f"{self.kind}-{slug}-{h.hexdigest()[:12]}"

    def check(self, op: str, what: str) -> None:
        """Refuse a name that is neither a folder nor shaped like a hub id (``owner/name``)."""
        folder = Path(self.name)
        hub_id = self.name.count("/") == 1 and not self.name.startswith((".", "/", "~")) and not folder.suffix
        if not folder.is_dir() and not hub_id:
            raise MissingDependencyError(
                f"{op}: {what} model {self.name!r} is not a folder; pass a local HuggingFace {what} folder "
                "(config.json, weights, tokenizer, preprocessor_config.json) or, with a network, a hub id")


def need_torch(op: str, what: str, name: str) -> Any:
    """``(torch, transformers)``, or the error naming the extra that converts ``name`` once."""
    try:
        import torch
        import transformers
    except ImportError:
        raise MissingDependencyError(f"{op}: converting {what} model {name!r} to ONNX (once) needs torch and "
                                     f"transformers: {CONVERT_EXTRA}") from None
    return torch, transformers


def load_pretrained(cls: Any, name: str, op: str, what: str, **kwargs: Any) -> Any:
    """``cls.from_pretrained(name)``, a missing or broken checkpoint a ``MissingDependencyError``."""
    try:
        return cls.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as e:
        raise MissingDependencyError(
            f"{op}: cannot load {what} model {name!r} ({e}); pass a local HuggingFace {what} folder "
            "(config.json, weights, tokenizer, preprocessor_config.json) or, on a machine with a network, "
            "a hub id") from None


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


def pixels(image: Any, pre: dict[str, Any]) -> np.ndarray:
    """The image processor's output for one RGB PIL image: (3, height, width) float32."""
    if pre["do_resize"]:
        size, (w, h) = pre["size"], image.size
        if "shortest_edge" in size:  # get_resize_output_image_size(default_to_square=False)
            short = size["shortest_edge"]
            new = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        else:
            new = (size["width"], size["height"])
        image = image.resize(new, resample=pre["resample"])
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


def export(module: Any, args: tuple[Any, ...], path: Path, inputs: list[str], outputs: list[str],
           dynamic: dict[str, dict[int, str]]) -> None:
    """``torch.onnx.export`` with the TorchScript exporter (opset 18), its tracer notices silenced."""
    import torch
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=inputs, output_names=outputs, opset_version=18,
                          dynamo=False, dynamic_axes=dynamic)
