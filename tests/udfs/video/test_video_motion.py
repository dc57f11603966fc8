"""video_motion_score_filter: DJ's cases on the shared videos, and the frame sampling of DJ's seek loop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

cv2 = pytest.importorskip("cv2")

MEDIA = SHARED_DATA / "media"
VID1, VID2, VID3 = (str(MEDIA / f"video{i}.mp4") for i in (1, 2, 3))
# DJ's tests/ops/filter/test_video_motion_score_filter.py notes 1.8210126, 3.600746, 1.1822891 (its OpenCV build)
DJ_SCORES = [1.8210126, 3.600746, 1.1822891]


def dj_seek_loop(path: str, sampling_fps: float = 2.0) -> float:
    """Data-Juicer's loop as it is written: read, flow, then seek with CAP_PROP_POS_FRAMES."""
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS)
    step = max(min(round(fps / min(sampling_fps, fps)), int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) - 1), 1)
    prev, count, scores = None, 0, []
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if prev is None:
            prev = gray
            continue
        flow = cv2.calcOpticalFlowFarneback(prev, gray, None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mag, _ = cv2.cartToPolar(flow[..., 0], flow[..., 1])
        scores.append(np.mean(mag))
        prev = gray
        count += step
        cap.set(cv2.CAP_PROP_POS_FRAMES, count)
    cap.release()
    return float(np.mean(scores))


def test_sampled_frames_are_djs(con) -> None:
    [[got]] = con.execute("SELECT video_motion_score([?])", [VID1]).fetchone()
    assert got == pytest.approx(dj_seek_loop(VID1), rel=1e-12)  # grabbing instead of seeking: the same frames


def test_dj_cases(ws, tmp_path) -> None:
    lists = [[VID1], [VID2], [VID3], [VID1, VID2], [VID2, VID3], [VID1, VID3]]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": str(i), "videos": v}) + "\n" for i, v in enumerate(lists)))
    scores = ws.sql(f"SELECT video_motion_score(videos) AS s FROM dataset('{path}')").column("s").to_pylist()
    assert [s[0] for s in scores[:3]] == pytest.approx(DJ_SCORES, abs=0.1)

    def kept(rule: str, rows: slice) -> list[list[str]]:
        out = ws.run(f"SELECT videos FROM dataset('{path}') WHERE video_motion_score_filter(videos, {rule})")
        return [v for v in out.column("videos").to_pylist() if v in lists[rows]]
    single, pairs = slice(0, 3), slice(3, 6)
    assert kept("min_score := 0.25", single) == [[VID1], [VID2], [VID3]]        # test_default
    assert kept("min_score := 3.0", single) == [[VID2]]                         # test_high
    assert kept("min_score := 0.0, max_score := 1.5", single) == [[VID3]]       # test_low
    assert kept("min_score := 1.5, max_score := 3.0", single) == [[VID1]]       # test_middle
    assert kept("min_score := 1.5, max_score := 3.0, any_or_all := 'any'", pairs) == [[VID1, VID2], [VID1, VID3]]
    assert kept("min_score := 1.5, max_score := 3.0, any_or_all := 'all'", pairs) == []
    assert sum(s.computed for s in ws.last_run.steps) == 0  # every threshold above reused the stored scores


def test_downscaled_and_relative(con) -> None:
    small, rel = con.execute("SELECT video_motion_score([?], size := 100), video_motion_score([?], relative := true)",
                             [VID1, VID1]).fetchone()
    assert 0.5 < small[0] < 1.8693  # DJ's test_downscale keeps video1 at min_score 0.5
    assert rel[0] == pytest.approx(1.8693 / np.hypot(360, 640), rel=1e-3)
