"""The notebook API: the README's example runs as written; evaluate/compare agree with the sandboxed run."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

import harness
from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.runner import Runner, RunOptions
from tests.tinyset import make_tiny_set

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).parent / "submissions"


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## In a notebook", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_notebook_example_runs(monkeypatch):
    if not (ROOT / "sets" / "mini-1").is_dir():
        pytest.fail("the bundled set sets/mini-1 is missing")
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(readme_example(), "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    printed = out.getvalue()
    assert "Overall" in printed and "Chat Hard" in printed and "delta" in printed


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return EmbeddingSet.open(make_tiny_set(tmp_path_factory.mktemp("sets")))


def test_evaluate_in_process_matches_the_sandboxed_run(tiny, tmp_path):
    table = harness.evaluate(HERE / "good_linear", set=tiny, seeds=(0, 1), n_boot=50)
    assert table.attrs["isolation"].startswith("in-process")
    assert set(table.level) == {"subset", "section", "overall"}
    overall = table[table.level == "overall"].iloc[0]
    record = Runner(tiny, RunOptions(results=tmp_path, seeds=[0, 1], n_boot=50, progress=False),
                    log=lambda _: None).run([HERE / "good_linear"])[0]
    assert overall["mean"] == pytest.approx(record["overall"]["mean"], abs=1e-12)
    assert overall["ci_low"] <= overall["mean"] <= overall["ci_high"]
    sandboxed = harness.evaluate(HERE / "good_linear", set=tiny, seeds=(0,), sandbox=True, n_boot=50)
    assert sandboxed.attrs["isolation"] in ("bwrap", "process")


def test_evaluate_takes_classes_instances_and_factories(tiny):
    class Mean:
        def fit(self, train, *, seed):
            self.w_ = (train.chosen - train.rejected).mean(axis=0)

        def score(self, batch):
            return batch.response.astype(np.float64) @ self.w_

    means = [harness.evaluate(h, set=tiny, seeds=(0,), n_boot=20).query("level == 'overall'")["mean"].item()
             for h in (Mean, Mean(), lambda: Mean())]
    assert means[0] == means[1] == means[2] > 0.9
    with pytest.raises(HarnessError, match="expected a submission folder"):
        harness.evaluate(42, set=tiny)


def test_compare_is_a_paired_test(tiny):
    table = harness.compare(HERE / "good_linear", ROOT / "submissions" / "random", set=tiny, seeds=(0,))
    overall = table[table.name == "Overall"].iloc[0]
    assert overall["delta"] > 0.2 and overall["ci_low"] > 0 and overall["p_value"] < 0.01
    same = harness.compare(HERE / "good_linear", HERE / "good_linear", set=tiny, seeds=(0,))
    assert same[same.name == "Overall"]["delta"].item() == 0
