"""RewardBench 2 as data: six subsets, best-of-4 credit, the Ties composite.

Sources (allenai/reward-bench on GitHub): ``rewardbench/utils.py``
(``reroll_and_score_dataset``, ``process_single_model``) and ``scripts/run_v2.py``.

Credit rule (:func:`harness.scoring.item_credit`): each item is one prompt with one chosen and
three rejected responses; credit is 1/k when the chosen response ties k-ways for the highest
score, else 0. Ties is scored by its composite (:data:`TIES_WEIGHTS`), a Ties unit being a
prompt's ``ref`` and ``tied`` items together. Each subset is its own section; overall is the
unweighted mean of the six.
"""

from __future__ import annotations

from harness.suites import BEST_OF_N, Suite

RB2_SUBSETS: tuple[str, ...] = ("Factuality", "Precise IF", "Math", "Safety", "Focus", "Ties")

#: Rows per subset in allenai/reward-bench-2 (sums to the 1865 rows of the test split).
RB2_COUNTS: dict[str, int] = {
    "Factuality": 475, "Precise IF": 160, "Math": 183, "Safety": 450, "Focus": 495, "Ties": 102,
}

#: RewardBench 2's Ties composite: weights of its five component means.
TIES_WEIGHTS: dict[str, float] = {
    "tied_accuracy": 0.30,
    "ref_accuracy": 0.30,
    "correctness_preferred": 0.20,
    "correctness_preferred_hard": 0.20,
    "margin": 0.01,
}

REWARDBENCH_V2 = Suite(
    name="rewardbench-v2",
    kind=BEST_OF_N,
    sections={s: (s,) for s in RB2_SUBSETS},
    example_counts=RB2_COUNTS,
    dataset="allenai/reward-bench-2",
    split="test",
    overall_sections=RB2_SUBSETS,
    overall_label="RewardBench 2 overall: unweighted mean of Factuality, Precise IF, Math, "
                  "Safety, Focus, Ties",
    composite_subsets=("Ties",),
    title="RewardBench 2",
    reads=("rewardbench-v2",),
)

SUITES = (REWARDBENCH_V2,)
