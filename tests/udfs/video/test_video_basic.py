"""video_duration_filter, video_resolution_filter, video_aspect_ratio_filter on the real videos in ../shared/data/media.

DJ's expectations: durations 12 / 23 / 50 s (video1..3, DJ's test_video_duration_filter), DJ's
any/all semantics on video pairs; a missing or corrupt video is an ``errors`` row.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA

pytest.importorskip("av")

MEDIA = SHARED_DATA / "media"
VID1, VID2, VID3 = (str(MEDIA / f"video{i}.mp4") for i in (1, 2, 3))
SINGLE = [[VID1], [VID2], [VID3]]
PAIRS = [[VID1, VID2], [VID2, VID3], [VID1, VID3]]


def kept(ws, tmp_path, video_lists, where) -> list[list[str]]:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": f"s{i}", "videos": v}) + "\n" for i, v in enumerate(video_lists)))
    return ws.run(f"SELECT videos FROM dataset('{path}') WHERE {where}").column("videos").to_pylist()


def test_dj_demo_dataset_stats(ws) -> None:
    demo = SHARED_DATA / "dj_demos" / "demo-dataset-videos.jsonl"
    rows = ws.sql(f"SELECT video_duration(videos) AS d, video_width(videos) AS w, video_height(videos) AS h, "
                  f"video_aspect_ratios(videos) AS r FROM dataset('{demo}')").to_pylist()
    assert [r["d"] for r in rows] == [[12], [12], [23], [23], [50], [50]]
    assert [(r["w"], r["h"]) for r in rows[::2]] == [([640], [360]), ([480], [640]), ([362], [640])]
    assert [r["r"] for r in rows[::2]] == [[640 / 360], [0.75], [362 / 640]]


@pytest.mark.parametrize(("lists", "where", "want"), [
    (SINGLE, "video_duration_filter(videos, min_duration := 10, max_duration := 20)", [[VID1]]),
    (SINGLE, "video_duration_filter(videos, min_duration := 10)", SINGLE),
    (SINGLE, "video_duration_filter(videos, max_duration := 20)", [[VID1]]),
    (PAIRS, "video_duration_filter(videos, min_duration := 15, max_duration := 30, any_or_all := 'any')",
     [[VID1, VID2], [VID2, VID3]]),
    (PAIRS, "video_duration_filter(videos, min_duration := 15, max_duration := 30, any_or_all := 'all')", []),
    (PAIRS, "video_duration_filter(videos, min_duration := 10, max_duration := 60, any_or_all := 'all')", PAIRS),
], ids=["range", "min", "max", "any", "all-none", "all-every"])
def test_duration_rule(ws, tmp_path, lists, where, want) -> None:
    assert kept(ws, tmp_path, lists, where) == want


def test_resolution_and_aspect_rules(ws, tmp_path) -> None:
    assert kept(ws, tmp_path, SINGLE, "video_resolution_filter(videos, min_width := 400, min_height := 400)") == [
        [VID2]]
    assert kept(ws, tmp_path, PAIRS, "video_resolution_filter(videos, max_width := 500, any_or_all := 'all')") == [
        [VID2, VID3]]
    assert kept(ws, tmp_path, SINGLE, "video_aspect_ratio_filter(videos)") == SINGLE  # 9/21 .. 21/9
    assert kept(ws, tmp_path, SINGLE, "video_aspect_ratio_filter(videos, min_ratio := 0.6)") == [[VID1], [VID2]]
    assert kept(ws, tmp_path, PAIRS, "video_aspect_ratio_filter(videos, max_ratio := 1.0, any_or_all := 'any')") == [
        [VID1, VID2], [VID2, VID3], [VID1, VID3]]


def test_missing_and_corrupt_videos_are_error_rows(ws, tmp_path) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    path = tmp_path / "d.jsonl"
    samples = [{"text": "ok", "videos": [VID1]}, {"text": "missing", "videos": [str(tmp_path / "nope.mp4")]},
               {"text": "corrupt", "videos": [str(bad)]}, {"text": "none", "videos": []}]
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    out = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_duration_filter(videos, max_duration := 20)")
    errors = ws.sql("SELECT s.text, e.message FROM errors e JOIN samples s USING (uid) ORDER BY s.text").to_pylist()
    assert out.column("text").to_pylist() == ["ok", "none"]
    assert [e["text"] for e in errors] == ["corrupt", "missing"]
    assert "cannot read video" in errors[0]["message"] and "video not found" in errors[1]["message"]
