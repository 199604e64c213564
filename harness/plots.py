"""The leaderboard's plots: matplotlib figures rendered to inline-ready SVG.

:func:`plot_overall_vs_fit` and :func:`plot_sections` take one
:class:`harness.leaderboard.Group` and return an ``<svg>`` string (ids prefixed by the group, no
prolog or metadata) or None when there is nothing to draw. Reference rows (random, length) are
drawn as labelled horizontal lines in the fit plot and left out of the section bars.

Each ``<svg>`` holds two drawings of the same data: ``svg-wide``, sized for the desktop grid,
and ``svg-narrow``, a figure :data:`NARROW_INCHES` wide with larger text (horizontal bars for
the section chart), hidden by a ``display`` attribute. The page's stylesheet swaps them with a
container query when the figure is phone-narrow, so one point of narrow text is about one CSS
pixel on a 375 px-wide screen and desktop keeps its layout.
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
NARROW_INCHES = 4.4  # the phone drawing: 317 pt, about the plot width on a 375 px screen
NARROW_FONT = 10.0  # its base font size (pt); no text in it is smaller than 9 pt
NARROW_NAME_CHARS = 48  # longer names are cut in it (half that beside a point)
_SVG_ID = re.compile(r'\sid="([^"]+)"')
_VIEWBOX = re.compile(r'viewBox="0 0 ([0-9.]+) ([0-9.]+)"')


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
                           f'preserveAspectRatio="xMidYMin meet"', svg, count=1)
    return svg.strip()


def _split_svg(svg: str) -> tuple[str, str, float, float]:
    """``(start tag, body, viewBox width, viewBox height)`` of one cleaned ``<svg>``."""
    start = svg[:svg.index(">") + 1]
    width, height = (float(v) for v in _VIEWBOX.search(start).groups())
    return start, svg[len(start):svg.rindex("</svg>")], width, height


def _responsive_svg(wide: str, narrow: str) -> str:
    """One ``<svg>`` holding the desktop drawing and, hidden, the phone drawing.

    The phone drawing is scaled to the desktop viewBox's width; the stylesheet shows it by
    giving the element the phone drawing's aspect ratio (``--narrow-ratio``), which extends the
    viewport below the viewBox (``xMidYMin meet``), and swapping the two groups' ``display``.
    """
    start, body, width, _ = _split_svg(wide)
    _, narrow_body, n_width, n_height = _split_svg(narrow)
    start = start.replace("<svg ", f'<svg class="responsive" style="--narrow-ratio: '
                                   f'{n_width:g} / {n_height:g}" ', 1)
    return (f'{start}<g class="svg-wide">{body}</g>'
            f'<g class="svg-narrow" display="none" transform="scale({width / n_width:.6g})">'
            f'{narrow_body}</g></svg>')


def _figure_svg(draw: Callable[[Any], None], size: tuple[float, float], prefix: str,
                label: str, font_size: float = 9) -> str:
    import matplotlib
    from matplotlib.figure import Figure  # backend-free: never opens a window

    style = {
        "svg.fonttype": "none", "svg.hashsalt": prefix, "font.family": "sans-serif",
        "font.size": font_size, "axes.edgecolor": "#c9d0da", "axes.labelcolor": "#374151",
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


def _plain(text: str, limit: int | None = None) -> str:
    """Text for matplotlib that is never parsed as mathtext (``$`` is escaped), without control
    characters or bidi overrides (:func:`harness.textsafe.plain`); the SVG writer escapes it.
    Text longer than ``limit`` characters is cut there, ending in an ellipsis."""
    text = plain(text, keep="")
    if limit is not None and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return text.replace("$", r"\$")


def _spread_labels(ys: list[float], min_gap: float) -> list[float]:
    """Nudge label heights apart (in data units) so neighbouring names do not overprint."""
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    out = list(ys)
    for a, b in zip(order, order[1:], strict=False):
        if out[b] - out[a] < min_gap:
            out[b] = out[a] + min_gap
    return out


def _two_layouts(draw: Callable[[Any, bool], None], wide_size: tuple[float, float],
                 narrow_height: float, prefix: str, label: str) -> str:
    """Render ``draw(fig, narrow)`` at ``wide_size`` and :data:`NARROW_INCHES` wide, as one
    :func:`_responsive_svg`. The phone drawing is never relatively shorter than the desktop
    one, so at the phone aspect ratio the viewBox still scales by width."""
    wide = _figure_svg(lambda fig: draw(fig, False), wide_size, prefix, label)
    height = max(narrow_height, NARROW_INCHES * wide_size[1] / wide_size[0])
    narrow = _figure_svg(lambda fig: draw(fig, True), (NARROW_INCHES, height), f"{prefix}n-",
                         label, font_size=NARROW_FONT)
    return _responsive_svg(wide, narrow)


def plot_overall_vs_fit(group: Any) -> str | None:
    """Overall (with its CI) against fit time on a log axis, one point per ranked submission;
    reference rows are horizontal dotted lines."""
    rows = [r for r in group.ranked if r.record.cost.fit_s is not None]
    references = [r for r in group.rows if r.reference]
    if not rows:
        return None
    fit = {id(r): max(r.record.cost.fit_s, MIN_PLOT_SECONDS) for r in rows}  # log axis: no zeros
    families = sorted({r.family or "other" for r in rows})
    colour = {f: PALETTE[i % len(PALETTE)] for i, f in enumerate(families)}
    xmin, xmax = min(fit.values()), max(fit.values())
    floored = any(r.record.cost.fit_s < MIN_PLOT_SECONDS for r in rows)

    def draw(fig, narrow):
        ax = fig.add_subplot()
        lead = group.leader_ci
        if lead:
            ax.axhspan(100 * lead[0], 100 * lead[1], color="#f5c542", alpha=0.16, lw=0,
                       label="leader's 95% CI")
        for fam in families:
            sel = [r for r in rows if (r.family or "other") == fam]
            x = [fit[id(r)] for r in sel]
            y = [100 * r.overall for r in sel]
            err = [[100 * (r.overall - r.ci[0]) if r.ci else 0 for r in sel],
                   [100 * (r.ci[1] - r.overall) if r.ci else 0 for r in sel]]
            ax.errorbar(x, y, yerr=err, fmt="o", ms=4.5, color=colour[fam], ecolor=colour[fam],
                        elinewidth=1, capsize=2, alpha=0.9, label=_plain(fam))
        for ref in references:
            ax.axhline(100 * ref.overall, color="#6b7280", lw=0.9, ls=":")
            ax.text(0.99, 100 * ref.overall, _plain(f"{ref.name} (reference)"), ha="right",
                    va="bottom", fontsize=9 if narrow else 7, color="#6b7280",
                    transform=ax.get_yaxis_transform())
        ax.set_xscale("log")
        ys = [100 * r.overall for r in rows]
        lo, hi = min(ys), max(ys)
        gap = max(hi - lo, 2.0) * (0.05 if narrow else 0.045)
        # narrow: names of points in the right third go to their left, inside the axes
        flip = (xmin * (xmax / xmin) ** 0.6) if narrow and xmax > xmin else float("inf")
        for r, y in zip(rows, _spread_labels(ys, gap), strict=True):
            left = fit[id(r)] > flip
            ax.text(fit[id(r)] / 1.13 if left else fit[id(r)] * 1.13, y,
                    _plain(r.name, NARROW_NAME_CHARS // 2 if narrow else None),
                    va="center", ha="right" if left else "left", fontsize=9 if narrow else 7.5,
                    color="#374151", in_layout=not narrow)
        ax.set_xlim(xmin / 1.6, xmax * (1.8 if narrow else 3.5))
        ax.set_xlabel("fit time (s, log scale" + (", under 1 ms drawn at 1 ms)" if floored
                                                  else ")"))
        ax.set_ylabel("overall accuracy (%)")
        ncols = min(2 if narrow else 4, len(families) + 1)
        fig.legend(loc="outside lower center", fontsize=9 if narrow else 7.5, ncols=ncols,
                   handletextpad=0.3, columnspacing=1.2)

    legend_rows = (len(families) + 1 + 1) // 2
    return _two_layouts(draw, (5.2, 3.9 + 0.16 * ((len(families) + 1) // 4)),
                        3.9 + 0.2 * legend_rows, f"{group.id}-fit-",
                        f"Overall accuracy against fit time, {group.set.name}")


def _draw_bars_vertical(fig, group: Any, rows: list, columns: list[str]) -> None:
    """The desktop section chart: one group of vertical bars per submission."""
    ax = fig.add_subplot()
    n = len(columns)
    width = 0.8 / n
    for j, section in enumerate(columns):
        xs = [i + (j - (n - 1) / 2) * width for i in range(len(rows))]
        ys = [100 * _section(r, section) for r in rows]
        ax.bar(xs, ys, width * 0.92, color=PALETTE[j % len(PALETTE)], label=_plain(section),
               alpha=_bar_alpha(group, section))
    ax.axhline(50, color="#9ca3af", lw=0.9, ls=(0, (4, 3)), label="chance")
    ax.set_xticks(range(len(rows)), [_plain(r.name) for r in rows], rotation=30, ha="right",
                  rotation_mode="anchor")
    pad = max(0.0, (4 - len(rows)) / 2)  # keep bars slim when there are few submissions
    ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.grid(axis="x", visible=False)
    ax.tick_params(axis="x", length=0)
    fig.legend(loc="outside upper center", ncols=len(columns) + 1, fontsize=8,
               handlelength=1.2, columnspacing=1.2)


# the phone section chart, per submission: its name above one thin bar per section (inches)
_NAME_IN, _BAR_IN, _GAP_IN = 0.22, 0.085, 0.1


def _draw_bars_horizontal(fig, group: Any, rows: list, columns: list[str]) -> None:
    """The phone section chart: per submission, its name over horizontal bars, in rank order."""
    ax = fig.add_subplot()
    pitch = _NAME_IN + _BAR_IN * len(columns) + _GAP_IN  # inches per submission
    bar = _BAR_IN / pitch  # in data units: one submission is 1
    top = [i - 0.5 + _NAME_IN / pitch for i in range(len(rows))]
    for j, section in enumerate(columns):
        ys = [t + (j + 0.5) * bar for t in top]
        xs = [100 * _section(r, section) for r in rows]
        ax.barh(ys, xs, bar * 0.86, color=PALETTE[j % len(PALETTE)], label=_plain(section),
                alpha=_bar_alpha(group, section))
    for r, t in zip(rows, top, strict=True):
        ax.annotate(_plain(r.name, NARROW_NAME_CHARS), (0, t),
                    xycoords=("axes fraction", "data"), xytext=(1, 2), textcoords="offset points",
                    va="bottom", ha="left", color="#1f2937", in_layout=False)
    ax.axvline(50, color="#9ca3af", lw=0.9, ls=(0, (4, 3)), label="chance")
    ax.set_ylim(len(rows) - 0.5 - _GAP_IN / pitch, -0.5)
    ax.set_xlim(0, 100)
    ax.set_yticks([])
    ax.set_xlabel("accuracy (%)")
    ax.grid(axis="y", visible=False)
    ax.spines["left"].set_visible(False)
    fig.legend(loc="outside upper center", ncols=3, fontsize=9, handlelength=1.2,
               columnspacing=1.0)


def _section(row: Any, section: str) -> float:
    score = row.block.sections.get(section)
    return score.mean if score is not None and score.mean is not None else 0.0


def _bar_alpha(group: Any, section: str) -> float:
    """Bars of sections outside Overall are faded."""
    return 0.9 if section in group.overall_sections or not group.overall_sections else 0.45


def plot_sections(group: Any) -> str | None:
    """Section accuracies per ranked submission as grouped bars (the top ones by rank)."""
    rows = group.ranked[:MAX_BAR_SUBMISSIONS]
    columns = list(group.section_names)
    if not rows or not columns:
        return None
    wide = len(rows) > WIDE_BARS_FROM

    def draw(fig, narrow):
        (_draw_bars_horizontal if narrow else _draw_bars_vertical)(fig, group, rows, columns)

    pitch = _NAME_IN + _BAR_IN * len(columns) + _GAP_IN
    legend_rows = (len(columns) + 1 + 2) // 3
    return _two_layouts(draw, (12.6 if wide else 7.25, 3.9),
                        len(rows) * pitch + 0.75 + 0.2 * legend_rows, f"{group.id}-sec-",
                        f"Section accuracies per submission, {group.set.name}")
