"""The label control's pieces: the mirrored training splits, the verdict, the published board's rule.

The end-to-end case (an honest head flips, a head that brings test knowledge fails, a reference
head is recorded) is ``tests/test_hostile.py::test_the_label_control_catches_a_head_that_brings_test_knowledge``.
"""

from __future__ import annotations

import stat

import numpy as np
import pytest

from harness.control import MAX_BIAS, control_verdict, write_control_splits
from harness.embedset import EmbeddingSet, meta_table, pair_arrays
from harness.evaluation import ScoringMatrix, score_fields
from harness.leaderboard import LeaderboardError, refuse_unsandboxed
from tests.test_leaderboard import make_record
from tests.tinyset import make_tiny_set


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return EmbeddingSet.open(make_tiny_set(tmp_path_factory.mktemp("sets")))


def test_the_control_splits_mirror_every_pair_and_what_travels_with_it(tiny, tmp_path):
    originals = [tiny.path / s for s in tiny.train_splits()]
    copies = write_control_splits(originals, tmp_path / "control")
    assert [c.name for c in copies] == [o.name for o in originals]  # a split's name is its source
    for original, copy in zip(originals, copies, strict=True):
        before, after = pair_arrays(original), pair_arrays(copy)
        assert np.array_equal(after["chosen"], before["rejected"])
        assert np.array_equal(after["rejected"], before["chosen"])
        assert np.array_equal(after["prompt"], before["prompt"]) and after["chosen"].dtype == before["chosen"].dtype
        old, new = meta_table(original).to_pandas(), meta_table(copy).to_pandas()
        assert list(new.columns) == list(old.columns)
        assert new["chosen_tokens"].tolist() == old["rejected_tokens"].tolist()
        assert new["rating_chosen:overall"].equals(old["rating_rejected:overall"])
        assert new["id"].tolist() == old["id"].tolist()  # what is not one side's stays as it was
        for path in (copy, *copy.iterdir()):
            assert path.stat().st_mode & stat.S_IROTH  # the worker's own uid reads it
    assert meta_table(originals[0]).to_pandas()["chosen_tokens"].tolist() == \
        tiny.split(tiny.train_splits()[0]).meta["chosen_tokens"].tolist()  # the set is untouched


def _verdict(tiny, real: np.ndarray, mirrored: np.ndarray, reference: bool = False):
    matrix = ScoringMatrix.of(tiny)
    suites = score_fields(matrix, [real], 1)["suites"]
    return control_verdict(matrix, suites, [mirrored], reference)


def test_an_honest_flip_has_no_bias_and_what_does_not_flip_fails(tiny):
    response = np.asarray(ScoringMatrix.of(tiny).arrays()["response"], np.float64)
    train = pair_arrays(tiny.path / tiny.train_splits()[0])
    learned = response @ np.mean(np.asarray(train["chosen"], np.float64) - train["rejected"], axis=0)
    block, error = _verdict(tiny, learned, -learned)
    rb = block["suites"]["rewardbench-v1"]
    assert error is None and rb["bias"] == pytest.approx(0, abs=1e-9) and block["limit"] == MAX_BIAS
    assert rb["overall"] + rb["mirrored"] == pytest.approx(1)
    block, error = _verdict(tiny, learned, learned)  # scores that ignore the labels
    bias = block["suites"]["rewardbench-v1"]["bias"]
    assert bias == pytest.approx(2 * block["suites"]["rewardbench-v1"]["overall"] - 1) and bias > 0.8
    assert error.startswith("label control: ") and f"{50 * bias:.1f} points" in error and "\n" not in error
    block, error = _verdict(tiny, learned, learned, reference=True)
    assert error is None and block["suites"]["rewardbench-v1"]["bias"] == pytest.approx(bias)


def test_the_published_board_takes_only_sandboxed_and_controlled_results():
    controlled = {**make_record("a", 0.6), "integrity": {"label_control": {"suites": {}}}}
    refuse_unsandboxed([controlled])
    with pytest.raises(LeaderboardError, match="without the label control"):
        refuse_unsandboxed([controlled, make_record("b", 0.5)])
    with pytest.raises(LeaderboardError, match="not computed under bubblewrap"):
        refuse_unsandboxed([{**controlled, "isolation": "process"}])
    refuse_unsandboxed([make_record("c", 0.5, status="failed", error="x")])  # failed rows carry no scores
