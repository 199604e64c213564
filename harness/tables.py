"""The leaderboard as tables: ONE column spec, cell formatting, CSV/JSON and the Markdown ranking.

A table's columns are a list of :class:`Column` (key, label, getter, format, which way is
better, whether it counts for "best in column"), built per group by :func:`group_columns`: the
fixed head (rank, submission, family), the columns the group's suite contributes
(:meth:`harness.suites.SuiteBase.columns`: overall, sections, legacy overall), the
:data:`EXTRA_COLUMNS` hooks, and the fixed tail (seeds, fit time, parameters, date). The same
spec drives the HTML table (``index.html``), the Markdown table, ``leaderboard.csv`` /
``leaderboard.json`` and :func:`best_values`. Adding a column is one entry: append to
:data:`TAIL_COLUMNS` (or return it from a hook in :data:`EXTRA_COLUMNS`).

Rows are :class:`harness.leaderboard.BoardRow` (a typed record, its suite block, its rank).
Reference rows (family ``reference``) are shown but have no rank and are never best.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness import __version__
from harness.textsafe import csv_cell, md_cell


# -- formatting --------------------------------------------------------------------------------
def fmt_pct(x: float | None, digits: int = 1) -> str:
    """An accuracy as a percentage: 0.5712 -> '57.1'; None -> an em dash."""
    return "—" if x is None else f"{100 * x:.{digits}f}"


def fmt_ci(ci: list[float] | None) -> str:
    """A 95% CI as a percentage range: [0.55, 0.59] -> '55.0–59.0'; None -> ''."""
    return "" if not ci else f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}"


def fmt_seconds(x: float | None) -> str:
    """Seconds with precision that shrinks as they grow: 0.004 -> '<0.01'; 12.34 -> '12.3'."""
    if x is None:
        return "—"
    if x < 0.005:
        return "<0.01"
    if x < 10:
        return f"{x:.2f}"
    if x < 1000:
        return f"{x:.1f}"
    return f"{x:,.0f}"


def fmt_count(x: float | None) -> str:
    """1114113 -> '1.11M'; 51200 -> '51.2k'."""
    if x is None:
        return "—"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            v = x / div
            return f"{v:.3g}{unit}" if v < 1000 else f"{v:,.0f}{unit}"
    return f"{x:g}"


def fmt_mb(x: float | None) -> str:
    """Megabytes, as GB from 1024 MB: 310 -> '310 MB'; 2048 -> '2.00 GB'."""
    if x is None:
        return "—"
    return f"{x / 1024:.2f} GB" if x >= 1024 else f"{x:.0f} MB"


def fmt_json(value: Any) -> str:
    """A string as is, anything else as sorted-key JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


# -- the column spec ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    """One leaderboard column: every table, download and "best in column" reads this.

    ``get(row)`` is the cell's value (a number, a string or None), ``fmt(value)`` its text;
    ``ci(row)`` an optional ``[lo, hi]`` shown next to it (and as ``<key>_ci_low/high`` in the
    CSV). ``better`` is ``"higher"``, ``"lower"`` or None (not comparable); ``best`` says
    whether the column's best value is bold. ``aux`` marks a column outside the overall;
    ``sort`` is ``"num"`` or ``"text"``; ``where`` names the outputs that show it.
    """

    key: str
    label: str
    get: Callable[[Any], Any]
    fmt: Callable[[Any], str] = str
    better: str | None = None
    best: bool = False
    ci: Callable[[Any], Any] | None = None
    title: str = ""
    aux: bool = False
    sort: str = "num"
    md_label: str = ""  # the Markdown header, when it differs from ``label``
    html_key: str = ""  # the HTML sort key (in the page's URL), when it differs from ``key``
    render: Callable[[Any], str] | None = None  # the cell text from the row, when not fmt(get(row))
    where: frozenset[str] = field(default_factory=lambda: frozenset({"html", "md", "csv"}))

    def text(self, row: Any) -> str:
        """The formatted cell (``—`` for a missing number)."""
        if self.render is not None:
            return self.render(row)
        return self.fmt(self.get(row))

    def is_best(self, row: Any, best: dict[str, Any]) -> bool:
        """True when ``row`` holds this column's best value (never for a reference row)."""
        value = self.get(row)
        return (self.best and value is not None and not row.reference
                and self.key in best and best[self.key] == value)


def _score_of(source: str, name: str) -> Callable[[Any], Any]:
    def get(row):
        score = row.block.score(source, name)
        return None if score is None else score.mean
    return get


def _ci_of(source: str, name: str) -> Callable[[Any], Any]:
    def get(row):
        score = row.block.score(source, name)
        return None if score is None or not score.ci95 else list(score.ci95)
    return get


def _rank_text(row: Any) -> str:
    return "ref" if row.rank is None else f"{row.rank}{' ≈' if row.tied else ''}"


HEAD_COLUMNS: list[Column] = [
    Column("rank", "#", lambda r: r.rank, lambda v: "ref" if v is None else str(v),
           title="Rank by overall score (reference rows are not ranked)", md_label="Rank"),
    Column("name", "Submission", lambda r: r.name, sort="text"),
    Column("version", "Version", lambda r: r.version or None, lambda v: v or "", sort="text",
           where=frozenset({"csv"})),
    Column("family", "Family", lambda r: r.family or None, lambda v: v or "—", sort="text"),
]

TAIL_COLUMNS: list[Column] = [
    Column("n_seeds", "Seeds", lambda r: len(r.record.seeds), title="Training seeds averaged",
           html_key="seeds"),
    Column("fit_s", "Fit (s)", lambda r: r.record.cost.fit_s, fmt_seconds, "lower", True,
           title="Training time (seconds)", html_key="fit"),
    Column("params", "Params", lambda r: r.record.cost.params, fmt_count, "lower", True,
           title="Trainable parameters"),
    Column("date", "Date", lambda r: r.created.strftime("%Y-%m-%d"), where=frozenset({"html"}),
           sort="text", title="When the result was computed"),
]


def suite_columns(suite: Any) -> list[Column]:
    """The columns a suite contributes, from its :class:`harness.suites.SuiteColumn` list."""
    cols = []
    for sc in suite.columns():
        key = "overall" if sc.source == "overall" else (
            _column_key(sc.name) if sc.source == "section" else _column_key(sc.source))
        cols.append(Column(key, sc.label, _score_of(sc.source, sc.name),
                           fmt_pct if sc.fmt == "pct" else _fmt_num,
                           "higher" if sc.higher_is_better else "lower", True,
                           _ci_of(sc.source, sc.name) if sc.ci or sc.source != "section" else None,
                           aux=sc.aux, md_label=f"{sc.label} (95% CI)" if sc.ci else "",
                           html_key="legacy" if sc.source == "overall_legacy" else ""))
    return cols


def _fmt_num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


#: Hooks for columns computed elsewhere: ``hook(group) -> list[Column]``, inserted after the
#: suite's columns. Two are planned: "Δ vs leader" (paired bootstrap against #1 with CI and a
#: not-significant marker, :func:`harness.significance.versus_leader`) and "length gap"
#: (accuracy where chosen is longer minus where it is shorter, :mod:`harness.lengthbias`);
#: :mod:`harness.leaderboard` registers them (see ``_paired_columns``). A hook reads what it
#: needs from ``group`` (``group.key``, ``group.rows``, ``group.extras``).
EXTRA_COLUMNS: list[Callable[[Any], list[Column]]] = []


def group_columns(group: Any) -> list[Column]:
    """Every column of a group's table, in order: a suite's section column only when some row
    has that section, and a section the suite does not declare after the suite's own."""
    present = list(group.section_names)
    declared = {sc.name for sc in group.suite.columns() if sc.source == "section"}
    own = []
    for col, sc in zip(suite_columns(group.suite), group.suite.columns(), strict=True):
        if sc.source == "section":
            keep = sc.name in present
        else:  # the overall always; another (the legacy overall) when some row has it
            keep = sc.source == "overall" or any(col.get(r) is not None for r in group.rows)
        if keep:
            own.append(col)
    extra = [Column(_column_key(name), name, _score_of("section", name), fmt_pct, "higher", True, aux=True)
             for name in present if name not in declared]
    cols = [*HEAD_COLUMNS, *own, *extra]
    for hook in EXTRA_COLUMNS:
        cols += hook(group)
    return [*cols, *TAIL_COLUMNS]


def best_values(columns: list[Column], rows: list[Any]) -> dict[str, Any]:
    """Per column that counts for it, the best value among ranked (non-reference) rows."""
    best = {}
    for col in columns:
        if not col.best or col.better is None:
            continue
        values = [v for r in rows if not r.reference and (v := col.get(r)) is not None]
        if values:
            best[col.key] = max(values) if col.better == "higher" else min(values)
    return best


# -- CSV / JSON --------------------------------------------------------------------------------
def _column_key(section: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", section.lower()).strip("_")


CSV_PREFIX = ["set", "set_version", "manifest_sha256", "suite"]
CSV_SUFFIX = ["tied_with_leader", "reference", "overall_std", "seeds", "created",
              "submission_sha256", "harness", "isolation", "page"]


def _flat(g: Any, r: Any, columns: list[Column]) -> dict[str, Any]:
    flat: dict[str, Any] = {"set": g.set.name, "set_version": g.set.version,
                            "manifest_sha256": g.set.manifest_sha256, "suite": g.suite.name}
    for col in columns:
        if "csv" not in col.where:
            continue
        flat[col.key] = col.get(r)
        if col.ci is not None:
            ci = col.ci(r)
            flat[f"{col.key}_ci_low"], flat[f"{col.key}_ci_high"] = ci if ci else (None, None)
    rec = r.record
    flat.update({"tied_with_leader": r.tied, "reference": r.reference,
                 "overall_std": r.block.overall.std if r.block.overall else None,
                 "seeds": " ".join(map(str, rec.seeds)), "created": rec.created,
                 "submission_sha256": rec.submission.sha256 or None, "harness": rec.harness,
                 "isolation": rec.isolation, "page": f"submissions/{r.slug}.html"})
    return flat


def flat_rows(groups: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """CSV header (the union of every group's columns) and one flat dict per shown row."""
    header: list[str] = []
    out = []
    for g in groups:
        for r in g.rows:
            flat = _flat(g, r, g.columns)
            header += [k for k in flat if k not in header]
            out.append(flat)
    header = CSV_PREFIX + [k for k in header if k not in CSV_PREFIX + CSV_SUFFIX] + CSV_SUFFIX
    return header, [{k: row.get(k) for k in header} for row in out]


def dnf_rows(groups: list[Any]) -> list[dict[str, Any]]:
    """One flat dict per record that did not finish (name, set, suite, status, error ...)."""
    return [{"name": rec.submission.name, "version": rec.submission.version or None,
             "family": rec.submission.family or None, "set": g.set.name,
             "set_version": g.set.version, "suite": g.suite.name, "status": rec.status,
             "error": rec.error, "created": rec.created, "command": rec.command}
            for g in groups for rec in sorted(g.dnf, key=lambda r: r.submission.name)]


def csv_text(header: list[str], rows: list[dict]) -> str:
    """leaderboard.csv: the header and one line per row (None as an empty cell).

    Every cell goes through :func:`harness.textsafe.csv_cell`, so no cell is a formula.
    """
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[csv_cell(k) for k in header], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({csv_cell(k): ("" if v is None else csv_cell(v)) for k, v in row.items()})
    return buf.getvalue()


def json_document(groups: list[Any], rows: list[dict], generated: str) -> dict[str, Any]:
    """leaderboard.json: the flat rows of :func:`flat_rows` per group, plus the DNF list."""
    by_group: dict[tuple, list] = {}
    for row in rows:
        by_group.setdefault((row["set"], row["set_version"], row["manifest_sha256"],
                             row["suite"]), []).append(row)
    return {
        "generator": f"rewardheads {__version__}",
        "generated": generated,
        "groups": [{"set": g.set_json, "suite": g.suite.name, "overall_label": g.overall_label,
                    "legacy_label": g.legacy_label if g.has_legacy else None,
                    "sections": list(g.section_names), "columns": [c.key for c in g.columns],
                    "rows": by_group.get(g.key, [])}
                   for g in groups],
        "did_not_finish": dnf_rows(groups),
    }


# -- Markdown ----------------------------------------------------------------------------------
def _md_table(g: Any) -> str:
    from tabulate import tabulate

    cols = [c for c in g.columns if "md" in c.where]
    headers = [md_cell(c.md_label or c.label) for c in cols]
    table = []
    for r in g.rows:
        line = []
        for c in cols:
            if c.key == "rank":
                line.append(_rank_text(r))
                continue
            text = c.text(r)
            if c.key == "name":
                text = r.label + ("" if r.sandboxed else " †")
            text = md_cell(text) if c.sort == "text" else text
            if c.is_best(r, g.best):
                text = f"**{text}**"
            if c.ci is not None and c.key == "overall" and (ci := c.ci(r)):
                text += f" ({fmt_ci(ci)})"
            line.append(text)
        table.append(line)
    align = ["right", "left", "left"] + ["right"] * (len(headers) - 3)
    return tabulate(table, headers=headers, tablefmt="github", colalign=align,
                    disable_numparse=True)


def _md_title(g: Any) -> str:
    s = g.set
    digest = s.manifest_sha256[:12]
    digest = f"`{digest}`" if re.fullmatch(r"[0-9a-fA-F]+", digest) else md_cell(digest)
    return (f"**{md_cell(s.name)} v{md_cell(s.version)}** · {md_cell(g.suite.name)} · "
            f"manifest {digest}" + (f" · {md_cell(s.model)}" if s.model else ""))


def markdown_from_groups(groups: list[Any]) -> str:
    """The Markdown ranking for already-built groups (see :func:`harness.leaderboard.render_markdown`).

    Every string from a record goes through :func:`harness.textsafe.md_cell`.
    """
    if not groups:
        return "_No results yet._\n"
    parts = []
    for g in groups:
        parts.append(_md_title(g))
        if g.rows:
            parts.append(_md_table(g))
            notes = [f"Overall: {md_cell(g.overall_label)}."]
            if g.has_legacy:
                notes.append(f"Legacy overall: {md_cell(g.legacy_label)}.")
            if g.n_tied and g.extras.get("paired_ties"):
                notes.append("≈ not significantly different from #1 (paired bootstrap on the same items: the "
                             "95% CI of Δ holds 0).")
            elif len(g.ranked) > 1 and not g.extras.get("paired_ties"):
                notes.append("No ≈ marks: the paired test against #1 needs the set on this machine.")
            if any(r.reference for r in g.rows):
                notes.append("ref: a reference line (random, length), not ranked.")
            notes.append("Bold: best in column.")
            if not all(r.sandboxed for r in g.rows):
                notes.append("† not run under bubblewrap (process isolation): a trusted author's own run, "
                             "not eligible for the published leaderboard.")
            parts.append(" ".join(notes))
        else:
            parts.append("_No ranked submissions._")
        if g.dnf:
            parts.append("Did not finish: " + "; ".join(
                f"{md_cell(rec.submission.name)} ({md_cell(rec.status)}: "
                f"{md_cell(rec.error)})"
                for rec in sorted(g.dnf, key=lambda r: r.submission.name)))
    return "\n\n".join(parts) + "\n"
