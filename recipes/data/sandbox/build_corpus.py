"""Build the sandbox demo's corpus and held-out evaluation sets from a make_corpus.py output.

The demo (recipes/sandbox_demo.yaml) needs real text whose quality varies: a model trained
on the better part should score better on held-out text. This script draws it from a corpus
that ``../shared/tools/make_corpus.py`` made out of what Debian packages ship (man pages in
many languages, kernel and Python docs, GNU info manuals, changelogs and copyright files,
licenses, fortunes) and mixes bad documents in, in known shares (the ``kind`` field):

- ``orig``: real documents, cut to at most ``--max-chars`` at a paragraph boundary;
- ``exact_dup``: verbatim repeats of documents in the corpus (1 to 4 extra copies);
- ``near_dup``, ``boilerplate``, ``junk``: made by make_corpus.py's own functions;
- ``broken``: mojibake (UTF-8 read as Latin-1), cut-off fragments, and word salad (a
  document's words shuffled: its word statistics stay, its language goes).

The evaluation sets are other ``orig`` documents: ``eval_docs_en.jsonl`` (English technical
prose: English man pages, kernel, Python and Debian reference docs, GNU info) and
``eval_mixed.jsonl`` (any source). A training document sharing any line of 30+ characters
with an evaluation document is left out, so near-duplicates do not leak.

    python3 ../shared/tools/make_corpus.py --n 120000 --seed 1 --out /tmp/corpus/corpus
    python3 recipes/data/sandbox/build_corpus.py --source /tmp/corpus/corpus.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
MAKE_CORPUS = HERE.parents[3] / "shared" / "tools" / "make_corpus.py"
EN_DOCS = re.compile(r"^(man:man\d|kernel|pydocs|pydoc|info|debref)$")


def _make_corpus_module(path: Path):
    spec = importlib.util.spec_from_file_location("make_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cut(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters, ending at a paragraph (else line) boundary where one exists."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    for sep in ("\n\n", "\n"):
        at = head.rfind(sep)
        if at > max_chars // 3:
            return head[:at]
    return head


def long_lines(text: str) -> set[str]:
    return {s for s in (line.strip() for line in text.splitlines()) if len(s) >= 30}


def broken(rng: random.Random, text: str) -> tuple[str, str]:
    mode = rng.randrange(3)
    if mode == 0:
        return "mojibake", text.encode("utf-8").decode("latin-1")
    if mode == 1:
        n = rng.randint(15, 90)
        return "fragment", text[:n]
    words = text.split()
    rng.shuffle(words)
    return "word_salad", " ".join(words)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, required=True, help="corpus.jsonl written by make_corpus.py")
    ap.add_argument("--out", type=Path, default=HERE)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--docs", type=int, default=3000, help="training corpus size")
    ap.add_argument("--eval-docs", type=int, default=120, help="documents per evaluation set")
    ap.add_argument("--max-chars", type=int, default=3000)
    ap.add_argument("--make-corpus", type=Path, default=MAKE_CORPUS)
    a = ap.parse_args()
    mc = _make_corpus_module(a.make_corpus)
    rng = random.Random(a.seed)

    by_kind: dict[str, list[dict]] = {}
    with a.source.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            by_kind.setdefault(row["kind"], []).append(row)
    origs = [r for r in by_kind["orig"] if len(r["text"].strip()) >= 40]
    rng.shuffle(origs)

    # held-out evaluation sets first
    en = [r for r in origs if EN_DOCS.match(r["source"]) and len(r["text"]) >= 400][: a.eval_docs]
    taken = {id(r) for r in en}
    mixed = [r for r in origs if id(r) not in taken and len(r["text"]) >= 200][: a.eval_docs]
    taken |= {id(r) for r in mixed}
    held_out = [{"source": r["source"], "text": cut(r["text"], 1500)} for r in en + mixed]
    leak = set().union(*(long_lines(r["text"]) for r in held_out))

    def clean(text: str) -> bool:
        return not (long_lines(text) & leak)

    # training corpus: shares of the bad kinds
    n = a.docs
    shares = {"exact_dup": 0.07, "near_dup": 0.05, "boilerplate": 0.07, "junk": 0.07, "broken": 0.07}
    n_orig = n - sum(int(n * s) for s in shares.values())
    pool = [r for r in origs if id(r) not in taken and clean(r["text"])]
    base = [{"source": r["source"], "kind": "orig", "text": cut(r["text"], a.max_chars)} for r in pool[:n_orig]]
    vocab = sorted({w for r in base[:2000] for w in r["text"].split() if w.isalpha() and len(w) < 12})
    rows = list(base)
    extra = []
    for kind, share in shares.items():
        k = int(n * share)
        if kind == "exact_dup":
            while k > 0:
                r = rng.choice(base)
                copies = min(k, rng.randint(1, 4))
                extra += [dict(r, kind="exact_dup") for _ in range(copies)]
                k -= copies
        elif kind == "near_dup":
            extra += [dict(r, kind="near_dup", text=mc.make_near_dup(rng, r["text"], vocab))
                      for r in rng.sample(base, k)]
        elif kind in ("boilerplate", "junk"):
            make = mc.make_boilerplate if kind == "boilerplate" else mc.make_junk
            extra += [{"source": "synthetic", "kind": kind, "text": cut(make(rng, r["text"]), a.max_chars)}
                      for r in rng.sample(base, k)]
        else:
            for r in rng.sample(base, k):
                how, text = broken(rng, r["text"])
                extra.append({"source": r["source"], "kind": f"broken:{how}", "text": text})
    for r in extra:  # each variant lands somewhere after a random position
        rows.insert(rng.randrange(len(rows) + 1), r)

    a.out.mkdir(parents=True, exist_ok=True)
    with gzip.open(a.out / "corpus.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"text": r["text"], "meta": {"id": i, "source": r["source"], "kind": r["kind"]}},
                               ensure_ascii=False) + "\n")
    for name, part in (("eval_docs_en", held_out[: len(en)]), ("eval_mixed", held_out[len(en):])):
        with (a.out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for r in part:
                f.write(json.dumps({"text": r["text"], "meta": {"source": r["source"]}}, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    print(json.dumps({"docs": len(rows), "kinds": kinds, "eval_docs_en": len(en), "eval_mixed": len(mixed),
                      "mb": round(sum(len(r["text"].encode()) for r in rows) / 1e6, 2)}, indent=1))


if __name__ == "__main__":
    main()
