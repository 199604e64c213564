"""The typed seam between the runner and the sandboxed worker: the job going in, the report coming out.

The job is trusted (the parent wrote it). The report is not: once a head's code has run, the
worker process belongs to the head, which may have patched numpy, ``json`` or this module, so
everything it sends back is parsed here as hostile input. A report is one frame written to a
pipe (no file on the host the head could swap for a symlink, a FIFO or a huge file)::

    b"RHW1" | u32 header length | header (UTF-8 JSON object) | one raw '<f8' vector per array

The parent knows how long every vector must be, so it reads at most that many bytes plus a
64 KiB header, and :func:`decode_report` accepts exactly one well-formed frame: known keys,
exact types, bounded strings and counts, finite numbers, no pickle.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.textsafe import terminal

MAGIC = b"RHW1"
MAX_HEADER = 64 * 1024
MAX_TEXT = 500
MAX_CHECKS = 32
MAX_TRACE_LINES = 60
MAX_PARAMS = 10**12
PHASES = ("load", "import", "fit", "score", "check", "done")
TIME_KEYS = ("import_s", "load_s", "fit_s", "score_s")
STATUSES = ("ok", "failed", "skipped")


class ProtocolError(HarnessError):
    """The worker's report is malformed: treated as the head's failure."""


@dataclass(frozen=True)
class Job:
    """What the parent asks of one worker process (written by the parent, read by the worker)."""

    mode: str  # "run" (fit once per seed, score the inputs) or "checks" (conformance checks on a tiny set)
    seed: int  # "checks": the seed of the checks; "run": ignored when ``seeds`` is given
    submission: dict[str, Any]  # harness.submissions.Submission fields, path as seen inside the sandbox
    preimport: list[str] = field(default_factory=list)
    train: list[str] = field(default_factory=list)
    inputs: str | None = None  # folder of the score calls, one folder per seed (0/a/, 0/b/, 1/a/, ...)
    calls: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)  # "run": every seed, each with a fresh head (default [seed])
    # "run": [{"params": {...}, "fit": k}] per variant (default: the submission's own params); variants with
    # the same "fit" share one fit per seed, re-read with ``set_readout`` under their read-out params
    variants: list[dict[str, Any]] = field(default_factory=list)
    scratch: str = ""
    threads: int = 1
    memory_mb: int = 0
    result_fd: int = -1
    uid: int | None = None  # the worker drops to this uid when it starts as root
    isolation: str = "process"
    deny_read: list[str] = field(default_factory=list)
    guard: bool = True  # tests switch the audit hook off to probe the OS-level sandbox alone

    @property
    def run_seeds(self) -> list[int]:
        return list(self.seeds) or [self.seed]

    @property
    def run_variants(self) -> list[dict[str, Any]]:
        return list(self.variants) or [{"params": dict(self.submission.get("params", {})), "fit": 0}]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


def array_name(seed_index: int, variant_index: int, call: str) -> str:
    """The report's name of one score vector: ``"<seed index>.<variant index>.<call>"``."""
    return f"{seed_index}.{variant_index}.{call}"


@dataclass(frozen=True)
class RunTimes:
    """One (seed, variant)'s phase times as the worker reported them (bounded by the totals)."""

    fit_s: float
    score_s: float


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class WorkerReport:
    """A validated report: every field has its type and range, every array its length."""

    status: str
    phase: str
    error: str | None = None
    times: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    checks: tuple[CheckOutcome, ...] = ()
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    traceback: str = ""  # the head's traceback, its own frames in full (failed reports)
    runs: tuple[RunTimes, ...] = ()  # per (seed, variant), seeds outer: the fit (shared) and its scoring
    at: int | None = None  # the index of the seed the worker was on when it failed or skipped


def encode_report(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> bytes:
    """One frame (the worker's side). ``arrays`` must already be float64 vectors."""
    arrays = arrays or {}
    head = json.dumps({**header, "arrays": list(arrays)}, allow_nan=False).encode()
    body = b"".join(np.ascontiguousarray(a, dtype="<f8").tobytes() for a in arrays.values())
    return MAGIC + struct.pack("<I", len(head)) + head + body


def frame_limit(expected: dict[str, int]) -> int:
    """The most bytes a well-formed frame with these arrays can have."""
    return len(MAGIC) + 4 + MAX_HEADER + 8 * sum(expected.values())


def clean_line(value: Any, limit: int | None = 300) -> str:
    """One printable line that keeps its indentation (tracebacks, output): escapes and control
    characters removed, length capped."""
    return "".join(c if c.isprintable() else " " for c in terminal(str(value)))[:limit].rstrip()


def clean_text(value: Any, limit: int = MAX_TEXT) -> str:
    """:func:`clean_line` with every run of whitespace made one space (messages, names)."""
    return " ".join(clean_line(value, None).split())[:limit]


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProtocolError(f"{what} is not a finite number")
    return float(value)


def _runs(header: dict[str, Any], times: dict[str, float], runs: int, ok: bool) -> tuple[RunTimes, ...]:
    """Per-(seed, variant) times: exactly ``runs`` of them in an ok report, each within the totals."""
    runs_in = header.get("runs", [])
    if not isinstance(runs_in, list) or len(runs_in) > runs or (ok and len(runs_in) != runs):
        raise ProtocolError(f"report carries {clean_text(len(runs_in) if isinstance(runs_in, list) else runs_in, 20)}"
                            f" run times, expected {runs}")
    out = []
    for item in runs_in:
        if not isinstance(item, dict) or set(item) != {"fit_s", "score_s"}:
            raise ProtocolError("a report run time is malformed")
        fit, score = _number(item["fit_s"], "run fit_s"), _number(item["score_s"], "run score_s")
        if fit < 0 or score < 0 or fit > times.get("fit_s", 0.0) + 1e-6 or score > times.get("score_s", 0.0) + 1e-6:
            raise ProtocolError("a report run time is negative or exceeds the report's total")
        out.append(RunTimes(fit, score))
    return tuple(out)


def decode_report(data: bytes, expected: dict[str, int], runs: int = 0, seeds: int = 0) -> WorkerReport:
    """Parse one frame; ``expected`` maps each array the parent needs to its exact length, ``runs`` is
    the number of (seed, variant) times an ok report carries, ``seeds`` bounds the failing seed's index."""
    if len(data) < len(MAGIC) + 4 or data[:4] != MAGIC:
        raise ProtocolError("the worker sent no report" if not data else "the report lacks the frame magic")
    (size,) = struct.unpack("<I", data[4:8])
    if size > MAX_HEADER or 8 + size > len(data):
        raise ProtocolError(f"report header of {size} bytes is truncated or over {MAX_HEADER} bytes")
    try:
        header = json.loads(data[8:8 + size].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("report header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("report header is not a JSON object")
    unknown = set(header) - {"status", "phase", "error", "times", "params", "checks", "arrays", "traceback",
                             "runs", "at"}
    if unknown:
        raise ProtocolError(f"report header has unknown keys {sorted(unknown)[:3]}")
    status, phase = header.get("status"), header.get("phase")
    if status not in STATUSES or phase not in PHASES:
        raise ProtocolError("report has an invalid status or phase")
    error = header.get("error")
    if error is not None and not isinstance(error, str):
        raise ProtocolError("report error is not a string")
    trace = header.get("traceback", "")
    if not isinstance(trace, str):
        raise ProtocolError("report traceback is not a string")
    trace = "\n".join(clean_line(line) for line in trace.splitlines()[-MAX_TRACE_LINES:])
    times_in = header.get("times", {})
    if not isinstance(times_in, dict) or set(times_in) - set(TIME_KEYS):
        raise ProtocolError("report times are malformed")
    times = {k: _number(v, f"time {k}") for k, v in times_in.items()}
    if any(v < 0 for v in times.values()):
        raise ProtocolError("report has a negative time")
    params = header.get("params")
    if params is not None and (isinstance(params, bool) or not isinstance(params, int)
                               or not 0 <= params <= MAX_PARAMS):
        raise ProtocolError(f"parameter count must be an integer in [0, {MAX_PARAMS:.0e}]")
    run_times = _runs(header, times, runs, status == "ok")
    at = header.get("at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int) or not 0 <= at < max(seeds, 1)):
        raise ProtocolError("report names a seed index out of range")
    checks_in = header.get("checks", [])
    if not isinstance(checks_in, list) or len(checks_in) > MAX_CHECKS:
        raise ProtocolError("report checks are malformed")
    checks = []
    for c in checks_in:
        if (not isinstance(c, dict) or set(c) != {"name", "passed", "message"} or not isinstance(c["name"], str)
                or not isinstance(c["passed"], bool) or not isinstance(c["message"], str)):
            raise ProtocolError("a report check is malformed")
        checks.append(CheckOutcome(clean_text(c["name"], 64), c["passed"], clean_text(c["message"])))
    names = header.get("arrays", [])
    wanted = list(expected) if status == "ok" else []
    if names != wanted:
        raise ProtocolError(f"report carries arrays {clean_text(names, 80)}, expected {wanted}")
    offset, arrays = 8 + size, {}
    for name in wanted:
        end = offset + 8 * expected[name]
        if end > len(data):
            raise ProtocolError(f"scores '{name}' are truncated")
        values = np.frombuffer(data[offset:end], dtype="<f8").astype(np.float64)
        if not np.isfinite(values).all():
            raise ProtocolError(f"scores '{name}' hold non-finite values")
        arrays[name], offset = values, end
    if offset != len(data):
        raise ProtocolError(f"{len(data) - offset} unexpected bytes after the report")
    return WorkerReport(status=status, phase=phase, error=clean_text(error) if error is not None else None,
                        times=times, params=params, checks=tuple(checks), arrays=arrays, traceback=trace,
                        runs=run_times, at=at)
