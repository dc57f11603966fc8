"""video_ocr_area_ratio_filter: PP-OCRv4 text detection (rapidocr-onnxruntime's model) on the shared videos' frames.

The detector's boxes must be RapidOCR's own (its detection path with its defaults)
on real frames; the stat is DJ's: detected text area / frame area, averaged over the
uniformly sampled frames.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.media import MediaBatch
from tests.conftest import SHARED_DATA

pytest.importorskip("av")
pytest.importorskip("cv2")
pytest.importorskip("pyclipper")
ocr = pytest.importorskip("juicedb.udfs.common.ocr")
try:
    ocr.packaged_model("test")
except MissingDependencyError:
    pytestmark = pytest.mark.skip(reason="rapidocr-onnxruntime (its detection model) is not installed")

MEDIA = SHARED_DATA / "media"
VID2, VID5 = str(MEDIA / "video2.mp4"), str(MEDIA / "video5.mp4")  # captions, watermarks (not in every frame)


@pytest.fixture(scope="module")
def detector():
    return ocr.load_detector("test")


@pytest.fixture(scope="module")
def frames():
    return {v: MediaBatch([[v]]).frames(v, "uniform", 2) for v in (VID2, VID5)}


@pytest.fixture(scope="module")
def boxes(detector, frames):
    """Each video's frames' boxes, the frames of both detected in one call."""
    found = iter(detector.boxes([f for fs in frames.values() for f in fs]))
    return {v: [next(found) for _ in fs] for v, fs in frames.items()}


def test_boxes_are_rapidocrs(detector, frames, boxes) -> None:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as e:  # its module imports shapely, pyclipper, yaml and cv2 (opencv-python-headless serves)
        pytest.skip(f"rapidocr_onnxruntime does not import here: {e}")
    from PIL import Image
    engine = RapidOCR()
    wide = np.asarray(frames[VID2][0])[:70]  # the caption bar ...
    strip = Image.fromarray(np.concatenate([wide] * 5, axis=1))  # ... 2400 x 70: reduced to 2000 wide, then padded
    tiny = frames[VID5][0].resize((27, 48))  # raised to 30 wide
    images = [*frames[VID2], *frames[VID5], strip, tiny]
    ours = [*boxes[VID2], *boxes[VID5], *detector.boxes([strip, tiny])]
    for image, got in zip(images, ours, strict=True):
        res, _ = engine(np.asarray(image)[:, :, ::-1].copy(), use_det=True, use_cls=False, use_rec=False)
        want = np.array(res if res else np.zeros((0, 4, 2)), dtype=np.float32)
        assert sorted(map(tuple, got.reshape(-1, 8).tolist())) == sorted(map(tuple, want.reshape(-1, 8).tolist()))
    counts = [len(b) for b in ours]
    assert sum(counts[:4]) >= 6 and counts[4] >= 1  # real text found, in the strip too
    assert counts[3] == 0  # and a frame without text (video5's last)


def test_stat_is_the_mean_area_ratio_of_uniform_frames_and_filters(ws, tmp_path, frames, boxes) -> None:
    samples = [{"text": "a", "videos": [VID2]}, {"text": "b", "videos": [VID5, VID2]}, {"text": "c"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    rows = ws.sql(f"SELECT video_ocr_area_ratio(videos, frame_sample_num := 2) AS r FROM dataset('{path}')").to_pylist()
    [[v2], [v5, v2_again], none] = [r["r"] for r in rows]

    def mean_ratio(video: str) -> float:
        return float(np.mean([ocr.quad_area(b) / (f.width * f.height) for f, b in zip(frames[video], boxes[video])]))

    assert v2 == v2_again == pytest.approx(mean_ratio(VID2), abs=1e-12) and none == []
    assert v5 == pytest.approx(mean_ratio(VID5), abs=1e-12)
    # DJ's easyocr gives video2 about 0.29 (a caption bar and a printed shirt); video5: a watermark, then none
    assert 0.15 < v2 < 0.35 and 0.005 < v5 < 0.05
    assert (boxes[VID2][0][:, :, 1].max(axis=1) < 80).any()  # the caption bar across the top of video2

    def kept(rule: str) -> list[str]:
        out = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_ocr_area_ratio_filter(videos, "
                     f"frame_sample_num := 2, {rule})")
        return out.column("text").to_pylist()

    assert kept("max_area_ratio := 0.1") == ["b", "c"]  # video5 under 0.1, video2 over ('any'); no videos: kept
    assert kept("max_area_ratio := 0.1, any_or_all := 'all'") == ["c"]
    assert kept("min_area_ratio := 0.1") == ["a", "b", "c"]  # DJ's defaults: min 0, max 1


def test_a_broken_video_is_an_errors_row(ws, tmp_path) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "bad", "videos": [str(tmp_path / "bad.mp4")]}) + "\n"
                    + json.dumps({"text": "none", "videos": []}) + "\n")
    out = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_ocr_area_ratio_filter(videos)")
    assert out.column("text").to_pylist() == ["none"]
    errors = ws.sql("SELECT s.text, e.op FROM errors e JOIN samples s USING (uid)").to_pylist()
    assert errors == [{"text": "bad", "op": "video_ocr_area_ratio_filter"}]


def test_a_missing_package_names_the_install(monkeypatch) -> None:
    monkeypatch.setattr(ocr, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"video_ocr_area_ratio_filter needs the PP-OCRv4 text detection "
                       r"model that rapidocr-onnxruntime ships .*pip install --no-deps 'rapidocr-onnxruntime==1\.4\.4'"):
        ocr.packaged_model("video_ocr_area_ratio_filter")
