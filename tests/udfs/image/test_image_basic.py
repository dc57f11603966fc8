"""image_aspect_ratio_filter and image_shape_filter on the real media in ../shared/data/media.

DJ's own cases (tests/ops/filter/test_image_aspect_ratio_filter.py: img1 1.0, img2 1.333,
img3 0.684, any/all over image pairs) run through SQL; a missing or corrupt image is an
``errors`` row with the sample's uid and the reason, and the rest of the batch goes on.
"""

from __future__ import annotations

import json

import pytest

from juicedb.udfs.common.media import MediaBatch, MediaError
from tests.conftest import SHARED_DATA

pytest.importorskip("PIL")

MEDIA = SHARED_DATA / "media"
IMG1, IMG2, IMG3 = (str(MEDIA / n) for n in ("img1.png", "img2.jpg", "img3.jpg"))


def write_samples(path, samples: list[dict]):
    path.write_text("".join(json.dumps(s) + "\n" for s in samples), encoding="utf-8")
    return path


def kept(ws, tmp_path, image_lists, where) -> list[list[str]]:
    path = write_samples(tmp_path / "d.jsonl", [{"text": f"s{i}", "images": imgs} for i, imgs in enumerate(image_lists)])
    return ws.run(f"SELECT images FROM dataset('{path}') WHERE {where}").column("images").to_pylist()


SINGLE = [[IMG1], [IMG2], [IMG3]]
PAIRS = [[IMG1, IMG2], [IMG2, IMG3], [IMG1, IMG3]]


@pytest.mark.parametrize(("lists", "args", "want"), [
    (SINGLE, "min_ratio := 0.8, max_ratio := 1.2", [[IMG1]]),
    (SINGLE, "min_ratio := 0.8", [[IMG1], [IMG2]]),
    (SINGLE, "max_ratio := 1.2", [[IMG1], [IMG3]]),
    (PAIRS, "min_ratio := 0.8, max_ratio := 1.2, any_or_all := 'any'", [[IMG1, IMG2], [IMG1, IMG3]]),
    (PAIRS, "min_ratio := 0.8, max_ratio := 1.2, any_or_all := 'all'", []),
], ids=["filter1", "filter2", "filter3", "any", "all"])
def test_dj_aspect_ratio_cases(ws, tmp_path, lists, args, want) -> None:
    assert kept(ws, tmp_path, lists, f"image_aspect_ratio_filter(images, {args})") == want


def test_aspect_ratio_values_and_empty_lists(ws, tmp_path) -> None:
    path = write_samples(tmp_path / "d.jsonl", [{"text": "a", "images": [IMG1, IMG2, IMG3]}, {"text": "b", "images": []},
                                                {"text": "c"}])
    rows = ws.sql(f"SELECT aspect_ratios(images) AS r, image_aspect_ratio_filter(images, min_ratio := 2.0) AS k "
                  f"FROM dataset('{path}')").to_pylist()
    assert rows[0]["r"] == pytest.approx([1.0, 640 / 480, 0.684])
    assert rows[1] == {"r": [], "k": True}  # no image: kept, as DJ does
    assert rows[0]["k"] is False


def test_shape_values_and_rule(ws, tmp_path) -> None:
    path = write_samples(tmp_path / "d.jsonl", [{"text": "a", "images": [IMG1, IMG2, IMG3]}])
    [row] = ws.sql(f"SELECT image_width(images) AS w, image_height(images) AS h FROM dataset('{path}')").to_pylist()
    assert row == {"w": [336, 640, 342], "h": [336, 480, 500]}
    assert kept(ws, tmp_path, SINGLE, "image_shape_filter(images, min_width := 340)") == [[IMG2], [IMG3]]
    assert kept(ws, tmp_path, SINGLE, "image_shape_filter(images, min_width := 340, max_height := 490)") == [[IMG2]]
    assert kept(ws, tmp_path, PAIRS, "image_shape_filter(images, max_width := 400, any_or_all := 'all')") == [
        [IMG1, IMG3]]
    assert kept(ws, tmp_path, PAIRS, "image_shape_filter(images, min_height := 490, any_or_all := 'any')") == [
        [IMG2, IMG3], [IMG1, IMG3]]


def test_inline_bytes() -> None:
    from juicedb.udfs.image.image_aspect_ratio import aspect_ratios
    data = (MEDIA / "img2.jpg").read_bytes()
    assert aspect_ratios(MediaBatch([[data]])).to_pylist() == [[640 / 480]]
    with pytest.raises(MediaError, match=r"cannot read image <5 inline bytes>"):
        aspect_ratios(MediaBatch([[b"abcde"]]))


def test_missing_and_corrupt_images_are_error_rows(ws, tmp_path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff this is not a jpeg")
    samples = [{"text": "ok1", "images": [IMG1]}, {"text": "missing", "images": [str(tmp_path / "nope.png")]},
               {"text": "corrupt", "images": [IMG2, str(bad)]}, {"text": "ok2", "images": [IMG3]}]
    path = write_samples(tmp_path / "d.jsonl", samples)
    out = ws.run(f"SELECT text FROM dataset('{path}') WHERE image_aspect_ratio_filter(images, min_ratio := 0.5)")
    errors = ws.sql("SELECT e.op, e.message, s.text FROM errors e JOIN samples s USING (uid) ORDER BY s.text").to_pylist()
    assert out.column("text").to_pylist() == ["ok1", "ok2"]  # the batch went on
    assert [(e["text"], e["op"]) for e in errors] == [("corrupt", "image_aspect_ratio_filter"),
                                                      ("missing", "image_aspect_ratio_filter")]
    assert "cannot read image" in errors[0]["message"] and "broken.jpg" in errors[0]["message"]
    assert "image not found" in errors[1]["message"] and "nope.png" in errors[1]["message"]


def test_size_rule_reads_djs_size_strings(ws, tmp_path) -> None:
    # img1 171,427 bytes, img2 189,406, img3 113,695
    assert kept(ws, tmp_path, SINGLE, "image_size_filter(images, max_size := '170KB')") == [[IMG1], [IMG3]]  # 174,080
    assert kept(ws, tmp_path, SINGLE, "image_size_filter(images, max_size := '167KB')") == [[IMG3]]  # 171,008
    assert kept(ws, tmp_path, SINGLE, "image_size_filter(images, min_size := '160kib', max_size := '180KB')") == [
        [IMG1]]
    assert kept(ws, tmp_path, SINGLE, "image_size_filter(images)") == SINGLE  # 0 .. 1TB
    assert kept(ws, tmp_path, PAIRS, "image_size_filter(images, max_size := '120000', any_or_all := 'all')") == []
    assert kept(ws, tmp_path, PAIRS, "image_size_filter(images, max_size := '120000', any_or_all := 'any')") == [
        [IMG2, IMG3], [IMG1, IMG3]]


def test_bad_size_string_fails_before_any_row(ws, tmp_path) -> None:
    from juicedb.errors import ParamError
    with pytest.raises(ParamError, match=r"parameter 'max_size' must be a size such as '0', '512KB' or '1TB'"):
        kept(ws, tmp_path, SINGLE, "image_size_filter(images, max_size := '12 parsecs')")


def test_operators_work_as_plain_duckdb_functions(con) -> None:
    row = con.execute("SELECT aspect_ratios([?, ?]), image_height([?]), image_sizes([?]), "
                      "image_shape_filter([?], min_width := 700)", [IMG2, IMG3, IMG3, IMG1, IMG2]).fetchone()
    assert row == ([640 / 480, 0.684], [500], [171427], False)
