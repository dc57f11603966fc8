"""Tiny randomly initialised models of the real architectures, saved as HuggingFace folders for the model tests.

No CLIP weights ship in any package: a test builds one here (seeded), the operator
converts it to ONNX once, and the test compares the operator with the torch model.
"""

from __future__ import annotations

from pathlib import Path

CLIP_WORDS = ["a", "the", "cat", "bus", "bed", "woman", "umbrella", "sofa", "on", "with", "photo", "of", "red",
              "black", "and", "white", "holding", "lying", "sleeps"]


def build_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A two-layer CLIPModel (32-pixel images, 8-pixel patches), a word-level tokenizer and a CLIP image processor."""
    import tokenizers
    import torch
    import transformers

    vocab = {"[PAD]": 0, "[UNK]": 1, "<|startoftext|>": 2, "<|endoftext|>": 3} | {w: i + 4 for i, w in
                                                                                  enumerate(CLIP_WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = tokenizers.normalizers.Lowercase()
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", 2), ("<|endoftext|>", 3)])
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    cfg = transformers.CLIPConfig(
        text_config={"vocab_size": len(vocab), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
                     "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": 0, "bos_token_id": 2,
                     "eos_token_id": 3},
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8}, projection_dim=16)
    transformers.CLIPModel(cfg).eval().save_pretrained(folder)
    transformers.CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
                                       ).save_pretrained(folder)
    return folder
