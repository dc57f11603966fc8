"""The command line, run as a user runs it (a subprocess per command)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import write_jsonl


def juicedb(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "juicedb.cli", *args], capture_output=True, text=True, cwd=cwd, check=False,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, timeout=300)


@pytest.fixture
def recipe(tmp_path):
    write_jsonl(tmp_path / "d.jsonl", ["Today is", "Do you need a cup of coffee?", "Today is Sunday and it's a happy day!"])
    r = tmp_path / "r.sql"
    r.write_text("CREATE TABLE kept AS SELECT * FROM dataset('d.jsonl') WHERE text_len(text) >= 10;\n"
                 "COPY kept TO 'out/kept.parquet';\n")
    return r


def test_run_then_query_stats_and_trace_in_the_shell(tmp_path, recipe):
    ws = str(tmp_path / "ws")
    run = juicedb("run", str(recipe), "-w", ws, "-q")
    assert run.returncode == 0, run.stderr
    assert "table kept: 2 rows" in run.stdout
    assert (tmp_path / "out" / "kept.parquet").is_file()
    count = juicedb("shell", "-w", ws, "-c", "SELECT count(*) AS n FROM stats")
    assert count.returncode == 0 and "│ 3 " in count.stdout
    trace = juicedb("shell", "-w", ws, "-c", "SELECT predicate, detail FROM trace")
    assert "text_len(text) >= 10" in trace.stdout and "text_len=8" in trace.stdout


def test_explain_shows_stages_and_sql(tmp_path, recipe):
    out = juicedb("explain", str(recipe), "-w", str(tmp_path / "ws"))
    assert out.returncode == 0, out.stderr
    assert "stage 1 [trivial]: compute text_len(text)" in out.stdout
    assert "FROM __jdb_w0 AS dataset" in out.stdout


def test_ops_lists_params_with_dj_defaults():
    out = juicedb("ops")
    assert out.returncode == 0
    assert "character_repetition_filter" in out.stdout and "rep_len := 10" in out.stdout


def test_recipe_error_is_one_line_and_exit_code_2(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("SELECT * FROM dataset('x.jsonl') WHERE char_rep_ratio(text, rep_len := 0) < 1;")
    out = juicedb("run", str(bad), "-w", str(tmp_path / "ws"))
    assert out.returncode == 2
    assert "parameter 'rep_len' must be > 0, got 0" in out.stderr
    assert "Traceback" not in out.stderr


def test_malformed_lines_do_not_fail_the_run(tmp_path):
    lines = [f'{{"text": "document {i} has enough words in it"}}' for i in range(1000)]
    for i in range(0, 1000, 50):
        lines[i] = lines[i][:-5]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    r = tmp_path / "r.sql"
    r.write_text("CREATE TABLE kept AS SELECT * FROM dataset('d.jsonl') WHERE num_words(text) >= 3;")
    ws = str(tmp_path / "ws")
    out = juicedb("run", str(r), "-w", ws, "-q")
    assert out.returncode == 0, out.stderr
    assert "table kept: 980 rows" in out.stdout
    errors = juicedb("shell", "-w", ws, "-c", "SELECT count(*) FILTER (WHERE message LIKE 'malformed JSON%') AS n "
                     "FROM errors")
    assert "│ 20 " in errors.stdout


@pytest.mark.parametrize(("statement", "message"), [
    ("SELECT * FROM dataset('d.jsonl') WHERE txt_len(text) > 3", "unknown function txt_len(); did you mean text_len"),
    ("SELECT * FROM dataset('d.jsonl') WHERE stopwords_ratio(text, lang := 'xx') > 0", "lang 'xx' is not in"),
    ("SELECT * FROM dataset('d.jsonl') WHERE num_words(text) > 1 OR document_deduplicator(text)",
     "a deduplicator must be a whole AND term"),
], ids=["typo", "bad-lang", "dedup-in-or"])
def test_whole_recipe_is_checked_before_any_data_is_read(tmp_path, statement, message):
    write_jsonl(tmp_path / "d.jsonl", ["some text here"])
    r = tmp_path / "r.sql"
    r.write_text("CREATE TABLE first AS SELECT * FROM dataset('d.jsonl');\n" + statement + ";\n")
    ws = tmp_path / "ws"
    out = juicedb("run", str(r), "-w", str(ws))
    assert out.returncode == 2 and message in out.stderr, out.stderr
    loaded = juicedb("shell", "-w", str(ws), "-c", "SELECT count(*) AS n FROM datasets")
    assert "│ 0 " in loaded.stdout  # statement 1 never ran: nothing was loaded


def test_interactive_shell_reads_statements_until_quit(tmp_path):
    done = subprocess.run([sys.executable, "-m", "juicedb.cli", "shell", "-w", str(tmp_path / "ws")],
                          input="SELECT text_len('héllo')\n  AS n;\nSELECT nope(1);\n.quit\n", capture_output=True,
                          text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"}, timeout=120, check=False)
    assert done.returncode == 0
    assert "│ 5 │" in done.stdout
    assert "nope does not exist" in done.stderr  # the shell goes on after an error
