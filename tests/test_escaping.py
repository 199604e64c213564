"""harness.textsafe and every output seam: Markdown, README, CSV, HTML site, terminal.

Hostile strings go into a submission's metadata and a failed record's ``error`` (written through
:func:`harness.results.write_record`, so they pass its schema) and every generated output is
checked: no extra table row or column, no raw tag, no ``javascript:``/``data:`` link, no
formula cell, no escape byte or bidi override.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from test_leaderboard import make_record

from harness.cli import main, summary_table
from harness.leaderboard import README_END, README_START, render_markdown, render_site, update_readme
from harness.results import read_record, validate_record, write_record
from harness.textsafe import BIDI, csv_cell, md_cell, plain, safe_url, terminal

ROWS = "a | b\n| fake | row |"
SCRIPT = "<script>alert(1)</script>"
LINK = "[x](javascript:alert(1))"
FORMULA = '=HYPERLINK("http://evil")'
ANSI = "\x1b[31mred\x1b[0m"
TROJAN = "\u202eevil\u202c \u2066iso\u2069"
#: A submission name the schema accepts (no '/', no C0 control) that is hostile everywhere.
NAME = '=HYPERLINK("x")[x](javascript:alert(1))<b onclick=alert(1)>bold|\u202erev'
SECTION = "<i>sec</i> | col"
BAD_LINKS = {"evil": "javascript:alert(1)", "data": "data:text/html,<script>alert(1)</script>",
             "vb": "vbscript:msgbox(1)", "rel": "//evil.example/x"}
TESTS = Path(__file__).parent
#: Control characters no output may carry (C0 but tab and newline, DEL, C1) and bidi overrides.
FORBIDDEN = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{BIDI}]")


# -- unit: md_cell -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (ROWS, r"a \| b \| fake \| row \|"),
    (SCRIPT, "&lt;script&gt;alert(1)&lt;/script&gt;"),
    (LINK, r"\[x\](javascript:alert(1))"),
    ("![img](data:x) <javascript:alert(1)>", r"!\[img\](data:x) &lt;javascript:alert(1)&gt;"),
    ("`code` *em* **b** _em_ __b__ ~~s~~", r"\`code\` \*em\* \*\*b\*\* \_em\_ \_\_b\_\_ \~\~s\~\~"),
    ("bt_mlp Q4_1 (layer -1)", "bt_mlp Q4_1 (layer -1)"),  # intraword _ never emphasises
    ("back\\slash \\| end", r"back\\slash \\\| end"),
    ("tab\there\rcr\x1b[31m\x7f\x85.", "tab here cr  ."),
    (ANSI + "\x1b]0;pwned\x07", "red"),
    (TROJAN, "evil iso"),
    (README_END, "&lt;!-- leaderboard:end --&gt;"),
    ("&lt;b&gt; & co", "&amp;lt;b&amp;gt; &amp; co"),
    ("é 中文 ≈ —", "é 中文 ≈ —"),
    (42, "42"),
])
def test_md_cell(text, expected):
    assert md_cell(text) == expected


def _markdown_it():
    """markdown-it-py (CommonMark + GFM tables), trusting every link, as a lax renderer would."""
    markdown_it = pytest.importorskip("markdown_it", reason="markdown-it-py renders the Markdown")
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    md.validateLink = lambda url: True  # so an escaping bug shows up as a javascript: href
    return md


class _Html(HTMLParser):
    """Start tags, href/src values and text of an HTML document."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.cells: list[list[str]] = []
        self.text: list[str] = []
        self.in_cell = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "tr":
            self.cells.append([])
        if tag in ("td", "th") and self.cells:
            self.cells[-1].append("")
            self.in_cell = True
        for attr in ("href", "src", "action", "formaction", "xlink:href"):
            if a.get(attr) is not None:
                self.urls.append((tag, attr, a[attr]))

    def handle_endtag(self, tag):
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data):
        self.text.append(data)
        if self.in_cell:
            self.cells[-1][-1] += data


HOSTILE = [ROWS, SCRIPT, LINK, FORMULA, ANSI, TROJAN, "`x` *y* _z_ ~~w~~ \\| \\", README_END,
           "<javascript:alert(1)>", "![i](javascript:alert(1))", "&amp; &#x3C;b&#x3E;"]


def test_md_cells_render_as_literal_text():
    """Each hostile value, as a cell, renders as exactly its text: one row, no markup."""
    md = _markdown_it()
    table = "| n | value |\n|---|---|\n" + "".join(
        f"| {i} | {md_cell(text)} |\n" for i, text in enumerate(HOSTILE))
    doc = _Html(md.render(table))
    assert sorted(set(doc.tags)) == ["table", "tbody", "td", "th", "thead", "tr"]
    assert doc.urls == []
    body = doc.cells[1:]
    assert [row[0] for row in body] == [str(i) for i in range(len(HOSTILE))]
    assert [row[1] for row in body] == [" ".join(plain(t, keep="").split()) for t in HOSTILE]


# -- unit: csv_cell ----------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "expected"), [
    (FORMULA, "'" + FORMULA),
    ("+1+2", "'+1+2"), ("-2+3", "'-2+3"), ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("-", "'-"), ("- 0.5", "'- 0.5"),
    ("-0.5", "-0.5"), ("+3", "+3"), ("-1e-3", "-1e-3"), ("12", "12"),
    ("a=b", "a=b"), ("bt_mlp", "bt_mlp"), ("", ""),
    (f"{ANSI}{TROJAN}\x07\n", "redevil iso \n"),
    (-0.5, -0.5), (3, 3), (True, True), (None, None),
])
def test_csv_cell(value, expected):
    out = csv_cell(value)
    assert out == expected and type(out) is type(expected)


# -- unit: terminal ----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    (ANSI, "red"),
    ("\x1b]8;;http://evil\x07link\x1b]8;;\x07 \x1b]0;title\x1b\\x", "link x"),
    ("\x1b[2J\x1b[1;1H\x1bc\x1b(Bok", "ok"),
    ("\x9b31mc1\x9dosc\x9c!", "c1!"),
    (TROJAN, "evil iso"),
    ("a\nb\r\tc", "a b  c"),
    ("\x07bell\x7fdel\x85nel\x00", " bell del nel "),
    ("é 中文 ✓ ≈", "é 中文 ✓ ≈"),
    (ValueError("boom\x1b[0m"), "boom"),
])
def test_terminal(text, expected):
    assert terminal(text) == expected


def test_terminal_keeps_our_newlines_only_when_asked():
    assert terminal("one\ntwo\x1b[1m", keep_newlines=True) == "one\ntwo"
    assert terminal("one\ntwo") == "one two"


# -- unit: safe_url ----------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["https://x.org/a", "http://x.org/a?b=1&c=2#d", "HTTPS://X.ORG"])
def test_safe_url_keeps_http_urls(url):
    assert safe_url(url) == url


@pytest.mark.parametrize("url", [
    *BAD_LINKS.values(), "JaVaScRiPt:alert(1)", "javascript://x.org/%0aalert(1)", "data://x",
    " https://x.org", "https://x.org/a b",
    'https://x.org/"onmouseover=alert(1)', "https://x.org/<b>", "https://x.org/\x1b[31m",
    "https://x.org/\u202e", "https://x.org\\@evil", "/relative", "x.org", "ftp://x.org", "",
    None, 5, ["https://x.org"],
])
def test_safe_url_refuses_everything_else(url):
    assert safe_url(url) is None


# -- end to end --------------------------------------------------------------------------------
@pytest.fixture
def results(tmp_path) -> Path:
    """A plain record, a hostile ranked record and a hostile failed one, via write_record."""
    folder = tmp_path / "results"
    write_record(folder / "plain.json", make_record("bt_mlp", 0.58))
    rec = make_record(NAME, 0.61, family=ROWS, version=FORMULA, description=SCRIPT,
                      created="2026-11-25T20:00:00+00:00")
    rec["submission"].update(authors=[ANSI, TROJAN, LINK], license="@SUM(A1)",
                             links={**BAD_LINKS, "code": "https://x.org/a", LINK: "https://x.org/b"},
                             params={"p": f"{SCRIPT}{ANSI}", ROWS: 1})
    rec["set"]["model"] = f"{ROWS} {SCRIPT} {LINK}"
    rec["sections"][SECTION] = rec["sections"]["Chat"]
    rec["overall"]["label"] = f"{LINK} {SCRIPT}"
    write_record(folder / "hostile.json", rec)
    write_record(folder / "crashed.json", make_record(
        "crashed|<i>x\u202e", 0.0, status="failed", family=SCRIPT,
        error=f"boom {ANSI} {ROWS} {SCRIPT} {LINK} {README_END} \x1b]0;pwned\x07 {TROJAN}"))
    return folder


def _table_lines(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("|")]


def _unescaped_pipes(line: str) -> int:
    """Pipes a GFM table splits on (a backslash escapes the next character)."""
    n, i = 0, 0
    while i < len(line):
        n += line[i] == "|"
        i += 2 if line[i] == "\\" else 1
    return n


def _check_markdown(md: str) -> None:
    """Two ranked rows, every row as wide as the header, no markup, links or escape bytes."""
    lines = _table_lines(md)
    assert len(lines) == 2 + 2, lines  # header, rule, two ranked rows
    assert {_unescaped_pipes(line) for line in lines} == {_unescaped_pipes(lines[0])}
    assert "<" not in md and not FORBIDDEN.search(md)
    assert not re.search(r"(?<!\\)\]\(", md)  # no [text](url) and no ![img](url)
    doc = _Html(_markdown_it().render(md))
    assert doc.urls == []
    assert set(doc.tags) <= {"p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td"}
    assert len(doc.cells) == 3 and {len(row) for row in doc.cells} == {len(doc.cells[0])}
    text = "".join(doc.text)
    for literal in (SCRIPT, LINK, "a | b | fake | row |", "<b onclick=alert(1)>bold|rev", "<i>sec</i> | col"):
        assert literal in text, literal


def test_markdown_table_escapes_every_record_string(results):
    md = render_markdown(results, warn=pytest.fail)
    _check_markdown(md)
    assert r"\=HYPERLINK" not in md and md_cell(f"{NAME} {FORMULA}") in md
    assert "Did not finish: crashed\\|&lt;i&gt;x (failed: boom red a \\| b \\| fake \\| row \\|" in md


def test_readme_update_escapes_and_keeps_its_markers(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{README_START}\nold\n{README_END}\n\n| keep | me |\n")
    assert update_readme(readme, results, warn=pytest.fail)
    text = readme.read_text()
    assert text.count(README_START) == 1 and text.count(README_END) == 1
    assert text.endswith(f"{README_END}\n\n| keep | me |\n")
    _check_markdown(text.split(README_START)[1].split(README_END)[0])
    assert not update_readme(readme, results, warn=pytest.fail)  # the markers still parse


def test_csv_download_has_no_formula_cells(results, tmp_path):
    """leaderboard.csv: formulas quoted, numbers kept; leaderboard.json: JSON escapes the rest."""
    render_site(results, tmp_path / "site", warn=pytest.fail)
    raw = (tmp_path / "site" / "leaderboard.csv").read_text()
    assert not FORBIDDEN.search(raw.replace("\r", ""))
    rows = list(csv.reader(raw.splitlines(keepends=True)))
    assert len(rows) == 1 + 2
    for row in rows:
        assert len(row) == len(rows[0])
        for cell in row:
            if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                float(cell)  # only a plain number may start like a formula
    hostile = dict(zip(rows[0], next(r for r in rows[1:] if r[rows[0].index("name")] != "bt_mlp"),
                       strict=True))
    assert hostile["name"] == "'" + plain(NAME)
    assert hostile["version"] == "'" + FORMULA
    assert hostile["family"] == ROWS and float(hostile["overall"]) == 0.61
    assert not FORBIDDEN.search((tmp_path / "site" / "leaderboard.json").read_text())  # \u001b


def test_html_site_escapes_text_and_links_only_http(results, tmp_path):
    out = tmp_path / "site"
    render_site(results, out, warn=pytest.fail)
    pages = sorted(out.rglob("*.html"))
    assert len(pages) == 3  # index and two submission pages
    for page in pages:
        text = page.read_text()
        assert not FORBIDDEN.search(text), page.name
        doc = _Html(text)
        assert doc.tags.count("script") == 1 and "b" not in doc.tags and "i" not in doc.tags
        for tag, attr, url in doc.urls:
            if (tag, attr, url) == ("link", "href", "data:,"):  # base.html's empty favicon
                continue
            assert safe_url(url) == url or not re.match(r"[a-z][a-z0-9+.-]*:|//", url, re.I), \
                (page.name, tag, attr, url)
        assert "javascript:alert" not in " ".join(u for *_, u in doc.urls)
        assert SCRIPT not in text and html.escape(SCRIPT, quote=False) in text
    index = _Html((out / "index.html").read_text())
    assert sum(1 for row in index.cells if len(row) > 8) == 1 + 2  # header + two ranked rows
    page = next(p for p in pages if p.parent.name == "submissions" and "bt_mlp" not in p.name)
    doc = _Html(page.read_text())
    links = [u for tag, _, u in doc.urls if tag == "a" and u.startswith("http")]
    assert sorted(links) == ["https://x.org/a", "https://x.org/b"]
    body = "".join(doc.text)
    for literal in (SCRIPT, LINK, "red", "evil iso", ROWS.replace("\n", " ")):
        assert literal in " ".join(body.split()), literal
    assert "url = {https://x.org/a}" in body  # BibTeX never cites a javascript: link


def test_html_site_escapes_set_fields_in_plots_and_headings(tmp_path):
    """The set name also labels the inline SVG plots, which are built outside Jinja."""
    evil = f'x" onload="alert(1)"><script>alert(2)</script>{TROJAN}'
    rec = make_record("bt_mlp", 0.6, set_name=evil, fit_s=2.0)
    rec["set"]["model"] = SCRIPT
    write_record(tmp_path / "results" / "a.json", rec)
    write_record(tmp_path / "results" / "b.json", {**make_record("gbt", 0.55, set_name=evil),
                                                   "set": rec["set"]})
    index = render_site(tmp_path / "results", tmp_path / "site", warn=pytest.fail).read_text()
    assert not FORBIDDEN.search(index)
    doc = _Html(index)
    assert doc.tags.count("script") == 1 and doc.tags.count("svg") == 2
    assert 'onload="' not in index and "<script>alert" not in index
    labels = re.findall(r'<svg [^>]*aria-label="([^"]*)"', index)
    assert [html.unescape(label) for label in labels] == [f"{what}, {plain(evil)}" for what in (
        "Overall accuracy against fit time", "Section accuracies per submission")]


def test_terminal_summary_is_one_clean_line_per_record(results):
    records = [read_record(p) for p in sorted(results.glob("*.json"))]
    live = validate_record(make_record("live", 0.0, status="failed", error="x"))
    live["error"] = f"{ROWS}\n{ANSI}\x1b]0;pwned\x07 {TROJAN}"  # as the runner holds it in memory
    live["submission"]["name"] = f"live{ANSI}"
    table = summary_table([*records, live])
    assert not FORBIDDEN.search(table)
    lines = table.splitlines()
    assert len(lines) == 2 + 4 and len({len(line) for line in lines}) == 1
    assert "boom red a | b | fake | row |" in table and "| livered " in table
    assert "a | b | fake | row | red evil iso" in table


def test_validate_prints_hostile_check_messages_cleanly(tmp_path, capsys):
    head = tmp_path / "raises_in_fit"
    shutil.copytree(TESTS / "submissions" / "raises_in_fit", head)
    source = (head / "head.py").read_text()
    (head / "head.py").write_text(source.replace(
        "'this head always fails to fit'", repr(f"{ANSI} {TROJAN} \x1b]0;pwned\x07\x9b2J end")))
    assert main(["validate", str(head), "--isolation", "process"]) == 1
    out = capsys.readouterr().out
    assert not FORBIDDEN.search(out)
    assert "  FAIL check_fit_score: ValueError: red evil iso end\n" in out


def test_cite_prints_hostile_metadata_cleanly(results, capsys):
    assert main(["cite", "hostile", "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert not FORBIDDEN.search(out)
    assert "author = {red and evil iso and [x](javascript:alert(1))}" in out
    assert "url = {https://x.org/a}" in out


def test_validate_prints_hostile_file_names_cleanly(tmp_path, capsys):
    """A static check names a file the submitter named (no sandbox needed)."""
    head = tmp_path / "raises_in_fit"
    shutil.copytree(TESTS / "submissions" / "raises_in_fit", head)
    (head / f"notes{ANSI}\u202e.xyz").write_text("hi")
    assert main(["validate", str(head), "--isolation", "process"]) == 1
    out = capsys.readouterr().out
    assert not FORBIDDEN.search(out)
    fails = [line for line in out.splitlines() if line.startswith("  FAIL ")]
    assert len(fails) == 1 and "notesred.xyz" in fails[0], out


def test_cli_errors_and_warnings_are_clean(tmp_path, capsys):
    assert main(["cite", f"{ANSI}nope{TROJAN}", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"rewardheads cite: error: {tmp_path}/rednopeevil iso.json: no such result file\n"
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / f"{ANSI}\u202ebad.json").write_text("{")
    assert main(["leaderboard", "--results", str(tmp_path / "results"), "--format", "md"]) == 0
    err = capsys.readouterr().err
    assert not FORBIDDEN.search(err)
    assert f"warning: {tmp_path}/results/redbad.json: not valid JSON" in err
