"""Benchmark: the Ray engine (operator batches as Ray Data jobs) vs the local engine, on this machine.

The eight model-free Data-Juicer text stats (as text_pipeline.py) of the first
--docs documents of a Parquet corpus, each contender in a fresh workspace with
the dataset already loaded (so only planning, computing and storing are timed):

- **local, 1 worker:** batches computed in this process;
- **local, 2 workers:** batches in two spawned worker processes (the CLI's default here;
  from 20k distinct inputs on, hence 24k documents), started with each workspace;
- **ray shards, 1 / 2 workers:** ``engine="ray"`` on a local Ray instance
  (``ray.init(num_cpus=2)``): each stage's inputs written as Parquet shards to the
  workspace's ``tmp/ray``, one Ray Data job per stage (``read_parquet`` ->
  ``map_batches`` task pool of that size -> ``write_parquet``), the stat shards read
  back by DuckDB;
- **ray objects, 1 / 2 workers:** the same without a shared folder (a cluster's case
  without one): chunks of 64 batches through Ray's object store, a job per chunk.
  Ray's start and its workers' first import of juicedb happen in an untimed
  warm-up run, as on a long-lived cluster.

Stats of every contender are compared with the local engine's, value by value.

    python benchmarks/ray_engine.py --docs 24000
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

STATS = ["text_len", "alnum_ratio", "special_char_ratio", "char_rep_ratio", "word_rep_ratio", "num_words",
         "stopwords_ratio", "flagged_words_ratio"]
RECIPE = "CREATE OR REPLACE TABLE bench_stats AS SELECT uid, {cols} FROM dataset('{corpus}')"


def run(corpus: Path, threads: int, object_store: bool = False, **kwargs: object) -> tuple[float, object]:
    import juicedb

    cols = ", ".join(f"{s}(text) AS {s}" for s in STATS)
    with juicedb.open(tempfile.mkdtemp(prefix="jdb-ray-bench-"), threads=threads, **kwargs) as ws:
        if object_store:  # as on a cluster without a shared folder
            ws.engine._ray.shared_dir = None
        ws.load(corpus)
        t = time.perf_counter()
        ws.run(RECIPE.format(cols=cols, corpus=corpus), trace=False)
        seconds = time.perf_counter() - t
        stats = ws.sql(f"SELECT uid, {', '.join(STATS)} FROM bench_stats ORDER BY uid")
    return seconds, stats


def mismatches(a: object, b: object) -> int:
    return sum(x != y for s in STATS for x, y in zip(a.column(s).to_pylist(), b.column(s).to_pylist()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("/tmp/corpus/corpus.parquet"))
    ap.add_argument("--docs", type=int, default=24_000,
                    help="the local engine uses its worker processes from 20k distinct missing inputs on")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads, every contender")
    args = ap.parse_args()

    import pyarrow.parquet as pq
    import ray

    corpus = Path(tempfile.mkdtemp(prefix="jdb-ray-bench-")) / "corpus.parquet"
    pq.write_table(pq.read_table(args.corpus).slice(0, args.docs), corpus)  # read once: a warm page cache
    n = pq.read_metadata(corpus).num_rows

    small = corpus.with_name("warmup.parquet")
    pq.write_table(pq.read_table(corpus).slice(0, 4096), small)
    run(small, args.threads, workers=1)  # untimed: this process loads the operators' word lists once
    one = corpus.with_name("one_batch.parquet")  # one batch of 1024 rows: the fixed cost of a Ray job
    pq.write_table(pq.read_table(corpus).slice(4096, 1024), one)
    local_one = run(one, args.threads, workers=1)[0]
    rows: list[tuple[str, float, object]] = []
    for workers in (1, 2):
        seconds, stats = run(corpus, args.threads, workers=workers)
        rows.append((f"local, {workers} worker{'s' * (workers > 1)}", seconds, stats))
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    try:
        for workers in (1, 2):
            run(small, args.threads, workers=workers, engine="ray")  # untimed: Ray's workers start, import juicedb
        for workers in (1, 2):
            seconds, stats = run(corpus, args.threads, workers=workers, engine="ray")
            rows.append((f"ray shards, {workers} worker{'s' * (workers > 1)}", seconds, stats))
        for workers in (1, 2):
            seconds, stats = run(corpus, args.threads, True, workers=workers, engine="ray")
            rows.append((f"ray objects, {workers} worker{'s' * (workers > 1)}", seconds, stats))
        ray_one = run(one, args.threads, workers=1, engine="ray")[0]
    finally:
        ray.shutdown()

    base = {1: rows[0][1], 2: rows[1][1]}
    print(f"{n} documents, 8 text stats, DuckDB threads {args.threads}, Ray {ray.__version__}")
    print(f"{'contender':<22} {'seconds':>8} {'docs/s':>9} {'vs local, same workers':>23} {'mismatches':>11}")
    for name, seconds, stats in rows:
        workers = 2 if "2 workers" in name else 1
        print(f"{name:<22} {seconds:8.2f} {n / seconds:9.0f} {seconds / base[workers]:22.2f}x "
              f"{mismatches(stats, rows[0][2]):>11}")
    print(f"one batch of 1024 documents: local {local_one:.2f} s, ray {ray_one:.2f} s "
          f"(fixed cost of a Ray job: {ray_one - local_one:+.2f} s)")


if __name__ == "__main__":
    main()
