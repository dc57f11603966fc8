"""video_frames_text_similarity_filter on a tiny randomly initialised CLIP (transformers' architecture) built here.

The operator converts the tiny CLIP to ONNX once and must give the torch model's cosine
similarities (transformers' own image processor and model) on the frames of the shared
videos, with DJ's chunk pairing, frame sampling, flips and reduce modes.
"""

from __future__ import annotations

import functools

import pytest

from juicedb.udfs.common.media import MediaBatch
from tests.conftest import SHARED_DATA
from tests.udfs.tiny_models import build_tiny_clip, clip_similarities, requires, write_dataset

ImageOps, *_ = requires("PIL.ImageOps", "torch", "transformers", "tokenizers", "av")

MEDIA = SHARED_DATA / "media"
VID1, VID3, VID5 = (str(MEDIA / f"video{i}.mp4") for i in (1, 3, 5))


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="module")
def torch_clip(clip_dir):
    """``sims(text, frames)``: the torch model's cosine similarities of ``text`` with each frame."""
    return clip_similarities(clip_dir)


@functools.cache
def _frames(video: str, method: str, num: int) -> list:
    return MediaBatch([[video]]).frames(video, method, num)


def frames(video: str, method: str = "all_keyframes", num: int = 3, hflip: bool = False) -> list:
    out = _frames(video, method, num)
    return [ImageOps.mirror(f) for f in out] if hflip else out


SAMPLES = [
    {"text": "<__dj__video> a cat on the sofa", "videos": [VID1]},
    {"text": "<__dj__video> a woman <|__dj__eoc|> no video here <|__dj__eoc|><__dj__video><__dj__video> "
             "a woman with a red umbrella", "videos": [VID5, VID3, VID1]},
    {"text": "<__dj__video> a bus <|__dj__eoc|><__dj__video> the bed", "videos": [VID5]},  # a token without a video
    {"text": "a caption without videos"},
]


def test_similarities_equal_the_torch_model(ws, tmp_path, clip_dir, torch_clip) -> None:
    path = write_dataset(tmp_path, SAMPLES)
    model = str(clip_dir)
    rows = ws.sql(f"SELECT video_frames_text_similarity(text, videos, model := '{model}') AS k, "
                  f"video_frames_text_similarity(text, videos, model := '{model}', frame_sampling_method := 'uniform',"
                  f" frame_num := 2, reduce_mode := 'max', horizontal_flip := true) AS u "
                  f"FROM dataset('{path}')").to_pylist()
    # all_keyframes, avg over every frame of every video of the chunk
    cat = torch_clip("a cat on the sofa", frames(VID1))
    woman = torch_clip("a woman", frames(VID5))
    umbrella = torch_clip("a woman with a red umbrella", frames(VID3) + frames(VID1))
    bus = torch_clip("a bus", frames(VID5))
    assert len(frames(VID3)) > 1 and len(umbrella) == len(frames(VID3)) + len(frames(VID1))
    assert rows[0]["k"] == pytest.approx([cat.mean()], abs=1e-5)
    assert rows[1]["k"] == pytest.approx([woman.mean(), umbrella.mean()], abs=1e-5)  # one value per chunk with videos
    assert rows[2]["k"] == pytest.approx([bus.mean(), 0.0], abs=1e-5)  # DJ: a chunk whose videos gave no frames is 0
    assert rows[3] == {"k": [], "u": []}
    # uniform 2 frames (the first and the last), mirrored, max
    u_umbrella = torch_clip("a woman with a red umbrella",
                            frames(VID3, "uniform", 2, hflip=True) + frames(VID1, "uniform", 2, hflip=True))
    assert len(u_umbrella) == 4
    assert rows[1]["u"][1] == pytest.approx(u_umbrella.max(), abs=1e-5)
    assert rows[0]["u"] == pytest.approx([torch_clip("a cat on the sofa", frames(VID1, "uniform", 2, True)).max()],
                                         abs=1e-5)
    assert rows[1]["u"][1] != pytest.approx(torch_clip("a woman with a red umbrella", frames(VID3, "uniform", 2)
                                                       + frames(VID1, "uniform", 2)).max(), abs=1e-6)  # flips count


def test_filter_any_all_and_broken_videos(ws, tmp_path, clip_dir) -> None:
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    samples = [*SAMPLES, {"text": "<__dj__video> a cat", "videos": [str(tmp_path / "bad.mp4")]}]
    path = write_dataset(tmp_path, samples)
    model = str(clip_dir)
    stats = [r["s"] for r in ws.sql(f"SELECT video_frames_text_similarity(text, videos, model := '{model}') AS s "
                                    f"FROM dataset('{path}')").to_pylist()]
    assert stats[4] is None  # the broken video: no stat, an errors row
    errors = ws.sql("SELECT s.text, e.op FROM errors e JOIN samples s USING (uid)").to_pylist()
    assert errors == [{"text": samples[4]["text"], "op": "video_frames_text_similarity_filter"}]
    lo = sorted(v for s in stats[:3] for v in s)[1]  # a bound between the values: 'any' and 'all' differ

    def kept(any_or_all: str) -> list[str]:
        out = ws.run(f"SELECT text FROM dataset('{path}') WHERE video_frames_text_similarity_filter(text, videos, "
                     f"model := '{model}', min_score := {lo}, max_score := 1.0, any_or_all := '{any_or_all}')")
        return out.column("text").to_pylist()

    for mode, test in (("any", any), ("all", all)):
        want = [s["text"] for s, v in zip(samples[:4], stats) if not v or test(lo <= x <= 1.0 for x in v)]
        assert kept(mode) == want
        assert samples[3]["text"] in want  # no videos: kept
    assert kept("any") != kept("all")
