"""``clip_contrastive``: a small contrastive image-text model, trained on a pool for a fixed number of samples.

Tiny encoders with trainable projections, as small as the sandbox needs: the image tower is a
three-layer CNN over ``image_size`` x ``image_size`` RGB, the text tower a bag of hashed
lower-cased words; both project to ``embed_dim`` and train with CLIP's symmetric InfoNCE loss and a
learnable temperature. Every pool sees the same number of samples (``samples`` x the workflow's
``scale``), drawn with replacement, as DataComp fixes samples seen.

The evaluator reports, on held-out sets the user names:

- ``<set>.zero_shot_acc``: JSONL lines with ``images`` and ``label``; each image is classified
  by the nearest class prompt (``templates``, e.g. ``"a photo of a {}"``, averaged);
- ``<set>.i2t_r@k`` and ``<set>.t2i_r@k``: JSONL lines with ``images`` and ``text``; recall@k of
  image-to-text and text-to-image retrieval among the set.

Nothing is pretrained (no CLIP weights ship in any package here), so absolute numbers are those of
a model trained from scratch on a few thousand pairs; what the sandbox compares is pools.
``make_shapes`` builds an image-text set offline (coloured shapes, with a known share of wrong
captions and degraded images) for tests and demos.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import SandboxError
from juicedb.sandbox.plugins import Artifact, Metric, PoolData
from juicedb.sandbox.text_lm import _Threads, _torch

TOKEN = re.compile(r"[a-z0-9]+")
SPECIAL = re.compile(r"<__dj__\w+>|<\|__dj__eoc\|>")


def words(text: str, buckets: int) -> list[int]:
    """Hashed word ids of a caption (Data-Juicer's special tokens removed).

    >>> words("<__dj__image> A red circle", 1000)
    [907, 455, 857]
    """
    return [zlib.crc32(w.encode()) % buckets for w in TOKEN.findall(SPECIAL.sub(" ", text).lower())] or [0]


def _image_tensor(item: Any, size: int, cache: dict[Any, np.ndarray]) -> np.ndarray:
    key = item if isinstance(item, str) else zlib.crc32(item)
    if key not in cache:
        from juicedb.udfs.common.media import load_rgb
        img = load_rgb(item).resize((size, size))
        cache[key] = (np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0 - 0.5) / 0.25
    return cache[key]


def build_model(cfg: dict[str, Any]) -> Any:
    torch = _torch()
    nn = torch.nn

    class TinyClip(nn.Module):
        def __init__(self, embed_dim: int, buckets: int, width: int) -> None:
            super().__init__()
            self.image = nn.Sequential(
                nn.Conv2d(3, width, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.Conv2d(2 * width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
                nn.AdaptiveAvgPool2d(1), nn.Flatten())
            self.image_proj = nn.Linear(2 * width, embed_dim)
            self.text = nn.EmbeddingBag(buckets, 2 * width, mode="mean")
            self.text_proj = nn.Linear(2 * width, embed_dim)
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

        def encode_image(self, x: Any) -> Any:
            return nn.functional.normalize(self.image_proj(self.image(x)), dim=-1)

        def encode_text(self, ids: Any, offsets: Any) -> Any:
            return nn.functional.normalize(self.text_proj(self.text(ids, offsets)), dim=-1)

    return TinyClip(cfg["embed_dim"], cfg["buckets"], cfg["width"])


def _bag(torch: Any, texts: list[str], buckets: int) -> tuple[Any, Any]:
    ids = [words(t, buckets) for t in texts]
    offsets = torch.tensor([0, *np.cumsum([len(i) for i in ids])[:-1]], dtype=torch.long)
    return torch.tensor([w for i in ids for w in i], dtype=torch.long), offsets


def _first_image(row: dict[str, Any], base_dir: Path | None) -> Any:
    images = row.get("images") or []
    if not images:
        return None
    item = images[0]
    if isinstance(item, str) and base_dir is not None and not Path(item).is_absolute():
        item = str(base_dir / item)
    return item


class ClipTrainer:
    """Train the tiny contrastive model on a pool's (first image, text) pairs for ``samples`` samples."""

    def __init__(self, *, samples: int = 20_000, batch: int = 64, image_size: int = 32, embed_dim: int = 64,
                 width: int = 16, buckets: int = 4096, lr: float = 3e-3, threads: int | None = None) -> None:
        if not isinstance(samples, int) or samples < 1 or not isinstance(batch, int) or batch < 2:
            raise SandboxError(f"clip_contrastive: samples must be >= 1 and batch >= 2, got {samples}, {batch}")
        self.cfg = {"image_size": image_size, "embed_dim": embed_dim, "width": width, "buckets": buckets}
        self.samples, self.batch, self.lr, self.threads = samples, batch, lr, threads
        self._cache: dict[Any, np.ndarray] = {}

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "clip_contrastive", **self.cfg, "samples": self.samples, "batch": self.batch, "lr": self.lr,
                "v": 1}

    def train(self, pool: PoolData, *, seed: int, scale: float, workdir: Path) -> Artifact:
        torch = _torch()
        pairs = [(img, row.get(pool.text_key) or "") for row in pool.rows.to_pylist()
                 if (img := _first_image(row, pool.base_dir)) is not None]
        if len(pairs) < 2:
            raise SandboxError(f"clip_contrastive: pool {pool.name!r} has {len(pairs)} image-text pairs; need 2+")
        size = self.cfg["image_size"]
        images = np.stack([_image_tensor(img, size, self._cache) for img, _ in pairs])
        texts = [t for _, t in pairs]
        steps = max(1, math.ceil(self.samples * scale / self.batch))
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        losses = []
        with _Threads(self.threads):
            torch.manual_seed(seed)
            model = build_model(self.cfg)
            opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=0.01)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
            b = min(self.batch, len(pairs))
            labels = torch.arange(b)
            for _ in range(steps):
                idx = rng.choice(len(pairs), size=b, replace=False)
                img = model.encode_image(torch.from_numpy(images[idx]))
                txt = model.encode_text(*_bag(torch, [texts[i] for i in idx], self.cfg["buckets"]))
                logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
                loss = (torch.nn.functional.cross_entropy(logits, labels)
                        + torch.nn.functional.cross_entropy(logits.T, labels)) / 2
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
        workdir.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), workdir / "model.pt")
        (workdir / "config.json").write_text(json.dumps(self.cfg))
        return Artifact(workdir, {"steps": steps, "samples_seen": steps * b, "pairs": len(pairs),
                                  "final_loss": round(float(np.mean(losses[-max(1, steps // 10):])), 4),
                                  "train_seconds": round(time.perf_counter() - t0, 2)})


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise SandboxError(f"evaluation set not found: {path}")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class ClipEvaluator:
    """Zero-shot accuracy and retrieval recall@k of a ``clip_contrastive`` model on named held-out sets."""

    def __init__(self, *, zero_shot: dict[str, str] | None = None, retrieval: dict[str, str] | None = None,
                 templates: list[str] | None = None, k: list[int] | None = None,
                 base_dir: Path | None = None) -> None:
        if not zero_shot and not retrieval:
            raise SandboxError("clip_contrastive evaluator: name at least one zero_shot or retrieval set")
        base = base_dir or Path.cwd()
        self.zero_shot = {n: (base / p).resolve() for n, p in (zero_shot or {}).items()}
        self.retrieval = {n: (base / p).resolve() for n, p in (retrieval or {}).items()}
        for n, p in {**self.zero_shot, **self.retrieval}.items():
            if not p.is_file():
                raise SandboxError(f"clip_contrastive evaluator: set {n!r} not found: {p}")
        self.templates = templates or ["a photo of a {}", "{}"]
        self.k = k or [1, 5]
        self._cache: dict[Any, np.ndarray] = {}

    def fingerprint(self) -> dict[str, Any]:
        import hashlib
        sets = {n: hashlib.sha1(p.read_bytes()).hexdigest() for n, p in {**self.zero_shot, **self.retrieval}.items()}
        return {"type": "clip_contrastive", "zero_shot": sorted(self.zero_shot), "retrieval": sorted(self.retrieval),
                "sets": sets, "templates": self.templates, "k": self.k, "v": 1}

    def _images(self, rows: list[dict[str, Any]], base: Path, size: int) -> np.ndarray:
        items = [_first_image(r, base) for r in rows]
        if any(i is None for i in items):
            raise SandboxError("clip_contrastive evaluator: every line of an evaluation set needs `images`")
        return np.stack([_image_tensor(i, size, self._cache) for i in items])

    def evaluate(self, artifact: Artifact, *, workdir: Path) -> list[Metric]:
        torch = _torch()
        cfg = json.loads((artifact.path / "config.json").read_text())
        model = build_model(cfg)
        model.load_state_dict(torch.load(artifact.path / "model.pt", weights_only=True))
        model.eval()
        out = []
        with torch.no_grad():
            for name, path in self.zero_shot.items():
                rows = _read_jsonl(path)
                classes = sorted({str(r["label"]) for r in rows})
                img = model.encode_image(torch.from_numpy(self._images(rows, path.parent, cfg["image_size"])))
                prompts = [t.format(c) for c in classes for t in self.templates]
                txt = model.encode_text(*_bag(torch, prompts, cfg["buckets"]))
                txt = torch.nn.functional.normalize(txt.view(len(classes), len(self.templates), -1).mean(1), dim=-1)
                pred = (img @ txt.T).argmax(1).tolist()
                acc = float(np.mean([classes[p] == str(r["label"]) for p, r in zip(pred, rows)]))
                out.append(Metric(f"{name}.zero_shot_acc", acc, True))
            for name, path in self.retrieval.items():
                rows = _read_jsonl(path)
                img = model.encode_image(torch.from_numpy(self._images(rows, path.parent, cfg["image_size"])))
                txt = model.encode_text(*_bag(torch, [str(r.get("text", "")) for r in rows], cfg["buckets"]))
                sim = (img @ txt.T).numpy()
                for k in self.k:
                    out.append(Metric(f"{name}.i2t_r@{k}", recall_at_k(sim, k), True))
                    out.append(Metric(f"{name}.t2i_r@{k}", recall_at_k(sim.T, k), True))
        return out


def recall_at_k(sim: np.ndarray, k: int) -> float:
    """Share of rows whose own column (the diagonal) is among their k most similar.

    >>> recall_at_k(np.array([[0.9, 0.1], [0.8, 0.2]]), 1)
    0.5
    """
    ranks = (sim > np.diag(sim)[:, None]).sum(1)
    return float(np.mean(ranks < k))


SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (220, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220), "yellow": (230, 200, 30)}
PLACES = ("left", "right", "top", "bottom")


def make_shapes(out: Path, n: int, *, seed: int = 0, wrong_captions: float = 0.0, degraded: float = 0.0,
                size: int = 32, name: str = "pairs") -> Path:
    """Write ``n`` image-text pairs (coloured shapes on grey) as PNGs and a JSONL of Data-Juicer samples.

    A share ``wrong_captions`` gets another sample's caption (``meta.wrong_caption``); a share
    ``degraded`` is drawn at 8 px and blown up, with noise (``meta.degraded``). Each line also has
    ``label`` (the shape), for zero-shot sets. Returns the JSONL path.
    """
    from PIL import Image, ImageDraw
    rng = random.Random(seed)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        shape, colour, place = rng.choice(SHAPES), rng.choice(list(COLOURS)), rng.choice(PLACES)
        s = size * 4
        img = Image.new("RGB", (s, s), (128, 128, 128))
        d = ImageDraw.Draw(img)
        r = s // 5
        cx = {"left": s // 3, "right": 2 * s // 3}.get(place, s // 2) + rng.randint(-4, 4)
        cy = {"top": s // 3, "bottom": 2 * s // 3}.get(place, s // 2) + rng.randint(-4, 4)
        box = (cx - r, cy - r, cx + r, cy + r)
        fill = COLOURS[colour]
        if shape == "circle":
            d.ellipse(box, fill=fill)
        elif shape == "square":
            d.rectangle(box, fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        bad_image = rng.random() < degraded
        if bad_image:
            img = img.resize((8, 8)).resize((s, s))
            noise = np.asarray(img, dtype=np.int16) + np.random.default_rng(i + seed).integers(-60, 60, (s, s, 3))
            img = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8))
        img = img.resize((size, size))
        file = folder / f"{i:05d}.png"
        img.save(file)
        rows.append({"text": f"<__dj__image> a {colour} {shape} on the {place}", "images": [f"{name}/{file.name}"],
                     "label": shape, "meta": {"degraded": bad_image, "wrong_caption": False}})
    wrong = rng.sample(range(n), int(n * wrong_captions))
    shuffled = wrong[1:] + wrong[:1]
    texts = [rows[j]["text"] for j in shuffled]
    for i, t in zip(wrong, texts):
        rows[i]["text"] = t
        rows[i]["meta"]["wrong_caption"] = True
    path = out / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path
