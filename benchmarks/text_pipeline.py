"""Benchmark: the model-free text pipeline, juicedb vs the same stats in pure DuckDB SQL.

Both contenders read the same JSONL corpus and compute the eight Data-Juicer text
stats (text_len, alnum_ratio, special_char_ratio, char_rep_ratio, word_rep_ratio,
num_words, stopwords_ratio, flagged_words_ratio) for every document, then the
stats are compared value by value. Each contender runs in its own process, so its
peak RSS is its own. Conventions (see README): warm the OS page cache once, pin
DuckDB threads, report ratios against the named peer measured in the same run.

    python benchmarks/text_pipeline.py --corpus /tmp/corpus/corpus.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATS = ["text_len", "alnum_ratio", "special_char_ratio", "char_rep_ratio", "word_rep_ratio", "num_words",
         "stopwords_ratio", "flagged_words_ratio"]
RECIPE = """CREATE OR REPLACE TABLE bench_stats AS
SELECT uid, {cols} FROM dataset('{corpus}');
COPY bench_stats TO '{out}' (FORMAT parquet);"""
FILTER_RECIPE = """CREATE OR REPLACE TABLE bench_kept AS SELECT uid FROM dataset('{corpus}')
WHERE text_len(text) >= 10 AND alnum_ratio(text) >= 0.25 AND special_char_ratio(text) <= 0.25
  AND char_rep_ratio(text) <= 0.5 AND word_rep_ratio(text) <= 0.5 AND num_words(text) >= 10
  AND stopwords_ratio(text) >= 0.3 AND flagged_words_ratio(text) <= 0.045;"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- workers (own process each)

def worker_pure_sql(corpus: str, out: str, threads: int, workdir: str) -> dict:
    import duckdb
    con = duckdb.connect(str(Path(workdir) / "pure.duckdb"))
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    con.execute("CREATE TABLE docs AS SELECT row_number() OVER () AS id, text "
                f"FROM read_json('{corpus}', columns = {{'text': 'VARCHAR'}}, format = 'newline_delimited')")
    t_load = time.perf_counter() - t0
    _fill_helper_tables(con)
    t1 = time.perf_counter()
    con.execute((HERE / "pure_sql_stats.sql").read_text())
    t_stats = time.perf_counter() - t1
    con.execute(f"COPY (SELECT * FROM pure_stats ORDER BY id) TO '{out}' (FORMAT parquet)")
    n = con.execute("SELECT count(*) FROM pure_stats").fetchall()[0][0]
    con.close()
    return {"docs": n, "load_s": t_load, "stats_s": t_stats, "peak_rss_mb": peak_rss_mb()}


def _fill_helper_tables(con) -> None:
    """The peer's inputs: DJ's special characters and the packaged English word lists."""
    from juicedb.udfs.common.chars import SPECIAL_CHARACTERS
    from juicedb.udfs.common.wordlists import word_set
    singles = sorted(c for c in SPECIAL_CHARACTERS if len(c) == 1)
    con.execute("CREATE OR REPLACE TABLE special_chars AS SELECT unnest(?) AS cp", [singles])
    con.execute("CREATE OR REPLACE TABLE stopwords AS SELECT unnest(?) AS word", [sorted(word_set("stopwords", "en"))])
    con.execute("CREATE OR REPLACE TABLE flagged_words AS SELECT unnest(?) AS word",
                [sorted(word_set("flagged_words", "en"))])


def worker_juicedb(corpus: str, out: str, threads: int, workdir: str, recipe: str) -> dict:
    import juicedb
    ws_path = Path(workdir) / "ws"
    with juicedb.open(ws_path, threads=threads, workers=threads) as ws:
        t0 = time.perf_counter()
        ws.load(corpus)
        t_load = time.perf_counter() - t0
        t1 = time.perf_counter()
        cols = ", ".join(f"{s}(text) AS {s}" for s in STATS)
        text = (RECIPE if recipe == "stats" else FILTER_RECIPE).format(cols=cols, corpus=corpus, out=out)
        ws.run(text)
        t_stats = time.perf_counter() - t1
        report = ws.last_run
        docs = ws.sql("SELECT sum(rows)::BIGINT AS n FROM datasets").column("n")[0].as_py()
    return {"docs": docs, "kept": report.tables.get("bench_kept"), "load_s": t_load, "stats_s": t_stats,
            "computed": report.computed, "peak_rss_mb": peak_rss_mb()}


# ----------------------------------------------------------------------------- driver

def run_worker(name: str, args: argparse.Namespace, out: str, workdir: str, extra: list[str]) -> dict:
    """Run one contender in a fresh process; its peak RSS is sampled over its whole process tree
    (juicedb's operator worker processes included)."""
    import psutil
    cmd = [sys.executable, __file__, "--worker", name, "--corpus", args.corpus, "--out", out, "--threads",
           str(args.threads), "--workdir", workdir, *extra]
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        proc = subprocess.Popen(cmd, stdout=so, stderr=se, text=True)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.05)
        so.seek(0), se.seek(0)
        stdout, stderr = so.read(), se.read()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = max(result["peak_rss_mb"], peak / 2**20)
    return result


def compare(a: str, b: str) -> dict:
    """Value-by-value comparison of the two stats files (rows in corpus order)."""
    import duckdb
    con = duckdb.connect()
    row = con.execute(
        f"WITH p AS (SELECT row_number() OVER () AS i, * FROM read_parquet('{a}')), "
        f"j AS (SELECT row_number() OVER () AS i, * FROM read_parquet('{b}')) SELECT count(*), "
        + ", ".join(f"count(*) FILTER (WHERE abs(p.{s} - j.{s}) > 1e-9 OR (p.{s} IS NULL) <> (j.{s} IS NULL))"
                    for s in STATS) + " FROM p JOIN j USING (i)").fetchall()[0]
    con.close()
    return {"rows": row[0], "mismatches": dict(zip(STATS, row[1:]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--worker")
    ap.add_argument("--out")
    ap.add_argument("--workdir")
    ap.add_argument("--recipe", default="stats")
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    if args.worker == "pure_sql":
        print(json.dumps(worker_pure_sql(args.corpus, args.out, args.threads, args.workdir)))
        return
    if args.worker == "juicedb":
        print(json.dumps(worker_juicedb(args.corpus, args.out, args.threads, args.workdir, args.recipe)))
        return

    corpus = str(Path(args.corpus).resolve())
    args.corpus = corpus
    Path(corpus).read_bytes()  # warm the page cache once, for both contenders alike
    with tempfile.TemporaryDirectory() as tmp:
        pure_out, jdb_out = f"{tmp}/pure.parquet", f"{tmp}/jdb.parquet"
        results = {
            "pure DuckDB SQL": run_worker("pure_sql", args, pure_out, tmp, []),
            "juicedb (cold: empty cache)": run_worker("juicedb", args, jdb_out, tmp, []),
            "juicedb (warm: rerun, cached)": run_worker("juicedb", args, f"{tmp}/jdb2.parquet", tmp, []),
        }
        Path(f"{tmp}/f").mkdir()
        results["juicedb DJ-default filter recipe"] = run_worker("juicedb", args, f"{tmp}/f.parquet", f"{tmp}/f",
                                                                 ["--recipe", "filter"])
        check = compare(pure_out, jdb_out)
    base = results["pure DuckDB SQL"]["stats_s"]
    print(f"\ncorpus: {corpus}  docs: {check['rows']}  threads: {args.threads}")
    print(f"{'contender':34s} {'load s':>8s} {'stats s':>8s} {'docs/s':>9s} {'peak RSS MB':>12s} {'time ratio':>11s}")
    for name, r in results.items():
        dps = r["docs"] / r["stats_s"] if r["stats_s"] else float("inf")
        print(f"{name:34s} {r['load_s']:8.2f} {r['stats_s']:8.2f} {dps:9.0f} {r['peak_rss_mb']:12.0f} "
              f"{r['stats_s'] / base:10.2f}x")
    print(f"stats equal to the peer's: {check}")
    kept = results["juicedb DJ-default filter recipe"]
    print(f"filter recipe: kept {kept['kept']} of {kept['docs']} docs; {kept['computed']} stat values computed "
          f"(computing all eight for every doc would be {8 * kept['docs']})")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "check": check, "threads": args.threads,
                                               "corpus": corpus}, indent=2))


if __name__ == "__main__":
    main()
