"""Benchmark: near-duplicate removal, juicedb's document_minhash_deduplicator vs datasketch MinHashLSH.

Both use Data-Juicer's parameters: word 5-shingles of the lower-cased text split on
spaces, 256 permutations, Jaccard threshold 0.7 (juicedb: DJ's optimal bands x rows;
datasketch: its own optimal choice for the same threshold), keep the first of each
group. The corpus from ../shared/tools/make_corpus.py plants exact and near
duplicates (column `kind`): recall = planted duplicates removed / planted; the
"planted share" of removals is a lower bound of precision, because real documents
(man pages of one package, licence texts) also repeat each other.

A planted near-duplicate edits ~2% of its base's words (at least one), so a short one
can be far below the 0.7 threshold. The fair recall measure is therefore also printed:
recall of the planted near-duplicates whose true Jaccard similarity (5-shingle sets,
against the most similar earlier original) is >= 0.7.

    python benchmarks/minhash_dedup.py --corpus /tmp/corpus/corpus.parquet --rows 120000
    python benchmarks/minhash_dedup.py ... --only juicedb    # skip the (slow) datasketch run
    python benchmarks/minhash_dedup.py ... --bands 32x8      # also juicedb with 32 bands of 8 rows
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


def shingle_set(text: str) -> set[str]:
    words = [w for w in text.lower().split(" ") if w]
    return {" ".join(words[j:j + WINDOW]) for j in range(len(words) - WINDOW + 1)}


def near_dup_jaccard(texts: list[str], kinds: list[str]) -> dict[int, float]:
    """True Jaccard similarity of each planted near-duplicate with the most similar earlier original
    (the generator derives it from an earlier original but does not record which one)."""
    near = {i: shingle_set(texts[i]) for i, k in enumerate(kinds) if k == "near_dup"}
    wanted = set().union(*near.values())
    postings: dict[str, list[int]] = {}
    for i, (text, kind) in enumerate(zip(texts, kinds)):
        if kind == "orig":
            for s in shingle_set(text) & wanted:
                postings.setdefault(s, []).append(i)
    out = {}
    for i, sh in near.items():
        counts: dict[int, int] = {}
        for s in sh:
            for j in postings.get(s, ()):
                if j < i:
                    counts[j] = counts.get(j, 0) + 1
        best = max(counts, key=counts.get) if counts else None
        if best is None:
            out[i] = 1.0 if not sh else 0.0  # two empty shingle sets have equal signatures
            continue
        base = shingle_set(texts[best])
        out[i] = len(sh & base) / len(sh | base)
    return out


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


def worker_juicedb(corpus: str, rows: int, workdir: str, threads: int, bands: str = "") -> dict:
    import juicedb
    args = ""
    if bands:
        b, r = bands.split("x")
        args = f", num_bands := {int(b)}, num_rows_per_band := {int(r)}"
    with juicedb.open(workdir, threads=threads, workers=threads) as ws:
        ws.sql(f"CREATE TABLE docs AS SELECT row_number() OVER () - 1 AS i, text FROM read_parquet('{corpus}') "
               f"LIMIT {rows}")
        t0 = time.perf_counter()
        kept = ws.run(f"SELECT i FROM docs WHERE document_minhash_deduplicator(text{args})").column("i").to_pylist()
        seconds = time.perf_counter() - t0
    keep = [False] * rows
    for i in kept:
        keep[i] = True
    return {"seconds": seconds, "keep": keep, "peak_rss_mb": peak_mb(), "processes": threads}


def run(name: str, args: argparse.Namespace, workdir: str, bands: str = "") -> dict:
    import psutil
    cmd = [sys.executable, __file__, "--worker", name, "--corpus", args.corpus, "--rows", str(args.rows),
           "--threads", str(args.threads), "--workdir", workdir, "--bands", bands]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        root, peak, cpu = psutil.Process(proc.pid), 0, {}
        while proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
                for p in tree:  # CPU seconds of every process of the contender (the last reading of each)
                    with contextlib.suppress(psutil.Error):
                        t = p.cpu_times()
                        cpu[p.pid] = t.user + t.system
            time.sleep(0.05)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise SystemExit(f"{name} failed:\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = max(result["peak_rss_mb"], peak / 2**20)
    result["cpu_seconds"] = sum(cpu.values())  # includes start-up and loading: an upper bound of the work's
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True, help="corpus.parquet from make_corpus.py (columns text, kind)")
    ap.add_argument("--rows", type=int, default=120_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--only", choices=["juicedb", "datasketch"], help="run one contender")
    ap.add_argument("--bands", default="", help="also run juicedb with BxR bands x rows (e.g. 32x8: more recall "
                    "near the threshold than DJ's 25x10, more false candidates)")
    ap.add_argument("--worker")
    ap.add_argument("--workdir")
    args = ap.parse_args()
    if args.worker == "datasketch":
        print(json.dumps(worker_datasketch(args.corpus, args.rows)))
        return
    if args.worker == "juicedb":
        print(json.dumps(worker_juicedb(args.corpus, args.rows, args.workdir, args.threads, args.bands)))
        return
    args.corpus = str(Path(args.corpus).resolve())
    texts, kinds = load(args.corpus, args.rows)
    contenders = {"datasketch MinHashLSH": "datasketch", "juicedb document_minhash_deduplicator": "juicedb"}
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: run(worker, args, f"{tmp}/ws" if worker == "juicedb" else tmp)
                   for name, worker in contenders.items() if args.only in (None, worker)}
        if args.bands and args.only in (None, "juicedb"):
            results[f"juicedb, {args.bands} bands x rows"] = run("juicedb", args, f"{tmp}/ws2", args.bands)
    planted = {i for i, k in enumerate(kinds) if k in ("exact_dup", "near_dup")}
    near = {i for i, k in enumerate(kinds) if k == "near_dup"}
    jaccard = near_dup_jaccard(texts, kinds)
    similar = {i for i, j in jaccard.items() if j >= THRESHOLD}
    del texts
    base = next(iter(results.values()))["seconds"]
    print(f"\n{args.rows} docs, {len(near)} planted near-duplicates ({len(similar)} with true Jaccard >= {THRESHOLD}), "
          f"{len(planted) - len(near)} exact copies")
    print(f"{'contender':40s} {'s':>7s} {'docs/s/core':>12s} {'docs/cpu-s':>11s} {'RSS MB':>8s} {'recall near':>12s} "
          f"{'near J>=0.7':>12s} {'recall all':>11s} {'planted share':>14s} {'time ratio':>10s}")
    for name, r in results.items():
        removed = {i for i, k in enumerate(r["keep"]) if not k}
        print(f"{name:40s} {r['seconds']:7.1f} {args.rows / r['seconds'] / r['processes']:12.0f} "
              f"{args.rows / r['cpu_seconds']:11.0f} "
              f"{r['peak_rss_mb']:8.0f} {len(removed & near) / len(near):12.3f} "
              f"{len(removed & similar) / max(len(similar), 1):12.3f} "
              f"{len(removed & planted) / len(planted):11.3f} {len(removed & planted) / max(len(removed), 1):14.3f} "
              f"{r['seconds'] / base:9.2f}x")
    for name, r in results.items():
        removed = {i for i, k in enumerate(r["keep"]) if not k}
        print(f"{name}: recall of planted pairs with true Jaccard >= {THRESHOLD}: "
              f"{len(removed & similar) / max(len(similar), 1):.3f} ({len(removed & similar)}/{len(similar)})")
    buckets = [(0.0, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]
    for name, r in results.items():
        removed = {i for i, k in enumerate(r["keep"]) if not k}
        parts = []
        for lo, hi in buckets:
            group = {i for i, j in jaccard.items() if lo <= j < hi}
            parts.append(f"[{lo:.1f}, {min(hi, 1.0):.1f}{']' if hi > 1 else ')'}: {len(removed & group)}/{len(group)}")
        print(f"{name}: near-duplicates removed by true Jaccard: " + ", ".join(parts))
    if len(results) >= 2 and args.only is None:
        a, b = ({i for i, k in enumerate(r["keep"]) if not k} for r in list(results.values())[:2])
        print(f"agreement on removed rows: {len(a & b)} both, {len(a - b)} datasketch only, {len(b - a)} juicedb only")

if __name__ == "__main__":
    main()
