"""A Data-Juicer process config as recipe SQL text: one code path for YAML and SQL recipes.

``translate`` reads a DJ config (``dataset_path``, ``export_path``, ``process``,
``text_keys``, special tokens, ``np``, ``open_tracer``, ...) and writes the
recipe a juicedb user would write; ``juicedb run config.yaml`` runs that text,
so a config and the SQL ``juicedb convert`` prints compile to the same plan.
Every check happens here, before any data is read: unknown settings,
operators and arguments are errors naming the nearest known name; operators
juicedb lacks (or cannot run as configured) are listed all at once, and are
skipped only when asked (``skip_missing``).

The process list becomes one statement per run of operators up to a selector:

- a mapper wraps the current text expression: later steps read
  ``clean_links(clean_email(text))``, earlier ones ``text``, and the result's
  text column is the last expression (``SELECT * REPLACE (... AS text)``), so
  filters see what DJ's filters see wherever the mapper stands;
- a filter is a WHERE term in DJ's form (``text_length_filter(text, max_len := 350000)``),
  its stats go to ``__dj__stats__`` as DJ's exporter writes them;
- a deduplicator is a WHERE term too; the compiler never moves a predicate
  across it, so it deduplicates what DJ's deduplicator sees;
- a selector ends the statement: the next table is
  ``SELECT * FROM range_specified_field_selector('previous', ...)``.

The result is exported in DJ's format: ``export_path`` (jsonl, json or
parquet; ``__dj__stats__`` kept when ``keep_stats_in_res_ds``) and DJ's side
file ``<export>_stats.jsonl``; floats in JSON are rounded to 10 decimals as
DJ's pandas writer does. As in DJ, relative paths are relative to the working
directory.

>>> r = translate({"dataset_path": "/d/in.jsonl", "export_path": "/d/out.jsonl",
...                "process": [{"clean_email_mapper": None}, {"text_length_filter": {"min_len": 5}}]})
>>> print(r.sql[r.sql.index("CREATE"):r.sql.index(";")])
CREATE OR REPLACE TABLE dj_config AS
WITH mapped AS (
    SELECT * REPLACE (clean_email(text) AS text)
    FROM dataset('/d/in.jsonl'))
SELECT *,
       struct_pack(text_len := text_len(text)) AS __dj__stats__
FROM mapped
WHERE text_length_filter(text, min_len := 5)
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pyarrow as pa

from juicedb.dj.catalog import (
    DJ_ONLY_ARGS,
    FIELD_ARGS,
    MODEL_NOTES,
    NO_EFFECT,
    REFUSED,
    RULE_FLAGS,
    RUNTIME_ARGS,
    SANDBOX_KEYS,
    SPECIAL_TOKENS,
    DjOnly,
    config_keys,
    dj_operators,
    nearest,
)
from juicedb.errors import ConfigError, MissingOperatorsError, ParamError, UnknownOperatorError
from juicedb.registry import OpSpec, Param, all_ops

DEFAULT_EXPORT = "./outputs/hello_world/hello_world.jsonl"  # Data-Juicer's default export_path
EXPORT_TYPES = ("jsonl", "json", "parquet")
STATS = "__dj__stats__"
SELECTORS = {
    "random_selector": ("select_ratio", "select_num"),
    "topk_specified_field_selector": ("field_key", "top_ratio", "topk", "reverse"),
    "range_specified_field_selector": ("field_key", "lower_percentile", "upper_percentile", "lower_rank",
                                       "upper_rank"),
    "frequency_specified_field_selector": ("field_key", "top_ratio", "topk", "reverse"),
    "tags_specified_field_selector": ("field_key", "target_tags"),
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Step:
    """One process step: what it became (``role``, ``sql``) or why it was skipped."""

    index: int          # 1-based position in the process list
    op: str
    args: Mapping[str, Any]
    role: str           # mapper | filter | deduplicator | selector | skipped
    sql: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Tracer:
    """DJ's tracer settings: files go to ``<work_dir>/trace/``."""

    work_dir: str
    trace_num: int = 10
    ops: tuple[str, ...] = ()  # empty: every operator


@dataclass
class DjRecipe:
    """A translated config: the recipe SQL, its steps, what was skipped and noted, and DJ's run settings."""

    source: str
    sql: str
    steps: list[Step]
    notes: list[str]
    np: int | None
    dataset_path: str
    export_path: str
    stats_path: str | None
    result_table: str
    tracer: Tracer | None = None
    stat_types: dict[str, pa.DataType] = field(default_factory=dict)

    @property
    def skipped(self) -> list[Step]:
        return [s for s in self.steps if s.role == "skipped"]

    @property
    def has_mappers(self) -> bool:
        return any(s.role == "mapper" for s in self.steps)


class _Unsupported(Exception):
    """An operator juicedb has, configured in a way it cannot run (the step is missing, with this reason)."""


# ---------------------------------------------------------------- entry point

def translate(config: str | Path | Mapping[str, Any], *, overrides: Mapping[str, Any] | None = None,
              skip_missing: bool = False, skip: Iterable[str] = (), cwd: Path | None = None) -> DjRecipe:
    """Translate a DJ process config (a YAML file or its mapping) into a juicedb recipe.

    ``overrides`` replace top-level settings (DJ's ``--dataset_path x`` command-line
    form). Operators juicedb lacks raise ``MissingOperatorsError`` naming all of them,
    unless ``skip_missing``; ``skip`` names operators to leave out on purpose.
    """
    cfg, source = load_config(config, overrides)
    cwd = (cwd or Path.cwd()).resolve()
    notes = _check_settings(cfg, source)
    ctx = _Context(cfg, source, cwd, notes)
    steps = ctx.translate_process(set(skip), skip_missing)
    sql = ctx.render(steps)
    return DjRecipe(source, sql, steps, notes, ctx.np, ctx.dataset, ctx.export, ctx.stats_path, ctx.table,
                    ctx.tracer, dict(ctx.stat_types))


def load_config(config: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
                ) -> tuple[dict[str, Any], str]:
    """The config as a dict with ``overrides`` applied, and a name for messages."""
    if isinstance(config, Mapping):
        cfg, source = dict(config), "<config>"
    else:
        import yaml
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
        source = str(path)
        if not isinstance(cfg, dict):
            raise ConfigError(f"{path}: expected a mapping of settings (dataset_path, export_path, process, ...), "
                              f"got {type(cfg).__name__}")
    cfg.update(overrides or {})
    return cfg, source


def parse_override(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as YAML (``np=2`` is a number, ``open_tracer=true`` a bool).

    >>> parse_override("np=2"), parse_override("dataset_path=data/x.jsonl")
    (('np', 2), ('dataset_path', 'data/x.jsonl'))
    """
    import yaml
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"expected KEY=VALUE (e.g. dataset_path=data.jsonl), got {text!r}")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


# ---------------------------------------------------------------- settings

def _check_settings(cfg: dict[str, Any], source: str) -> list[str]:
    sandbox = sorted(SANDBOX_KEYS & set(cfg))
    if sandbox:
        raise ConfigError(f"{source} is a Data-Juicer sandbox pipeline config ({', '.join(sandbox)}), not a "
                          "process config; run the process configs its jobs name under dj_configs")
    known = config_keys()
    unknown = [k for k in cfg if k not in known]
    if unknown:
        parts = []
        for k in unknown:
            close = nearest(k, known)
            parts.append(f"{k!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
        raise ConfigError(f"{source}: unknown setting{'s' if len(parts) > 1 else ''} {', '.join(parts)}; "
                          "Data-Juicer's config_all.yaml lists its settings")
    for key, (default, why) in REFUSED.items():
        if cfg.get(key) not in (default, None, [], {}):
            raise ConfigError(f"{key}: expected {default!r}, got {cfg[key]!r}: {why}")
    notes = []
    for key, (default, what) in NO_EFFECT.items():
        if key in cfg and cfg[key] is not None and cfg[key] != default:
            value = repr(cfg[key])
            notes.append(f"{key}={value if len(value) <= 60 else value[:57] + '...'}: {what}")
    return notes


def _lit(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_lit(v) for v in value) + "]"
    return "'" + str(value).replace("'", "''") + "'"


def _named(args: Mapping[str, Any]) -> str:
    return "".join(f", {k} := {_lit(v)}" for k, v in args.items())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "result"


def _column(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _IDENT.fullmatch(value):
        raise ConfigError(f"{what}: expected a top-level field name (letters, digits, _), got {value!r}; "
                          "juicedb does not read nested fields such as 'text.instruction'")
    return value


# ---------------------------------------------------------------- the translation

@dataclass
class _Statement:
    """One CREATE TABLE over the previous table: changed columns, WHERE terms, new stats."""

    source: str
    prefix: dict[str, str] = field(default_factory=dict)     # mappers before any filter: a CTE ``mapped``
    exprs: dict[str, str] = field(default_factory=dict)      # column -> SQL of its current value
    where: list[str] = field(default_factory=list)
    stats: dict[str, str] = field(default_factory=dict)      # stat key -> SQL
    first: dict[str, tuple[list[str], dict[str, Any], int]] = field(default_factory=dict)  # op -> inputs, params

    def expr(self, column: str) -> str:
        return self.exprs.get(column, column)


class _Context:
    def __init__(self, cfg: dict[str, Any], source: str, cwd: Path, notes: list[str]) -> None:
        self.cfg, self.source, self.cwd, self.notes = cfg, source, cwd, notes
        self.table = "dj_" + _slug(str(cfg.get("project_name") or Path(source).stem.lstrip("<").rstrip(">")))
        self.dataset = self._dataset_path()
        self.text_key = self._text_key()
        for key, default in (("image_key", "images"), ("video_key", "videos"), ("audio_key", "audios")):
            if cfg.get(key) not in (None, default):
                raise ConfigError(f"{key}: juicedb reads media from the {default!r} field, got {cfg[key]!r}; "
                                  f"rename the field in the data")
        self.tokens = {SPECIAL_TOKENS[k]: cfg[k] for k in SPECIAL_TOKENS
                       if cfg.get(k) not in (None, SPECIAL_TOKENS[k]) and k != "audio_special_token"}
        np_ = cfg.get("np")
        if np_ is not None and (not isinstance(np_, int) or isinstance(np_, bool) or np_ < 1):
            raise ConfigError(f"np: expected a positive number of processes, got {np_!r}")
        self.np = np_
        self.export, self.export_type = self._export()
        self.keep_stats = bool(cfg.get("keep_stats_in_res_ds", False))
        suffix = "." + self.export_type
        base = self.export[: -len(suffix)] if self.export.endswith(suffix) else self.export
        self.stats_path: str | None = base + "_stats.jsonl"
        self.tracer = self._tracer()
        self.specs = {s.name: s for s in all_ops()}
        self.stat_types: dict[str, pa.DataType] = {}
        self.statements: list[tuple[_Statement, str | None]] = []  # statement, selector SQL that follows it

    # settings ----------------------------------------------------------------------------------------
    def _abs(self, path: str) -> str:
        p = Path(path).expanduser()
        return str(p if p.is_absolute() else (self.cwd / p).resolve())

    def _dataset_path(self) -> str:
        path = self.cfg.get("dataset_path") or ""
        ds = self.cfg.get("dataset")
        if not path and ds:
            configs = ds.get("configs") if isinstance(ds, dict) else ds
            extra = set(ds) - {"configs"} if isinstance(ds, dict) else set()
            one = configs[0] if isinstance(configs, list) and len(configs) == 1 else None
            if extra or not isinstance(one, dict) or one.get("type", "local") != "local" or "path" not in one \
                    or set(one) - {"type", "path", "weight"} or one.get("weight", 1.0) != 1.0:
                raise ConfigError(f"dataset: juicedb reads one local file (dataset: {{configs: [{{type: local, "
                                  f"path: FILE}}]}}, or dataset_path: FILE), got {ds!r}")
            path = one["path"]
        if not isinstance(path, str) or not path.strip():
            raise ConfigError("dataset_path is not set: give it in the config or as --set dataset_path=FILE")
        first = path.split()[0]
        if len(path.split()) > 1 and re.fullmatch(r"[0-9.]+", first):
            raise ConfigError(f"dataset_path: weighted mixtures ({path!r}) are not supported; juicedb reads one file")
        full = self._abs(path)
        if Path(full).is_dir():
            raise ConfigError(f"dataset_path {path!r} is a folder: juicedb reads one file "
                              "(.jsonl, .jsonl.gz, .json, .parquet, .csv)")
        return full

    def _text_key(self) -> str:
        keys = self.cfg.get("text_keys", "text")
        if isinstance(keys, list):
            keys = keys[0] if keys else "text"
        return _column(keys or "text", "text_keys")

    def _export(self) -> tuple[str, str]:
        export = self._abs(str(self.cfg.get("export_path") or DEFAULT_EXPORT))
        etype = str(self.cfg.get("export_type") or export.rsplit(".", 1)[-1]).lower()
        if etype not in EXPORT_TYPES:
            raise ConfigError(f"export_path: juicedb writes {', '.join(EXPORT_TYPES)} as Data-Juicer does; got "
                              f"{etype!r} from {export} (set export_type or change the suffix)")
        return export, etype

    def _tracer(self) -> Tracer | None:
        if not self.cfg.get("open_tracer"):
            return None
        work_dir = self._abs(str(self.cfg.get("work_dir") or Path(self.export).parent))
        num = self.cfg.get("trace_num", 10)
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise ConfigError(f"trace_num: expected a positive number of samples, got {num!r}")
        ops = self.cfg.get("op_list_to_trace") or []
        if not isinstance(ops, list):
            raise ConfigError(f"op_list_to_trace: expected a list of operator names, got {ops!r}")
        return Tracer(work_dir, num, tuple(ops))

    # process -----------------------------------------------------------------------------------------
    def _items(self) -> list[tuple[str, dict[str, Any]]]:
        process = self.cfg.get("process") or []
        if not isinstance(process, list):
            raise ConfigError(f"process: expected a list of {{operator: {{arguments}}}}, got {type(process).__name__}")
        items = []
        for i, item in enumerate(process, 1):
            if isinstance(item, str):
                item = {item: None}
            if not isinstance(item, dict) or len(item) != 1:
                raise ConfigError(f"process step {i}: expected one {{operator: {{arguments}}}}, got {item!r}")
            (name, args), = item.items()
            if args is not None and not isinstance(args, dict):
                raise ConfigError(f"process step {i} ({name}): expected a mapping of arguments, got {args!r}")
            items.append((str(name), dict(args or {})))
        return items

    def translate_process(self, skip: set[str], skip_missing: bool) -> list[Step]:
        items = self._items()
        known = set(dj_operators()) | set(self.specs) | set(SELECTORS)
        names = {n for n, _ in items}
        for name in sorted(skip):
            if name not in names:
                close = nearest(name, names)
                raise ConfigError(f"--skip {name}: no such operator in the process list"
                                  + (f"; did you mean {', '.join(close)}?" if close else ""))
        stmt = _Statement(self._dataset_sql())
        steps: list[Step] = []
        missing: list[tuple[int, str, str]] = []
        for i, (name, args) in enumerate(items, 1):
            if name not in known:
                close = nearest(name, known)
                hint = f"; did you mean {', '.join(close)}?" if close else "; `juicedb ops` lists juicedb's operators"
                raise UnknownOperatorError(f"process step {i}: unknown operator {name!r}{hint}")
            if name in skip:
                steps.append(Step(i, name, args, "skipped", reason="skipped on request (--skip)"))
                continue
            try:
                if name in SELECTORS:
                    sql = self._selector(i, name, args, stmt)
                    steps.append(Step(i, name, args, "selector", sql or "keeps every sample"))
                    if sql is None:
                        continue
                    self.statements.append((stmt, sql))
                    stmt = _Statement(self._step_table(len(self.statements)) + "_selected")
                    continue
                spec = self.specs.get(name)
                if spec is None:
                    raise _Unsupported("not in juicedb")
                role, sql = self._operator(i, spec, args, stmt)
                steps.append(Step(i, name, args, role, sql))
            except _Unsupported as e:
                missing.append((i, name, str(e)))
                steps.append(Step(i, name, args, "skipped", reason=str(e)))
        self.statements.append((stmt, None))
        if missing and not skip_missing:
            listed = "; ".join(f"step {i} {name} ({why})" for i, name, why in missing)
            raise MissingOperatorsError(
                f"{self.source}: {len(missing)} of {len(items)} operators cannot run in juicedb: {listed}. "
                "Run the others with --skip-missing (Python: skip_missing=True)", missing)
        return steps

    def _dataset_sql(self) -> str:
        opts = f", text_key := {_lit(self.text_key)}" if self.text_key != "text" else ""
        return f"dataset({_lit(self.dataset)}{opts})"

    def _step_table(self, k: int) -> str:
        return f"{self.table}_{k}"

    # operators ---------------------------------------------------------------------------------------
    def _operator(self, i: int, spec: OpSpec, args: dict[str, Any], stmt: _Statement) -> tuple[str, str]:
        params, limits, columns, lang = self._split_args(i, spec, args)
        if spec.name in MODEL_NOTES:
            self.notes.append(f"step {i} {spec.name}: {MODEL_NOTES[spec.name]}")
        for model in _hub_models(spec, params):
            self.notes.append(f"step {i} {spec.name}: model {model!r} is not on this machine (HuggingFace cache); "
                              f"it is downloaded when the step runs, which fails offline: --skip {spec.name}, "
                              "or name a local model folder in the config")
        inputs = [self._input(kind, columns, stmt, spec) for kind in spec.inputs]
        if spec.kind == "mapper":
            column = columns["text"]
            if not stmt.where:  # mappers first, as in most recipes: they map every row, as DJ does
                stmt.prefix[column] = f"{spec.sql_name}({stmt.prefix.get(column, column)}{_named(params)})"
                return "mapper", stmt.prefix[column]
            stmt.exprs[column] = f"{spec.sql_name}({stmt.expr(column)}{_named(params)})"
            return "mapper", stmt.exprs[column]
        if spec.kind == "deduplicator":
            term = f"{spec.name}({', '.join(inputs)}{_named(params)})"
            stmt.where.append(term)
            return "deduplicator", term
        # Data-Juicer never recomputes a stat a sample already has: a second filter of the same
        # operator reads the first one's stat (its input and parameters), whatever it was given.
        if spec.name in stmt.first:
            first_inputs, first_params, j = stmt.first[spec.name]
            if first_inputs != inputs or spec.resolve_params(first_params) != spec.resolve_params(params):
                self.notes.append(f"step {i} {spec.name}: reuses the stats of step {j}, as Data-Juicer does "
                                  "(it never recomputes a stat); its own input or parameters are not used")
            inputs, params = first_inputs, first_params
        else:
            stmt.first[spec.name] = (inputs, params, i)
        call = f"{spec.name}({', '.join(inputs)}{_named({**params, **limits})})"
        for s in spec.stats:
            if s.key not in stmt.stats and s.key not in self.stat_types:
                stmt.stats[s.key] = f"{s.key}({', '.join(inputs)}{_named(params)})"
                self.stat_types.setdefault(s.key, s.type)
        if lang:
            keep = f"lang({', '.join(inputs)}) = {_lit(lang[0])}" if len(lang) == 1 else \
                f"lang({', '.join(inputs)}) IN ({', '.join(_lit(x) for x in lang)})"
            call = f"({call} AND {keep})"
        stmt.where.append(call)
        return "filter", call

    def _input(self, kind: str, columns: dict[str, str], stmt: _Statement, spec: OpSpec) -> str:
        if kind != "text":
            return columns[kind]
        text = stmt.expr(columns["text"])
        if len(spec.inputs) > 1:  # image/video-text operators read DJ's default special tokens
            for default, custom in self.tokens.items():
                text = f"replace({text}, {_lit(custom)}, {_lit(default)})"
        return text

    def _split_args(self, i: int, spec: OpSpec, args: dict[str, Any],
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], list[str]]:
        """DJ's arguments as juicedb parameters (``params``) and keep-rule values (``limits``)."""
        where = f"process step {i} ({spec.name})"
        params_by_name = {p.name: p for p in spec.params}
        bounds = {b.name for b in spec.bounds}
        rules = {r.name: r for r in spec.rule_params}
        dj_only = DJ_ONLY_ARGS.get(spec.name, {})
        dj_args = dj_operators().get(spec.name, frozenset())
        params: dict[str, Any] = {}
        limits: dict[str, Any] = {}
        columns = {"text": self.text_key, "images": "images", "videos": "videos"}
        lang: list[str] = []
        for key, value in args.items():
            if key in params_by_name:
                if key == "tokenization" and value is True:
                    raise _Unsupported(DJ_ONLY_ARGS["alphanumeric_filter"]["tokenization"].why)
                if isinstance(value, (list, dict)) and params_by_name[key].type is str:
                    value = json.dumps(value)  # list arguments travel as JSON text (SQL parameters are scalars)
                if value is not None or params_by_name[key].default is None:
                    params[key] = value
            elif key in bounds:
                number = _number(value, f"{where}: {key}")
                if number is not None and not math.isinf(number):
                    limits[key] = number
            elif key in rules:
                limits[key] = _rule_value(rules[key], value, where)
            elif key in RULE_FLAGS and spec.kind == "filter":
                if not isinstance(value, bool):
                    raise ParamError(f"{where}: {key} expected true or false, got {value!r}")
                limits[key] = value
            elif key in dj_only:
                self._dj_only(i, spec, key, value, dj_only[key], params, lang)
            elif key in RUNTIME_ARGS:
                continue
            elif key in FIELD_ARGS:
                if key == "text_key" and value not in (None, ""):
                    columns["text"] = _column(value, f"{where}: text_key")
                elif value not in (None, FIELD_ARGS[key]):
                    raise _Unsupported(f"{key}={value!r} is not supported (juicedb reads media from 'images' and "
                                       "'videos' and has no query/response/history fields)")
            elif key in dj_args:
                if value is not None:
                    raise _Unsupported(f"Data-Juicer's argument {key}={value!r} is not implemented in juicedb")
            else:
                takes = sorted({*params_by_name, *bounds, *rules, *dj_args} - set(dj_only)
                               | {k for k, d in dj_only.items() if d.alias})
                close = nearest(key, takes)
                hint = f"did you mean {', '.join(close)}? " if close else ""
                raise ParamError(f"{where}: unknown argument {key!r}; {hint}{spec.name} takes "
                                 f"{', '.join(takes) or 'no arguments'}")
        try:
            spec.resolve_params(params)
        except ParamError as e:
            raise ParamError(f"{where}: {str(e).removeprefix(spec.name + ': ')}") from None
        return params, limits, columns, lang

    def _dj_only(self, i: int, spec: OpSpec, key: str, value: Any, rule: DjOnly, params: dict[str, Any],
                 lang: list[str]) -> None:
        if value is None:
            return
        if rule.alias:
            params[rule.alias] = value
            return
        if spec.name == "language_id_score_filter" and key == "lang":
            values = value if isinstance(value, list) else [value]
            lang.extend(str(v) for v in values if v)
            return
        if key == "hf_tokenizer":
            path = Path(value).expanduser()
            path = path / "tokenizer.json" if path.is_dir() else path
            if path.is_file():
                params["tokenizer"] = str(path.resolve())
            return
        if key in ("flagged_words_dir", "stopwords_dir"):
            kind = key.removesuffix("_dir")
            folder = self.cwd / Path(value).expanduser()
            if (folder / f"{kind}.json").is_file():
                params["words_file"] = str((folder / f"{kind}.json").resolve())
            elif folder.is_dir():  # a folder DJ would not download its lists into
                self.notes.append(f"step {i} {spec.name}: no {kind}.json in {value!r}; juicedb uses the "
                                  "BigScience lists it ships, which are DJ's")
            return
        if not rule.any_value and value != rule.default:
            raise _Unsupported(rule.why)
        if rule.note:
            self.notes.append(f"step {i} {spec.name}: {rule.note}")

    # selectors ---------------------------------------------------------------------------------------
    def _selector(self, i: int, name: str, args: dict[str, Any], stmt: _Statement) -> str | None:
        where = f"process step {i} ({name})"
        allowed = SELECTORS[name]
        for key in args:
            if key not in allowed and key not in RUNTIME_ARGS and key not in FIELD_ARGS:
                close = nearest(key, allowed)
                raise ParamError(f"{where}: unknown argument {key!r}; "
                                 + (f"did you mean {', '.join(close)}? " if close else "")
                                 + f"{name} takes {', '.join(allowed)}")
        named = {k: v for k, v in args.items() if k in allowed and k != "field_key" and v is not None}
        previous = self._step_table(len(self.statements) + 1)
        if "field_key" not in allowed:
            return f"SELECT * FROM {name}({_lit(previous)}{_named(named)})"
        key = args.get("field_key")
        if key in (None, ""):  # DJ's selectors keep the whole dataset without a field
            self.notes.append(f"step {i} {name}: no field_key, so it keeps every sample (as in Data-Juicer)")
            return None
        if not isinstance(key, str):
            raise ParamError(f"{where}: field_key expected a field name such as '{STATS}.lang_score' or "
                             f"'meta.src', got {key!r}")
        head, _, rest = key.partition(".")
        head = _column(head, f"{where}: field_key")
        if head == STATS and rest:
            expr = f"{STATS}.{_column(rest, f'{where}: field_key')}"
        elif rest:
            expr = f"json_extract_string({head}, {_lit('$.' + rest)})"
        else:
            expr = head
        view = f"{previous}_field"
        return (f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT *, {expr} AS __dj_field FROM {previous};\n"
                f"SELECT * EXCLUDE (__dj_field) FROM {name}({_lit(view)}, '__dj_field'{_named(named)})")

    # rendering ---------------------------------------------------------------------------------------
    def render(self, steps: list[Step]) -> str:
        out = [self._header(steps)]
        many = len(self.statements) > 1
        has_stats = False
        for k, (stmt, _) in enumerate(self.statements, 1):
            target = self._step_table(k) if many and k < len(self.statements) else self.table
            if k > 1:  # the selector that ended the previous statement
                view_sql, _, select = (self.statements[k - 2][1] or "").rpartition("\n")
                if view_sql:
                    out.append(view_sql)
                out.append(f"CREATE OR REPLACE TABLE {self._step_table(k - 1)}_selected AS\n{select};")
            out.append(self._statement(stmt, target, has_stats))
            has_stats = has_stats or bool(stmt.stats)
        out += self._exports(has_stats)
        return "\n\n".join(out) + "\n"

    def _statement(self, stmt: _Statement, target: str, had_stats: bool) -> str:
        replace = [f"{expr} AS {col}" for col, expr in stmt.exprs.items()]
        if stmt.stats:
            fields = (",\n" + " " * 19).join(f"{k} := {v}" for k, v in stmt.stats.items())
            if had_stats:
                replace.append(f"struct_insert({STATS}, {fields}) AS {STATS}")
        select = "SELECT *" + (f" REPLACE ({', '.join(replace)})" if replace else "")
        if stmt.stats and not had_stats:
            select += f",\n       struct_pack({fields}) AS {STATS}"
        where = ("\nWHERE " + "\n  AND ".join(stmt.where)) if stmt.where else ""
        source, cte = stmt.source, ""
        if stmt.prefix:
            mapped = ", ".join(f"{expr} AS {col}" for col, expr in stmt.prefix.items())
            cte = f"WITH mapped AS (\n    SELECT * REPLACE ({mapped})\n    FROM {source})\n"
            source = "mapped"
        return f"CREATE OR REPLACE TABLE {target} AS\n{cte}{select}\nFROM {source}{where};"

    def _exports(self, has_stats: bool) -> list[str]:
        rounded = self._rounded() if has_stats else ""
        drop = "uid" if self.keep_stats or not has_stats else f"uid, {STATS}"
        columns = f"* EXCLUDE ({drop})"
        if self.keep_stats and has_stats and self.export_type != "parquet":
            columns += f" REPLACE ({rounded} AS {STATS})"
        fmt = {"jsonl": "FORMAT json", "json": "FORMAT json, ARRAY true", "parquet": "FORMAT parquet"}
        out = [f"-- the result, in Data-Juicer's format\n"
               f"COPY (SELECT {columns} FROM {self.table}) TO {_lit(self.export)} ({fmt[self.export_type]});"]
        if has_stats and self.stats_path:
            out.append(f"-- Data-Juicer's side file of the stats\n"
                       f"COPY (SELECT {rounded} AS {STATS} FROM {self.table}) TO {_lit(self.stats_path)} "
                       "(FORMAT json);")
        else:
            self.stats_path = None
        return out

    def _rounded(self) -> str:
        """``__dj__stats__`` with floats rounded to 10 decimals (DJ's JSON writer: pandas, double_precision=10)."""
        parts = []
        for key, t in self.stat_types.items():
            value = f"{STATS}.{key}"
            if pa.types.is_floating(t):
                value = f"round({value}, 10)"
            elif pa.types.is_list(t) and pa.types.is_floating(t.value_type):
                value = f"list_transform({value}, lambda v: round(v, 10))"
            parts.append(f"{key} := {value}")
        return "struct_pack(" + ", ".join(parts) + ")"

    def _header(self, steps: list[Step]) -> str:
        lines = [f"-- Data-Juicer config {self.source}, as a juicedb recipe (juicedb convert)"]
        width = max((len(s.op) for s in steps), default=0)
        for s in steps:
            what = f"skipped: {s.reason}" if s.role == "skipped" else s.role
            args = ", ".join(f"{k}={v!r}" for k, v in s.args.items())
            lines.append(f"--   {s.index:>2}. {s.op:<{width}}  {what}" + (f"  ({args})" if args else ""))
        lines += [f"-- note: {n}" for n in self.notes]
        return "\n".join(lines)


_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def _hub_models(spec: OpSpec, params: dict[str, Any]) -> list[str]:
    """The HuggingFace hub ids a model operator would load that are not in the local HuggingFace cache."""
    if spec.cost not in ("model", "gpu_model"):
        return []
    values = spec.resolve_params(params)
    ids = [v for p in spec.params if p.type is str and isinstance(v := values[p.name], str)
           and _HUB_ID.fullmatch(v) and not Path(v).exists()]
    if not ids:
        return []
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return ids
    return [m for m in ids if not isinstance(try_to_load_from_cache(m, "config.json"), str)]


def _number(value: Any, what: str) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            raise ParamError(f"{what} expected a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"{what} expected a number, got {value!r}")
    return value


def _rule_value(rule: Param, value: Any, where: str) -> Any:
    if rule.type in (int, float) and isinstance(value, (int, float, str)) and not isinstance(value, bool):
        if isinstance(value, str) and rule.type is float:
            value = _number(value, f"{where}: {rule.name}")
        if isinstance(value, float) and math.isinf(value):
            big = sys.maxsize if rule.type is int else sys.float_info.max
            value = big if value > 0 else -big
    try:
        return rule.validate(where, value)
    except ParamError as e:
        raise ParamError(str(e).replace(f"{where}: parameter", f"{where}: argument")) from None
