"""Builds under real launchers: torchrun ranks and Slurm array tasks as separate processes.

Each process embeds its shard of a tiny build into one shared work folder; ``merge`` (with no
model and no ``torch``) must give a set bit-identical to a one-process build, also after a rank
is killed mid-build and restarted. The kill is deterministic: the builder's test hook
(``REWARDHEADS_EMBED_KILL_AFTER``) makes it SIGKILL itself right after a finished chunk.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fixtures_data import write_recipe

from harness.cli import main
from harness.embed import KILL_AFTER_ENV, Plan
from harness.embedset import EmbeddingSet

LAUNCHER_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                 "REWARDHEADS_SHARD", KILL_AFTER_ENV)
PER_RUN = ("created",)  # manifest keys that differ between any two builds
PER_RUN_BUILD = ("last_run", "shards")  # timings, per shard


def clean_env(**extra: str) -> dict[str, str]:
    """This environment (offline Hugging Face libraries, from conftest) without launcher variables."""
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARS and not k.startswith("SLURM_")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def torchrun() -> list[str]:
    exe = Path(sys.executable).with_name("torchrun")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]


def arrays(emb: EmbeddingSet) -> dict[str, np.ndarray]:
    return {f"{name}/{a}": np.asarray(getattr(emb.split(name), a)) for name in emb.splits
            for a in ("chosen", "rejected", "prompt", "response") if hasattr(emb.split(name), a)}


def assert_same_set(path: Path, reference: Path) -> None:
    """Every array and file identical; the manifest too, but for creation time and timings."""
    got, ref = EmbeddingSet.open(path), EmbeddingSet.open(reference)
    a, b = arrays(got), arrays(ref)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    files = sorted(p.relative_to(path) for p in path.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert files == sorted(p.relative_to(reference) for p in reference.rglob("*")
                           if p.is_file() and p.name != "manifest.json")
    for rel in files:
        assert (path / rel).read_bytes() == (reference / rel).read_bytes(), rel

    def stable(manifest: dict) -> dict:
        out = {k: v for k, v in manifest.items() if k not in PER_RUN}
        out["build"] = {k: v for k, v in manifest["build"].items() if k not in PER_RUN_BUILD}
        return out

    assert stable(got.manifest) == stable(ref.manifest)


@pytest.fixture(scope="module")
def scale(tmp_path_factory, tiny_llama, fixture_data):
    """A recipe (4 texts per chunk: 6 chunks, 3 per shard of 2) and its one-process build."""
    root = tmp_path_factory.mktemp("scale")
    model = root / "model"
    shutil.copytree(tiny_llama, model)  # tests below take it away for a while
    data_dir = Path(fixture_data["rewardbench"]).parent.parent
    recipe = root / "recipe.toml"
    write_recipe(recipe, model)
    # one thread, as in every launched process (clean_env): a CPU's sums depend on the thread count
    saved, threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        assert main(["embed", "--recipe", str(recipe), "--data-dir", str(data_dir), "--out", str(root / "one"),
                     "--no-progress"]) == 0
    finally:
        torch.set_num_threads(threads)
        if saved is None:
            del os.environ["OMP_NUM_THREADS"]
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    return SimpleNamespace(root=root, model=model, recipe=recipe, data_dir=data_dir, reference=root / "one" / "t-1")


def embed_argv(scale, out: Path) -> list[str]:
    return ["embed", "--recipe", str(scale.recipe), "--data-dir", str(scale.data_dir), "--out", str(out),
            "--shard", "auto", "--no-progress"]


def test_torchrun_ranks_share_one_work_folder(scale, tmp_path):
    out = tmp_path / "sets"
    proc = subprocess.run([*torchrun(), "--standalone", "--nproc-per-node", "2", "-m", "harness.cli",
                           *embed_argv(scale, out)], env=clean_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "shard 0/2 done" in proc.stdout and "shard 1/2 done" in proc.stdout
    work = out / "t-1.partial"
    names = sorted(p.name for p in work.iterdir())
    assert names == ["plan.json", *[f"shard{j % 2:03d}of002-chunk{j:05d}.npz" for j in (0, 2, 4)],
                     "shard000of002.json", *[f"shard001of002-chunk{j:05d}.npz" for j in (1, 3, 5)],
                     "shard001of002.json"]
    for k in (0, 1):
        manifest = json.loads((work / f"shard{k:03d}of002.json").read_text())
        assert sorted(manifest["chunks"]) == [f"shard{k:03d}of002-chunk{j:05d}.npz" for j in (k, k + 2, k + 4)]
        assert manifest["device"] == "cpu" and manifest["last_run"]["chunks"] == 3
    assert main(["merge", "--recipe", str(scale.recipe), "--data-dir", str(scale.data_dir), "--out", str(out)]) == 0
    assert not work.exists()  # merged: the work folder is removed, as after a one-process build
    assert_same_set(out / "t-1", scale.reference)
    assert [s["shard"] for s in EmbeddingSet.open(out / "t-1").manifest["build"]["shards"]] == ["0/2", "1/2"]


def test_slurm_array_task_killed_and_restarted_then_merged_without_model(scale, tmp_path, capsys):
    out = tmp_path / "sets"
    work = out / "t-1.partial"

    def task(k: int, **extra: str) -> subprocess.Popen:
        env = clean_env(SLURM_ARRAY_JOB_ID="77", SLURM_ARRAY_TASK_ID=str(k), SLURM_ARRAY_TASK_COUNT="2",
                        SLURM_ARRAY_TASK_MIN="0", SLURM_ARRAY_TASK_MAX="1", **extra)
        return subprocess.Popen([sys.executable, "-m", "harness.cli", *embed_argv(scale, out)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # side by side; task 1 dies (SIGKILL) right after writing its first chunk
    tasks = [task(0), task(1, **{KILL_AFTER_ENV: "1@1"})]
    results = [(t.communicate(timeout=300), t.returncode) for t in tasks]
    assert results[0][1] == 0, results[0][0][1][-3000:]
    assert results[1][1] == -9, results[1][0][1][-3000:]
    assert "shard 0/2 done" in results[0][0][0] and results[1][0][0] == ""
    survivor = work / "shard001of002-chunk00001.npz"
    assert sorted(p.name for p in work.glob("shard001of002*")) == [survivor.name]  # no manifest: unfinished
    stamp = survivor.stat().st_mtime_ns
    merge = ["merge", "--recipe", str(scale.recipe), "--data-dir", str(scale.data_dir), "--out", str(out)]
    assert main(merge) == 2  # refused until task 1 has finished
    assert capsys.readouterr().err == (f"rewardheads merge: error: {work}: 6 of 22 texts not embedded yet; run the "
                                       "other shards first (unfinished: shard 1/2; a rerun resumes)\n")

    # the restarted task resumes: only its two missing chunks are embedded
    restarted = task(1)
    stdout, stderr = restarted.communicate(timeout=300)
    assert restarted.returncode == 0, stderr[-3000:]
    assert stdout.splitlines()[0] == "resuming shard 1/2: 1 of 3 chunks already done"
    assert survivor.stat().st_mtime_ns == stamp
    manifest = json.loads((work / "shard001of002.json").read_text())
    assert (manifest["last_run"]["chunks"], manifest["last_run"]["resumed_chunks"]) == (2, 1)
    plan = Plan.read(work)
    assert plan.ids is None and len(plan.lengths) == 22

    # merge on a "login node": the model folder is gone and torch / transformers cannot be imported
    away = scale.root / "model-away"
    scale.model.rename(away)
    try:
        code = ("import sys; sys.modules.update(torch=None, transformers=None, datasets=None); "
                "from harness.cli import main; sys.exit(main(sys.argv[1:]))")
        proc = subprocess.run([sys.executable, "-c", code, *merge], env=clean_env(), capture_output=True,
                              text=True, timeout=120)
    finally:
        away.rename(scale.model)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout == f"wrote {out / 't-1'}\n"
    assert_same_set(out / "t-1", scale.reference)
