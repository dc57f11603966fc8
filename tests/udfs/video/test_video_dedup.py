"""video_deduplicator: DJ's md5 over the video packets; a remuxed copy is a duplicate, another video is not."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA

av = pytest.importorskip("av")

MEDIA = SHARED_DATA / "media"


def remux(src_path, dst_path) -> None:
    """The same encoded video stream in another container (Matroska), audio left out."""
    with av.open(str(src_path)) as src, av.open(str(dst_path), "w") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        for packet in src.demux(stream):
            if packet.dts is not None:
                packet.stream = out
                dst.mux(packet)


def test_remuxed_copy_is_a_duplicate(ws, tmp_path) -> None:
    remux(MEDIA / "video1.mp4", tmp_path / "v1.mkv")
    samples = [("a", [MEDIA / "video1.mp4"]), ("b", [MEDIA / "video5.mp4"]), ("c", [tmp_path / "v1.mkv"]),
               ("d", []), ("e", []), ("f", [MEDIA / "video5.mp4", MEDIA / "video1.mp4"]),
               ("g", [MEDIA / "video5.mp4", MEDIA / "video1.mp4", MEDIA / "video5.mp4"])]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t, "videos": [str(v) for v in vs]}) + "\n" for t, vs in samples))
    out = ws.run(f"SELECT text, video_hash(videos) AS h FROM dataset('{path}') WHERE video_deduplicator(videos)")
    assert out.column("text").to_pylist() == ["a", "b", "d", "e", "f"]  # g repeats f: each path hashed once
    assert out.column("h").to_pylist()[0] == "80ba761f8dcb683028e8c3acd90405dd"
    trace = ws.sql("SELECT s.text FROM trace t JOIN samples s USING (uid) WHERE t.kind = 'dedup' ORDER BY 1")
    assert trace.column("text").to_pylist() == ["c", "g"]
