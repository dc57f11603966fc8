"""The sandbox config (YAML): the dataset, the stats to probe, the model, and the stages to run.

Every key is checked before anything runs; a mistake names the key, what was expected and what
was found. Relative paths are relative to the config file.

.. code-block:: yaml

    name: demo                          # names the workspace tables' rows and the report
    dataset: data/sandbox/corpus.jsonl.gz
    text_key: text                      # optional
    output: out/sandbox_demo            # report.md, plots (plots: false for none), refined recipe
    seeds: [0, 1]                       # every training job runs once per seed
    pool_seed: 42                       # downsampling and filling
    split_ratios: [1/3, 2/3]            # Data-Juicer's terciles: low, mid, high
    probe:                              # (a) one pool per bucket of each stat
      ops:
        - text_len(text)                # any juicedb stat call; named by its stat key
        - {name: sw_en, call: "stopwords_ratio(text, lang := 'en')"}
    trainer: {type: text_lm, tokens: 200000}
    evaluators:
      - {type: text_lm, eval_sets: {docs: data/sandbox/eval_docs_en.jsonl}}
    rank_metrics: [docs.bits_per_byte]  # Eq. 3 averages these (default: every metric)
    analyze: {clusters: 3}              # (b) correlations, clusters, best OP per cluster
    combine: {top_k: 3}                 # (c) all 2^k - 1 intersections of the top-k OPs
    duplicate: {times: [2, 3]}          # (d) top pool x t vs filled from lower pyramid levels
    refine: {seeds: [0, 1, 2, 3]}       # (e) refined recipe.sql, its pool vs random
    prepare:                            # optional: commands that make missing inputs, run first
      - {run: "{python} make_data.py", creates: data/train.jsonl}

>>> cfg = parse({"name": "t", "dataset": "d.jsonl", "probe": {"ops": ["text_len(text)"]},
...              "trainer": {"type": "text_lm"}, "evaluators": [{"type": "text_lm", "eval_sets": {"e": "e.jsonl"}}]},
...             base_dir=Path("/data"))
>>> cfg.dataset, [o.name for o in cfg.ops], cfg.seeds, cfg.stages
(PosixPath('/data/d.jsonl'), ['text_len'], [0, 1], ['probe'])
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from juicedb.errors import SandboxError
from juicedb.sandbox.pools import DEFAULT_SPLIT, parse_ratios

STAGES = ("probe", "analyze", "combine", "duplicate", "refine")
TOP_KEYS = {"name", "dataset", "text_key", "output", "seeds", "pool_seed", "split_ratios", "probe", "trainer",
            "evaluators", "rank_metrics", "analyze", "combine", "duplicate", "refine", "keep_artifacts",
            "min_pool_rows", "workspace", "prepare", "plots"}
STAGE_KEYS = {"probe": {"ops"}, "analyze": {"clusters"}, "combine": {"top_k"},
              "duplicate": {"times", "shuffle", "budget", "pool"},
              "refine": {"seeds", "recipe", "table"}}


@dataclass(frozen=True)
class ProbeOp:
    name: str   # the stat's column in the sandbox's stats table and its pools' names
    call: str   # SQL: an operator's stat call over the dataset's columns


@dataclass(frozen=True)
class PrepareStep:
    run: str        # a shell command, run in the config's folder; {python} is this interpreter
    creates: Path   # run only when this path is missing


@dataclass
class SandboxConfig:
    name: str
    path: Path | None
    base_dir: Path
    dataset: Path
    ops: list[ProbeOp]
    trainer: dict[str, Any]
    evaluators: list[dict[str, Any]]
    text_key: str = "text"
    output: Path | None = None
    workspace: Path | None = None
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    pool_seed: int = 42
    split_ratios: tuple[float, ...] = DEFAULT_SPLIT
    rank_metrics: list[str] | None = None
    clusters: int = 3
    top_k: int = 3
    dup_times: list[int] = field(default_factory=lambda: [2, 3])
    dup_shuffle: bool = True
    dup_budget: str = "scaled"
    dup_pool: str | None = None
    refine_seeds: list[int] | None = None
    refine_recipe: Path | None = None
    refine_table: str | None = None
    keep_artifacts: bool = True
    plots: bool = True
    min_pool_rows: int = 1
    stages: list[str] = field(default_factory=list)
    prepare: list[PrepareStep] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_") or "sandbox"

    def digest(self) -> str:
        return hashlib.sha1(json.dumps(self.raw, sort_keys=True, default=str).encode()).hexdigest()[:12]


def load(path: str | Path) -> SandboxConfig:
    """Read and check a sandbox YAML file."""
    try:
        import yaml
    except ImportError:
        raise SandboxError("reading a sandbox config needs PyYAML: pip install 'juicedb[sandbox]'") from None
    path = Path(path)
    if not path.is_file():
        raise SandboxError(f"sandbox config not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SandboxError(f"{path}: not valid YAML: {e}") from None
    cfg = parse(data, base_dir=path.resolve().parent)
    cfg.path = path.resolve()
    return cfg


def _int_list(value: Any, key: str, *, minimum: int | None = None) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, int) and not isinstance(v, bool)
                                                           for v in value):
        raise SandboxError(f"{key} must be a list of integers, got {value!r}")
    if minimum is not None and any(v < minimum for v in value):
        raise SandboxError(f"{key}: every value must be >= {minimum}, got {value}")
    if len(set(value)) != len(value):
        raise SandboxError(f"{key}: repeated values in {value}")
    return list(value)


def _op(entry: Any, n: int) -> ProbeOp:
    if isinstance(entry, str):
        call = entry.strip()
        m = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", call)
        if not m:
            raise SandboxError(f"probe.ops[{n}]: expected a stat call like text_len(text), got {entry!r}")
        name = m.group(1)
        params = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*:=\s*'?([^,')]+)", call)
        if params:
            name += "__" + "_".join(f"{k}_{re.sub(r'[^A-Za-z0-9]+', '', v)}" for k, v in params)
        return ProbeOp(name, call)
    if isinstance(entry, dict) and set(entry) <= {"name", "call"} and "call" in entry:
        name = entry.get("name") or _op(entry["call"], n).name
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(name)):
            raise SandboxError(f"probe.ops[{n}].name must be an identifier (letters, digits, _), got {name!r}")
        return ProbeOp(str(name), str(entry["call"]))
    raise SandboxError(f"probe.ops[{n}]: expected a stat call string or {{name: ..., call: ...}}, got {entry!r}")


def parse(data: Any, *, base_dir: Path) -> SandboxConfig:
    """Check a config mapping (as YAML gives it) and resolve its paths against ``base_dir``."""
    if not isinstance(data, dict):
        raise SandboxError(f"a sandbox config is a mapping of keys, got {type(data).__name__}")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise SandboxError(f"unknown key {unknown[0]!r} in the sandbox config; expected some of "
                           f"{', '.join(sorted(TOP_KEYS))}")
    for key in ("name", "dataset", "probe", "trainer", "evaluators"):
        if key not in data:
            raise SandboxError(f"the sandbox config needs `{key}`")
    for stage, keys in STAGE_KEYS.items():
        block = data.get(stage)
        if block is None:
            continue
        if block is True:
            data[stage] = block = {}
        if not isinstance(block, dict):
            raise SandboxError(f"`{stage}` must be a mapping (or true for its defaults), got {block!r}")
        bad = sorted(set(block) - keys)
        if bad:
            raise SandboxError(f"unknown key {stage}.{bad[0]}; expected some of {', '.join(sorted(keys))}")

    probe = data["probe"]
    if not isinstance(probe.get("ops"), list) or not probe["ops"]:
        raise SandboxError("probe.ops must list at least one stat call, e.g. [text_len(text), alnum_ratio(text)]")
    ops = [_op(e, i) for i, e in enumerate(probe["ops"])]
    names = [o.name for o in ops]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SandboxError(f"probe.ops: two ops are named {dupes[0]!r}; give one a `name:`")

    evaluators = data["evaluators"]
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    if not isinstance(evaluators, list) or not evaluators or not all(isinstance(e, dict) for e in evaluators):
        raise SandboxError("evaluators must be a list of mappings, each with a `type`")
    if not isinstance(data["trainer"], dict) or "type" not in data["trainer"]:
        raise SandboxError("trainer must be a mapping with a `type` (text_lm, clip_contrastive, command, "
                           "or module:Class)")

    def path(key: str, value: Any) -> Path:
        if not isinstance(value, str) or not value:
            raise SandboxError(f"{key} must be a path, got {value!r}")
        return (base_dir / value).resolve()

    cfg = SandboxConfig(
        name=str(data["name"]), path=None, base_dir=base_dir, dataset=path("dataset", data["dataset"]), ops=ops,
        trainer=dict(data["trainer"]), evaluators=[dict(e) for e in evaluators], raw=data)
    cfg.text_key = str(data.get("text_key", "text"))
    prepare = data.get("prepare") or []
    if not isinstance(prepare, list) or not all(isinstance(p, dict) and set(p) == {"run", "creates"}
                                                for p in prepare):
        raise SandboxError("prepare must be a list of {run: <command>, creates: <path>} steps, got "
                           f"{data.get('prepare')!r}")
    cfg.prepare = [PrepareStep(str(p["run"]), path("prepare.creates", p["creates"])) for p in prepare]
    if "output" in data:
        cfg.output = path("output", data["output"])
    if "workspace" in data:
        cfg.workspace = path("workspace", data["workspace"])
    if "seeds" in data:
        cfg.seeds = _int_list(data["seeds"], "seeds", minimum=0)
    cfg.pool_seed = int(data.get("pool_seed", 42))
    cfg.split_ratios = parse_ratios(data.get("split_ratios", list(DEFAULT_SPLIT)))
    if "rank_metrics" in data:
        rm = data["rank_metrics"]
        if not isinstance(rm, list) or not rm or not all(isinstance(m, str) for m in rm):
            raise SandboxError(f"rank_metrics must be a list of metric names, got {rm!r}")
        cfg.rank_metrics = list(rm)
    cfg.keep_artifacts = bool(data.get("keep_artifacts", True))
    cfg.plots = bool(data.get("plots", True))
    cfg.min_pool_rows = int(data.get("min_pool_rows", 1))

    cfg.stages = ["probe"]
    if data.get("analyze") is not None:
        cfg.stages.append("analyze")
        cfg.clusters = int(data["analyze"].get("clusters", 3))
        if cfg.clusters < 1:
            raise SandboxError(f"analyze.clusters must be >= 1, got {cfg.clusters}")
    if data.get("combine") is not None:
        cfg.stages.append("combine")
        cfg.top_k = int(data["combine"].get("top_k", 3))
        if not 1 <= cfg.top_k <= 8:
            raise SandboxError(f"combine.top_k must be between 1 and 8 (2^k - 1 pools), got {cfg.top_k}")
        if cfg.top_k > len(ops):
            raise SandboxError(f"combine.top_k is {cfg.top_k} but probe.ops has only {len(ops)} ops")
    if data.get("duplicate") is not None:
        if "combine" not in cfg.stages:
            raise SandboxError("duplicate needs combine: the fill comes from the pyramid's lower levels")
        d = data["duplicate"]
        cfg.stages.append("duplicate")
        if "times" in d:
            cfg.dup_times = _int_list(d["times"], "duplicate.times", minimum=2)
        cfg.dup_shuffle = bool(d.get("shuffle", True))
        cfg.dup_budget = str(d.get("budget", "scaled"))
        if cfg.dup_budget not in ("scaled", "fixed"):
            raise SandboxError(f"duplicate.budget must be scaled (train x times longer on x times the data) or "
                               f"fixed, got {cfg.dup_budget!r}")
        cfg.dup_pool = d.get("pool")
    if data.get("refine") is not None:
        if "combine" not in cfg.stages:
            raise SandboxError("refine needs combine: the refined recipe is the best pool of the pyramid")
        r = data["refine"]
        cfg.stages.append("refine")
        cfg.refine_seeds = _int_list(r["seeds"], "refine.seeds", minimum=0) if "seeds" in r else None
        if "recipe" in r:
            cfg.refine_recipe = path("refine.recipe", r["recipe"])
        cfg.refine_table = r.get("table")
    return cfg
