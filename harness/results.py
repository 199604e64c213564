"""Result records: one JSON file per submission and embedding set.

Layout: ``results/<set name>-<version>/<submission>.json`` (raw scores in
``results/<set name>-<version>/raw/<submission>.npz``), so two sets' results never collide;
records of the old flat layout (``results/<submission>.json``, the mini@1 board) are still
read. The runner writes records with :func:`write_record`; the leaderboard reads them with
:func:`load_records` and turns them into typed :class:`harness.records.ResultRecord`. Schema 2::

    {"schema": 2,
     "submission": {"name", "version", "sha256", "family", "description", "authors", "license",
                    "links": {label: url}, "params": {...}, "entry_point"},
     "set": {"name", "version", "manifest_sha256", "model"},
     "harness": "0.1.0", "suite": "rewardbench-v1" (the headline suite), "seeds": [0, 1, 2],
     "status": "ok" | "failed" | "skipped", "error": null | "one line",
     "isolation": "bwrap" | "process", "created": ISO-8601, "command": "rewardheads run ...",
     "suites": {suite name: {                     # one block per suite the set carries
         "label": "RewardBench v1",
         "subsets": {name: {"mean", "std", "per_seed", "ci95", "n"}},
         "sections": {name: {"mean", "std", "ci95": [lo, hi], "per_seed"}},
         "overall": {"mean", "std", "ci95", "per_seed", "label"},
         "overall_legacy": {... same shape ...},        # optional
         "missing_subsets": [...]}},
     "cost": {"fit_s", "score_s", "peak_rss_mb", "params", ...}}

Schema 1 had one suite's ``subsets``, ``sections``, ``overall``, ``overall_legacy`` and
``missing_subsets`` at the top level; :func:`_upgrade_v1` moves them under
``suites[record["suite"]]``. A ``failed`` or ``skipped`` record carries an ``error`` line and
may lack the scores (an ``ok`` one has the headline suite's block, with an overall).
``ci95`` is null when no interval is known (records upgraded from schema 0). Unknown extra
keys are kept, so a newer harness can add fields within the same schema version.

Older schemas are upgraded on read (:data:`UPGRADES`); a newer schema is refused.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.fileio import atomic_write_json

SCHEMA_VERSION = 2
#: Schema-1 keys that moved under ``suites[record["suite"]]`` in schema 2.
SUITE_BLOCK_KEYS = ("subsets", "sections", "overall", "overall_legacy", "missing_subsets")
STATUSES = ("ok", "failed", "skipped")
#: A submission name: no path separators or control characters, not starting with a dot.
NAME_RE = re.compile(r"^[^./\\\x00-\x1f\x7f][^/\\\x00-\x1f\x7f]{0,127}$")
URL_RE = re.compile(r"^https?://\S+$", re.IGNORECASE)

GroupKey = tuple[str, str, str, str]  # (set name, set version, manifest sha256, suite)


class ResultError(HarnessError):
    """A result record that cannot be read, upgraded or written; one line naming the file."""


# -- schema upgrades ---------------------------------------------------------------------------
def _upgrade_v0(old: dict[str, Any]) -> dict[str, Any]:
    """Schema 0 (harness 0.0.x, no ``schema`` key) → schema 1.

    Schema 0 stored bare numbers: ``"overall": 0.57``, ``"sections": {"Chat": 0.71}``,
    ``"subsets": {"alpacaeval-easy": 0.81}`` and ``"seeds": 3`` (a count). It had no
    ``isolation``, ``command``, ``error`` or intervals. Example::

        {"submission": {"name": "bt_mlp", "version": "0.9"},
         "set": {"name": "mini", "version": "1", "manifest_sha256": "ab12..."},
         "harness": "0.0.3", "suite": "rewardbench-v1", "seeds": 3, "status": "ok",
         "created": "2026-06-01T12:00:00+00:00", "overall": 0.57,
         "sections": {"Chat": 0.71, "Chat Hard": 0.42, "Safety": 0.6, "Reasoning": 0.55},
         "subsets": {"alpacaeval-easy": 0.81}}
    """
    new = dict(old)
    new["schema"] = 1
    seeds = old.get("seeds", [])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        new["seeds"] = list(range(seeds))

    def score(value, **extra):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"mean": float(value), "std": None, "ci95": None, "per_seed": [], **extra}
        return value

    for key in ("sections", "subsets"):
        if isinstance(old.get(key), dict):
            new[key] = {name: score(v) for name, v in old[key].items()}
    if "overall" in old:
        new["overall"] = score(old["overall"], label=f"{old.get('suite', 'suite')} overall")
    new.setdefault("status", "ok")
    new.setdefault("error", None)
    new.setdefault("isolation", "unknown")
    new.setdefault("command", "")
    return new


def _upgrade_v1(old: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 → 2: the top-level score keys become the block of the record's one suite.

    ``{"suite": "rewardbench-v1", "subsets": ..., "sections": ..., "overall": ...}`` becomes
    ``{"suite": "rewardbench-v1", "suites": {"rewardbench-v1": {"label", "subsets",
    "sections", "overall", "missing_subsets"}}}``; a record without scores gets no block.
    """
    new = {k: v for k, v in old.items() if k not in SUITE_BLOCK_KEYS}
    new["schema"] = 2
    block = {k: old[k] for k in SUITE_BLOCK_KEYS if k in old and old[k] is not None}
    suite = old.get("suite")
    new["suites"] = {}
    if block and isinstance(suite, str):
        from harness.suites import SUITES

        known = SUITES.get(suite)
        block.setdefault("missing_subsets", [])
        new["suites"][suite] = {"label": getattr(known, "title", suite), **block}
    return new


#: ``{old schema: fn(record) -> record one schema newer}``, applied in a chain on read.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _upgrade_v0, 1: _upgrade_v1}


def upgrade(obj: dict[str, Any], where: str) -> dict[str, Any]:
    """Bring a record of any older schema to :data:`SCHEMA_VERSION` (a deep copy)."""
    obj = copy.deepcopy(obj)
    version = obj.get("schema", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ResultError(f"{where}: schema must be a non-negative integer, not {version!r}")
    if version > SCHEMA_VERSION:
        raise ResultError(f"{where}: schema {version} is newer than this harness reads "
                          f"({SCHEMA_VERSION}); upgrade rewardheads")
    while version < SCHEMA_VERSION:
        if version not in UPGRADES:
            raise ResultError(f"{where}: schema {version} is too old to upgrade")
        obj = UPGRADES[version](obj)
        version = obj["schema"]
    return obj


# -- validation --------------------------------------------------------------------------------
class _Checker:
    """Type checks that raise one :class:`ResultError` line naming the file and the field."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, field: str, message: str):
        raise ResultError(f"{self.where}: {field} {message}")

    def get(self, obj: dict, key: str, field: str, kinds, *, required=True, nullable=False):
        if key not in obj:
            if required:
                self.fail(field, "is missing")
            return None
        value = obj[key]
        if value is None and (nullable or not required):
            return None
        if isinstance(value, bool) and bool not in _tuple(kinds):
            self.fail(field, f"must be {_kind_name(kinds)}, not {value!r}")
        if not isinstance(value, kinds):
            self.fail(field, f"must be {_kind_name(kinds)}, not {type(value).__name__}")
        return value

    def number(self, value, field: str, *, nullable=False):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(field, f"must be a number, not {value!r}")
        if not math.isfinite(value):
            self.fail(field, f"must be finite, not {value}")
        return value

    def score(self, obj, field: str, *, label=False) -> None:
        if not isinstance(obj, dict):
            self.fail(field, f"must be an object with a mean, not {type(obj).__name__}")
        self.number(obj.get("mean"), f"{field}.mean", nullable="mean" in obj and not label)
        if obj.get("std") is not None:
            self.number(obj["std"], f"{field}.std")
        ci = obj.get("ci95")
        if ci is not None:
            if not isinstance(ci, list | tuple) or len(ci) != 2:
                self.fail(f"{field}.ci95", "must be [low, high] or null")
            lo = self.number(ci[0], f"{field}.ci95[0]")
            hi = self.number(ci[1], f"{field}.ci95[1]")
            if lo > hi:
                self.fail(f"{field}.ci95", f"has low {lo} above high {hi}")
            obj["ci95"] = [lo, hi]
        per_seed = obj.get("per_seed", [])
        if not isinstance(per_seed, list | tuple):
            self.fail(f"{field}.per_seed", "must be a list of numbers")
        for i, v in enumerate(per_seed):
            self.number(v, f"{field}.per_seed[{i}]", nullable=True)
        if "n" in obj and obj["n"] is not None:
            if isinstance(obj["n"], bool) or not isinstance(obj["n"], int) or obj["n"] < 0:
                self.fail(f"{field}.n", f"must be a count, not {obj['n']!r}")
        if label:
            self.get(obj, "label", f"{field}.label", str)


def _tuple(kinds) -> tuple:
    return kinds if isinstance(kinds, tuple) else (kinds,)


def _kind_name(kinds) -> str:
    names = {str: "a string", int: "an integer", float: "a number", list: "a list",
             dict: "an object", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in _tuple(kinds))


def validate_record(obj: Any, where: str = "record") -> dict[str, Any]:
    """Check a record (any known schema) and return it upgraded to schema 2, as a new dict.

    Raises :class:`ResultError` with one line, prefixed by ``where`` (usually the file name).
    """
    if not isinstance(obj, dict):
        raise ResultError(f"{where}: a result record must be a JSON object, "
                          f"not {type(obj).__name__}")
    rec = upgrade(obj, where)
    for key in SUITE_BLOCK_KEYS:  # a with_headline() view's copies: derived, never stored
        rec.pop(key, None)
    c = _Checker(where)

    sub = c.get(rec, "submission", "submission", dict)
    name = c.get(sub, "name", "submission.name", str)
    if not NAME_RE.match(name):
        c.fail("submission.name", f"{name!r} must be 1-128 characters without '/', '\\' or "
               "control characters, not starting with '.' (it names files and pages)")
    for key in ("version", "sha256", "family", "description", "license", "entry_point"):
        c.get(sub, key, f"submission.{key}", str, required=False)
    authors = c.get(sub, "authors", "submission.authors", list, required=False) or []
    for i, author in enumerate(authors):
        if not isinstance(author, str):
            c.fail(f"submission.authors[{i}]", "must be a string")
    links = c.get(sub, "links", "submission.links", dict, required=False) or {}
    for label, url in links.items():
        if not isinstance(url, str):
            c.fail(f"submission.links.{label}", f"must be a string, not {url!r}")
    c.get(sub, "params", "submission.params", dict, required=False)

    set_ = c.get(rec, "set", "set", dict)
    for key in ("name", "version", "manifest_sha256"):
        value = c.get(set_, key, f"set.{key}", (str, int))
        set_[key] = str(value)
    c.get(set_, "model", "set.model", str, required=False)

    c.get(rec, "harness", "harness", str)
    c.get(rec, "suite", "suite", str)
    seeds = c.get(rec, "seeds", "seeds", list)
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int):
            c.fail(f"seeds[{i}]", f"must be an integer, not {seed!r}")
    status = c.get(rec, "status", "status", str)
    if status not in STATUSES:
        c.fail("status", f"must be one of {', '.join(STATUSES)}, not {status!r}")
    error = c.get(rec, "error", "error", str, required=status != "ok", nullable=status == "ok")
    if status != "ok" and not (error or "").strip():
        c.fail("error", f"must give the reason of a {status} record")
    if error is not None:
        rec["error"] = " ".join(error.split())  # one line
    rec.setdefault("error", None)
    c.get(rec, "isolation", "isolation", str)
    created = c.get(rec, "created", "created", str)
    try:
        datetime.fromisoformat(created)
    except ValueError:
        c.fail("created", f"must be an ISO-8601 time, not {created!r}")
    c.get(rec, "command", "command", str)

    ok = status == "ok"
    suites = c.get(rec, "suites", "suites", dict, required=False) or {}
    rec["suites"] = suites
    if ok and rec["suite"] not in suites:
        c.fail("suites", f"has no block for the record's suite {rec['suite']!r}")
    for suite, block in suites.items():
        _check_block(c, block, f"suites.{suite}", ok)
    cost = c.get(rec, "cost", "cost", dict, required=False) or {}
    for key, value in cost.items():
        c.number(value, f"cost.{key}", nullable=True)
    return rec


def _check_block(c: _Checker, block: Any, where: str, ok: bool) -> None:
    if not isinstance(block, dict):
        c.fail(where, f"must be an object, not {type(block).__name__}")
    c.get(block, "label", f"{where}.label", str, required=False)
    for kind in ("subsets", "sections"):
        scores = c.get(block, kind, f"{where}.{kind}", dict, required=ok) or {}
        for key, value in scores.items():
            c.score(value, f"{where}.{kind}.{key}")
    if ok or "overall" in block:
        c.score(block.get("overall"), f"{where}.overall", label=True)
    if block.get("overall_legacy") is not None:
        c.score(block["overall_legacy"], f"{where}.overall_legacy", label=True)
    missing = c.get(block, "missing_subsets", f"{where}.missing_subsets", list, required=False) or []
    if not all(isinstance(m, str) for m in missing):
        c.fail(f"{where}.missing_subsets", "must be a list of subset names")
    block["missing_subsets"] = missing


def with_headline(record: dict[str, Any]) -> dict[str, Any]:
    """A schema-2 record with its headline suite's block also at the top level.

    This is the shape :class:`harness.runner.Runner` hands back (and schema 1 had), for callers
    that read one suite (``record["overall"]``); :func:`validate_record` drops those copies, so
    writing such a view stores a plain schema-2 record.
    """
    block = (record.get("suites") or {}).get(record.get("suite"))
    if not block:
        return record
    return {**record, **{k: block[k] for k in SUITE_BLOCK_KEYS if k in block}}


# -- reading and writing -----------------------------------------------------------------------
def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    """Validate ``record`` then write it atomically; on a bad record the old file stays."""
    path = Path(path)
    rec = validate_record(record, str(path))
    return atomic_write_json(path, rec)


def read_record(path: str | Path) -> dict[str, Any]:
    """Read and validate one record file; any problem is one :class:`ResultError` line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ResultError(f"{path}: not UTF-8 text") from None
    except OSError as err:
        raise ResultError(f"{path}: cannot read ({err.strerror or err})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise ResultError(f"{path}: not valid JSON ({err.msg} at line {err.lineno} "
                          f"column {err.colno})") from None
    except RecursionError:
        raise ResultError(f"{path}: not valid JSON (nested too deeply)") from None
    return validate_record(obj, str(path))


def group_key(record: dict[str, Any]) -> GroupKey:
    """``(set name, set version, manifest sha256, suite)``: only records sharing it compare."""
    s = record["set"]
    return (s["name"], s["version"], s["manifest_sha256"], record["suite"])


def set_folder(results: str | Path, set_name: str, set_version: str) -> Path:
    """``<results>/<set name>-<version>``: where one set's records and raw scores live."""
    return Path(results) / f"{set_name}-{set_version}"


def record_files(folder: str | Path) -> list[Path]:
    """The record files of a results folder: ``*/*.json`` (per set) then the flat ``*.json``."""
    folder = Path(folder)
    nested = [p for p in sorted(folder.glob("*/*.json")) if p.parent.name != "raw"]
    return nested + sorted(folder.glob("*.json"))


def load_records(folder: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Every valid record in ``folder`` (:func:`record_files`) and one line per skipped file.

    Files are read in that order; a record in a subfolder counts only when the subfolder is its
    set's (``<set name>-<version>``), so other folders (a study's results) are left alone.
    A malformed file is skipped and reported by name, never
    raised. When two files hold the same submission on the same set and suite, the one
    created later is kept and the other reported. A missing folder raises :class:`ResultError`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultError(f"{folder}: results folder not found")
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[tuple, tuple[int, Path]] = {}
    for path in record_files(folder):
        if not path.is_file():
            continue
        try:
            rec = read_record(path)
        except ResultError as err:
            problems.append(str(err))
            continue
        set_ref = f"{rec['set']['name']}-{rec['set']['version']}"
        if path.parent != folder and path.parent.name != set_ref:
            continue  # not a per-set folder (a study's own results, say)
        key = (rec["submission"]["name"], *group_key(rec))
        if key in seen:
            index, other = seen[key]
            older, newer = (other, path)
            if _created(rec) < _created(records[index]):
                older, newer = path, other
            problems.append(f"{older}: duplicate result for {key[0]} on {key[1]} v{key[2]} "
                            f"({key[4]}); {newer} is newer and is used instead")
            if newer == path:
                records[index] = rec
                seen[key] = (index, path)
            continue
        seen[key] = (len(records), path)
        records.append(rec)
    return records, problems


def _created(record: dict[str, Any]) -> datetime:
    when = datetime.fromisoformat(record["created"])
    return when if when.tzinfo else when.astimezone()


def group_by_set(records: Iterable[dict[str, Any]]) -> dict[GroupKey, list[dict[str, Any]]]:
    """Records grouped by :func:`group_key`, keys sorted: each group is ranked on its own."""
    groups: dict[GroupKey, list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault(group_key(rec), []).append(rec)
    return {key: groups[key] for key in sorted(groups)}
