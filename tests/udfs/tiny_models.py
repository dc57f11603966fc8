"""Tiny randomly initialised models of the real architectures, saved as HuggingFace folders for the model tests.

No CLIP, BLIP or OWL-ViT weights ship in any package: a test builds one here (seeded),
the operator converts it to ONNX once, and the test compares the operator with the torch
model (``torch_pair``, ``clip_similarities``) on the same folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

CLIP_WORDS = ["a", "the", "cat", "bus", "bed", "woman", "umbrella", "sofa", "on", "with", "photo", "of", "red",
              "black", "and", "white", "holding", "lying", "sleeps"]
OWLVIT_WORDS = ["a", "an", "the", "cat", "bus", "bed", "woman", "umbrella", "sofa", "on", "with", "photo", "of", "red",
                "black", "and", "white", "holding", "near", "street"]
TOWER = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}  # each tower's
WIDE = {"initializer_range": 0.5}  # the default 0.02 gives every pair / patch nearly the same score


def requires(*modules: str) -> list[Any]:
    """``pytest.importorskip`` of each of ``modules`` (the test module is skipped without one), in order."""
    return [pytest.importorskip(m) for m in modules]


def write_dataset(folder: Path, samples: list[dict[str, Any]]) -> Path:
    """``folder/d.jsonl`` holding ``samples``."""
    path = folder / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    return path


def word_tokenizer(vocab: dict[str, int], start: str, end: str) -> Any:
    """A lower-casing, whitespace-splitting word-level tokenizer of ``vocab`` that wraps a text in ``start``/``end``."""
    import tokenizers

    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.Lowercase()
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single=f"{start} $A {end}", special_tokens=[(start, vocab[start]), (end, vocab[end])])
    return tok


def save_fast_tokenizer(tok: Any, folder: Path, **special: Any) -> None:
    """``tok`` saved as transformers' fast tokenizer (``[PAD]``, ``[UNK]`` and ``special``) in ``folder``."""
    import transformers

    transformers.PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]",
                                         **special).save_pretrained(folder)


def torch_pair(folder: Path, model_class: str, processor_class: str, image_processor_class: str) -> tuple[Any, Any]:
    """The saved model (eval mode) and transformers' processor of ``folder`` (its PIL image processor, tokenizer)."""
    import transformers

    model = getattr(transformers, model_class).from_pretrained(folder).eval()
    processor = getattr(transformers, processor_class)(
        image_processor=getattr(transformers, image_processor_class).from_pretrained(folder),
        tokenizer=transformers.AutoTokenizer.from_pretrained(folder))
    return model, processor


def build_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A two-layer CLIPModel (32-pixel images, 8-pixel patches), a word-level tokenizer and a CLIP image processor."""
    import torch
    import transformers

    vocab = {"[PAD]": 0, "[UNK]": 1, "<|startoftext|>": 2, "<|endoftext|>": 3} | {w: i + 4 for i, w in
                                                                                  enumerate(CLIP_WORDS)}
    word_tokenizer(vocab, "<|startoftext|>", "<|endoftext|>").save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    cfg = transformers.CLIPConfig(
        text_config=TOWER | {"vocab_size": len(vocab), "max_position_embeddings": 16, "pad_token_id": 0,
                             "bos_token_id": 2, "eos_token_id": 3},
        vision_config=TOWER | {"image_size": 32, "patch_size": 8}, projection_dim=16)
    transformers.CLIPModel(cfg).eval().save_pretrained(folder)
    transformers.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                                       ).save_pretrained(folder)
    return folder


def clip_similarities(folder: Path) -> Callable[[str, list[Any]], Any]:
    """``sims(text, images)``: the torch CLIP's cosine similarities of ``text`` with each RGB PIL image (numpy).

    transformers' own model and image processor, and the folder's tokenizer.
    """
    import tokenizers
    import torch
    import transformers

    model = transformers.CLIPModel.from_pretrained(folder).eval()
    processor = transformers.CLIPImageProcessorPil.from_pretrained(folder)
    tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))

    def sims(text: str, images: list[Any]) -> Any:
        pixels = processor(images=images, return_tensors="pt")["pixel_values"]
        enc = tok.encode(text)
        with torch.no_grad():
            out = model(input_ids=torch.tensor([enc.ids]), attention_mask=torch.tensor([enc.attention_mask]),
                        pixel_values=pixels)
        return (out.image_embeds @ out.text_embeds[0]).numpy()
    return sims


def build_tiny_blip(folder: Path, positions: int, seed: int = 0) -> Path:
    """A two-layer BlipForImageTextRetrieval (32-pixel images), a BERT-like word-level tokenizer, a BLIP processor.

    ``positions`` is the text's ``max_position_embeddings`` (Data-Juicer truncates the text to it).
    """
    import torch
    import transformers

    vocab = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3} | {w: i + 4 for i, w in enumerate(CLIP_WORDS)}
    save_fast_tokenizer(word_tokenizer(vocab, "[CLS]", "[SEP]"), folder, cls_token="[CLS]", sep_token="[SEP]")
    torch.manual_seed(seed)
    cfg = transformers.BlipConfig(
        text_config=TOWER | {"vocab_size": len(vocab), "max_position_embeddings": positions, "pad_token_id": 0,
                             "bos_token_id": 2, "sep_token_id": 3, "eos_token_id": 3} | WIDE,
        vision_config=TOWER | {"image_size": 32, "patch_size": 8} | WIDE, image_text_hidden_size=16, **WIDE)
    transformers.BlipForImageTextRetrieval(cfg).eval().save_pretrained(folder)
    transformers.BlipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def build_tiny_owlvit(folder: Path, seed: int = 0) -> Path:
    """A two-layer OwlViTForObjectDetection (64-pixel images, 16-pixel patches), its tokenizer (16 tokens at most)
    and an OWL-ViT image processor; the box head widened so boxes have many sizes and overlaps."""
    import torch
    import transformers

    # OWL-ViT pools the text at the highest token id (CLIP's end token): the end token comes last
    vocab = {"[PAD]": 0, "[UNK]": 1} | {w: i + 2 for i, w in enumerate(OWLVIT_WORDS)}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    save_fast_tokenizer(word_tokenizer(vocab, "<|startoftext|>", "<|endoftext|>"), folder, model_max_length=16)
    torch.manual_seed(seed)
    cfg = transformers.OwlViTConfig(
        text_config=TOWER | {"vocab_size": len(vocab), "max_position_embeddings": 16, "pad_token_id": 0,
                             "bos_token_id": vocab["<|startoftext|>"], "eos_token_id": vocab["<|endoftext|>"]} | WIDE,
        vision_config=TOWER | {"image_size": 64, "patch_size": 16} | WIDE, projection_dim=32, **WIDE)
    model = transformers.OwlViTForObjectDetection(cfg).eval()
    torch.manual_seed(seed + 1)
    for p in model.box_head.parameters():  # boxes of many sizes and overlaps (0.5 saturates them to lines)
        torch.nn.init.normal_(p, 0.0, 0.3)
    model.save_pretrained(folder)
    transformers.OwlViTImageProcessorPil(size={"height": 64, "width": 64}).save_pretrained(folder)
    return folder
