"""The leaderboard's plots: matplotlib figures rendered to inline-ready SVG.

:func:`plot_overall_vs_fit` and :func:`plot_sections` take one group of
:func:`harness.leaderboard.build_groups` and return an ``<svg>`` string (ids prefixed by the
group, no prolog or metadata) or None when there is nothing to draw.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from harness.textsafe import plain

MAX_BAR_SUBMISSIONS = 24
MIN_PLOT_SECONDS = 1e-3  # fit times below this sit at this value on the log axis
WIDE_BARS_FROM = 12  # more submissions than this: the bar chart takes the page's full width
PALETTE = ["#3b6fd8", "#e07b39", "#2e9e6a", "#c2457a", "#7a5cc7", "#b59a1b", "#2aa1b3",
           "#8c6d5a"]
_SVG_ID = re.compile(r'\sid="([^"]+)"')


def _clean_svg(svg: str, prefix: str, label: str) -> str:
    """Make matplotlib's SVG inline-ready: no prolog or metadata, unique ids, fluid size, and
    ``label`` (which names the set) as an escaped ``aria-label``."""
    from markupsafe import escape

    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    refs = set(re.findall(r'#([^")\s]+)', svg))
    ids = set(_SVG_ID.findall(svg))

    def fix_id(m):
        return f' id="{prefix}{m.group(1)}"' if m.group(1) in refs else ""

    svg = _SVG_ID.sub(fix_id, svg)
    for ref in sorted(refs & ids, key=len, reverse=True):
        svg = svg.replace(f'#{ref}"', f'#{prefix}{ref}"').replace(f"#{ref})", f"#{prefix}{ref})")
    label = escape(plain(label, keep=""))
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"',
                 lambda m: f'<svg {m.group(1)}role="img" aria-label="{label}" '
                           f'preserveAspectRatio="xMidYMid meet"', svg, count=1)
    return svg.strip()


def _figure_svg(draw: Callable[[Any], None], size: tuple[float, float], prefix: str,
                label: str) -> str:
    import matplotlib
    from matplotlib.figure import Figure  # backend-free: never opens a window

    style = {
        "svg.fonttype": "none", "svg.hashsalt": prefix, "font.family": "sans-serif",
        "font.size": 9, "axes.edgecolor": "#c9d0da", "axes.labelcolor": "#374151",
        "xtick.color": "#4b5563", "ytick.color": "#4b5563", "axes.spines.top": False,
        "axes.spines.right": False, "axes.grid": True, "grid.color": "#e8ecf2",
        "grid.linewidth": 0.8, "axes.axisbelow": True, "legend.frameon": False,
    }
    with matplotlib.rc_context(style):
        fig = Figure(figsize=size, layout="constrained")
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None}, transparent=True)
    return _clean_svg(buf.getvalue(), prefix, label)


def _plain(text: str) -> str:
    """Text for matplotlib that is never parsed as mathtext (``$`` is escaped), without control
    characters or bidi overrides (:func:`harness.textsafe.plain`); the SVG writer escapes it."""
    return plain(text, keep="").replace("$", r"\$")


def _spread_labels(ys: list[float], min_gap: float) -> list[float]:
    """Nudge label heights apart (in data units) so neighbouring names do not overprint."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for a, b in zip(order, order[1:], strict=False):
        if out[b] - out[a] < min_gap:
            out[b] = out[a] + min_gap
    return out


def plot_overall_vs_fit(group: dict) -> str | None:
    """Overall (with its CI) against fit time on a log axis, one point per submission."""
    rows = [r for r in group["rows"] if r["fit_s"] is not None]
    if not rows:
        return None
    fit = {id(r): max(r["fit_s"], MIN_PLOT_SECONDS) for r in rows}  # log axis: no zeros
    families = sorted({r["family"] or "other" for r in rows})
    colour = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}

    def draw(fig):
        ax = fig.add_subplot()
        lead = group["leader_ci"]
        if lead:
            ax.axhspan(100 * lead[0], 100 * lead[1], color="#f5c542", alpha=0.16, lw=0,
                       label="leader's 95% CI")
        for fam in families:
            sel = [r for r in rows if (r["family"] or "other") == fam]
            x = [fit[id(r)] for r in sel]
            y = [100 * r["overall"] for r in sel]
            err = [[100 * (r["overall"] - r["ci"][0]) if r["ci"] else 0 for r in sel],
                   [100 * (r["ci"][1] - r["overall"]) if r["ci"] else 0 for r in sel]]
            ax.errorbar(x, y, yerr=err, fmt="o", ms=4.5, color=colour[fam], ecolor=colour[fam],
                        elinewidth=1, capsize=2, alpha=0.9, label=_plain(fam))
        ax.set_xscale("log")
        ys = [100 * r["overall"] for r in rows]
        lo, hi = min(ys), max(ys)
        gap = max(hi - lo, 2.0) * 0.045
        for r, y in zip(rows, _spread_labels(ys, gap), strict=True):
            ax.text(fit[id(r)] * 1.13, y, _plain(r["name"]), va="center", fontsize=7.5,
                    color="#374151")
        xmin, xmax = min(fit.values()), max(fit.values())
        ax.set_xlim(xmin / 1.6, xmax * 3.5)
        floored = any(r["fit_s"] < MIN_PLOT_SECONDS for r in rows)
        ax.set_xlabel("fit time (s, log scale" + (", under 1 ms drawn at 1 ms)" if floored
                                                  else ")"))
        ax.set_ylabel("overall accuracy (%)")
        fig.legend(loc="outside lower center", fontsize=7.5, ncols=min(4, len(families) + 1),
                   handletextpad=0.3, columnspacing=1.2)

    return _figure_svg(draw, (5.2, 3.9 + 0.16 * ((len(families) + 1) // 4)), f"{group['id']}-fit-",
                       f"Overall accuracy against fit time, {group['set']['name']}")


def plot_sections(group: dict) -> str | None:
    """Section accuracies per submission as grouped bars (the top submissions by rank)."""
    rows = group["rows"][:MAX_BAR_SUBMISSIONS]
    columns = group["columns"]
    if not rows or not columns:
        return None
    wide = len(rows) > WIDE_BARS_FROM
    wide_inches = 12.6

    def draw(fig):
        ax = fig.add_subplot()
        n = len(columns)
        width = 0.8 / n
        for j, section in enumerate(columns):
            xs = [i + (j - (n - 1) / 2) * width for i in range(len(rows))]
            ys = [100 * (r["sections"][section] or 0) for r in rows]
            ax.bar(xs, ys, width * 0.92, color=PALETTE[j % len(PALETTE)], label=_plain(section),
                   alpha=0.9 if section in group["overall_sections"] or not
                   group["overall_sections"] else 0.45)
        ax.axhline(50, color="#9ca3af", lw=0.9, ls=(0, (4, 3)), label="chance")
        ax.set_xticks(range(len(rows)), [_plain(r["name"]) for r in rows], rotation=30, ha="right",
                      rotation_mode="anchor")
        pad = max(0.0, (4 - len(rows)) / 2)  # keep bars slim when there are few submissions
        ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
        ax.set_ylim(0, 100)
        ax.set_ylabel("accuracy (%)")
        ax.grid(axis="x", visible=False)
        ax.tick_params(axis="x", length=0)
        fig.legend(loc="outside upper center", ncols=len(columns) + 1, fontsize=8,
                   handlelength=1.2, columnspacing=1.2)

    return _figure_svg(draw, (wide_inches if wide else 7.25, 3.9), f"{group['id']}-sec-",
                       f"Section accuracies per submission, {group['set']['name']}")
