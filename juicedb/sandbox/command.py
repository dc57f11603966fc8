"""``command``: any external training and evaluation program, run on a pool exported to a file.

The way to plug in real training (open_clip, a LLaVA-style recipe, text-to-video) on a GPU
machine. The trainer writes the pool as Data-Juicer JSONL (media paths absolute) and runs a
shell command with these placeholders filled in:

- ``{pool}``: the exported JSONL file; ``{rows}``: its number of lines;
- ``{out}``: a fresh folder for the job's outputs (the artifact);
- ``{seed}``, ``{scale}``: the job's seed and budget multiplier (the duplication stage trains on
  ``scale`` times the data; a fixed-budget program may ignore it).

The evaluator optionally runs a second command (``{artifact}`` = that folder, ``{out}`` too), then
reads ``metrics_file`` from the folder: ``{"name": number}``, or
``{"name": {"value": number, "higher_is_better": bool}}``. A plain number's direction comes from
``directions`` (``{name: max|min}``); a metric without a direction is an error.

.. code-block:: yaml

    trainer: {type: command, run: "python train.py --data {pool} --out {out} --seed {seed}"}
    evaluators: [{type: command, run: "python eval.py {artifact}", directions: {accuracy: max}}]
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from juicedb.errors import SandboxError
from juicedb.sandbox.plugins import Artifact, Metric, PoolData

DIRECTIONS = {"max": True, "higher": True, "min": False, "lower": False}


def _run(command: str, fields: dict[str, Any], cwd: Path, log: Path, timeout: float | None,
         env: dict[str, str] | None) -> float:
    try:
        line = command.format(**fields)
    except (KeyError, IndexError) as e:
        raise SandboxError(f"command {command!r}: unknown placeholder {e}; use {', '.join(sorted(fields))}") from None
    t0 = time.perf_counter()
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {line}\n")
        out.flush()
        try:
            proc = subprocess.run(line, shell=True, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                  env={**os.environ, **(env or {})}, check=False)
        except subprocess.TimeoutExpired:
            raise SandboxError(f"command timed out after {timeout} s: {line}") from None
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        raise SandboxError(f"command exited with {proc.returncode}: {line}\n" + "\n".join(tail))
    return time.perf_counter() - t0


class CommandTrainer:
    """Export the pool to ``{pool}`` and run ``run`` in the config's folder."""

    def __init__(self, *, run: str, timeout: float | None = None, env: dict[str, str] | None = None,
                 version: str | int | None = None, base_dir: Path | None = None) -> None:
        if not isinstance(run, str) or not run.strip():
            raise SandboxError("command trainer: `run` must be a shell command, e.g. "
                               "'python train.py {pool} {out} {seed}'")
        self.run, self.timeout, self.env, self.version = run, timeout, env, version
        self.base_dir = base_dir or Path.cwd()

    def fingerprint(self) -> dict[str, Any]:
        # the command line (and a version the user bumps when the program changes) is all juicedb can see
        return {"type": "command", "run": self.run, "env": self.env, "version": self.version}

    def train(self, pool: PoolData, *, seed: int, scale: float, workdir: Path) -> Artifact:
        workdir.mkdir(parents=True, exist_ok=True)
        data = pool.export(workdir / "pool.jsonl")
        fields = {"pool": str(data), "rows": pool.rows.num_rows, "out": str(workdir), "seed": seed,
                  "scale": f"{scale:g}"}
        seconds = _run(self.run, fields, self.base_dir, workdir / "train.log", self.timeout, self.env)
        return Artifact(workdir, {"command": self.run, "train_seconds": round(seconds, 2)})


class CommandEvaluator:
    """Read the metrics JSON a command wrote into the artifact folder (running ``run`` first, if given)."""

    def __init__(self, *, run: str | None = None, metrics_file: str = "metrics.json",
                 directions: dict[str, str] | None = None, timeout: float | None = None,
                 env: dict[str, str] | None = None, version: str | int | None = None,
                 base_dir: Path | None = None) -> None:
        self.run, self.metrics_file, self.timeout, self.env, self.version = run, metrics_file, timeout, env, version
        self.directions = {}
        for name, d in (directions or {}).items():
            if str(d).lower() not in DIRECTIONS:
                raise SandboxError(f"command evaluator: direction of {name!r} must be max or min, got {d!r}")
            self.directions[name] = DIRECTIONS[str(d).lower()]
        self.base_dir = base_dir or Path.cwd()

    def fingerprint(self) -> dict[str, Any]:
        return {"type": "command", "run": self.run, "metrics_file": self.metrics_file,
                "directions": self.directions, "env": self.env, "version": self.version}

    def evaluate(self, artifact: Artifact, *, workdir: Path) -> list[Metric]:
        if self.run:
            _run(self.run, {"artifact": str(artifact.path), "out": str(artifact.path)}, self.base_dir,
                 artifact.path / "eval.log", self.timeout, self.env)
        path = artifact.path / self.metrics_file
        if not path.is_file():
            raise SandboxError(f"the command wrote no {self.metrics_file} in {artifact.path}: write "
                               '{"metric": value, ...} there')
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise SandboxError(f"{path}: not JSON: {e}") from None
        if not isinstance(data, dict):
            raise SandboxError(f"{path}: expected an object of metrics, got {type(data).__name__}")
        out = []
        for name, v in sorted(data.items()):
            if isinstance(v, dict):
                value, hib = v.get("value"), v.get("higher_is_better", self.directions.get(name))
            else:
                value, hib = v, self.directions.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SandboxError(f"{path}: metric {name!r} is {value!r}, not a number")
            if hib is None:
                raise SandboxError(f"{path}: no direction for metric {name!r}: add directions: {{{name}: max}} "
                                   "(or min) to the evaluator, or write {\"value\": x, \"higher_is_better\": true}")
            out.append(Metric(name, float(value), bool(hib)))
        return out
