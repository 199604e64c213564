"""The leaderboard as tables: cell formatting, CSV/JSON downloads and the Markdown ranking.

Every function takes the groups of :func:`harness.leaderboard.build_groups`; the same cell
formatters serve the HTML templates (as Jinja filters) and the Markdown table.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

from harness import __version__
from harness.textsafe import csv_cell, md_cell

#: Columns of leaderboard.csv / rows of leaderboard.json, before and after the sections.
CSV_HEAD = ["set", "set_version", "manifest_sha256", "suite", "rank", "name", "version", "family",
            "overall", "overall_ci_low", "overall_ci_high", "overall_std", "tied_with_leader"]
CSV_TAIL = ["legacy_overall", "legacy_ci_low", "legacy_ci_high", "n_seeds", "seeds", "fit_s",
            "score_s", "peak_rss_mb", "params", "created", "submission_sha256", "harness",
            "isolation", "page"]


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


# -- CSV / JSON --------------------------------------------------------------------------------
def _column_key(section: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", section.lower()).strip("_")


def flat_rows(groups: list[dict]) -> tuple[list[str], list[dict[str, Any]]]:
    """CSV header and one flat dict per ranked row (the same dicts go into the JSON)."""
    sections: list[str] = []
    for g in groups:
        sections += [s for s in g["columns"] if s not in sections]
    header = CSV_HEAD + [_column_key(s) for s in sections] + CSV_TAIL
    out = []
    for g in groups:
        for r in g["rows"]:
            rec = r["record"]
            flat = {
                "set": g["set"]["name"], "set_version": g["set"]["version"],
                "manifest_sha256": g["set"]["manifest_sha256"], "suite": g["suite"],
                "rank": r["rank"], "name": r["name"], "version": r["version"],
                "family": r["family"], "overall": r["overall"],
                "overall_ci_low": r["ci"][0] if r["ci"] else None,
                "overall_ci_high": r["ci"][1] if r["ci"] else None,
                "overall_std": r["std"], "tied_with_leader": r["tied"],
                **{_column_key(s): r["sections"].get(s) for s in sections},
                "legacy_overall": r["legacy"],
                "legacy_ci_low": r["legacy_ci"][0] if r["legacy_ci"] else None,
                "legacy_ci_high": r["legacy_ci"][1] if r["legacy_ci"] else None,
                "n_seeds": len(r["seeds"]), "seeds": " ".join(map(str, r["seeds"])),
                "fit_s": r["fit_s"], "score_s": r["score_s"], "peak_rss_mb": r["peak_rss_mb"],
                "params": r["params"], "created": rec["created"],
                "submission_sha256": rec["submission"].get("sha256"),
                "harness": rec["harness"], "isolation": rec["isolation"],
                "page": f"submissions/{r['slug']}.html",
            }
            out.append({k: flat.get(k) for k in header})
    return header, out


def dnf_rows(groups: list[dict]) -> list[dict[str, Any]]:
    """One flat dict per record that did not finish (name, set, suite, status, error ...)."""
    return [{"name": rec["submission"]["name"], "version": rec["submission"].get("version"),
             "family": rec["submission"].get("family"), "set": g["set"]["name"],
             "set_version": g["set"]["version"], "suite": g["suite"], "status": rec["status"],
             "error": rec["error"], "created": rec["created"], "command": rec["command"]}
            for g in groups for rec in sorted(g["dnf"], key=lambda r: r["submission"]["name"])]


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


def json_document(groups: list[dict], rows: list[dict], generated: str) -> dict[str, Any]:
    """leaderboard.json: the flat rows of :func:`flat_rows` per group, plus the DNF list."""
    by_group: dict[tuple, list] = {}
    for row in rows:
        by_group.setdefault((row["set"], row["set_version"], row["manifest_sha256"],
                             row["suite"]), []).append(row)
    return {
        "generator": f"rewardheads {__version__}",
        "generated": generated,
        "groups": [{"set": g["set"], "suite": g["suite"], "overall_label": g["overall_label"],
                    "legacy_label": g["legacy_label"] if g["has_legacy"] else None,
                    "sections": g["columns"], "rows": by_group.get(g["key"], [])}
                   for g in groups],
        "did_not_finish": dnf_rows(groups),
    }


# -- Markdown ----------------------------------------------------------------------------------
def _md_table(g: dict) -> str:
    from tabulate import tabulate

    best = g["best"]

    def bold(text: str, value, key: str) -> str:
        return f"**{text}**" if value is not None and best.get(key) == value else text

    headers = ["Rank", "Submission", "Family", "Overall (95% CI)"] + [md_cell(c) for c in g["columns"]]
    if g["has_legacy"]:
        headers.append("Legacy overall")
    headers += ["Seeds", "Fit (s)", "Params"]
    table = []
    for r in g["rows"]:
        overall = bold(fmt_pct(r["overall"]), r["overall"], "overall")
        if r["ci"]:
            overall += f" ({fmt_ci(r['ci'])})"
        name = md_cell(r["name"] + (f" {r['version']}" if r["version"] else "")) + ("" if r["sandboxed"] else " †")
        line = [f"{r['rank']}{' ≈' if r['tied'] else ''}", name, md_cell(r["family"] or "—"),
                overall]
        line += [bold(fmt_pct(r["sections"][s]), r["sections"][s], f"s:{s}") for s in g["columns"]]
        if g["has_legacy"]:
            line.append(bold(fmt_pct(r["legacy"]), r["legacy"], "legacy"))
        line += [str(len(r["seeds"])), bold(fmt_seconds(r["fit_s"]), r["fit_s"], "fit_s"),
                 bold(fmt_count(r["params"]), r["params"], "params")]
        table.append(line)
    align = ["right", "left", "left"] + ["right"] * (len(headers) - 3)
    return tabulate(table, headers=headers, tablefmt="github", colalign=align,
                    disable_numparse=True)


def _md_title(g: dict) -> str:
    s = g["set"]
    digest = s["manifest_sha256"][:12]
    digest = f"`{digest}`" if re.fullmatch(r"[0-9a-fA-F]+", digest) else md_cell(digest)
    return (f"**{md_cell(s['name'])} v{md_cell(s['version'])}** · {md_cell(g['suite'])} · "
            f"manifest {digest}" + (f" · {md_cell(s['model'])}" if s["model"] else ""))


def markdown_from_groups(groups: list[dict]) -> str:
    """The Markdown ranking for already-built groups (see :func:`harness.leaderboard.render_markdown`).

    Every string from a record goes through :func:`harness.textsafe.md_cell`.
    """
    if not groups:
        return "_No results yet._\n"
    parts = []
    for g in groups:
        parts.append(_md_title(g))
        if g["rows"]:
            parts.append(_md_table(g))
            notes = [f"Overall: {md_cell(g['overall_label'])}."]
            if g["has_legacy"]:
                notes.append(f"Legacy overall: {md_cell(g['legacy_label'])}.")
            if g["n_tied"]:
                notes.append("≈ statistically tied with #1 (95% CIs of overall overlap).")
            notes.append("Bold: best in column.")
            if not all(r["sandboxed"] for r in g["rows"]):
                notes.append("† not run under bubblewrap (process isolation): a trusted author's own run, "
                             "not eligible for the published leaderboard.")
            parts.append(" ".join(notes))
        else:
            parts.append("_No ranked submissions._")
        if g["dnf"]:
            parts.append("Did not finish: " + "; ".join(
                f"{md_cell(rec['submission']['name'])} ({md_cell(rec['status'])}: "
                f"{md_cell(rec['error'])})"
                for rec in sorted(g["dnf"], key=lambda r: r["submission"]["name"])))
    return "\n\n".join(parts) + "\n"
