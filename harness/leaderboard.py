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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import __version__
from harness.cite import bib_key, result_bibtex, web_links
from harness.errors import HarnessError
from harness.fileio import atomic_write_bytes, dumps_json
from harness.paths import repo_path
from harness.plots import MAX_BAR_SUBMISSIONS, WIDE_BARS_FROM, plot_overall_vs_fit, plot_sections
from harness.records import ResultRecord, SetInfo, SuiteBlock
from harness.results import GroupKey, ResultError, load_records
from harness.suites import RB1_UPWEIGHTED_ROWS, SUITES, Suite, SuiteBase, get_suite
from harness.tables import (
    EXTRA_COLUMNS,
    Column,
    best_values,
    csv_text,
    dnf_rows,
    flat_rows,
    fmt_ci,
    fmt_count,
    fmt_json,
    fmt_mb,
    fmt_pct,
    fmt_seconds,
    group_columns,
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


def _created(rec: ResultRecord) -> datetime:
    when = datetime.fromisoformat(rec.created)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(eq=False)
class BoardRow:
    """One submission's row in one (set, suite) table: its record, that suite's block, its rank.

    A reference row (family ``reference``) has ``rank`` None and is never best in a column.
    """

    record: ResultRecord
    block: SuiteBlock
    rank: int | None = None
    leader: bool = False
    tied: bool = False
    slug: str = ""

    name = property(lambda self: self.record.submission.name)
    version = property(lambda self: self.record.submission.version)
    family = property(lambda self: self.record.submission.family)
    label = property(lambda self: self.record.submission.label)
    reference = property(lambda self: self.record.reference)
    sandboxed = property(lambda self: self.record.sandboxed)
    created = property(lambda self: _created(self.record))

    @property
    def overall(self) -> float | None:
        """The suite's overall mean (what the table ranks by)."""
        return self.block.overall.mean if self.block.overall else None

    @property
    def ci(self) -> tuple[float, float] | None:
        """The overall's 95% CI."""
        return self.block.overall.ci95 if self.block.overall else None

    @property
    def search(self) -> str:
        """What the page's filter box matches (lower case)."""
        sub = self.record.submission
        return " ".join([sub.name, sub.version, sub.family, *sub.authors, sub.license]).lower()


@dataclass(eq=False)
class Group:
    """One leaderboard table: the rows of one suite on one embedding set, ranked."""

    key: GroupKey
    set: SetInfo
    suite: SuiteBase
    rows: list[BoardRow]
    dnf: list[ResultRecord]
    harness_versions: list[str]
    columns: list[Column] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)
    plots: list = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The table's anchor on the index page."""
        return "g-" + _slug(f"{self.key[0]}-{self.key[1]}-{self.key[3]}-{self.key[2][:8]}")

    @property
    def set_id(self) -> str:
        """The set's value in the set selector."""
        return _slug(f"{self.key[0]}-{self.key[1]}-{self.key[2][:8]}")

    @property
    def set_json(self) -> dict[str, str]:
        """The set as leaderboard.json writes it."""
        return {"name": self.set.name, "version": self.set.version,
                "manifest_sha256": self.set.manifest_sha256, "model": self.set.model}

    @property
    def section_names(self) -> tuple[str, ...]:
        """The suite's sections that at least one row has, in the suite's order."""
        present = {n for r in self.rows for n in r.block.sections}
        order = list(self.suite.section_names)
        return tuple([s for s in order if s in present] + sorted(present - set(order)))

    @property
    def overall_sections(self) -> tuple[str, ...]:
        """Sections that make up the overall (all, for a suite that does not say)."""
        return tuple(getattr(self.suite, "overall_sections", self.section_names))

    @property
    def aux_sections(self) -> list[str]:
        """Sections shown but not part of the overall."""
        return [s for s in self.section_names if s not in self.overall_sections]

    @property
    def has_legacy(self) -> bool:
        """Some row has a legacy overall."""
        return any(r.block.overall_legacy is not None for r in self.rows)

    @property
    def overall_label(self) -> str:
        """How the overall is computed (the records' label, else the suite's)."""
        labels = [r.block.overall.label for r in self.rows if r.block.overall and r.block.overall.label]
        return labels[0] if labels else (self.suite.overall_label or "overall")

    @property
    def legacy_label(self) -> str:
        """How the legacy overall is computed."""
        labels = [r.block.overall_legacy.label for r in self.rows if r.block.overall_legacy]
        return labels[0] if labels else getattr(self.suite, "legacy_label", "")

    @property
    def ranked(self) -> list[BoardRow]:
        """The rows that are ranked (not reference rows)."""
        return [r for r in self.rows if not r.reference]

    @property
    def leader_ci(self) -> tuple[float, float] | None:
        """The leader's overall CI."""
        ranked = self.ranked
        return ranked[0].ci if ranked else None

    @property
    def n_tied(self) -> int:
        """Rows statistically tied with #1."""
        return sum(r.tied for r in self.rows)

    def cells(self, row: BoardRow) -> list[dict[str, Any]]:
        """The HTML cells of ``row``: per column its text, sort value, CI and best flag."""
        out = []
        for col in self.columns:
            if "html" not in col.where:
                continue
            value = col.get(row)
            ci = col.ci(row) if col.ci else None
            out.append({"col": col, "value": value, "text": col.text(row), "ci": ci,
                        "best": col.is_best(row, self.best)})
        return out


def _rank(rows: list[BoardRow], higher_is_better: bool = True) -> list[BoardRow]:
    """Sort by overall (then CI low end, then name); competition ranks among non-reference rows.
    Ties with the leader come only from the paired test (:func:`_paired_extras`, which needs the
    set on this machine), never from overlapping CIs. Reference rows keep their place, unranked."""
    sign = -1 if higher_is_better else 1
    rows = sorted(rows, key=lambda r: (sign * r.overall, -(r.ci[0] if r.ci else -math.inf), r.name))
    prev, rank, n = None, 0, 0
    for row in rows:
        if row.reference:
            continue
        n += 1
        if row.overall != prev:
            rank, prev = n, row.overall
        row.rank = rank
    for row in rows:
        row.leader = row.rank == 1
        row.tied = False  # set only by the paired test (_paired_extras), never by overlapping CIs
    return rows


def _page_key(rec: ResultRecord) -> tuple[str, str, str, str]:
    return (rec.submission.name, rec.set.name, rec.set.version, rec.set.manifest_sha256)


def _unique_slugs(groups: list[Group]) -> dict[tuple, str]:
    """One page per (submission, set) showing every suite: the submission name, made longer
    only on clashes. Returns the page slug per :func:`_page_key` and sets each row's slug."""
    keys: list[tuple] = []
    for g in groups:
        for r in g.rows:
            if _page_key(r.record) not in keys:
                keys.append(_page_key(r.record))
    counts: dict[str, int] = {}
    for key in keys:
        counts[key[0]] = counts.get(key[0], 0) + 1
    used: set[str] = set()
    slugs: dict[tuple, str] = {}
    for name, set_name, version, sha in keys:
        candidates = [name, f"{name}--{set_name}-{version}", f"{name}--{set_name}-{version}-{sha[:12]}"]
        if counts[name] > 1:
            candidates = candidates[1:]
        for cand in candidates:
            cand = re.sub(r"[^A-Za-z0-9._+-]", "-", cand)
            if cand.lower() not in used:
                break
        else:  # names that differ only in characters a file name cannot keep
            cand = f"{cand}-{len(used)}"
        used.add(cand.lower())
        slugs[(name, set_name, version, sha)] = cand
    for g in groups:
        for r in g.rows:
            r.slug = slugs[_page_key(r.record)]
    return slugs


def _suite(name: str) -> SuiteBase:
    try:
        return get_suite(name)
    except HarnessError:  # a suite this harness does not know: shown with its sections as found
        return _UnknownSuite(name)


class _UnknownSuite(SuiteBase):
    """A block of a suite that is not registered: overall and its sections, as recorded."""

    def __init__(self, name: str):
        self.name = self.title = name
        self.reads = (name,)

    def credit(self, parts):  # pragma: no cover - never scored
        raise HarnessError(f"unknown suite '{self.name}'")

    def summarise(self, per_seed, averaged, n_boot):  # pragma: no cover
        raise HarnessError(f"unknown suite '{self.name}'")


def _groups_of(records: list[ResultRecord]) -> dict[GroupKey, tuple[list, list]]:
    """``{(set name, version, sha, suite): (ok records with that block, records without scores)}``."""
    out: dict[GroupKey, tuple[list, list]] = {}
    for rec in records:
        s = rec.set
        names = list(rec.suites) if rec.ok else [rec.suite]
        for suite in names or [rec.suite]:
            key = (s.name, s.version, s.manifest_sha256, suite)
            ok, dnf = out.setdefault(key, ([], []))
            if rec.ok and rec.suites[suite].overall is not None:
                ok.append(rec)
            elif not rec.ok:
                dnf.append(rec)
    order = {name: i for i, name in enumerate(SUITES)}
    return dict(sorted(out.items(), key=lambda kv: (kv[0][:3], order.get(kv[0][3], len(order)), kv[0][3])))


def build_groups(records: Iterable[dict | ResultRecord], results_dir: str | Path | None = None,
                 warn: Callable[[str], None] | None = None) -> list[Group]:
    """One table per (set, version, manifest, suite): ranked rows, DNF records, columns, best values.

    With ``results_dir`` (where the records' raw scores are) and the set on this machine, the
    paired columns of :func:`_paired_columns` are computed too; a problem there is one ``warn``
    line and the columns are left out.
    """
    typed = [r if isinstance(r, ResultRecord) else ResultRecord.of(r) for r in records]
    groups = []
    for key, (ok, dnf) in _groups_of(typed).items():
        suite = _suite(key[3])
        rows = _rank([BoardRow(rec, rec.suites[key[3]]) for rec in ok])
        every = ok + dnf
        newest = max(every, key=_created)
        g = Group(key, newest.set, suite, rows, dnf, sorted({r.harness for r in every}))
        if results_dir is not None and rows:
            _paired_extras(g, Path(results_dir), warn or (lambda _: None))
        g.columns = group_columns(g)
        g.best = best_values(g.columns, g.rows)
        groups.append(g)
    _unique_slugs(groups)
    return groups


# -- the paired columns (hooks of harness.tables.EXTRA_COLUMNS) ----------------------------------
def _local_set(g: Group):
    """The group's embedding set when it is on this machine with the same manifest, else None."""
    from harness.embedset import EmbeddingSet, resolve_set

    try:
        emb = EmbeddingSet.open(resolve_set(f"{g.set.name}@{g.set.version}"))
    except HarnessError:
        return None
    return emb if emb.manifest_sha256 == g.set.manifest_sha256 else None


def _paired_extras(g: Group, results_dir: Path, warn: Callable[[str], None]) -> None:
    """Fill ``g.extras`` with Δ vs the leader, tiers and the pairwise matrix (one reading of the raw
    scores: :func:`harness.significance.board_statistics`) and,
    on RewardBench v1, the length gap (:func:`harness.lengthbias.length_bias`), both from the
    raw scores in ``results_dir``; skipped (columns left out) when the set is not here."""
    if not isinstance(g.suite, Suite) or not g.ranked:
        return
    emb = _local_set(g)
    if emb is None:
        return
    heads = [r.record.to_json() for r in g.rows]
    try:
        from harness.significance import board_statistics

        deltas, tier_of, matrix = board_statistics(heads, results_dir, emb, g.suite.name)
        g.extras.update(versus_leader=deltas, tiers=tier_of, pairwise=matrix)
        for row in g.rows:  # "tied with #1" from the paired test, not from overlapping intervals
            if row.rank is not None and not row.leader and row.name in deltas:
                row.tied = not deltas[row.name].significant
        g.extras["paired_ties"] = True
        if g.suite.name == "rewardbench-v1":
            from harness.lengthbias import length_bias

            g.extras["length_bias"] = length_bias(heads, results_dir, emb)
    except ImportError:  # a harness without these modules: no paired columns
        return
    except HarnessError as err:
        warn(f"{g.set.name} v{g.set.version} {g.suite.name}: no paired columns ({err})")


def _fmt_points(delta: float | None) -> str:
    return "—" if delta is None else f"{100 * delta:+.1f}".replace("-", "−")


def _paired_columns(g: Group) -> list[Column]:
    """"Δ vs #1" (paired bootstrap against the leader, its 95% CI, ``n.s.`` when the CI holds 0)
    and "Length gap" (accuracy where chosen is longer minus where it is shorter), when computed."""
    cols = []
    deltas = g.extras.get("versus_leader")
    tier_of = g.extras.get("tiers")
    if tier_of:
        cols.append(Column("tier", "Tier", lambda r: tier_of.get(r.name), lambda v: "—" if v is None else str(v),
                           None, False, title="Heads not significantly different from the best head of their "
                                              "tier (paired bootstrap, greedy from the top)"))
    if deltas:
        def delta(r):
            d = deltas.get(r.name)
            return None if d is None or r.leader else d.delta

        def delta_text(r):
            d = deltas.get(r.name)
            if d is None or r.leader:
                return "—"
            return _fmt_points(d.delta) + ("" if d.significant else " n.s.")

        cols.append(Column("delta_vs_leader", "Δ vs #1", delta, _fmt_points, None, False,
                           ci=lambda r: (list(deltas[r.name].ci95) if r.name in deltas and not r.leader
                                         else None),
                           title="Paired bootstrap difference with #1 on the same items (points), 95% CI; "
                                 "n.s.: not significantly different (the CI holds 0)"))
        cols[-1] = _with_text(cols[-1], delta_text)
    biases = g.extras.get("length_bias")
    if biases:
        cols.append(Column("length_gap", "Length gap", lambda r: getattr(biases.get(r.name), "gap", None),
                           _fmt_points, None, False,
                           title="Accuracy on pairs where the chosen response is longer minus where it is "
                                 "shorter (points): 0 is blind to length"))
    return cols


def _with_text(col: Column, text: Callable[[BoardRow], str]) -> Column:
    """``col`` whose cell text is ``text(row)`` (the value, sort order and CSV stay the getter's)."""
    import dataclasses

    return dataclasses.replace(col, render=text)


EXTRA_COLUMNS.append(_paired_columns)


def _paired_plots(g: Group) -> list[tuple]:
    """The pairwise heat map and the length-gap bars, when the paired extras were computed."""
    out = []
    if g.extras.get("pairwise") is not None:
        from harness.significance import pairwise_heatmap_svg

        out.append(("pairwise", pairwise_heatmap_svg(g.extras["pairwise"], id_prefix=f"{g.id}-pw-"),
                    "Pairwise difference of overall scores (row − column, points) by a paired bootstrap on "
                    "the same items; filled, bold cells are significant (95% CI excludes 0).", True))
    if g.extras.get("length_bias"):
        from harness.lengthbias import length_gap_svg

        biases = g.extras["length_bias"]
        ordered = [biases[r.name] for r in g.rows if r.name in biases]
        out.append(("length", length_gap_svg(ordered, id_prefix=f"{g.id}-lg-"),
                    "Length bias: accuracy on pairs where the chosen response is the longer one minus where "
                    "it is the shorter one (points, from token counts; equal lengths left out).", False))
    return out


def _load(results_dir: str | Path, warn: Callable[[str], None] | None, published: bool = False):
    records, problems = load_records(results_dir)
    warn = warn or _stderr_warning
    for line in problems:
        warn(line)
    if published:
        refuse_unsandboxed(records)
    return build_groups(records, results_dir, warn), problems


def refuse_unsandboxed(records: Iterable[dict | ResultRecord]) -> None:
    """The published board takes only results computed under bubblewrap, with the label control (SECURITY.md)."""
    typed = [r if isinstance(r, ResultRecord) else ResultRecord.of(r) for r in records]
    for kept, what, remedy in ((lambda r: r.sandboxed, "were not computed under bubblewrap", "with --isolation bwrap"),
                               (lambda r: r.controlled, "were computed without the label control",
                                "without --no-control")):
        bad = sorted(r.submission.name for r in typed if r.ok and not kept(r))
        if bad:
            raise LeaderboardError(f"{len(bad)} result(s) {what} ("
                                   f"{', '.join(terminal(b) for b in bad[:5])}{' ...' if len(bad) > 5 else ''}); "
                                   f"the published leaderboard refuses them: rerun {remedy}, "
                                   "or pass --allow-unsandboxed for a private board")


def integrity_view(record: ResultRecord) -> dict[str, Any]:
    """What a head page shows of a record's integrity checks, numbers only (a record is input):
    the largest probe flip rate and, per suite, the label control's mirrored score and bias."""
    integrity = record.extra.get("integrity")
    integrity = integrity if isinstance(integrity, dict) else {}

    def number(value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    flips = integrity.get("probe_flip_rate")
    flips = [f for f in map(number, flips) if f is not None] if isinstance(flips, list) else []
    control = integrity.get("label_control")
    suites = control.get("suites") if isinstance(control, dict) else None
    return {
        "flip": max(flips) if flips else None, "flip_limit": number(integrity.get("probe_limit")),
        "control": None if not isinstance(suites, dict) else [
            (get_suite(name).title if name in SUITES else name, number(v.get("mirrored")), number(v.get("bias")))
            for name, v in suites.items() if isinstance(v, dict)],
        "control_limit": number(control.get("limit")) if isinstance(control, dict) else None,
    }


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


def _suites_for_rules(groups: list[Group]) -> list[Suite]:
    seen: dict[str, Suite] = {}
    for g in groups:
        if isinstance(g.suite, Suite):
            seen.setdefault(g.suite.name, g.suite)
    return list(seen.values())


def _sets(groups: list[Group]) -> list[dict[str, str]]:
    """The distinct sets of the board, for the set selector (shown when there are several)."""
    seen: dict[str, dict[str, str]] = {}
    for g in groups:
        seen.setdefault(g.set_id, {"id": g.set_id, "label": f"{g.set.name} v{g.set.version}",
                                   "model": g.set.model})
    return list(seen.values())


def _common(groups: list[Group], generated: datetime) -> dict[str, Any]:
    from markupsafe import Markup

    return {
        "css": Markup(_static("style.css")),
        "js": Markup(_static("app.js")),
        "groups": groups,
        "sets": _sets(groups),
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


def _citation(rec: ResultRecord) -> str:
    """A submission page's BibTeX: :func:`result_bibtex` keyed ``rewardheads:NAME:SET-VERSION``."""
    key = bib_key("rewardheads", rec.submission.name, rec.set.ref, sep=":")
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
        g.plots = [p for p in (*_paired_plots(g),
            ("fit", plot_overall_vs_fit(g),
             "Overall accuracy against fit time (log scale), coloured by head family. Bars: 95% "
             "CI; shaded band: the leader's 95% CI, so a point whose bar reaches it is "
             "statistically tied.", False),
            ("sections", plot_sections(g),
             "Section accuracies per submission, in rank order"
             + (f" (top {MAX_BAR_SUBMISSIONS})" if len(g.ranked) > MAX_BAR_SUBMISSIONS
                else "") + ". Dashed line: chance (50%)."
             + (" Faded bars: not part of Overall." if g.aux_sections else ""),
             len(g.ranked) > WIDE_BARS_FROM),
        ) if p[1]]

    header, rows = flat_rows(groups)
    dnf = dnf_rows(groups)
    index = env.get_template("index.html").render(
        **common, dnf=dnf, problems=problems, suites=_suites_for_rules(groups),
        n_ranked=sum(len(g.ranked) for g in groups), root="")
    _write_text(out_dir / "index.html", index)

    page_t = env.get_template("submission.html")
    views: dict[str, list[tuple[Group, BoardRow]]] = {}
    for g in groups:
        for r in g.rows:
            views.setdefault(r.slug, []).append((g, r))
    for slug, page in views.items():
        g, r = page[0]
        html = page_t.render(**common, g=g, r=r, views=page, rec=r.record, bib=_citation(r.record),
                             integrity=integrity_view(r.record), root="../")
        _write_text(out_dir / "submissions" / f"{slug}.html", html)
    pages = {f"{slug}.html" for slug in views}
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
