"""image_deduplicator: imagededup's PHash per image, joined per sample; equal strings are duplicates (DJ)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED_DATA

Image = pytest.importorskip("PIL.Image")

MEDIA = SHARED_DATA / "media"


def test_keeps_the_first_of_each_hash_and_traces_the_twin(ws, tmp_path) -> None:
    src = Image.open(MEDIA / "img2.jpg")
    src.save(tmp_path / "img2_lossless.png")                 # same pixels, other file and format
    src.resize((320, 240)).save(tmp_path / "img2_half.png")   # other pixels: 2 bits away from img2's hash
    src.save(tmp_path / "img2_q50.jpg", quality=50)          # ... and equal to the half-size copy's
    samples = [("a", [MEDIA / "img2.jpg"]), ("b", [tmp_path / "img2_lossless.png"]), ("c", [MEDIA / "img3.jpg"]),
               ("d", [tmp_path / "img2_half.png"]), ("e", [tmp_path / "img2_q50.jpg"]), ("f", []),
               ("g", []), ("h", [MEDIA / "img3.jpg", MEDIA / "img2.jpg"]), ("i", [MEDIA / "img3.jpg", MEDIA / "img2.jpg"])]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": t, "images": [str(p) for p in imgs]}) + "\n" for t, imgs in samples))
    out = ws.run(f"SELECT text, image_hash(images) AS h FROM dataset('{path}') WHERE image_deduplicator(images)")
    assert out.column("text").to_pylist() == ["a", "c", "d", "f", "g", "h"]  # no images: never a duplicate
    hashes = dict(zip(out.column("text").to_pylist(), out.column("h").to_pylist()))
    assert hashes["a"] == "95bfb4c08a7ccd32" and hashes["d"] == "95bfb4c0ca7ccd30"
    assert hashes["h"] == "969899d62dc98e9e" + "95bfb4c08a7ccd32"  # a sample's hashes joined in order
    trace = ws.sql("SELECT s.text, t.detail FROM trace t JOIN samples s USING (uid) WHERE t.kind = 'dedup' "
                   "ORDER BY s.text").to_pylist()
    assert [r["text"] for r in trace] == ["b", "e", "i"]
    assert all(r["detail"].startswith("duplicate of uid ") for r in trace)


def test_unreadable_image_is_an_error_row(ws, tmp_path) -> None:
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"text": "x", "images": [str(tmp_path / "bad.png")]}) + "\n"
                    + json.dumps({"text": "y", "images": [str(MEDIA / "img1.png")]}) + "\n")
    out = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_deduplicator(images)")
    errors = ws.sql("SELECT op, message FROM errors").to_pylist()
    assert out.column("text").to_pylist() == ["x", "y"]  # not known to repeat anything: kept, and reported
    assert errors[0]["op"] == "image_deduplicator" and "cannot read image" in errors[0]["message"]
