"""Build the image-text data of recipes/sandbox_clip.yaml offline: synthetic shapes plus crops of real photos.

- ``train.jsonl``: 500 coloured shapes captioned "a red circle on the left" (20% with another
  sample's caption, 20% drawn at 8 px, blown up and noised) and 8 random crops of each real photo
  with a caption written for it;
- ``zero_shot_shapes.jsonl``: 120 held-out shapes labelled circle / square / triangle;
- ``retrieval_shapes.jsonl``: 100 held-out shape pairs;
- ``retrieval_real.jsonl``: 2 held-out crops of each real photo with its caption (instance-level
  retrieval: the model has seen other crops of the same photos, never these).

The real photos are Data-Juicer's own test images (Apache-2.0; recipes/data/media, and
../shared/data/media where it exists); see recipes/data/NOTICE.

    python recipes/data/sandbox_clip/build.py --out recipes/out/sandbox_clip_data
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from juicedb.sandbox.clip import make_shapes

HERE = Path(__file__).resolve().parent
CAPTIONS = {
    "blip.jpg": "a woman and her dog sitting on the beach at sunset",
    "cat.jpg": "two cats lying on a pink blanket next to remote controls",
    "img1.png": "a white bed with pillows in a bright bedroom",
    "img10.jpg": "two stuffed toys, a dog and a penguin, wearing headlamps",
    "img2.jpg": "a white bus driving down a city street",
    "img3.jpg": "a black and white photo of a person with an umbrella in an alley",
    "img8.jpg": "four men in colourful suits posing for a portrait",
    "img9.jpg": "three puppies lying together on a blanket",
    "img_pair_1.jpg": "an airplane flying between clouds over the sea",
    "img_pair_2.jpg": "an airplane flying low over the sea under clouds",
}


def crops(src: Path, out: Path, n: int, rng: random.Random, tag: str) -> list[str]:
    from PIL import Image, ImageOps
    image = Image.open(src).convert("RGB")
    w, h = image.size
    names = []
    for i in range(n):
        s = rng.uniform(0.6, 0.9)
        cw, ch = int(w * s), int(h * s)
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        crop = image.crop((x, y, x + cw, y + ch)).resize((64, 64))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        name = f"{tag}_{src.stem}_{i}.png"
        crop.save(out / name)
        names.append(name)
    return names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--media", type=Path, nargs="*", default=[HERE.parent / "media", HERE.parents[3] / "shared" /
                                                              "data" / "media"])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    out = a.out
    out.mkdir(parents=True, exist_ok=True)
    train = make_shapes(out, 500, seed=a.seed, wrong_captions=0.2, degraded=0.2, name="train")
    make_shapes(out, 120, seed=a.seed + 1, name="zero_shot_shapes")
    make_shapes(out, 100, seed=a.seed + 2, name="retrieval_shapes")
    rng = random.Random(a.seed)
    photos = {}
    for folder in a.media:
        for name in sorted(CAPTIONS):
            if (folder / name).is_file() and name not in photos:
                photos[name] = folder / name
    real = out / "real"
    real.mkdir(exist_ok=True)
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    held = []
    for name, path in sorted(photos.items()):
        caption = f"<__dj__image> {CAPTIONS[name]}"
        for file in crops(path, real, 8, rng, "train"):
            rows.append({"text": caption, "images": [f"real/{file}"], "label": "photo",
                         "meta": {"degraded": False, "wrong_caption": False, "photo": name}})
        held += [{"text": caption, "images": [f"real/{f}"], "label": "photo"}
                 for f in crops(path, real, 2, rng, "eval")]
    rng.shuffle(rows)
    train.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (out / "retrieval_real.jsonl").write_text("".join(json.dumps(r) + "\n" for r in held), encoding="utf-8")
    print(json.dumps({"train": len(rows), "photos": len(photos), "retrieval_real": len(held)}))


if __name__ == "__main__":
    main()
