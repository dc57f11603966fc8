"""The sandbox report: one Markdown file with tables, and PNG plots beside it (matplotlib, Agg).

Without matplotlib the report is written all the same, with a line saying which extra draws the
plots (``pip install 'juicedb[sandbox]'``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from juicedb.sandbox.workflow import Candidate, Result, Sandbox

DPI = 110
COLORS = {"low": "#8da0cb", "mid": "#66c2a5", "high": "#fc8d62"}


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table.

    >>> print(table(["a", "b"], [[1, "x|y"]]))
    | a | b |
    |---|---|
    | 1 | x\\|y |
    """
    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "–"
        return str(v).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(out)


def pm(mean: float | None, std: float | None, digits: int = 2, sign: bool = True) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    fmt = f"{{:{'+' if sign else ''}.{digits}f}}"
    return fmt.format(mean) + (f" ± {std:.{digits}f}" if std is not None and not math.isnan(std) else "")


def write_report(sb: Sandbox, res: Result) -> Path:
    out = sb.output_dir()
    cfg = res.config
    plt = _plt() if cfg.plots else None
    lines = [f"# Sandbox report: {cfg.name}", ""]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    trainer = sb.fingerprint["trainer"]
    lines += [
        f"Config `{cfg.path.name if cfg.path else '-'}`, dataset `{cfg.dataset.name}` ({res.rows} samples, "
        f"workspace table `{res.dataset}`), {when}.",
        f"Trainer `{trainer.get('type')}`: "
        + ", ".join(f"{k} {v}" for k, v in trainer.items() if k not in ("type", "v") and v is not None) + ".",
        f"Seeds {', '.join(map(str, cfg.seeds))}; pools cut at ratios "
        f"{', '.join(f'{r:.4g}' for r in cfg.split_ratios)} and downsampled to {res.pool_size} samples; "
        f"metrics ranked: {', '.join(f'`{m}`' for m in res.rank_metrics)}.",
        f"Jobs: {res.trained} trained in this run, {res.reused} finished before and not re-run; "
        f"{res.seconds:.0f} s in all.", "",
        "Score = the paper's Eq. 3: the relative change (%) of each metric over the random pool of the same "
        "seed and size, signed so that better is positive, averaged over the metrics; mean ± std (ddof 1) "
        "over seeds.", ""]
    if not plt and cfg.plots:
        lines += ["_Plots skipped: matplotlib is not installed (`pip install 'juicedb[sandbox]'`)._", ""]

    # (a) ranking
    if res.ranking:
        lines += ["## (a) Single-OP pools", ""]
        header = ["rank", "pool", "samples", "its bounds keep", "score % (mean ± std)",
                  *[f"seed {s}" for s in cfg.seeds], *[f"`{m}`" for m in res.rank_metrics]]
        rows = []
        for i, c in enumerate(res.ranking, 1):
            rows.append([i, c.label, c.pool.rows, _kept(c), pm(c.mean, c.std), *[f"{s:+.2f}" for s in c.scores],
                         *[f"{c.metric_means.get(m, float('nan')):.4f}" for m in res.rank_metrics]])
        base = [sb.jobs[(sb.random_pool(res.pool_size, s).name, s, 1.0)] for s in cfg.seeds]
        rows.append(["", "random (baseline)", res.pool_size, "", "0", *["0" for _ in cfg.seeds],
                     *[f"{np.mean([j.metrics[m][0] for j in base]):.4f}" for m in res.rank_metrics]])
        lines += [table(header, rows), ""]
        if any(not c.range_faithful for c in res.ranking):
            lines += [TIES_NOTE, ""]
        if plt:
            lines += [f"![ranking]({_plot_ranking(plt, res.ranking, out / 'ranking.png').name})", ""]
        if res.agreement:
            lines += ["Rank agreement of the single-OP ranking between seeds (Spearman's rho over "
                      f"{res.agreement[0]['pools']} pools):", ""]
            lines += [table(["seed a", "seed b", "Spearman rho", "p"],
                            [[a["seed_a"], a["seed_b"], _n(a["spearman"], 3), _n(a["p_value"], 3)]
                             for a in res.agreement]), ""]
            if plt and len(cfg.seeds) >= 2:
                lines += [f"![seeds]({_plot_seeds(plt, res, out / 'seed_agreement.png').name})", ""]

    # (b) analysis
    if res.clusters:
        lines += ["## (b) Correlations and clusters", "",
                  f"Stats clustered by Pearson r over the {res.rows} samples (average linkage on 1 - |r|); the best "
                  "OP of each cluster in bold.", ""]
        rows = [[r["cluster"], f"**{r['stat']}**" if r["cluster_best"] else r["stat"], r["best_bucket"],
                 pm(r["best_score"], r["best_std"])] for r in sorted(res.clusters, key=lambda r: r["cluster"])]
        lines += [table(["cluster", "stat", "best bucket", "its score %"], rows), ""]
        if plt and res.stat_corr:
            labels = [r["cluster"] for r in res.clusters]
            png = _plot_heatmap(plt, *res.stat_corr, labels, out / "stat_correlation.png")
            lines += [f"![correlation]({png.name})", ""]
        if res.metric_corr:
            names, m = res.metric_corr
            lines += ["Metrics against each other over every probe job (Pearson r):", "",
                      table(["", *names], [[a, *[_n(m[i, j], 3) for j in range(len(names))]]
                                           for i, a in enumerate(names)]), ""]
        if res.stat_metric:
            targets = sorted({r["target"] for r in res.stat_metric}, key=lambda t: (t != "eq3_score", t))
            by = {(r["stat"], r["target"]): r["pearson"] for r in res.stat_metric}
            stats = list(dict.fromkeys(r["stat"] for r in res.stat_metric))
            lines += ["A pool's mean stat against its score and metrics, over the single-OP pools (Pearson r):", "",
                      table(["stat", *targets], [[s, *[_n(by.get((s, t)), 3) for t in targets]] for s in stats]),
                      ""]

    # (c) combinations
    if res.combinations:
        lines += ["## (c) Combinations of the top OPs", "",
                  f"Top-{len(res.top_ops)} OPs (each with its best bucket): {', '.join(res.top_ops)}. Every "
                  "intersection (the pyramid), and the intersection of each cluster's best OP; all trained with the "
                  "same budget and scored against the same random pools.", ""]
        rows = [[c.level, c.pool.name, c.label, c.pool.rows, _kept(c),
                 pm(c.mean, c.std) if c.scores else "not trained"]
                for c in sorted(res.combinations, key=lambda c: (c.level, -c.mean if c.scores else 0))]
        lines += [table(["level", "pool", "buckets", "samples", "its bounds keep", "score %"], rows), ""]
        if plt:
            lines += [f"![combinations]({_plot_combinations(plt, res.combinations, out / 'combinations.png').name})",
                      ""]

    # (d) duplication
    if res.duplication:
        d0 = res.duplication[0]
        lines += ["## (d) Duplication vs diversity", "",
                  f"The best combined pool `{d0['pool']}` ({d0['rows']} samples) repeated x t, against the same pool "
                  f"filled to t times its size with new samples from the pyramid's lower levels; budget "
                  f"{'x t (the same epochs over each)' if cfg.dup_budget == 'scaled' else 'fixed'}. "
                  f"Metric: {d0['metric']} (raw value, mean ± std over seeds).", ""]
        rows = [[r["times"], r["kind"], r["rows"], r["distinct_rows"], f"x{r['scale']:g}",
                 pm(r["mean_metric"], r["std_metric"], 4, sign=False),
                 pm(r.get("fill_vs_dup_mean"), r.get("fill_vs_dup_std")) if "fill_vs_dup_mean" in r else ""]
                for r in res.duplication]
        lines += [table(["t", "kind", "samples", "distinct", "budget", "metric", "fill vs duplicate, Eq. 3 %"],
                        rows), ""]
        if plt:
            lines += [f"![duplication]({_plot_duplication(plt, res, out / 'duplication.png').name})", ""]

    # (e) refined recipe
    if res.refined:
        r = res.refined
        verdict = ("**beats the random pool beyond seed noise**" if r["beats_random"]
                   else "**does not beat the random pool beyond seed noise**")
        lines += ["## (e) Refined recipe", "",
                  f"The best pool whose bucket edges select it ({r['predicates']}, {r['bucket_rows']} samples) as a "
                  "recipe: "
                  f"[`{Path(r['recipe']).name}`]({Path(r['recipe']).name}). Run on the workspace it keeps "
                  f"{r['rows']} samples and computed {r['stats_computed']} stat values (every stat came from the "
                  "cache).", "", "```sql", (res.recipe or "").rstrip(), "```", "",
                  f"Refined pool against a random pool of the same size ({r['rows']}), same budget, seeds "
                  f"{', '.join(map(str, r['seeds']))}; metric: {r['metric']} "
                  f"({'higher' if r['higher_is_better'] else 'lower'} is better):", "",
                  table(["pool", "mean ± std", *[f"seed {s}" for s in r["seeds"]]],
                        [["refined", pm(r["refined_mean"], r["refined_std"], 4, False),
                          *[f"{v:.4f}" for v in r["refined_values"]]],
                         ["random", pm(r["random_mean"], r["random_std"], 4, False),
                          *[f"{v:.4f}" for v in r["random_values"]]]]), "",
                  f"Eq. 3 of refined over random: {pm(r['eq3_mean'], r['eq3_std'])} %. Welch's t = "
                  f"{_n(r['welch_t'], 2)}, p = {_n(r['p_value'], 3)}: the refined pool {verdict} (the test: a "
                  "better mean and p < 0.05).", ""]
        if plt:
            lines += [f"![refined]({_plot_refined(plt, r, out / 'refined_vs_random.png').name})", ""]
    if res.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in res.notes], ""]
    lines += ["## Tables", "", "In the workspace (`juicedb shell`): `pools`, `pool_members`, `pool_buckets`, "
              "`sandbox_jobs`, `sandbox_metrics`, `sandbox_ranking`, `sandbox_seed_agreement`, `sandbox_clusters`, "
              "`sandbox_correlations`, `sandbox_combinations`, `sandbox_duplication`, `sandbox_refined`; a pool's "
              "samples: `SELECT * FROM pool('<name>')`.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


TIES_NOTE = ("† A cut fell inside a run of tied values: the bucket is a slice of the tie in dataset order "
             "(Data-Juicer's rank cut), not a range of the stat, and its edges as a predicate keep more samples. "
             "Its score says little about the stat; the refined recipe is built from pools without †.")


def _kept(c: Candidate) -> str:
    return f"{c.bounds_rows}" if c.range_faithful else f"{c.bounds_rows} †"


def _n(v: float | None, digits: int) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _plot_ranking(plt: Any, ranking: list[Candidate], path: Path) -> Path:
    cands = list(reversed(ranking))
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(cands) + 1.4))
    y = np.arange(len(cands))
    colors = [COLORS.get(c.members[0][1], "#999999") for c in cands]
    ax.barh(y, [c.mean for c in cands], xerr=[c.std for c in cands], color=colors, capsize=3)
    ax.set_yticks(y, [c.label for c in cands], fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("score: Eq. 3, % change over the random pool (mean ± std over seeds)")
    ax.set_title("Single-OP pools ranked (better than random to the right)")
    return _save(plt, fig, path)


def _plot_seeds(plt: Any, res: Result, path: Path) -> Path:
    a = res.agreement[0]
    i, j = res.config.seeds.index(a["seed_a"]), res.config.seeds.index(a["seed_b"])
    fig, ax = plt.subplots(figsize=(5, 4.6))
    xs = [c.scores[i] for c in res.ranking]
    ys = [c.scores[j] for c in res.ranking]
    ax.scatter(xs, ys, s=18, color="#4c72b0")
    lo, hi = min(xs + ys), max(xs + ys)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    ax.set_xlabel(f"score % with seed {a['seed_a']}")
    ax.set_ylabel(f"score % with seed {a['seed_b']}")
    ax.set_title(f"Seed agreement: Spearman rho = {_n(a['spearman'], 2)}")
    return _save(plt, fig, path)


def _plot_heatmap(plt: Any, names: list[str], matrix: np.ndarray, clusters: list[int], path: Path) -> Path:
    order = sorted(range(len(names)), key=lambda i: (clusters[i] if i < len(clusters) else 0, i))
    m = matrix[np.ix_(order, order)]
    fig, ax = plt.subplots(figsize=(0.55 * len(names) + 3, 0.5 * len(names) + 2.2))
    im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
    labels = [f"{names[i]} (c{clusters[i]})" if i < len(clusters) else names[i] for i in order]
    ax.set_xticks(range(len(names)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), labels, fontsize=8)
    for a in range(len(names)):
        for b in range(len(names)):
            if not np.isnan(m[a, b]):
                ax.text(b, a, f"{m[a, b]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if abs(m[a, b]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, label="Pearson r")
    ax.set_title("Stat correlation over samples (cN: cluster)")
    return _save(plt, fig, path)


def _plot_combinations(plt: Any, combos: list[Candidate], path: Path) -> Path:
    cands = [c for c in sorted(combos, key=lambda c: (c.level, c.pool.name)) if c.scores]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(cands) + 2), 4.2))
    x = np.arange(len(cands))
    ax.bar(x, [c.mean for c in cands], yerr=[c.std for c in cands], capsize=3,
           color=[plt.cm.viridis(0.25 + 0.2 * (c.level - 1)) for c in cands])
    names = [c.label if c.level == 1 else c.pool.name.split(":")[-1] for c in cands]
    ax.set_xticks(x, [f"{n}\n(n={c.pool.rows})" for n, c in zip(names, cands)], fontsize=7, rotation=20, ha="right")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel("score: Eq. 3 % over random")
    ax.set_title("Pyramid of the top OPs (darker = fewer intersected buckets)")
    return _save(plt, fig, path)


def _wrap(label: str, width: int = 34) -> str:
    """A long axis label on several lines (a metric average names every metric)."""
    import textwrap
    return "\n".join(textwrap.wrap(label, width)) or label


def _plot_duplication(plt: Any, res: Result, path: Path) -> Path:
    rows = res.duplication
    top = rows[0]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for kind, color, marker in (("duplicate", "#d62728", "o"), ("fill", "#2ca02c", "s")):
        pts = [top] + [r for r in rows if r["kind"] == kind]
        ax.errorbar([r["times"] for r in pts], [r["mean_metric"] for r in pts], yerr=[r["std_metric"] for r in pts],
                    color=color, marker=marker, capsize=3,
                    label="top pool duplicated" if kind == "duplicate" else "filled from lower levels")
    ax.set_xticks(sorted({r["times"] for r in rows}))
    ax.set_xlabel("pool size (x the top pool)")
    ax.set_ylabel(_wrap(f"{top['metric']} (mean over seeds)"))
    ax.set_title("Duplication vs diversity")
    ax.legend()
    return _save(plt, fig, path)


def _plot_refined(plt: Any, r: dict[str, Any], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(4.6, 4))
    for i, (name, values) in enumerate((("random", r["random_values"]), ("refined", r["refined_values"]))):
        ax.scatter([i] * len(values), values, color="#4c72b0" if i else "#999999", zorder=3)
        ax.errorbar([i + 0.15], [np.mean(values)], yerr=[np.std(values, ddof=1) if len(values) > 1 else 0],
                    fmt="_", color="black", capsize=4)
        del name
    ax.set_xticks([0, 1], [f"random (n={r['rows']})", f"refined (n={r['rows']})"])
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel(_wrap(r["metric"]))
    ax.set_title(f"Refined vs random, p = {_n(r['p_value'], 3)}")
    return _save(plt, fig, path)
