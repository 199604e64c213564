"""BibTeX for the benchmark, embedding sets and result records.

One escaping function (:func:`tex`) and one entry builder (:func:`bib_entry`) serve every
entry: :func:`set_bibtex` (the dataset card), :func:`benchmark_bibtex`, and
:func:`result_bibtex`, which ``rewardheads cite`` (:func:`cite`) and the leaderboard's
submission pages both print.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from harness import __version__
from harness.embedset import EmbeddingSet, EmbeddingSetError, resolve_set
from harness.errors import HarnessError
from harness.fetch import hub_repo_id
from harness.textsafe import plain, safe_url


class CiteError(HarnessError):
    """A citation that cannot be written (a missing result file, an unbalanced field)."""


_TEX = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}",
        "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
        "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def tex(text: Any) -> str:
    """Escape text for a BibTeX field (braces become commands, so fields stay balanced).

    Newlines and other control characters become spaces and bidi overrides are removed
    (:func:`harness.textsafe.plain`), so a field is one line that prints safely.
    """
    return "".join(_TEX.get(c, c) for c in plain(text, keep=""))


def bib_key(*parts: Any, sep: str = "-") -> str:
    """A citation key from parts joined by ``sep``, each reduced to ``[A-Za-z0-9_.:-]``."""
    return sep.join(filter(None, (re.sub(r"[^A-Za-z0-9_.:-]+", "-", str(p)).strip("-")
                                  for p in parts))) or "rewardheads-entry"


def bib_entry(kind: str, key: str, fields: dict[str, str]) -> str:
    """One BibTeX entry; values are already escaped (see :func:`tex`); empty ones are left out."""
    for name, value in fields.items():
        depth = 0
        for c in value:
            depth += (c == "{") - (c == "}")
            if depth < 0:
                break
        if depth:
            raise CiteError(f"BibTeX field {name} of {key} has unbalanced braces")
    body = "".join(f"  {name} = {{{value}}},\n" for name, value in fields.items() if value)
    return f"@{kind}{{{key},\n{body}}}"


def _year(created: Any) -> str:
    found = re.match(r"\d{4}", str(created or ""))
    return found.group(0) if found else str(datetime.now(UTC).year)


def set_bibtex(emb: EmbeddingSet, repo: str | None = None) -> str:
    """BibTeX of an embedding set, pinned by its manifest's SHA-256."""
    repo_id = hub_repo_id(emb.name, repo)
    model = (emb.manifest.get("model") or {}).get("id", "an unrecorded model")
    return bib_entry("misc", bib_key("rewardheads", "set", emb.name, emb.version), {
        "title": "{RewardHeads} embedding set " + tex(emb.ref),
        "author": "{RewardHeads contributors}",
        "year": _year(emb.manifest.get("created")),
        "howpublished": tex(f"Hugging Face dataset {repo_id}, revision v{emb.version}"),
        "url": "https://huggingface.co/datasets/" + re.sub(r"[^A-Za-z0-9_./-]", "", repo_id),
        "note": tex(f"Embeddings of {model}; manifest SHA-256 {emb.manifest_sha256}; built with "
                    f"rewardheads {emb.manifest.get('harness_version', '?')}"),
    })


def benchmark_bibtex(set_ref: str | None = None, manifest_sha256: str | None = None,
                     year: str | None = None) -> str:
    """BibTeX of the benchmark (key ``rewardheads``) with this harness version and the set."""
    note = f"rewardheads harness {__version__}"
    if set_ref:
        note += f"; embedding set {set_ref}"
        note += f", manifest SHA-256 {manifest_sha256}" if manifest_sha256 else ""
    return bib_entry("misc", "rewardheads", {
        "title": "{RewardHeads}: a benchmark for embedding-based reward models",
        "author": "{RewardHeads contributors}", "year": year or _year(None),
        "version": tex(__version__), "note": tex(note),
    })


def load_result(name: str, results_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """The record of submission ``name`` (or a ``.json`` path), read and validated by
    :func:`harness.results.read_record`, plus ``"path"``.

    It is looked for in ``<results_dir>/<set>-<version>/<name>.json`` (the newest, when several
    sets have one) and then in the old flat ``<results_dir>/<name>.json``. ``results_dir``
    defaults to ``results`` in the working directory, as for ``rewardheads run``.
    """
    from harness.results import read_record

    path = Path(name)
    if not (name.endswith(".json") and path.is_file()):
        folder = Path(results_dir or "results")
        found = sorted(p for p in folder.glob(f"*/{glob_escape(name)}.json") if p.parent.name != "raw")
        path = found[-1] if found else folder / f"{name}.json"
    if not path.is_file():
        raise CiteError(f"{path}: no such result file")
    return {**read_record(path), "path": str(path)}


def web_links(links: dict | None) -> list[tuple[str, str]]:
    """The ``(label, url)`` pairs whose URL passes :func:`harness.textsafe.safe_url` (http(s)
    only: a ``javascript:`` or ``data:`` link is never made clickable)."""
    return [(str(k), v) for k, v in (links or {}).items() if safe_url(v)]


def result_bibtex(record: dict[str, Any] | Any, key: str) -> str:
    """BibTeX of one result record, as ``rewardheads cite`` and the leaderboard's pages print it.

    ``record`` is a :class:`harness.records.ResultRecord` or a record dict (checked and typed
    first). The note names the headline suite's overall mean (95% CI), every other suite's
    overall, the seeds, the embedding set, its manifest SHA-256 and model, the submission
    SHA-256, the harness version and when it was scored; the URL is the submission's paper
    link, else its code link, else its first http(s) link.
    """
    from harness.records import ResultRecord

    rec = record if isinstance(record, ResultRecord) else ResultRecord.of(
        {k: v for k, v in record.items() if k != "path"})
    sub, s = rec.submission, rec.set
    version = f" {sub.version}" if sub.version else ""
    head = rec.headline
    overall = head.overall if head else None
    mean = overall.mean if overall else None
    score = f"overall mean {mean:.4f}" if isinstance(mean, int | float) else \
        f"overall n/a ({rec.status})"
    if overall and overall.ci95:
        score += f", 95% CI {overall.ci95[0]:.4f}--{overall.ci95[1]:.4f}"
    others = [f"{name} overall {block.overall.mean:.4f}" for name, block in rec.suites.items()
              if name != rec.suite and block.overall and block.overall.mean is not None]
    if others:
        score += "; " + "; ".join(others)
    if rec.seeds:
        score += "; seeds " + ", ".join(str(seed) for seed in rec.seeds)
    note = [f"Benchmark {rec.suite} ({score})",
            f"embedding set {s.name} v{s.version}, manifest sha256 {s.manifest_sha256}"]
    if s.model:
        note.append(f"embeddings from {s.model}")
    if sub.sha256:
        note.append(f"submission sha256 {sub.sha256}")
    note += [f"harness {rec.harness}", f"scored {rec.created}"]
    links = dict(web_links(sub.links))
    url = links.get("paper") or links.get("code") or next(iter(links.values()), "")
    return bib_entry("misc", key, {
        "title": "{" + tex(f"{sub.name}{version}") + "}: "
        + tex(f"{rec.suite} result on the {s.name} v{s.version} embedding set"),
        "author": " and ".join(tex(a) for a in sub.authors) or "{RewardHeads contributors}",
        "year": _year(rec.created),
        "howpublished": tex(f"RewardHeads leaderboard (harness {rec.harness})"),
        "url": re.sub(r"[{}\\\s]", "", url),
        "note": "; ".join(tex(part) for part in note),
    })


def cite(submissions: Iterable[str] = (), *, results_dir: str | os.PathLike | None = None,
         set_ref: str | os.PathLike | None = None) -> tuple[str, list[str]]:
    """BibTeX for the benchmark and each submission's result; returns ``(bibtex, warnings)``.

    The benchmark entry names the set of ``set_ref``, else the set of the first result, else
    the bundled default set (left out, with a warning, when that is not there).
    """
    results = [load_result(s, results_dir) for s in submissions]
    warnings: list[str] = []
    pinned: tuple[str, str, Any] | None = None
    if set_ref is not None or not results:
        try:
            emb = EmbeddingSet.open(resolve_set(set_ref))
            pinned = (emb.ref, emb.manifest_sha256, emb.manifest.get("created"))
        except EmbeddingSetError as err:
            if set_ref is not None:
                raise
            warnings.append(f"no set to pin the citation to ({err})")
    else:
        r = results[0]
        pinned = (f"{r['set']['name']}@{r['set']['version']}", r["set"]["manifest_sha256"], None)
    for r in results:
        if pinned and r["set"]["manifest_sha256"] != pinned[1]:
            warnings.append(f"{r['path']}: scored on {r['set']['name']}@{r['set']['version']} "
                            f"(manifest {r['set']['manifest_sha256'][:16]}), not on {pinned[0]}")
    entries = [benchmark_bibtex(*(pinned[:2] if pinned else (None, None)),
                                year=_year(pinned[2]) if pinned and pinned[2] else None)]
    keys = {"rewardheads"}
    for r in results:
        sub = r["submission"]
        key = base = bib_key("rewardheads", sub["name"], sub.get("version") or "")
        n = 1
        while key in keys:
            n += 1
            key = f"{base}-{n}"
        keys.add(key)
        entries.append(result_bibtex(r, key))
    return "\n\n".join(entries) + "\n", warnings
