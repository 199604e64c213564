"""RewardBench definitions in harness.suites: counts, mappings, registry."""

import dataclasses
import json

import numpy as np
import pytest

from harness.errors import HarnessError
from harness.suites import (
    PRIOR_SETS,
    RB1_EXAMPLE_COUNTS,
    RB1_SUBSET_MAPPING,
    RB1_UPWEIGHTED_ROWS,
    REWARDBENCH_V1,
    REWARDBENCH_V2,
    SUITES,
    TIES_WEIGHTS,
    Suite,
    SuiteBase,
    SuiteColumn,
    Units,
    get_suite,
    upstream_v1,
)


def test_registry_and_lookup():
    assert {"rewardbench-v1", "prior-sets", "rewardbench-v2", "in-distribution"} <= set(SUITES)
    assert get_suite("rewardbench-v2") is REWARDBENCH_V2
    assert get_suite(PRIOR_SETS) is PRIOR_SETS


def test_unknown_suite_is_a_one_line_harness_error():
    with pytest.raises(HarnessError) as err:
        get_suite("rewardbench-v3")
    message = str(err.value)
    assert "rewardbench-v3" in message and "rewardbench-v1" in message
    assert "\n" not in message


def test_v1_sections_and_official_weights():
    assert REWARDBENCH_V1.kind == "pairwise"
    assert REWARDBENCH_V1.dataset == "allenai/reward-bench" and REWARDBENCH_V1.split == "filtered"
    assert REWARDBENCH_V1.overall_sections == ("Chat", "Chat Hard", "Safety", "Reasoning")
    assert len(REWARDBENCH_V1.subsets) == 23 + 4
    counts = REWARDBENCH_V1.example_counts
    assert counts["math-prm"] == 984 and RB1_UPWEIGHTED_ROWS == {"math-prm": 447}
    assert counts["xstest-should-refuse"] == 154 and counts["xstest-should-respond"] == 250
    assert all(counts[f"hep-{lang}"] == 164 for lang in ("cpp", "go", "java", "js", "python",
                                                          "rust"))
    # math-prm weighs exactly as much as the six code subsets together
    code = sum(counts[s] for s in RB1_SUBSET_MAPPING["Reasoning"] if s.startswith("hep-"))
    assert code == counts["math-prm"]
    # with the real math-prm row count, the counts add up to the 2985 rows of the filtered split
    rows = sum(RB1_UPWEIGHTED_ROWS.get(s, n) for s, n in RB1_EXAMPLE_COUNTS.items())
    assert rows == 2985
    assert REWARDBENCH_V1.section_of("donotanswer") == "Safety"
    assert REWARDBENCH_V1.section_of("not-a-subset") is None


def test_prior_sets_and_legacy_weights():
    assert PRIOR_SETS.sections["Prior Sets"] == ("anthropic_helpful", "anthropic_hhh", "shp",
                                                 "summarize")
    assert PRIOR_SETS.weight("summarize") == 1.0  # upstream averages Prior Sets unweighted
    assert REWARDBENCH_V1.weight("summarize") == 1.0
    assert REWARDBENCH_V1.weight("hep-go") == 164.0
    assert list(REWARDBENCH_V1.legacy_weights.items()) == [
        ("Chat", 2), ("Chat Hard", 2), ("Safety", 2), ("Reasoning", 2), ("Prior Sets", 1)]
    assert "Prior Sets" in REWARDBENCH_V1.optional_sections


def test_v2_definition():
    assert REWARDBENCH_V2.kind == "best_of_n"
    assert tuple(REWARDBENCH_V2.sections) == ("Factuality", "Precise IF", "Math", "Safety",
                                              "Focus", "Ties")
    assert all(subs == (name,) for name, subs in REWARDBENCH_V2.sections.items())
    assert sum(REWARDBENCH_V2.example_counts.values()) == 1865
    assert REWARDBENCH_V2.composite_subsets == ("Ties",)
    assert list(TIES_WEIGHTS.values()) == [0.30, 0.30, 0.20, 0.20, 0.01]


def test_upstream_variant_swaps_xstest_only():
    up = upstream_v1()
    assert up.example_counts["xstest-should-refuse"] == 250
    assert up.example_counts["xstest-should-respond"] == 154
    diff = {s for s in up.example_counts
            if up.example_counts[s] != REWARDBENCH_V1.example_counts[s]}
    assert diff == {"xstest-should-refuse", "xstest-should-respond"}
    assert up.section_of("hep-go") == "Reasoning"  # the lookup table is rebuilt


def test_suites_are_immutable_and_json_describable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        REWARDBENCH_V1.name = "x"
    with pytest.raises(TypeError):
        REWARDBENCH_V1.example_counts["math-prm"] = 447
    described = json.loads(json.dumps(REWARDBENCH_V1.to_dict()))
    assert described["sections"]["Reasoning"][0] == "math-prm"


def test_suite_validation():
    with pytest.raises(HarnessError, match="no example count"):
        Suite("s", "pairwise", {"A": ("a",)}, {}, "d", "t", ("A",), "label")
    with pytest.raises(HarnessError, match="unknown section"):
        Suite("s", "pairwise", {"A": ("a",)}, {"a": 1}, "d", "t", ("B",), "label")
    with pytest.raises(HarnessError, match="kind"):
        Suite("s", "ranked", {"A": ("a",)}, {"a": 1}, "d", "t", ("A",), "label")


# -- the plug-in interface -----------------------------------------------------------------------
def test_suites_for_reads_and_includes():
    from harness.suites import suites_for

    names = lambda kinds: [s.name for s in suites_for(kinds)]  # noqa: E731
    assert names(["rewardbench-v1", "prior-sets"]) == ["rewardbench-v1"]  # prior sets: included
    assert names(["prior-sets"]) == ["prior-sets"]  # alone, scored on their own
    assert names(["rewardbench-v2"]) == ["rewardbench-v2"]
    assert names(["rewardbench-v1", "rewardbench-v2", "in-distribution"]) == [
        "rewardbench-v1", "rewardbench-v2", "in-distribution"]
    assert names(["something-else"]) == []
    assert REWARDBENCH_V1.includes == ("prior-sets",) and REWARDBENCH_V2.reads == ("rewardbench-v2",)


class PromptMetrics(SuiteBase):
    """A toy suite whose units are prompts and whose "sections" are metrics (like golden reward)."""

    name, title, reads = "toy-metrics", "Toy metrics", ("toy",)
    overall_label = "fraction of the best possible top-1 hit rate"
    section_names = ("Top-1 hit", "Mean margin")

    def credit(self, parts):
        ids, values = [], []
        for part in parts:
            meta, labels = part.split.meta, part.split.labels()
            for item in np.unique(meta["item"]):
                rows = np.flatnonzero(meta["item"].to_numpy() == item)
                s = part.scores[rows]
                hit = float(labels[rows][np.argmax(s)])
                ids.append(f"{part.split.name}:{item}")
                values.append([hit, float(s[labels[rows]].mean() - s[~labels[rows]].mean())])
        ids = np.array(ids)
        return Units(ids, np.full(len(ids), "all"), np.array(values))

    def summarise(self, per_seed, averaged, n_boot):
        from harness.scoring import seed_summary

        hit = seed_summary([u.values[:, 0].mean() for u in per_seed])
        margin = seed_summary([u.values[:, 1].mean() for u in per_seed])
        return {"label": self.title, "subsets": {}, "missing_subsets": [],
                "sections": {"Top-1 hit": hit, "Mean margin": margin},
                "overall": {**hit, "label": self.overall_label}}

    def columns(self):
        return (SuiteColumn("overall", "Overall", "overall", ci=True),
                SuiteColumn("s:hit", "Top-1 hit", "section", "Top-1 hit"),
                SuiteColumn("s:margin", "Mean margin", "section", "Mean margin", fmt="num"))


def test_a_prompt_metric_suite_plugs_in(tmp_path, monkeypatch):
    from fixtures_data import write_synthetic_set

    from harness import suites
    from harness.embedset import EmbeddingSet
    from harness.evaluation import ScoringMatrix, score_fields, write_raw_scores
    from harness.leaderboard import build_groups
    from harness.results import validate_record

    monkeypatch.setitem(suites.SUITES, "toy-metrics", PromptMetrics())
    path = write_synthetic_set(tmp_path, suite="toy", test_split="toy", responses_per_item=4, test_items=10)
    matrix = ScoringMatrix.of(EmbeddingSet.open(path))
    split = matrix.splits[0][0]
    perfect = split.labels().astype(float)
    fields = score_fields(matrix, [perfect, perfect * 2], n_boot=10)
    assert fields["suite"] == "toy-metrics"
    block = fields["suites"]["toy-metrics"]
    assert block["overall"]["mean"] == 1.0 and block["sections"]["Mean margin"]["per_seed"] == [1.0, 2.0]
    raw = write_raw_scores(tmp_path / "results", "perfect", [0, 1], [perfect, perfect * 2], matrix)
    with np.load(raw) as data:
        assert data["toy-metrics:credit"].shape == (10, 2)
        assert data["toy-metrics:credit"][:, 1].tolist() == [1.5] * 10  # the seed-averaged margin
    record = {"schema": 2, "submission": {"name": "perfect"},
              "set": {"name": "tiny", "version": "1", "manifest_sha256": "ab"}, "harness": "0.1.0",
              "seeds": [0, 1], "status": "ok", "error": None, "isolation": "bwrap",
              "created": "2026-12-01T00:00:00+00:00", "command": "", **fields}
    (g,) = build_groups([validate_record(record)])
    assert [c.label for c in g.columns][3:7] == ["Family", "Overall", "Top-1 hit", "Mean margin"]
    assert g.columns[6].text(g.rows[0]) == "1.5"
