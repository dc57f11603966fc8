"""The Ray engine: operator batches as Ray Data jobs give the local engine's output, dedup across shards included."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pyarrow as pa
import pytest

import juicedb
from juicedb.engine.ray_backend import RayBackend
from juicedb.errors import MissingDependencyError
from tests.conftest import write_jsonl

# Ray's own deprecations (of its settings, raised inside Ray) are not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray")

WORDS = ("data", "juicer", "duckdb", "arrow", "parquet", "ray", "shard", "batch", "filter", "stat", "cache",
         "model", "token", "words", "text", "sample", "quality", "language", "document", "minhash", "cluster",
         "keep", "drop")


def _texts() -> list[str]:
    """Documents with exact repeats and near-duplicates spread far apart, so they land in different shards."""
    rng = random.Random(8)
    docs = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 80))) for _ in range(200)]
    texts = list(docs)
    texts += [docs[i] for i in range(0, 200, 7)]  # exact repeats
    texts += [docs[i].upper() + "!" for i in range(3, 200, 11)]  # equal after lowercasing and stripping
    for i in range(5, 200, 9):  # near-duplicates: one word replaced
        words = docs[i].split()
        words[len(words) // 2] = "different"
        texts.append(" ".join(words))
    texts += ["tiny", "x y", "####"] * 5
    rng.shuffle(texts)
    return texts


RECIPE = """
SELECT uid, text FROM dataset('{data}')
WHERE text_length_filter(text, min_len := 20)
  AND alnum_ratio(text) >= 0.5
  AND words_num_filter(text, min_num := 10)
  AND special_characters_filter(text, max_ratio := 0.4)
  AND character_repetition_filter(text, rep_len := 10, max_ratio := 0.9)
  AND document_deduplicator(text, lowercase := true, ignore_non_character := true)
  AND document_minhash_deduplicator(text, jaccard_threshold := 0.7)
ORDER BY uid
"""


@pytest.fixture(scope="module")
def ray_instance():
    ray = pytest.importorskip("ray", reason="the Ray engine needs juicedb[ray]")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


def _run(path, data, object_store: bool = False, **kwargs) -> tuple[pa.Table, pa.Table, pa.Table, list[tuple]]:
    with juicedb.open(path, batch_rows=16, **kwargs) as ws:
        if object_store:  # as on a cluster without a shared folder: batches through Ray's object store
            ws.engine._ray.shared_dir = None
        out = ws.run(RECIPE.format(data=data))
        stats = ws.sql("SELECT * EXCLUDE (dataset) FROM stats ORDER BY uid")
        trace = ws.sql("SELECT uid, step, detail FROM trace ORDER BY uid")
        steps = [(s.rows_in, s.computed, s.kept) for s in ws.last_run.steps]
    return out, stats, trace, steps


@pytest.mark.ray
@pytest.mark.parametrize("object_store", [False, True], ids=["parquet-shards", "object-store"])
def test_ray_engine_matches_local_engine_across_shards(tmp_path, ray_instance, monkeypatch, object_store):
    """Parquet shards (a stage's inputs written by DuckDB, read by Ray Data, stats written back as shards) and
    the object-store path give the local engine's rows, stats, trace and step counts."""
    monkeypatch.setattr(RayBackend, "batches_per_job", 4)  # 64 rows per Ray job: several jobs and blocks per stage
    jobs = []
    real = RayBackend.run_shards
    monkeypatch.setattr(RayBackend, "run_shards", lambda self, *a: jobs.append(len(list(a[1].glob("*.parquet"))))
                        or real(self, *a))
    data = write_jsonl(tmp_path / "d.jsonl", _texts())
    local = _run(tmp_path / "local", data)
    remote = _run(tmp_path / "ray", data, object_store, engine="ray", workers=2)
    # one Ray Data job per stage that had rows to compute (4: the cheap passes join the trivial one), each
    # stage's inputs in several shards
    if object_store:
        assert jobs == []
    else:
        assert len(jobs) == 4 and min(jobs) >= 2
    assert not list((tmp_path / "ray" / "tmp" / "ray").glob("*"))  # shards removed after each job
    out, stats, trace, steps = remote
    assert out.equals(local[0])
    assert stats.equals(local[1])
    assert trace.equals(local[2])  # the same rows dropped by the same predicate, duplicates of the same uid
    assert steps == local[3]
    # and the dedups did drop duplicates, most of them computed in another shard than their kept twin
    # (batches of 16 rows of a shuffled dataset); the 15 junk rows go first
    dropped = trace.group_by("step").aggregate([("uid", "count")]).sort_by("step").to_pylist()
    assert [(d["step"], d["uid_count"]) for d in dropped] == [(1, 15), (6, 47), (7, 21)]
    assert out.num_rows == 201  # one planted near-duplicate stays below the Jaccard threshold, on both engines


@pytest.mark.ray
def test_ray_engine_cache_is_shared_with_the_local_engine(tmp_path, ray_instance):
    """Stats the Ray engine computed are the workspace's cache: a local re-run computes nothing."""
    data = write_jsonl(tmp_path / "d.jsonl", _texts()[:80])
    with juicedb.open(tmp_path / "ws", engine="ray", workers=2) as ws:
        ws.run(RECIPE.format(data=data))
        assert ws.last_run.computed > 0
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(RECIPE.format(data=data))
        assert ws.last_run.computed == 0


def test_ray_engine_without_ray_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'juicedb\[ray\]'"):
        juicedb.open(tmp_path / "ws", engine="ray")
    assert not (tmp_path / "ws" / "juicedb.duckdb").exists()


@pytest.mark.ray
def test_cli_run_engine_ray_on_a_running_cluster(tmp_path, ray_instance):
    """``juicedb run --engine ray --address`` joins a running Ray cluster (here: this test module's instance)."""
    data = write_jsonl(tmp_path / "d.jsonl", _texts()[:60])
    recipe = tmp_path / "r.sql"
    recipe.write_text(f"CREATE TABLE kept AS {RECIPE.format(data=data)};\n")
    address = ray_instance.get_runtime_context().gcs_address
    run = subprocess.run([sys.executable, "-m", "juicedb.cli", "run", str(recipe), "-w", str(tmp_path / "ws"), "-q",
                          "--engine", "ray", "--address", address], capture_output=True, text=True, check=False,
                         env={**os.environ, "COLUMNS": "200"}, timeout=300)
    assert run.returncode == 0, run.stderr
    with juicedb.open(tmp_path / "local") as ws:
        expected = ws.run(RECIPE.format(data=data)).num_rows
    assert f"table kept: {expected} rows" in run.stdout


def test_cli_engine_ray_without_ray_names_the_extra(tmp_path):
    recipe = tmp_path / "r.sql"
    recipe.write_text("SELECT 1;\n")
    # a sitecustomize that hides Ray, as in an install without the extra
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text("import sys\nsys.modules['ray'] = None\n")
    run = subprocess.run([sys.executable, "-m", "juicedb.cli", "run", str(recipe), "-w", str(tmp_path / "ws"), "-q",
                          "--engine", "ray"], capture_output=True, text=True, check=False, timeout=300,
                         env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(tmp_path / "site")})
    assert run.returncode != 0
    assert "pip install 'juicedb[ray]'" in run.stdout + run.stderr


@pytest.mark.ray
def test_ray_engine_model_operator_runs_in_one_actor_pool_per_stage(tmp_path, ray_instance, monkeypatch):
    """A model operator (fastText language id) on Parquet shards: one Ray Data job for its stage, so its actors
    load the model once for all of the stage's batches; the languages equal the local engine's."""
    monkeypatch.setattr(RayBackend, "batches_per_job", 2)
    texts = [*_texts()[:60], "Le chat est sur la table et il dort.", "Der Hund schläft im Garten.", "这是一个中文句子。"]
    data = write_jsonl(tmp_path / "d.jsonl", texts)
    recipe = (f"SELECT uid, lang, lang_score FROM (SELECT uid, language_id_score_filter(text, min_score := 0.0) AS ok, "
              f"lang(text) AS lang, lang_score(text) AS lang_score FROM dataset('{data}')) ORDER BY uid")
    jobs = []
    real = RayBackend.run_shards
    monkeypatch.setattr(RayBackend, "run_shards", lambda self, *a: jobs.append(a[0]) or real(self, *a))
    with juicedb.open(tmp_path / "local", batch_rows=8) as ws:
        local = ws.run(recipe)
    with juicedb.open(tmp_path / "ray", engine="ray", workers=2, batch_rows=8) as ws:
        remote = ws.run(recipe)
    assert remote.equals(local) and {"fr", "de", "zh"} <= set(local.column("lang").to_pylist())
    assert [[name for name, _ in by_name] for by_name in jobs] == [["language_id_score_filter"]]
