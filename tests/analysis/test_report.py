"""The report and its PNGs on the demo data, and the analyze / refine commands as a user runs them."""

from __future__ import annotations

import re

from juicedb import open as open_workspace
from tests.cli.test_cli import juicedb
from tests.conftest import write_jsonl

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_report_embeds_one_figure_per_stat_and_the_correlation(demo):
    _, analysis = demo
    names = sorted(p.name for p in analysis.images)
    assert names == sorted([f"{s}.png" for s in analysis.describe.column("stat").to_pylist()]
                           + ["correlation.png", "clusters.png"])
    assert all(p.read_bytes().startswith(PNG) and p.stat().st_size > 15_000 for p in analysis.images)
    html = analysis.report.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(analysis.images)
    assert "<th class=r>10%</th>" in html and "<th class=r>90%</th>" in html  # requested percentiles
    assert "mean 0.708577 - 3 * std 0.134041" in html  # alnum_ratio's k-sigma origin


def test_analyze_a_dataset_then_refine_and_run_from_the_command_line(tmp_path):
    texts = [f"Sample number {i} says {'hello ' * (i % 7 + 1)}to the world of text data." for i in range(40)]
    write_jsonl(tmp_path / "d.jsonl", [*texts, "x", "!!!!!!!!!!!!!!!!"])
    ws = str(tmp_path / "ws")
    # the report is the demo fixture's (same function); here the tables, without matplotlib's import time
    run = juicedb("analyze", str(tmp_path / "d.jsonl"), "-w", ws, "--no-report", "-q", "--op", "text_len",
                  "--op", "char_rep_ratio(text, rep_len := 5)", "-p", "0.9", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "42 rows, 2 stats" in run.stdout and "report:" not in run.stdout
    with open_workspace(ws) as w:
        described = w.sql("SELECT stat, count, max FROM analysis_describe ORDER BY stat").to_pylist()
    assert [(r["stat"], r["count"]) for r in described] == [("char_rep_ratio__rep_len_5", 42), ("text_len", 42)]
    assert described[1]["max"] == max(len(t) for t in texts)
    recipe = tmp_path / "r.sql"
    recipe.write_text("CREATE TABLE kept AS SELECT * FROM dataset('d.jsonl')\n"
                      "WHERE text_len(text) >= 10 AND char_rep_ratio(text, rep_len := 5) <= 0.5;\n")
    refined = juicedb("refine", str(recipe), "-w", ws, "--k-sigma", "2", cwd=tmp_path)
    assert refined.returncode == 0, refined.stderr
    assert "0 stat values computed" in refined.stdout
    text = (tmp_path / "r.refined.sql").read_text()
    assert re.search(r"WHERE text_len\(text\) >= -?\d+\.\d+ AND char_rep_ratio\(text, rep_len := 5\) <= 0\.\d+;", text)
    with open_workspace(ws) as w:
        w.run(tmp_path / "r.refined.sql")
        assert [s.computed for s in w.last_run.steps] == [0, 0]


def test_refine_error_is_one_line(tmp_path):
    (tmp_path / "r.sql").write_text("SELECT * FROM dataset('d.jsonl') WHERE text_len(text) > 1;")
    out = juicedb("refine", "r.sql", "--k-sigma", "0", "-w", str(tmp_path / "ws"), cwd=tmp_path)
    assert out.returncode == 1 and "k-sigma must be > 0 (DJ's default is 3), got 0.0" in out.stderr
    assert "Traceback" not in out.stderr
