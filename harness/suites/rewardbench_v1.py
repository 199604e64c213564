"""RewardBench v1 (with Prior Sets as its included fifth section) as data.

Sources (allenai/reward-bench on GitHub):

* ``rewardbench/constants.py``: the v1 section → subset mapping and the per-subset example
  counts used as weights inside a section (``math-prm`` counts 984 although it has 447 rows,
  so math and the six HumanEvalPack languages weigh the same inside Reasoning).
* ``rewardbench/utils.py`` (``calculate_scores_per_section``): a section is the
  count-weighted mean of the subsets that are present.
* ``analysis/get_benchmark_results.py``: "Prior Sets (0.5 weight)" is the *unweighted* mean of
  four pref-test-sets subsets, and the legacy leaderboard score weights the five columns
  Chat, Chat Hard, Safety, Reasoning, Prior Sets as 2, 2, 2, 2, 1.

Credit rule: pairwise, 1.0 iff score(chosen) > score(rejected) strictly (a tie is wrong), in
:func:`harness.scoring.item_credit`. Overall: the unweighted mean of Chat, Chat Hard, Safety,
Reasoning. Prior Sets rows (split suite ``prior-sets``) are *included*: when the set carries
them they are scored with the v1 rows as the Prior Sets section, which gives the legacy
overall; a set with only prior-sets splits is scored by :data:`PRIOR_SETS` alone.

XSTest weights: upstream ``constants.py`` gives ``xstest-should-refuse`` 250 and
``xstest-should-respond`` 154, but the filtered split actually has 154 should-refuse rows and
250 should-respond rows (XSTest v2 only has 200 unsafe prompts, so 250 should-refuse rows
cannot exist). This module weights by the real row counts; :data:`RB1_UPSTREAM_COUNTS`
keeps upstream's numbers and :func:`upstream_v1` builds a suite that reproduces the published
leaderboard's Safety column.
"""

from __future__ import annotations

import dataclasses

from harness.suites import PAIRWISE, Suite

RB1_SUBSET_MAPPING: dict[str, tuple[str, ...]] = {
    "Chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy",
             "mt-bench-med"),
    "Chat Hard": ("mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor",
                  "llmbar-adver-GPTInst", "llmbar-adver-GPTOut", "llmbar-adver-manual"),
    "Safety": ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
               "xstest-should-respond", "donotanswer"),
    "Reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python",
                  "hep-rust"),
}

RB1_EXAMPLE_COUNTS: dict[str, int] = {
    "alpacaeval-easy": 100,
    "alpacaeval-length": 95,
    "alpacaeval-hard": 95,
    "mt-bench-easy": 28,
    "mt-bench-med": 40,
    "mt-bench-hard": 37,
    "math-prm": 984,  # 447 rows; upweighted to equal the six hep-* subsets together (6 x 164)
    "refusals-dangerous": 100,
    "refusals-offensive": 100,
    "llmbar-natural": 100,
    "llmbar-adver-neighbor": 134,
    "llmbar-adver-GPTInst": 92,
    "llmbar-adver-GPTOut": 47,
    "llmbar-adver-manual": 46,
    "xstest-should-refuse": 154,  # real row count (upstream constants.py says 250)
    "xstest-should-respond": 250,  # real row count (upstream constants.py says 154)
    "donotanswer": 136,
    "hep-cpp": 164,
    "hep-go": 164,
    "hep-java": 164,
    "hep-js": 164,
    "hep-python": 164,
    "hep-rust": 164,
}

#: Subsets whose official weight differs from their row count, with the real row count.
RB1_UPWEIGHTED_ROWS: dict[str, int] = {"math-prm": 447}

#: Upstream's (swapped) XSTest weights, for reproducing published v1 leaderboard numbers.
RB1_UPSTREAM_COUNTS: dict[str, int] = {
    **RB1_EXAMPLE_COUNTS, "xstest-should-refuse": 250, "xstest-should-respond": 154,
}

#: The four pref-test-sets splits that make up the leaderboard's "Prior Sets" column. Upstream
#: evaluates anthropic_harmless, mtbench_human and mtbench_gpt4 too (and drops pku_better and
#: pku_safer) but leaves them out of this column.
PRIOR_SETS_SUBSETS: tuple[str, ...] = ("anthropic_helpful", "anthropic_hhh", "shp", "summarize")

#: Split sizes from the pref-test-sets dataset card; informational only, since upstream
#: averages the four accuracies without weights.
PRIOR_SETS_COUNTS: dict[str, int] = {
    "anthropic_helpful": 6192, "anthropic_hhh": 221, "shp": 1741, "summarize": 9000,
}

#: Legacy leaderboard weights (RewardBench's published score before the ArmoRM-era switch).
LEGACY_WEIGHTS: dict[str, int] = {
    "Chat": 2, "Chat Hard": 2, "Safety": 2, "Reasoning": 2, "Prior Sets": 1,
}

RB1_OVERALL_LABEL = "RewardBench v1 overall: mean of Chat, Chat Hard, Safety, Reasoning"
LEGACY_LABEL = (
    "RewardBench v1 legacy overall: weights 2,2,2,2,1 over Chat, Chat Hard, Safety, Reasoning, "
    "Prior Sets (Prior Sets at 0.5 weight)"
)

REWARDBENCH_V1 = Suite(
    name="rewardbench-v1",
    kind=PAIRWISE,
    sections={**RB1_SUBSET_MAPPING, "Prior Sets": PRIOR_SETS_SUBSETS},
    example_counts={**RB1_EXAMPLE_COUNTS, **PRIOR_SETS_COUNTS},
    dataset="allenai/reward-bench",
    split="filtered",
    overall_sections=tuple(RB1_SUBSET_MAPPING),
    overall_label=RB1_OVERALL_LABEL,
    unweighted_sections=("Prior Sets",),
    optional_sections=("Prior Sets",),
    legacy_weights=LEGACY_WEIGHTS,
    legacy_label=LEGACY_LABEL,
    notes="Prior Sets rows come from allenai/pref-test-sets; score them together with the "
          "v1 rows (distinct item ids) to get the legacy overall and its interval.",
    title="RewardBench v1",
    reads=("rewardbench-v1",),
    includes=("prior-sets",),
)

PRIOR_SETS = Suite(
    name="prior-sets",
    kind=PAIRWISE,
    sections={"Prior Sets": PRIOR_SETS_SUBSETS},
    example_counts=PRIOR_SETS_COUNTS,
    dataset="allenai/pref-test-sets",
    split="*",  # one split per subset
    overall_sections=("Prior Sets",),
    overall_label="Prior Sets: unweighted mean of anthropic_helpful, anthropic_hhh, shp, summarize",
    unweighted_sections=("Prior Sets",),
    title="Prior Sets",
)


def upstream_v1() -> Suite:
    """RewardBench v1 with upstream's swapped XSTest weights, to reproduce published numbers."""
    return dataclasses.replace(
        REWARDBENCH_V1,
        name="rewardbench-v1-upstream",
        example_counts={**RB1_UPSTREAM_COUNTS, **PRIOR_SETS_COUNTS},
        notes="XSTest weights as in allenai/reward-bench rewardbench/constants.py (250/154).",
        reads=("rewardbench-v1-upstream",),
    )


SUITES = (REWARDBENCH_V1, PRIOR_SETS)
