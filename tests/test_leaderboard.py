"""harness.leaderboard: the static site, CSV/JSON downloads, Markdown and the README block."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.leaderboard import (
    README_END,
    README_START,
    LeaderboardError,
    build_groups,
    render_markdown,
    render_site,
    update_readme,
)
from harness.results import load_records, write_record
from harness.suites import PRIOR_SETS_SUBSETS, RB1_EXAMPLE_COUNTS, RB1_SUBSET_MAPPING, get_suite

MINI_SHA = "3f1c9a7d5e2b8c4f6a0d1e3b5c7f9a2d4e6b8c0f1a3c5e7d9b2f4a6c8e0d1b3f"
OTHER_SHA = "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
SECTION_OFFSETS = {"Chat": 0.14, "Chat Hard": -0.17, "Safety": 0.05, "Reasoning": -0.02}
REAL_ROWS = {"math-prm": 447}


def make_record(name: str, overall: float, *, family: str = "bradley-terry",
                set_name: str = "mini", set_version: str = "1", manifest: str = MINI_SHA,
                suite: str = "rewardbench-v1", seeds=(0, 1, 2), ci_half: float = 0.02,
                fit_s: float | None = 4.0, params: int | None = 1_114_113,
                prior_sets: bool = False, status: str = "ok", error: str | None = None,
                created: str = "2026-11-24T20:00:00+00:00", version: str = "1.0.0",
                description: str | None = None) -> dict:
    """A realistic schema-1 record; sections average to ``overall`` (a failed one has no scores).

    Per-subset, per-section and per-seed numbers vary deterministically with ``name``.
    """
    rng = random.Random(name)
    seeds = list(seeds)
    spread = [(i - (len(seeds) - 1) / 2) * 0.006 for i in range(len(seeds))]

    def score(mean: float, half: float | None = None) -> dict:
        out = {"mean": mean, "std": 0.006 if len(seeds) > 1 else 0.0,
               "per_seed": [round(mean + d, 6) for d in spread]}
        if half is not None:
            out["ci95"] = [max(0.0, mean - half), min(1.0, mean + half)]
        return out

    noise = {s: rng.uniform(-0.04, 0.04) for s in SECTION_OFFSETS}
    shift = sum(noise.values()) / len(noise)
    sections = {s: round(min(1.0, max(0.0, overall + off + noise[s] - shift)), 6)
                for s, off in SECTION_OFFSETS.items()}
    record = {
        "schema": 1,
        "submission": {
            "name": name, "version": version, "sha256": hashlib.sha256(name.encode()).hexdigest(),
            "family": family,
            "description": description or f"A {family} head on mean-pooled embeddings.",
            "authors": ["Ada Example", "Grace Sample"], "license": "Apache-2.0",
            "links": {"paper": "https://arxiv.org/abs/2403.13787"},
            "params": {"hidden": [1024, 512], "lr": 0.001, "epochs": 3},
            "entry_point": "head.py:Head",
        },
        "set": {"name": set_name, "version": set_version, "manifest_sha256": manifest,
                "model": "HuggingFaceTB/SmolLM2-135M-Instruct (layer -1, mean pool)"},
        "harness": "0.1.0", "suite": suite, "seeds": seeds, "status": status, "error": error,
        "isolation": "bwrap", "created": created,
        "command": f"rewardheads run submissions/{name} --seeds {len(seeds)}",
        "cost": {"fit_s": fit_s, "score_s": 0.02, "peak_rss_mb": 310, "params": params},
    }
    if status != "ok":
        record["cost"] = {"fit_s": None, "score_s": None, "peak_rss_mb": 120, "params": None}
        return record
    subsets = {}
    for section, names in RB1_SUBSET_MAPPING.items():
        for sub in names:
            mean = min(1.0, max(0.0, sections[section] + rng.uniform(-0.05, 0.05)))
            subsets[sub] = {**score(round(mean, 6), 0.06),
                            "n": REAL_ROWS.get(sub, RB1_EXAMPLE_COUNTS[sub])}
    record["subsets"] = subsets
    record["sections"] = {s: score(v, ci_half * 1.6) for s, v in sections.items()}
    record["overall"] = {**score(overall, ci_half), "label": get_suite(suite).overall_label}
    if prior_sets:
        prior = round(overall + 0.06, 6)
        for sub in PRIOR_SETS_SUBSETS:
            subsets[sub] = {**score(prior), "n": 200}
        record["sections"]["Prior Sets"] = score(prior, ci_half)
        legacy = (2 * sum(sections.values()) + prior) / 9
        record["overall_legacy"] = {
            **score(round(legacy, 6), ci_half),
            "label": "legacy weighted overall [2,2,2,2,1] incl. Prior Sets"}
    return record


#: (name, overall, CI half-width, fit seconds, params, family) for a realistic board.
DEMO = [
    ("bt_mlp", 0.612, 0.018, 41.0, 1_114_113, "bradley-terry"),
    ("bt_mlp_wide", 0.604, 0.018, 96.0, 4_456_449, "bradley-terry"),
    ("armo_gate", 0.598, 0.019, 180.0, 2_230_016, "multi-objective"),
    ("pairwise_logreg", 0.571, 0.017, 3.2, 577, "logistic"),
    ("contrastive_proj", 0.566, 0.02, 22.0, 295_424, "contrastive"),
    ("ridge_diff", 0.553, 0.017, 0.41, 577, "linear"),
    ("gp_pref", 0.549, 0.021, 310.0, 2_048, "gaussian-process"),
    ("knn_vote", 0.531, 0.02, 0.08, 0, "nonparametric"),
    ("bt_linear", 0.529, 0.018, 1.9, 577, "bradley-terry"),
    ("lda_pref", 0.517, 0.019, 0.9, 1_153, "linear"),
    ("cosine_to_chosen", 0.503, 0.018, 0.05, 576, "nonparametric"),
    ("random_init", 0.497, 0.018, 0.02, 577, "baseline"),
]


def write_demo_results(folder: Path, *, failed: bool = True, other_set: bool = True) -> Path:
    """Twelve ranked submissions on mini v1, one failed and one skipped run, one other set."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, (name, overall, half, fit_s, params, family) in enumerate(DEMO):
        write_record(folder / f"{name}.json",
                     make_record(name, overall, ci_half=half, fit_s=fit_s, params=params,
                                 family=family, prior_sets=i % 3 == 0,
                                 created=f"2026-11-{10 + i:02d}T12:00:00+00:00"))
    if failed:
        write_record(folder / "oom_transformer.json", make_record(
            "oom_transformer", 0.0, family="transformer", status="failed",
            error="head exceeded the 4096 MB memory limit while fitting seed 0"))
        write_record(folder / "needs_prompt.json", make_record(
            "needs_prompt", 0.0, family="prompt-conditioned", status="skipped",
            error="head requires prompt embeddings; set mini v1 has none"))
    if other_set:
        write_record(folder / "bt_mlp@large.json", make_record(
            "bt_mlp", 0.655, set_name="large", set_version="2", manifest=OTHER_SHA,
            fit_s=120.0))
        write_record(folder / "ridge_diff@large.json", make_record(
            "ridge_diff", 0.588, set_name="large", set_version="2", manifest=OTHER_SHA,
            fit_s=1.1, params=577, family="linear"))
    return folder


# -- fixtures ----------------------------------------------------------------------------------
NOW = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    results = write_demo_results(root / "results")
    (results / "broken.json").write_text('{"schema": 1, "submission": ')
    warnings: list[str] = []
    index = render_site(results, root / "site", warn=warnings.append, now=NOW)
    return {"root": root, "results": results, "index": index, "out": root / "site",
            "warnings": warnings, "html": index.read_text()}


class _Tables(HTMLParser):
    """Collects the ``data-name`` of each ranked row, per ``table.board``, in document order."""

    def __init__(self):
        super().__init__()
        self.tables: list[list[str]] = []
        self.dnf: list[str] = []
        self.in_dnf = False
        self.resources: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "board" in (a.get("class") or "").split():
            self.tables.append([])
        if tag == "tr" and "data-name" in a:
            self.tables[-1].append(a["data-name"])
        if tag == "ul" and "dnf" in (a.get("class") or ""):
            self.in_dnf = True
        if self.in_dnf and tag == "strong":
            self.dnf.append("")
        for attr in ("src", "href", "data", "xlink:href", "poster", "srcset"):
            if a.get(attr) is not None:
                self.resources.append((tag, attr, a[attr]))

    def handle_endtag(self, tag):
        if tag == "ul":
            self.in_dnf = False

    def handle_data(self, data):
        if self.in_dnf and self.dnf and self.dnf[-1] == "":
            self.dnf[-1] = data.strip()


def parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


# -- the site ----------------------------------------------------------------------------------
def test_rows_in_rank_order_and_groups_separate(site):
    tables = parse(site["html"]).tables
    assert len(tables) == 2  # large v2 and mini v1 are never ranked together
    large, mini = tables  # groups sorted by set name
    assert large == ["bt_mlp", "ridge_diff"]
    assert mini == [name for name, *_ in sorted(DEMO, key=lambda d: -d[1])]
    assert site["html"].count('class="group"') == 2


def test_failed_and_skipped_only_in_dnf(site):
    p = parse(site["html"])
    ranked = {n for t in p.tables for n in t}
    assert p.dnf == ["needs_prompt", "oom_transformer"]
    assert not ranked & set(p.dnf)
    assert "exceeded the 4096 MB memory limit" in site["html"]
    assert not (site["out"] / "submissions" / "oom_transformer.html").exists()


def test_malformed_file_reported_and_skipped(site):
    assert len(site["warnings"]) == 1
    assert "broken.json" in site["warnings"][0] and "not valid JSON" in site["warnings"][0]


def test_ties_badges_rules_and_footer(site):
    html = site["html"]
    # armo_gate's 95% CI overlaps the leader's, but ties come only from a paired test, which needs
    # the set's labels: these records' sets are not on this machine, so nothing is marked
    rows = re.findall(r'<tr data-order="\d+"[^>]*data-name="([^"]+)">(.*?)</tr>', html, re.S)
    tied = [name for name, body in rows if 'class="badge tied"' in body]
    assert rows and tied == []
    assert "the paired test against #1 needs the set on this machine" in html
    for text in ("Strict pairwise accuracy", "EXAMPLE_COUNTS", "984", "447", "2, 2, 2, 2, 1",
                 "unweighted mean of Chat, Chat Hard, Safety and Reasoning", "Legacy overall",
                 "Prior Sets", MINI_SHA, OTHER_SHA, "HuggingFaceTB/SmolLM2-135M-Instruct",
                 "harness 0.1.0", "2026-11-25 09:30 UTC", "leaderboard.csv", "leaderboard.json"):
        assert text in html, text
    # the best overall in the mini table is bold
    assert re.search(r'<span class="best">61\.2</span>', html)


def test_submission_pages(site):
    page = (site["out"] / "submissions" / "bt_mlp--mini-1.html").read_text()
    assert (site["out"] / "submissions" / "bt_mlp--large-2.html").exists()  # same name, 2 sets
    solo = (site["out"] / "submissions" / "armo_gate.html").read_text()
    for text in ('id="subsets"', 'data-subset="math-prm"', "@misc{rewardheads:armo_gate:mini-1",
                 MINI_SHA, "submission sha256", "harness 0.1.0", "rewardheads run submissions/",
                 "bwrap", "Peak memory", "310 MB", "hidden", "[1024, 512]", "Seed 2",
                 "https://arxiv.org/abs/2403.13787"):
        assert text in solo, text
    assert "Legacy overall" in page and "Prior Sets" in page
    bib = re.search(r'<pre id="bibtex">(.*?)</pre>', solo, re.S).group(1)
    assert bib.count("{") == bib.count("}")
    assert "armo\\_gate" in bib and MINI_SHA in bib
    # every link in the index to a page exists
    for href in re.findall(r'href="(submissions/[^"]+)"', site["html"]):
        assert (site["out"] / href).is_file(), href


def test_self_contained(site):
    """No script, style, font or image is fetched from anywhere; only plain links leave."""
    files = list(site["out"].rglob("*.html"))
    assert len(files) == 1 + 14
    for path in files:
        text = path.read_text()
        p = parse(text)
        for tag, attr, value in p.resources:
            if tag == "a":
                continue
            assert not re.match(r"\s*(https?:)?//", value), (path.name, tag, attr, value)
        for block in re.findall(r"<style[^>]*>(.*?)</style>", text, re.S):
            assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", block), path.name
        assert not re.search(r"<script[^>]+src=", text)
        assert not re.search(r"<link[^>]+rel=\"stylesheet\"", text)
        assert "<!DOCTYPE svg" not in text and "<?xml" not in text
        ids = re.findall(r'\sid="([^"]+)"', text)
        assert len(ids) == len(set(ids)), path.name  # inline SVGs do not clash
    assert site["html"].count("<svg") == 4  # two plots per set


def test_csv_and_json_consistent(site):
    with open(site["out"] / "leaderboard.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    doc = json.loads((site["out"] / "leaderboard.json").read_text())
    json_rows = [r for g in doc["groups"] for r in g["rows"]]
    assert len(rows) == len(json_rows) == len(DEMO) + 2
    for c, j in zip(rows, json_rows, strict=True):
        assert (c["name"], c["set"], int(c["rank"])) == (j["name"], j["set"], j["rank"])
        assert float(c["overall"]) == pytest.approx(j["overall"])
        assert float(c["chat_hard"]) == pytest.approx(j["chat_hard"])
        assert c["tied_with_leader"] == str(j["tied_with_leader"])
        assert (c["prior_sets"] == "") == (j["prior_sets"] is None)
    assert [g["set"]["name"] for g in doc["groups"]] == ["large", "mini"]
    assert {d["name"] for d in doc["did_not_finish"]} == {"oom_transformer", "needs_prompt"}
    mini = doc["groups"][1]["rows"]
    assert [r["name"] for r in mini][:2] == ["bt_mlp", "bt_mlp_wide"]
    assert all(a["overall"] >= b["overall"] for a, b in zip(mini, mini[1:], strict=False))


def test_rerender_removes_stale_pages_only(site, tmp_path):
    results = write_demo_results(tmp_path / "results", failed=False, other_set=False)
    out = tmp_path / "site"
    render_site(results, out, warn=lambda _: None)
    (results / "knn_vote.json").unlink()
    keep = out / "submissions" / "notes.html"
    keep.write_text("<p>hand-written</p>")
    render_site(results, out, warn=lambda _: None)
    assert not (out / "submissions" / "knn_vote.html").exists()
    assert keep.exists()


def test_hostile_names_and_links_are_escaped(tmp_path):
    results = tmp_path / "results"
    names = ["<img src=x onerror=alert(1)>", "cost $5 $head$", "my head", "my-head"]
    for i, name in enumerate(names):
        rec = make_record(name, 0.6 - i / 100, family="<i>fam</i>", fit_s=0.0)
        rec["submission"]["links"] = {"evil": "javascript:alert(1)", "code": "https://x.org/a"}
        rec["submission"]["description"] = "<script>alert(1)</script>"
        write_record(results / f"r{i}.json", rec)
    index = render_site(results, tmp_path / "site", warn=lambda _: None)
    html = index.read_text()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    pages = sorted(p.name for p in (tmp_path / "site" / "submissions").iterdir())
    assert len(pages) == 4 and "my-head.html" in pages  # "my head" and "my-head" both kept
    for page in (tmp_path / "site" / "submissions").iterdir():
        text = page.read_text()
        assert "javascript:" not in text and "<script>alert" not in text
    assert 'href="https://x.org/a"' in text
    assert "<script" not in re.sub(r"<script>\n/\* RewardHeads.*?</script>", "", html, flags=re.S)


def test_empty_results(tmp_path):
    (tmp_path / "results").mkdir()
    index = render_site(tmp_path / "results", tmp_path / "site", warn=lambda _: None)
    assert "No results yet" in index.read_text()
    assert render_markdown(tmp_path / "results") == "_No results yet._\n"


# -- Markdown / README -------------------------------------------------------------------------
def test_markdown_table(site):
    md = render_markdown(site["results"], warn=lambda _: None)
    assert "**mini v1** · rewardbench-v1" in md and "**large v2**" in md
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    mini_rows = [line for line in lines if "| bradley-terry" in line or "| linear" in line]
    assert mini_rows
    header = [line for line in lines if "Rank" in line][-1]  # mini v1 comes second
    for col in ("Overall (95% CI)", "Chat", "Chat Hard", "Safety", "Reasoning", "Prior Sets",
                "Legacy overall", "Seeds", "Fit (s)", "Params"):
        assert col in header
    first = next(line for line in lines if "bt_mlp 1.0.0" in line and "61.2" in line)
    assert re.match(r"\| +1 \| ", first) and "**61.2** (59.4–63.0)" in first
    assert re.search(r"\| +2 \| bt_mlp_wide", md)  # no ≈ without a paired test (the set is elsewhere)
    assert "Did not finish: needs_prompt (skipped: head requires prompt embeddings" in md
    order = re.findall(r"^\| +\d+(?: ≈)? \| (\w+) ", md, re.M)
    assert order[2:] == [name for name, *_ in sorted(DEMO, key=lambda d: -d[1])]


def test_update_readme_between_markers(site, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nintro\n\n{README_START}\nold table\n{README_END}\n\nrest\n")
    assert update_readme(readme, site["results"], warn=lambda _: None)
    text = readme.read_text()
    assert text.startswith("# Title\n\nintro\n\n" + README_START + "\n")
    assert text.endswith(README_END + "\n\nrest\n")
    assert "old table" not in text and "| bt_mlp_wide" in text
    assert not update_readme(readme, site["results"], warn=lambda _: None)  # idempotent


def test_update_readme_without_markers(site, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    with pytest.raises(LeaderboardError, match="leaderboard:start"):
        update_readme(readme, site["results"])
    assert readme.read_text() == "# Title\n"
    readme.write_text(f"{README_END}\n{README_START}\n")
    with pytest.raises(LeaderboardError, match="comes before"):
        update_readme(readme, site["results"])


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_leaderboard(site, tmp_path, capsys):
    from harness.cli import main

    out = tmp_path / "cli-site"
    assert main(["leaderboard", "--results", str(site["results"]), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert str(out / "index.html") in captured.out and " s" in captured.out
    assert "warning:" in captured.err and "broken.json" in captured.err
    assert main(["leaderboard", "--results", str(site["results"]), "--format", "md"]) == 0
    assert re.search(r"\| +Rank \| Submission", capsys.readouterr().out)
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n")
    assert main(["leaderboard", "--results", str(site["results"]), "--format", "md",
                 "--update-readme", str(readme)]) == 0
    assert "bt_mlp_wide" in readme.read_text()
    assert main(["leaderboard", "--results", str(tmp_path / "nope")]) == 2
    assert "results folder not found" in capsys.readouterr().err


# -- suites, reference rows, the column spec ---------------------------------------------------
def _with_v2(rec: dict, overall: float) -> dict:
    """``rec`` (schema 1 from make_record) as schema 2 with a RewardBench 2 block as well."""
    from harness.results import validate_record
    from harness.suites import RB2_SUBSETS

    out = validate_record(rec)
    score = {"mean": overall, "std": 0.0, "per_seed": [overall] * 3, "ci95": [overall - 0.02, overall + 0.02]}
    out["suites"]["rewardbench-v2"] = {
        "label": "RewardBench 2", "subsets": {s: {**score, "n": 10} for s in RB2_SUBSETS},
        "sections": {s: dict(score) for s in RB2_SUBSETS},
        "overall": {**score, "label": "RewardBench 2 overall"}, "missing_subsets": []}
    return out


def test_reference_rows_are_shown_unranked_and_never_best(tmp_path):
    results = tmp_path / "results"
    write_record(results / "a.json", make_record("a", 0.60, fit_s=5.0, params=1000))
    write_record(results / "b.json", make_record("b", 0.55, fit_s=4.0, params=900))
    write_record(results / "length.json", make_record("length", 0.58, family="reference", fit_s=0.001,
                                                       params=0))
    (g,) = build_groups(load_records(results)[0])
    assert [(r.name, r.rank) for r in g.rows] == [("a", 1), ("length", None), ("b", 2)]
    assert g.best["fit_s"] == 4.0 and g.best["params"] == 900  # not the reference's 0.001 s / 0
    md = render_markdown(results)
    assert re.search(r"\| +ref \| length 1\.0\.0 ", md) and re.search(r"\| +2 \| b 1\.0\.0 ", md)
    assert "**<0.01**" not in md and "**0**" not in md
    html = render_site(results, tmp_path / "site").read_text()
    assert re.search(r'<tr [^>]*data-name="length" class="reference">', html)


def test_one_table_per_suite_and_one_page_with_every_suite(tmp_path):
    results = tmp_path / "results"
    write_record(results / "mini-1" / "a.json", _with_v2(make_record("a", 0.6), 0.40))
    write_record(results / "mini-1" / "b.json", _with_v2(make_record("b", 0.5), 0.45))
    groups = build_groups(load_records(results)[0])
    assert [(g.suite.name, [r.name for r in g.rows]) for g in groups] == [
        ("rewardbench-v1", ["a", "b"]), ("rewardbench-v2", ["b", "a"])]
    v2 = groups[1]
    assert [c.key for c in v2.columns] == ["rank", "name", "version", "family", "overall", "factuality",
                                           "precise_if", "math", "safety", "focus", "ties", "n_seeds",
                                           "fit_s", "params", "date"]
    index = render_site(results, tmp_path / "site")
    html = index.read_text()
    assert html.count('class="board"') == 2 and 'id="set-select"' not in html  # one set: no selector
    page = (index.parent / "submissions" / "a.html").read_text()
    assert "RewardBench v1 · section scores" in page and "RewardBench 2 · section scores" in page
    assert 'id="subsets-rewardbench-v2"' in page
    with open(index.parent / "leaderboard.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["suite"], r["name"], r["rank"]) for r in rows] == [
        ("rewardbench-v1", "a", "1"), ("rewardbench-v1", "b", "2"),
        ("rewardbench-v2", "b", "1"), ("rewardbench-v2", "a", "2")]
    assert rows[2]["ties"] == "0.45" and rows[0]["ties"] == ""


def test_a_column_is_one_entry_in_the_spec(tmp_path, monkeypatch):
    from harness import tables

    results = write_demo_results(tmp_path / "results", failed=False, other_set=False)
    col = tables.Column("peak_rss_mb", "Peak memory", lambda r: r.record.cost.peak_rss_mb, tables.fmt_mb,
                        "lower", True)
    monkeypatch.setattr(tables, "TAIL_COLUMNS", [*tables.TAIL_COLUMNS, col])
    md = render_markdown(results)
    assert "Peak memory" in md.splitlines()[2] and "**310 MB**" in md
    html = render_site(results, tmp_path / "site").read_text()
    assert 'data-key="peak-rss-mb"' in html
    header = (tmp_path / "site" / "leaderboard.csv").read_text().splitlines()[0].split(",")
    assert "peak_rss_mb" in header


def test_extra_column_hook(tmp_path, monkeypatch):
    from harness import tables

    results = write_demo_results(tmp_path / "results", failed=False, other_set=False)

    def hook(group):
        return [tables.Column("name_length", "Name length", lambda r: len(r.name), str, "lower", True)]

    monkeypatch.setattr(tables, "EXTRA_COLUMNS", [*tables.EXTRA_COLUMNS, hook])
    (g,) = build_groups(load_records(results)[0])
    keys = [c.key for c in g.columns]
    assert keys.index("name_length") == keys.index("n_seeds") - 1  # after the suite's columns
    assert g.best["name_length"] == min(len(n) for n, *_ in DEMO)
