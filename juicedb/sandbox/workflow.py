"""Probe-Analyze-Refine: the sandbox's stages over pools, trainers and evaluators.

(a) **probe**: each stat's samples cut into buckets (DJ's terciles by default), downsampled to one
    size, a seeded random pool of that size per seed; one model per pool and seed; pools ranked by
    the paper's Eq. 3 -- the relative change of the metrics over the random pool of the same seed,
    averaged over the metrics, signed so that better is positive -- as mean ± std over seeds, with
    the Spearman rank agreement between seeds.
(b) **analyze**: Pearson correlation of the stats over the samples, hierarchical clusters of the
    stats (distance 1 - |r|), the best OP of each cluster; correlation of the metrics across jobs
    and of the pools' mean stats with their scores.
(c) **combine**: the top-k OPs (each with its best bucket) intersected in all 2^k - 1 ways (the
    pyramid), and the intersection of the best OP of each cluster.
(d) **duplicate**: the best combined pool repeated x t against the same pool filled to t times its
    size with new samples from the pyramid's lower levels; each trained t times longer
    (``budget: scaled``) or as long (``fixed``).
(e) **refine**: the best pool written as a recipe of stat bounds (refined_recipe.sql), run, and its
    pool trained against an equal-size random pool over more seeds: does it beat random beyond
    seed noise (Welch's t-test)?

A job (pool content, trainer, evaluators, seed, budget scale) that finished is never run again:
a re-run after a crash or a kill trains only what is missing. Results land in workspace tables
``sandbox_ranking``, ``sandbox_seed_agreement``, ``sandbox_clusters``, ``sandbox_correlations``,
``sandbox_combinations``, ``sandbox_duplication``, ``sandbox_refined`` (one ``sandbox`` column
names the config), and in one Markdown report with plots.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import SandboxError
from juicedb.sandbox.config import ProbeOp, SandboxConfig
from juicedb.sandbox.plugins import PoolData, make_evaluator, make_trainer
from juicedb.sandbox.pools import Pool, Pools, bucket_labels
from juicedb.sandbox.store import Store
from juicedb.workspace import Workspace

Metrics = dict[str, tuple[float, bool]]  # name -> (value, higher_is_better)


def _sha1(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def relative_change(pool: Metrics, base: Metrics, names: list[str]) -> float:
    """The paper's Eq. 3 for one seed, in percent: mean over metrics of the signed relative change vs ``base``.

    A metric the baseline scores 0 on (a recall of 0) has no relative change and is left out of the
    mean; NaN when every metric is.

    >>> relative_change({"bpb": (2.0, False), "acc": (0.6, True)}, {"bpb": (2.5, False), "acc": (0.5, True)},
    ...                 ["bpb", "acc"])
    20.0
    """
    changes = []
    for m in names:
        v, hib = pool[m]
        b, _ = base[m]
        if b != 0:
            changes.append((1 if hib else -1) * (v - b) / abs(b))
    return 100.0 * float(np.mean(changes)) if changes else float("nan")


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0 for one value)."""
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0


@dataclass
class Job:
    pool: str
    seed: int
    scale: float
    metrics: Metrics
    reused: bool
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Candidate:
    """A pool that is scored against the random pool: a bucket of one stat, or an intersection of buckets."""

    pool: Pool
    members: list[tuple[str, str]]   # (stat name, bucket label) of each bucket it intersects
    level: int
    scores: list[float] = field(default_factory=list)   # Eq. 3 per seed, in percent
    metric_means: dict[str, float] = field(default_factory=dict)
    exact_rows: int = 0      # the bucket (or intersection of buckets) before downsampling
    bounds_rows: int = 0     # what its bucket edges as a predicate keep: more when a cut falls inside tied values

    @property
    def range_faithful(self) -> bool:
        """Whether the bucket edges, as stat bounds, select (within 10%) what the rank cut selected."""
        return self.bounds_rows <= 1.1 * self.exact_rows

    @property
    def label(self) -> str:
        return " ∩ ".join(f"{s}:{b}" for s, b in self.members)

    @property
    def mean(self) -> float:
        return mean_std(self.scores)[0] if self.scores else float("nan")

    @property
    def std(self) -> float:
        return mean_std(self.scores)[1] if self.scores else float("nan")


@dataclass
class Result:
    """What one ``sandbox run`` found; every table here is also a workspace table."""

    config: SandboxConfig
    dataset: str
    rows: int
    pool_size: int
    ranking: list[Candidate] = field(default_factory=list)
    agreement: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    stat_corr: tuple[list[str], np.ndarray] | None = None
    metric_corr: tuple[list[str], np.ndarray] | None = None
    stat_metric: list[dict[str, Any]] = field(default_factory=list)
    combinations: list[Candidate] = field(default_factory=list)
    top_ops: list[str] = field(default_factory=list)
    duplication: list[dict[str, Any]] = field(default_factory=list)
    refined: dict[str, Any] | None = None
    recipe_path: Path | None = None
    recipe: str | None = None
    trained: int = 0
    reused: int = 0
    seconds: float = 0.0
    rank_metrics: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: Path | None = None


class Sandbox:
    """Runs a sandbox config on a workspace; ``log`` receives one line per step and job."""

    def __init__(self, ws: Workspace, cfg: SandboxConfig, *, log: Callable[[str], None] | None = None) -> None:
        self.ws, self.cfg = ws, cfg
        self.log = log or (lambda _line: None)
        self.store = Store(ws)
        self.pools = Pools(self.store)
        self.prepare()  # first: the plug-ins check that their evaluation sets exist
        self.trainer = make_trainer(cfg.trainer, cfg.base_dir)
        self.evaluators = [make_evaluator(e, cfg.base_dir) for e in cfg.evaluators]
        self.fingerprint = {"trainer": self.trainer.fingerprint(),
                            "evaluators": [e.fingerprint() for e in self.evaluators]}
        self.jobs: dict[tuple[str, int, float], Job] = {}
        self.randoms: dict[tuple[int, int], Pool] = {}   # (size, seed) -> random pool
        self.result: Result | None = None

    # ------------------------------------------------------------------ jobs

    def job(self, pool: Pool, seed: int, stage: str, scale: float = 1.0) -> Job:
        """Train and evaluate ``pool`` with ``seed`` (or read the finished job's metrics)."""
        if pool.rows < max(1, self.cfg.min_pool_rows):
            raise SandboxError(f"pool {pool.name} has {pool.rows} samples, fewer than min_pool_rows "
                               f"({self.cfg.min_pool_rows}): nothing to train on")
        known = self.jobs.get((pool.name, seed, scale))
        if known is not None:
            return known
        key = _sha1({"uids": pool.uids_hash, "dataset": pool.dataset, **self.fingerprint, "seed": seed,
                     "scale": scale})
        done = self.store.finished_job(key)
        res = self.result
        if done is not None:
            job = Job(pool.name, seed, scale, done, True, 0.0)
            if res is not None:
                res.reused += 1
            self.log(f"[{stage}] {pool.name} seed {seed}{_scale(scale)}: finished before, not re-run")
        else:
            self.store.start_job(key, sandbox=self.cfg.name, stage=stage, pool=pool.name, uids_hash=pool.uids_hash,
                                 trainer=json.dumps(self.fingerprint["trainer"], sort_keys=True), seed=seed,
                                 scale=scale)
            workdir = self.ws.path / "sandbox" / "jobs" / key[:16]
            shutil.rmtree(workdir, ignore_errors=True)
            t0 = time.perf_counter()
            data = PoolData(pool.name, self.pools.samples(pool.name), self.cfg.text_key, self.cfg.dataset.parent)
            try:
                artifact = self.trainer.train(data, seed=seed, scale=scale, workdir=workdir)
                metrics = [m for ev in self.evaluators for m in ev.evaluate(artifact, workdir=workdir)]
            except (SandboxError, KeyboardInterrupt):
                self.store.fail_job(key, "interrupted")
                raise
            except Exception as e:
                self.store.fail_job(key, f"{type(e).__name__}: {e}")
                raise SandboxError(f"training or evaluating pool {pool.name} (seed {seed}) failed: "
                                   f"{type(e).__name__}: {e}") from e
            names = [m.name for m in metrics]
            if len(set(names)) != len(names):
                raise SandboxError(f"two evaluators report the same metric name: {sorted(names)}")
            seconds = time.perf_counter() - t0
            self.store.finish_job(key, [(m.name, m.value, m.higher_is_better) for m in metrics], seconds=seconds,
                                  artifact=str(workdir) if self.cfg.keep_artifacts else "", info=artifact.info)
            if not self.cfg.keep_artifacts:
                shutil.rmtree(workdir, ignore_errors=True)
            job = Job(pool.name, seed, scale, {m.name: (m.value, m.higher_is_better) for m in metrics}, False,
                      seconds, artifact.info)
            if res is not None:
                res.trained += 1
            shown = ", ".join(f"{m.name}={m.value:.4f}" for m in metrics[:3])
            self.log(f"[{stage}] {pool.name} seed {seed}{_scale(scale)}: trained in {seconds:.1f} s: {shown}")
        self.jobs[(pool.name, seed, scale)] = job
        return job

    def rank_metrics(self, job: Job) -> list[str]:
        names = self.cfg.rank_metrics or sorted(job.metrics)
        missing = [m for m in names if m not in job.metrics]
        if missing:
            raise SandboxError(f"rank_metrics names {missing[0]!r}, which no evaluator reports; metrics: "
                               f"{', '.join(sorted(job.metrics))}")
        return names

    def random_pool(self, size: int, seed: int) -> Pool:
        if (size, seed) not in self.randoms:
            self.randoms[(size, seed)] = self.pools.random(f"random:n{size}:s{seed}", self.dataset, size, seed)
        return self.randoms[(size, seed)]

    def score(self, cand: Candidate, seeds: list[int], stage: str, *, base_size: int) -> None:
        """Train ``cand`` for every seed and score it (Eq. 3) against the random pool of ``base_size``."""
        cand.scores, per_metric = [], {}
        for seed in seeds:
            base = self.job(self.random_pool(base_size, seed), seed, stage)
            job = self.job(cand.pool, seed, stage)
            names = self.rank_metrics(job)
            cand.scores.append(relative_change(job.metrics, base.metrics, names))
            for m, (v, _) in job.metrics.items():
                per_metric.setdefault(m, []).append(v)
        cand.metric_means = {m: float(np.mean(v)) for m, v in per_metric.items()}

    # ------------------------------------------------------------------ stages

    def run(self) -> Result:
        t0 = time.perf_counter()
        cfg = self.cfg
        self.compute_stats()
        res = self.result
        assert res is not None
        for stage in cfg.stages:
            getattr(self, stage)()
        res.seconds = time.perf_counter() - t0
        from juicedb.sandbox.report import write_report
        res.report = write_report(self, res)
        self.log(f"report: {res.report}")
        return res

    def prepare(self) -> None:
        """Run the config's preparation commands whose output is missing (building a dataset, say)."""
        import sys

        from juicedb.sandbox.command import _run
        for step in self.cfg.prepare:
            if step.creates.exists():
                continue
            self.log(f"[prepare] {step.run}")
            log = self.ws.path / "sandbox" / f"prepare_{self.cfg.slug}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            _run(step.run, {"python": sys.executable}, self.cfg.base_dir, log, None, None)
            if not step.creates.exists():
                raise SandboxError(f"prepare step `{step.run}` ran but did not create {step.creates}")

    def compute_stats(self) -> None:
        """The probe's stats over the whole dataset, through the engine (cached: computed once)."""
        cfg = self.cfg
        cols = ", ".join(f'{op.call} AS "{op.name}"' for op in cfg.ops)
        path = str(cfg.dataset).replace("'", "''")
        opts = "" if cfg.text_key == "text" else f", text_key := '{cfg.text_key}'"
        table = f"sandbox_{cfg.slug}_stats"
        self.stats_sql = f'CREATE OR REPLACE TABLE "{table}" AS\nSELECT uid, {cols}\nFROM dataset(\'{path}\'{opts})'
        self.ws.compile(self.stats_sql)  # a bad op call fails here, before any data is read
        self.log(f"[stats] computing {len(cfg.ops)} stats over {cfg.dataset.name}")
        self.ws.run(self.stats_sql, fetch=False)
        computed = self.ws.last_run.computed if self.ws.last_run else 0
        self.dataset = self.ws.load(cfg.dataset, **({} if cfg.text_key == "text" else {"text_key": cfg.text_key}))
        self.stats = self.store.arrow(f'SELECT * FROM "{table}"')
        self.log(f"[stats] {self.stats.num_rows} samples, {computed} stat values computed (the rest from the cache)")
        if self.stats.num_rows < 3:
            raise SandboxError(f"{cfg.dataset}: {self.stats.num_rows} samples, too few to cut into pools")
        self.result = Result(cfg, self.dataset, self.stats.num_rows, 0)

    def probe(self) -> None:
        cfg, res = self.cfg, self.result
        assert res is not None
        recipe_hash = hashlib.sha1(self.stats_sql.encode()).hexdigest()
        raw: dict[str, list[Pool]] = {}
        for op in cfg.ops:
            raw[op.name] = self.pools.buckets(
                self.dataset, op.name, self.stats.select(["uid", op.name]), ratios=cfg.split_ratios,
                definition={"call": op.call, "recipe_sha1": recipe_hash, "dataset": str(cfg.dataset)})
        self.raw_buckets = raw
        size = min(p.rows for ps in raw.values() for p in ps)
        if size < max(1, cfg.min_pool_rows):
            raise SandboxError(f"the smallest bucket has {size} samples (min_pool_rows {cfg.min_pool_rows}): "
                               "use fewer split ratios or a larger dataset")
        res.pool_size = size
        labels = bucket_labels(len(cfg.split_ratios) + 1)
        cands = []
        for op in cfg.ops:
            for label, pool in zip(labels, raw[op.name]):
                if pool.rows > size:
                    pool = self.pools.downsample(f"{pool.name}/{size}", pool.name, size, cfg.pool_seed)
                raw_rows = self.raw_buckets[op.name][labels.index(label)].rows
                cands.append(Candidate(pool, [(op.name, label)], 1, exact_rows=raw_rows,
                                       bounds_rows=self.bounds_rows([(op.name, label)])))
        self.log(f"[probe] {len(cands)} pools of {size} samples, {len(cfg.seeds)} seeds, random pool per seed")
        for seed in cfg.seeds:  # seed by seed: a run killed midway has whole seeds done
            self.job(self.random_pool(size, seed), seed, "probe")
            for c in cands:
                self.job(c.pool, seed, "probe")
        for c in cands:
            self.score(c, cfg.seeds, "probe", base_size=size)
        res.rank_metrics = self.rank_metrics(self.jobs[(self.random_pool(size, cfg.seeds[0]).name, cfg.seeds[0], 1.0)])
        res.ranking = sorted(cands, key=lambda c: -c.mean)
        self.probe_pools = {(c.members[0]): c for c in cands}
        res.agreement = seed_agreement(res.ranking, cfg.seeds)
        self._write("sandbox_ranking", self._candidate_rows(res.ranking, cfg.seeds))
        self._write("sandbox_seed_agreement", pa.Table.from_pylist(
            [{"sandbox": cfg.name, **a} for a in res.agreement],
            schema=pa.schema([("sandbox", pa.string()), ("seed_a", pa.int64()), ("seed_b", pa.int64()),
                              ("spearman", pa.float64()), ("p_value", pa.float64()), ("pools", pa.int64())])))

    def analyze(self) -> None:
        cfg, res = self.cfg, self.result
        assert res is not None
        names = [op.name for op in cfg.ops]
        stats, matrix = correlate(self.stats, names)
        res.stat_corr = (stats, matrix)
        labels = cluster(stats, matrix, cfg.clusters)
        best_by_stat = {}
        for c in res.ranking:
            stat = c.members[0][0]
            if stat not in best_by_stat or c.mean > best_by_stat[stat].mean:
                best_by_stat[stat] = c
        rows = []
        for stat, lab in zip(stats, labels):
            b = best_by_stat.get(stat)
            rows.append({"stat": stat, "cluster": int(lab), "best_bucket": b.members[0][1] if b else None,
                         "best_score": b.mean if b else None, "best_std": b.std if b else None})
        for lab in sorted(set(labels)):
            members = [r for r in rows if r["cluster"] == lab and r["best_score"] is not None]
            if members:
                top = max(members, key=lambda r: r["best_score"])
                top["cluster_best"] = True
        for r in rows:
            r.setdefault("cluster_best", False)
        res.clusters = rows
        self._write("sandbox_clusters", pa.Table.from_pylist([{"sandbox": cfg.name, **r} for r in rows]))
        # the metrics against each other, over every probe job
        probe_jobs = [j for (_, _, s), j in self.jobs.items() if s == 1.0]
        metric_names = sorted(probe_jobs[0].metrics) if probe_jobs else []
        corr_rows = [{"kind": "stat", "a": a, "b": b, "pearson": _f(matrix[i, j]), "n": self.stats.num_rows}
                     for i, a in enumerate(stats) for j, b in enumerate(stats)]
        if len(metric_names) > 1:
            values = np.array([[j.metrics[m][0] for m in metric_names] for j in probe_jobs])
            mm = np.corrcoef(values.T)
            res.metric_corr = (metric_names, mm)
            corr_rows += [{"kind": "metric", "a": a, "b": b, "pearson": _f(mm[i, j]), "n": len(probe_jobs)}
                          for i, a in enumerate(metric_names) for j, b in enumerate(metric_names)]
        # each probe pool's mean stat against its score and metrics
        by_uid = {u: i for i, u in enumerate(self.stats.column("uid").to_pylist())}
        cols = {n: _as_float(self.stats.column(n)) for n in stats}
        pool_means = {n: [] for n in stats}
        scores, metric_vals = [], {m: [] for m in metric_names}
        for c in res.ranking:
            idx = [by_uid[u] for u in self.pools.uids(c.pool.name) if u in by_uid]
            for n in stats:
                pool_means[n].append(float(np.nanmean(cols[n][idx])) if idx else float("nan"))
            scores.append(c.mean)
            for m in metric_names:
                metric_vals[m].append(c.metric_means.get(m, float("nan")))
        targets = {"eq3_score": scores, **metric_vals}
        for n in stats:
            for t, ys in targets.items():
                r = _pearson(pool_means[n], ys)
                res.stat_metric.append({"stat": n, "target": t, "pearson": r, "pools": len(ys)})
                corr_rows.append({"kind": "pool_mean_stat~metric", "a": n, "b": t, "pearson": r, "n": len(ys)})
        self._write("sandbox_correlations", pa.Table.from_pylist(
            [{"sandbox": cfg.name, **r} for r in corr_rows],
            schema=pa.schema([("sandbox", pa.string()), ("kind", pa.string()), ("a", pa.string()),
                              ("b", pa.string()), ("pearson", pa.float64()), ("n", pa.int64())])))
        self.log(f"[analyze] {len(stats)} stats in {len(set(labels))} clusters; best per cluster: "
                 + ", ".join(f"{r['stat']}:{r['best_bucket']}" for r in rows if r["cluster_best"]))

    def combine(self) -> None:
        cfg, res = self.cfg, self.result
        assert res is not None
        best_per_op: dict[str, Candidate] = {}
        for c in res.ranking:
            stat = c.members[0][0]
            if stat not in best_per_op:
                best_per_op[stat] = c
        top = sorted(best_per_op.values(), key=lambda c: -c.mean)[: cfg.top_k]
        res.top_ops = [c.label for c in top]
        self.log(f"[combine] top-{len(top)} OPs: {', '.join(res.top_ops)}")
        combos: list[Candidate] = []
        for level in range(1, len(top) + 1):
            for subset in itertools.combinations(range(len(top)), level):
                members = [top[i].members[0] for i in subset]
                name = "top_" + "_".join(str(i) for i in subset)
                if level == 1:  # the probe's pool itself, trained and scored already
                    combos.append(top[subset[0]])
                    continue
                pool = self.pools.intersect(f"{cfg.slug}:{name}", [self._raw(s, b) for s, b in members])
                combos.append(Candidate(pool, members, level, exact_rows=pool.rows,
                                        bounds_rows=self.bounds_rows(members)))
        if res.clusters and len({r["cluster"] for r in res.clusters}) > 1:
            members = [(r["stat"], r["best_bucket"]) for r in res.clusters if r["cluster_best"]]
            if len(members) > 1 and sorted(members) not in [sorted(c.members) for c in combos]:
                pool = self.pools.intersect(f"{cfg.slug}:cluster_best", [self._raw(s, b) for s, b in members])
                combos.append(Candidate(pool, members, len(members), exact_rows=pool.rows,
                                        bounds_rows=self.bounds_rows(members)))
        for c in combos:
            if c.scores:
                continue
            if c.pool.rows < max(1, cfg.min_pool_rows):
                res.notes.append(f"{c.label}: {c.pool.rows} samples, below min_pool_rows; not trained")
                continue
            self.score(c, cfg.seeds, "combine", base_size=res.pool_size)
        res.combinations = combos
        self._write("sandbox_combinations", self._candidate_rows(combos, cfg.seeds))

    def bucket_edges(self, stat: str, bucket: str) -> tuple[float | None, float | None]:
        """The bucket's lowest and highest value as bounds (None on the open side of the first and last)."""
        labels = bucket_labels(len(self.cfg.split_ratios) + 1)
        i = labels.index(bucket)
        bounds = {b: (lo, hi) for b, lo, hi, _ in self.pools.bucket_bounds(self.dataset, stat)}
        lo, hi = bounds.get(i, (None, None))
        return (lo if i > 0 else None), (hi if i < len(labels) - 1 else None)

    def bounds_rows(self, members: list[tuple[str, str]]) -> int:
        """Samples whose stats lie within every member bucket's edges (what the refined recipe would keep)."""
        parts, params = [], []
        for stat, bucket in members:
            lo, hi = self.bucket_edges(stat, bucket)
            conds = ["value IS NOT NULL"] + (["value >= ?"] if lo is not None else []) + \
                    (["value <= ?"] if hi is not None else [])
            params += [self.dataset, stat, *(v for v in (lo, hi) if v is not None)]
            parts.append(f"SELECT uid FROM pool_buckets WHERE dataset = ? AND stat = ? AND {' AND '.join(conds)}")
        return int(self.store.one(f"SELECT count(*) FROM ({' INTERSECT '.join(parts)})", params))

    def _raw(self, stat: str, bucket: str) -> str:
        labels = bucket_labels(len(self.cfg.split_ratios) + 1)
        return self.raw_buckets[stat][labels.index(bucket)].name

    def best_combination(self) -> Candidate:
        res = self.result
        assert res is not None
        scored = [c for c in res.combinations if c.scores]
        if not scored:
            raise SandboxError("no combination pool was trained: nothing to duplicate or refine")
        return max(scored, key=lambda c: c.mean)

    def duplicate(self) -> None:
        cfg, res = self.cfg, self.result
        assert res is not None
        if cfg.dup_pool:
            found = [c for c in res.combinations if cfg.dup_pool in (c.pool.name, c.label)]
            if not found:
                raise SandboxError(f"duplicate.pool {cfg.dup_pool!r} is none of the combination pools: "
                                   + ", ".join(c.pool.name for c in res.combinations))
            top = found[0]
        else:
            top = self.best_combination()
        lower = sorted((c for c in res.combinations if c.pool.name != top.pool.name and c.scores),
                       key=lambda c: (-c.level, -c.mean))
        self.log(f"[duplicate] top pool {top.label} ({top.pool.rows} samples) x {cfg.dup_times}; fill from "
                 f"{len(lower)} lower pyramid pools")
        rows = []
        base = self._dup_row(top, top.pool, 1, "top", 1.0)
        rows.append(base)
        for t in cfg.dup_times:
            scale = float(t) if cfg.dup_budget == "scaled" else 1.0
            dup = self.pools.duplicate(f"{top.pool.name}:x{t}", top.pool.name, t, shuffle=cfg.dup_shuffle,
                                       seed=cfg.pool_seed)
            fill = self.pools.fill(f"{top.pool.name}:fill{t}", top.pool.name, [c.pool.name for c in lower],
                                   t * top.pool.rows, cfg.pool_seed)
            if fill.rows < t * top.pool.rows:
                res.notes.append(f"fill x{t}: the lower pyramid levels hold only {fill.rows} distinct samples "
                                 f"(asked {t * top.pool.rows})")
            d = self._dup_row(top, dup, t, "duplicate", scale)
            f = self._dup_row(top, fill, t, "fill", scale)
            names = res.rank_metrics
            f["fill_vs_dup"] = [relative_change(self.jobs[(fill.name, s, scale)].metrics,
                                                self.jobs[(dup.name, s, scale)].metrics, names)
                                for s in cfg.seeds]
            rows += [d, f]
        for r in rows:
            r["mean_metric"], r["std_metric"] = mean_std(r.pop("avg_metric"))
            if "fill_vs_dup" in r:
                r["fill_vs_dup_mean"], r["fill_vs_dup_std"] = mean_std(r.pop("fill_vs_dup"))
        res.duplication = rows
        self._write("sandbox_duplication", pa.Table.from_pylist([{"sandbox": cfg.name, **r} for r in rows]))

    def _dup_row(self, top: Candidate, pool: Pool, times: int, kind: str, scale: float) -> dict[str, Any]:
        names = self.result.rank_metrics if self.result else []
        avg = []
        for seed in self.cfg.seeds:
            job = self.job(pool, seed, "duplicate", scale)
            avg.append(float(np.mean([job.metrics[m][0] for m in names])))
        return {"times": times, "kind": kind, "pool": pool.name, "rows": pool.rows, "distinct_rows": pool.distinct_rows,
                "scale": scale, "avg_metric": avg, "metric": _metric_label(names)}

    def refine(self) -> None:
        cfg, res = self.cfg, self.result
        assert res is not None
        scored = [c for c in res.ranking + res.combinations if c.scores]
        faithful = [c for c in scored if c.range_faithful]
        best = max(faithful or scored, key=lambda c: c.mean)
        top = max(scored, key=lambda c: c.mean)
        if top is not best:
            res.notes.append(f"refine: the best-scoring pool, {top.label}, is cut inside tied values (its bounds "
                             f"keep {top.bounds_rows} samples, the pool has {top.exact_rows}): no recipe of stat "
                             f"bounds selects it, so the recipe is the best pool whose bounds do, {best.label}")
        out_dir = self.output_dir()
        path = cfg.refine_recipe or out_dir / "refined_recipe.sql"
        table = cfg.refine_table or f"sandbox_{cfg.slug}_refined"
        recipe = self.refined_recipe(best, path.parent, table)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(recipe, encoding="utf-8")
        res.recipe_path, res.recipe = path, recipe
        self.ws.run(path, fetch=False)
        computed = self.ws.last_run.computed if self.ws.last_run else None
        uids = self.store.arrow(f'SELECT uid FROM "{table}"').column("uid")
        pool = self.pools.from_uids(f"{cfg.slug}:refined", self.dataset, "recipe",
                                    {"recipe": str(path), "recipe_sha1": hashlib.sha1(recipe.encode()).hexdigest(),
                                     "from": best.pool.name, "predicates": best.label},
                                    uids, parents=[best.pool.name])
        seeds = cfg.refine_seeds or cfg.seeds
        self.log(f"[refine] {path.name} keeps {pool.rows} samples ({computed} stats computed); refined vs random "
                 f"of {pool.rows}, {len(seeds)} seeds")
        names = res.rank_metrics
        ref, rnd, rel = [], [], []
        for seed in seeds:
            r = self.job(self.random_pool(pool.rows, seed), seed, "refine")
            j = self.job(pool, seed, "refine")
            ref.append(float(np.mean([j.metrics[m][0] for m in names])))
            rnd.append(float(np.mean([r.metrics[m][0] for m in names])))
            rel.append(relative_change(j.metrics, r.metrics, names))
        hib = self.jobs[(pool.name, seeds[0], 1.0)].metrics[names[0]][1]
        t_stat, p_value = welch(ref, rnd)
        better = (np.mean(ref) > np.mean(rnd)) == hib
        beats = bool(better and p_value is not None and p_value < 0.05)
        res.refined = {
            "pool": pool.name, "from": best.pool.name, "predicates": best.label, "rows": pool.rows,
            "bucket_rows": best.pool.rows, "recipe": str(path), "stats_computed": computed, "seeds": seeds,
            "refined_mean": float(np.mean(ref)), "refined_std": mean_std(ref)[1], "random_mean": float(np.mean(rnd)),
            "random_std": mean_std(rnd)[1], "eq3_mean": mean_std(rel)[0], "eq3_std": mean_std(rel)[1],
            "welch_t": t_stat, "p_value": p_value, "beats_random": beats, "metric": _metric_label(names),
            "higher_is_better": hib, "refined_values": ref, "random_values": rnd}
        self._write("sandbox_refined", pa.Table.from_pylist([{"sandbox": cfg.name, **{
            k: v for k, v in res.refined.items() if not isinstance(v, list)}}]))
        verdict = "beats" if beats else "does not beat"
        self.log(f"[refine] refined {res.refined['refined_mean']:.4f} ± {res.refined['refined_std']:.4f} vs random "
                 f"{res.refined['random_mean']:.4f} ± {res.refined['random_std']:.4f}: {verdict} random beyond "
                 f"seed noise (Welch p = {_p(p_value)})")

    def refined_recipe(self, best: Candidate, recipe_dir: Path, table: str) -> str:
        """The best pool as SQL: one bound per bucket it intersects, at the bucket's edge values."""
        cfg = self.cfg
        calls = {op.name: op for op in cfg.ops}
        labels = bucket_labels(len(cfg.split_ratios) + 1)
        conds = []
        for stat, bucket in best.members:
            op: ProbeOp = calls[stat]
            i = labels.index(bucket)
            lo, hi = self.bucket_edges(stat, bucket)
            t = self.stats.schema.field(stat).type
            value = op.call  # a list stat was sorted by its mean, 0 for an empty list (DJ)
            if pa.types.is_list(t) or pa.types.is_large_list(t):
                value = f"coalesce(list_avg({op.call}), 0)"
            # a stat equal to an edge value may sit on both sides of the cut (ties): both ends closed
            if lo is not None and hi is not None:
                cond = f"{value} BETWEEN {_num(lo)} AND {_num(hi)}"
            elif lo is not None:
                cond = f"{value} >= {_num(lo)}"
            elif hi is not None:
                cond = f"{value} <= {_num(hi)}"
            else:
                continue
            conds.append((cond, f"{stat}:{bucket}, ranks {self._ranks(stat, i)} of {self.result.rows}"))
        dataset = os.path.relpath(cfg.dataset, recipe_dir)
        opts = "" if cfg.text_key == "text" else f", text_key := '{cfg.text_key}'"
        res = self.result
        assert res is not None
        head = [
            f"-- Refined by the juicedb sandbox {cfg.name!r} ({cfg.path.name if cfg.path else 'config'}): the pool",
            f"-- that scored best of {len(res.ranking) + len(res.combinations)} single-OP and combined pools,",
            f"-- {best.label} ({best.pool.rows} samples), Eq. 3 {best.mean:+.2f}% ± {best.std:.2f}% over a random pool",
            f"-- of {res.pool_size} (seeds {', '.join(map(str, cfg.seeds))}; metrics: {', '.join(res.rank_metrics)}).",
            "-- Each bound is the edge of a bucket: the stat sorted ascending and cut at int(N * r + 0.5),",
            f"-- r in {', '.join(f'{r:.4g}' for r in cfg.split_ratios)} (Data-Juicer's rule); samples tied at an edge "
            "are kept.",
            f"CREATE OR REPLACE TABLE {table} AS",
            "SELECT *",
            f"FROM dataset('{dataset}'{opts})",
        ]
        where = []
        width = max((len(c) for c, _ in conds), default=0)
        for n, (cond, why) in enumerate(conds):
            word = "WHERE" if n == 0 else "  AND"
            end = ";" if n == len(conds) - 1 else ""
            where.append(f"{word} {(cond + end).ljust(width + 1)}  -- {why}")
        if not where:
            head[-1] += ";"
        return "\n".join(head + where) + "\n"

    def _ranks(self, stat: str, bucket: int) -> str:
        lo, hi = self.store.rows("SELECT min(rank), max(rank) FROM pool_buckets WHERE dataset = ? AND stat = ? AND "
                                 "bucket = ?", [self.dataset, stat, bucket])[0]
        return f"{lo}-{hi}"

    # ------------------------------------------------------------------ helpers

    def output_dir(self) -> Path:
        cfg = self.cfg
        out = cfg.output or (self.ws.path / "sandbox" / cfg.slug)
        out.mkdir(parents=True, exist_ok=True)
        return out

    def _write(self, table: str, rows: pa.Table) -> None:
        self.store.replace_rows(table, {"sandbox": self.cfg.name}, rows)

    def _candidate_rows(self, cands: list[Candidate], seeds: list[int]) -> pa.Table:
        rows = []
        for rank, c in enumerate(cands, 1):
            rows.append({
                "sandbox": self.cfg.name, "rank": rank, "pool": c.pool.name, "label": c.label, "level": c.level,
                "rows": c.pool.rows, "bounds_rows": c.bounds_rows, "score_mean": _f(c.mean), "score_std": _f(c.std),
                "seeds": seeds,
                "scores": [float(s) for s in c.scores],
                "metrics": json.dumps({m: round(v, 6) for m, v in sorted(c.metric_means.items())}),
            })
        return pa.Table.from_pylist(rows, schema=pa.schema([
            ("sandbox", pa.string()), ("rank", pa.int64()), ("pool", pa.string()), ("label", pa.string()),
            ("level", pa.int64()), ("rows", pa.int64()), ("bounds_rows", pa.int64()), ("score_mean", pa.float64()),
            ("score_std", pa.float64()),
            ("seeds", pa.list_(pa.int64())), ("scores", pa.list_(pa.float64())), ("metrics", pa.string())]))


def seed_agreement(ranking: list[Candidate], seeds: list[int]) -> list[dict[str, Any]]:
    """Spearman's rho of the pools' Eq. 3 scores between every pair of seeds."""
    from scipy.stats import spearmanr
    out = []
    for (i, a), (j, b) in itertools.combinations(enumerate(seeds), 2):
        x = [c.scores[i] for c in ranking]
        y = [c.scores[j] for c in ranking]
        if len(x) < 3:
            rho, p = float("nan"), float("nan")
        else:
            r = spearmanr(x, y)
            rho, p = float(r.statistic), float(r.pvalue)
        out.append({"seed_a": a, "seed_b": b, "spearman": rho, "p_value": p, "pools": len(x)})
    return out


def welch(a: list[float], b: list[float]) -> tuple[float | None, float | None]:
    """Welch's t and its two-sided p-value; None when either side has fewer than two values or no spread."""
    if len(a) < 2 or len(b) < 2 or (np.std(a) == 0 and np.std(b) == 0):
        return None, None
    from scipy.stats import ttest_ind
    r = ttest_ind(a, b, equal_var=False)
    return float(r.statistic), float(r.pvalue)


def correlate(stats: pa.Table, names: list[str]) -> tuple[list[str], np.ndarray]:
    """Pearson r between stats over the samples: the analyzer's (juicedb.analysis) where present."""
    try:
        from juicedb.analysis.correlation import correlation_matrix
    except ImportError:
        cols = [n for n in names if _as_float(stats.column(n)) is not None]
        data = np.vstack([_as_float(stats.column(n)) for n in cols])
        with np.errstate(invalid="ignore", divide="ignore"):
            return cols, np.corrcoef(data)
    corr = correlation_matrix(stats, names)
    return corr.stats, corr.matrix


def cluster(stats: list[str], matrix: np.ndarray, k: int) -> list[int]:
    """Hierarchical clusters (average linkage on 1 - |r|), numbered from 1 in order of first stat."""
    try:
        from juicedb.analysis.correlation import Correlation, cluster_stats
    except ImportError:
        pass
    else:
        table = cluster_stats(Correlation(stats, matrix, np.zeros_like(matrix, dtype=np.int64)), k)
        return table.column("cluster").to_pylist()
    if len(stats) < 2:
        return [1] * len(stats)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform
    dist = 1.0 - np.abs(np.nan_to_num(matrix, nan=0.0))
    np.fill_diagonal(dist, 0.0)
    labels = fcluster(linkage(squareform(np.clip(dist, 0, 1), checks=False), "average"), t=min(k, len(stats)),
                      criterion="maxclust")
    renumber: dict[int, int] = {}
    return [renumber.setdefault(int(lab), len(renumber) + 1) for lab in labels]


def _as_float(col: pa.ChunkedArray) -> np.ndarray:
    """One number per sample: a list stat's mean (0 for an empty list, as DJ sorts it), NULL as NaN."""
    import pyarrow.compute as pc
    t = col.type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return np.asarray([float(np.mean(v)) if v else (0.0 if v is not None else np.nan)
                           for v in col.to_pylist()], dtype=float)
    return np.asarray(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def _pearson(x: list[float], y: list[float]) -> float | None:
    a, b = np.asarray(x, float), np.asarray(y, float)
    ok = ~(np.isnan(a) | np.isnan(b))
    if ok.sum() < 3 or a[ok].std() == 0 or b[ok].std() == 0:
        return None
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _f(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _num(v: float) -> str:
    """A bound as SQL: integers plainly, other numbers by their shortest exact repr."""
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def _metric_label(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"mean({', '.join(names)})"


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3g}"


def _scale(scale: float) -> str:
    return "" if scale == 1.0 else f", budget x{scale:g}"


def run_sandbox(ws: Workspace, config: str | Path | SandboxConfig, *,
                log: Callable[[str], None] | None = None) -> Result:
    """Run a sandbox config (a YAML path or a parsed config) on ``ws``; finished jobs are not re-run."""
    from juicedb.sandbox.config import load
    cfg = config if isinstance(config, SandboxConfig) else load(config)
    return Sandbox(ws, cfg, log=log).run()
