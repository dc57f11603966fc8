"""video_deduplicator -> ``video_hash``: md5 of a sample's video streams; keep the first of each.

Data-Juicer's hash: one md5 over the packets of every video stream of the
sample's videos (each distinct path once, in order), demuxed with PyAV — the
same encoded stream in another container (remuxed, other audio) is a
duplicate; a re-encoded one is not. A sample without videos has no hash and is
never a duplicate; nor is one whose video cannot be read (an ``errors`` row).
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from juicedb.registry import dedup_op
from juicedb.udfs.common.media import MediaBatch, open_video


def stream_md5(items: list[str | bytes]) -> str:
    """DJ's video hash of one sample's videos.

    >>> from tests.conftest import SHARED_DATA
    >>> stream_md5([str(SHARED_DATA / "media" / "video1.mp4")])
    '80ba761f8dcb683028e8c3acd90405dd'
    """
    md5 = hashlib.md5()
    for item in dict.fromkeys(items):
        with open_video(item) as (_, container, _stream):
            for packet in container.demux():
                if packet.stream.type == "video":
                    md5.update(bytes(packet))
    return md5.hexdigest()


@dedup_op("video_deduplicator", hash_key="video_hash", modality="video", inputs=("videos",), cost="moderate")
def video_hash(batch: MediaBatch) -> pa.Array:
    """The md5 of each sample's video streams (null without videos)."""
    return pa.array([stream_md5(items) if items else None for items in batch.lists], pa.string())
