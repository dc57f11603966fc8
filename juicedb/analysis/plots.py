"""The analysis as PNG: per stat a histogram over a box plot, the correlation heatmap, the clustering
dendrogram and the verb-noun chart. matplotlib with the Agg backend (no display needed).

Each function draws one figure from plain numbers and writes one file; nothing here reads the
workspace. A stat whose values span several orders of magnitude is drawn on a log axis, and
the title says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from juicedb.errors import MissingDependencyError

INSTALL = "pip install 'juicedb[analysis]'"
DPI = 110


# DejaVu Sans (matplotlib's own) first; CJK fonts where the machine has them, as fallbacks
FONTS = ("DejaVu Sans", "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK KR", "WenQuanYi Zen Hei",
         "Droid Sans Fallback", "Arial Unicode MS")
MISSING = "\u25a1"  # a white square for a character no available font can draw
_CHARMAPS: list[dict[int, int]] = []


def _plt() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MissingDependencyError(f"the analysis plots need matplotlib: {INSTALL} "
                                     "(or analyse without them: juicedb analyze --no-report)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    if not _CHARMAPS:
        from matplotlib import font_manager
        from matplotlib.ft2font import FT2Font
        families = []
        for family in FONTS:
            try:
                path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            except ValueError:
                continue
            families.append(family)
            _CHARMAPS.append(FT2Font(path).get_charmap())
        plt.rcParams["font.family"] = families
    return plt


def drawable(text: str) -> str:
    """``text`` with each character no available font has replaced by a square (texts in any language
    reach the diversity chart; matplotlib would warn and draw an empty box)."""
    _plt()
    return "".join(c if c.isspace() or any(ord(c) in m for m in _CHARMAPS) else MISSING for c in text)


def _log_scale(values: np.ndarray) -> bool:
    """Log x when all values are positive and the upper tail dwarfs the bulk (text lengths, sizes)."""
    if values.size < 2 or values.min() <= 0:
        return False
    p50, top = float(np.percentile(values, 50)), float(values.max())
    return top / max(p50, 1e-12) > 50 and top / float(values.min()) > 1000


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def plot_stat(values: np.ndarray, name: str, path: Path, *, call: str = "", described: dict | None = None,
              thresholds: Sequence[tuple[str, float]] = (), refined: Sequence[tuple[str, float]] = (),
              per_item: bool = False) -> Path:
    """Histogram (count per bin) above a box plot sharing its x axis; the recipe's thresholds as red lines,
    refined ones as dashed blue lines. ``thresholds``/``refined``: (label, value). ``per_item``: a list
    stat, exploded, so the histogram counts items (images, videos), not samples."""
    plt = _plt()
    fig, (ax_h, ax_b) = plt.subplots(2, 1, sharex=True, figsize=(7.5, 4.6),
                                     gridspec_kw={"height_ratios": [4, 1], "hspace": 0.06})
    values = np.asarray(values, dtype=np.float64)
    log = _log_scale(values)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    span = (hi - lo) or max(abs(lo) * 0.5, 1.0)
    lines = [(label, v, "#C44E52", "-") for label, v in thresholds] + \
            [(label, v, "#2A6FDB", "--") for label, v in refined]
    # a threshold near the data widens the x axis to show it; a far one (k-sigma below zero) is only named
    near = [v for _, v, _, _ in lines if lo - 0.5 * span <= v <= hi + 0.5 * span and (not log or v > 0)]
    x0, x1 = _xlim(min([lo, *near]), max([hi, *near]), log, span)
    if values.size:
        if log:
            bins: Any = np.logspace(math.log10(lo), math.log10(hi), 40)
        elif hi == lo:  # a constant stat: one narrow bar, not one spanning the axis
            bins = [lo - span * 0.02, lo + span * 0.02]
        else:
            # DJ's rule: sqrt(n) bins from 100 values on (capped: more bars than pixels say nothing)
            bins = min(int(math.sqrt(values.size)), 80) if values.size >= 100 else "auto"
        ax_h.hist(values, bins=bins, color="#4C72B0", edgecolor="white", linewidth=0.4)
        ax_b.boxplot(values, orientation="horizontal", widths=0.6, showfliers=True,
                     flierprops={"marker": ".", "markersize": 3, "alpha": 0.4, "markeredgecolor": "#555555"},
                     medianprops={"color": "#C44E52"})
    else:
        ax_h.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax_h.transAxes)
    if log:
        ax_h.set_xscale("log")
    for label, v, color, style in lines:
        visible = v in near
        where = "below" if v < lo else "above"
        line = ax_h.axvline(v, color=color, linestyle=style, linewidth=1.6,
                            label=label if visible else f"{label}\n({where} the data, not drawn)")
        line.set_visible(visible)
        ax_b.axvline(v, color=color, linestyle=style, linewidth=1.6, visible=visible)
    ax_h.set_xlim(x0, x1)
    if lines:
        # beside the plot, not on it: the tallest bars may sit anywhere
        ax_h.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    d = described or {}
    subtitle = (f"n = {d.get('count', values.size):,}{' items' if per_item else ''}   mean {_fmt(d['mean'])}   "
                f"std {_fmt(d['std'])}   median {_fmt(d['50%'])}" if d.get("mean") is not None and values.size
                else "")
    ax_h.set_title(f"{name}" + (f"  —  {call}" if call and call != f"{name}(text)" else "")
                   + ("\n" + subtitle if subtitle else "") + ("  (log x axis)" if log else ""),
                   fontsize=10, loc="left")
    ax_h.set_ylabel("items (one per image or video)" if per_item else "samples")
    ax_b.set_yticks([])
    ax_b.set_xlabel(name)
    fig.align_ylabels()
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _xlim(lo: float, hi: float, log: bool, span: float) -> tuple[float, float]:
    if log:
        return lo / 1.3, hi * 1.3
    pad = (hi - lo) * 0.03 or span * 0.1
    return lo - pad, hi + pad


def plot_correlation(stats: Sequence[str], matrix: np.ndarray, path: Path, *, clusters: Sequence[int] = (),
                     order: Sequence[int] | None = None, title: str = "Pearson correlation of the stats") -> Path:
    """Annotated heatmap of r in [-1, 1], stats ordered by the clustering so that groups form blocks."""
    plt = _plt()
    n = len(stats)
    idx = list(order) if order is not None else list(range(n))
    m = matrix[np.ix_(idx, idx)]
    labels = [stats[i] for i in idx]
    size = max(4.5, 0.62 * n + 2.2)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(m, cmap="RdBu_r", vmin=-1, vmax=1)
    cbar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("Pearson r")
    ax.set_xticks(range(n), labels=labels, rotation=40, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set_yticks(range(n), labels=labels, fontsize=9)
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            text = "—" if np.isnan(v) else f"{v:.2f}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8 if n <= 12 else 6,
                    color="white" if not np.isnan(v) and abs(v) > 0.6 else "black")
    if clusters:
        groups = [clusters[i] for i in idx]
        start = 0
        for k in range(1, n + 1):
            if k == n or groups[k] != groups[start]:
                ax.add_patch(plt.Rectangle((start - 0.5, start - 0.5), k - start, k - start, fill=False,
                                           edgecolor="black", linewidth=2))
                start = k
    ax.set_title(title + ("\n(boxes: clusters)" if clusters else ""), fontsize=11)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_dendrogram(stats: Sequence[str], tree: np.ndarray, k: int, path: Path) -> tuple[Path, list[int]]:
    """The average-linkage tree of the stats, colored by the ``k`` clusters; returns the leaf order too."""
    plt = _plt()
    from scipy.cluster.hierarchy import dendrogram
    n = len(stats)
    fig, ax = plt.subplots(figsize=(7.5, max(2.8, 0.38 * n + 1.2)))
    cut = tree[-(k - 1), 2] if 1 < k <= n else tree[-1, 2] + 1e-9
    out = dendrogram(tree, labels=list(stats), orientation="right", color_threshold=cut - 1e-12, ax=ax,
                     above_threshold_color="#999999", leaf_font_size=9)
    ax.set_xlabel("distance 1 − |r| (average linkage)")
    ax.set_xlim(left=0)
    if 1 < k <= n:
        ax.axvline(cut, color="#555555", linestyle=":", linewidth=1)
    ax.set_title(f"Stats clustered by correlation into {min(k, n)} groups", fontsize=11, loc="left")
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path, [stats.index(s) for s in out["ivl"]][::-1]


def plot_diversity(table: pa.Table, path: Path, *, title: str = "Top verbs and their top objects") -> Path:
    """One bar per verb (samples with that verb and one of its listed nouns), nouns written beside it."""
    plt = _plt()
    rows = table.to_pylist()
    verbs: list[str] = []
    for r in rows:
        if r["verb"] not in verbs:
            verbs.append(r["verb"])
    totals = [sum(r["count"] for r in rows if r["verb"] == v) for v in verbs]
    notes = [drawable(", ".join(f"{r['noun']} ({r['count']})" for r in rows if r["verb"] == v)) for v in verbs]
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.34 * len(verbs) + 1.3)))
    y = np.arange(len(verbs))
    ax.barh(y, totals, color="#55A868")
    ax.set_yticks(y, labels=[drawable(v) for v in verbs], fontsize=9)
    ax.invert_yaxis()
    top = max(totals, default=1)
    for yi, total, note in zip(y, totals, notes):
        ax.text(total + top * 0.01, yi, note if len(note) <= 70 else note[:67] + "...", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.9)
    ax.set_xlabel("samples (root verb with one of the nouns shown)")
    ax.set_ylabel("root verb")
    ax.set_title(title + (f"\n({MISSING}: a character the plot's fonts lack; the table has the text)"
                          if any(MISSING in t for t in [*notes, *map(drawable, verbs)]) else ""),
                 fontsize=11, loc="left")
    ax.spines[["top", "right"]].set_visible(False)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path
