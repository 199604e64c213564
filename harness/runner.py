"""Train and score submissions × seeds in the sandbox, score them, write result records.

The labels never enter a sandboxed process: the runner hands it the training split folders
and two score calls drawn afresh from the OS's CSPRNG (:mod:`harness.probe`: secret order,
perturbed copies, repeated rows), gets one score per row back, un-permutes and checks them
outside the sandbox, and computes every metric there (raw outputs in, metrics computed late).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness import __version__
from harness.checks import CheckResult, head_dependencies, run_static_checks
from harness.control import control_verdict, write_control_splits
from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.evaluation import (
    PRIMARY_SUITE,
    ScoringMatrix,
    file_raw_scores,
    primary_suite,
    raw_path,
    score_fields,
    write_raw_scores,
)
from harness.probe import CALLS, MAX_FLIP_RATE, N_REPEATS, ScoreCalls, flip_rate, secret_rng
from harness.protocol import array_name, clean_text
from harness.records import label_controlled
from harness.results import SCHEMA_VERSION, read_record, set_folder, with_headline, write_record
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
    control: bool = True  # also fit every head with its training preferences reversed (harness.control)


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
            "harness": __version__, "suite": self._headline_suite(), "seeds": seeds,
            "isolation": self.sandbox.isolation,
            "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "command": self.opt.command or f"rewardheads run {sub.path if sub else name}",
        }

    def _headline_suite(self) -> str:
        """The record's ``suite``: the first registered suite the set is scored on."""
        try:
            return primary_suite(ScoringMatrix.of(self.set))
        except HarnessError:  # no test split or no suite for it: the scoring step will say so
            return PRIMARY_SUITE

    @property
    def set_results(self) -> Path:
        """``<results>/<set name>-<version>``: this set's records and raw scores."""
        return set_folder(self.opt.results, self.set.name, self.set.version)

    def _up_to_date(self, old: dict[str, Any] | None, base: dict[str, Any]) -> bool:
        if self.opt.force or old is None:
            return False
        same = ("sha256", "params")
        return (old.get("status") == "ok" and all(old["submission"].get(k) == base["submission"].get(k) for k in same)
                and old["set"]["manifest_sha256"] == base["set"]["manifest_sha256"]
                and old["seeds"] == base["seeds"] and old["harness"] == base["harness"]
                and old["suite"] == base["suite"] and raw_path(self.set_results, base["submission"]["name"]).is_file()
                and (not self.opt.control or label_controlled(old)))

    def _previous(self, name: str) -> dict[str, Any] | None:
        """This set's record of ``name``: in the set's folder, else (old flat layout) directly
        in the results folder when it was scored on this set."""
        for path in (self.set_results / f"{name}.json", self.opt.results / f"{name}.json"):
            if not path.is_file():
                continue
            try:
                old = read_record(path)
            except HarnessError:
                return None
            if (old["set"]["name"], old["set"]["version"]) == (self.set.name, self.set.version):
                return with_headline(old)
        return None

    def plan(self, paths: list[Path], variants: list[dict[str, Any]] = ({},)) -> tuple[list, list]:
        """Static checks and up-to-date checks: ``(finished records, [(submission, base record, seeds)])``."""
        records, planned = [], []
        for path in paths:
            folder, checks = run_static_checks(path)
            for declared, overrides in [(d, o) for d in (folder.expand() if folder else [None]) for o in variants]:
                failed = [c for c in checks if not c.passed]
                sub = declared
                try:
                    sub = declared.variant(overrides) if declared else None
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
        groups: dict[tuple, list[int]] = {}  # one sandboxed process per (folder, seeds): all its seeds and variants
        for k, (sub, _, seeds) in enumerate(planned):
            groups.setdefault((sub.path, tuple(seeds)), []).append(k)
        jobs = sorted(groups.values(), key=lambda ks: -len(ks) * len(planned[ks[0]][2]))  # the biggest first
        bar = tqdm(total=len(jobs), desc="fit+score", unit="job", disable=not self.opt.progress)
        running: dict[int, str] = {}
        lock = threading.Lock()

        def show() -> None:
            names = ", ".join(running.values())
            bar.set_postfix_str(f"running: {names}" if names else "", refresh=True)

        def work(index: int) -> tuple[int, tuple[list[ScoreCalls], JobResult], tuple | None]:
            subs = [planned[k][0] for k in jobs[index]]
            seeds = planned[jobs[index][0]][2]
            with lock:
                running[index] = f"{subs[0].base_name} ({len(seeds)} seed(s)" + (
                    f", {len(subs)} variants)" if len(subs) > 1 else ")")
                show()
            outcome, control = self._job(subs, seeds, train, arrays, protected), None
            if self.opt.control and outcome[1].status == "ok":  # the same job again, every label reversed
                with lock:
                    running[index] = f"{subs[0].base_name} (label control)"
                    show()
                control = self._job(subs, seeds, train, arrays, protected, control=True)
            with lock:
                running.pop(index, None)
                bar.update()
                show()
            return index, outcome, control

        finished: dict[int, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.opt.jobs)) as pool:
            done = ((index, k, j, outcome, control)
                    for future in as_completed([pool.submit(work, i) for i in range(len(jobs))])
                    for index, outcome, control in [future.result()] for j, k in enumerate(jobs[index]))
            for index, k, j, (calls, job_result), control in done:
                sub, base, seeds = planned[k]
                shape = (j, len(seeds), len(jobs[index]))
                results = _seed_views(calls, job_result, *shape)
                try:
                    record = self._score(base, seeds, results, matrix, job_result,
                                         control=(_seed_views(*control, *shape), control[1]) if control else None)
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

    def _job(self, subs: list[Submission], seeds: list[int], train: list[Path], arrays: dict[str, np.ndarray],
             protected: list[Path], control: bool = False) -> tuple[list[ScoreCalls], JobResult]:
        """:meth:`run_job`, with a harness error (e.g. a bind that would expose the set) as the job's failure."""
        try:
            return self.run_job(subs, seeds, train, arrays, protected, control=control)
        except HarnessError as err:
            return [], JobResult("failed", str(err), self.sandbox.isolation, 0.0)

    def run_job(self, subs: list[Submission], seeds: list[int], train: list[Path], arrays: dict[str, np.ndarray],
                protected: list[Path], control: bool = False) -> tuple[list[ScoreCalls], JobResult]:
        """One sandboxed process for the variants ``subs`` of one folder: per seed a fresh head, fitted
        once per distinct fit (variants differing only in read-out params share it), scored on that
        seed's own freshly drawn secret score calls. Returns the calls per seed and the job's result.

        ``control``: the same job on copies of the training splits with every preference reversed
        (:mod:`harness.control`); nothing inside the sandbox tells the two apart."""
        sub = subs[0]
        keys = [json.dumps(v.fit_params, sort_keys=True) if v.readout else f"own fit {j}" for j, v in enumerate(subs)]
        shared = [keys.index(key) for key in keys]  # the first variant with the same fit params
        with tempfile.TemporaryDirectory(prefix="rewardheads-calls-") as tmp, contextlib.ExitStack() as stack:
            folder = Path(tmp)
            os.chmod(folder, 0o755)  # the worker may read it as its own uid
            if control:  # mirrored copies of the training splits, removed with the job
                train = write_control_splits(train, Path(stack.enter_context(
                    tempfile.TemporaryDirectory(prefix="rewardheads-train-"))))
            calls, expect = [], {}
            for i in range(len(seeds)):
                rng = secret_rng()  # every seed its own secret draw
                calls.append(ScoreCalls.draw(len(arrays["response"]), rng))
                calls[i].write(folder / str(i), arrays, rng)
                expect.update({array_name(i, j, name): size for j in range(len(subs))
                               for name, size in calls[i].sizes.items()})
            for path in [folder, *folder.iterdir()]:
                os.chmod(path, 0o755)
            job = job_payload(sub, "run", seeds[0], head_dependencies(sub), calls=list(CALLS), seeds=list(seeds),
                              variants=[{"params": v.params, "fit": shared[j]} for j, v in enumerate(subs)])
            echo = None
            if self.opt.verbose:
                from tqdm import tqdm

                echo = lambda line: tqdm.write(f"  [{sub.base_name}] {line}")  # noqa: E731
            result = self.sandbox.run(job, submission=sub.path, train=train, inputs=folder, expect=expect,
                                      protected=[p for p in protected if p != sub.path], echo=echo,
                                      fits=len(seeds) * len(set(keys)))
        return calls, result

    def _score(self, base: dict[str, Any], seeds: list[int], results: list[tuple[ScoreCalls, JobResult]],
               matrix: ScoringMatrix, job: JobResult | None = None, control: tuple | None = None) -> dict[str, Any]:
        """A record from one variant's per-seed results (``job``: the whole process's, naming the seed it
        failed on); ``control``: ``(per-seed results, job)`` of the same job with every training preference reversed."""
        cost = _cost([r for _, r in results])
        checked = _checked_scores(seeds, results, matrix, job)
        if isinstance(checked, dict):
            return {**base, **checked, "cost": cost}
        per_seed_scores, flips = checked
        integrity = {"order": "secret per job (OS CSPRNG)", "probe_flip_rate": flips,
                     "probe_limit": MAX_FLIP_RATE, "repeats_checked": N_REPEATS, "label_control": None}
        record = {**base, "status": "ok", "error": None, "cost": cost, "integrity": integrity}
        try:
            record.update(score_fields(matrix, per_seed_scores, self.opt.n_boot))
        except HarnessError as err:
            return {**base, "status": "failed", "error": f"scoring: {err}", "cost": cost}
        if control is not None:
            mirrored = _checked_scores(seeds, control[0], matrix, control[1])
            if isinstance(mirrored, dict):
                return {**base, **mirrored, "error": f"label control run: {mirrored['error']}", "cost": cost}
            reference = base["submission"].get("family") == "reference"
            integrity["label_control"], error = control_verdict(matrix, record["suites"], mirrored[0], reference)
            if error:
                return {**base, "status": "failed", "error": error, "cost": cost, "integrity": integrity}
        write_raw_scores(self.opt.results, base["submission"]["name"], seeds, per_seed_scores)
        return record

    def _finish(self, name: str, record: dict[str, Any]) -> dict[str, Any]:
        """Write the record into the set's folder (replacing this set's record in the old flat
        layout); an ``ok`` run's raw scores move there with each suite's seed-averaged unit
        credit (:func:`harness.evaluation.file_raw_scores`). Returns the
        :func:`harness.results.with_headline` view."""
        write_record(self.set_results / f"{name}.json", record)
        flat = self.opt.results / f"{name}.json"
        if flat.is_file():
            try:  # the old flat layout's record of this set is superseded by the one just written
                old = read_record(flat)["set"]
                if (old["name"], old["version"]) == (self.set.name, self.set.version):
                    flat.unlink()
            except HarnessError:
                pass
        if record.get("status") == "ok":
            file_raw_scores(self.opt.results, self.set_results, name, ScoringMatrix.of(self.set))
        return with_headline(record)


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
    variants = sub.expand()  # the dynamic checks run on every declared variant, each in its own sandbox
    walls, peak = [], 0.0
    for j, variant in enumerate(variants):
        label = f"[{variant.variant_name}]" if variant.variant_name else ""
        shared = [{"params": v.params, "fit": 0} for v in variants] if j == 0 and sub.readout else []
        try:
            outcome = sandbox.run(job_payload(variant, "checks", seed, head_dependencies(variant), variants=shared),
                                  submission=sub.path)
        except HarnessError as err:
            return [*results, CheckResult(f"check_sandboxed_run{label}", False, str(err))]
        if outcome.status != "ok":
            return [*results, CheckResult(f"check_sandboxed_run{label}", False, outcome.error or outcome.status)]
        results += [CheckResult(c.name + ("" if c.name == "check_readout" else label), c.passed, c.message)
                    for c in outcome.report.checks]
        walls.append(outcome.wall_s)
        peak = max(peak, outcome.peak_rss_mb)
    runs = f"{len(walls)} runs, " if len(walls) > 1 else ""
    return [*results, CheckResult("check_sandboxed_run", True, f"isolation {sandbox.isolation}, {runs}"
                                  f"{sum(walls):.1f} s, peak {peak:.0f} MB")]


def _checked_scores(seeds: list[int], results: list[tuple[ScoreCalls, JobResult]], matrix: ScoringMatrix,
                    job: JobResult | None = None) -> tuple[list[np.ndarray], list[float]] | dict[str, Any]:
    """Each seed's clean scores in set order and its probe flip rate, or the failed record's
    ``status`` and ``error`` (a failed job, scores that depend on row order, a failed probe)."""
    bad = next(((s, r) for s, (_, r) in zip(seeds, results, strict=True) if r.status != "ok"), None)
    if bad is not None:
        seed, r = bad
        at = job.report.at if job is not None and job.report is not None else None
        where = (f"seed {seeds[at]}" if at is not None else f"seed {seed}" if len(seeds) == 1
                 else f"seeds {', '.join(map(str, seeds))}")
        return {"status": r.status, "error": f"{where}: {r.error}"}
    n, items = len(matrix), matrix.items()
    per_seed_scores, flips = [], []
    for seed, (calls, r) in zip(seeds, results, strict=True):
        clean, perturbed, repeat_diff = calls.unpack(r.arrays, n)
        if repeat_diff != 0:
            return {"status": "failed", "error": (
                f"seed {seed}: scores depend on row order or batch company (a row scored twice differed "
                f"by {repeat_diff:.3g}); make score() row-wise, e.g. with harness.heads.score_rows")}
        flip = flip_rate(clean, perturbed, items)
        if flip > MAX_FLIP_RATE:
            return {"status": "failed", "error": (
                f"seed {seed}: perturbation probe: {100 * flip:.1f}% of decisions changed when every "
                f"embedding moved by one step of its storage precision (limit {100 * MAX_FLIP_RATE:.0f}%); "
                "a head must not look test rows up by their exact content")}
        per_seed_scores.append(clean)
        flips.append(round(flip, 6))
    return per_seed_scores, flips


def _seed_views(calls: list[ScoreCalls], result: JobResult, j: int, n_seeds: int,
                n_variants: int) -> list[tuple[ScoreCalls | None, JobResult]]:
    """Every seed's calls and :func:`_seed_view` of variant ``j`` of a whole-process result."""
    return [(calls[i] if calls else None, _seed_view(result, i, j, n_seeds, n_variants)) for i in range(n_seeds)]


def _seed_view(result: JobResult, i: int, j: int, n_seeds: int, n_variants: int) -> JobResult:
    """Seed ``i`` of variant ``j`` of a whole-process result: its own score vectors and phase times; the
    process's wall and CPU time and its import and load times shared equally among its seeds."""
    per = {"wall_s": result.wall_s / n_seeds, "cpu_s": result.cpu_s / n_seeds}
    rep = result.report
    if result.status != "ok" or rep is None or len(rep.runs) != n_seeds * n_variants:
        return replace(result, **per)
    run = rep.runs[i * n_variants + j]
    times = {"fit_s": run.fit_s, "score_s": run.score_s,
             **{k: rep.times[k] / n_seeds for k in ("import_s", "load_s") if k in rep.times}}
    arrays = {name: rep.arrays[array_name(i, j, name)] for name in CALLS}
    return replace(result, **per, report=replace(rep, times=times, arrays=arrays, runs=()))


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


