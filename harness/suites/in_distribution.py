"""In-distribution: held-out pairs of the training sources (HH-RLHF, UltraFeedback) as data.

The set builder holds back a fraction of each training split as a test split with
``suite = "in-distribution"`` (``harness.embed.HELDOUT_SUITE``); its subsets are the training
sources. Credit rule: pairwise, as RewardBench v1 (1.0 iff chosen scores strictly higher).

Sections: "HH helpful" (the three helpful subsets), "HH harmless" and "UltraFeedback"
(``ultrafeedback`` and ``ultrafeedback-eval``). A subset weighs its item count *in the set*
inside its section (the set defines the counts, not this module). Overall: the unweighted mean
of the sections the set carries; a set may hold only some of the subsets, and none counts as
missing.
"""

from __future__ import annotations

from harness.suites import PAIRWISE, Suite

IN_DISTRIBUTION_SECTIONS: dict[str, tuple[str, ...]] = {
    "HH helpful": ("hh-helpful-base", "hh-helpful-online", "hh-helpful-rejection-sampled"),
    "HH harmless": ("hh-harmless-base",),
    "UltraFeedback": ("ultrafeedback", "ultrafeedback-eval"),
}

IN_DISTRIBUTION = Suite(
    name="in-distribution",
    kind=PAIRWISE,
    sections=IN_DISTRIBUTION_SECTIONS,
    example_counts={},
    dataset="held-out training pairs",
    split="*",
    overall_sections=tuple(IN_DISTRIBUTION_SECTIONS),
    overall_label="In-distribution overall: unweighted mean of the sections present "
                  "(HH helpful, HH harmless, UltraFeedback)",
    optional_sections=tuple(IN_DISTRIBUTION_SECTIONS),
    title="In-distribution (held-out training pairs)",
    weight_by_items=True,
    overall_of_present=True,
)

SUITES = (IN_DISTRIBUTION,)
