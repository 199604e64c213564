"""The first command and the edit-run loop: a fresh run does the work in a workspace, checks itself against
the published board, works from any folder, names the head's own file on failure, and runs variants."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from tests.tinyset import make_tiny_set

HERE = Path(__file__).parent / "submissions"


@pytest.fixture
def project(tmp_path):
    """A project of its own: two submissions and a tiny set, found from any folder below it."""
    root = tmp_path / "proj"
    (root / "submissions").mkdir(parents=True)
    for name in ("good_linear", "scaled_linear"):
        shutil.copytree(HERE / name, root / "submissions" / name)
    make_tiny_set(root / "sets")
    (root / "deep" / "er").mkdir(parents=True)
    return root


def run_cli(args: list[str], cwd: Path, capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    code = main(args)
    out = capsys.readouterr()
    return code, out.out + out.err


def test_first_run_uses_a_workspace_renders_the_site_and_checks_itself(project, capsys, monkeypatch):
    # publish: a run into the project's results/ (what the leaderboard workflow does)
    code, out = run_cli(["run", "--set", "sets/tiny-1", "--results", "results", "--no-progress", "--seeds", "0,"],
                        project, capsys, monkeypatch)
    assert code == 0, out
    published = {str(p.relative_to(project)): p.read_bytes() for p in (project / "results").rglob("*.json")}
    # a newcomer's first command, from a folder deep inside the project, with a relative set path
    code, out = run_cli(["run", "--set", "../../sets/tiny-1", "--no-progress", "--seeds", "0,"],
                        project / "deep" / "er", capsys, monkeypatch)
    assert code == 0, out
    assert (project / "workspace" / "results" / "tiny-1" / "good_linear.json").is_file()  # the set's folder
    assert (project / "workspace" / "site" / "index.html").is_file()
    assert "ok      good_linear: overall" in out and "leaderboard:" in out
    assert "reproduced bit for bit: 2 of 2 published head(s)" in out, out
    assert {str(p.relative_to(project)): p.read_bytes() for p in (project / "results").rglob("*.json")} == published
    # a second run in the same workspace skips unchanged work
    code, out = run_cli(["run", "--set", "sets/tiny-1", "--no-progress", "--seeds", "0,"], project, capsys,
                        monkeypatch)
    assert "up to date" in out


def test_new_and_leaderboard_default_to_the_project(project, capsys, monkeypatch):
    code, _ = run_cli(["new", "mine"], project / "deep", capsys, monkeypatch)
    assert code == 0 and (project / "submissions" / "mine" / "head.py").is_file()
    code, out = run_cli(["--project", str(project), "validate", "submissions/mine", "--isolation", "process"],
                        project, capsys, monkeypatch)
    assert code == 1 and "FAIL check_filled_in" in out and "write one sentence" in out


def test_a_failing_head_points_at_its_own_file_and_line(project, capsys, monkeypatch):
    shutil.copytree(HERE / "raises_in_fit", project / "submissions" / "raises_in_fit")
    shutil.copytree(HERE / "wants_cuda", project / "submissions" / "wants_cuda")
    code, out = run_cli(["run", "submissions/raises_in_fit", "submissions/wants_cuda", "--set", "sets/tiny-1",
                         "--no-progress", "--no-site"], project, capsys, monkeypatch)
    assert code == 1
    assert "submissions/raises_in_fit/head.py:10" in out and "/submission/" not in out
    assert "raise ValueError('this head always fails to fit')" in out  # the head's own source line
    assert "heads run on the CPU" in out
    assert "Traceback (most recent call last)" not in out


def test_param_and_grid_run_recorded_variants(project, capsys, monkeypatch):
    code, out = run_cli(["run", "submissions/scaled_linear", "--grid", "scale=0.5,2", "--param", "unused=1",
                         "--set", "sets/tiny-1", "--no-progress", "--no-site", "--seeds", "0,"],
                        project, capsys, monkeypatch)
    assert code == 1  # `unused` does not fit Head(): each variant fails with one line naming the params
    assert "do not fit Head()" in out
    code, out = run_cli(["run", "submissions/scaled_linear", "--grid", "scale=0.5,2", "--set", "sets/tiny-1",
                         "--no-progress", "--no-site", "--seeds", "0,"], project, capsys, monkeypatch)
    assert code == 0, out
    results = project / "workspace" / "results" / "tiny-1"
    for value in (0.5, 2):
        record = json.loads((results / f"scaled_linear@scale={value}.json").read_text())
        assert record["submission"]["params"] == {"scale": value}
        assert record["submission"]["overrides"] == {"scale": value}
        assert record["submission"]["variant_of"] == "scaled_linear"
    # changing [params] without a version bump is warned about
    toml = project / "submissions" / "scaled_linear" / "submission.toml"
    code, out = run_cli(["run", "submissions/scaled_linear", "--set", "sets/tiny-1", "--no-progress", "--no-site",
                         "--seeds", "0,"], project, capsys, monkeypatch)
    toml.write_text(toml.read_text().replace("scale = 1.0", "scale = 3.0"))
    code, out = run_cli(["run", "submissions/scaled_linear", "--set", "sets/tiny-1", "--no-progress", "--no-site",
                         "--seeds", "0,"], project, capsys, monkeypatch)
    assert "bump `version`" in out


def test_a_closed_pipe_ends_quietly(tmp_path):
    proc = subprocess.run(f"{sys.executable} -m harness.cli leaderboard --format md | head -c 10",
                          shell=True, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr
