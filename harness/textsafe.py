"""Escaping of untrusted text at every output seam: Markdown, CSV, HTML, BibTeX, terminals.

Every string of a ``submission.toml`` and of a result record (names, versions, descriptions,
authors, links, ``error`` lines a hostile head may have chosen) is untrusted. Each writer runs
it through exactly one function of this module on the way out:

* :func:`md_cell`: a Markdown table cell or inline text (README block, ``--format md``);
* :func:`csv_cell`: a cell of ``leaderboard.csv`` (no spreadsheet formulas);
* :func:`terminal`: a string printed to a terminal (no ANSI escapes, no bidi reordering);
* :func:`plain`: text for HTML (before Jinja's autoescape), SVG plots and BibTeX, without
  ANSI sequences, control characters or bidi overrides;
* :func:`safe_url`: the only way a URL becomes a link: http(s) or nothing.
"""

from __future__ import annotations

import re
from typing import Any

#: Unicode bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
#: which reorder how text is shown ("Trojan Source").
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = "\x00-\x1f\x7f-\x9f"  # C0, DEL, C1
_CONTROL_RE = re.compile(f"[{_CONTROL}]")
_BIDI_RE = re.compile(f"[{BIDI}]")
#: ANSI/ECMA-48 sequences: CSI (ESC [ or 0x9b), OSC/DCS/SOS/PM/APC strings up to BEL or ST,
#: and two-character ESC sequences.
_ANSI_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[ -/]*[0-~]"
)
_MD_ALWAYS = {"\\": "\\\\", "|": "\\|", "[": "\\[", "]": "\\]", "`": "\\`", "*": "\\*",
              "~": "\\~", "<": "&lt;", ">": "&gt;", "&": "&amp;"}
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_URL_RE = re.compile(r"https?://[^\s\"'<>`\\]+", re.IGNORECASE)


def plain(text: Any, *, keep: str = "\n") -> str:
    """``text`` as a string without ANSI escape sequences, control characters (C0, DEL, C1)
    or bidi overrides.

    ANSI sequences and bidi overrides are removed; characters in ``keep`` stay (by default
    newlines) and every other control character becomes a space. The base of every other
    function here; used as is for HTML (Jinja's ``finalize``), SVG plots and BibTeX, where the
    markup itself is escaped elsewhere.
    """
    text = _BIDI_RE.sub("", _ANSI_RE.sub("", str(text)))
    return _CONTROL_RE.sub(lambda m: m.group(0) if m.group(0) in keep else " ", text)


def terminal(text: Any, *, keep_newlines: bool = False) -> str:
    """``text`` safe to print: ANSI escape sequences and bidi overrides removed, other control
    characters (C0, DEL, C1) made spaces.

    Newlines are kept only with ``keep_newlines`` (for multi-line text whose line structure is
    ours); otherwise they become spaces too, so one untrusted value stays on one line.
    """
    return plain(text, keep="\n" if keep_newlines else "")


def _md_underscore(text: str, i: int) -> str:
    """``_`` between two letters/digits can never open or close emphasis (CommonMark), so
    ``bt_mlp`` stays readable; any other ``_`` is escaped."""
    before = text[i - 1] if i else ""
    after = text[i + 1] if i + 1 < len(text) else ""
    return "_" if before.isalnum() and after.isalnum() else "\\_"


def md_cell(text: Any) -> str:
    """``text`` as one GitHub-Markdown table cell (or inline text) that renders literally.

    The cell never adds a row or column and carries no markup: ANSI sequences and bidi
    overrides are removed, newlines, tabs and other control characters become spaces, ``|`` and backslashes are escaped,
    ``< > &`` become HTML entities (no raw HTML, no ``<scheme:...>`` autolinks), and ``[ ] ` * ~``
    and word-edge ``_`` are backslash-escaped, so ``[x](javascript:alert(1))`` is never a link.
    """
    text = plain(text, keep="")
    return "".join(_md_underscore(text, i) if c == "_" else _MD_ALWAYS.get(c, c)
                   for i, c in enumerate(text))


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet never runs as a formula (OWASP CSV injection guidance).

    Non-strings (numbers, booleans) and ``None`` are returned unchanged. In a string, ANSI
    sequences and bidi overrides are removed and control characters other than tab/CR/LF become
    spaces, then a value starting with
    ``= + - @``, tab, CR or LF that is not a plain number gets a leading ``'``: ``-0.5`` stays,
    ``=HYPERLINK(...)`` becomes ``'=HYPERLINK(...)``.
    """
    if not isinstance(value, str):
        return value
    value = plain(value, keep="\t\r\n")
    if value.startswith(_CSV_FORMULA_START) and not _NUMBER_RE.fullmatch(value):
        return "'" + value
    return value


def safe_url(url: Any) -> str | None:
    """``url`` when it is an absolute http(s) URL without spaces, quotes, angle brackets,
    backslashes or control characters; otherwise None (``javascript:``, ``data:``, relative ...).

    Nothing else may become an ``href`` or a Markdown link.
    """
    if isinstance(url, str) and _URL_RE.fullmatch(url) and plain(url, keep="") == url:
        return url
    return None


__all__ = ["BIDI", "csv_cell", "md_cell", "plain", "safe_url", "terminal"]
