"""harness.shards: deterministic shares of submissions, sharded runs side by side, ``collect``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.paths import repo_path
from harness.shards import ShardError, collect, parse_shard, select_share
from tests.tinyset import make_tiny_set

TESTS = Path(__file__).parent / "submissions"
SUBMISSIONS = [repo_path("submissions", "random"), repo_path("submissions", "length"),
               repo_path("submissions", "bt_linear"), TESTS / "good_linear", TESTS / "raises_in_fit"]
#: what differs between two runs of the same inputs: when, how fast, the reproduce line, and the
#: probe's flip rate (a fresh secret perturbation per job)
PER_RUN = ("created", "cost", "command")


def run_argv(tiny: Path, results: Path, *extra: str) -> list[str]:
    return ["run", *map(str, SUBMISSIONS), "--set", str(tiny), "--results", str(results), "--seeds", "2",
            "--jobs", "1", "--no-progress", "--no-site", "--isolation", "process", "--n-boot", "200", *extra]


def stable(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k not in PER_RUN}
    if "integrity" in out:
        out["integrity"] = {k: v for k, v in out["integrity"].items() if k != "probe_flip_rate"}
    return out


def test_select_share_is_a_deterministic_partition():
    paths = [Path(f"root{i % 3}/sub{i:02d}") for i in (7, 3, 11, 0, 5, 9, 1)]
    shares = [select_share(paths, (k, 3)) for k in range(3)]
    assert [[p.name for p in s] for s in shares] == [["sub00", "sub05", "sub11"], ["sub01", "sub07"],
                                                      ["sub03", "sub09"]]
    assert select_share(list(reversed(paths)), (1, 3)) == shares[1]  # the order given does not matter
    assert select_share(paths, (0, 1)) == sorted(paths, key=lambda p: p.name)
    assert select_share(paths[:2], (2, 3)) == []


def test_parse_shard_from_a_ci_matrix_or_slurm():
    assert parse_shard("auto", {"REWARDHEADS_SHARD": "2/4", "SLURM_ARRAY_TASK_COUNT": "9"}) == (2, 4)
    slurm = {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_MIN": "0"}
    assert parse_shard("auto", slurm) == (3, 4)
    assert parse_shard("auto", {"REWARDHEADS_SHARD": ""}) == (0, 1)  # an empty matrix value: the whole
    with pytest.raises(ShardError, match=r"^--shard auto \(REWARDHEADS_SHARD=x\): expected k/n, e\.g\. 0/4$"):
        parse_shard("auto", {"REWARDHEADS_SHARD": "x"})


def write(folder: Path, name: str, record: dict, scores: bytes | None = b"npz") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(record))
    if scores is not None:
        (folder / "raw").mkdir(exist_ok=True)
        (folder / "raw" / f"{name}.npz").write_bytes(scores)


def test_collect_refuses_two_different_records_of_one_submission(tmp_path):
    record = json.loads(repo_path("results", "mini-1", "random.json").read_text())
    write(tmp_path / "a", "random", record)
    write(tmp_path / "b", "random", record)  # the same record twice (e.g. a folder collected again)
    write(tmp_path / "b", "other", {**record, "submission": {**record["submission"], "name": "other"}}, None)
    out = tmp_path / "out"
    write(out, "old", record)
    assert collect([tmp_path / "a", tmp_path / "b"], out) == ["other", "random"]
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == ["old.json", "old.npz", "other.json",
                                                                     "random.json", "random.npz"]
    assert (out / "random.json").read_bytes() == (tmp_path / "a" / "random.json").read_bytes()
    write(tmp_path / "b", "random", record, b"other scores")
    with pytest.raises(ShardError, match=f"^random: different records in {tmp_path / 'a'} and {tmp_path / 'b'} "):
        collect([tmp_path / "a", tmp_path / "b"], out)
    with pytest.raises(ShardError, match="nope: results folder not found"):
        collect([tmp_path / "nope"], out)
    (tmp_path / "a" / "random.json").write_text("{")
    with pytest.raises(Exception, match="random.json: not valid JSON"):
        collect([tmp_path / "a"], out)


def test_two_shards_side_by_side_collect_to_the_unsharded_run(tmp_path, capsys):
    tiny = make_tiny_set(tmp_path / "sets")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "REWARDHEADS_SHARD"}
    shards = [
        subprocess.Popen([sys.executable, "-m", "harness.cli", *run_argv(tiny, tmp_path / "shard0", "--shard", "0/2")],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
        subprocess.Popen([sys.executable, "-m", "harness.cli", *run_argv(tiny, tmp_path / "shard1", "--shard", "auto")],
                         env={**env, "REWARDHEADS_SHARD": "1/2"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True),
    ]
    assert main(run_argv(tiny, tmp_path / "full")) == 1  # raises_in_fit fails; the others are ok
    outputs = [(s.communicate(timeout=300), s.returncode) for s in shards]
    # sorted folder names: bt_linear good_linear length raises_in_fit random
    assert outputs[0][0][0].splitlines()[0] == "shard 0/2: 3 submission(s) in this share"
    assert outputs[1][0][0].splitlines()[0] == "shard 1/2: 2 submission(s) in this share"
    assert [code for _, code in outputs] == [0, 1], [err[-2000:] for (_, err), _ in outputs]
    per_set = "tiny-1"  # records live in one folder per set
    assert sorted(p.stem for p in (tmp_path / "shard0" / per_set).glob("*.json")) == ["bt_linear", "length", "random"]
    assert sorted(p.stem for p in (tmp_path / "shard1" / per_set).glob("*.json")) == ["good_linear", "raises_in_fit"]
    capsys.readouterr()
    assert main(["collect", str(tmp_path / "shard0"), str(tmp_path / "shard1"), "--out", str(tmp_path / "all")]) == 0
    assert capsys.readouterr().out == f"collected 5 record(s) from 2 folder(s) into {tmp_path / 'all'}\n"

    full, merged = tmp_path / "full" / per_set, tmp_path / "all" / per_set
    assert sorted(p.name for p in merged.rglob("*")) == sorted(p.name for p in full.rglob("*"))
    for path in sorted(full.glob("*.json")):
        a, b = json.loads(path.read_text()), json.loads((merged / path.name).read_text())
        assert stable(a) == stable(b), path.stem
        assert a["status"] == ("failed" if path.stem == "raises_in_fit" else "ok")
    for path in sorted((full / "raw").glob("*.npz")):
        with np.load(path) as x, np.load(merged / "raw" / path.name) as y:
            assert x.files == y.files and x.files[:2] == ["seeds", "scores"]
            for key in x.files:
                np.testing.assert_array_equal(x[key], y[key], err_msg=path.stem)

    # the same leaderboard, but for the measured fit times
    def board(folder: Path) -> list[list[str]]:
        assert main(["leaderboard", "--results", str(folder), "--format", "md"]) == 0
        rows = [[c.strip() for c in line.split("|")] for line in capsys.readouterr().out.splitlines()
                if line.startswith("|")]
        fit = rows[0].index("Fit (s)")
        return [row[:fit] + row[fit + 1:] for row in rows]

    assert len(board(full)) == 2 + 4 and board(merged) == board(full)
