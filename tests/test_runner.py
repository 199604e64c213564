"""End to end: `rewardheads run` and `validate` on a tiny real set, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.paths import repo_path
from tests.test_hostile import headline, overall
from tests.tinyset import make_tiny_set

TESTS = Path(__file__).parent / "submissions"
FLOORS = [repo_path("submissions", "random"), repo_path("submissions", "length")]
SET = "tiny-1"  # the tiny set's folder in a results folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_set(tmp_path_factory.mktemp("sets"))


def run_cli(*args: str) -> int:
    return main(["run", *args, "--no-progress", "--isolation", "process", "--n-boot", "200"])


def test_run_floors_and_a_linear_head(tiny, tmp_path, capsys):
    code = run_cli(*map(str, FLOORS), str(TESTS / "good_linear"), "--set", str(tiny),
                   "--results", str(tmp_path), "--seeds", "2")
    out = capsys.readouterr().out
    assert code == 0, out
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / SET).glob("*.json")}
    assert set(records) == {"random", "length", "good_linear"}
    for record in records.values():
        assert record["status"] == "ok" and record["seeds"] == [0, 1]
        assert set(headline(record)["sections"]) == {"Chat", "Chat Hard", "Safety", "Reasoning"}
        lo, hi = overall(record)["ci95"]
        assert lo <= overall(record)["mean"] <= hi
        assert record["set"]["manifest_sha256"] and record["submission"]["sha256"]
    # the tiny set is built so that chosen responses are longer and lie along the learned direction
    assert overall(records["good_linear"])["mean"] > 0.95
    assert overall(records["length"])["mean"] > 0.7
    assert 0.3 < overall(records["random"])["mean"] < 0.7
    assert overall(records["random"])["per_seed"][0] != overall(records["random"])["per_seed"][1]
    assert "good_linear" in out and "Chat Hard" in out  # the summary table


def test_same_seed_gives_bit_identical_scores(tiny, tmp_path):
    raw = []
    for attempt in ("a", "b"):
        assert run_cli(str(FLOORS[0]), str(TESTS / "good_linear"), "--set", str(tiny),
                       "--results", str(tmp_path / attempt), "--seeds", "1") == 0
        raw.append({n: np.load(tmp_path / attempt / SET / "raw" / f"{n}.npz")["scores"]
                    for n in ("random", "good_linear")})
    for name in raw[0]:
        assert np.array_equal(raw[0][name], raw[1][name]), name


def test_rerun_skips_unchanged_unless_forced(tiny, tmp_path, capsys):
    args = [str(TESTS / "good_linear"), "--set", str(tiny), "--results", str(tmp_path), "--seeds", "1"]
    assert run_cli(*args) == 0
    first = (tmp_path / SET / "good_linear.json").read_text()
    capsys.readouterr()
    assert run_cli(*args) == 0
    assert "up to date" in capsys.readouterr().out
    assert (tmp_path / SET / "good_linear.json").read_text() == first
    stale = json.loads(first)
    stale["created"] = "2000-01-01T00:00:00+00:00"  # a marker only a rerun replaces
    (tmp_path / SET / "good_linear.json").write_text(json.dumps(stale))
    assert run_cli(*args) == 0
    assert json.loads((tmp_path / SET / "good_linear.json").read_text())["created"].startswith("2000-")
    assert run_cli(*args, "--force") == 0
    assert not json.loads((tmp_path / SET / "good_linear.json").read_text())["created"].startswith("2000-")


def test_a_failing_head_does_not_stop_the_others(tiny, tmp_path, capsys):
    code = run_cli(str(TESTS / "raises_in_fit"), str(TESTS / "bad_metadata"), str(TESTS / "good_linear"),
                   "--set", str(tiny), "--results", str(tmp_path), "--seeds", "1")
    assert code == 1
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / SET).glob("*.json")}
    assert records["good_linear"]["status"] == "ok"
    assert records["raises_in_fit"]["status"] == "failed"
    assert "fit raised ValueError" in records["raises_in_fit"]["error"]
    assert records["bad_metadata"]["status"] == "failed"
    assert "'version' must be a str" in records["bad_metadata"]["error"]


def test_validate_passes_shipped_and_fails_broken(capsys):
    assert main(["validate", *map(str, FLOORS), str(TESTS / "good_linear"), "--isolation", "process"]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "check_deterministic" in out
    broken = {"returns_nan": "non-finite", "wrong_shape": "shape", "raises_in_fit": "ValueError",
              "opens_socket": "check_imports", "bad_metadata": "check_metadata"}
    for name, word in broken.items():
        assert main(["validate", str(TESTS / name), "--isolation", "process"]) == 1
        fails = [line for line in capsys.readouterr().out.splitlines() if "FAIL " in line]
        assert fails and word in fails[0], (name, fails)


def test_run_on_a_missing_set_is_one_line(tmp_path, capsys):
    assert main(["run", str(TESTS / "good_linear"), "--set", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no such embedding-set folder" in err





def run_seeds(tiny: Path, folders: list[Path], results: Path, seeds: list[int], monkeypatch) -> dict[str, tuple]:
    """``{name: (record, float64 scores per seed)}`` of one run (the scores as the runner hands them over)."""
    from harness import runner
    from harness.embedset import EmbeddingSet

    scores, write = {}, runner.write_raw_scores

    def keep(results, name, seeds, per_seed, *args, **kwargs):
        scores[name] = np.stack(per_seed)
        return write(results, name, seeds, per_seed, *args, **kwargs)

    monkeypatch.setattr(runner, "write_raw_scores", keep)
    options = runner.RunOptions(results=results, seeds=seeds, jobs=2, isolation="process", n_boot=20, progress=False)
    records = runner.Runner(EmbeddingSet.open(tiny), options, log=lambda _: None).run(folders)
    return {r["submission"]["name"]: (r, scores.get(r["submission"]["name"])) for r in records}


def test_one_process_per_head_equals_one_process_per_seed(tiny, tmp_path, monkeypatch):
    """All seeds and variants in one sandboxed process give the scores of one process per seed, bit for bit."""
    folders = [FLOORS[0], TESTS / "readout_linear"]
    names = ["random", "readout_linear@plain", "readout_linear@cubed", "readout_linear@shrunk"]
    together = run_seeds(tiny, folders, tmp_path / "all", [0, 1, 2], monkeypatch)
    assert sorted(together) == sorted(names)
    assert all(r["status"] == "ok" and s.shape[0] == 3 for r, s in together.values()), together
    for seed in range(3):
        alone = run_seeds(tiny, folders, tmp_path / f"seed{seed}", [seed], monkeypatch)
        for name in names:
            assert alone[name][1].dtype == np.float64
            np.testing.assert_array_equal(alone[name][1][0], together[name][1][seed])
    assert not np.array_equal(together["random"][1][0], together["random"][1][1])  # a fresh head per seed
    assert not np.array_equal(together["readout_linear@plain"][1], together["readout_linear@cubed"][1])
    records = {n: together[n][0] for n in names}
    # the head counts its process's fits: 3 seeds x 2 fits (plain and cubed share one), and one process for all
    assert {records[n]["cost"]["params"] for n in names[1:]} == {6}
    assert {alone[n][0]["cost"]["params"] for n in names[1:]} == {2}
    assert records["readout_linear@cubed"]["submission"]["variant"] == "cubed"
    assert records["readout_linear@cubed"]["submission"]["params"] == {"shrink": 0.0, "power": 3.0}
