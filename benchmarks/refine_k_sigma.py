"""Benchmark: `juicedb refine` on a recipe over a large corpus, with the stats already in the cache.

Data-Juicer's k-sigma tool (``tools/process_data_k_sigma``) runs its Analyzer, computing every
stat again, each time it refines a recipe; that first full computation is the peer here
("analyze, cold"). Then, on the same workspace: ``refine`` (k-sigma, then percentiles), timed
as a median of repeats in this process and once end to end through the CLI, and a run of
each refined recipe. Both must compute no stat: the stats cache must not grow, and every
predicate of the runs must report ``computed = 0``. The kept counts are checked against the
same thresholds applied in SQL to ``analysis_stats``.

    python benchmarks/refine_k_sigma.py --corpus /tmp/corpus/corpus.parquet
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import median_seconds

RECIPE = """-- Data-Juicer's default thresholds for the eight model-free text filters, then exact dedup.
CREATE OR REPLACE TABLE bench_kept AS
SELECT uid, text FROM dataset('{corpus}')
WHERE text_len(text) >= 10
  AND alnum_ratio(text) >= 0.25
  AND special_char_ratio(text) <= 0.25
  AND char_rep_ratio(text) <= 0.5
  AND word_rep_ratio(text) <= 0.5
  AND num_words(text) >= 10
  AND stopwords_ratio(text) >= 0.3
  AND flagged_words_ratio(text) <= 0.045
  AND document_deduplicator(text);
"""


def expected_rows(ws, thresholds) -> int:
    """Rows passing the refined thresholds, computed in SQL from ``analysis_stats`` (before dedup)."""
    ops = {"min": ">=", "max": "<="}
    where = " AND ".join(f'"{t["stat"]}" {t["param"] if t["param"] in (">", "<", ">=", "<=") else ops[t["side"]]} '
                         f'{t["new_sql"] or t["old"]}' for t in thresholds.to_pylist())
    return ws.sql(f"SELECT count(*) AS n FROM analysis_stats WHERE {where}").column("n")[0].as_py()


def run_refined(ws, path: Path) -> dict:
    from juicedb.analysis.compute import cache_rows
    before = cache_rows(ws)
    t0 = time.perf_counter()
    ws.run(path)
    seconds = time.perf_counter() - t0
    steps = ws.last_run.summary().to_pylist()
    stat_steps = [s for s in steps if "mapper" not in s["ops"]]
    return {"run_s": seconds, "cache_growth": cache_rows(ws) - before,
            "computed_per_step": [s["computed"] for s in stat_steps],
            "reached_dedup": next(s["rows_in"] for s in steps if s["ops"] == "document_deduplicator"),
            "kept": ws.last_run.tables.get("bench_kept")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", help="write the results here too")
    args = ap.parse_args()
    import juicedb
    from juicedb.analysis import analyze, refine

    corpus = str(Path(args.corpus).resolve())
    Path(corpus).read_bytes()  # warm the page cache
    results: dict = {"corpus": corpus, "threads": args.threads}
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "dj_defaults.sql"
        recipe.write_text(RECIPE.format(corpus=corpus))
        ws_path = Path(tmp) / "ws"
        with juicedb.open(ws_path, threads=args.threads, workers=args.threads) as ws:
            t0 = time.perf_counter()
            ws.load(corpus)
            results["load_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            a = analyze(ws, recipe)
            results["analyze_cold"] = {"s": time.perf_counter() - t0, "rows": a.stats.num_rows,
                                       "stats": a.describe.num_rows, "computed": a.computed}
            for name, kwargs in (("k_sigma_3", {"k_sigma": 3}), ("percentiles_5_95", {"percentiles": (0.05, 0.95)})):
                out = Path(tmp) / f"{name}.sql"
                last: list = []
                seconds = median_seconds(
                    lambda kw=kwargs, o=out, acc=last: acc.append(refine(ws, recipe, output=o, **kw)), args.repeat)
                r = last[-1]
                run = run_refined(ws, out)
                results[name] = {"refine_s": seconds, "computed": [x.computed for x in last],
                                 "expected_before_dedup": expected_rows(ws, r.thresholds), **run,
                                 "thresholds": r.thresholds.select(["predicate", "old", "new"]).to_pylist()}
        env = {**os.environ, "COLUMNS": "160"}
        t0 = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "juicedb.cli", "refine", str(recipe), "-w", str(ws_path),
                              "--k-sigma", "3", "-o", str(Path(tmp) / "cli.sql")], capture_output=True, text=True,
                             env=env, check=False)
        results["cli_refine_s"] = time.perf_counter() - t0
        if cli.returncode != 0:
            raise SystemExit(cli.stderr)
        results["cli_last_line"] = next(ln for ln in cli.stdout.splitlines() if ln.startswith("wrote"))

    cold = results["analyze_cold"]
    print(f"\ncorpus: {corpus}  rows: {cold['rows']}  stats: {cold['stats']}  threads: {args.threads}")
    print(f"{'step':44s} {'s':>8s} {'vs peer':>8s} {'stats computed':>15s}")
    print(f"{'analyze, cold (peer: what DJ redoes)':44s} {cold['s']:8.2f} {1:8.2f}x {cold['computed']:15,d}")
    for name in ("k_sigma_3", "percentiles_5_95"):
        r = results[name]
        print(f"{'refine ' + name + ' (median of ' + str(args.repeat) + ')':44s} {r['refine_s']:8.2f} "
              f"{r['refine_s'] / cold['s']:8.2f}x {max(r['computed']):15,d}")
        print(f"{'  run of the refined recipe':44s} {r['run_s']:8.2f} {r['run_s'] / cold['s']:8.2f}x "
              f"{r['cache_growth']:15,d}   per predicate {r['computed_per_step']}; {r['reached_dedup']:,} rows "
              f"reach dedup (SQL over analysis_stats: {r['expected_before_dedup']:,}), {r['kept']:,} kept")
    print(f"{'juicedb refine --k-sigma 3 (CLI, end to end)':44s} {results['cli_refine_s']:8.2f} "
          f"{results['cli_refine_s'] / cold['s']:8.2f}x   {results['cli_last_line']}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
