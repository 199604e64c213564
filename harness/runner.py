"""Train and score submissions × seeds in the sandbox, score them, write result records.

The labels never enter a sandboxed process: the runner hands it the training split folders
and two score calls drawn afresh from the OS's CSPRNG (:mod:`harness.probe`: secret order,
perturbed copies, repeated rows), gets one score per row back, un-permutes and checks them
outside the sandbox, and computes every metric there (raw outputs in, metrics computed late).
"""

from __future__ import annotations

import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.checks import CheckResult, head_dependencies, run_static_checks
from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.evaluation import PRIMARY_SUITE, ScoringMatrix, score_fields, write_raw_scores
from harness.probe import CALLS, MAX_FLIP_RATE, N_REPEATS, ScoreCalls, flip_rate, secret_rng
from harness.protocol import clean_text
from harness.results import SCHEMA_VERSION, read_record, write_record
from harness.sandbox import JobResult, Limits, Sandbox, job_payload
from harness.submissions import Submission, SubmissionError, check_placeholders


@dataclass
class RunOptions:
    """Knobs of a run."""

    results: Path
    seeds: list[int] | None = None
    jobs: int = 1
    force: bool = False
    isolation: str = "auto"
    limits: Limits = field(default_factory=Limits)
    n_boot: int = 1000
    progress: bool = True
    verbose: bool = False  # stream each head's output as it prints
    command: str = ""


class Runner:
    """Runs submissions on one embedding set and writes ``results/<name>.json``."""

    def __init__(self, emb_set: EmbeddingSet, options: RunOptions, log=print):
        self.set, self.opt, self.log = emb_set, options, log
        self.sandbox = Sandbox(options.limits, options.isolation)

    def record_base(self, sub: Submission | None, name: str, seeds: list[int]) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "submission": sub.record() if sub else {"name": name},
            "set": {"name": self.set.name, "version": self.set.version,
                    "manifest_sha256": self.set.manifest_sha256,
                    "model": self.set.manifest.get("model", {}).get("id", "")},
            "harness": __version__, "suite": PRIMARY_SUITE, "seeds": seeds,
            "isolation": self.sandbox.isolation,
            "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "command": self.opt.command or f"rewardheads run {sub.path if sub else name}",
        }

    def _up_to_date(self, old: dict[str, Any] | None, base: dict[str, Any]) -> bool:
        if self.opt.force or old is None:
            return False
        same = ("sha256", "params")
        return (old.get("status") == "ok" and all(old["submission"].get(k) == base["submission"].get(k) for k in same)
                and old["set"]["manifest_sha256"] == base["set"]["manifest_sha256"]
                and old["seeds"] == base["seeds"] and old["harness"] == base["harness"])

    def _previous(self, name: str) -> dict[str, Any] | None:
        path = self.opt.results / f"{name}.json"
        if not path.is_file():
            return None
        try:
            return read_record(path)
        except HarnessError:
            return None

    def plan(self, paths: list[Path], variants: list[dict[str, Any]] = ({},)) -> tuple[list, list]:
        """Static checks and up-to-date checks: ``(finished records, [(submission, base record, seeds)])``."""
        records, planned = [], []
        for path in paths:
            folder, checks = run_static_checks(path)
            failed = [c for c in checks if not c.passed]
            for overrides in variants:
                sub = folder
                try:
                    sub = folder.variant(overrides) if folder else None
                except SubmissionError as err:
                    failed = [CheckResult("check_metadata", False, str(err))]
                seeds = self.opt.seeds if self.opt.seeds is not None else list(sub.seeds if sub else [0])
                name = sub.name if sub else path.name
                base = self.record_base(sub, name, seeds)
                if failed:
                    records.append(self._finish(name, {**base, "status": "failed", "error": _first(failed)}))
                    self.log(f"{name}: failed: {_first(failed)}")
                    continue
                old = self._previous(sub.name)
                if (old and old["submission"].get("version") == sub.version
                        and old["submission"].get("params") != base["submission"]["params"]):
                    self.log(f"warning: {sub.name}: [params] differ from the recorded run's but the version is "
                             f"still {sub.version}; bump `version` in submission.toml so the results can be told apart")
                if self._up_to_date(old, base):
                    self.log(f"{sub.name}: up to date (same submission, params, set, seeds, harness); "
                             "--force to rerun")
                    records.append(old)
                    continue
                planned.append((sub, base, seeds))
        return records, planned

    def run(self, paths: list[Path], variants: list[dict[str, Any]] = ({},),
            on_record=None) -> list[dict[str, Any]]:
        """Run every submission folder (and variant); one failing (or hostile) never stops or alters the others.

        ``on_record(record, results)`` is called as soon as a submission's last seed is scored, in
        the order they finish; ``results`` are its jobs' :class:`JobResult` (output tails, reports).
        """
        from tqdm import tqdm

        self.set.verify()
        train = [self.set.path / s for s in self.set.train_splits()]
        roots = {p.resolve().parent for p in paths}
        protected = [self.set.path.resolve(), self.opt.results.resolve(), *roots]
        records, planned = self.plan(paths, list(variants))
        if not planned:
            return records
        matrix = ScoringMatrix.of(self.set)
        arrays = matrix.arrays()
        jobs = [(k, sub, seed) for k, (sub, _, seeds) in enumerate(planned) for seed in seeds]
        bar = tqdm(total=len(jobs), desc="fit+score", unit="job", disable=not self.opt.progress)
        running: dict[int, str] = {}
        lock = threading.Lock()

        def show() -> None:
            names = ", ".join(running.values())
            bar.set_postfix_str(f"running: {names}" if names else "", refresh=True)

        def work(index: int) -> tuple[int, tuple[ScoreCalls | None, JobResult]]:
            _, sub, seed = jobs[index]
            with lock:
                running[index] = f"{sub.name} seed {seed}"
                show()
            try:
                outcome = self.run_job(sub, seed, train, arrays, protected)
            except HarnessError as err:  # e.g. a bind that would expose the set: this job fails, not the run
                outcome = (None, JobResult("failed", str(err), self.sandbox.isolation, 0.0))
            with lock:
                running.pop(index, None)
                bar.update()
                show()
            return index, outcome

        outcomes: dict[int, tuple] = {}
        left = {k: len(seeds) for k, (_, _, seeds) in enumerate(planned)}
        finished: dict[int, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.opt.jobs)) as pool:
            for future in as_completed([pool.submit(work, i) for i in range(len(jobs))]):
                index, outcome = future.result()
                outcomes[index] = outcome
                k = jobs[index][0]
                left[k] -= 1
                if left[k]:
                    continue
                sub, base, seeds = planned[k]
                results = [outcomes[i] for i, job in enumerate(jobs) if job[0] == k]
                try:
                    record = self._score(base, seeds, results, matrix)
                except Exception as err:  # noqa: BLE001 - never lose the other heads' results to one record
                    record = {**base, "status": "failed", "error": f"scoring failed: {type(err).__name__}: "
                              f"{clean_text(err, 300)}"}
                finished[k] = self._finish(sub.name, record)
                if on_record is None and record["status"] != "ok":
                    self.log(f"{sub.name}: {record['status']}: {record.get('error')}")
                elif on_record is not None:
                    with lock:
                        bar.clear()
                        on_record(finished[k], [r for _, r in results])
                        bar.refresh()
        bar.close()
        return records + [finished[k] for k in range(len(planned))]

    def run_job(self, sub: Submission, seed: int, train: list[Path], arrays: dict[str, np.ndarray],
                protected: list[Path]) -> tuple[ScoreCalls, JobResult]:
        """One sandboxed fit + score of ``sub`` with ``seed`` on freshly drawn secret score calls."""
        rng = secret_rng()
        calls = ScoreCalls.draw(len(arrays["response"]), rng)
        with tempfile.TemporaryDirectory(prefix="rewardheads-calls-") as tmp:
            folder = Path(tmp)
            os.chmod(folder, 0o755)  # the worker may read it as its own uid
            calls.write(folder, arrays, rng)
            job = job_payload(sub, "run", seed, head_dependencies(sub), calls=list(CALLS))
            echo = None
            if self.opt.verbose:
                from tqdm import tqdm

                echo = lambda line: tqdm.write(f"  [{sub.name} seed {seed}] {line}")  # noqa: E731
            result = self.sandbox.run(job, submission=sub.path, train=train, inputs=folder, expect=calls.sizes,
                                      protected=[p for p in protected if p != sub.path], echo=echo)
        return calls, result

    def _score(self, base: dict[str, Any], seeds: list[int], results: list[tuple[ScoreCalls, JobResult]],
               matrix: ScoringMatrix) -> dict[str, Any]:
        cost = _cost([r for _, r in results])
        bad = next(((s, r) for s, (_, r) in zip(seeds, results, strict=True) if r.status != "ok"), None)
        if bad is not None:
            seed, r = bad
            return {**base, "status": r.status, "error": f"seed {seed}: {r.error}", "cost": cost}
        n, items = len(matrix), matrix.items()
        per_seed_scores, flips = [], []
        for seed, (calls, r) in zip(seeds, results, strict=True):
            clean, perturbed, repeat_diff = calls.unpack(r.arrays, n)
            if repeat_diff != 0:
                return {**base, "status": "failed", "cost": cost, "error": (
                    f"seed {seed}: scores depend on row order or batch company (a row scored twice differed "
                    f"by {repeat_diff:.3g}); make score() row-wise, e.g. with harness.heads.score_rows")}
            flip = flip_rate(clean, perturbed, items)
            if flip > MAX_FLIP_RATE:
                return {**base, "status": "failed", "cost": cost, "error": (
                    f"seed {seed}: perturbation probe: {100 * flip:.1f}% of decisions changed when every "
                    f"embedding moved by one step of its storage precision (limit {100 * MAX_FLIP_RATE:.0f}%); "
                    "a head must not look test rows up by their exact content")}
            per_seed_scores.append(clean)
            flips.append(round(flip, 6))
        integrity = {"order": "secret per job (OS CSPRNG)", "probe_flip_rate": flips,
                     "probe_limit": MAX_FLIP_RATE, "repeats_checked": N_REPEATS}
        record = {**base, "status": "ok", "error": None, "cost": cost, "integrity": integrity}
        try:
            record.update(score_fields(matrix, per_seed_scores, self.opt.n_boot))
        except HarnessError as err:
            return {**base, "status": "failed", "error": f"scoring: {err}", "cost": cost}
        write_raw_scores(self.opt.results, base["submission"]["name"], seeds, per_seed_scores)
        return record

    def _finish(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        write_record(self.opt.results / f"{name}.json", record)
        return record


def validate(path: Path, sandbox: Sandbox, seed: int = 0) -> list[CheckResult]:
    """Static checks, then the dynamic checks inside the sandbox on a tiny set."""
    sub, results = run_static_checks(path)
    if sub is not None:
        try:
            check_placeholders(sub)
            results.insert(1, CheckResult("check_filled_in", True))
        except SubmissionError as err:
            results.insert(1, CheckResult("check_filled_in", False, str(err)))
    if sub is None or not all(r.passed for r in results):
        return results
    try:
        outcome = sandbox.run(job_payload(sub, "checks", seed, head_dependencies(sub)), submission=sub.path)
    except HarnessError as err:
        return [*results, CheckResult("check_sandboxed_run", False, str(err))]
    if outcome.status != "ok":
        return [*results, CheckResult("check_sandboxed_run", False, outcome.error or outcome.status)]
    results += [CheckResult(c.name, c.passed, c.message) for c in outcome.report.checks]
    return [*results, CheckResult("check_sandboxed_run", True, f"isolation {sandbox.isolation}, "
                                  f"{outcome.wall_s:.1f} s, peak {outcome.peak_rss_mb:.0f} MB")]


def _first(failed: list[CheckResult]) -> str:
    return f"{failed[0].name}: {failed[0].message}"


def _cost(results: list[JobResult]) -> dict[str, Any]:
    """Mean cost over seeds: wall, CPU and peak memory as the parent measured them; phase times as the
    worker reported them but never above the parent's wall clock; a validated parameter count."""
    measured = [r for r in results if r.wall_s > 0]

    def mean(values: list[float | None]) -> float | None:
        vals = [v for v in values if v is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    times = {key: mean([r.time(key) for r in results]) for key in ("fit_s", "score_s", "import_s", "load_s")}
    return {**times,
            "peak_rss_mb": round(max((r.peak_rss_mb for r in measured), default=0.0), 1) if measured else None,
            "wall_s": mean([r.wall_s for r in measured]), "cpu_s": mean([r.cpu_s for r in measured]),
            "params": next((r.report.params for r in results if r.report and r.report.params is not None), None)}


