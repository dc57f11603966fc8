"""video_aesthetics_filter and video_watermark_filter on the shared videos, with tiny random models built here.

The frames are media.py's sampling (DJ's ``uniform`` / ``all_keyframes``, tested in
test_video_frames_nsfw.py); each frame's score must be the torch model's, reduced per
video as DJ does (``avg``/``max``/``min``; no frames: 0.0).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from juicedb.udfs.common.media import MediaBatch
from tests.conftest import SHARED_DATA

pytest.importorskip("av")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tests.udfs.image.test_image_aesthetics_watermark import (  # noqa: E402  (after the skips)
    build_classifier,
    build_predictor,
    reference_aesthetics,
    reference_watermark,
)

MEDIA = SHARED_DATA / "media"
VID1, VID4 = str(MEDIA / "video1.mp4"), str(MEDIA / "video4.mp4")


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-aesthetics")
    return folder, build_predictor(folder, seed=2)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-watermark")
    return folder, build_classifier(folder, seed=2)


def test_aesthetics_are_the_predictors_frame_scores_reduced(predictor) -> None:
    from juicedb.udfs.video.video_aesthetics import video_frames_aesthetics_score
    folder, model = predictor
    per_video = {v: reference_aesthetics(folder, model, MediaBatch([[v]]).frames(v, "uniform", 3))
                 for v in (VID1, VID4)}
    batch = MediaBatch([[VID1], [], None, [VID4, VID1]])
    for mode, reduce in (("avg", np.mean), ("max", np.max), ("min", np.min)):
        out = video_frames_aesthetics_score(batch, hf_scorer_model=str(folder), reduce_mode=mode).to_pylist()
        want = {v: float(reduce(s)) for v, s in per_video.items()}
        assert out == [pytest.approx([want[VID1]], abs=1e-5), [], None,
                       pytest.approx([want[VID4], want[VID1]], abs=1e-5)]
    assert len(set(np.round(per_video[VID1], 5))) == 3  # the three frames score differently


def test_watermark_is_the_classifiers_keyframe_probability_reduced(classifier) -> None:
    from juicedb.udfs.video.video_watermark import video_watermark_prob
    folder, model = classifier
    keyframes = MediaBatch([[VID1]]).frames(VID1, "all_keyframes")
    uniform = MediaBatch([[VID4]]).frames(VID4, "uniform", 2)
    assert len(keyframes) > 1
    out = video_watermark_prob(MediaBatch([[VID1]]), hf_watermark_model=str(folder), reduce_mode="max").to_pylist()
    assert out == [[pytest.approx(max(reference_watermark(folder, model, keyframes)), abs=1e-5)]]
    out = video_watermark_prob(MediaBatch([[VID4]]), hf_watermark_model=str(folder),
                               frame_sampling_method="uniform", frame_num=2).to_pylist()
    assert out == [[pytest.approx(float(np.mean(reference_watermark(folder, model, uniform))), abs=1e-5)]]


def test_a_video_without_frames_scores_zero(classifier) -> None:
    from juicedb.udfs.video.video_watermark import video_watermark_prob
    batch = MediaBatch([[VID1]])
    batch._frames[(VID1, "all_keyframes", 3)] = []  # as if the stream had no frame to decode
    assert video_watermark_prob(batch, hf_watermark_model=str(classifier[0])).to_pylist() == [[0.0]]


def test_filters_in_sql_keep_by_any_or_all_and_report_broken_videos(ws, tmp_path, predictor, classifier) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"nope")
    samples = [{"text": "a", "videos": [VID1]}, {"text": "b", "videos": [str(tmp_path / "bad.mp4")]},
               {"text": "c", "videos": [VID1, VID4]}, {"text": "d"}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    aes, wm = str(predictor[0]), str(classifier[0])
    rows = ws.sql(f"SELECT text, video_frames_aesthetics_score(videos, hf_scorer_model := '{aes}') AS a, "
                  f"video_watermark_prob(videos, hf_watermark_model := '{wm}', frame_sampling_method := 'uniform') "
                  f"AS w FROM dataset('{path}')").to_pylist()
    a = {r["text"]: r["a"] for r in rows}
    w = {r["text"]: r["w"] for r in rows}
    assert a["d"] == [] and a["b"] is None and a["c"][0] == a["a"][0]
    mid = sum(a["c"]) / 2  # between the two videos' scores: 'any' keeps c, 'all' drops it
    high = a["a"][0] >= mid
    for mode, want in (("any", {"c", "d"}), ("all", {"d"})):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_aesthetics_filter(videos, "
                      f"hf_scorer_model := '{aes}', min_score := {mid}, max_score := 1.0, any_or_all := '{mode}')")
        assert set(kept.column("text").to_pylist()) == want | ({"a"} if high else set())
    mid = sum(w["c"]) / 2
    low = w["a"][0] < mid
    for mode, want in (("any", {"c", "d"}), ("all", {"d"})):
        kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_watermark_filter(videos, "
                      f"hf_watermark_model := '{wm}', frame_sampling_method := 'uniform', prob_threshold := {mid}, "
                      f"any_or_all := '{mode}')")
        assert set(kept.column("text").to_pylist()) == want | ({"a"} if low else set())
    errors = ws.sql("SELECT DISTINCT s.text, e.op FROM errors e JOIN samples s USING (uid) ORDER BY 2").to_pylist()
    assert errors == [{"text": "b", "op": "video_aesthetics_filter"}, {"text": "b", "op": "video_watermark_filter"}]


def test_dj_defaults() -> None:
    from juicedb.registry import get_op
    aes, wm = get_op("video_aesthetics_filter"), get_op("video_watermark_filter")
    assert {p.name: p.default for p in aes.params} == {
        "hf_scorer_model": "shunk031/aesthetics-predictor-v2-sac-logos-ava1-l14-linearMSE",
        "trust_remote_code": False, "frame_sampling_method": "uniform", "frame_num": 3, "reduce_mode": "avg"}
    assert {r.name: r.default for r in aes.rule_params} == {"min_score": 0.4, "max_score": 1.0, "any_or_all": "any"}
    assert {p.name: p.default for p in wm.params} == {
        "hf_watermark_model": "amrul-hzz/watermark_detector", "trust_remote_code": False,
        "frame_sampling_method": "all_keyframes", "frame_num": 3, "reduce_mode": "avg"}
    assert {r.name: r.default for r in wm.rule_params} == {"prob_threshold": 0.8, "any_or_all": "any"}
