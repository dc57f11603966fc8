"""Benchmark anchor: juicedb vs Data-Juicer itself, side by side, on the same corpus and machine.

Data-Juicer (``py-data-juicer``) runs from its own virtual environment, outside the
repository by default (``~/.cache/juicedb/dj-venv``, ``--venv PATH``), created on
first use: CPU torch first (the local wheel, or ``torch==2.13.0`` through pip's
find-links), then ``py-data-juicer`` with torch pinned by a constraints file, so
its install can never pull the CUDA build. Both systems get the same word lists
(``../shared/data/wordlists``: DJ's ``stopwords_dir`` / ``flagged_words_dir``,
juicedb's ``words_file``) and the same thresholds, generated from one table
(``FILTERS``) into DJ's process YAML and juicedb's recipe SQL.

Benchmarks (issue 9), each contender in its own process, peak RSS summed over its
whole process tree (psutil; PSS alongside, since DJ's workers share memory-mapped
Arrow files):

    setup        create / check DJ's venv, print the versions
    pipeline     (a) the 8 DJ text filters + document_deduplicator: DJ (np=2) vs
                 juicedb (2 threads, 2 workers), cold, repeated, kept ids compared;
                 (e) the pure-DuckDB-SQL stats floor and juicedb's all-8-stats run
    minhash      (b) document_minhash_deduplicator: DJ vs juicedb, docs/s per core,
                 recall on the planted near-duplicates
    rethreshold  (c) 1M rows (the corpus repeated, distinct ids, Parquet): score once,
                 then re-run with every threshold changed; computed/reused per step
    bigdata      (d) a >= 3 GB Parquet dataset through the text pipeline with DuckDB's
                 memory limit at 1 GB

    python benchmarks/dj_anchor.py setup
    python benchmarks/dj_anchor.py pipeline --corpus /tmp/corpus200k/corpus.jsonl --dj-repeat 2 --repeat 5
    python benchmarks/dj_anchor.py minhash --corpus /tmp/corpus200k/corpus.jsonl [--bands 32x8]
    python benchmarks/dj_anchor.py rethreshold --corpus /tmp/corpus200k/corpus.parquet --rows 1000000
    python benchmarks/dj_anchor.py bigdata --corpus /tmp/corpus200k/corpus.parquet --gb 3
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.abc
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORDLISTS = (REPO.parent / "shared" / "data" / "wordlists").resolve()
DJ_VERSION = "1.6.1"
TORCH = "torch==2.13.0"
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")
DEFAULT_VENV = Path.home() / ".cache" / "juicedb" / "dj-venv"


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """Import juicedb from the checkout this script lives in, whatever checkout is editable-installed
    (the package maps juicedb.udfs, .cli and .sql to top-level folders, as pyproject.toml says)."""

    MAPPING: ClassVar[dict[str, Path]] = {"juicedb": REPO / "juicedb", "juicedb.udfs": REPO / "udfs",
                                          "juicedb.cli": REPO / "cli", "juicedb.sql": REPO / "sql"}

    def find_spec(self, fullname, path=None, target=None):
        folder = self.MAPPING.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(fullname, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])


if __name__ in ("__main__", "__mp_main__") and (REPO / "juicedb" / "__init__.py").is_file():
    sys.meta_path.insert(0, _CheckoutFinder())  # also in juicedb's spawned workers, which import this file

# The pipeline, in Data-Juicer's terms: operator, then its arguments. These are DJ 1.6.1's defaults,
# written out so that both sides get them explicitly (words lists are added per side).
FILTERS: list[tuple[str, dict]] = [
    ("text_length_filter", {"min_len": 10}),
    ("alphanumeric_filter", {"min_ratio": 0.25}),
    ("character_repetition_filter", {"rep_len": 10, "max_ratio": 0.5}),
    ("word_repetition_filter", {"rep_len": 10, "max_ratio": 0.5}),
    ("words_num_filter", {"min_num": 10}),
    ("special_characters_filter", {"max_ratio": 0.25}),
    ("stopwords_filter", {"min_ratio": 0.3}),
    ("flagged_words_filter", {"max_ratio": 0.045}),
]
DEDUP = ("document_deduplicator", {})
WORDS = {"stopwords_filter": ("stopwords_dir", "stopwords.json"),
         "flagged_words_filter": ("flagged_words_dir", "flagged_words.json")}
# (c): every threshold moved, one set per repetition (rep_len untouched: it is a stat parameter)
RETHRESHOLDS = [
    {"min_len": 20, "alnum": 0.30, "char_rep": 0.40, "word_rep": 0.40, "min_num": 20, "special": 0.30,
     "stop": 0.25, "flag": 0.030},
    {"min_len": 50, "alnum": 0.20, "char_rep": 0.60, "word_rep": 0.30, "min_num": 30, "special": 0.35,
     "stop": 0.20, "flag": 0.010},
    {"min_len": 100, "alnum": 0.35, "char_rep": 0.30, "word_rep": 0.60, "min_num": 5, "special": 0.20,
     "stop": 0.35, "flag": 0.060},
    {"min_len": 5, "alnum": 0.40, "char_rep": 0.45, "word_rep": 0.45, "min_num": 50, "special": 0.40,
     "stop": 0.15, "flag": 0.020},
    {"min_len": 200, "alnum": 0.15, "char_rep": 0.55, "word_rep": 0.35, "min_num": 15, "special": 0.28,
     "stop": 0.28, "flag": 0.050},
]


def moved(t: dict) -> list[tuple[str, dict]]:
    return [("text_length_filter", {"min_len": t["min_len"]}), ("alphanumeric_filter", {"min_ratio": t["alnum"]}),
            ("character_repetition_filter", {"rep_len": 10, "max_ratio": t["char_rep"]}),
            ("word_repetition_filter", {"rep_len": 10, "max_ratio": t["word_rep"]}),
            ("words_num_filter", {"min_num": t["min_num"]}), ("special_characters_filter", {"max_ratio": t["special"]}),
            ("stopwords_filter", {"min_ratio": t["stop"]}), ("flagged_words_filter", {"max_ratio": t["flag"]})]


# ----------------------------------------------------------------------------- the two recipes

def dj_yaml(dataset: str, export: str, cache_dir: str, ops: list[tuple[str, dict]], np_: int) -> str:
    lines = ["project_name: juicedb-anchor", f"dataset_path: {json.dumps(dataset)}",
             f"export_path: {json.dumps(export)}", f"np: {np_}", "text_keys: text",
             f"ds_cache_dir: {json.dumps(cache_dir)}", "process:"]
    for op, params in ops:
        params = dict(params)
        if op in WORDS:
            params[WORDS[op][0]] = str(WORDLISTS)
        lines.append(f"  - {op}: {json.dumps(params)}")
    return "\n".join(lines) + "\n"


def sql_call(op: str, params: dict) -> str:
    params = dict(params)
    if op in WORDS:
        params["words_file"] = str(WORDLISTS / WORDS[op][1])
    args = "".join(f", {k} := {v!r}" if isinstance(v, str) else f", {k} := {v}" for k, v in params.items())
    return f"{op}(text{args})"


def jdb_recipe(dataset: str, ops: list[tuple[str, dict]], out: str | None, table: str = "kept",
               cols: str = "*") -> str:
    where = "\n  AND ".join(sql_call(op, p) for op, p in ops)
    sql = f"CREATE OR REPLACE TABLE {table} AS\nSELECT {cols} FROM dataset('{dataset}')\nWHERE {where};\n"
    if out:
        sql += f"COPY {table} TO '{out}';\n"
    return sql


# ----------------------------------------------------------------------------- DJ's virtualenv

def ensure_venv(venv: Path) -> dict:
    """Create DJ's venv when missing (torch CPU first, then py-data-juicer with torch pinned); the versions."""
    py = venv / "bin" / "python"
    if not py.exists():
        print(f"creating Data-Juicer's virtualenv in {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(py), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, str(TORCH_WHEEL) if TORCH_WHEEL.exists() else TORCH], check=True)
        constraints = venv / "juicedb-constraints.txt"
        constraints.write_text(f"{TORCH}\n")
        # aiohttp: data_juicer.utils.file_utils imports it, and datasets >= 4 no longer pulls it in
        subprocess.run([*pip, "-c", str(constraints), f"py-data-juicer=={DJ_VERSION}", "aiohttp", "psutil"],
                       check=True)
    probe = ("import json, importlib.metadata as m, torch;"
             "d = sorted(x.metadata['Name'] for x in m.distributions());"
             "print(json.dumps({'py-data-juicer': m.version('py-data-juicer'), 'torch': torch.__version__,"
             " 'torch_cuda': torch.version.cuda, 'datasets': m.version('datasets'),"
             " 'nvidia_packages': [x for x in d if x.lower().startswith('nvidia')]}))")
    info = json.loads(subprocess.run([str(py), "-c", probe], check=True, capture_output=True, text=True).stdout)
    if info["torch_cuda"] or info["nvidia_packages"]:
        raise SystemExit(f"DJ's venv {venv} has a CUDA torch ({info}); delete it and re-run setup")
    return info


# ----------------------------------------------------------------------------- process-tree monitor

def monitored(cmd: list[str], log: Path, env: dict | None = None, check: bool = True) -> dict:
    """Run ``cmd`` to completion; wall seconds and the peak RSS / PSS (MB) of its whole process tree."""
    import psutil
    with log.open("w") as f:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, env=env)
        root, peak_rss, peak_pss, n, at = psutil.Process(proc.pid), 0, 0, 0, (0.0, 0)
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                tree = [root, *root.children(recursive=True)]
                rss = pss = own = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        if n % 30 == 0:  # PSS every 3 s: smaps_rollup walks the page tables (costly at GBs)
                            m = p.memory_full_info()
                            pss += m.pss
                            r = m.rss
                        else:
                            r = p.memory_info().rss
                        rss += r
                        own = r if p is root else own
                if rss > peak_rss:
                    peak_rss, at = rss, (time.perf_counter() - t0, own)
                peak_pss = max(peak_pss, pss)
            n += 1
            time.sleep(0.1)
        wall = time.perf_counter() - t0
    if proc.returncode and check:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}); log {log}:\n{log.read_text()[-4000:]}")
    return {"rc": proc.returncode, "wall_s": wall, "peak_rss_mb": peak_rss / 2**20, "peak_pss_mb": peak_pss / 2**20,
            "peak_at_s": at[0], "peak_root_rss_mb": at[1] / 2**20}


def run_dj(venv: Path, work: Path, dataset: str, ops: list[tuple[str, dict]], np_: int, tag: str) -> dict:
    """One cold DJ run (fresh HF datasets cache), timed from the outside; DJ's own phase times from its log."""
    run_dir = work / f"dj-{tag}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    export = run_dir / "out" / "kept.jsonl"
    cfg = run_dir / "process.yaml"
    cfg.write_text(dj_yaml(dataset, str(export), str(run_dir / "hf-cache"), ops, np_))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    r = monitored([str(venv / "bin" / "dj-process"), "--config", str(cfg)], run_dir / "dj.log", env)
    log = (run_dir / "dj.log").read_text(errors="replace")
    ops_s = {m[1]: float(m[2]) for m in re.finditer(r"OP \[(\w+)\] Done in ([\d.]+)s", log)}
    left = {m[1]: int(m[2]) for m in re.finditer(r"OP \[(\w+)\] Done in [\d.]+s\. Left (\d+) samples", log)}
    ex = re.search(r"Running executor took ([\d.]+) seconds", log)
    r.update(ops_s=ops_s, left=left, work_s=float(ex[1]) if ex else None, ids=read_ids(export))
    shutil.rmtree(run_dir / "hf-cache", ignore_errors=True)
    shutil.rmtree(run_dir / "out", ignore_errors=True)
    return r


def read_ids(path: Path) -> list[int]:
    import duckdb
    con = duckdb.connect()
    ids = [r[0] for r in con.execute(
        f"SELECT id FROM read_json('{path}', format = 'newline_delimited', columns = {{'id': 'BIGINT'}})").fetchall()]
    con.close()
    return ids


def run_jdb(args: argparse.Namespace, work: Path, job: dict, tag: str, check: bool = True) -> dict:
    """One juicedb run in its own process (``--worker``), timed from the outside too."""
    run_dir = work / f"jdb-{tag}"
    if job.get("fresh", True):
        shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    job = dict(job, workdir=str(run_dir), threads=args.threads)
    (run_dir / "job.json").write_text(json.dumps(job))
    r = monitored([sys.executable, __file__, "--worker", str(run_dir / "job.json")], run_dir / "worker.log",
                  check=check)
    if r["rc"]:
        lines = (run_dir / "worker.log").read_text().splitlines()
        r["error"] = next((ln for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else "")
        shutil.rmtree(run_dir / "ws", ignore_errors=True)
        return r
    r.update(json.loads((run_dir / "result.json").read_text()))
    if job.get("out"):
        r["ids"] = read_ids(Path(job["out"]))
        Path(job["out"]).unlink()
    shutil.rmtree(run_dir / "ws", ignore_errors=True)  # the workspace (a copy of the dataset, the stats)
    return r


# ----------------------------------------------------------------------------- juicedb worker (own process)

def worker(job_file: str) -> None:
    import juicedb
    job = json.loads(Path(job_file).read_text())
    workdir = Path(job["workdir"])
    kw = {"threads": job["threads"], "workers": job["threads"]}
    if job.get("memory_limit"):
        kw["memory_limit"] = job["memory_limit"]
    results = []
    assert Path(juicedb.__file__).is_relative_to(REPO), juicedb.__file__
    with juicedb.open(workdir / "ws", **kw) as ws:
        for recipe in job["recipes"]:
            t0 = time.perf_counter()
            ws.run(recipe, trace=job.get("trace", True), fetch=False)  # as `juicedb run` does
            secs = time.perf_counter() - t0
            rep = ws.last_run
            results.append({"run_s": secs, "computed": rep.computed, "tables": rep.tables,
                            "steps": [{"predicate": s.predicate, "rows_in": s.rows_in, "computed": s.computed,
                                       "reused": s.reused, "kept": s.kept, "seconds": s.seconds}
                                      for s in rep.steps]})
    (workdir / "result.json").write_text(json.dumps({"runs": results}))
    gc.freeze()  # as the juicedb CLI does before the interpreter exits (cli/main.py)


def worker_pure_sql(job_file: str) -> None:
    """(e): benchmarks/pure_sql_stats.sql on the corpus, as text_pipeline.py runs it (plus a memory limit)."""
    import duckdb
    sys.path.insert(0, str(HERE))
    from text_pipeline import _fill_helper_tables
    job = json.loads(Path(job_file).read_text())
    con = duckdb.connect(str(Path(job["workdir"]) / "pure.duckdb"))
    con.execute(f"SET threads = {job['threads']}")
    con.execute(f"SET memory_limit = '{job['memory_limit']}'")
    con.execute(f"SET temp_directory = '{job['workdir']}/tmp'")
    t0 = time.perf_counter()
    con.execute("CREATE TABLE docs AS SELECT id, text FROM read_json("
                f"'{job['corpus']}', columns = {{'id': 'BIGINT', 'text': 'VARCHAR'}}, format = 'newline_delimited')")
    load = time.perf_counter() - t0
    _fill_helper_tables(con)
    t1 = time.perf_counter()
    con.execute((HERE / "pure_sql_stats.sql").read_text())
    stats = time.perf_counter() - t1
    n = con.execute("SELECT count(*) FROM pure_stats").fetchone()[0]
    con.close()
    (Path(job["workdir"]) / "result.json").write_text(json.dumps({"load_s": load, "stats_s": stats, "docs": n}))


# ----------------------------------------------------------------------------- helpers

def subset_jsonl(corpus: Path, rows: int | None, work: Path) -> Path:
    if not rows:
        return corpus
    out = work / f"corpus-{rows}.jsonl"
    if not out.exists():
        with corpus.open("rb") as src, out.open("wb") as dst:
            for i, line in enumerate(src):
                if i == rows:
                    break
                dst.write(line)
    return out


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def machine() -> str:
    import platform
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    import psutil
    return f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.platform()}"


def count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def compare_ids(dj: list[int], jdb: list[int]) -> dict:
    a, b = set(dj), set(jdb)
    return {"dj": len(a), "juicedb": len(b), "both": len(a & b), "dj_only": sorted(a - b)[:20],
            "juicedb_only": sorted(b - a)[:20], "identical": a == b}


# ----------------------------------------------------------------------------- (a) + (e)

def cmd_pipeline(args: argparse.Namespace, work: Path) -> dict:
    dataset = subset_jsonl(Path(args.corpus).resolve(), args.rows, work)
    docs = count_lines(dataset)
    dataset.read_bytes()  # warm the page cache once, for every contender alike
    ops = [*FILTERS, DEDUP]
    res: dict = {"docs": docs, "dataset": str(dataset), "dj": [], "juicedb": [], "juicedb_stats": [], "pure_sql": []}
    stats_cols = ", ".join(f"{s}(text{w}) AS {s}" for s, w in [
        ("text_len", ""), ("alnum_ratio", ""), ("special_char_ratio", ""), ("char_rep_ratio", ""),
        ("word_rep_ratio", ""), ("num_words", ""),
        ("stopwords_ratio", f", words_file := '{WORDLISTS / 'stopwords.json'}'"),
        ("flagged_words_ratio", f", words_file := '{WORDLISTS / 'flagged_words.json'}'")])
    for rep in range(max(args.repeat, args.dj_repeat)):
        if rep < args.dj_repeat and not args.no_dj:
            r = run_dj(args.venv, work, str(dataset), ops, args.np, str(rep))
            res["dj"].append(r)
            print(f"  DJ #{rep}: wall {r['wall_s']:.1f} s (executor {r['work_s']} s), peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, kept {len(r['ids'])}", file=sys.stderr, flush=True)
        if rep < args.repeat:
            out = work / f"jdb-{rep}-kept.jsonl"
            r = run_jdb(args, work, {"recipes": [jdb_recipe(str(dataset), ops, str(out))], "out": str(out)}, str(rep))
            res["juicedb"].append(r)
            print(f"  juicedb #{rep}: wall {r['wall_s']:.1f} s (run {r['runs'][0]['run_s']:.1f} s), peak RSS "
                  f"{r['peak_rss_mb']:.0f} MB, kept {len(r['ids'])}", file=sys.stderr, flush=True)
            if args.floor:
                stats_sql = (f"CREATE OR REPLACE TABLE all_stats AS SELECT id, {stats_cols} "
                             f"FROM dataset('{dataset}');")
                r = run_jdb(args, work, {"recipes": [stats_sql]}, f"stats-{rep}")
                res["juicedb_stats"].append(r)
                print(f"  juicedb all 8 stats #{rep}: run {r['runs'][0]['run_s']:.1f} s", file=sys.stderr, flush=True)
        if args.floor and rep < args.floor_repeat:
            d = work / f"pure-{rep}"
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir()
            (d / "job.json").write_text(json.dumps({"workdir": str(d), "threads": args.threads, "corpus": str(dataset),
                                                    "memory_limit": args.floor_memory}))
            r = monitored([sys.executable, __file__, "--worker-pure-sql", str(d / "job.json")], d / "log")
            r.update(json.loads((d / "result.json").read_text()))
            shutil.rmtree(d, ignore_errors=True)
            res["pure_sql"].append(r)
            print(f"  pure SQL #{rep}: stats {r['stats_s']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
    # report
    jd, dj = res["juicedb"], res["dj"]
    print(f"\n(a) text pipeline: {docs} docs, DJ np={args.np}, juicedb threads={args.threads} workers={args.threads}")
    print(f"{'contender':40s} {'runs':>4s} {'wall s':>8s} {'work s':>8s} {'docs/s':>9s} {'RSS MB':>8s} {'PSS MB':>8s}")
    rows = []
    if dj:
        rows.append(("Data-Juicer dj-process", dj, [r["work_s"] for r in dj]))
    rows.append(("juicedb run (cold workspace)", jd, [r["runs"][0]["run_s"] for r in jd]))
    if res["juicedb_stats"]:
        rows.append(("juicedb, all 8 stats for every doc", res["juicedb_stats"],
                     [r["runs"][0]["run_s"] for r in res["juicedb_stats"]]))
    summary = {}
    for name, rs, work_s in rows:
        w, ws_ = med([r["wall_s"] for r in rs]), med(work_s)
        rss, pss = max(r["peak_rss_mb"] for r in rs), max(r["peak_pss_mb"] for r in rs)
        summary[name] = {"wall_s": w, "work_s": ws_, "docs_per_s": docs / w, "docs_per_s_work": docs / ws_,
                         "peak_rss_mb": rss, "peak_pss_mb": pss, "runs": len(rs),
                         "all_wall_s": [r["wall_s"] for r in rs], "all_work_s": work_s}
        print(f"{name:40s} {len(rs):4d} {w:8.1f} {ws_:8.1f} {docs / w:9.0f} {rss:8.0f} {pss:8.0f}")
    if res["pure_sql"]:
        p = res["pure_sql"]
        s, rss = med([r["stats_s"] for r in p]), max(r["peak_rss_mb"] for r in p)
        summary["pure DuckDB SQL stats (e)"] = {"stats_s": s, "load_s": med([r["load_s"] for r in p]),
                                                "wall_s": med([r["wall_s"] for r in p]), "peak_rss_mb": rss,
                                                "all_stats_s": [r["stats_s"] for r in p]}
        print(f"{'pure DuckDB SQL, 8 stats (e)':40s} {len(p):4d} {med([r['wall_s'] for r in p]):8.1f} {s:8.1f} "
              f"{docs / s:9.0f} {rss:8.0f}   (work = stats only; memory_limit {args.floor_memory})")
    j = summary["juicedb run (cold workspace)"]
    if dj:
        d = summary["Data-Juicer dj-process"]
        print(f"juicedb/DJ docs/s: {j['docs_per_s'] / d['docs_per_s']:.1f}x (wall), "
              f"{j['docs_per_s_work'] / d['docs_per_s_work']:.1f}x (work); "
              f"peak RSS juicedb/DJ: {j['peak_rss_mb'] / d['peak_rss_mb']:.2f} "
              f"(PSS {j['peak_pss_mb'] / d['peak_pss_mb']:.2f})")
        eq = [compare_ids(a["ids"], b["ids"]) for a in dj for b in jd[:1]]
        res["kept_equal"] = eq
        print(f"kept rows: {eq}")
        dj_self = all(set(a["ids"]) == set(dj[0]["ids"]) for a in dj)
        print(f"DJ runs agree with each other: {dj_self}; DJ per-op seconds (run 0): {dj[0]['ops_s']}")
        print(f"DJ rows left after each op (run 0): {dj[0]['left']}")
    print(f"juicedb runs agree with each other: {all(set(r['ids']) == set(jd[0]['ids']) for r in jd)}")
    print("juicedb steps (run 0): " + "; ".join(
        f"{s['predicate'][:40]} in {s['rows_in']} computed {s['computed']} kept {s['kept']}"
        for s in jd[0]["runs"][0]["steps"]))
    if res["pure_sql"]:
        f = summary["pure DuckDB SQL stats (e)"]["stats_s"]
        print(f"juicedb pipeline run / pure-SQL stats: {j['work_s'] / f:.2f}x time"
              + (f"; juicedb all-8-stats run / pure-SQL stats: "
                 f"{summary['juicedb, all 8 stats for every doc']['work_s'] / f:.2f}x" if res["juicedb_stats"] else ""))
    for r in dj + jd + res["juicedb_stats"]:
        r.pop("ids", None)
    res["summary"] = summary
    return res


# ----------------------------------------------------------------------------- (b)

def cmd_minhash(args: argparse.Namespace, work: Path) -> dict:
    import pyarrow.json as pj
    sys.path.insert(0, str(HERE))
    from minhash_dedup import THRESHOLD, near_dup_jaccard
    dataset = subset_jsonl(Path(args.corpus).resolve(), args.rows, work)
    t = pj.read_json(dataset).select(["id", "kind", "text"])
    ids, kinds = t.column("id").to_pylist(), t.column("kind").to_pylist()
    docs = len(ids)
    params = {}
    if args.bands:  # both systems with these bands x rows instead of DJ's optimal_param choice (25 x 10)
        b, r = args.bands.lower().split("x")
        params = {"num_bands": int(b), "num_rows_per_band": int(r)}
    op = ("document_minhash_deduplicator", params)
    res: dict = {"docs": docs, "dj": [], "juicedb": []}
    for rep in range(max(args.repeat, args.dj_repeat)):
        if rep < args.dj_repeat and not args.no_dj:
            r = run_dj(args.venv, work, str(dataset), [op], args.np, f"minhash-{rep}")
            r["op_s"] = r["ops_s"].get(op[0])
            res["dj"].append(r)
            print(f"  DJ #{rep}: wall {r['wall_s']:.1f} s, op {r['op_s']} s, RSS {r['peak_rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
        if rep < args.repeat:
            out = work / f"jdb-minhash-{rep}.jsonl"
            # load first (a run of its own), then time the deduplicator alone, as DJ's op time is
            recipes = [f"SELECT count(*) FROM dataset('{dataset}');",
                       f"CREATE OR REPLACE TABLE kept AS SELECT * FROM dataset('{dataset}') "
                       f"WHERE {sql_call(*op)};\nCOPY kept TO '{out}';"]
            r = run_jdb(args, work, {"recipes": recipes, "out": str(out)}, f"minhash-{rep}")
            r["op_s"] = r["runs"][1]["run_s"]
            res["juicedb"].append(r)
            print(f"  juicedb #{rep}: wall {r['wall_s']:.1f} s, op {r['op_s']:.1f} s, RSS {r['peak_rss_mb']:.0f} MB",
                  file=sys.stderr, flush=True)
    texts = t.column("text").to_pylist()
    jac = near_dup_jaccard(texts, kinds)
    del texts, t
    pos = {i: n for n, i in enumerate(ids)}
    near = {pos[i] for i, k in zip(ids, kinds) if k == "near_dup"}
    similar = {i for i, j in jac.items() if j >= THRESHOLD}
    planted = {pos[i] for i, k in zip(ids, kinds) if k in ("exact_dup", "near_dup")}
    print(f"\n(b) MinHash dedup: {docs} docs, {len(near)} planted near-duplicates ({len(similar)} with true Jaccard "
          f">= {THRESHOLD}), {len(planted) - len(near)} exact copies; DJ np={args.np}, juicedb {args.threads} workers; "
          f"bands x rows: {args.bands or 'DJ optimal_param (25x10)'}")
    print(f"{'contender':36s} {'runs':>4s} {'wall s':>7s} {'op s':>7s} {'docs/s/core':>11s} {'RSS MB':>7s} "
          f"{'recall near':>11s} {'near J>=.7':>10s} {'all planted':>11s} {'removed':>8s} {'planted share':>13s}")
    summary, removed_sets = {}, {}
    for name, rs in (("Data-Juicer", res["dj"]), ("juicedb", res["juicedb"])):
        if not rs:
            continue
        kept = {pos[i] for i in rs[0]["ids"]}
        removed = set(range(docs)) - kept
        removed_sets[name] = removed
        w, o, rss = med([r["wall_s"] for r in rs]), med([r["op_s"] for r in rs]), max(r["peak_rss_mb"] for r in rs)
        s = {"wall_s": w, "op_s": o, "docs_per_s_per_core_op": docs / o / args.threads,
             "docs_per_s_per_core_wall": docs / w / args.threads, "peak_rss_mb": rss,
             "recall_near": len(removed & near) / len(near), "recall_near_j07": len(removed & similar) / len(similar),
             "recall_planted": len(removed & planted) / len(planted), "removed": len(removed),
             "planted_share": len(removed & planted) / max(len(removed), 1),
             "all_op_s": [r["op_s"] for r in rs], "all_wall_s": [r["wall_s"] for r in rs],
             "runs_agree": all(set(r["ids"]) == set(rs[0]["ids"]) for r in rs)}
        summary[name] = s
        print(f"{name:36s} {len(rs):4d} {w:7.1f} {o:7.1f} {s['docs_per_s_per_core_op']:11.0f} {rss:7.0f} "
              f"{s['recall_near']:11.3f} {s['recall_near_j07']:10.3f} {s['recall_planted']:11.3f} {len(removed):8d} "
              f"{s['planted_share']:13.3f}")
    if len(removed_sets) == 2:
        a, b = removed_sets["Data-Juicer"], removed_sets["juicedb"]
        res["agreement"] = {"both": len(a & b), "dj_only": len(a - b), "juicedb_only": len(b - a)}
        print(f"removed rows: {len(a & b)} both, {len(a - b)} DJ only, {len(b - a)} juicedb only")
        d, j = summary["Data-Juicer"], summary["juicedb"]
        print(f"juicedb/DJ docs/s: {d['op_s'] / j['op_s']:.1f}x (op), {d['wall_s'] / j['wall_s']:.1f}x (wall)")
    for r in res["dj"] + res["juicedb"]:
        r.pop("ids", None)
    res["summary"] = summary
    return res


# ----------------------------------------------------------------------------- (c)

def repeat_parquet(corpus: str, out: Path, copies: int, rows: int | None = None, distinct_text: bool = False,
                   uid: bool = False) -> int:
    """The corpus repeated ``copies`` times with distinct ids (and, if asked, a per-copy text prefix and a
    ``uid`` column, which juicedb's loader then takes as is instead of hashing each row), as Parquet."""
    import duckdb
    con = duckdb.connect()
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{out.parent}/duck-tmp'")
    n = con.execute(f"SELECT count(*) FROM read_parquet('{corpus}')").fetchone()[0]
    text = "'[copy ' || c || '] ' || text" if distinct_text else "text"
    limit = f"LIMIT {rows}" if rows else ""
    uid_col = f"c * {n} + id AS uid, " if uid else ""
    con.execute(f"COPY (SELECT {uid_col}c * {n} + id AS id, source, kind, {text} AS text FROM range({copies}) r(c), "
                f"read_parquet('{corpus}') ORDER BY c, id {limit}) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 100000)")
    total = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    con.close()
    shutil.rmtree(out.parent / "duck-tmp", ignore_errors=True)
    return total


def score_recipe(dataset: str) -> str:
    """Every stat of the pipeline (and the exact-dedup hash) for every row, no filter: fills the cache."""
    return ("CREATE OR REPLACE TABLE all_stats AS SELECT id, text_len(text) AS a, alnum_ratio(text) AS b, "
            "special_char_ratio(text) AS c, char_rep_ratio(text) AS d, word_rep_ratio(text) AS e, "
            f"num_words(text) AS f, stopwords_ratio(text, words_file := '{WORDLISTS / 'stopwords.json'}') AS g, "
            f"flagged_words_ratio(text, words_file := '{WORDLISTS / 'flagged_words.json'}') AS h, "
            f"doc_hash(text) AS i FROM dataset('{dataset}');")


def cmd_rethreshold(args: argparse.Namespace, work: Path) -> dict:
    import math

    import duckdb
    n = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{args.corpus}')").fetchone()[0]
    big = work / f"corpus-{args.rows}.parquet"
    total = repeat_parquet(str(Path(args.corpus).resolve()), big, math.ceil(args.rows / n), args.rows)
    ops = [*FILTERS, DEDUP]
    # 1: score every stat for every row (a SELECT of the stat functions, no filter); 2: the default thresholds;
    # 3..: every threshold moved
    recipes = [score_recipe(str(big)), jdb_recipe(str(big), ops, None, cols=args.cols)]
    recipes += [jdb_recipe(str(big), [*moved(t), DEDUP], None, cols=args.cols) for t in RETHRESHOLDS[:args.repeat]]
    # --no-trace: the drop trace (one row per dropped sample, written on every run) is off, as DJ's tracer
    r = run_jdb(args, work, {"recipes": recipes, "trace": not args.no_trace}, "rethreshold")
    runs = r["runs"]
    print(f"\n(c) re-thresholding: {total} rows (the corpus x{math.ceil(args.rows / n)}, distinct ids), "
          f"SELECT {args.cols}; {args.threads} threads; drop trace {'off' if args.no_trace else 'on'}")
    names = ["score all stats (cold)", "default thresholds"] + [f"thresholds set {i + 1}" for i in range(len(runs) - 2)]
    for name, run in zip(names, runs):
        comp = sum(s["computed"] for s in run["steps"])
        reused = sum(s["reused"] for s in run["steps"])
        print(f"  {name:26s} {run['run_s']:7.2f} s  computed {comp:>9d}  reused {reused:>9d}  kept {run['tables']}")
    moved_s = [run["run_s"] for run in runs[2:]]
    comp = [sum(s["computed"] for s in run["steps"]) for run in runs[2:]]
    print(f"re-run with every threshold moved: median {med(moved_s):.2f} s over {len(moved_s)} sets "
          f"(min {min(moved_s):.2f}, max {max(moved_s):.2f}); stats computed: {comp}; target < 2 s with 0 computed: "
          f"{'met' if med(moved_s) < 2 and not any(comp) else 'NOT met'}")
    print("steps of the first moved run: " + "; ".join(
        f"{s['predicate'][:50]} {s['seconds']:.2f}s" for s in runs[2]["steps"]))
    big.unlink()
    return {"rows": total, "runs": runs, "names": names, "peak_rss_mb": r["peak_rss_mb"], "wall_s": r["wall_s"],
            "moved_median_s": med(moved_s), "moved_computed": comp}


# ----------------------------------------------------------------------------- (d)

def cmd_bigdata(args: argparse.Namespace, work: Path) -> dict:
    """(d): one attempt per loader path -- the file as a user has it (no uid column: the loader derives one
    per row) and, with ``--with-uid``, the same rows with a uid column (the loader copies them as they are)."""
    import math
    corpus = Path(args.corpus).resolve()
    copies = math.ceil(args.gb * 2**30 / corpus.stat().st_size)
    big = Path(args.big_dir) / "big.parquet"
    big.parent.mkdir(parents=True, exist_ok=True)
    out = Path(args.big_dir) / "kept.parquet"
    results = {}
    for uid in ([False, True] if args.with_uid else [False]):
        t0 = time.perf_counter()
        try:
            total = repeat_parquet(str(corpus), big, copies, distinct_text=True, uid=uid)
            size = big.stat().st_size
            print(f"  wrote {big}: {size / 2**30:.2f} GiB, {total} rows, uid column: {uid}, in "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            recipe = jdb_recipe(str(big), [*FILTERS, DEDUP], None) + f"COPY kept TO '{out}' (FORMAT parquet);\n"
            r = run_jdb(args, work, {"recipes": [recipe], "memory_limit": args.memory_limit}, f"bigdata-{uid}",
                        check=False)
        finally:
            big.unlink(missing_ok=True)
            out.unlink(missing_ok=True)
        r.update(rows=total, bytes=size, copies=copies, uid_column=uid)
        results["with uid" if uid else "as is"] = r
        print(f"\n(d) larger than memory: {size / 2**30:.2f} GiB Parquet, {total} rows (the corpus x{copies}, a "
              f"'[copy k] ' prefix per copy so every text is new), uid column: {uid}, memory_limit "
              f"{args.memory_limit}, {args.threads} threads")
        if r["rc"]:
            print(f"  FAILED after {r['wall_s']:.0f} s (peak RSS {r['peak_rss_mb']:.0f} MB): {r['error']}")
            continue
        run = r["runs"][0]
        print(f"  completed: kept {run['tables'].get('kept')}; run {run['run_s']:.1f} s, wall {r['wall_s']:.1f} s, "
              f"{total / run['run_s']:.0f} docs/s; peak RSS {r['peak_rss_mb']:.0f} MB (PSS {r['peak_pss_mb']:.0f} "
              f"MB; the juicedb process alone {r['peak_root_rss_mb']:.0f} MB at the peak)")
    return results


# ----------------------------------------------------------------------------- profile

class _TimedRelation:
    def __init__(self, rel, log: list, where: str, sql: str) -> None:
        self._rel, self._log, self._where, self._sql = rel, log, where, sql

    def __getattr__(self, name: str):
        attr = getattr(self._rel, name)
        if not callable(attr) or name not in ("to_arrow_table", "arrow", "fetchall", "df", "fetchone"):
            return attr

        def timed(*a, **k):
            t = time.perf_counter()
            _TimedConnection.current = self._where
            try:
                return attr(*a, **k)
            finally:
                _TimedConnection.current = "python (no DuckDB statement running)"
                self._log.append((self._where, self._sql, time.perf_counter() - t))
        return timed


class _TimedConnection:
    """A DuckDB connection that records (calling function:line, SQL, seconds) for every statement."""

    def __init__(self, con, log: list) -> None:
        self._con, self._log = con, log
        con.execute("SET python_scan_all_frames = true")  # Arrow tables named in SQL live one frame up now

    @staticmethod
    def _where() -> str:
        f = sys._getframe(2)
        return f"{Path(f.f_code.co_filename).name}:{f.f_code.co_name}:{f.f_lineno}"

    current = "python (no DuckDB statement running)"

    def execute(self, sql, *a, **k):
        where, t = self._where(), time.perf_counter()
        _TimedConnection.current = where
        try:
            return self._con.execute(sql, *a, **k)
        finally:
            _TimedConnection.current = "python (no DuckDB statement running)"
            self._log.append((where, sql, time.perf_counter() - t))

    def sql(self, sql, *a, **k):
        where, t = self._where(), time.perf_counter()
        rel = self._con.sql(sql, *a, **k)
        self._log.append((where, sql, time.perf_counter() - t))
        return _TimedRelation(rel, self._log, where, sql) if rel is not None else None

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def worker_profile(job_file: str) -> None:
    """Run the recipe once in this process under cProfile, every DuckDB statement timed by its caller."""
    import cProfile
    import pstats
    import threading

    import psutil

    import juicedb
    job = json.loads(Path(job_file).read_text())
    workdir = Path(job["workdir"])
    log: list = []
    prof = cProfile.Profile()
    # call site -> highest (this process RSS, whole tree RSS, DuckDB spill folder, database file) MB seen in it
    peaks: dict[str, tuple[float, float, float, float]] = {}
    stop = threading.Event()

    def mb_of(path: Path) -> float:
        with contextlib.suppress(OSError):
            if path.is_file():
                return path.stat().st_size / 2**20
            return sum(f.stat().st_size for f in path.iterdir()) / 2**20
        return 0.0

    def sample() -> None:
        me, n = psutil.Process(), 0
        spill = db = 0.0
        while not stop.wait(0.1):
            with contextlib.suppress(psutil.Error):
                own = me.memory_info().rss
                tree = own + sum(c.memory_info().rss for c in me.children(recursive=True))
                if n % 5 == 0:
                    spill, db = mb_of(workdir / "ws" / "tmp"), mb_of(workdir / "ws" / "juicedb.duckdb")
                n += 1
                site = _TimedConnection.current
                old = peaks.get(site, (0, 0, 0, 0))
                peaks[site] = (max(old[0], own / 2**20), max(old[1], tree / 2**20), max(old[2], spill),
                               max(old[3], db))

    threading.Thread(target=sample, daemon=True).start()
    kw = {"memory_limit": job["memory_limit"]} if job.get("memory_limit") else {}
    with juicedb.open(workdir / "ws", threads=job["threads"], workers=job["workers"], **kw) as ws:
        ws.engine.con = _TimedConnection(ws.engine.con, log)
        for i, recipe in enumerate(job["recipes"]):
            log.clear()
            t0 = time.perf_counter()
            prof.enable()
            failed = None
            try:
                ws.run(recipe, fetch=False)
            except Exception as e:  # noqa: BLE001 - report where it failed, with the timings so far
                failed = f"{type(e).__name__}: {str(e).splitlines()[0]} (in {log[-1][0] if log else '?'})"
            prof.disable()
            total = time.perf_counter() - t0
            by_site: dict[str, list] = {}
            for where, sql, s in log:
                e = by_site.setdefault(where, [0.0, 0, " ".join(str(sql).split())[:110]])
                e[0] += s
                e[1] += 1
            print(f"\n=== recipe {i}: {total:.2f} s in ws.run; DuckDB statements {sum(s for *_, s in log):.2f} s "
                  f"({len(log)} calls); by call site:")
            for where, (s, n, sql) in sorted(by_site.items(), key=lambda kv: -kv[1][0])[:job["top"]]:
                print(f"  {s:7.2f} s {n:5d}x  {where:45s} {sql}")
            if failed:
                print(f"  FAILED: {failed}")
                break
    stop.set()
    print("\n=== peaks (MB) while each call site ran: RSS of this process, RSS of the tree, DuckDB's spill "
          "folder, the database file")
    for site, (own, tree, spill, db) in sorted(peaks.items(), key=lambda kv: -kv[1][1])[:job["top"]]:
        print(f"  {own:7.0f} {tree:7.0f} {spill:8.0f} {db:8.0f}  {site}")
    print("  by spill:")
    for site, (own, tree, spill, db) in sorted(peaks.items(), key=lambda kv: -kv[1][2])[:8]:
        print(f"  {own:7.0f} {tree:7.0f} {spill:8.0f} {db:8.0f}  {site}")
    print("\n=== cProfile (main process), by cumulative time")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(job["top"])
    print("=== by own time")
    pstats.Stats(prof).sort_stats("tottime").print_stats(job["top"])


def cmd_profile(args: argparse.Namespace, work: Path) -> dict:
    """(a) the pipeline recipe run ``--repeat`` times in one workspace; with ``--profile-rethreshold``, (c): a
    Parquet corpus repeated to ``--rows`` rows, scored once, then re-run with two moved threshold sets; with
    ``--profile-bigdata``, (d) at a smaller scale: the corpus x ``--copies`` under ``--memory-limit``."""
    if args.profile_bigdata:
        dataset = work / "big.parquet"
        repeat_parquet(str(Path(args.corpus).resolve()), dataset, args.copies, distinct_text=True, uid=True)
        recipes = [jdb_recipe(str(dataset), [*FILTERS, DEDUP], None)
                   + f"COPY kept TO '{work / 'kept.parquet'}' (FORMAT parquet);\n"]
    elif args.profile_rethreshold:
        import math

        import duckdb
        n = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{args.corpus}')").fetchone()[0]
        dataset = work / f"corpus-{args.rows}.parquet"
        repeat_parquet(str(Path(args.corpus).resolve()), dataset, math.ceil(args.rows / n), args.rows)
        recipes = [score_recipe(str(dataset))] + [jdb_recipe(str(dataset), [*moved(t), DEDUP], None, cols=args.cols)
                                                  for t in RETHRESHOLDS[:2]]
    else:
        dataset = subset_jsonl(Path(args.corpus).resolve(), args.rows, work)
        recipes = [jdb_recipe(str(dataset), [*FILTERS, DEDUP], str(work / "kept.jsonl"))] * args.repeat
    for workers in args.profile_workers:
        d = work / f"profile-{workers}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        (d / "job.json").write_text(json.dumps({"workdir": str(d), "threads": args.threads, "workers": workers,
                                                "recipes": recipes, "top": args.top,
                                                "memory_limit": args.memory_limit if args.profile_bigdata else None}))
        print(f"\n##### juicedb on {dataset.name}, threads {args.threads}, workers {workers}; "
              f"{len(recipes)} runs in one workspace (the first cold)", flush=True)
        subprocess.run([sys.executable, __file__, "--worker-profile", str(d / "job.json")], check=True)
        shutil.rmtree(d, ignore_errors=True)
    return {}


# ----------------------------------------------------------------------------- driver

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", nargs="?", choices=["setup", "pipeline", "minhash", "rethreshold", "bigdata",
                                                           "profile"])
    ap.add_argument("--corpus", help="corpus from make_corpus.py (.jsonl for pipeline/minhash, .parquet for the rest)")
    ap.add_argument("--rows", type=int, help="pipeline/minhash: the first ROWS docs; rethreshold: rows to build "
                    "(default 1,000,000)")
    ap.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="Data-Juicer's virtualenv (created if missing)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2, help="juicedb threads and workers")
    ap.add_argument("--np", type=int, default=2, help="DJ's np")
    ap.add_argument("--bands", default="", help="minhash: BxR bands x rows for both systems (e.g. 32x8) instead "
                    "of DJ's optimal_param choice for the threshold (25x10 at 0.7, 256 permutations)")
    ap.add_argument("--repeat", type=int, default=3, help="juicedb repetitions (rethreshold: threshold sets)")
    ap.add_argument("--dj-repeat", type=int, default=1, help="DJ repetitions")
    ap.add_argument("--no-dj", action="store_true", help="skip Data-Juicer")
    ap.add_argument("--floor", action="store_true", help="pipeline: also (e), the pure-SQL stats and juicedb's "
                    "all-8-stats run")
    ap.add_argument("--floor-repeat", type=int, default=1)
    ap.add_argument("--floor-memory", default="8GB", help="DuckDB memory_limit of the pure-SQL peer")
    ap.add_argument("--cols", default="*", help="rethreshold: the columns the recipe keeps")
    ap.add_argument("--no-trace", action="store_true", help="rethreshold: runs without the drop trace")
    ap.add_argument("--gb", type=float, default=3.0, help="bigdata: size of the Parquet dataset")
    ap.add_argument("--memory-limit", default="1GB", help="bigdata: juicedb's DuckDB memory limit")
    ap.add_argument("--with-uid", action="store_true", help="bigdata: also run on the rows with a uid column")
    ap.add_argument("--big-dir", default="/tmp/juicedb-bigdata", help="bigdata: where the big file is written")
    ap.add_argument("--workdir", help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--worker")
    ap.add_argument("--worker-pure-sql")
    ap.add_argument("--worker-profile")
    ap.add_argument("--profile-workers", type=int, nargs="+", default=[2], help="profile: juicedb worker counts")
    ap.add_argument("--top", type=int, default=30, help="profile: lines per listing")
    ap.add_argument("--profile-rethreshold", action="store_true", help="profile (c) instead of (a)")
    ap.add_argument("--profile-bigdata", action="store_true", help="profile (d) instead of (a): the corpus x "
                    "--copies with a uid column, under --memory-limit")
    ap.add_argument("--copies", type=int, default=5, help="profile --profile-bigdata: copies of the corpus")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    if args.worker_pure_sql:
        worker_pure_sql(args.worker_pure_sql)
        return
    if args.worker_profile:
        worker_profile(args.worker_profile)
        return
    if args.command is None:
        ap.error("a command is required")
    import juicedb
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=False,
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           check=False, capture_output=True, text=True).stdout.strip()
    info = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "command": " ".join(sys.argv),
            "threads": args.threads, "juicedb": str(Path(juicedb.__file__).parent),
            "commit": head + (" + uncommitted changes" if dirty else "")}
    if args.command in ("setup", "pipeline", "minhash") and not args.no_dj:
        info["dj"] = ensure_venv(args.venv)
    print(json.dumps(info), flush=True)
    if args.command == "setup":
        return
    if not args.corpus:
        ap.error("--corpus is required")
    if (args.command == "rethreshold" or args.profile_rethreshold) and not args.rows:
        args.rows = 1_000_000
    with contextlib.ExitStack() as stack:
        work = Path(args.workdir) if args.workdir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="dj-anchor-", dir="/tmp")))
        work.mkdir(parents=True, exist_ok=True)
        fn = {"pipeline": cmd_pipeline, "minhash": cmd_minhash, "rethreshold": cmd_rethreshold,
              "bigdata": cmd_bigdata, "profile": cmd_profile}[args.command]
        res = fn(args, work)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "results": res}, indent=1, default=str))


if __name__ == "__main__":
    main()
