"""Hostile and broken heads are contained, recorded as failed with a reason, and harm nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.evaluation import raw_path
from harness.runner import Runner, RunOptions
from harness.sandbox import Limits, Sandbox
from tests.systools import require_bwrap
from tests.test_hostile import overall

HERE = Path(__file__).parent / "submissions"
LIMITS = Limits(memory_mb=3000, cpu_s=8, wall_s=8)

# hostile head -> words the failure reason must contain (under either isolation level)
HOSTILE = {
    "reads_labels": ("read a labels file", "not given", "guessed", "Permission denied"),
    "walks_filesystem": ("read a labels file", "not given", "no labels file found", "listed a folder"),
    "opens_socket": ("check_imports", "socket"),
    "allocates_memory": ("memory",),
    "loops_forever": ("timed out", "CPU-time limit"),
    "fork_bomb": ("forked", "os.fork"),
    "writes_outside": ("wrote outside",),
    "returns_nan": ("non-finite",),
    "wrong_shape": ("shape",),
    "raises_in_fit": ("fit raised ValueError",),
    "prints_megabytes": ("output limit",),
    "alters_harness": ("wrote outside", "read-only"),
}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_hostile_heads_are_contained(tiny_set, tmp_path, isolation):
    results = tmp_path / "results"
    runner = Runner(tiny_set, RunOptions(results=results, isolation=isolation, limits=LIMITS, n_boot=50,
                                         progress=False, jobs=2), log=lambda _: None)
    good = runner.run([HERE / "good_linear"])[0]
    assert good["status"] == "ok" and good["isolation"] == isolation
    before_results = _snapshot(results)
    import harness
    package = Path(harness.__file__).parent
    before_set = _snapshot(tiny_set.path)

    records = {r["submission"]["name"]: r for r in runner.run([HERE / name for name in HOSTILE])}
    for name, words in HOSTILE.items():
        record = records[name]
        assert record["status"] == "failed", f"{name} was not contained: {record}"
        error = record["error"]
        assert "\n" not in error and any(w in error for w in words), f"{name}: unexpected reason {error!r}"
    # the earlier good result, the harness and the set are untouched
    assert {k: v for k, v in _snapshot(results).items() if "good_linear" in k} == before_results
    assert not any(b"# tampered" in p.read_bytes() for p in package.glob("*.py"))
    assert _snapshot(tiny_set.path) == before_set
    assert not Path("/rewardheads-was-here").exists()


def test_network_namespace_without_the_guard(tiny_set, tmp_path):
    """With the audit-hook guard off, bubblewrap alone still cuts the network, the labels and the harness."""
    require_bwrap()
    from tests.test_hostile import _direct

    sandbox = Sandbox(LIMITS, "bwrap")
    for name, expected in (("opens_socket", ("OSError", "gaierror", "Network is unreachable")),
                           ("reads_labels", ("guessed", "Permission denied")),
                           ("alters_harness", ("Read-only", "OSError", "Permission denied"))):
        result = _direct(sandbox, tiny_set, tmp_path, name)
        assert result.status == "failed"
        assert any(word in result.error for word in expected), (name, result.error)


def test_scores_come_back_in_set_order(tiny_set, tmp_path, isolation):
    """The sandbox sees secretly ordered, mixed calls; the runner maps clean scores back to the set's rows."""
    runner = Runner(tiny_set, RunOptions(results=tmp_path, isolation=isolation, limits=LIMITS, n_boot=20,
                                         progress=False), log=lambda _: None)
    record = runner.run([HERE / "good_linear"])[0]
    raw = np.load(raw_path(runner.set_results, "good_linear"))["scores"][0]
    split = tiny_set.split("rewardbench")
    w = np.asarray(tiny_set.split("train/synthetic").chosen, np.float32) - np.asarray(
        tiny_set.split("train/synthetic").rejected, np.float32)
    expected = np.asarray(split.response, np.float32).astype(np.float64) @ w.mean(0)
    np.testing.assert_allclose(raw, expected, rtol=1e-4)
    assert overall(record)["mean"] > 0.9


def test_a_torch_head_scores_the_same_on_any_avx2_cpu(tmp_path, monkeypatch):
    """The sandbox pins torch's and MKL's kernels to their AVX2 code paths, in MKL's strict mode
    (``PORTABLE_MATH``), so a machine with AVX-512 computes what an AVX2 one does, run after run.
    ``MKL_ENABLE_INSTRUCTIONS=AVX2`` makes MKL on this machine behave like an AVX2 machine's.
    armo_moe's scores must not move: without the pin they do wherever the CPU has AVX-512, and
    without ``STRICT`` they move by an ulp from one run to the next (memory alignment)."""
    from harness.embedset import EmbeddingSet
    from harness.paths import repo_path
    from harness.runner import Runner, RunOptions

    emb = EmbeddingSet.open(repo_path("sets", "mini-1"))  # the smaller bundled set
    scores = []
    for name, env in (("native", None), ("native-again", None), ("as-avx2", "AVX2")):
        if env:
            monkeypatch.setenv("MKL_ENABLE_INSTRUCTIONS", env)
        results = tmp_path / name
        [record] = Runner(emb, RunOptions(results=results, seeds=[0], n_boot=10, progress=False, control=False),
                          log=lambda _: None).run([repo_path("submissions", "armo_moe")])
        assert record["status"] == "ok", record.get("error")
        with np.load(results / "mini-1" / "raw" / "armo_moe.npz") as raw:
            scores.append(raw["scores"])
    np.testing.assert_array_equal(scores[0], scores[1])
    np.testing.assert_array_equal(scores[0], scores[2])
