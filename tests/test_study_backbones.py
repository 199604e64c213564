"""`rewardheads study backbones` on two tiny sets holding the same texts under two "backbones"."""

from __future__ import annotations

import numpy as np
import pytest

from harness.cli import main
from harness.embedset import EmbeddingSet
from harness.paths import repo_path
from harness.runner import Runner, RunOptions
from harness.study_backbones import StudyError, check_same_texts, compare_suite, kendall_tau, summary
from tests.tinyset import make_tiny_set

HEADS = ("bt_linear", "knn", "gbt", "length")


@pytest.fixture(scope="module")
def two_backbones(tmp_path_factory):
    root = tmp_path_factory.mktemp("backbones")
    # the same seed draws the same rows in the same order; the noise makes the second backbone worse
    first = EmbeddingSet.open(make_tiny_set(root / "sets", name="aa", n_train=200, n_items=120, noise=0.3))
    second = EmbeddingSet.open(make_tiny_set(root / "sets", name="bb", n_train=200, n_items=120, noise=1.5))
    results = root / "results"
    for emb_set in (first, second):
        records = Runner(emb_set, RunOptions(results=results, seeds=[0], jobs=2, isolation="process",
                                             progress=False)).run([repo_path("submissions", h) for h in HEADS])
        assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    return first, second, results


def test_kendall_tau_of_known_rankings():
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    assert kendall_tau(np.array([1, 2, 3]), np.array([5, 5, 5])) == 0.0  # no ranking at all


def test_study_pairs_items_and_reports_tau_and_shifts(two_backbones, tmp_path):
    first, second, results = two_backbones
    levels = compare_suite(first, second, results, "rewardbench-v1", n_boot=200)
    overall = levels[0]
    assert overall.level == "Overall" and overall.tau is not None
    lo, hi = overall.tau.ci95
    assert -1 <= lo <= hi <= 1
    by_name = {h.name: h for h in overall.heads}
    assert by_name["length"].reference and by_name["length"].rank_first is None
    # the length head reads token counts only, which both sets share: no shift at all
    assert by_name["length"].delta.delta == 0 and by_name["length"].delta.ci95 == (0.0, 0.0)
    # more noise on the second backbone: the linear head loses, significantly
    shift = by_name["bt_linear"].delta
    assert shift.delta < 0 and shift.ci95[1] < 0
    assert sorted(h.rank_first for h in overall.heads if not h.reference) == [1, 2, 3]
    # a set against itself: identical rankings in every replicate
    same = compare_suite(first, first, results, "rewardbench-v1", n_boot=50)[0]
    assert same.tau.tau == pytest.approx(1.0) and same.tau.ci95 == (pytest.approx(1.0), pytest.approx(1.0))


def test_study_command_writes_report_and_plot(two_backbones, tmp_path, capsys):
    first, second, results = two_backbones
    code = main(["study", "backbones", "--sets", str(first.path), str(second.path), "--results", str(results),
                 "--out", str(tmp_path / "docs"), "--n-boot", "100"])
    assert code == 0
    text = (tmp_path / "docs" / "backbone-study.md").read_text()
    png = (tmp_path / "docs" / "backbone-study.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Kendall τ" in text and "| `bt_linear` |" in text and "(reference)" in text
    assert f"`{first.ref}`" in text and "rewardheads study backbones" in text
    assert "τ = " in text


def test_sets_with_other_texts_are_refused(two_backbones, tmp_path):
    first, _, results = two_backbones
    other = EmbeddingSet.open(make_tiny_set(tmp_path / "sets", name="cc", seed=5, n_train=50, n_items=120))
    with pytest.raises(StudyError, match="differs in its rows"):
        check_same_texts(first, other)
    with pytest.raises(StudyError, match="fewer than two heads have ok results on both"):
        compare_suite(first, other, results, "rewardbench-v1")


def test_summary_is_plain_numbers(two_backbones):
    first, second, results = two_backbones
    levels = compare_suite(first, second, results, "rewardbench-v1", n_boot=50)
    numbers = summary({"rewardbench-v1": levels})["rewardbench-v1"]["Overall"]
    assert len(numbers) == 3 and all(isinstance(x, float) for x in numbers)
