"""Paired tests on the same items (harness/significance.py) and `rewardheads compare`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.paths import repo_path
from harness.scoring import Credit, paired_bootstrap
from harness.significance import (
    PairwiseMatrix,
    SignificanceError,
    delta_of,
    is_reference,
    paired_delta,
    pairwise,
    pairwise_heatmap_svg,
    replicates,
    tiers,
    versus_leader,
)
from harness.suites import REWARDBENCH_V1, Suite

HOSTILE = '<script>alert("x")</script>&\x1b[31m\u202e evil'


def credit(subsets: dict[str, list[float]]) -> Credit:
    """Plain credit: ``{subset: per-item credit}``, items numbered in that order."""
    sub = np.concatenate([[name] * len(v) for name, v in subsets.items()])
    values = np.concatenate([np.asarray(v, float) for v in subsets.values()])
    counts = {name: len(v) for name, v in subsets.items()}
    return Credit(np.arange(len(values)), sub, values, None, (), counts)


def v1_credit(rng, n: int = 30, p: float = 0.6) -> Credit:
    """Random credit on one subset of each v1 section (Reasoning: math-prm and hep-python)."""
    names = ("alpacaeval-easy", "mt-bench-hard", "donotanswer", "math-prm", "hep-python")
    return credit({s: (rng.random(n) < p).astype(float) for s in names})


# -- the paired bootstrap on synthetic credit --------------------------------------------------
def test_identical_heads_differ_by_nothing():
    a = v1_credit(np.random.default_rng(0))
    result = paired_delta(a, a, REWARDBENCH_V1, n_boot=300)
    assert result.delta == 0.0 and result.ci95 == (0.0, 0.0)
    assert result.p_value == 1.0 and not result.significant
    assert set(result.sections) == {"Chat", "Chat Hard", "Safety", "Reasoning"}
    assert all(d.delta == 0.0 and d.p_value == 1.0 and not d.significant
               for d in result.sections.values())


def test_a_head_better_on_every_item_is_significant():
    a = v1_credit(np.random.default_rng(0), p=2.0)  # every item right
    b = v1_credit(np.random.default_rng(0), p=-1.0)  # every item wrong
    result = paired_delta(a, b, REWARDBENCH_V1, n_boot=300)
    assert result.delta == 1.0 and result.ci95 == (1.0, 1.0) and result.significant
    assert result.p_value == pytest.approx(2 / 301)  # no replicate reached 0: the smallest p
    flipped = paired_delta(b, a, REWARDBENCH_V1, n_boot=300)
    assert flipped.delta == -1.0 and flipped.significant and flipped.p_value == result.p_value


def test_swapping_the_heads_flips_delta_and_ci_and_keeps_p():
    rng = np.random.default_rng(1)
    a, b = v1_credit(rng), v1_credit(rng)
    ab, ba = paired_delta(a, b, n_boot=500), paired_delta(b, a, n_boot=500)
    assert ab.delta == pytest.approx(-ba.delta)
    assert ab.ci95 == pytest.approx((-ba.ci95[1], -ba.ci95[0]))
    assert ab.p_value == pytest.approx(ba.p_value)
    assert ab.significant == (not ab.ci95[0] <= 0 <= ab.ci95[1])
    # the point Δ is the suite's own overall difference (as harness.scoring computes it)
    assert ab.delta == pytest.approx(paired_bootstrap(a, b, None, REWARDBENCH_V1, n_boot=10)["delta"])


def test_the_overall_delta_uses_the_suites_weights():
    # A is right on every math-prm item and wrong elsewhere; B is wrong everywhere. Reasoning
    # weighs math-prm 984 against hep-python 164, and the overall is the mean of four sections,
    # whatever the number of items: a plain mean over items would give 10 / 50 = 0.2.
    names = ("alpacaeval-easy", "mt-bench-hard", "donotanswer", "math-prm", "hep-python")
    a = credit({s: np.full(10, float(s == "math-prm")) for s in names})
    b = credit({s: np.zeros(10) for s in names})
    result = paired_delta(a, b, REWARDBENCH_V1, n_boot=200)
    reasoning = 984 / (984 + 164)
    assert result.sections["Reasoning"].delta == pytest.approx(reasoning)
    assert result.sections["Chat"].delta == 0.0
    assert result.delta == pytest.approx(reasoning / 4)
    # each subset's value is constant under resampling, so every replicate is the same number
    assert result.ci95 == pytest.approx((reasoning / 4, reasoning / 4))


def test_the_bootstrap_keeps_every_subsets_size():
    # one section of two subsets: all-right on "a", all-wrong on "b". Resampling within each
    # subset keeps both subset means, so the section never moves; pooled resampling would.
    suite = Suite(name="two-subsets", kind="pairwise", sections={"S": ("a", "b")},
                  example_counts={"a": 1, "b": 3}, dataset="-", split="-",
                  overall_sections=("S",), overall_label="S")
    head = credit({"a": np.ones(7), "b": np.zeros(13)})
    reps = replicates([head], suite, n_boot=400, seed=3)
    point, boot = reps["Overall"]
    assert point[0] == pytest.approx(0.25)  # weights 1 : 3, not 7 : 13 items
    assert np.all(boot == point[0])


def test_the_p_value_is_two_sided():
    rng = np.random.default_rng(2)
    diff_reps = rng.normal(0.01, 0.01, size=999)  # P(Δ* <= 0) about 0.16
    d = delta_of(0.01, 0.0, diff_reps, np.zeros(999))
    tail = (1 + np.sum(diff_reps <= 0)) / 1000
    assert d.p_value == pytest.approx(2 * tail)
    assert not d.significant  # the CI of N(0.01, 0.01) contains 0


def test_heads_must_be_scored_on_the_same_items():
    a = credit({"alpacaeval-easy": [1, 0, 1]})
    b = credit({"alpacaeval-easy": [1, 0]})
    with pytest.raises(SignificanceError, match="same items"):
        paired_delta(a, b, n_boot=10)


# -- heads from a results folder ---------------------------------------------------------------
def write_head(results: Path, emb_set, name: str, wrong: np.ndarray, *, family: str = "other",
               flat: bool = False) -> dict:
    """Raw scores (2 seeds) that rank each item right unless ``wrong[item]``, and a minimal record."""
    split = emb_set.split("rewardbench")
    item = split.meta["item"].to_numpy()
    chosen = split.labels().astype(bool)
    scores = np.where(chosen != wrong[item], 1.0, 0.0)
    folder = results if flat else results / f"{emb_set.name}-{emb_set.version}"
    (folder / "raw").mkdir(parents=True, exist_ok=True)
    np.savez(folder / "raw" / f"{name}.npz", seeds=np.array([0, 1]),
             scores=np.stack([scores, scores]).astype(np.float32))
    return {"status": "ok", "submission": {"name": name, "family": family}}


@pytest.fixture
def board(tiny_set, tmp_path):
    n = int(tiny_set.split("rewardbench").meta["item"].max()) + 1
    none, one, half = np.zeros(n, bool), np.zeros(n, bool), np.arange(n) % 2 == 0
    one[7] = True
    half_more = half.copy()
    half_more[1] = True
    records = [write_head(tmp_path, tiny_set, "h0", none),
               write_head(tmp_path, tiny_set, "h1", one, flat=True),  # the old flat layout
               write_head(tmp_path, tiny_set, "h2", half),
               write_head(tmp_path, tiny_set, "h3", half_more),
               write_head(tmp_path, tiny_set, "a_ref", none, family="reference")]
    return records, tmp_path


def test_versus_leader_skips_reference_heads(board, tiny_set):
    records, results = board
    vs = versus_leader(records, results, tiny_set, n_boot=300)
    assert list(vs) == ["a_ref", "h0", "h1", "h2", "h3"]  # rank order; the tie sorts by name
    assert all(d.other == "h0" for d in vs.values())  # a perfect reference head does not lead
    assert vs["h0"].delta == 0.0 and vs["h0"].p_value == 1.0 and not vs["h0"].significant
    assert vs["h1"].delta < 0 and not vs["h1"].significant  # one item worse: tied with #1
    assert vs["h2"].significant and vs["h3"].significant
    assert is_reference(records[-1]) and not is_reference(records[0])


def test_tiers_are_greedy_from_the_top(board, tiny_set):
    records, results = board
    assert tiers(records, results, tiny_set, n_boot=300) == {
        "a_ref": None, "h0": 1, "h1": 1, "h2": 2, "h3": 2}


def test_pairwise_matrix_is_antisymmetric(board, tiny_set):
    records, results = board
    m = pairwise(records, results, tiny_set, n_boot=200)
    assert m.names == ["a_ref", "h0", "h1", "h2", "h3"] and m.reference == [True] + [False] * 4
    assert np.allclose(m.delta, -m.delta.T) and np.all(np.diag(m.delta) == 0)
    assert m.significant[1, 3] and not m.significant[1, 2] and not m.significant[0, 1]


def test_failed_records_are_skipped_and_unknown_names_are_one_line(board, tiny_set):
    records, results = board
    failed = {"status": "failed", "submission": {"name": "broken"}}
    assert "broken" not in versus_leader([*records, failed], results, tiny_set, n_boot=50)
    with pytest.raises(SignificanceError, match="unknown head 'nope'"):
        versus_leader(["nope"], results, tiny_set, n_boot=50)


# -- the heat map ------------------------------------------------------------------------------
def test_heatmap_escapes_hostile_names():
    n = 3
    delta = np.array([[0, 0.05, 0.2], [-0.05, 0, 0.15], [-0.2, -0.15, 0]])
    m = PairwiseMatrix([HOSTILE, "bt_linear", "length"], [False, False, True], np.zeros(n), delta,
                       delta - 0.06, delta + 0.06, np.full((n, n), 0.5), "rewardbench-v1", 100)
    svg = pairwise_heatmap_svg(m, label=HOSTILE)
    ET.fromstring(svg)  # well-formed XML: nothing the name holds opened an element
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "\x1b" not in svg and "\u202e" not in svg
    root = ET.fromstring(svg)
    assert root.get("aria-label").startswith('<script>alert("x")')  # escaped, read back as text
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == 6 and titles[0].startswith('<script>alert("x")</script>& evil − bt_linear: +5.0')
    assert "not significantly different" in titles[0] and titles[1].endswith(", significant")
    assert pairwise_heatmap_svg(PairwiseMatrix(["x"], [False], *np.zeros((5, 1, 1)), "s", 1)) is None


# -- `rewardheads compare` on a tiny real run -----------------------------------------------------
@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from tests.tinyset import make_tiny_set

    tiny = make_tiny_set(tmp_path_factory.mktemp("sets"))
    results = tmp_path_factory.mktemp("results")
    heads = [repo_path("submissions", "random"), repo_path("tests", "submissions", "good_linear")]
    with pytest.MonkeyPatch.context() as patch:  # records and raw scores are needed, not run's lines
        patch.setattr("harness.cli.head_report", lambda record, jobs: record["submission"]["name"])
        code = main(["run", *map(str, heads), "--set", str(tiny), "--results", str(results),
                     "--seeds", "2", "--no-progress", "--no-site", "--isolation", "process",
                     "--n-boot", "100"])
    assert code == 0
    return tiny, results


def _overall(results: Path, name: str) -> float:
    path = next(p for p in results.rglob(f"{name}.json"))
    record = json.loads(path.read_text())
    block = record["suites"]["rewardbench-v1"] if "suites" in record else record
    return block["overall"]["mean"]


def test_compare_prints_sections_and_overall(tiny_run, capsys):
    tiny, results = tiny_run
    args = ["--set", str(tiny), "--results", str(results), "--n-boot", "200"]
    assert main(["compare", "good_linear", "random", *args]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("good_linear − random on tiny@1, rewardbench-v1: paired bootstrap "
                               "on the same 200 items (200 resamples")
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in lines[3:8]}
    assert list(rows) == ["Chat", "Chat Hard", "Safety", "Reasoning", "Overall"]
    expected = 100 * (_overall(results, "good_linear") - _overall(results, "random"))
    assert rows["Overall"][0] == f"{expected:+.1f}".replace("-", "−")
    assert rows["Overall"][3] == "yes"
    assert lines[-1].startswith("Overall: RewardBench v1 overall: mean of Chat, Chat Hard")


@pytest.mark.parametrize(("heads", "message"), [
    (["good_linear", "nope"], "unknown head 'nope': no record of it on tiny@1"),
    (["random", "random"], "compare needs two different heads, got 'random' twice"),
])
def test_compare_errors_are_one_line(tiny_run, capsys, heads, message):
    tiny, results = tiny_run
    assert main(["compare", *heads, "--set", str(tiny), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"rewardheads compare: error: {message}")


def test_compare_without_raw_scores_is_one_line(tiny_run, tmp_path, capsys):
    tiny, results = tiny_run
    for record in results.rglob("*.json"):  # the records without their raw/ folder
        target = tmp_path / record.relative_to(results)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(record.read_bytes())
    assert main(["compare", "good_linear", "random", "--set", str(tiny), "--results",
                 str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rewardheads compare: error: no raw scores for 'good_linear' (looked for")
