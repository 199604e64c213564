"""Typed result records: the dataclasses the leaderboard, tables and citations read.

:func:`harness.results.read_record` checks a record file strictly (and upgrades old schemas);
:meth:`ResultRecord.of` turns that checked JSON into these frozen dataclasses and
:meth:`ResultRecord.to_json` writes it back. Keys a newer harness adds are kept in ``extra``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from harness.results import validate_record


def _known(cls) -> set[str]:
    return {f.name for f in fields(cls)} - {"extra"}


@dataclass(frozen=True)
class Score:
    """One score: mean over seeds, their std and values, a 95% CI, its item count, a label."""

    mean: float | None = None
    std: float | None = None
    ci95: tuple[float, float] | None = None
    per_seed: tuple[float | None, ...] = ()
    n: int | None = None
    label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: dict[str, Any] | None) -> Score | None:
        """A checked score object (or None)."""
        if obj is None:
            return None
        ci = obj.get("ci95")
        return cls(obj.get("mean"), obj.get("std"), tuple(ci) if ci else None,
                   tuple(obj.get("per_seed") or ()), obj.get("n"), obj.get("label") or "",
                   {k: v for k, v in obj.items() if k not in _known(cls)})

    def to_json(self) -> dict[str, Any]:
        """Back to the record's JSON shape (``n``/``label`` only when set)."""
        out: dict[str, Any] = {"mean": self.mean, "std": self.std,
                               "ci95": list(self.ci95) if self.ci95 else None,
                               "per_seed": list(self.per_seed)}
        if self.n is not None:
            out["n"] = self.n
        if self.label:
            out["label"] = self.label
        return {**out, **self.extra}


@dataclass(frozen=True)
class SuiteBlock:
    """A record's block for one suite."""

    name: str
    label: str
    subsets: dict[str, Score]
    sections: dict[str, Score]
    overall: Score | None
    overall_legacy: Score | None = None
    missing_subsets: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, obj: dict[str, Any]) -> SuiteBlock:
        """A checked block of ``record["suites"][name]``."""
        return cls(name, obj.get("label") or name,
                   {k: Score.of(v) for k, v in (obj.get("subsets") or {}).items()},
                   {k: Score.of(v) for k, v in (obj.get("sections") or {}).items()},
                   Score.of(obj.get("overall")), Score.of(obj.get("overall_legacy")),
                   tuple(obj.get("missing_subsets") or ()),
                   {k: v for k, v in obj.items() if k not in _known(cls)})

    def score(self, source: str, name: str = "") -> Score | None:
        """``overall``, a section (``source="section"``) or a block key such as ``overall_legacy``."""
        if source == "section":
            return self.sections.get(name)
        if source == "overall":
            return self.overall
        if source == "overall_legacy":
            return self.overall_legacy
        value = self.extra.get(source)
        return Score.of(value) if isinstance(value, dict) else None

    def to_json(self) -> dict[str, Any]:
        """Back to the record's JSON shape."""
        out: dict[str, Any] = {"label": self.label,
                               "subsets": {k: v.to_json() for k, v in self.subsets.items()},
                               "sections": {k: v.to_json() for k, v in self.sections.items()}}
        if self.overall is not None:
            out["overall"] = self.overall.to_json()
        if self.overall_legacy is not None:
            out["overall_legacy"] = self.overall_legacy.to_json()
        return {**out, "missing_subsets": list(self.missing_subsets), **self.extra}


@dataclass(frozen=True)
class Cost:
    """Mean cost over seeds as the parent measured it (seconds, MB) and the parameter count."""

    fit_s: float | None = None
    score_s: float | None = None
    import_s: float | None = None
    load_s: float | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    params: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    keys: tuple[str, ...] = field(default=(), compare=False)  # the keys the record had, in order

    @classmethod
    def of(cls, obj: dict[str, Any] | None) -> Cost:
        """A checked ``cost`` object (all None when the record has none)."""
        obj = obj or {}
        known = _known(cls) - {"keys"}
        return cls(**{k: obj.get(k) for k in known},
                   extra={k: v for k, v in obj.items() if k not in known}, keys=tuple(obj))

    def to_json(self) -> dict[str, Any]:
        """Back to JSON: the keys the record had (every known key for a new cost)."""
        keys = self.keys or tuple(sorted(_known(type(self)) - {"keys"}))
        return {k: self.extra[k] if k in self.extra else getattr(self, k) for k in keys}


@dataclass(frozen=True)
class SubmissionInfo:
    """Who and what was scored."""

    name: str
    version: str = ""
    sha256: str = ""
    family: str = ""
    description: str = ""
    authors: tuple[str, ...] = ()
    license: str = ""
    links: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    entry_point: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: dict[str, Any]) -> SubmissionInfo:
        """A checked ``submission`` object (missing strings become empty)."""
        known = {k: obj.get(k) for k in _known(cls) if obj.get(k) is not None}
        known["authors"] = tuple(known.get("authors", ()))
        return cls(**known, extra={k: v for k, v in obj.items() if k not in _known(cls)})

    @property
    def label(self) -> str:
        """``name version`` as the tables show it."""
        return f"{self.name} {self.version}" if self.version else self.name

    def to_json(self) -> dict[str, Any]:
        """Back to JSON."""
        out = {k: getattr(self, k) for k in _known(type(self))}
        out["authors"] = list(self.authors)
        return {**out, **self.extra}


@dataclass(frozen=True)
class SetInfo:
    """The embedding set a record was scored on."""

    name: str
    version: str
    manifest_sha256: str
    model: str = ""

    @property
    def ref(self) -> str:
        """``name-version``: the set's folder name (and its results folder)."""
        return f"{self.name}-{self.version}"


REFERENCE_FAMILY = "reference"


def label_controlled(record: dict[str, Any]) -> bool:
    """Whether a record (or its extra fields) carries the label control's block."""
    integrity = record.get("integrity")
    return isinstance(integrity, dict) and isinstance(integrity.get("label_control"), dict)


@dataclass(frozen=True)
class ResultRecord:
    """One submission's result on one set: every suite's block, cost and provenance."""

    schema: int
    submission: SubmissionInfo
    set: SetInfo
    harness: str
    suite: str
    seeds: tuple[int, ...]
    status: str
    error: str | None
    isolation: str
    created: str
    command: str
    suites: dict[str, SuiteBlock]
    cost: Cost
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, obj: dict[str, Any], where: str = "record") -> ResultRecord:
        """Check ``obj`` (:func:`harness.results.validate_record`, any schema) and type it."""
        rec = validate_record(obj, where)
        s = rec["set"]
        return cls(rec["schema"], SubmissionInfo.of(rec["submission"]),
                   SetInfo(s["name"], s["version"], s["manifest_sha256"], s.get("model") or ""),
                   rec["harness"], rec["suite"], tuple(rec["seeds"]), rec["status"], rec["error"],
                   rec["isolation"], rec["created"], rec["command"],
                   {k: SuiteBlock.of(k, v) for k, v in rec["suites"].items()}, Cost.of(rec.get("cost")),
                   {k: v for k, v in rec.items() if k not in _known(cls)})

    @property
    def ok(self) -> bool:
        """Finished and scored."""
        return self.status == "ok"

    @property
    def reference(self) -> bool:
        """A naive reference (random, length): shown, never ranked or best in a column."""
        return self.submission.family == REFERENCE_FAMILY

    @property
    def sandboxed(self) -> bool:
        """Computed under bubblewrap (the published board takes only these)."""
        return self.isolation == "bwrap"

    @property
    def controlled(self) -> bool:
        """Its head was also fitted with every training preference reversed (:mod:`harness.control`)."""
        return label_controlled(self.extra)

    @property
    def headline(self) -> SuiteBlock | None:
        """The block of the record's own ``suite``."""
        return self.suites.get(self.suite)

    def to_json(self) -> dict[str, Any]:
        """Back to the record's JSON (schema 2)."""
        return {"schema": self.schema, "submission": self.submission.to_json(),
                "set": {"name": self.set.name, "version": self.set.version,
                        "manifest_sha256": self.set.manifest_sha256, "model": self.set.model},
                "harness": self.harness, "suite": self.suite, "seeds": list(self.seeds),
                "status": self.status, "error": self.error, "isolation": self.isolation,
                "created": self.created, "command": self.command,
                "suites": {k: v.to_json() for k, v in self.suites.items()},
                "cost": self.cost.to_json(), **self.extra}
