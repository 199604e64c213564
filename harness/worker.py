"""The process inside the sandbox: load data, fit a fresh head per seed (and variant), score, report.

Started by :mod:`harness.sandbox` as ``python -I -B -m harness.worker JOB.json``. It receives
training arrays and this job's unlabelled score calls, never the labels, and writes one
report frame (:mod:`harness.protocol`) to the pipe the parent gave it. Everything the
harness needs from disk (arrays, the head's source files) is read first; then the worker
drops to its own unprivileged uid when started as root, arms an audit-hook guard that has no
off switch (no sockets, no processes, no writes outside scratch, no reads of denied paths, no
native libraries or garbage-collector walks), and only then runs the head's code. From that
point the process is the head's: the parent re-validates every byte of the report.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time
import traceback
from pathlib import Path

BLOCKED_EVENTS = {
    "socket.__new__": "opened a network socket",
    "socket.connect": "opened a network connection",
    "socket.bind": "opened a network socket",
    "socket.getaddrinfo": "looked up a network address",
    "subprocess.Popen": "started a subprocess",
    "os.system": "started a shell command",
    "os.fork": "forked a process",
    "os.forkpty": "forked a process",
    "os.posix_spawn": "spawned a process",
    "os.spawn": "spawned a process",
    "os.exec": "replaced the process (exec)",
    "os.kill": "sent a signal to another process",
    "os.killpg": "sent a signal to another process",
    "signal.pthread_kill": "sent a signal to a thread",
    "sys.addaudithook": "tried to install an audit hook",
    "ctypes.dlopen": "loaded a native library (ctypes)",
    "ctypes.dlsym": "looked up a native symbol (ctypes)",
    "ctypes.call_function": "called a native function (ctypes)",
    "gc.get_objects": "walked the garbage collector's objects",
    "gc.get_referrers": "walked the garbage collector's referrers",
    "gc.get_referents": "walked the garbage collector's referents",
    "os.link": "made a hard link",
    "os.symlink": "made a symbolic link",
    "os.chown": "changed a file's owner",
    "os.setxattr": "changed file attributes",
}
BLOCKED_IMPORTS = frozenset({"socket", "_socket", "ssl", "_ssl", "subprocess", "_posixsubprocess", "ctypes",
                             "_ctypes", "multiprocessing", "pty", "urllib.request", "http.client", "ftplib",
                             "smtplib", "telnetlib", "xmlrpc.client", "asyncio", "webbrowser"})
MODIFYING = ("os.remove", "os.rename", "os.rmdir", "shutil.rmtree", "os.chmod", "os.truncate", "os.utime",
             "os.mkdir")
LABELS_FILE = "labels.parquet"  # harness.embedset's name for a test split's labels
PR_SET_PDEATHSIG = 1


class SandboxViolation(PermissionError):
    """Raised by the audit hook when head code does something the sandbox forbids."""


def _within(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r + os.sep) for r in roots)


def make_guard(writable: list[str], deny_read: list[str], allow_read: list[str]):
    """An audit hook and its one-way switch ``arm()``: once armed it stays armed.

    The state lives in a closure of tuples, not on an object a head could find and flip; this
    is still a seat belt inside the process (native code sees no audit events), not a wall.
    """
    writable_t = tuple(os.path.realpath(p) for p in writable) + ("/dev/null",)
    deny_t = tuple(os.path.realpath(p) for p in deny_read)
    allow_t = tuple(os.path.realpath(p) for p in allow_read)
    state = [False, None]  # armed, first violation

    def fail(what: str):
        if state[1] is None:
            state[1] = what
        raise SandboxViolation(f"sandbox: {what}")

    def hook(event: str, args: tuple) -> None:
        if not state[0]:
            return
        if event in BLOCKED_EVENTS:
            fail(BLOCKED_EVENTS[event])
        elif event == "import" and args and isinstance(args[0], str) and args[0] in BLOCKED_IMPORTS:
            fail(f"imported {args[0]}")
        elif event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            writing = any(c in mode for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
            if writing and not _within(path, writable_t):
                fail(f"wrote outside its scratch folder ({path})")
            if os.path.basename(path) == LABELS_FILE:
                fail(f"read a labels file ({path})")
            if _within(path, deny_t) and not _within(path, allow_t):
                fail(f"read a file it was not given ({path})")
        elif event in ("os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
            path = os.path.realpath(os.fsdecode(args[0]))
            if _within(path, deny_t) and not _within(path, allow_t):
                fail(f"listed a folder it was not given ({path})")
        elif event in MODIFYING:
            path = os.path.realpath(os.fsdecode(args[0])) if args and isinstance(args[0], (str, bytes)) else ""
            if not path or not _within(path, writable_t):
                fail(f"modified a file outside its scratch folder ({path or event})")

    def arm() -> None:
        state[0] = True

    def violation() -> str | None:
        return state[1]

    return hook, arm, violation


def _load_train(folders: list[str]):
    """Training pairs of every split, concatenated, read by :mod:`harness.embedset`'s split reader."""
    import numpy as np

    from harness.embedset import PAIR_ARRAYS, meta_table, pair_arrays
    from harness.heads import PreferenceData

    arrays: dict[str, list] = {k: [] for k in PAIR_ARRAYS}
    metas, names = [], []
    for folder in folders:
        base = Path(folder)
        for key, array in pair_arrays(base).items():
            arrays[key].append(np.asarray(array, np.float32))
        metas.append(meta_table(base))
        names.append(base.name)
    objectives = tuple(sorted({c.split(":", 1)[1] for t in metas for c in t.column_names
                               if c.startswith("rating_chosen:")}))

    def column(name: str, dtype) -> np.ndarray:
        parts = [t.column(name).to_numpy(zero_copy_only=False).astype(dtype) if name in t.column_names
                 else np.full(t.num_rows, np.nan, dtype) for t in metas]
        return np.concatenate(parts)

    ratings = {
        side: np.stack([column(f"rating_{side}:{o}", np.float64) for o in objectives], 1) if objectives else None
        for side in ("chosen", "rejected")
    }
    return PreferenceData(
        chosen=np.concatenate(arrays["chosen"]), rejected=np.concatenate(arrays["rejected"]),
        prompt=np.concatenate(arrays["prompt"]),
        chosen_tokens=column("chosen_tokens", np.int64), rejected_tokens=column("rejected_tokens", np.int64),
        prompt_tokens=column("prompt_tokens", np.int64), objectives=objectives,
        ratings_chosen=ratings["chosen"], ratings_rejected=ratings["rejected"],
        source=np.concatenate([np.full(t.num_rows, name) for t, name in zip(metas, names, strict=True)]),
    )


def load_call(folder: str | Path):
    """One score call written by :func:`harness.runner.write_call` as a ScoreBatch."""
    import numpy as np

    from harness.heads import ScoreBatch

    base = Path(folder)
    return ScoreBatch(
        response=np.load(base / "response.npy", allow_pickle=False).astype(np.float32),
        prompt=np.load(base / "prompt.npy", allow_pickle=False).astype(np.float32),
        response_tokens=np.load(base / "response_tokens.npy", allow_pickle=False),
        prompt_tokens=np.load(base / "prompt_tokens.npy", allow_pickle=False),
    )


def _static_imports(sources: list[bytes]) -> list[str]:
    """Every absolute module a head's sources import, dotted names in full (``sklearn.linear_model``)."""
    import ast

    names: list[str] = []
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
                names += [f"{node.module}.{alias.name}" for alias in node.names]
    return [n for n in dict.fromkeys(names) if n.split(".")[0] not in BLOCKED_IMPORTS and n not in BLOCKED_IMPORTS]


def _preimport(modules: list[str], threads: int) -> None:
    """Import the head's dependencies before the guard and the privilege drop (they load native code,
    and a worker that dropped root may no longer reach the interpreter's folders)."""
    import importlib

    import harness.checks
    import harness.submissions  # noqa: F401 - loaded now, used after the drop

    for name in ("numpy", "numpy.random", "numpy.linalg", *modules):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module is the head's problem later
            pass
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(True)


class _SourceFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the submission's own modules from sources read before privileges were dropped."""

    def __init__(self, folder: Path):
        self.sources = {}
        for file in sorted(folder.rglob("*.py")):
            rel = file.relative_to(folder).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            name = ".".join(parts)
            if name:
                self.sources[name] = (str(file), file.read_bytes(), rel.name == "__init__")

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.sources:
            return None
        filename, _, is_package = self.sources[fullname]
        spec = importlib.util.spec_from_loader(fullname, self, origin=filename, is_package=is_package)
        spec.has_location = True
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename, source, _ = self.sources[module.__name__]
        module.__file__ = filename
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - the head


def _drop_privileges(uid: int | None, fallback: bool) -> None:
    """Become ``uid`` for good (root only); re-arm the parent-death signal a uid change clears."""
    if uid is None or os.getuid() != 0:
        return
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("worker: could not drop privileges")
    if fallback:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        if os.getppid() == 1:  # the parent died before we armed it
            os._exit(1)


def _submission(job):
    from harness.submissions import Submission

    fields = {**job.submission, "path": Path(job.submission["path"])}
    fields = {k: (tuple(v) if k in ("authors", "seeds", "readout") else v) for k, v in fields.items()}
    return Submission(**fields)


def _make_head(job, finder: _SourceFinder, params: dict | None = None):
    """A fresh head (with ``params`` in place of the submission's own), its module imported from the
    sources read before privileges were dropped."""
    from harness.submissions import head_class, instantiate

    sub = _submission(job)
    entry = Path(sub.entry_point.split(":")[0]).with_suffix("")
    finder.sources.setdefault(sub.module_name, finder.sources[".".join(entry.parts)])
    return instantiate(sub, head_class(sub, importlib.import_module(sub.module_name)), **(params or {}))


def _fit_groups(variants: list[dict]) -> list[list[int]]:
    """Variant indices grouped by their shared fit, in order of first appearance."""
    groups: dict[int, list[int]] = {}
    for index, variant in enumerate(variants):
        groups.setdefault(variant["fit"], []).append(index)
    return list(groups.values())


def _run_seeds(job, finder: _SourceFinder, report: dict, arrays: dict) -> None:
    """Every seed (a fresh head per seed and fit), every variant scored on that seed's own score calls."""
    from harness.heads import HeadSkipped, check_params, check_scores, count_params, missing_capabilities
    from harness.protocol import array_name

    train, all_calls = report.pop("_train")
    variants, readout = job.run_variants, list(job.submission.get("readout", ()))
    runs: list[dict | None] = [None] * (len(job.run_seeds) * len(variants))
    report["runs"], times = [], report["times"]
    times.update(fit_s=0.0, score_s=0.0)
    for i, seed in enumerate(job.run_seeds):
        report["at"], calls = i, all_calls[i]
        for group in _fit_groups(variants):
            report["phase"] = "import"
            head = _make_head(job, finder, variants[group[0]]["params"])
            missing = missing_capabilities(head, train, calls[0])
            if missing:
                raise HeadSkipped(f"the set lacks {', '.join(missing)}, which this head requires")
            report["phase"] = "fit"
            start = time.perf_counter()
            head.fit(train, seed=seed)
            fit_s = time.perf_counter() - start
            times["fit_s"] += fit_s
            for j in group:
                report["phase"] = "score"
                start = time.perf_counter()
                if len(group) > 1:
                    reread = getattr(head, "set_readout", None)
                    if not callable(reread):
                        raise TypeError(f"variants share a fit (readout = {readout}) but the head has no "
                                        "set_readout() method")
                    reread(**{k: variants[j]["params"][k] for k in readout if k in variants[j]["params"]})
                raw = [head.score(batch) for batch in calls]
                score_s = time.perf_counter() - start
                times["score_s"] += score_s
                report["phase"] = "check"
                for name, r, b in zip(job.calls, raw, calls, strict=True):
                    arrays[array_name(i, j, name)] = check_scores(r, len(b))
                runs[i * len(variants) + j] = {"fit_s": fit_s, "score_s": score_s}
            report["params"] = check_params(count_params(head))
    order = [array_name(i, j, name) for i in range(len(job.run_seeds)) for j in range(len(variants))
             for name in job.calls]
    ordered = {name: arrays[name] for name in order}  # the frame carries them in the order the parent expects
    arrays.clear()
    arrays.update(ordered)
    report["runs"] = runs
    report.pop("at")


CUDA_HINT = "heads run on the CPU: drop .cuda() / .to('cuda') / device='cuda'"


def _is_theirs(filename: str, folder: str) -> bool:
    return filename == folder or filename.startswith(folder.rstrip("/") + "/")


def _error_line(err: BaseException, phase: str, violation: str | None, folder: str) -> str:
    """``fit raised ValueError: ... at <folder>/head.py:12``: the deepest frame in the head's own files."""
    if violation:
        return f"sandbox violation in {phase}: {violation}"
    tb = traceback.extract_tb(err.__traceback__)
    where = next((f"{f.filename}:{f.lineno}" for f in reversed(tb) if _is_theirs(f.filename, folder)), "")
    message = str(err).splitlines()[0] if str(err) else ""
    line = f"{phase} raised {type(err).__name__}{': ' + message[:300] if message else ''}" + (
        f" at {where}" if where else "")
    if "cuda" in message.lower() or "nvidia" in message.lower():
        line += f" ({CUDA_HINT})"
    return line


def _traceback(err: BaseException, folder: str, limit: int = 40) -> str:
    """The traceback with the head's own frames in full and library frames folded into one line each run."""
    lines, folded = [], []

    def package(filename: str) -> str:
        parts = Path(filename).parts
        if "site-packages" in parts:
            inside = parts[parts.index("site-packages") + 1:-1]
            return "/".join(inside[:2]) or Path(filename).name
        return Path(filename).parent.name or filename

    def fold() -> None:
        if folded:
            where = sorted({package(f) for f in folded})
            lines.append(f"  ... {len(folded)} frame(s) in {', '.join(where[:3])}")
            folded.clear()

    for frame in traceback.extract_tb(err.__traceback__):
        if "/harness/" in frame.filename and not _is_theirs(frame.filename, folder):
            continue  # the worker's own frames say nothing about the head
        if _is_theirs(frame.filename, folder):
            fold()
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
            if frame.line:
                lines.append(f"    {frame.line}")
        else:
            folded.append(frame.filename)
    fold()
    lines += traceback.format_exception_only(type(err), err)[-1:]
    return "\n".join(line.rstrip("\n") for line in lines[-limit:])


def main(job_file: str) -> int:
    from harness.protocol import Job, encode_report

    job = Job.from_json(Path(job_file).read_text())
    report: dict = {"status": "failed", "phase": "load", "times": {}}
    arrays: dict = {}
    hook, arm, violation = make_guard([job.scratch], job.deny_read,
                                      [job.submission["path"], *job.train, *([job.inputs] if job.inputs else [])])
    if job.guard:
        sys.addaudithook(hook)
    try:
        start = time.perf_counter()
        finder = _SourceFinder(Path(job.submission["path"]))
        _preimport([*job.preimport, *_static_imports([src for _, src, _ in finder.sources.values()])], job.threads)
        report["times"]["import_s"] = time.perf_counter() - start
        start = time.perf_counter()
        if job.mode == "run":
            # every seed's calls are read now, before the guard and the drop, as the training arrays are. A
            # head of one seed could see another seed's draw (it is bound in the sandbox anyway); that tells
            # it which copy of a row is clean, which an exact-content lookup knows already, and no perturbed
            # copy equals any stored row in any draw, so the probe catches such a lookup as before.
            report["_train"] = (_load_train(job.train), [[load_call(Path(job.inputs) / str(i) / name)
                                                          for name in job.calls] for i in range(len(job.run_seeds))])
        report["times"]["load_s"] = time.perf_counter() - start
        sys.meta_path.insert(0, finder)
        _drop_privileges(job.uid, fallback=job.isolation == "process")
        report["phase"] = "import"
        arm()
        if job.mode == "checks":
            from harness.checks import run_dynamic_checks, run_readout_check

            _make_head(job, finder)  # an entry point that cannot be built fails the sandboxed run itself
            report["checks"] = run_dynamic_checks(lambda: _make_head(job, finder), seed=job.seed)
            sub = _submission(job)
            if sub.readout and len(sub.expand()) > 1:
                report["checks"].append(run_readout_check(
                    [v.params for v in sub.expand()], sub.readout,
                    lambda params: _make_head(job, finder, params), seed=job.seed))
            report["status"] = "ok"
        else:
            _run_seeds(job, finder, report, arrays)
            report["status"] = "ok"
    except BaseException as err:  # noqa: BLE001 - the head's failure, reported as one line
        arrays.clear()
        report.pop("runs", None)
        if type(err).__name__ == "HeadSkipped":
            report.update(status="skipped", error=str(err)[:500])
        elif isinstance(err, MemoryError):
            report["error"] = f"ran out of memory in {report['phase']} (memory limit {job.memory_mb} MB)"
        elif report["phase"] == "check":
            report["error"] = f"invalid output: {str(err)[:300]}"
        else:
            report["error"] = _error_line(err, report["phase"], violation(), job.submission["path"])
            if not violation():
                report["traceback"] = _traceback(err, job.submission["path"])
    else:
        report["phase"] = "done"
    report.pop("_train", None)
    try:
        import numpy as np

        frame = encode_report(report, {k: np.asarray(v, np.float64) for k, v in arrays.items()})
    except Exception as err:  # noqa: BLE001 - e.g. a head that made a report field unserialisable
        frame = encode_report({"status": "failed", "phase": report.get("phase", "check"),
                               "error": f"could not encode the report ({type(err).__name__})"})
    view = memoryview(frame)
    while view:
        view = view[os.write(job.result_fd, view):]
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip atexit handlers a head may have registered


if __name__ == "__main__":
    main(sys.argv[1])
