"""Run one head's job (all its seeds and variants on one set) in an isolated process with limits;
return its report only.

Isolation levels (recorded in every result):

* ``bwrap``: bubblewrap with new network, PID, IPC, UTS and cgroup namespaces (and a user
  namespace when the harness is not root), an unprivileged uid (when the harness runs as
  root the worker drops to a uid of its own per job), a read-only root built from binds of
  only the system libraries, the interpreter, its packages, the harness package, the
  submission, the training arrays and this job's unlabelled score calls; size-limited tmpfs
  for ``/tmp``, the scratch folder and ``/dev/shm``; no host folder is writable. The worker
  reports over a pipe. Nothing else of the host's files (no labels, no results, no other
  submissions) exists inside, and the sandbox refuses to start if a bind would expose them.
* ``process``: a plain subprocess with the same rlimits, a scrubbed environment, a
  parent-death signal, a uid of its own when the harness runs as root, and an audit-hook guard.
  A seat belt for your own trusted head on your own machine, not a wall (see SECURITY.md):
  its results are marked and the published leaderboard refuses them.

Both apply ``setrlimit`` limits (address space, CPU seconds, file size, open files,
processes), a wall-clock timeout, and a cap on printed output; the whole process tree is
killed at the end of every job. The parent measures wall time, CPU time and peak memory
itself and bounds whatever the worker reports by them.
"""

from __future__ import annotations

import copy
import ctypes
import fcntl
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import harness
from harness.errors import HarnessError
from harness.protocol import Job, ProtocolError, WorkerReport, clean_line, clean_text, decode_report, frame_limit

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
#: The same float results on every x86-64 CPU with AVX2, with or without AVX-512: torch's own
#: kernels run their AVX2 build and MKL its conditional-numerical-reproducibility mode for AVX2,
#: strict (else MKL's results depend on the arrays' memory alignment and move by an ulp between
#: runs: armo_moe did).
#: Unpinned, a torch head fitted on an AVX-512 machine differs from an AVX2 one by up to 0.6
#: points; pinned it costs nothing measurable (bt_ensemble's fit 23.6 s vs 23.8 s). The
#: portable scalar paths ("default", "COMPATIBLE") would also cover CPUs without AVX2, at 2.6x
#: the fit time. numpy/scipy heads need nothing here (OpenBLAS gave identical scores on both).
PORTABLE_MATH = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT"}
ISA_OVERRIDES = ("MKL_ENABLE_INSTRUCTIONS",)  # passed through: lets a test emulate an older CPU
SYSTEM_DIRS = ("/usr", "/bin", "/lib", "/lib64", "/sbin")
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime")
FIRST_JOB_UID = 61000  # per-job uids when the harness runs as root: 61000 + slot
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
UNACCOUNTED_S, UNACCOUNTED_FRAC = 2.0, 0.10  # wall time a report may leave out of its phases (honest: ~0.3 s)
PACKAGE = Path(harness.__file__).resolve().parent
PACKAGE_MOUNT = "/opt/rewardheads"
#: The worker is this very harness package, whatever an installed finder would pick (another checkout).
WORKER_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from harness.worker import main; main(sys.argv[2])"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process."""

    memory_mb: int = 6144
    cpu_s: int = 900
    wall_s: int = 900
    file_mb: int = 64
    open_files: int = 256
    output_kb: int = 1024
    threads: int = 1
    processes: int = 64  # processes + threads the job may run at once
    tmpfs_mb: int = 256  # each of /tmp and the scratch folder (bwrap)
    shm_mb: int = 16


@dataclass
class JobResult:
    """What came back from one sandboxed process, measured and validated by the parent."""

    status: str  # "ok", "failed" or "skipped"
    error: str | None
    isolation: str
    wall_s: float
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0
    report: WorkerReport | None = None
    output_tail: str = ""

    @property
    def traceback(self) -> str:
        return self.report.traceback if self.report else ""

    @property
    def arrays(self) -> dict:
        return self.report.arrays if self.report else {}

    def time(self, key: str) -> float | None:
        """A worker-reported phase time, never more than the parent's own wall-clock measurement."""
        if self.report is None or key not in self.report.times:
            return None
        return min(self.report.times[key], self.wall_s)


@functools.cache
def bwrap_available() -> tuple[bool, str]:
    """Whether bubblewrap can create the namespaces we need here, and why not if it can't."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    probe = subprocess.run([exe, *_namespaces(), "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return False, f"bwrap cannot create namespaces here ({clean_text(probe.stderr, 200)})"
    return True, ""


def _is_root() -> bool:
    return os.geteuid() == 0


def _namespaces() -> list[str]:
    ns = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
          "--as-pid-1", "--die-with-parent", "--new-session"]
    if _is_root():  # no user namespace: the worker drops to a real unprivileged uid of its own
        return [*ns, "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return [*ns, "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL"]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _pids_of(uid: int) -> list[int]:
    """The processes running under ``uid`` now."""
    pids = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.stat(f"/proc/{pid}").st_uid == uid:
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def _user_tasks(uid: int) -> int:
    """Processes and threads running under ``uid`` now (what RLIMIT_NPROC counts)."""
    count = 0
    for pid in _pids_of(uid):
        try:
            count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            pass
    return count


def _preexec(limits: Limits, nproc: int, pdeathsig: bool):
    libc = _libc() if pdeathsig else None

    def apply() -> None:
        mb = 1024 * 1024
        for res, value in (
            (resource.RLIMIT_AS, limits.memory_mb * mb),
            (resource.RLIMIT_FSIZE, limits.file_mb * mb),
            (resource.RLIMIT_NOFILE, limits.open_files),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, nproc),
        ):
            resource.setrlimit(res, (value, value))
        # SIGXCPU at the soft limit names the cause; SIGKILL at the hard one if it is ignored
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 5))
        if libc is not None:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return apply


class _UidPool:
    """Hands out one uid per running job (root only), so no two jobs share a uid, even across
    harness processes on one host: each uid is held by an exclusive lock file while its job runs."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or Path("/run" if os.path.isdir("/run") else "/tmp") / "rewardheads-uids"
        self._held: dict[int, int] = {}
        self._lock = threading.Lock()

    def take(self) -> int:
        self.folder.mkdir(mode=0o700, exist_ok=True)
        with self._lock:
            for slot in range(10_000):
                uid = FIRST_JOB_UID + slot
                if uid in self._held:
                    continue
                fd = os.open(self.folder / f"{uid}.lock", os.O_CREAT | os.O_RDWR, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    continue
                self._held[uid] = fd
                return uid
        raise HarnessError("no free sandbox uid (10,000 jobs running?)")

    def give(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)  # closing releases the lock


_UIDS = _UidPool()


class Sandbox:
    """Runs worker jobs under ``isolation`` ("auto", "bwrap" or "process")."""

    def __init__(self, limits: Limits | None = None, isolation: str = "auto"):
        self.limits = limits or Limits()
        ok, why = bwrap_available()
        if isolation == "auto":
            isolation = "bwrap" if ok else "process"
        if isolation == "bwrap" and not ok:
            raise HarnessError(f"isolation 'bwrap' requested but {why}")
        if isolation not in ("bwrap", "process"):
            raise HarnessError(f"unknown isolation '{isolation}' (auto, bwrap, process)")
        self.isolation = isolation
        self.why_not_bwrap = why
        if isolation == "process" and not _is_root():
            # a worker of the same uid could otherwise read our environment (tokens) from /proc
            _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)

    # -- public --------------------------------------------------------------------------------
    def run(self, job: Job, *, submission: Path, train: list[Path] = (), inputs: Path | None = None,
            expect: dict[str, int] | None = None, protected: list[Path] = (), echo=None,
            fits: int = 1) -> JobResult:
        """Run ``job`` for the submission folder; never raises for a head's fault.

        ``expect`` maps each score array the report must carry to its length; ``protected``
        lists host folders (the set, results, other submissions) no bind may expose; ``echo``,
        if given, receives each line the head prints (cleaned) as it is printed. ``fits`` is the
        number of fits the job makes (seeds x distinct fits of its variants): the CPU and wall-clock
        limits are per fit, so the job's own limits are that many times the per-fit ones.
        """
        expect = expect or {}
        if fits > 1:
            scaled = copy.copy(self)
            scaled.limits = replace(self.limits, cpu_s=self.limits.cpu_s * fits, wall_s=self.limits.wall_s * fits)
            return scaled.run(job, submission=submission, train=train, inputs=inputs, expect=expect,
                              protected=protected, echo=echo)
        uid = _UIDS.take() if _is_root() else None
        try:
            with tempfile.TemporaryDirectory(prefix="rewardheads-job-") as tmp:
                host = Path(tmp)
                result = self._run(job, host, uid, submission, list(train), inputs, expect, list(protected), echo)
                return _map_paths(result, "/submission" if self.isolation == "bwrap" else str(submission),
                                  submission)
        finally:
            if uid is not None:
                _kill_uid(uid)
                _UIDS.give(uid)

    def describe(self) -> str:
        """One line for the run's log."""
        if self.isolation == "bwrap":
            return "isolation: bwrap (namespaces: net, pid, ipc, uts; read-only binds; tmpfs; rlimits)"
        return (f"isolation: process (rlimits + audit-hook guard; {self.why_not_bwrap or 'requested'}): "
                "for your own trusted heads only; the published leaderboard refuses these results")

    # -- internals -----------------------------------------------------------------------------
    def _run(self, job: Job, host: Path, uid: int | None, submission: Path, train: list[Path],
             inputs: Path | None, expect: dict[str, int], protected: list[Path], echo) -> JobResult:
        read_fd, write_fd = os.pipe()
        try:
            if self.isolation == "bwrap":
                scratch = "/scratch"
                paths = {"submission": "/submission", "inputs": "/inputs" if inputs else None,
                         "train": [_train_mount(i, p) for i, p in enumerate(train)]}
            else:
                scratch = str(host / "scratch")
                (host / "scratch").mkdir()
                if uid is not None:  # the job's uid may pass through the job folder to its scratch, no more
                    os.chmod(host, 0o711)
                    os.chown(host / "scratch", uid, uid)
                paths = {"submission": str(submission), "inputs": str(inputs) if inputs else None,
                         "train": [str(p) for p in train]}
            full = replace(
                job, train=paths["train"], inputs=paths["inputs"], scratch=scratch, threads=self.limits.threads,
                memory_mb=self.limits.memory_mb, result_fd=write_fd, uid=uid, isolation=self.isolation,
                deny_read=[str(p) for p in protected] if self.isolation == "process" else [],
                submission={**job.submission, "path": paths["submission"]},
            )
            (host / "job.json").write_text(full.to_json())
            os.chmod(host / "job.json", 0o600)
            job_file = "/job.json" if self.isolation == "bwrap" else str(host / "job.json")
            home = PACKAGE_MOUNT if self.isolation == "bwrap" else str(PACKAGE.parent)
            argv = [sys.executable, "-I", "-B", "-c", WORKER_BOOT, home, job_file]
            if self.isolation == "bwrap":
                argv = self._bwrap_argv(host, submission, train, inputs, protected) + argv
            nproc = self.limits.processes if uid is not None else _user_tasks(os.getuid()) + self.limits.processes
            bwrap = self.isolation == "bwrap"
            proc = subprocess.Popen(
                argv, cwd=host if bwrap else scratch, env={"PATH": "/usr/bin:/bin"} if bwrap else self._env(scratch),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(write_fd,),
                preexec_fn=_preexec(self.limits, nproc, self.isolation == "process"), start_new_session=True,
            )
        finally:
            os.close(write_fd)
        seeds = len(job.run_seeds) if job.mode == "run" else 0
        return self._collect(proc, read_fd, expect, uid, echo, runs=seeds * len(job.run_variants), seeds=seeds)

    def _env(self, scratch: str) -> dict[str, str]:
        env = {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
               "PYTHONHASHSEED": "0", "CUBLAS_WORKSPACE_CONFIG": ":4096:8", "CUDA_VISIBLE_DEVICES": "",
               "MPLCONFIGDIR": scratch, "HF_HUB_OFFLINE": "1", "NO_PROXY": "*", **PORTABLE_MATH}
        env.update({k: v for k, v in os.environ.items() if k in ISA_OVERRIDES})
        env.update({var: str(self.limits.threads) for var in THREAD_VARS})
        return env

    def _bwrap_argv(self, host: Path, submission: Path, train: list[Path], inputs: Path | None,
                    protected: list[Path]) -> list[str]:
        lim = self.limits
        binds: list[tuple[str, str]] = [(d, d) for d in SYSTEM_DIRS if os.path.isdir(d) and not os.path.islink(d)]
        links = [(os.readlink(d), d) for d in SYSTEM_DIRS if os.path.islink(d)]
        shared = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)}
                        | {os.path.realpath(p) for p in sys.path if "site-packages" in p and os.path.isdir(p)}
                        | {str(PACKAGE)})
        shared = [p for p in shared if not any(p != q and p.startswith(q + os.sep) for q in shared)]
        _refuse_exposure(shared + [d for d, _ in binds], protected)
        binds += [(p, p) for p in shared if p != str(PACKAGE)]
        binds.append((str(PACKAGE), f"{PACKAGE_MOUNT}/harness"))
        binds += [(e, e) for e in ETC_FILES if os.path.exists(e)]
        binds += [(str(submission), "/submission")]
        binds += [(str(folder), _train_mount(i, folder)) for i, folder in enumerate(train)]
        if inputs is not None:
            binds.append((str(inputs), "/inputs"))
        binds.append((str(host / "job.json"), "/job.json"))
        argv = ["bwrap", *_namespaces(), "--hostname", "sandbox"]
        for parent in sorted({str(a) for _, dest in binds for a in Path(dest).parents if str(a) != "/"},
                             key=lambda p: (p.count("/"), p)):
            argv += ["--perms", "0755", "--dir", parent]  # bwrap would copy a private parent's mode (/root)
        for target, link in links:
            argv += ["--symlink", target, link]
        for src, dest in binds:
            argv += ["--ro-bind", src, dest]
        argv += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(lim.shm_mb << 20), "--perms", "1777", "--tmpfs", "/dev/shm",
                 "--size", str(lim.tmpfs_mb << 20), "--perms", "1777", "--tmpfs", "/tmp",
                 "--size", str(lim.tmpfs_mb << 20), "--perms", "1777", "--tmpfs", "/scratch",
                 "--remount-ro", "/", "--chdir", "/scratch", "--clearenv"]
        for key, value in self._env("/scratch").items():
            argv += ["--setenv", key, value]
        return argv

    def _collect(self, proc: subprocess.Popen, read_fd: int, expect: dict[str, int], uid: int | None,
                 echo=None, runs: int = 0, seeds: int = 0) -> JobResult:
        limits = self.limits
        start = time.perf_counter()
        output = _Drain(proc.stdout, limits.output_kb * 1024, on_overflow=lambda: _kill_group(proc), echo=echo,
                        keep=False)
        report = _Drain(os.fdopen(read_fd, "rb", buffering=0), frame_limit(expect),
                        on_overflow=lambda: _kill_group(proc))
        output.start()
        report.start()
        timed_out = False
        try:
            usage = _wait4(proc, limits.wall_s)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(proc)
            usage = _wait4(proc, None)
        wall = time.perf_counter() - start
        _kill_group(proc)  # whatever the job left running dies with it
        if uid is not None:
            _kill_uid(uid)  # also what escaped the process group (a double fork + setsid)
        output.join(timeout=5)
        report.join(timeout=5)
        code = proc.returncode
        if self.isolation == "bwrap" and code > 128 and code - 128 in signal.valid_signals():
            code = 128 - code  # bwrap exits 128 + N when the worker died of signal N
        measured = {"isolation": self.isolation, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
                    "peak_rss_mb": usage.ru_maxrss / 1024, "output_tail": clean_tail(output.tail())}

        def failed(reason: str, rep: WorkerReport | None = None) -> JobResult:
            return JobResult("failed", reason, report=rep, **measured)

        if timed_out:
            return failed(f"timed out after {limits.wall_s} s (wall-clock limit)")
        if output.overflow:
            return failed(f"printed more than {limits.output_kb} KiB to stdout/stderr (output limit)")
        if report.overflow:
            return failed("sent more than a report's worth of bytes to the harness")
        if report.is_alive():
            return failed("left a process running after the job (it kept the harness's pipe open)")
        if code != 0:
            return failed(_describe_exit(code, limits, measured["output_tail"], measured["cpu_s"]))
        try:
            rep = decode_report(report.data(), expect, runs=runs, seeds=seeds)
        except ProtocolError as err:
            return failed(f"invalid report from the worker: {err}")
        if rep.status == "skipped":
            return JobResult("skipped", rep.error, report=rep, **measured)
        if rep.status != "ok":
            return failed(rep.error or "the worker reported failure without a reason", rep)
        if expect and (reason := _forged_times(rep.times, wall)):  # a run report accounts for its whole job
            return failed(reason)
        return JobResult("ok", None, report=rep, **measured)


def _forged_times(times: dict[str, float], wall: float) -> str | None:
    """Why the worker's phase times cannot be true, or None.

    Only the parent's wall clock is trustworthy; the phases are the worker's (that is, the head's)
    word. Honest workers leave ~0.3 s of the wall time unaccounted (interpreter start, encoding the
    report); more than :data:`UNACCOUNTED_S` + :data:`UNACCOUNTED_FRAC` of it, or phases adding up to
    more than the wall time, means a report whose cost figures were forged (e.g. a patched clock).
    """
    total = sum(times.values())
    gap = wall - total
    if gap > UNACCOUNTED_S + UNACCOUNTED_FRAC * wall:
        return (f"reported phase times ({total:.2f} s) leave {gap:.2f} s of the measured {wall:.2f} s wall time "
                "unaccounted: the report's cost figures cannot be true")
    if total > wall + 0.5:
        return f"reported phase times ({total:.2f} s) exceed the measured wall time ({wall:.2f} s)"
    return None


def clean_tail(text: str, lines: int = 20) -> str:
    """The last lines of a head's output, each made a printable line."""
    return "\n".join(clean_line(line) for line in text.splitlines()[-lines:])


def shown_path(path: Path) -> str:
    """A host path as a user reads it: relative to the current folder when it lies inside it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _map_paths(result: JobResult, inside: str, host: Path) -> JobResult:
    """Name the head's files by their real paths, not the sandbox's (``/submission/head.py``)."""
    real = shown_path(host)

    def fix(text: str | None) -> str | None:
        return text.replace(inside + "/", real + "/") if text else text

    result.error = fix(result.error)
    result.output_tail = fix(result.output_tail) or ""
    if result.report is not None:
        result.report = replace(result.report, error=fix(result.report.error), traceback=fix(result.report.traceback))
    return result


def _refuse_exposure(binds: list[str], protected: list[Path]) -> None:
    """Refuse a bind that would show a protected folder inside the sandbox (or sit inside one)."""
    for bind in binds:
        b = Path(os.path.realpath(bind))
        for p in protected:
            p = Path(os.path.realpath(p))
            if b == p or b in p.parents or p in b.parents:
                raise HarnessError(f"refusing to sandbox: binding {b} into the sandbox would expose {p}; "
                                   "install the environment outside the project's sets/results/submissions")


def _train_mount(index: int, folder: Path) -> str:
    """Where a training split appears inside bwrap: its own name, under a per-split folder."""
    return f"/data/train/{index}/{folder.name}"


def _wait4(proc: subprocess.Popen, timeout: float | None):
    """``os.wait4`` with a timeout: sets ``proc.returncode`` and returns the child's resource usage."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return usage
        if deadline is not None and time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
        time.sleep(0.01)


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping its tail (and, with ``keep``, all of it up to ``cap`` bytes);
    past the cap it kills the job."""

    def __init__(self, stream, cap: int, on_overflow, echo=None, keep: bool = True):
        super().__init__(daemon=True)
        self.stream, self.cap, self.on_overflow, self.echo, self.keep = stream, cap, on_overflow, echo, keep
        self.overflow, self._chunks, self._size, self._tail, self._partial = False, [], 0, b"", b""

    def _echo(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self.echo(clean_line(line.decode(errors="replace")))

    def run(self) -> None:
        try:
            read = getattr(self.stream, "read1", self.stream.read)  # whatever is there, without waiting for more
            while chunk := read(65536):
                if self.echo is not None and not self.overflow:
                    self._echo(chunk)
                self._size += len(chunk)
                self._tail = (self._tail + chunk)[-8192:]
                if self._size > self.cap:
                    if not self.overflow:
                        self.overflow = True
                        self._chunks = []
                        self.on_overflow()
                elif self.keep and not self.overflow:
                    self._chunks.append(chunk)
        except (OSError, ValueError):
            pass
        finally:
            self.stream.close()

    def data(self) -> bytes:
        return b"".join(self._chunks)

    def tail(self) -> str:
        return self._tail.decode(errors="replace")


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_uid(uid: int) -> None:
    """Kill every process left running under a job's own uid (a double fork escapes the group)."""
    for _ in range(3):
        pids = _pids_of(uid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.05)


def _describe_exit(code: int | None, limits: Limits, tail: str, cpu_s: float = 0.0) -> str:
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= limits.cpu_s):
            return f"exceeded the CPU-time limit ({limits.cpu_s} s)"
        if sig == signal.SIGXFSZ:
            return f"exceeded the file-size limit ({limits.file_mb} MB)"
        if sig == signal.SIGKILL:
            return f"was killed (memory limit {limits.memory_mb} MB or CPU limit {limits.cpu_s} s)"
        return f"died with signal {signal.Signals(sig).name}"
    last = next((line for line in reversed(tail.strip().splitlines()) if line.strip()), "")
    if "MemoryError" in tail or "Cannot allocate memory" in tail:
        return f"ran out of memory (limit {limits.memory_mb} MB)"
    return f"exited with status {code}" + (f": {last[:300]}" if last else "")


def job_payload(submission, mode: str, seed: int, preimport: list[str], **extra: Any) -> Job:
    """The job for the worker (the submission's fields, minus its host path)."""
    fields = {k: v for k, v in asdict(submission).items() if k != "path"}
    fields = {k: (list(v) if isinstance(v, tuple) else v) for k, v in fields.items()}
    return Job(mode=mode, seed=seed, submission=fields, preimport=preimport, **extra)
