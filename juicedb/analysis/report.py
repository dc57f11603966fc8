"""The analysis report: one HTML file with every image embedded, next to the PNG files themselves.

Sections: what was analysed, the recipe's thresholds with their k-sigma refinement and the
share of values each keeps, DJ's describe table, one figure per stat, the correlation
heatmap and the clusters, and the verb-noun diversity when computed.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from juicedb.analysis import plots
from juicedb.analysis.correlation import Correlation

if TYPE_CHECKING:
    from juicedb.analysis.pipeline import Analysis

_CSS = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2em auto; max-width: 1180px;
       color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; }
.meta { color: #666; } table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 14px; }
figure { margin: 0; border: 1px solid #eee; padding: 6px; } img { max-width: 100%; }
.note { color: #666; font-size: 0.9em; }
"""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "stat"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "NaN" if np.isnan(v) else f"{v:.6g}"
    return html.escape(str(v))


def _table(t: pa.Table, *, left: tuple[str, ...] = (), percent: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th class={'l' if c in left else 'r'}>{html.escape(c)}</th>" for c in t.column_names)
    body = []
    for row in t.to_pylist():
        cells = []
        for c, v in row.items():
            text = f"{100 * v:.1f}%" if c in percent and v is not None else _cell(v)
            cells.append(f"<td class={'l' if c in left else 'r'}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def write_report(out_dir: Path, analysis: Analysis, values: dict[tuple[str, str], np.ndarray],
                 correlations: dict[str, tuple[Correlation, np.ndarray | None]], *, title: str,
                 k_sigma: float) -> tuple[Path, list[Path]]:
    """Draw every figure into ``out_dir`` and write ``out_dir/report.html``; returns it and the PNGs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    multi = len(analysis.scan.sources) > 1
    parts = [f"<h1>Analysis of {html.escape(title)}</h1>",
             f"<p class=meta>{analysis.stats.num_rows:,} samples · {len(values)} numeric stats · "
             f"{analysis.computed:,} stat values computed, the rest from the stats cache. Every number "
             "here is also a workspace table (<code>analysis_describe</code>, <code>analysis_correlation</code>, "
             "<code>analysis_clusters</code>, <code>analysis_thresholds</code>, <code>analysis_stats</code>): "
             "<code>juicedb shell -c \"SELECT * FROM analysis_describe\"</code>.</p>"]
    if analysis.thresholds.num_rows:
        t = analysis.thresholds.select(["predicate", "param", "old", "new", "origin", "kept_old", "kept_new"])
        parts += [f"<h2>Thresholds of the recipe and their {k_sigma:g}-sigma refinement</h2>",
                  "<p class=note>kept: the share of the stat's values each bound keeps on its own. "
                  "<code>juicedb refine</code> writes the refined recipe.</p>",
                  _table(t, left=("predicate", "param", "origin"), percent=("kept_old", "kept_new"))]
    shown = [c for c in analysis.describe.column_names if c not in ("call",) and (c != "source" or multi)]
    parts += ["<h2>Stats (Data-Juicer's describe)</h2>",
              "<p class=note>List stats (one value per image or video) are counted per item; "
              "std with ddof 1; percentiles linearly interpolated, as pandas' <code>describe()</code>.</p>",
              _table(_drop_empty(analysis.describe.select(shown)), left=("source", "stat", "top"))]
    parts.append("<h2>Distributions</h2><p class=note>Histogram over a box plot (whiskers 1.5 IQR); red: the "
                 f"recipe's thresholds, dashed blue: {k_sigma:g}-sigma refinement.</p><div class=grid>")
    marks = _marks(analysis)
    for row in analysis.describe.to_pylist():
        key = (row["source"], row["stat"])
        if key not in values:
            continue
        name = f"{_slug(row['source'])}-{_slug(row['stat'])}" if multi else _slug(row["stat"])
        current, refined = marks.get(key, ([], []))
        column_type = analysis.stats.schema.field(row["stat"]).type
        path = plots.plot_stat(values[key], row["stat"], out_dir / f"{name}.png", call=row["call"],
                               described=row, thresholds=current, refined=refined,
                               per_item=pa.types.is_list(column_type) or pa.types.is_large_list(column_type))
        images.append(path)
        parts.append(_img(path, row["stat"]))
    parts.append("</div>")
    for label, (corr, tree) in correlations.items():
        if len(corr.stats) < 2 or tree is None:
            continue
        prefix = f"{_slug(label)}-" if multi else ""
        groups = dict(zip(*[analysis.clusters.filter(pc.equal(analysis.clusters.column("source"), label))
                            .column(c).to_pylist() for c in ("stat", "cluster")]))
        k = max(groups.values())
        dendro, order = plots.plot_dendrogram(corr.stats, tree, k, out_dir / f"{prefix}clusters.png")
        heat = plots.plot_correlation(corr.stats, corr.matrix, out_dir / f"{prefix}correlation.png",
                                      clusters=[groups[s] for s in corr.stats], order=order)
        images += [heat, dendro]
        listing = "".join(f"<li>group {g}: {', '.join(s for s in corr.stats if groups[s] == g)}</li>"
                          for g in sorted(set(groups.values())))
        parts += [f"<h2>Correlation and clusters{' — ' + html.escape(label) if multi else ''}</h2>",
                  "<p class=note>Pearson r over the samples where both stats exist (list stats: the mean per "
                  "sample). Stats of one group move together: one of them may be enough.</p>",
                  f"<ul>{listing}</ul><div class=grid>{_img(heat, 'correlation')}{_img(dendro, 'clusters')}</div>"]
    if analysis.diversity is not None:
        path = plots.plot_diversity(analysis.diversity, out_dir / "diversity.png")
        images.append(path)
        assert analysis.verb_noun is not None
        found = sum(1 for v, n in zip(analysis.verb_noun.column("verb").to_pylist(),
                                      analysis.verb_noun.column("noun").to_pylist()) if v and n)
        parts += ["<h2>Diversity: root verb and its object</h2>",
                  f"<p class=note>{found:,} of {analysis.verb_noun.num_rows:,} samples have a root verb with a "
                  "noun object (first sentence, spaCy; Data-Juicer's rule). Table: "
                  "<code>analysis_diversity</code>, per sample: <code>analysis_verb_noun</code>.</p>",
                  f"<div class=grid>{_img(path, 'diversity')}<div>{_table(analysis.diversity, left=('verb', 'noun'))}"
                  "</div></div>"]
    report = out_dir / "report.html"
    report.write_text(f"<!doctype html><html><head><meta charset=utf-8><title>juicedb analysis: "
                      f"{html.escape(title)}</title><style>{_CSS}</style></head><body>{''.join(parts)}"
                      "</body></html>\n", encoding="utf-8")
    return report, images


def _drop_empty(t: pa.Table) -> pa.Table:
    """Leave out columns that no stat fills (unique/top/freq when every stat is numeric)."""
    return t.select([c for c in t.column_names if t.column(c).null_count < t.num_rows])


def _marks(analysis: Analysis) -> dict[tuple[str, str], tuple[list, list]]:
    out: dict[tuple[str, str], tuple[list, list]] = {}
    for row in analysis.thresholds.to_pylist():
        cur, ref = out.setdefault((row["source"], row["stat"]), ([], []))
        op = row["param"] if row["param"] in (">", ">=", "<", "<=") else {"min": ">=", "max": "<="}[row["side"]]
        cur.append((f"recipe {op} {row['old']:.4g}", row["old"]))
        if row["new"] is not None:
            ref.append((f"refined {op} {row['new']:.4g}", row["new"]))
    return out
