"""Text detection: PP-OCRv4's text detector (DB) as rapidocr-onnxruntime ships it, run on our ONNX Runtime session.

Only the detection model file of the ``rapidocr-onnxruntime`` package is used
(``models/ch_PP-OCRv4_det_infer.onnx``, Chinese and Latin script); the package is
installed ``--no-deps`` (its opencv-python requirement would clash with
opencv-python-headless) and never imported. The file is copied once into the model
cache, where ``session()`` keeps its optimised graph.

The pre- and post-processing are RapidOCR 1.4's detection path with its defaults
(``RapidOCR()(image, use_det=True, use_cls=False, use_rec=False)``), so the boxes are
RapidOCR's:

1. the image as BGR; its longer side reduced to 2000 (its shorter side raised to 30),
   each side rounded to a multiple of 32; images at most 30 high or 8 times wider
   than high padded above and below with black;
2. resized so the shorter side is at least 736 (sides rounded to multiples of 32,
   bilinear), scaled to [-1, 1];
3. DB post-processing: probability map > 0.3, dilated 2 x 2; per contour (at most
   1000) the minimum-area rectangle, dropped when its short side is under 3 or the
   mean probability inside it under 0.5; grown by area x 1.6 / perimeter (Clipper's
   round offset, ``pyclipper``); its minimum-area rectangle again (short side >= 5),
   scaled back, corners ordered clockwise, clipped to the image, dropped when a side
   is 3 pixels or less; then mapped to the input image's pixels.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import MissingDependencyError
from juicedb.udfs.common.media import media_pool
from juicedb.udfs.common.onnx import converted, load_once, session

PACKAGE, MODULE, MODEL_FILE = "rapidocr-onnxruntime", "rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx"
INSTALL = "pip install 'juicedb[video-models]' && pip install --no-deps 'rapidocr-onnxruntime==1.4.4'"
COPY_VERSION = "1"  # bump when the cached copy's layout changes

# RapidOCR 1.4's defaults (config.yaml: Global and Det)
MAX_SIDE, MIN_SIDE, MIN_HEIGHT, WIDTH_HEIGHT_RATIO = 2000, 30, 30, 8
LIMIT_SIDE = 736            # limit_type "min": the shorter side is raised to this
MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)
THRESH, BOX_THRESH, UNCLIP_RATIO, MAX_CANDIDATES, MIN_SIZE = 0.3, 0.5, 1.6, 1000, 3
DET_RUN = 4  # images of one shape per ONNX run: (4, 3, 736, 1312) float32 is 46 MB, its activations ~10x
PREPARED = 32  # images preprocessed at a time (a 640 x 360 frame becomes 11.6 MB of input)


def _cv2(op: str) -> Any:
    try:
        import cv2
    except ImportError:
        raise MissingDependencyError(f"{op} needs OpenCV: pip install 'juicedb[video]'") from None
    return cv2


def _pyclipper(op: str) -> Any:
    try:
        import pyclipper
    except ImportError:
        raise MissingDependencyError(f"{op} needs pyclipper (DB box expansion): {INSTALL}") from None
    return pyclipper


def packaged_model(op: str) -> Path:
    """The detection model inside the installed rapidocr-onnxruntime, located without importing the package."""
    spec = find_spec(MODULE)
    folder = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    if folder is None or not (folder / MODEL_FILE).is_file():
        raise MissingDependencyError(f"{op} needs the PP-OCRv4 text detection model that {PACKAGE} ships "
                                     f"({MODEL_FILE}): {INSTALL}")
    return folder / MODEL_FILE


def _copy(model: Path, dest: Path, op: str) -> None:
    dest.mkdir(parents=True)
    shutil.copyfile(model, dest / "det.onnx")
    meta = {"source": f"{PACKAGE} {model.name}", "operators": op, "converter": COPY_VERSION, "file": str(model)}
    (dest / "meta.json").write_text(json.dumps(meta, indent=1))


def _resize32(cv2: Any, img: np.ndarray, ratio: float) -> np.ndarray:
    """RapidOCR's resize: sides scaled by ``ratio``, truncated, then rounded to multiples of 32 (bilinear)."""
    h, w = img.shape[:2]
    rh, rw = round(int(h * ratio) / 32) * 32, round(int(w * ratio) / 32) * 32
    if rh <= 0 or rw <= 0:
        raise ValueError(f"image of {w}x{h} pixels is too small to detect text in")
    return cv2.resize(img, (rw, rh))


class TextDetector:
    """PP-OCRv4 text detection: ``boxes(images)`` gives each image's text quadrilaterals in its own pixels."""

    def __init__(self, folder: Path, op: str) -> None:
        self.cv2, self.pyclipper = _cv2(op), _pyclipper(op)
        self.session = session(folder / "det.onnx", op)
        self.input = self.session.get_inputs()[0].name

    def prepare(self, image: Any) -> tuple[np.ndarray, dict[str, float]]:
        """Steps 1-2 for one PIL image: the network input (3, H, W) and how to map boxes back."""
        cv2 = self.cv2
        img = np.asarray(image.convert("RGB"))[:, :, ::-1]  # RapidOCR reads PIL images as BGR
        raw_h, raw_w = img.shape[:2]
        back = {"raw_h": raw_h, "raw_w": raw_w, "ratio_h": 1.0, "ratio_w": 1.0, "top": 0}
        h, w = img.shape[:2]
        if max(h, w) > MAX_SIDE:
            img = _resize32(cv2, img, MAX_SIDE / (h if h > w else w))
        h, w = img.shape[:2]
        if min(h, w) < MIN_SIDE:
            img = _resize32(cv2, img, MIN_SIDE / (h if h < w else w))
        back["ratio_h"], back["ratio_w"] = raw_h / img.shape[0], raw_w / img.shape[1]
        h, w = img.shape[:2]
        if h <= MIN_HEIGHT or w / h > WIDTH_HEIGHT_RATIO:
            pad = int(abs(max(int(w / WIDTH_HEIGHT_RATIO), MIN_HEIGHT) * 2 - h) / 2)
            img = cv2.copyMakeBorder(img, pad, pad, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            back["top"] = pad
        h, w = img.shape[:2]
        back["det_h"], back["det_w"] = h, w
        side = min(h, w)
        net = _resize32(cv2, img, LIMIT_SIDE / side if side < LIMIT_SIDE else 1.0)
        net = (net.astype(np.float32) * (1 / 255.0) - np.array(MEAN)) / np.array(STD)
        return net.transpose(2, 0, 1).astype(np.float32), back

    def boxes(self, images: Sequence[Any]) -> list[np.ndarray]:
        """Each image's text boxes, ``(n, 4, 2)`` float32 corner points (x, y) in the image's pixels."""
        out: list[np.ndarray] = []
        for s in range(0, len(images), PREPARED):
            out.extend(self._boxes(images[s:s + PREPARED]))
        return out

    def _boxes(self, images: Sequence[Any]) -> list[np.ndarray]:
        prepared = list(media_pool().map(self.prepare, images))
        maps: list[Any] = [None] * len(prepared)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, (net, _) in enumerate(prepared):
            by_shape.setdefault(net.shape, []).append(i)
        for idx in by_shape.values():
            for s in range(0, len(idx), DET_RUN):
                run = idx[s:s + DET_RUN]
                out = self.session.run(None, {self.input: np.stack([prepared[i][0] for i in run])})[0]
                for i, prob in zip(run, out):
                    maps[i] = prob[0]
        return list(media_pool().map(lambda i: self.post(maps[i], prepared[i][1]), range(len(prepared))))

    # ----------------------------------------------------------------- step 3: DB post-processing

    def post(self, prob: np.ndarray, back: dict[str, float]) -> np.ndarray:
        """The boxes of one probability map, in the input image's pixels."""
        cv2 = self.cv2
        mask = cv2.dilate((prob > THRESH).astype(np.uint8), np.array([[1, 1], [1, 1]]))
        height, width = mask.shape
        det_h, det_w = back["det_h"], back["det_w"]
        contours = cv2.findContours((mask * 255).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
        kept = []
        for contour in contours[:MAX_CANDIDATES]:
            points, short = self._mini_box(contour)
            if short < MIN_SIZE or self._score(prob, points.reshape(-1, 2)) < BOX_THRESH:
                continue
            box, short = self._mini_box(self._unclip(points))
            if short < MIN_SIZE + 2:
                continue
            box[:, 0] = np.clip(np.round(box[:, 0] / width * det_w), 0, det_w)
            box[:, 1] = np.clip(np.round(box[:, 1] / height * det_h), 0, det_h)
            box = self._clockwise(box.astype(np.int32))
            box[:, 0] = np.clip(box[:, 0], 0, det_w - 1).astype(np.int32)  # RapidOCR's int(min(max(v, 0), w - 1))
            box[:, 1] = np.clip(box[:, 1], 0, det_h - 1).astype(np.int32)
            if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
                continue
            kept.append(box)
        if not kept:
            return np.zeros((0, 4, 2), dtype=np.float32)
        out = np.array(kept, dtype=np.float32)
        out[:, :, 1] -= back["top"]
        out[:, :, 0] *= back["ratio_w"]
        out[:, :, 1] *= back["ratio_h"]
        out = np.where(out < 0, 0, out)
        out[..., 0] = np.where(out[..., 0] > back["raw_w"], back["raw_w"], out[..., 0])
        out[..., 1] = np.where(out[..., 1] > back["raw_h"], back["raw_h"], out[..., 1])
        return out

    def _mini_box(self, contour: np.ndarray) -> tuple[np.ndarray, float]:
        """The minimum-area rectangle's corners (left pair, then right pair, each top first) and its short side."""
        rect = self.cv2.minAreaRect(contour)
        p = sorted(self.cv2.boxPoints(rect), key=lambda q: q[0])
        i1, i4 = (0, 1) if p[1][1] > p[0][1] else (1, 0)
        i2, i3 = (2, 3) if p[3][1] > p[2][1] else (3, 2)
        return np.array([p[i1], p[i2], p[i3], p[i4]]), min(rect[1])

    def _score(self, prob: np.ndarray, box: np.ndarray) -> float:
        """Mean probability inside the box ("fast" score mode: the box's polygon on its bounding rectangle)."""
        h, w = prob.shape
        box = box.copy()
        xmin = np.clip(np.floor(box[:, 0].min()).astype(np.int32), 0, w - 1)
        xmax = np.clip(np.ceil(box[:, 0].max()).astype(np.int32), 0, w - 1)
        ymin = np.clip(np.floor(box[:, 1].min()).astype(np.int32), 0, h - 1)
        ymax = np.clip(np.ceil(box[:, 1].max()).astype(np.int32), 0, h - 1)
        mask = np.zeros((ymax - ymin + 1, xmax - xmin + 1), dtype=np.uint8)
        box[:, 0] -= xmin
        box[:, 1] -= ymin
        self.cv2.fillPoly(mask, box.reshape(1, -1, 2).astype(np.int32), 1)
        return self.cv2.mean(prob[ymin:ymax + 1, xmin:xmax + 1], mask)[0]

    def _unclip(self, box: np.ndarray) -> np.ndarray:
        """The box grown by ``area * 1.6 / perimeter`` with round corners (Clipper, integer coordinates)."""
        x, y = box[:, 0].astype(np.float64), box[:, 1].astype(np.float64)
        area = abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2
        length = float(np.hypot(np.roll(x, -1) - x, np.roll(y, -1) - y).sum())
        offset = self.pyclipper.PyclipperOffset()
        offset.AddPath(box, self.pyclipper.JT_ROUND, self.pyclipper.ET_CLOSEDPOLYGON)
        paths = offset.Execute(area * UNCLIP_RATIO / length)
        return np.array([p for path in paths for p in path]).reshape((-1, 1, 2))

    @staticmethod
    def _clockwise(pts: np.ndarray) -> np.ndarray:
        """Top-left, top-right, bottom-right, bottom-left (the two leftmost points are the left side)."""
        xs = pts[np.argsort(pts[:, 0]), :]
        left, right = xs[:2, :], xs[2:, :]
        tl, bl = left[np.argsort(left[:, 1]), :]
        tr, br = right[np.argsort(right[:, 1]), :]
        return np.array([tl, tr, br, bl], dtype=np.float32)


def quad_area(boxes: np.ndarray) -> float:
    """Summed area of quadrilaterals ``(n, 4, 2)``, each as the triangles (p0, p1, p2) and (p2, p3, p0) (DJ's sum).

    >>> quad_area(np.array([[[0, 0], [4, 0], [4, 2], [0, 2]], [[0, 0], [1, 0], [1, 1], [0, 1]]], dtype=np.float32))
    9.0
    """
    b = boxes.astype(np.float64)

    def tri(p: np.ndarray, q: np.ndarray, r: np.ndarray) -> np.ndarray:
        return 0.5 * np.abs((q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (r[:, 0] - p[:, 0]) * (q[:, 1] - p[:, 1]))

    return float((tri(b[:, 0], b[:, 1], b[:, 2]) + tri(b[:, 2], b[:, 3], b[:, 0])).sum())


def load_detector(op: str) -> TextDetector:
    """The packaged PP-OCRv4 detector, copied into the model cache once and loaded once per process."""
    def make() -> TextDetector:
        model = packaged_model(op)
        st = model.stat()
        digest = hashlib.sha1(f"ocr-det-v{COPY_VERSION}:{model}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()
        folder = converted(f"ppocr-v4-det-{digest[:12]}", lambda dest: _copy(model, dest, op))
        return TextDetector(folder, op)
    return load_once("ocr_det", "packaged", make)
