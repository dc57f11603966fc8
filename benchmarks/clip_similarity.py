"""Benchmark: image_text_similarity's CLIP on ONNX Runtime vs the same CLIP in transformers (PyTorch eager).

No CLIP weights can be fetched here, so the model is a randomly initialised CLIP
with ViT-B/32's architecture (transformers' default CLIPConfig: 12-layer ViT,
patch 32, 224 px, 512-d projection) — throughput does not depend on the weights.
Both score the same real images (crops of ../shared/data/media, all distinct) against one
caption each: the peer with transformers' CLIPImageProcessorPil and CLIPModel in
batches of --batch, juicedb through the operator (its own preprocessing, ONNX
runs of the swept size). Medians of --repeat, same process, warm.

    python benchmarks/clip_similarity.py --images 64 --runs 8 32 64
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _timing import median_seconds  # benchmarks/ is on sys.path when a script runs

MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "media"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--runs", type=int, nargs="+", default=[8, 32, 64])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import pyarrow as pa
    import tokenizers
    import torch
    import transformers
    from PIL import Image

    import juicedb.udfs.common.clip as clip_mod
    from juicedb.udfs.common.media import PairBatch
    from juicedb.udfs.image.image_text_similarity import image_text_similarity

    folder = Path(tempfile.mkdtemp(prefix="clip-b32-"))
    vocab = {"[PAD]": 0, "[UNK]": 1, "<|startoftext|>": 2, "<|endoftext|>": 3, "a": 4, "photo": 5, "of": 6}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(0)
    cfg = transformers.CLIPConfig(text_config={"vocab_size": 49408, "pad_token_id": 0, "eos_token_id": 3})
    model = transformers.CLIPModel(cfg).eval()
    model.save_pretrained(folder)
    processor = transformers.CLIPImageProcessorPil()
    processor.save_pretrained(folder)

    # distinct images (the operator embeds each distinct image of a batch once): crops of the real photos
    files = sorted(str(p) for p in MEDIA.iterdir() if p.suffix in (".jpg", ".png"))
    paths = []
    for i in range(args.images):
        image = Image.open(files[i % len(files)]).convert("RGB")
        w, h = image.size
        k = 1 + i // len(files)
        paths.append(str(folder / f"img{i}.jpg"))
        image.crop((k, k, w - k, h - k)).save(paths[-1], quality=95)
    texts = ["<__dj__image> a photo of a"] * len(paths)
    batch = PairBatch(pa.StructArray.from_arrays([pa.array(texts), pa.array([[p] for p in paths])],
                                                 names=["text", "images"]))
    image_text_similarity(PairBatch(batch.array.slice(0, 2)), model=str(folder))  # converts once, warms up

    ids = torch.tensor([[2, 4, 5, 6, 4, 3]])

    def peer() -> None:
        with torch.no_grad():
            for s in range(0, len(paths), args.batch):
                pixels = processor(images=[Image.open(p).convert("RGB") for p in paths[s:s + args.batch]],
                                   return_tensors="pt")["pixel_values"]
                model(input_ids=ids, pixel_values=pixels)

    base = median_seconds(peer, args.repeat)
    clip = clip_mod.load_clip(str(folder), "bench")
    print(f"{len(paths)} images, ViT-B/32-sized random CLIP, providers {clip.image_session.get_providers()}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeat}")
    print(f"{'contender':44} {'s':>7} {'images/s':>9} {'time vs peer':>13}")
    print(f"{f'transformers CLIPModel eager (batch {args.batch})':44} {base:7.2f} {len(paths) / base:9.1f} "
          f"{1:12.2f}x")
    for run in args.runs:
        clip_mod.IMAGE_RUN = run
        secs = median_seconds(lambda: image_text_similarity(batch, model=str(folder)), args.repeat)
        print(f"{f'juicedb image_text_similarity (ONNX runs of {run})':44} {secs:7.2f} {len(paths) / secs:9.1f} "
              f"{secs / base:12.2f}x")


if __name__ == "__main__":
    main()
