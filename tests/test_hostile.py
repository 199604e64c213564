"""Hostile heads, as a contributor who has read the source would write them, cannot game or break a run.

Each attack class of SECURITY.md has heads here: the order rows arrive in, memorising the public
test set, forged reports and cost figures, hostile metadata-free outputs, resources (threads,
tmpfs, lingering processes), secrets and the network, planted results. They run beside an honest
head under bubblewrap and under the process fallback; the honest head's result must be written,
the hostile ones must fail (or score at chance) with one readable line, and nothing on the host
may change.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from harness.checks import head_dependencies
from harness.embedset import EmbeddingSet
from harness.evaluation import raw_path
from harness.heads import ScoreBatch
from harness.probe import MAX_FLIP_RATE
from harness.protocol import array_name
from harness.runner import Runner, RunOptions
from harness.sandbox import Limits, Sandbox, job_payload
from harness.submissions import load_submission, make_head
from harness.worker import load_call
from tests.systools import require_bwrap

HERE = Path(__file__).parent / "submissions"
LIMITS = Limits(memory_mb=3000, cpu_s=20, wall_s=20, processes=48, tmpfs_mb=64, shm_mb=4)
SECRET = "REWARDHEADS_TEST_SECRET"

# hostile head -> words its one-line failure must contain, per isolation level
HOSTILE = {
    "abuses_report_pipe": {"any": ("invalid report",)},  # a forged report
    "abuses_report_pipe@mode=flood": {"any": ("more than a report",)},
    "lies_about_params": {"any": ("n_params() returned a 401-digit number",)},
    "lies_about_params@claim=-1": {"any": ("n_params() returned -1",)},
    "returns_list": {"any": ("numpy array",)},
    "thread_bomb": {"any": ("started",)},
    "fills_disk": {"any": ("wrote outside",)},  # the audit hook stops it; test_bubblewrap_alone_holds: the tmpfs
    "reads_secrets": {"any": ("found [",)},
    "plants_result": {"any": ("wrote outside",)},
    "lingers": {"any": ("forked", "os.fork")},
    "fakes_its_clock": {"any": ("unaccounted",)},  # a patched clock would report a 0 s fit
    "forges_log_lines": {"any": ("score raised ValueError: at ",)},  # escapes and fake "ok" lines in its output
}


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv(SECRET, "s3cret-token")
    return "s3cret-token"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def own_tempdir(tmp_path, monkeypatch):
    """Job folders of this test under its own tmp_path, so its processes are told apart from others'."""
    folder = tmp_path / "jobs"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _workers_alive(folder: Path | None = None) -> list[str]:
    """Processes still running whose command line names one of this test's job folders."""
    marker = os.fsencode(str(folder or tempfile.gettempdir()))
    alive = []
    for pid in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in cmd and pid != str(os.getpid()):
            alive.append(pid)
    return alive


def _write_memoriser(folder: Path, emb_set: EmbeddingSet) -> Path:
    """A head that ships a table of hashes of the public test embeddings -> label (the known attack)."""
    split = emb_set.split("rewardbench")
    labels = split.labels()
    table = {hashlib.sha256(np.asarray(row, np.float16).tobytes()).hexdigest()[:16]: float(lab)
             for row, lab in zip(np.asarray(split.response), labels, strict=True)}
    return _write_head(folder, "Looks test rows up in a table",
        "import hashlib\n\nimport numpy as np\n\n"
        f"TABLE = {table!r}\n\n\n"
        "class Head:\n"
        "    def fit(self, train, *, seed):\n        pass\n\n"
        "    def score(self, batch):\n"
        "        keys = [hashlib.sha256(r.astype(np.float16).tobytes()).hexdigest()[:16] for r in batch.response]\n"
        "        return np.array([TABLE.get(k, 0.5) for k in keys])\n")


def _write_head(folder: Path, description: str, source: str) -> Path:
    """A submission folder written by a test: fork_bomb's metadata renamed, and ``source`` as head.py."""
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text((HERE / "fork_bomb" / "submission.toml").read_text()
                                            .replace("fork_bomb", folder.name)
                                            .replace("Forks without end", description))
    (folder / "head.py").write_text(source)
    return folder


def _write_test_fitted(folder: Path, emb_set: EmbeddingSet) -> Path:
    """A head that brings a direction fitted on the public test labels, quantised to a few hundred
    bytes, and ignores its training pairs: robust to the perturbation probe, caught by the label control."""
    split = emb_set.split("rewardbench")
    response, labels = np.asarray(split.response, np.float64), split.labels()
    items = split.meta["item"].to_numpy()
    diffs = np.array([response[(items == i) & labels][0] - response[(items == i) & ~labels][0]
                      for i in np.unique(items)])
    w = np.linalg.lstsq(np.vstack([diffs, -diffs]), np.r_[np.ones(len(diffs)), -np.ones(len(diffs))], rcond=None)[0]
    quantised = np.round(127 * w / np.abs(w).max()).astype(int).tolist()
    return _write_head(folder, "Brings what it scores with it",
        "import numpy as np\n\n"
        f"W = np.array({quantised!r}, dtype=np.float64)\n\n\n"
        "class Head:\n"
        "    def fit(self, train, *, seed):\n        self.n_ = len(train)\n\n"
        "    def score(self, batch):\n        return batch.response.astype(np.float64) @ W\n")


def test_the_label_control_catches_a_head_that_brings_test_knowledge(tiny_set, tmp_path):
    """Fitted on the same pairs with every preference reversed, an honest head prefers the other
    response of each pair; one that brings a direction fitted on the public test labels scores as
    high as ever and fails. Reference heads (a fixed prior on purpose) are recorded, never failed."""
    cheat = _write_test_fitted(tmp_path / "subs" / "ships_test_direction", tiny_set)
    paths = [HERE / "good_linear", cheat, Path(__file__).parents[1] / "submissions" / "length"]
    options = dict(isolation="process", limits=LIMITS, n_boot=20, progress=False, jobs=2, seeds=[0, 1])
    unchecked = {r["submission"]["name"]: r for r in Runner(tiny_set, RunOptions(
        results=tmp_path / "plain", control=False, **options), log=lambda _: None).run(paths)}
    assert unchecked["ships_test_direction"]["status"] == "ok"  # the attack is real: without the control it wins
    assert overall(unchecked["ships_test_direction"])["mean"] > 0.9
    assert unchecked["good_linear"]["integrity"]["label_control"] is None

    lines: list[str] = []
    records = {r["submission"]["name"]: r for r in Runner(tiny_set, RunOptions(
        results=tmp_path / "results", **options), log=lines.append).run(paths)}
    good = records["good_linear"]
    assert good["status"] == "ok" and overall(good)["mean"] > 0.9
    control = good["integrity"]["label_control"]["suites"]["rewardbench-v1"]
    assert control["mirrored"] == pytest.approx(1 - control["overall"]) and control["bias"] == pytest.approx(0)
    bad = records["ships_test_direction"]
    assert bad["status"] == "failed" and bad["error"].startswith("label control: fitted on the same pairs"), bad
    assert bad["integrity"]["label_control"]["suites"]["rewardbench-v1"]["bias"] > 0.8
    assert "\n" not in bad["error"] and not raw_path(tmp_path / "results" / "tiny-1", "ships_test_direction").exists()
    length = records["length"]  # a reference: its prior beats chance in the control, and it stays ok
    assert length["status"] == "ok" and length["integrity"]["label_control"]["suites"]["rewardbench-v1"]["bias"] > 0.1


def test_the_memoriser_works_when_rows_are_not_perturbed(tiny_set, tmp_path):
    """Control: the table attack is real (100% on the stored rows), so the probe test below can fail."""
    head = make_head(load_submission(_write_memoriser(tmp_path / "memorises_test", tiny_set)))
    split = tiny_set.split("rewardbench")
    scores = head.score(ScoreBatch(response=np.asarray(split.response, np.float32)))
    chosen = split.labels()
    items = split.meta["item"].to_numpy()
    wins = [scores[(items == i) & chosen][0] > scores[(items == i) & ~chosen][0] for i in np.unique(items)]
    assert np.mean(wins) == 1.0


def test_the_order_oracle_works_on_a_predictable_order(tiny_set):
    """Control: the order attack reads labels off a fixed permutation of a chosen-first order."""
    head = make_head(load_submission(HERE / "order_oracle"))
    n = 400
    perm = np.random.default_rng(20241124).permutation(n)
    chosen_first = np.arange(n) % 2 == 0
    scores = head.score(ScoreBatch(response=np.zeros((n, 4), np.float32)))
    assert np.array_equal(scores > 0.5, chosen_first[perm])


def test_hostile_heads_beside_an_honest_one(tiny_set, tmp_path, isolation, secret_env, capsys):
    results = tmp_path / "results"
    lines: list[str] = []
    runner = Runner(tiny_set, RunOptions(results=results, isolation=isolation, limits=LIMITS, n_boot=50,
                                         progress=False, jobs=2), log=lines.append)
    import harness

    package = Path(harness.__file__).parent
    import compileall

    # every module's bytecode first, so no other test process (pytest -n) importing one for the first
    # time writes into the package while it is watched
    compileall.compile_dir(package, quiet=1)
    before_package, before_set = _snapshot(package), _snapshot(tiny_set.path)
    repo_results = Path(harness.__file__).parent.parent / "results"
    before_repo_results = _snapshot(repo_results) if repo_results.is_dir() else {}
    memoriser = _write_memoriser(tmp_path / "subs" / "memorises_test", tiny_set)
    folders = sorted({name.split("@")[0] for name in HOSTILE})
    paths = [HERE / "good_linear", HERE / "order_oracle", memoriser, *(HERE / name for name in folders)]
    records = {r["submission"]["name"]: r for r in runner.run(paths)}
    for folder, variant in (("abuses_report_pipe", {"mode": "flood"}), ("lies_about_params", {"claim": "-1"})):
        records.update({r["submission"]["name"]: r for r in runner.run([HERE / folder], [variant])})

    good = records["good_linear"]
    assert good["status"] == "ok" and overall(good)["mean"] > 0.9, good
    assert good["integrity"]["probe_flip_rate"][0] <= MAX_FLIP_RATE
    assert (runner.set_results / "good_linear.json").is_file() and raw_path(runner.set_results, "good_linear").is_file()
    # order: the oracle gets no signal (it fails the repeated-rows check, or scores at chance)
    oracle = records["order_oracle"]
    assert oracle["status"] == "failed" and "row order" in oracle["error"] or overall(oracle)["mean"] < 0.65
    # memorising: the perturbation probe catches the table lookup
    mem = records["memorises_test"]
    assert mem["status"] == "failed" and "perturbation probe" in mem["error"], mem.get("error")
    for name, expected in HOSTILE.items():
        record = records[name]
        words = expected.get(isolation, expected.get("any"))
        assert record["status"] == "failed", f"{name} was not contained: {record}"
        error = record["error"]
        assert "\n" not in error and any(w in error for w in words), f"{name}: unexpected reason {error!r}"
        assert "params" not in record.get("cost", {}) or record["cost"]["params"] is None or \
            0 <= record["cost"]["params"] <= 10**12
    assert secret_env not in records["reads_secrets"]["error"]
    assert "found []" in records["reads_secrets"]["error"]
    started = int(records["thread_bomb"]["error"].split("started ")[1].split()[0])
    assert started < LIMITS.processes
    # nothing on the host changed, nothing is left running, no traceback reached the user
    assert _snapshot(package) == before_package
    assert _snapshot(tiny_set.path) == before_set
    if repo_results.is_dir():
        assert _snapshot(repo_results) == before_repo_results
    assert not Path("/rewardheads-was-here").exists()
    assert not _workers_alive()
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err + "\n".join(lines)
    shown = out.out + out.err + "\n".join(lines) + "".join(str(r.get("error")) for r in records.values())
    assert "\x1b" not in shown and "\r" not in shown and not re.search(r"(?m)^ok +forges_log_lines", shown)
    assert "\n" not in records["forges_log_lines"]["error"] and "99.9" not in records["forges_log_lines"]["error"]
    assert sorted(p.stem for p in runner.set_results.glob("*.json")) == sorted(records)


def headline(record: dict) -> dict:
    """The headline suite's block of a record (one block per suite), or a flat record itself."""
    return record["suites"][record["suite"]] if "suites" in record else record


def overall(record: dict) -> dict:
    return headline(record)["overall"]


def _direct(sandbox: Sandbox, tiny_set, tmp_path, name: str, fits: int = 1, **params):
    """Run a head with the audit hook off: only the OS-level sandbox stands in its way."""
    from harness.evaluation import ScoringMatrix
    from harness.probe import ScoreCalls, secret_rng

    sub = load_submission(HERE / name)
    if params:
        from dataclasses import replace

        sub = replace(sub, params=params)
    matrix = ScoringMatrix.of(tiny_set)
    calls = ScoreCalls.draw(len(matrix), secret_rng())
    folder = tmp_path / f"calls-{name}"
    calls.write(folder / "0", matrix.arrays(), secret_rng())  # seed index 0's calls
    job = job_payload(sub, "run", 0, head_dependencies(sub), calls=["a", "b"], guard=False)
    return sandbox.run(job, submission=sub.path, train=[tiny_set.path / s for s in tiny_set.train_splits()],
                       inputs=folder, expect={array_name(0, 0, k): n for k, n in calls.sizes.items()},
                       protected=[tiny_set.path], fits=fits)


def test_bubblewrap_alone_holds(tiny_set, tmp_path, secret_env):
    """With the audit hook off, bubblewrap still cuts network, labels, secrets, disk and lingering processes."""
    require_bwrap()
    sandbox = Sandbox(LIMITS, "bwrap")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    reached = []

    def accept():
        try:
            reached.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    result = _direct(sandbox, tiny_set, tmp_path, "reaches_loopback", port=server.getsockname()[1])
    thread.join()
    server.close()
    assert result.status == "failed" and "connected" not in result.error and not reached, result.error
    result = _direct(sandbox, tiny_set, tmp_path, "reads_labels")
    assert result.status == "failed", result.error
    assert "guessed" in result.error or "Permission denied" in result.error, result.error
    result = _direct(sandbox, tiny_set, tmp_path, "reads_secrets")
    assert "found []" in result.error and secret_env not in result.error
    result = _direct(sandbox, tiny_set, tmp_path, "fills_disk")
    sizes = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", result.error)}
    assert sizes["tmp"] <= LIMITS.tmpfs_mb and sizes["shm"] <= LIMITS.shm_mb, sizes
    assert sizes["root"] == 0 and sizes["scratch"] <= LIMITS.tmpfs_mb, sizes
    result = _direct(sandbox, tiny_set, tmp_path, "lingers")
    assert result.status == "ok", result.error
    assert not _workers_alive()


def test_process_fallback_kills_what_a_job_leaves_behind(tiny_set, tmp_path):
    """Under the fallback, a double-forked daemon dies with its job (root: it runs under the job's own uid)."""
    if os.geteuid() != 0:
        pytest.skip("the fallback can only find a session-escaping process by uid when the harness runs as root")
    result = _direct(Sandbox(LIMITS, "process"), tiny_set, tmp_path, "lingers")
    assert result.status == "ok", result.error
    assert not _workers_alive()


def test_a_bind_that_would_expose_the_set_is_refused(tiny_set, tmp_path):
    require_bwrap()
    import sys

    sandbox = Sandbox(LIMITS, "bwrap")
    sub = load_submission(HERE / "good_linear")
    result_error = None
    try:
        sandbox.run(job_payload(sub, "checks", 0, []), submission=sub.path, protected=[Path(sys.prefix) / "lib"])
    except Exception as err:  # noqa: BLE001 - the refusal is a HarnessError
        result_error = str(err)
    assert result_error and "refusing to sandbox" in result_error


def test_score_calls_hide_the_order_and_mix_clean_with_perturbed(tiny_set, tmp_path):
    from harness.evaluation import ScoringMatrix
    from harness.probe import ScoreCalls, secret_rng

    matrix = ScoringMatrix.of(tiny_set)
    arrays = matrix.arrays()
    draws = [ScoreCalls.draw(len(matrix), secret_rng()) for _ in range(2)]
    assert not np.array_equal(draws[0].rows[0], draws[1].rows[0])  # fresh secret order per job
    calls = draws[0]
    calls.write(tmp_path / "calls", arrays, secret_rng())
    a = load_call(tmp_path / "calls" / "a")
    for call, rows, clean in zip((a,), calls.rows, calls.clean, strict=False):
        stored = np.asarray(arrays["response"], np.float32)[rows]
        assert np.array_equal(call.response[clean], stored[clean])
        moved = np.abs(call.response[~clean] - stored[~clean])
        assert moved.max() > 0 and moved.max() <= np.abs(stored).max() * 2 ** -9  # one float16 step at most
        assert 0.3 < clean.mean() < 0.7  # a call mixes clean and perturbed rows
    assert not (tmp_path / "calls" / "a" / "labels.parquet").exists()
    shutil.rmtree(tmp_path / "calls")


def test_concurrent_harnesses_never_share_a_job_uid(tmp_path):
    """Two runners on one host (e.g. CI shards) each hold their jobs' uids by lock, so neither kills the other's."""
    from harness.sandbox import _UidPool

    first, second = _UidPool(tmp_path), _UidPool(tmp_path)
    a, b = first.take(), second.take()
    assert a != b
    first.give(a)
    assert second.take() == a


def test_phase_times_must_account_for_the_measured_wall_time():
    from harness.sandbox import _forged_times

    assert _forged_times({"import_s": 1.0, "load_s": 0.5, "fit_s": 3.2}, wall=5.0) is None  # 0.3 s gap: honest
    assert "unaccounted" in _forged_times({"fit_s": 0.0, "score_s": 0.0}, wall=5.0)
    assert "exceed" in _forged_times({"fit_s": 9.0}, wall=5.0)


def test_a_job_s_time_limits_scale_with_its_fits(tiny_set, tmp_path):
    """A job of N fits (seeds x distinct fits) gets N times the per-fit CPU and wall-clock limits, no more."""
    sandbox = Sandbox(Limits(memory_mb=3000, cpu_s=2, wall_s=2), "process")
    result = _direct(sandbox, tiny_set, tmp_path, "loops_forever", fits=3)
    assert result.status == "failed" and 5.5 < result.wall_s < 9, (result.wall_s, result.error)
    assert result.error in ("timed out after 6 s (wall-clock limit)", "exceeded the CPU-time limit (6 s)")
    assert sandbox.limits.wall_s == 2


def test_a_report_s_run_times_and_seed_index_are_parsed_as_hostile():
    """Per-(seed, variant) vectors come in the parent's order; their times add up within the totals."""
    from harness.protocol import ProtocolError, decode_report, encode_report

    expect = {array_name(i, j, c): 3 for i in range(2) for j in range(2) for c in "ab"}
    arrays = {k: np.full(3, 0.5) for k in expect}
    ok = {"status": "ok", "phase": "done", "times": {"fit_s": 2.0, "score_s": 1.0},
          "runs": [{"fit_s": 1.0, "score_s": 0.25}] * 4}
    report = decode_report(encode_report(ok, arrays), expect, runs=4, seeds=2)
    assert [r.fit_s for r in report.runs] == [1.0] * 4 and report.arrays["1.1.b"].tolist() == [0.5] * 3
    shuffled = dict(reversed(arrays.items()))
    for header, vectors, message in (
            ({**ok, "runs": ok["runs"][:3]}, arrays, "carries 3 run times, expected 4"),
            ({**ok, "runs": [{"fit_s": 5.0, "score_s": 0.25}] * 4}, arrays, "exceeds the report's total"),
            ({**ok, "runs": [{"fit_s": 1.0}] * 4}, arrays, "run time is malformed"),
            ({**ok, "runs": [{"fit_s": True, "score_s": 0.1}] * 4}, arrays, "not a finite number"),
            ({**ok, "at": 2}, arrays, "seed index out of range"),
            (ok, shuffled, "report carries arrays"),
            ({**ok, "status": "failed", "runs": ok["runs"] * 2}, {}, "carries 8 run times")):
        with pytest.raises(ProtocolError, match=message):
            decode_report(encode_report(header, vectors), expect, runs=4, seeds=2)
    failed = decode_report(encode_report({"status": "failed", "phase": "fit", "error": "x", "at": 1}), expect,
                           runs=4, seeds=2)
    assert failed.at == 1 and failed.runs == ()
