"""image_deduplicator -> ``image_hash``: perceptual hashes of a sample's images; keep the first of each.

Data-Juicer hashes each image with imagededup's PHash (default) and joins the
hashes of a sample's images into one string; samples with equal strings are
duplicates. PHash as imagededup defines it: the RGB image resized to 32 x 32
(Lanczos), to grey, a 2-D DCT-II (scipy), the top-left 8 x 8 coefficients, each
bit ``coefficient >= median of the 63 non-DC coefficients``, packed to 16 hex
digits. A sample without images has no hash and is never a duplicate; nor is
one whose image cannot be read (it is an ``errors`` row, and stays).
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pyarrow as pa

from juicedb.registry import OneOf, dedup_op
from juicedb.udfs.common.media import MediaBatch, open_image


def phash(item: str | bytes) -> str:
    """imagededup's perceptual hash of one image (16 hex digits).

    >>> from tests.conftest import SHARED_DATA
    >>> phash(str(SHARED_DATA / "media" / "img1.png"))
    '83fa7ca5f08a63a5'
    """
    from PIL import Image
    from scipy.fftpack import dct

    with open_image(item) as im:
        small = im.convert("RGB").resize((32, 32), Image.LANCZOS).convert("L")
    coef = dct(dct(np.asarray(small, dtype=np.uint8), axis=0), axis=1)[:8, :8]
    bits = coef >= np.median(coef.ravel()[1:])
    return np.packbits(bits).tobytes().hex()


@dedup_op("image_deduplicator", hash_key="image_hash", modality="image", inputs=("images",), cost="moderate")
def image_hash(batch: MediaBatch, *, method: Annotated[str, OneOf("phash")] = "phash") -> pa.Array:
    """The joined perceptual hashes of each sample's images (null without images).

    >>> from tests.conftest import SHARED_DATA
    >>> m = str(SHARED_DATA / "media")
    >>> image_hash(MediaBatch([[m + "/img1.png", m + "/img2.jpg"], [m + "/img1.png"], []])).to_pylist()[1:]
    ['83fa7ca5f08a63a5', None]
    """
    return pa.array(["".join(phash(i) for i in items) if items else None for items in batch.lists], pa.string())
