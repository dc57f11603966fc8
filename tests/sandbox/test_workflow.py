"""The Probe-Analyze-Refine workflow end to end on a tiny config; resumable after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import juicedb
from juicedb.errors import SandboxError
from juicedb.sandbox import config as sandbox_config
from juicedb.sandbox.workflow import relative_change, run_sandbox
from tests.sandbox.conftest import tiny_config, write_config


def test_relative_change_is_signed_so_better_is_positive():
    base = {"bpb": (2.0, False), "acc": (0.5, True)}
    assert relative_change({"bpb": (1.8, False), "acc": (0.5, True)}, base, ["bpb", "acc"]) == pytest.approx(5.0)
    assert relative_change({"bpb": (2.0, False), "acc": (0.4, True)}, base, ["acc"]) == pytest.approx(-20.0)


def test_every_stage_runs_and_lands_in_tables(tmp_path, tiny_data):
    cfg = write_config(tiny_data, tiny_config(tiny_data))
    lines: list[str] = []
    with juicedb.open(tmp_path / "ws", threads=1) as ws:
        res = run_sandbox(ws, cfg, log=lines.append)
        # (a) 3 stats x 3 terciles, equal size, scored against a random pool per seed
        assert res.rows == 300 and res.pool_size == 100 and len(res.ranking) == 9
        assert all(c.pool.rows == 100 and len(c.scores) == 2 for c in res.ranking)
        assert [c.mean for c in res.ranking] == sorted((c.mean for c in res.ranking), reverse=True)
        ranking = ws.sql("SELECT rank, label, rows, score_mean, scores FROM sandbox_ranking ORDER BY rank").to_pylist()
        assert [r["label"] for r in ranking] == [c.label for c in res.ranking]
        assert len(res.agreement) == 1 and -1 <= res.agreement[0]["spearman"] <= 1
        # (b) clusters and correlations
        assert {r["stat"] for r in res.clusters} == {"text_len", "alnum_ratio", "stopwords_ratio__lang_en"}
        assert sum(r["cluster_best"] for r in res.clusters) == len({r["cluster"] for r in res.clusters})
        kinds = {r["kind"] for r in ws.sql("SELECT DISTINCT kind FROM sandbox_correlations").to_pylist()}
        assert kinds == {"stat", "metric", "pool_mean_stat~metric"}
        # (c) the pyramid of the top 2: two singles and their intersection
        pyramid = [c for c in res.combinations if c.pool.name.startswith("tiny:top_") or c.level == 1]
        assert sorted(c.level for c in pyramid)[:3] == [1, 1, 2]
        top2 = next(c for c in res.combinations if c.pool.name == "tiny:top_0_1")
        assert top2.pool.kind == "intersect" and top2.pool.rows <= 100
        # (d) duplicate x2 vs fill x2, budget x2
        top, dup, fill = res.duplication
        assert (top["times"], dup["times"], fill["times"]) == (1, 2, 2) and dup["scale"] == fill["scale"] == 2.0
        assert (dup["kind"], dup["rows"], dup["distinct_rows"]) == ("duplicate", 2 * top["rows"], top["rows"])
        assert fill["kind"] == "fill" and top["rows"] < fill["rows"] == fill["distinct_rows"] <= 2 * top["rows"]
        assert fill["rows"] == 2 * top["rows"] or any(n.startswith("fill x2") for n in res.notes)
        # (e) the refined recipe runs from the cache and keeps at least its pool (ties at the edges)
        assert res.refined["stats_computed"] == 0 and res.refined["rows"] >= res.refined["bucket_rows"]
        assert res.recipe_path.is_file() and "CREATE OR REPLACE TABLE sandbox_tiny_refined" in res.recipe
        assert res.refined["seeds"] == [0, 1, 2] and isinstance(res.refined["beats_random"], bool)
        assert ws.sql("SELECT count(*) AS n FROM sandbox_refined").to_pylist() == [{"n": 1}]
        # lineage: every pool has a definition hash and its parents exist
        pools = ws.sql("SELECT name, parents, def_hash FROM pools").to_pylist()
        names = {p["name"] for p in pools}
        assert all(set(p["parents"] or []) <= names and len(p["def_hash"]) == 40 for p in pools)
        trained = res.trained
        assert trained == ws.sql("SELECT count(*) AS n FROM sandbox_jobs WHERE status = 'done'").to_pylist()[0]["n"]
    report = res.report.read_text()
    for section in ("(a) Single-OP pools", "Spearman", "(b) Correlations", "(c) Combinations", "(d) Duplication",
                    "(e) Refined recipe", "beyond seed noise"):
        assert section in report
    assert (res.report.parent / "ranking.png").stat().st_size > 1000
    # the whole config again: nothing is trained
    with juicedb.open(tmp_path / "ws", threads=1) as ws:
        again = run_sandbox(ws, sandbox_config.parse(tiny_config(tiny_data, plots=False), base_dir=tiny_data))
    assert again.trained == 0 and again.reused == trained + res.reused
    assert [c.scores for c in again.ranking] == [c.scores for c in res.ranking]


def test_killed_run_resumes_without_retraining_finished_jobs(tmp_path, tiny_data):
    """SIGKILL `juicedb sandbox run` after a few jobs; the re-run trains only the jobs that had not finished."""
    cfg = write_config(tiny_data, tiny_config(tiny_data, probe={"ops": ["text_len(text)", "alnum_ratio(text)"]},
                                              analyze=None, duplicate=None, refine=None, plots=False))
    ws_path = tmp_path / "ws"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    seen, out = 0, []
    deadline = time.monotonic() + 120
    with subprocess.Popen([sys.executable, "-m", "juicedb.cli", "sandbox", "run", str(cfg), "-w", str(ws_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
        for line in proc.stdout:
            out.append(line)
            seen += "trained in" in line
            if seen >= 5 or time.monotonic() > deadline:
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "".join(out)
    assert seen == 5, "".join(out)
    with juicedb.open(ws_path, threads=1) as ws:
        before = {r["job"]: r for r in ws.sql(
            "SELECT job, started, finished FROM sandbox_jobs WHERE status = 'done'").to_pylist()}
        assert len(before) >= 5
        res = run_sandbox(ws, sandbox_config.load(cfg))
        after = {r["job"]: r for r in ws.sql(
            "SELECT job, started, finished, status FROM sandbox_jobs").to_pylist()}
    assert res.reused >= len(before)
    for job, row in before.items():  # finished jobs untouched: not re-run
        assert after[job]["started"] == row["started"] and after[job]["finished"] == row["finished"]
    assert all(r["status"] == "done" for r in after.values())
    assert res.trained == len(after) - len(before)


@pytest.mark.parametrize(("patch", "message"), [
    ({"color": 1}, "unknown key 'color' in the sandbox config"),
    ({"probe": {"ops": []}}, "probe.ops must list at least one stat call"),
    ({"probe": {"ops": ["text_len(text)", "text_len(text)"]}}, "two ops are named 'text_len'"),
    ({"split_ratios": [0.5, 0.2]}, "split ratios must be increasing"),
    ({"combine": {"top_k": 5}}, "combine.top_k is 5 but probe.ops has only 3 ops"),
    ({"duplicate": {"times": [1]}}, "duplicate.times: every value must be >= 2"),
    ({"seeds": "0"}, "seeds must be a list of integers"),
    ({"refine": {"seed": [1]}}, "unknown key refine.seed"),
], ids=["unknown-key", "no-ops", "duplicate-op", "ratios", "top-k", "times", "seeds", "refine-key"])
def test_config_errors_name_the_key(tiny_data, patch, message):
    with pytest.raises(SandboxError, match=message):
        sandbox_config.parse(tiny_config(tiny_data, **patch), base_dir=tiny_data)


def test_unknown_operator_fails_before_training(tmp_path, tiny_data):
    cfg = sandbox_config.parse(tiny_config(tiny_data, probe={"ops": ["text_len(text)", "no_such_stat(text)"]}), base_dir=tiny_data)
    with juicedb.open(tmp_path / "ws", threads=1) as ws, pytest.raises(juicedb.JuicedbError, match="no_such_stat"):
        run_sandbox(ws, cfg)
    with juicedb.open(tmp_path / "ws", threads=1) as ws:
        assert ws.sql("SELECT count(*) AS n FROM sandbox_jobs").to_pylist() == [{"n": 0}]


def test_cli_lists_pools_and_jobs(tmp_path, tiny_data, monkeypatch):
    from typer.testing import CliRunner

    from juicedb.cli import common
    from juicedb.cli.main import app
    # the console was made at import, maybe in another test's environment: COLUMNS below no longer reaches it
    monkeypatch.setattr(common.console, "width", 200)
    cfg = write_config(tiny_data, tiny_config(tiny_data, seeds=[0], analyze=None, combine=None, duplicate=None,
                                              refine=None, plots=False))
    runner = CliRunner()
    ws = str(tmp_path / "ws")
    res = runner.invoke(app, ["sandbox", "run", str(cfg), "-w", ws, "-q"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "10 jobs trained, 0 reused" in res.output and "report:" in res.output
    listed = runner.invoke(app, ["sandbox", "pools", "-w", ws], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "text_len:high" in listed.output and "random:n100:s0" in listed.output
    jobs = runner.invoke(app, ["sandbox", "jobs", "-w", ws], env={"COLUMNS": "200"})
    assert jobs.exit_code == 0 and jobs.output.count("done") == 10
    summary = json.loads(json.dumps(res.output.splitlines()))
    assert any("best single-OP pool" in line for line in summary)


PREPARE = """
import sys
from pathlib import Path
from juicedb.sandbox.clip import make_shapes
out = Path(sys.argv[1])
make_shapes(out, 60, seed=1, wrong_captions=0.3, degraded=0.3, name="train", size=16)
make_shapes(out, 20, seed=2, name="heldout", size=16)
"""


def test_clip_sandbox_prepares_its_data_and_probes_image_stats(tmp_path):
    """An image-text sandbox: a prepare step builds the data, image_sizes(images) cuts the pools."""
    (tmp_path / "make.py").write_text(PREPARE)
    cfg = sandbox_config.parse({
        "name": "clip", "dataset": "data/train.jsonl", "output": "out", "seeds": [0],
        "prepare": [{"run": "{python} make.py data", "creates": "data/heldout.jsonl"}],
        "probe": {"ops": ["image_sizes(images)"]},
        "trainer": {"type": "clip_contrastive", "samples": 64, "batch": 16, "image_size": 16, "embed_dim": 16,
                    "width": 4, "buckets": 256, "threads": 1},
        "evaluators": [{"type": "clip_contrastive", "zero_shot": {"zs": "data/heldout.jsonl"},
                        "retrieval": {"rt": "data/heldout.jsonl"}, "k": [5]}],
        "rank_metrics": ["zs.zero_shot_acc", "rt.i2t_r@5"], "combine": {"top_k": 1}, "refine": {"seeds": [0]},
        "plots": False,
    }, base_dir=tmp_path)
    lines: list[str] = []
    with juicedb.open(tmp_path / "ws", threads=1) as ws:
        res = run_sandbox(ws, cfg, log=lines.append)
    assert any(line.startswith("[prepare]") for line in lines)
    assert res.rows == 60 and [c.label for c in res.ranking if c.label.endswith(":high")] == ["image_sizes:high"]
    assert res.rank_metrics == ["zs.zero_shot_acc", "rt.i2t_r@5"] and len(res.ranking) == 3
    # a list stat (one size per image) is bucketed, and refined, by its mean
    assert "coalesce(list_avg(image_sizes(images)), 0)" in res.recipe and res.refined["stats_computed"] == 0


def test_buckets_cut_inside_ties_are_flagged_and_not_refined(tmp_path, tiny_data):
    """word_rep_ratio is 0 for 84% of the tiny corpus: every tercile holds a slice of that one tie.

    Their edges as a predicate (= 0) keep far more than the bucket, so the refined recipe is built from the
    best pool whose edges do select it.
    """
    cfg = sandbox_config.parse(tiny_config(tiny_data, seeds=[0], probe={"ops": ["word_rep_ratio(text)",
                                                                              "text_len(text)"]},
                                           analyze=None, duplicate=None, refine={"seeds": [0]}, plots=False),
                               base_dir=tiny_data)
    with juicedb.open(tmp_path / "ws", threads=1) as ws:
        res = run_sandbox(ws, cfg)
    by = {c.label: c for c in res.ranking}
    kept = {label: (by[label].exact_rows, by[label].bounds_rows, by[label].range_faithful)
            for label in ("word_rep_ratio:low", "word_rep_ratio:mid", "word_rep_ratio:high")}
    # low: <= 0, mid: BETWEEN 0 AND 0, high: >= 0 (its first 52 ranks are zeros too)
    assert kept == {"word_rep_ratio:low": (100, 252, False), "word_rep_ratio:mid": (100, 252, False),
                    "word_rep_ratio:high": (100, 300, False)}
    assert all(by[f"text_len:{b}"].range_faithful for b in ("low", "mid", "high"))
    chosen = next(c for c in res.ranking + res.combinations if c.label == res.refined["predicates"])
    assert chosen.range_faithful and res.refined["rows"] == chosen.bounds_rows
    assert all(c.bounds_rows >= c.exact_rows for c in res.ranking + res.combinations)
    if not max(res.ranking + res.combinations, key=lambda c: c.mean).range_faithful:
        assert any(n.startswith("refine: the best-scoring pool") for n in res.notes)
    assert "† A cut fell inside a run of tied values" in res.report.read_text()


@pytest.mark.parametrize("name", ["sandbox_demo", "sandbox_clip"])
def test_shipped_configs_are_valid(tmp_path, name):
    """The demos are not run in tests (minutes of training); their configs and stat calls are checked."""
    from juicedb.sandbox.plugins import make_evaluator, make_trainer
    from tests.conftest import ROOT
    cfg = sandbox_config.load(ROOT / "recipes" / f"{name}.yaml")
    assert cfg.stages == ["probe", "analyze", "combine", "duplicate", "refine"] and len(cfg.seeds) >= 2
    make_trainer(cfg.trainer, cfg.base_dir)
    if name == "sandbox_demo":  # the clip demo's evaluation sets are built by its prepare step
        assert cfg.dataset.is_file()
        for e in cfg.evaluators:
            make_evaluator(e, cfg.base_dir)
    cols = ", ".join(f"{op.call} AS {op.name}" for op in cfg.ops)
    with juicedb.open(tmp_path / "ws") as ws:
        assert ws.compile(f"SELECT {cols} FROM read_json_auto('x.jsonl')")
