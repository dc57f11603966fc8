"""``text_lm``: a small byte-level causal transformer trained from scratch on a pool's text.

Every pool gets the same budget: ``tokens`` bytes of training windows (times the workflow's
``scale``), drawn uniformly from the pool's documents joined by a separator byte, as DataComp
fixes the samples seen whatever the pool. A small pool is seen for more epochs, a large one
for less than one. The evaluator scores held-out sets the user names (JSONL with a text field,
or plain .txt) in bits per byte and per-byte perplexity; both lower is better. Bytes, not a
tokenizer: bits per byte compare across any text and need no vocabulary fitted to one pool.

Needs torch (``pip install 'juicedb[sandbox]'``; the CPU build is enough at sandbox sizes).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from juicedb.errors import MissingDependencyError, SandboxError
from juicedb.sandbox.plugins import Artifact, Metric, PoolData

SEP = 0  # byte between documents (never in UTF-8 text a dataset loader keeps)
VOCAB = 256
INSTALL = "pip install 'juicedb[sandbox]' (torch; the CPU build is enough)"


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingDependencyError(f"the text_lm trainer needs torch: {INSTALL}") from None
    return torch


def encode_docs(texts: list[str]) -> np.ndarray:
    """The documents as one byte stream, each preceded by the separator.

    >>> encode_docs(["ab", "é"]).tolist()
    [0, 97, 98, 0, 195, 169]
    """
    parts = []
    for t in texts:
        parts.append(bytes([SEP]))
        parts.append(t.replace("\x00", "").encode("utf-8", "replace"))
    return np.frombuffer(b"".join(parts), dtype=np.uint8).copy()


def build_model(cfg: dict[str, Any]) -> Any:
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Block(nn.Module):
        def __init__(self, d: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x: Any) -> Any:
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(a)
            return x + self.ff(self.ln2(x))

    class ByteLM(nn.Module):
        def __init__(self, d_model: int, layers: int, heads: int, context: int) -> None:
            super().__init__()
            self.emb = nn.Embedding(VOCAB, d_model)
            self.pos = nn.Parameter(torch.zeros(context, d_model))
            nn.init.normal_(self.pos, std=0.02)
            self.blocks = nn.ModuleList([Block(d_model, heads) for _ in range(layers)])
            self.ln = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, VOCAB)

        def forward(self, x: Any) -> Any:
            h = self.emb(x) + self.pos[: x.shape[1]]
            for blk in self.blocks:
                h = blk(h)
            return self.head(self.ln(h))

    return ByteLM(cfg["d_model"], cfg["layers"], cfg["heads"], cfg["context"])


class _Threads:
    """torch's intra-op threads set for a block, restored after."""

    def __init__(self, n: int | None) -> None:
        self.n, self.before = n, None

    def __enter__(self) -> None:
        torch = _torch()
        if self.n:
            self.before = torch.get_num_threads()
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if self.before:
            _torch().set_num_threads(self.before)


class TextLMTrainer:
    """Train a byte-level transformer for ``tokens`` bytes of windows (``batch`` x ``context`` per step)."""

    def __init__(self, *, tokens: int = 150_000, context: int = 128, batch: int = 16, d_model: int = 64,
                 layers: int = 2, heads: int = 4, lr: float = 3e-3, warmup: float = 0.1,
                 weight_decay: float = 0.01, threads: int | None = None, text_key: str | None = None) -> None:
        for name, v in (("tokens", tokens), ("context", context), ("batch", batch), ("d_model", d_model),
                        ("layers", layers), ("heads", heads)):
            if not isinstance(v, int) or v < 1:
                raise SandboxError(f"text_lm: {name} must be a positive integer, got {v!r}")
        if d_model % heads:
            raise SandboxError(f"text_lm: d_model ({d_model}) must be a multiple of heads ({heads})")
        self.model_cfg = {"d_model": d_model, "layers": layers, "heads": heads, "context": context}
        self.tokens, self.batch, self.lr, self.warmup, self.weight_decay = tokens, batch, lr, warmup, weight_decay
        self.threads, self.text_key = threads, text_key

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "text_lm", **self.model_cfg, "tokens": self.tokens, "batch": self.batch, "lr": self.lr,
                "warmup": self.warmup, "weight_decay": self.weight_decay, "text_key": self.text_key, "v": 1}

    def train(self, pool: PoolData, *, seed: int, scale: float, workdir: Path) -> Artifact:
        torch = _torch()
        texts = pool.texts() if self.text_key is None else [
            t or "" for t in pool.rows.column(self.text_key).to_pylist()]
        data = encode_docs(texts)
        ctx = self.model_cfg["context"]
        if len(data) <= len(texts) or not texts:
            raise SandboxError(f"text_lm: pool {pool.name!r} has no text to train on")
        if len(data) < ctx + 1:  # a tiny pool: repeat it so a window fits
            data = np.tile(data, (ctx + 1) // len(data) + 1)
        steps = max(1, math.ceil(self.tokens * scale / (self.batch * ctx)))
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        with _Threads(self.threads):
            torch.manual_seed(seed)
            model = build_model(self.model_cfg)
            opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            warm = max(1, int(steps * self.warmup))

            def lr_at(i: int) -> float:
                if i < warm:
                    return (i + 1) / warm
                return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (i - warm) / max(1, steps - warm)))

            sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
            stream = torch.from_numpy(data.astype(np.int64))
            offsets = torch.arange(ctx + 1)
            losses = []
            model.train()
            for _ in range(steps):
                starts = torch.from_numpy(rng.integers(0, len(data) - ctx, size=self.batch))
                xy = stream[starts[:, None] + offsets]
                logits = model(xy[:, :-1])
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), xy[:, 1:].reshape(-1))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                losses.append(loss.item())
        workdir.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), workdir / "model.pt")
        (workdir / "config.json").write_text(json.dumps(self.model_cfg))
        tail = losses[-max(1, steps // 10):]
        info = {"steps": steps, "tokens_seen": steps * self.batch * ctx, "pool_bytes": len(data),
                "epochs": round(steps * self.batch * ctx / len(data), 3),
                "train_bits_per_byte": round(float(np.mean(tail)) / math.log(2), 4),
                "train_seconds": round(time.perf_counter() - t0, 2)}
        return Artifact(workdir, info)


def read_eval_set(path: Path, text_key: str = "text") -> list[str]:
    """Documents of an evaluation set: JSONL (``text_key`` of each line) or a plain text file (one document)."""
    if not path.is_file():
        raise SandboxError(f"evaluation set not found: {path}")
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        docs = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)[text_key]
                except (ValueError, KeyError, TypeError):
                    raise SandboxError(f"{path}:{n}: expected a JSON object with a {text_key!r} string") from None
                docs.append(str(doc))
        return docs
    return [path.read_text(encoding="utf-8")]


class TextLMEvaluator:
    """Bits per byte and per-byte perplexity of a ``text_lm`` model on named held-out sets.

    A set is the documents joined as in training and cut into windows of the model's context;
    ``max_bytes`` caps the bytes scored per set (the same for every model), taking windows spread
    evenly over the whole set, so that every document's beginnings and middles count in
    proportion to its length.
    """

    METRICS = ("bits_per_byte", "perplexity")

    def __init__(self, *, eval_sets: dict[str, str], metrics: list[str] | None = None, max_bytes: int = 65_536,
                 text_key: str = "text", threads: int | None = None, base_dir: Path | None = None) -> None:
        if not isinstance(eval_sets, dict) or not eval_sets:
            raise SandboxError("text_lm evaluator: eval_sets must name at least one set, e.g. "
                               "{docs: data/eval.jsonl}")
        self.metrics = list(metrics or ["bits_per_byte"])
        bad = [m for m in self.metrics if m not in self.METRICS]
        if bad:
            raise SandboxError(f"text_lm evaluator: unknown metric {bad[0]!r}; expected {', '.join(self.METRICS)}")
        base = base_dir or Path.cwd()
        self.paths = {name: (base / p).resolve() for name, p in eval_sets.items()}
        missing = [f"{n}: {p}" for n, p in self.paths.items() if not p.is_file()]
        if missing:
            raise SandboxError(f"text_lm evaluator: evaluation set not found ({'; '.join(missing)})")
        self.max_bytes, self.text_key, self.threads = max_bytes, text_key, threads
        self._data: dict[str, np.ndarray] = {}

    def fingerprint(self) -> dict[str, Any]:
        import hashlib
        digests = {n: hashlib.sha1(p.read_bytes()).hexdigest() for n, p in sorted(self.paths.items())}
        return {"type": "text_lm", "sets": digests, "metrics": self.metrics, "max_bytes": self.max_bytes,
                "text_key": self.text_key, "v": 2}

    def data(self, name: str) -> np.ndarray:
        if name not in self._data:
            self._data[name] = encode_docs(read_eval_set(self.paths[name], self.text_key))
        return self._data[name]

    def evaluate(self, artifact: Artifact, *, workdir: Path) -> list[Metric]:
        torch = _torch()
        cfg = json.loads((artifact.path / "config.json").read_text())
        model = build_model(cfg)
        model.load_state_dict(torch.load(artifact.path / "model.pt", weights_only=True))
        model.eval()
        out = []
        with _Threads(self.threads), torch.no_grad():
            for name in self.paths:
                nats, count = self.nll(model, self.data(name), cfg["context"], self.max_bytes)
                bpb = nats / count / math.log(2)
                values = {"bits_per_byte": bpb, "perplexity": math.exp(nats / count)}
                out += [Metric(f"{name}.{m}", values[m], False) for m in self.metrics]
        return out

    @staticmethod
    def nll(model: Any, data: np.ndarray, ctx: int, max_bytes: int | None = None) -> tuple[float, int]:
        """Negative log-likelihood (nats) and bytes scored: windows of ``ctx`` (each byte predicted from the
        bytes before it in its window), at most ``max_bytes`` of them, spread evenly over ``data``."""
        torch = _torch()
        stream = torch.from_numpy(data.astype(np.int64))
        total, count = 0.0, 0
        starts = list(range(0, max(1, len(stream) - 1), ctx))
        if max_bytes and len(starts) * ctx > max_bytes:
            keep = np.unique(np.linspace(0, len(starts) - 1, max(1, max_bytes // ctx)).round().astype(int))
            starts = [starts[i] for i in keep]
        for i in range(0, len(starts), 64):
            chunk = [stream[s: s + ctx + 1] for s in starts[i: i + 64]]
            full = [s for s in chunk if len(s) == ctx + 1]
            short = [s for s in chunk if 1 < len(s) < ctx + 1]  # the last window: scored alone
            for group in ([torch.stack(full)] if full else []) + [s[None] for s in short]:
                logits = model(group[:, :-1])
                loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), group[:, 1:].reshape(-1),
                                                         reduction="sum")
                total += float(loss)
                count += group[:, 1:].numel()
        return total, count
