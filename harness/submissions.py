"""Submission folders: ``submission.toml`` metadata (validated) + the head's entry point.

Submissions come from strangers, so their metadata is strictly typed data: every field has a
type, a size cap and a character set, ``[params]`` holds only plain TOML values (no dates, no
inf/nan, no huge ints), and the entry point is a ``.py`` file inside the folder. Each violation
is one ``SubmissionError`` line naming the file and the field.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import math
import os
import re
import stat
import sys
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from harness.errors import HarnessError

METADATA = "submission.toml"
NAME_RE = re.compile(r"^[a-z][a-z0-9_\-]{0,63}$")
FAMILIES = ("bradley-terry", "classification", "ensemble", "trees", "nonparametric",
            "multi-objective", "reference", "other")
KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
VERSION_RE = re.compile(r"^\d+(\.\d+){0,3}(?:[.-]?[A-Za-z0-9])*$")  # = \d+(\.\d+){0,3}([.-]?[A-Za-z0-9]+)*
ENTRY_RE = re.compile(r"^(?P<file>[^:]+\.py):(?P<cls>[A-Za-z_][A-Za-z0-9_]*)$")
PATH_PART_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
CACHE_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints"})
# C0, DEL, C1, line/paragraph separators and the bidi embeddings, overrides, isolates and marks
CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
MAX_METADATA_BYTES = 64 * 1024
MAX_SEEDS, MAX_SEED = 10, 2**31
MAX_INT = 2**53
PARAM_DEPTH, PARAM_KEYS, PARAM_ITEMS, PARAM_CHARS = 3, 64, 256, 1000
TEXT_LIMITS = {"version": 32, "description": 1000, "author": 100, "license": 64, "link": 500, "entry_point": 200}
MAX_AUTHORS, MAX_LINKS = 20, 10
VARIANT_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")
MAX_VARIANTS = 16


class SubmissionError(HarnessError):
    """A submission folder whose metadata or entry point is unusable."""


@dataclass(frozen=True)
class Submission:
    """A validated submission folder."""

    path: Path
    name: str
    version: str
    family: str
    description: str
    authors: tuple[str, ...]
    license: str
    entry_point: str
    seeds: tuple[int, ...]
    params: dict[str, Any] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)  # a variant's params on top of the folder's
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # declared [variants.NAME] tables
    readout: tuple[str, ...] = ()  # params that only change how a fitted model is read out
    variant_name: str = ""  # which declared variant this is ("" for the folder itself)
    tuning: dict[str, Any] = field(default_factory=dict)  # [tuning]: how [params] were chosen

    @property
    def base_name(self) -> str:
        """The folder's name (a variant's ``name`` adds its overrides)."""
        return self.name.split("@", 1)[0]

    @property
    def module_name(self) -> str:
        """The name its entry point is imported under (one per variant, a valid identifier)."""
        return "rewardheads_submission_" + re.sub(r"\W", "_", self.name)

    def expand(self) -> list[Submission]:
        """The declared variants, in the file's order (named ``name@variant``), or just this folder."""
        if self.variant_name or not self.variants:
            return [self]
        return [replace(self, name=f"{self.base_name}@{key}", params={**self.params, **values}, variant_name=key)
                for key, values in self.variants.items()]

    @property
    def fit_params(self) -> dict[str, Any]:
        """The params a fit depends on: variants that agree on these share one fit per seed."""
        return {k: v for k, v in self.params.items() if k not in self.readout}

    @property
    def readout_params(self) -> dict[str, Any]:
        """The read-out params (``readout = [...]``) with this variant's values."""
        return {k: self.params[k] for k in self.readout if k in self.params}

    def variant(self, overrides: dict[str, Any]) -> Submission:
        """This submission with ``overrides`` on its ``[params]``, named ``name@k=v,...``
        (``name@variant,k=v,...`` for a declared variant).

        Values follow the ``[params]`` rules; the folder (and its content hash) is unchanged, so
        a variant's record says exactly what was run without editing any file.
        """
        if not overrides:
            return self
        where = f"{self.path / METADATA} (--param)"
        for key, value in overrides.items():
            _check_key(where, "params", key)
            _check_param(where, f"params.{key}", value, 1)
        merged = {**self.overrides, **overrides}
        label = ",".join(f"{k}={_param_text(v)}" for k, v in sorted(merged.items()))
        prefix = f"{self.base_name}@{self.variant_name + ',' if self.variant_name else ''}"
        return replace(self, name=f"{prefix}{label}", params={**self.params, **overrides},
                       overrides=merged)

    @property
    def module_file(self) -> Path:
        return self.path / self.entry_point.split(":")[0]

    @property
    def class_name(self) -> str:
        return self.entry_point.split(":")[1]

    def files(self) -> list[Path]:
        """Every entry of the folder that is not a folder, sorted: caches, hidden files, symlinks
        (never followed) and special files included, so the hash and the checks see all of it."""
        found: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(self.path, followlinks=False):
            base = Path(dirpath)
            found += [base / name for name in filenames]
            found += [base / name for name in dirnames if (base / name).is_symlink()]
        return sorted(found)

    @property
    def sha256(self) -> str:
        """Content hash over relative paths and bytes of every file: the submission's identity.

        A symlink contributes its target text and a special file a marker; neither is followed."""
        digest = hashlib.sha256()
        for file in self.files():
            digest.update(os.fsencode(file.relative_to(self.path).as_posix()) + b"\0")
            mode = file.lstat().st_mode
            if stat.S_ISLNK(mode):
                digest.update(b"symlink\0" + os.fsencode(os.readlink(file)))
            elif stat.S_ISREG(mode):
                with open(file, "rb") as handle:
                    digest.update(hashlib.file_digest(handle, "sha256").digest())
            else:
                digest.update(b"special\0")
        return digest.hexdigest()

    def record(self) -> dict[str, Any]:
        """The submission's part of a result record."""
        return {
            "name": self.name, "version": self.version, "sha256": self.sha256, "family": self.family,
            "description": self.description, "authors": list(self.authors), "license": self.license,
            "links": dict(self.links), "params": dict(self.params), "entry_point": self.entry_point,
            **({"variant_of": self.base_name} if self.overrides or self.variant_name else {}),
            **({"variant": self.variant_name} if self.variant_name else {}),
            **({"overrides": dict(self.overrides)} if self.overrides else {}),
            **({"tuning": dict(self.tuning)} if self.tuning and not self.overrides else {}),
        }


_SCHEMA: dict[str, tuple[type | tuple[type, ...], bool]] = {
    # key: (type, required)
    "name": (str, True),
    "version": (str, True),
    "family": (str, True),
    "description": (str, True),
    "authors": (list, True),
    "license": (str, True),
    "entry_point": (str, True),
    "seeds": (list, False),
    "params": (dict, False),
    "links": (dict, False),
    "readout": (list, False),
    "variants": (dict, False),
    "tuning": (dict, False),
}


def _show(value: object, limit: int = 60) -> str:
    """A user-supplied value for an error message: escaped (never a control character), short."""
    text = ascii(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _read_metadata(path: Path) -> dict[str, Any]:
    meta_file = path / METADATA
    if not path.is_dir():
        raise SubmissionError(f"{path}: not a folder")
    if meta_file.is_symlink():
        raise SubmissionError(f"{meta_file}: is a symlink; it must be a regular file")
    if not meta_file.is_file():
        raise SubmissionError(f"{path}: no {METADATA}")
    data = meta_file.read_bytes()
    if len(data) > MAX_METADATA_BYTES:
        raise SubmissionError(f"{meta_file}: {len(data)} bytes, limit {MAX_METADATA_BYTES}")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, ValueError, RecursionError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise SubmissionError(f"{meta_file}: invalid TOML ({_show(reason, 240)[1:-1]})") from None


def _check_text(where: str, label: str, value: str, limit: int, *, empty: bool = False) -> None:
    """A metadata string: at most ``limit`` characters, none of them a control character."""
    if not value.strip() and not empty:
        raise SubmissionError(f"{where}: '{label}' must not be empty")
    if len(value) > limit:
        raise SubmissionError(f"{where}: '{label}' is {len(value)} characters long, limit {limit}")
    bad = CONTROL_RE.search(value)
    if bad:
        raise SubmissionError(f"{where}: '{label}' contains the control character U+{ord(bad.group()):04X} at "
                              f"position {bad.start()} (control, DEL, C1 and bidi characters are not allowed)")


def _check_key(where: str, label: str, key: str) -> None:
    if not KEY_RE.match(key):
        raise SubmissionError(f"{where}: key {_show(key)} in '{label}' must be an identifier ({KEY_RE.pattern})")


def _check_param(where: str, label: str, value: Any, depth: int) -> None:
    """One ``[params]`` value: a bool, finite int/float, short string, or a small list/table of those."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise SubmissionError(f"{where}: '{label}' = {_show(value, 24)} is out of range (|x| <= 2**53)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise SubmissionError(f"{where}: '{label}' = {value} is not finite (inf and nan are not allowed)")
    elif isinstance(value, str):
        _check_text(where, label, value, PARAM_CHARS, empty=True)
    elif isinstance(value, list | dict):
        if depth > PARAM_DEPTH:
            raise SubmissionError(f"{where}: '{label}' nests lists/tables deeper than {PARAM_DEPTH} levels")
        limit = PARAM_ITEMS if isinstance(value, list) else PARAM_KEYS
        if len(value) > limit:
            raise SubmissionError(f"{where}: '{label}' has {len(value)} {'items' if limit == PARAM_ITEMS else 'keys'}"
                                  f", limit {limit}")
        items = enumerate(value) if isinstance(value, list) else value.items()
        for key, item in items:
            if isinstance(key, str):
                _check_key(where, label, key)
            _check_param(where, f"{label}[{key}]" if isinstance(key, int) else f"{label}.{key}", item, depth + 1)
    else:
        kind = "a TOML date/time" if type(value).__module__ == "datetime" else f"a {type(value).__name__}"
        raise SubmissionError(f"{where}: '{label}' is {kind}; params may be strings, booleans, finite numbers "
                              f"and lists/tables of those")


def _check_seeds(where: str, seeds: list) -> tuple[int, ...]:
    rule = f"a non-empty list of at most {MAX_SEEDS} distinct integers in [0, 2**31)"
    if not seeds or len(seeds) > MAX_SEEDS:
        raise SubmissionError(f"{where}: 'seeds' must be {rule} (got {len(seeds)})")
    for i, seed in enumerate(seeds):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
            raise SubmissionError(f"{where}: 'seeds[{i}]' = {_show(seed, 24)}: 'seeds' must be {rule}")
    if len(set(seeds)) != len(seeds):
        raise SubmissionError(f"{where}: 'seeds' repeats a seed; 'seeds' must be {rule}")
    return tuple(seeds)


def _check_links(where: str, links: dict) -> dict[str, str]:
    if len(links) > MAX_LINKS:
        raise SubmissionError(f"{where}: '[links]' has {len(links)} entries, limit {MAX_LINKS}")
    for key, url in links.items():
        _check_key(where, "links", key)
        if not isinstance(url, str):
            raise SubmissionError(f"{where}: 'links.{key}' must be a str, got {type(url).__name__}")
        _check_text(where, f"links.{key}", url, TEXT_LIMITS["link"])
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
            raise SubmissionError(f"{where}: 'links.{key}' = {_show(url)} must be an http(s) URL")
    return dict(links)


def _check_variants(where: str, variants: dict, params: dict) -> dict[str, dict[str, Any]]:
    """``[variants.NAME]`` tables: short lower-case names, each a table of params on top of ``[params]``."""
    if len(variants) > MAX_VARIANTS:
        raise SubmissionError(f"{where}: '[variants]' has {len(variants)} entries, limit {MAX_VARIANTS}")
    for key, values in variants.items():
        if not VARIANT_RE.match(key):
            raise SubmissionError(f"{where}: variant name {_show(key)} must match {VARIANT_RE.pattern}")
        if not isinstance(values, dict):
            raise SubmissionError(f"{where}: 'variants.{key}' must be a table of params, "
                                  f"got {type(values).__name__}")
        _check_param(where, f"variants.{key}", values, 1)
    return {key: dict(values) for key, values in variants.items()}


def _check_readout(where: str, readout: list, params: dict, variants: dict) -> tuple[str, ...]:
    """``readout = [...]``: distinct names of params (in ``[params]``) that only change how a fit is read out."""
    if len(readout) > PARAM_KEYS or not all(isinstance(k, str) for k in readout):
        raise SubmissionError(f"{where}: 'readout' must be a list of at most {PARAM_KEYS} param names")
    for key in readout:
        _check_key(where, "readout", key)
        if key not in params:
            raise SubmissionError(f"{where}: 'readout' names {_show(key)}, which is not in [params]")
    if len(set(readout)) != len(readout):
        raise SubmissionError(f"{where}: 'readout' repeats a param name")
    if readout and not variants:
        raise SubmissionError(f"{where}: 'readout' is only meaningful with [variants.NAME] tables")
    return tuple(readout)


TUNING_METHODS = {
    "grid": "grid search by `rewardheads tune` on validation pairs carved from a set's training split",
    "in-fit": "chosen inside fit() on a validation part of the training pairs it is given",
    "fixed": "taken as published or as a default, not chosen on any data",
    "none": "the head has no hyper-parameters",
}
TUNING_KEYS = {"method", "note", "set", "validation", "validation_seed", "seeds", "grid", "chosen"}


def _check_tuning(where: str, tuning: dict, params: dict) -> dict[str, Any]:
    """``[tuning]``: how [params] were chosen. A grid search names its set, validation fraction,
    grid and choice, and the choice must be what [params] holds."""
    unknown = sorted(set(tuning) - TUNING_KEYS)
    if unknown:
        raise SubmissionError(f"{where}: unknown key(s) in [tuning]: {', '.join(_show(k) for k in unknown)} "
                              f"(allowed: {', '.join(sorted(TUNING_KEYS))})")
    method = tuning.get("method")
    if method not in TUNING_METHODS:
        raise SubmissionError(f"{where}: tuning.method = {_show(method)} is not one of {', '.join(TUNING_METHODS)}")
    if not isinstance(tuning.get("note", ""), str):
        raise SubmissionError(f"{where}: tuning.note must be a str")
    _check_text(where, "tuning.note", tuning.get("note", ""), TEXT_LIMITS["description"], empty=True)
    _check_param(where, "tuning", {k: v for k, v in tuning.items() if k != "note"}, 0)
    if method != "grid":
        extra = sorted(set(tuning) - {"method", "note"})
        if extra:
            raise SubmissionError(f"{where}: tuning.{extra[0]} belongs to method = \"grid\" only")
        return dict(tuning)
    for key, kind in (("set", str), ("validation", (int, float)), ("grid", dict), ("chosen", dict)):
        if not isinstance(tuning.get(key), kind):
            raise SubmissionError(f"{where}: tuning.method = \"grid\" needs tuning.{key}")
    if isinstance(tuning["validation"], bool) or not 0 < tuning["validation"] <= 0.5:
        raise SubmissionError(f"{where}: tuning.validation = {_show(tuning['validation'])} must be a fraction "
                              "in (0, 0.5]")
    grid, chosen = tuning["grid"], tuning["chosen"]
    for key, value in chosen.items():
        values = grid.get(key)
        if not isinstance(values, list) or value not in values:
            raise SubmissionError(f"{where}: tuning.chosen.{key} = {_show(value)} is not one of tuning.grid.{key}")
        if key not in params or params[key] != value:
            raise SubmissionError(f"{where}: tuning.chosen.{key} = {_show(value)} but [params] has "
                                  f"{_show(params.get(key))}: copy the chosen value into [params]")
    if set(chosen) != set(grid):
        raise SubmissionError(f"{where}: tuning.chosen must give a value for every key of tuning.grid")
    return dict(tuning)


def _check_entry_point(where: str, root: Path, entry: str) -> None:
    """``relative/path.py:Class``: a regular ``.py`` file inside the folder, reached without symlinks."""
    _check_text(where, "entry_point", entry, TEXT_LIMITS["entry_point"])
    match = ENTRY_RE.match(entry)
    if not match:
        raise SubmissionError(f"{where}: entry_point {_show(entry)} must look like 'head.py:Head' "
                              f"(relative/path.py:ClassName)")
    rel = match["file"]
    if rel.startswith("/") or "\\" in rel:
        raise SubmissionError(f"{where}: entry_point {_show(entry)} must be a relative path inside the folder")
    parts = rel.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise SubmissionError(f"{where}: entry_point {_show(entry)} must not contain '..', '.' or '//'")
        if part in CACHE_DIRS:
            raise SubmissionError(f"{where}: entry_point {_show(entry)} points into the cache folder {part}")
        if part.startswith("."):
            raise SubmissionError(f"{where}: entry_point {_show(entry)} has the hidden component {_show(part)}")
        if not PATH_PART_RE.match(part):
            raise SubmissionError(f"{where}: entry_point {_show(entry)} has the component {_show(part)}, not a plain "
                                  f"file name (letters, digits, '_', '-', '.')")
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            raise SubmissionError(f"{where}: entry point {PurePosixPath(rel)}: {part} is a symlink")
    if not current.is_file() or not stat.S_ISREG(current.lstat().st_mode):
        raise SubmissionError(f"{where}: entry point file {rel} not found (or not a regular file)")
    if not current.resolve().is_relative_to(root):
        raise SubmissionError(f"{where}: entry point {rel} resolves outside the folder")


def _unknown_fields(where: str, meta: dict[str, Any]) -> None:
    unknown = sorted(set(meta) - set(_SCHEMA))
    if not unknown:
        return
    shown = []
    for key in unknown:
        near = difflib.get_close_matches(key, list(_SCHEMA), n=1, cutoff=0.6)
        shown.append(_show(key) + (f" (did you mean '{near[0]}'?)" if near else ""))
    raise SubmissionError(f"{where}: unknown field(s) {', '.join(shown)} (allowed: {', '.join(_SCHEMA)})")


def load_submission(path: str | Path) -> Submission:
    """Read and validate ``<path>/submission.toml``; errors name the file and the field."""
    path = Path(path)
    meta = _read_metadata(path)
    where = str(path / METADATA)
    _unknown_fields(where, meta)
    for key, (kind, required) in _SCHEMA.items():
        if key not in meta:
            if required:
                raise SubmissionError(f"{where}: missing required field '{key}'")
            continue
        if not isinstance(meta[key], kind):
            raise SubmissionError(f"{where}: '{key}' must be a {kind.__name__}, got {type(meta[key]).__name__}")
    if not NAME_RE.match(meta["name"]):
        raise SubmissionError(f"{where}: name {_show(meta['name'])} must match {NAME_RE.pattern}")
    if meta["name"] != path.name:
        raise SubmissionError(f"{where}: name '{meta['name']}' differs from the folder name {_show(path.name)}")
    _check_text(where, "version", meta["version"], TEXT_LIMITS["version"])
    if not VERSION_RE.match(meta["version"]):
        raise SubmissionError(f"{where}: version {_show(meta['version'])} is not a version string like '1.0.0'")
    if meta["family"] not in FAMILIES:
        raise SubmissionError(f"{where}: family {_show(meta['family'])} is not one of {', '.join(FAMILIES)}")
    _check_text(where, "description", meta["description"], TEXT_LIMITS["description"])
    _check_text(where, "license", meta["license"], TEXT_LIMITS["license"])
    authors = meta["authors"]
    if not authors or len(authors) > MAX_AUTHORS or not all(isinstance(a, str) for a in authors):
        raise SubmissionError(f"{where}: 'authors' must be a non-empty list of at most {MAX_AUTHORS} strings")
    for i, author in enumerate(authors):
        _check_text(where, f"authors[{i}]", author, TEXT_LIMITS["author"])
    seeds = _check_seeds(where, meta.get("seeds", [0, 1, 2]))
    params = meta.get("params", {})
    _check_param(where, "params", params, 0)
    links = _check_links(where, meta.get("links", {}))
    variants = _check_variants(where, meta.get("variants", {}), params)
    readout = _check_readout(where, meta.get("readout", []), params, variants)
    tuning = _check_tuning(where, meta["tuning"], params) if "tuning" in meta else {}
    root = path.resolve()
    _check_entry_point(where, root, meta["entry_point"])
    return Submission(
        path=root, name=meta["name"], version=meta["version"], family=meta["family"],
        description=meta["description"], authors=tuple(authors), license=meta["license"],
        entry_point=meta["entry_point"], seeds=seeds, params=params, links=links, variants=variants,
        readout=readout, tuning=tuning,
    )


def _param_text(value: Any) -> str:
    """A parameter value as it is written on the command line (``0.1``, ``true``, ``[1, 2]``)."""
    import json

    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from the command line; the value is read as TOML (``0.1``, ``true``, ``[1, 2]``,
    ``"text"``), and a bare word that is not TOML is a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise SubmissionError(f"--param {text!r}: expected KEY=VALUE, e.g. C=0.1")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.strip(), value


def parse_grid(texts: list[str]) -> list[dict[str, Any]]:
    """``--grid KEY=V1,V2`` options as the list of their combinations (a cartesian product)."""
    import itertools

    axes = parse_axes(texts)
    return [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())]


def parse_axes(texts: list[str]) -> dict[str, list[Any]]:
    """``--grid KEY=V1,V2`` options as ``{KEY: [V1, V2]}``, in the order given."""
    axes = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        if not sep or not key or not raw:
            raise SubmissionError(f"--grid {text!r}: expected KEY=V1,V2,..., e.g. C=0.01,0.1,1")
        values = [parse_param(f"{key}={v}")[1] for v in _top_level_items(raw)]
        axes[key.strip()] = [v for i, v in enumerate(values) if v not in values[:i]]  # each value once
    return axes


def _top_level_items(text: str) -> list[str]:
    """``1,[2, 3],"a,b"`` → ``["1", "[2, 3]", '"a,b"']``: commas inside brackets or quotes stay."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    return [*items, text[start:]]


def check_placeholders(sub: Submission) -> None:
    """Refuse the scaffold's placeholder texts: they would go onto the leaderboard as they are."""
    from harness.scaffold import PLACEHOLDERS

    where = sub.path / METADATA
    for field_name, placeholder, hint in PLACEHOLDERS:
        value = getattr(sub, field_name)
        values = value if isinstance(value, tuple) else (value,)
        if any(placeholder in v for v in values):
            raise SubmissionError(f"{where}: '{field_name}' still holds the scaffold's placeholder; {hint}")


def import_head_class(sub: Submission) -> type:
    """Import the entry point's module from its file (writing no bytecode) and return the head class."""
    module_name = sub.module_name
    spec = importlib.util.spec_from_file_location(module_name, sub.module_file)
    if spec is None or spec.loader is None:
        raise SubmissionError(f"{sub.module_file}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the folder
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        text = str(err).splitlines()[0][:300] if str(err) else ""
        raise SubmissionError(f"{sub.module_file}: import failed ({type(err).__name__}: {text})") from None
    finally:
        sys.dont_write_bytecode = before
    return head_class(sub, module)


def head_class(sub: Submission, module) -> type:
    """The entry point's class in its imported ``module``, or a clear error."""
    cls = getattr(module, sub.class_name, None)
    if cls is None:
        raise SubmissionError(f"{sub.module_file}: no class '{sub.class_name}'")
    return cls


def make_head(sub: Submission, **overrides: Any):
    """Instantiate the head with the toml's ``[params]`` (and overrides)."""
    return instantiate(sub, import_head_class(sub), **overrides)


def instantiate(sub: Submission, cls: type, **overrides: Any):
    """``cls`` built from the toml's ``[params]`` (and overrides), checked to have ``fit`` and ``score``."""
    params = {**sub.params, **overrides}
    try:
        head = cls(**params)
    except TypeError as err:
        raise SubmissionError(f"{sub.path / METADATA}: [params] do not fit {sub.class_name}() ({err})") from None
    for method in ("fit", "score"):
        if not callable(getattr(head, method, None)):
            raise SubmissionError(f"{sub.module_file}: {sub.class_name} has no {method}() method")
    return head


def discover(root: str | Path) -> list[Path]:
    """Submission folders under ``root`` (those holding a ``submission.toml``), sorted by name."""
    root = Path(root)
    if (root / METADATA).is_file():
        return [root]
    return sorted(p.parent for p in root.glob(f"*/{METADATA}"))
