"""Benchmark: perplexity_filter's SmolLM2-135M on ONNX Runtime vs the same model in transformers (PyTorch eager).

Both score the same token sequences (``[boundary] text [boundary]``, the first
``--max-tokens`` tokens) of real documents: juicedb through its converted ONNX
model in length-sorted batches under a token budget; the peer loads the GGUF
with transformers and runs batches of ``--peer-batch`` padded sequences, as a
user's own script would. Each contender runs in its own process (its peak RSS
is its own) with the same number of threads; the perplexities must agree.

    python benchmarks/perplexity.py --docs 200 --max-tokens 256
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "recipes" / "data" / "demo-text.jsonl"


def texts(n: int) -> list[str]:
    out = []
    for line in DEMO.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            t = json.loads(line).get("text")
        except json.JSONDecodeError:
            continue
        if isinstance(t, str) and len(t) >= 200:
            out.append(t)
    return (out * (n // max(len(out), 1) + 1))[:n]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_juicedb(n: int, max_tokens: int, threads: int) -> dict:
    import numpy as np

    from juicedb.udfs.common import causal_lm
    docs = texts(n)
    t0 = time.perf_counter()
    folder = causal_lm.ensure_converted(causal_lm.resolve_source("smollm2-135m", "bench"), "bench")
    lm = causal_lm.CausalLM(folder, "bench")
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    sums, counts = lm.nll_sums(docs, max_tokens)
    secs = time.perf_counter() - t0
    return {"load_s": load, "secs": secs, "tokens": int(counts.sum()), "ppl": np.exp(sums / counts).tolist(),
            "providers": lm.providers, "rss_mb": peak_mb()}


def worker_transformers(n: int, max_tokens: int, threads: int, batch: int) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from juicedb.udfs.common import causal_lm
    torch.set_num_threads(threads)
    docs = texts(n)
    source = causal_lm.resolve_source("smollm2-135m", "bench")
    # the converted model's tokenizer only: the same token sequences as juicedb's
    seqs = causal_lm.TokenSequences(causal_lm.ensure_converted(source, "bench"), "bench").sequences(docs, max_tokens)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf, dtype=torch.float32).eval()
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    ppl = []
    with torch.no_grad():
        for s in range(0, len(seqs), batch):
            part = seqs[s:s + batch]
            width = max(len(q) for q in part)
            ids = torch.zeros((len(part), width), dtype=torch.long)
            mask = torch.zeros_like(ids)
            for r, q in enumerate(part):
                ids[r, :len(q)] = torch.from_numpy(q)
                mask[r, :len(q)] = 1
            logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits[:, :-1].float(), -1)
            nll = -logp.gather(-1, ids[:, 1:, None])[..., 0] * mask[:, 1:]
            ppl += np.exp((nll.sum(1) / mask[:, 1:].sum(1)).numpy()).tolist()
    secs = time.perf_counter() - t0
    return {"load_s": load, "secs": secs, "tokens": int(sum(len(q) - 1 for q in seqs)), "ppl": ppl,
            "rss_mb": peak_mb()}


def run_worker(name: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", name, "--docs", str(args.docs), "--max-tokens",
           str(args.max_tokens), "--threads", str(args.threads), "--peer-batch", str(args.peer_batch)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--peer-batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--worker")
    args = ap.parse_args()
    if args.worker == "juicedb":
        print(json.dumps(worker_juicedb(args.docs, args.max_tokens, args.threads)))
        return
    if args.worker == "transformers":
        print(json.dumps(worker_transformers(args.docs, args.max_tokens, args.threads, args.peer_batch)))
        return
    run_worker("juicedb", args)  # converts the model into the cache once, outside the timings
    results: dict[str, list[dict]] = {"transformers": [], "juicedb": []}
    for _ in range(args.repeat):
        for name, runs in results.items():
            runs.append(run_worker(name, args))

    def median(name: str, key: str) -> float:
        vals = sorted(r[key] for r in results[name])
        return vals[len(vals) // 2]

    peer, ours = results["transformers"][0], results["juicedb"][0]
    diff = max(abs(a - b) / b for a, b in zip(ours["ppl"], peer["ppl"]))
    print(f"{args.docs} documents, {ours['tokens']} tokens scored, max_tokens {args.max_tokens}, "
          f"{args.threads} threads, juicedb providers {ours['providers']}, {args.repeat} repetitions (medians)")
    print(f"{'contender':40} {'load s':>7} {'score s':>8} {'tokens/s':>9} {'peak RSS MB':>12} {'time vs peer':>13}")
    for name, label in (("transformers", f"transformers eager (batch {args.peer_batch})"),
                        ("juicedb", "juicedb ONNX Runtime (token budget)")):
        secs = median(name, "secs")
        print(f"{label:40} {median(name, 'load_s'):7.2f} {secs:8.2f} {ours['tokens'] / secs:9.0f} "
              f"{median(name, 'rss_mb'):12.0f} {secs / median('transformers', 'secs'):12.2f}x")
    print(f"max relative difference of the {len(ours['ppl'])} perplexities: {diff:.2e}")


if __name__ == "__main__":
    main()
