"""Trainers and evaluators: text_lm, clip_contrastive, command, and loading plug-ins by name."""

from __future__ import annotations

import json
import math
import sys

import pyarrow as pa
import pytest

from juicedb.errors import SandboxError
from juicedb.sandbox.clip import ClipEvaluator, ClipTrainer, make_shapes
from juicedb.sandbox.command import CommandEvaluator, CommandTrainer
from juicedb.sandbox.plugins import Artifact, Evaluator, PoolData, Trainer, make_evaluator, make_trainer
from juicedb.sandbox.text_lm import TextLMEvaluator, TextLMTrainer
from tests.conftest import write_jsonl

TEXTS = ["The quick brown fox jumps over the lazy dog. " * 3, "A man page describes a command and its options.",
         "Debian ships documentation in /usr/share/doc for every package."] * 10


@pytest.fixture
def eval_set(tmp_path):
    return write_jsonl(tmp_path / "eval.jsonl", ["The lazy dog sleeps.", "Every package has a man page."])


def tiny_lm(**kw):
    return TextLMTrainer(**{"tokens": 2048, "context": 16, "batch": 8, "d_model": 16, "layers": 1, "heads": 2,
                            "threads": 1, **kw})


def test_text_lm_trains_for_its_token_budget_and_is_deterministic(tmp_path, eval_set):
    pool = PoolData("p", pa.table({"text": TEXTS}))
    trainer = tiny_lm()
    ev = TextLMEvaluator(eval_sets={"e": str(eval_set)}, metrics=["bits_per_byte", "perplexity"], threads=1)
    a = trainer.train(pool, seed=3, scale=1.0, workdir=tmp_path / "a")
    b = trainer.train(pool, seed=3, scale=1.0, workdir=tmp_path / "b")
    c = trainer.train(pool, seed=3, scale=2.0, workdir=tmp_path / "c")
    assert a.info["steps"] == math.ceil(2048 / (8 * 16)) and c.info["steps"] == 2 * a.info["steps"]
    ma, mb = ev.evaluate(a, workdir=tmp_path), ev.evaluate(b, workdir=tmp_path)
    assert [(m.name, m.higher_is_better) for m in ma] == [("e.bits_per_byte", False), ("e.perplexity", False)]
    assert ma == mb  # same seed, same pool: the same model
    bpb, ppl = ma[0].value, ma[1].value
    assert 0 < bpb < 8.5 and ppl == pytest.approx(2 ** bpb)


def test_text_lm_learns(tmp_path, eval_set):
    """More training on the pool's text lowers held-out bits per byte (a random byte model is ~8 bits)."""
    pool = PoolData("p", pa.table({"text": TEXTS}))
    ev = TextLMEvaluator(eval_sets={"e": str(eval_set)}, threads=1)
    short = ev.evaluate(tiny_lm(tokens=256).train(pool, seed=0, scale=1, workdir=tmp_path / "s"), workdir=tmp_path)
    long = ev.evaluate(tiny_lm(tokens=24_000, lr=1e-2).train(pool, seed=0, scale=1, workdir=tmp_path / "l"),
                       workdir=tmp_path)
    assert long[0].value < short[0].value - 1.0


def test_text_lm_rejects_bad_settings(tmp_path):
    with pytest.raises(SandboxError, match=r"d_model \(18\) must be a multiple of heads \(4\)"):
        TextLMTrainer(d_model=18, heads=4)
    with pytest.raises(SandboxError, match="evaluation set not found"):
        TextLMEvaluator(eval_sets={"e": str(tmp_path / "missing.jsonl")})
    with pytest.raises(SandboxError, match="no text to train on"):
        tiny_lm().train(PoolData("empty", pa.table({"text": ["", ""]})), seed=0, scale=1, workdir=tmp_path)


def test_clip_contrastive_trains_and_reports_zero_shot_and_retrieval(tmp_path):
    train = make_shapes(tmp_path, 40, seed=1, wrong_captions=0.25, degraded=0.25, name="train", size=16)
    zs = make_shapes(tmp_path, 12, seed=2, name="zs", size=16)
    rows = [json.loads(line) for line in train.read_text().splitlines()]
    assert sum(r["meta"]["wrong_caption"] for r in rows) == 10 and sum(r["meta"]["degraded"] for r in rows) > 0
    pool = PoolData("p", pa.table({"text": [r["text"] for r in rows], "images": [r["images"] for r in rows]}),
                    base_dir=tmp_path)
    trainer = ClipTrainer(samples=64, batch=16, image_size=16, embed_dim=16, width=4, buckets=256, threads=1)
    art = trainer.train(pool, seed=0, scale=1.0, workdir=tmp_path / "m")
    assert art.info["samples_seen"] == 64 and art.info["pairs"] == 40
    metrics = ClipEvaluator(zero_shot={"shapes": str(zs)}, retrieval={"pairs": str(zs)}, k=[1, 5]).evaluate(
        art, workdir=tmp_path)
    names = [m.name for m in metrics]
    assert names == ["shapes.zero_shot_acc", "pairs.i2t_r@1", "pairs.t2i_r@1", "pairs.i2t_r@5", "pairs.t2i_r@5"]
    assert all(0 <= m.value <= 1 and m.higher_is_better for m in metrics)
    by = {m.name: m.value for m in metrics}
    assert by["pairs.i2t_r@1"] <= by["pairs.i2t_r@5"]


SCRIPT = """
import json, sys
pool, out, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [json.loads(line) for line in open(pool)]
json.dump({"rows": len(rows), "chars": sum(len(r["text"]) for r in rows), "seed": seed,
           "score": {"value": 0.5, "higher_is_better": True}}, open(out + "/metrics.json", "w"))
"""


def test_command_runs_on_the_exported_pool_and_reads_its_metrics(tmp_path):
    (tmp_path / "train.py").write_text(SCRIPT)
    trainer = make_trainer({"type": "command", "run": f"{sys.executable} train.py {{pool}} {{out}} {{seed}}"},
                           base_dir=tmp_path)
    ev = make_evaluator({"type": "command", "directions": {"rows": "max", "chars": "max", "seed": "min"}})
    pool = PoolData("p", pa.table({"text": ["ab", "cde"], "meta": ['{"k": 1}', None]}))
    art = trainer.train(pool, seed=7, scale=1.0, workdir=tmp_path / "job")
    metrics = {m.name: (m.value, m.higher_is_better) for m in ev.evaluate(art, workdir=tmp_path)}
    assert metrics == {"chars": (5.0, True), "rows": (2.0, True), "score": (0.5, True), "seed": (7.0, False)}
    exported = [json.loads(line) for line in (tmp_path / "job" / "pool.jsonl").read_text().splitlines()]
    assert exported[0] == {"text": "ab", "meta": {"k": 1}}


def test_command_errors_say_what_to_fix(tmp_path):
    pool = PoolData("p", pa.table({"text": ["x"]}))
    failing = CommandTrainer(run=f"{sys.executable} -c \"import sys; print('boom'); sys.exit(3)\"", base_dir=tmp_path)
    with pytest.raises(SandboxError, match=r"exited with 3(.|\n)*boom"):
        failing.train(pool, seed=0, scale=1, workdir=tmp_path / "a")
    with pytest.raises(SandboxError, match="unknown placeholder 'data'"):
        CommandTrainer(run="echo {data}").train(pool, seed=0, scale=1, workdir=tmp_path / "b")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "metrics.json").write_text('{"acc": 0.9}')
    with pytest.raises(SandboxError, match="no direction for metric 'acc'"):
        CommandEvaluator().evaluate(Artifact(tmp_path / "c"), workdir=tmp_path)


def test_plugins_load_by_name_or_import_path():
    assert isinstance(make_trainer({"type": "text_lm", "tokens": 10}), Trainer)
    assert isinstance(make_trainer({"type": "juicedb.sandbox.command:CommandTrainer", "run": "true"}), Trainer)
    assert isinstance(make_evaluator({"type": "command"}), Evaluator)
    with pytest.raises(SandboxError, match="unknown trainer type 'gpt'"):
        make_trainer({"type": "gpt"})
    with pytest.raises(SandboxError, match=r"text_lm.*unexpected keyword argument 'epochs'"):
        make_trainer({"type": "text_lm", "epochs": 3})
    with pytest.raises(SandboxError, match="is not a trainer"):
        make_trainer({"type": "juicedb.sandbox.command:CommandEvaluator"})
