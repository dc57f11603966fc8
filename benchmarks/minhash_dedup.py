"""Benchmark: near-duplicate removal, juicedb's document_minhash_deduplicator vs datasketch MinHashLSH.

Both use Data-Juicer's parameters: word 5-shingles of the lower-cased text split on
spaces, 256 permutations, Jaccard threshold 0.7 (juicedb: DJ's optimal bands x rows;
datasketch: its own optimal choice for the same threshold), keep the first of each
group. The corpus from ../shared/tools/make_corpus.py plants exact and near
duplicates (column `kind`): recall = planted duplicates removed / planted; the
"planted share" of removals is a lower bound of precision, because real documents
(man pages of one package, licence texts) also repeat each other.

    python benchmarks/minhash_dedup.py --corpus /tmp/corpus/corpus.parquet --rows 120000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

THRESHOLD, PERMS, WINDOW = 0.7, 256, 5


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(corpus: str, rows: int) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq
    t = pq.read_table(corpus, columns=["text", "kind"]).slice(0, rows)
    return t.column("text").to_pylist(), t.column("kind").to_pylist()


def worker_datasketch(corpus: str, rows: int) -> dict:
    from datasketch import MinHash, MinHashLSH
    texts, _ = load(corpus, rows)
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=PERMS)
    keep = []
    for i, text in enumerate(texts):
        words = [w for w in text.lower().split(" ") if w]
        m = MinHash(num_perm=PERMS)
        m.update_batch([" ".join(words[j:j + WINDOW]).encode() for j in range(len(words) - WINDOW + 1)])
        if lsh.query(m):
            keep.append(False)
        else:
            lsh.insert(str(i), m)
            keep.append(True)
    return {"seconds": time.perf_counter() - t0, "keep": keep, "peak_rss_mb": peak_mb(), "processes": 1}


def worker_juicedb(corpus: str, rows: int, workdir: str, threads: int) -> dict:
    import juicedb
    with juicedb.open(workdir, threads=threads, workers=threads) as ws:
        ws.sql(f"CREATE TABLE docs AS SELECT row_number() OVER () - 1 AS i, text FROM read_parquet('{corpus}') "
               f"LIMIT {rows}")
        t0 = time.perf_counter()
        kept = ws.run("SELECT i FROM docs WHERE document_minhash_deduplicator(text)").column("i").to_pylist()
        seconds = time.perf_counter() - t0
    keep = [False] * rows
    for i in kept:
        keep[i] = True
    return {"seconds": seconds, "keep": keep, "peak_rss_mb": peak_mb(), "processes": threads}


def run(name: str, args: argparse.Namespace, workdir: str) -> dict:
    import psutil
    cmd = [sys.executable, __file__, "--worker", name, "--corpus", args.corpus, "--rows", str(args.rows),
           "--threads", str(args.threads), "--workdir", workdir]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]))
            time.sleep(0.05)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = max(result["peak_rss_mb"], peak / 2**20)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True, help="corpus.parquet from make_corpus.py (columns text, kind)")
    ap.add_argument("--rows", type=int, default=120_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--worker")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    if args.worker == "datasketch":
        print(json.dumps(worker_datasketch(args.corpus, args.rows)))
        return
    if args.worker == "juicedb":
        print(json.dumps(worker_juicedb(args.corpus, args.rows, args.workdir, args.threads)))
        return
    args.corpus = str(Path(args.corpus).resolve())
    _, kinds = load(args.corpus, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        results = {"datasketch MinHashLSH": run("datasketch", args, tmp),
                   "juicedb document_minhash_deduplicator": run("juicedb", args, f"{tmp}/ws")}
    planted = {i for i, k in enumerate(kinds) if k in ("exact_dup", "near_dup")}
    near = {i for i, k in enumerate(kinds) if k == "near_dup"}
    base = results["datasketch MinHashLSH"]["seconds"]
    print(f"\n{args.rows} docs, {len(near)} planted near-duplicates, {len(planted) - len(near)} exact copies")
    print(f"{'contender':40s} {'s':>7s} {'docs/s/core':>12s} {'RSS MB':>8s} {'recall near':>12s} "
          f"{'recall all':>11s} {'planted share':>14s} {'time ratio':>10s}")
    for name, r in results.items():
        removed = {i for i, k in enumerate(r["keep"]) if not k}
        print(f"{name:40s} {r['seconds']:7.1f} {args.rows / r['seconds'] / r['processes']:12.0f} "
              f"{r['peak_rss_mb']:8.0f} {len(removed & near) / len(near):12.3f} "
              f"{len(removed & planted) / len(planted):11.3f} {len(removed & planted) / max(len(removed), 1):14.3f} "
              f"{r['seconds'] / base:9.2f}x")
    a, b = ({i for i, k in enumerate(r["keep"]) if not k} for r in results.values())
    print(f"agreement on removed rows: {len(a & b)} both, {len(a - b)} datasketch only, {len(b - a)} juicedb only")


if __name__ == "__main__":
    main()
