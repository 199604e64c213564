"""The leaderboard: a self-contained static site, a Markdown table and the README block.

:func:`render_site` turns ``results/*.json`` into ``index.html`` (one ranked table per
embedding set and suite, plots, scoring rules, a "Did not finish" list), one page per
submission under ``submissions/``, and ``leaderboard.csv`` / ``leaderboard.json``. Every page
inlines its CSS, JavaScript and SVG plots, so the folder works from ``file://`` and on any
static host, with no request leaving the page. The plots are drawn by :mod:`harness.plots`,
the tables, downloads and Markdown come from :mod:`harness.tables`, and each submission page's
BibTeX from :func:`harness.cite.result_bibtex`.

Templates and static files live in ``leaderboard/templates/`` in the repository.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness.cite import bib_key, result_bibtex, web_links
from harness.errors import HarnessError
from harness.fileio import atomic_write_bytes, dumps_json
from harness.paths import repo_path
from harness.plots import MAX_BAR_SUBMISSIONS, WIDE_BARS_FROM, plot_overall_vs_fit, plot_sections
from harness.results import GroupKey, ResultError, group_by_set, load_records
from harness.suites import RB1_UPWEIGHTED_ROWS, Suite, get_suite
from harness.tables import (
    csv_text,
    dnf_rows,
    flat_rows,
    fmt_ci,
    fmt_count,
    fmt_json,
    fmt_mb,
    fmt_pct,
    fmt_seconds,
    json_document,
    markdown_from_groups,
)
from harness.textsafe import plain, terminal

README_START = "<!-- leaderboard:start -->"
README_END = "<!-- leaderboard:end -->"
GENERATOR = "rewardheads leaderboard"

ISOLATION_NOTES = {
    "bwrap": "bubblewrap sandbox: no network, read-only filesystem except a scratch folder",
    "process": "plain subprocess with resource limits (bubblewrap was unavailable)",
}


class LeaderboardError(HarnessError):
    """The site or README cannot be produced (missing templates, markers ...)."""


# -- data preparation --------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _mean(score: Any) -> float | None:
    return score.get("mean") if isinstance(score, dict) else None


def _ci(score: Any) -> list[float] | None:
    return score.get("ci95") if isinstance(score, dict) else None


def _suite(name: str) -> Suite | None:
    try:
        return get_suite(name)
    except HarnessError:
        return None


def _section_columns(suite: Suite | None, records: list[dict]) -> list[str]:
    present: list[str] = []
    for rec in records:
        for name in rec.get("sections") or {}:
            if name not in present:
                present.append(name)
    order = list(suite.sections) if suite else []
    return [s for s in order if s in present] + sorted(s for s in present if s not in order)


def _created(rec: dict) -> datetime:
    when = datetime.fromisoformat(rec["created"])
    return when if when.tzinfo else when.replace(tzinfo=UTC)


SCORE_KEYS = {"mean": None, "std": None, "ci95": None, "per_seed": [], "n": None, "label": ""}
SUBMISSION_KEYS = {"version": "", "sha256": "", "family": "", "description": "", "authors": [],
                   "license": "", "links": {}, "params": {}, "entry_point": ""}


def _score_view(score: Any) -> dict[str, Any]:
    """A score block with every key present (None or empty where the record has none)."""
    score = score if isinstance(score, dict) else {}
    return {**SCORE_KEYS, **{k: v for k, v in score.items() if v is not None}}


def _row(rec: dict, columns: list[str]) -> dict[str, Any]:
    sub = {**SUBMISSION_KEYS, **{k: v for k, v in rec["submission"].items() if v is not None}}
    cost = rec.get("cost") or {}
    sections = rec.get("sections") or {}
    legacy = rec.get("overall_legacy")
    return {
        "record": rec,
        "sub": sub,
        "subsets": {k: _score_view(v) for k, v in (rec.get("subsets") or {}).items()},
        "overall_info": _score_view(rec["overall"]),
        "legacy_info": _score_view(legacy) if legacy else None,
        "name": sub["name"],
        "version": sub.get("version") or "",
        "family": sub.get("family") or "",
        "authors": sub.get("authors") or [],
        "overall": rec["overall"]["mean"],
        "ci": _ci(rec["overall"]),
        "std": rec["overall"].get("std"),
        "per_seed": rec["overall"].get("per_seed") or [],
        "sections": {s: _mean(sections.get(s)) for s in columns},
        "section_info": {s: _score_view(sections.get(s)) for s in columns},
        "legacy": _mean(legacy),
        "legacy_ci": _ci(legacy),
        "seeds": rec.get("seeds") or [],
        "fit_s": cost.get("fit_s"),
        "score_s": cost.get("score_s"),
        "peak_rss_mb": cost.get("peak_rss_mb"),
        "params": cost.get("params"),
        "created": _created(rec),
        "missing": [str(m) for m in rec.get("missing_subsets") or []],
        "sandboxed": rec.get("isolation") == "bwrap",
        "search": " ".join([sub["name"], sub.get("version") or "", sub.get("family") or "",
                            *(sub.get("authors") or []), sub.get("license") or ""]).lower(),
    }


def _rank(rows: list[dict]) -> None:
    """Sort by overall (then CI low end, then name); competition ranks; CI-overlap ties."""
    rows.sort(key=lambda r: (-r["overall"], -(r["ci"][0] if r["ci"] else -math.inf), r["name"]))
    prev, rank = None, 0
    for i, row in enumerate(rows, 1):
        if row["overall"] != prev:
            rank, prev = i, row["overall"]
        row["rank"] = rank
    lead = rows[0]["ci"] if rows else None
    for row in rows:
        row["leader"] = row["rank"] == 1
        row["tied"] = bool(not row["leader"] and lead and row["ci"]
                           and row["ci"][1] >= lead[0] and row["ci"][0] <= lead[1])


def _best(rows: list[dict], columns: list[str]) -> dict[str, float]:
    """Best value per column: highest score, lowest fit time and parameter count."""
    best: dict[str, float] = {}

    def pick(key, values, fn):
        values = [v for v in values if v is not None]
        if values:
            best[key] = fn(values)

    pick("overall", [r["overall"] for r in rows], max)
    for s in columns:
        pick(f"s:{s}", [r["sections"][s] for r in rows], max)
    pick("legacy", [r["legacy"] for r in rows], max)
    pick("fit_s", [r["fit_s"] for r in rows], min)
    pick("params", [r["params"] for r in rows], min)
    return best


def _unique_slugs(groups: list[dict]) -> None:
    """Give each ranked row a page name: the submission name, made longer only on clashes."""
    rows = [(g, r) for g in groups for r in g["rows"]]
    counts: dict[str, int] = {}
    for _, r in rows:
        counts[r["name"]] = counts.get(r["name"], 0) + 1
    used: set[str] = set()
    for g, r in rows:
        key = g["key"]
        candidates = [r["name"], f"{r['name']}--{key[0]}-{key[1]}",
                      f"{r['name']}--{key[0]}-{key[1]}-{_slug(key[3])}",
                      f"{r['name']}--{key[0]}-{key[1]}-{_slug(key[3])}-{key[2][:12]}"]
        if counts[r["name"]] > 1:
            candidates = candidates[1:]
        for cand in candidates:
            cand = re.sub(r"[^A-Za-z0-9._+-]", "-", cand)
            if cand.lower() not in used:
                break
        else:  # names that differ only in characters a file name cannot keep
            cand = f"{cand}-{len(used)}"
        used.add(cand.lower())
        r["slug"] = cand


def _group(key: GroupKey, records: list[dict]) -> dict[str, Any]:
    suite = _suite(key[3])
    ok = [r for r in records if r["status"] == "ok"]
    columns = _section_columns(suite, ok)
    rows = [_row(r, columns) for r in ok]
    _rank(rows)
    overall_sections = list(suite.overall_sections) if suite else []
    labels = [r["overall"].get("label") for r in ok]
    legacy_labels = [r["overall_legacy"]["label"] for r in ok if r.get("overall_legacy")]
    first = max(records, key=_created)
    return {
        "key": key,
        "id": "g-" + _slug(f"{key[0]}-{key[1]}-{key[3]}-{key[2][:8]}"),
        "set": {"name": key[0], "version": key[1], "manifest_sha256": key[2],
                "model": first["set"].get("model") or ""},
        "suite": key[3],
        "suite_obj": suite,
        "columns": columns,
        "overall_sections": overall_sections,
        "aux_sections": [c for c in columns if overall_sections and c not in overall_sections],
        "has_legacy": any(r["legacy"] is not None for r in rows),
        "overall_label": labels[0] if labels else (suite.overall_label if suite else "overall"),
        "legacy_label": legacy_labels[0] if legacy_labels else (suite.legacy_label if suite
                                                               else ""),
        "rows": rows,
        "best": _best(rows, columns),
        "dnf": [r for r in records if r["status"] != "ok"],
        "harness_versions": sorted({r["harness"] for r in records}),
        "leader_ci": rows[0]["ci"] if rows else None,
        "n_tied": sum(r["tied"] for r in rows),
    }


def build_groups(records: Iterable[dict]) -> list[dict[str, Any]]:
    """One view per (set, version, manifest, suite): ranked rows, DNF records, best values."""
    groups = [_group(key, recs) for key, recs in group_by_set(records).items()]
    _unique_slugs(groups)
    return groups


def _load(results_dir: str | Path, warn: Callable[[str], None] | None, published: bool = False):
    records, problems = load_records(results_dir)
    warn = warn or _stderr_warning
    for line in problems:
        warn(line)
    if published:
        refuse_unsandboxed(records)
    return build_groups(records), problems


def refuse_unsandboxed(records: Iterable[dict]) -> None:
    """The published board takes only results computed under bubblewrap (see SECURITY.md)."""
    bad = sorted(r["submission"]["name"] for r in records
                 if r.get("status") == "ok" and r.get("isolation") != "bwrap")
    if bad:
        raise LeaderboardError(f"{len(bad)} result(s) were not computed under bubblewrap ("
                               f"{', '.join(terminal(b) for b in bad[:5])}{' ...' if len(bad) > 5 else ''}); "
                               "the published leaderboard refuses them: rerun with --isolation bwrap, "
                               "or pass --allow-unsandboxed for a private board")


def _stderr_warning(line: str) -> None:
    print(f"warning: {terminal(line)}", file=sys.stderr)


# -- HTML --------------------------------------------------------------------------------------
def _templates_dir() -> Path:
    path = repo_path("leaderboard", "templates")
    if not (path / "index.html").is_file():
        raise LeaderboardError(f"leaderboard templates not found in {path} (a source checkout "
                               "is needed to render the site)")
    return path


def _finalize(value: Any) -> Any:
    """Every ``{{ ... }}`` of the templates: text loses control characters and bidi overrides
    (:func:`harness.textsafe.plain`) before autoescape; our own markup (CSS, JS, SVG) is kept."""
    from markupsafe import Markup

    return plain(value, keep="\n\t") if isinstance(value, str) and not isinstance(value, Markup) \
        else value


def _environment():
    import jinja2

    env = jinja2.Environment(
        finalize=_finalize,
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pct=fmt_pct, ci=fmt_ci, secs=fmt_seconds, count=fmt_count, mb=fmt_mb,
                       jsonv=fmt_json, slug=_slug, weblinks=web_links)
    return env


def _static(name: str) -> str:
    text = (_templates_dir() / name).read_text(encoding="utf-8")
    if name.endswith(".js") and "</script" in text.lower():
        raise LeaderboardError(f"{name} must not contain '</script'")
    return text


def _now(now: datetime | None) -> datetime:
    if now is not None:
        return now.astimezone(UTC)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def _suites_for_rules(groups: list[dict]) -> list[Suite]:
    seen: dict[str, Suite] = {}
    for g in groups:
        if g["suite_obj"] is not None:
            seen.setdefault(g["suite_obj"].name, g["suite_obj"])
    return list(seen.values())


def _common(groups: list[dict], generated: datetime) -> dict[str, Any]:
    from markupsafe import Markup

    return {
        "css": Markup(_static("style.css")),
        "js": Markup(_static("app.js")),
        "groups": groups,
        "generated": generated.strftime("%Y-%m-%d %H:%M UTC"),
        "generated_iso": generated.isoformat(),
        "version": __version__,
        "generator": GENERATOR,
        "isolation_notes": ISOLATION_NOTES,
        "upweighted_rows": RB1_UPWEIGHTED_ROWS,
    }


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _remove_stale_pages(folder: Path, keep: set[str]) -> None:
    """Delete submission pages of earlier renders that are no longer produced (ours only)."""
    if not folder.is_dir():
        return
    marker = f'<meta name="generator" content="{GENERATOR}'
    for page in folder.glob("*.html"):
        if page.name in keep:
            continue
        try:
            head = page.read_text(encoding="utf-8", errors="replace")[:2000]
        except OSError:
            continue
        if marker in head:
            page.unlink(missing_ok=True)


def _citation(rec: dict) -> str:
    """A submission page's BibTeX: :func:`result_bibtex` keyed ``rewardheads:NAME:SET-VERSION``."""
    s = rec["set"]
    key = bib_key("rewardheads", rec["submission"]["name"], f"{s['name']}-{s['version']}", sep=":")
    return result_bibtex(rec, key)


def render_site(results_dir: str | Path, out_dir: str | Path, *,
                warn: Callable[[str], None] | None = None,
                now: datetime | None = None, published: bool = False) -> Path:
    """Write the static site for ``results_dir`` into ``out_dir``; return ``index.html``.

    Malformed result files are skipped and reported through ``warn`` (default: a
    ``warning: ...`` line on stderr). ``now`` (or ``$SOURCE_DATE_EPOCH``) fixes the
    generation time shown on the pages.
    """
    out_dir = Path(out_dir)
    groups, problems = _load(results_dir, warn, published)
    generated = _now(now)
    env = _environment()
    common = _common(groups, generated)
    for g in groups:
        g["plots"] = [p for p in (
            ("fit", plot_overall_vs_fit(g),
             "Overall accuracy against fit time (log scale), coloured by head family. Bars: 95% "
             "CI; shaded band: the leader's 95% CI, so a point whose bar reaches it is "
             "statistically tied.", False),
            ("sections", plot_sections(g),
             "Section accuracies per submission, in rank order"
             + (f" (top {MAX_BAR_SUBMISSIONS})" if len(g["rows"]) > MAX_BAR_SUBMISSIONS
                else "") + ". Dashed line: chance (50%)."
             + (" Faded bars: not part of Overall." if g["aux_sections"] else ""),
             len(g["rows"]) > WIDE_BARS_FROM),
        ) if p[1]]

    header, rows = flat_rows(groups)
    dnf = dnf_rows(groups)
    index = env.get_template("index.html").render(
        **common, dnf=dnf, problems=problems, suites=_suites_for_rules(groups),
        n_ranked=sum(len(g["rows"]) for g in groups), root="")
    _write_text(out_dir / "index.html", index)

    page_t = env.get_template("submission.html")
    pages: set[str] = set()
    for g in groups:
        for r in g["rows"]:
            html = page_t.render(**common, g=g, r=r, rec=r["record"], bib=_citation(r["record"]),
                                 root="../", n_rows=len(g["rows"]))
            pages.add(f"{r['slug']}.html")
            _write_text(out_dir / "submissions" / f"{r['slug']}.html", html)
    _remove_stale_pages(out_dir / "submissions", pages)

    _write_text(out_dir / "leaderboard.csv", csv_text(header, rows))
    _write_text(out_dir / "leaderboard.json",
                dumps_json(json_document(groups, rows, generated.isoformat())))
    return out_dir / "index.html"


# -- Markdown / README -------------------------------------------------------------------------
def render_markdown(results_dir: str | Path, *,
                    warn: Callable[[str], None] | None = None, published: bool = False) -> str:
    """A Markdown (GitHub) table per set and suite, in rank order, with the same columns."""
    groups, _ = _load(results_dir, warn, published)
    return markdown_from_groups(groups)


def update_readme(readme_path: str | Path, results_dir: str | Path, *,
                  warn: Callable[[str], None] | None = None, published: bool = False) -> bool:
    """Replace the text between the leaderboard markers; True when the file changed."""
    path = Path(readme_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise LeaderboardError(f"{path}: cannot read ({err.strerror or err})") from None
    starts, ends = text.count(README_START), text.count(README_END)
    if starts != 1 or ends != 1:
        raise LeaderboardError(
            f"{path}: needs exactly one '{README_START}' and one '{README_END}' line around the "
            f"leaderboard (found {starts} and {ends})")
    head, rest = text.split(README_START)
    if README_END not in rest:
        raise LeaderboardError(f"{path}: '{README_END}' comes before '{README_START}'")
    _, tail = rest.split(README_END)
    table = render_markdown(results_dir, warn=warn, published=published)
    new = f"{head}{README_START}\n{table}{README_END}{tail}"
    if new == text:
        return False
    _write_text(path, new)
    return True


def timed_render(results_dir: str | Path, out_dir: str | Path, **kwargs) -> tuple[Path, float]:
    """:func:`render_site` and the seconds it took (for the CLI)."""
    start = time.perf_counter()
    path = render_site(results_dir, out_dir, **kwargs)
    return path, time.perf_counter() - start


__all__ = ["LeaderboardError", "README_END", "README_START", "ResultError", "build_groups",
           "render_markdown", "render_site", "timed_render", "update_readme"]
