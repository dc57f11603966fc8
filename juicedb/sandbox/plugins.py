"""Trainers and evaluators: one small protocol, plug-ins found by name or by ``module:Class``.

A **trainer** trains on a pool for a fixed budget with a seed and returns an artifact (a folder
and what it learned about the run). An **evaluator** turns an artifact into named metrics, each
with its direction. The budget is the trainer's own (tokens for ``text_lm``, samples seen for
``clip_contrastive``) and equal for every pool; the workflow only multiplies it by ``scale``
(duplication stages train ``scale`` times longer on a ``scale`` times larger pool).

Built in: ``text_lm`` (``juicedb.sandbox.text_lm``), ``clip_contrastive``
(``juicedb.sandbox.clip``) and ``command`` (``juicedb.sandbox.command``). Any other class
is named by its import path in the config: ``type: mypackage.trainers:MyTrainer``; its
constructor takes the config's other keys as keyword arguments.

>>> t = make_trainer({"type": "command", "run": "echo {pool}"})
>>> type(t).__name__, t.fingerprint()["run"]
('CommandTrainer', 'echo {pool}')
"""

from __future__ import annotations

import contextlib
import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from juicedb.errors import SandboxError


@dataclass(frozen=True)
class Metric:
    """One number an evaluator reports; ``higher_is_better`` gives its direction."""

    name: str
    value: float
    higher_is_better: bool


@dataclass
class PoolData:
    """What a trainer sees of a pool: its rows in pool order (a duplicated sample once per copy)."""

    name: str
    rows: pa.Table                 # ord, copy, uid, text, and the dataset's other columns
    text_key: str = "text"
    base_dir: Path | None = None   # where relative media paths of the dataset point from

    def texts(self) -> list[str]:
        return [t or "" for t in self.rows.column(self.text_key).to_pylist()]

    def export(self, path: Path) -> Path:
        """Write the pool as Data-Juicer JSONL (``text``, media lists with absolute paths, ``meta``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        keep = [c for c in self.rows.column_names if c not in ("ord", "copy")]
        with path.open("w", encoding="utf-8") as f:
            for row in self.rows.select(keep).to_pylist():
                for media in ("images", "videos", "audios"):
                    if isinstance(row.get(media), list) and self.base_dir is not None:
                        row[media] = [str((self.base_dir / p).resolve()) if isinstance(p, str) else p
                                      for p in row[media]]
                if isinstance(row.get("meta"), str):
                    with contextlib.suppress(ValueError):
                        row["meta"] = json.loads(row["meta"])
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        return path


@dataclass
class Artifact:
    """A trained model's folder and what the trainer reports (tokens seen, final loss, ...)."""

    path: Path
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Trainer(Protocol):
    def fingerprint(self) -> dict[str, Any]:
        """Every setting that changes the trained model (the job key includes it)."""
        ...

    def train(self, pool: PoolData, *, seed: int, scale: float, workdir: Path) -> Artifact:
        """Train on ``pool`` for the trainer's budget times ``scale``; write the model under ``workdir``."""
        ...


@runtime_checkable
class Evaluator(Protocol):
    def fingerprint(self) -> dict[str, Any]:
        ...

    def evaluate(self, artifact: Artifact, *, workdir: Path) -> list[Metric]:
        ...


def _builtin(kind: str) -> dict[str, str]:
    return {
        "trainer": {"text_lm": "juicedb.sandbox.text_lm:TextLMTrainer",
                    "clip_contrastive": "juicedb.sandbox.clip:ClipTrainer",
                    "command": "juicedb.sandbox.command:CommandTrainer"},
        "evaluator": {"text_lm": "juicedb.sandbox.text_lm:TextLMEvaluator",
                      "clip_contrastive": "juicedb.sandbox.clip:ClipEvaluator",
                      "command": "juicedb.sandbox.command:CommandEvaluator"},
    }[kind]


def _load(kind: str, config: dict[str, Any], base_dir: Path | None) -> Any:
    if not isinstance(config, dict) or "type" not in config:
        raise SandboxError(f"a {kind} is a mapping with a `type` ({', '.join(_builtin(kind))} or module:Class), "
                           f"got {config!r}")
    kwargs = {k: v for k, v in config.items() if k != "type"}
    target = _builtin(kind).get(config["type"], config["type"])
    if ":" not in target:
        raise SandboxError(f"unknown {kind} type {config['type']!r}: expected one of {', '.join(_builtin(kind))}, "
                           "or an import path like mypackage.module:MyClass")
    module, _, name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise SandboxError(f"cannot load {kind} {target!r}: {e}") from None
    try:
        obj = cls(**kwargs, base_dir=base_dir) if _takes_base_dir(cls) else cls(**kwargs)
    except TypeError as e:
        raise SandboxError(f"{kind} {config['type']!r}: {e}") from None
    expected = Trainer if kind == "trainer" else Evaluator
    if not isinstance(obj, expected):
        raise SandboxError(f"{target} is not a {kind}: it needs fingerprint() and "
                           f"{'train()' if kind == 'trainer' else 'evaluate()'}")
    return obj


def _takes_base_dir(cls: type) -> bool:
    import inspect
    try:
        return "base_dir" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def make_trainer(config: dict[str, Any], base_dir: Path | None = None) -> Trainer:
    return _load("trainer", config, base_dir)


def make_evaluator(config: dict[str, Any], base_dir: Path | None = None) -> Evaluator:
    return _load("evaluator", config, base_dir)
