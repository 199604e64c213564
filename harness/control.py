"""The label control: every head is fitted a second time on its training pairs with every
preference reversed, and must then prefer the opposite responses.

A head's score must come from what it learns from the training split in that run. Nothing in a
sandbox stops a head from carrying knowledge of the public test suites in its source: a linear
direction fitted on RewardBench's public labels is 576 numbers (one byte each, quantised) and
scores 80.9 on ``mini@2``, 23 points above every honest head, and the perturbation probe catches
only exact lookups. The control makes such knowledge visible by its effect:

* the runner starts a second sandboxed process per job, identical to the real one (same seeds,
  variants, limits, freshly drawn score calls), whose training split folders are copies of the
  real ones with *chosen* and *rejected* exchanged on every pair (token counts and ratings travel
  with their rows);
* on a pairwise suite, a head that learns its preference from the labels then prefers the other
  response of each pair, so its two accuracies add up to 1 (exactly, for a deterministic fit
  such as a logistic regression; up to seed noise for a network). What does not flip with the
  labels, ``bias = accuracy + mirrored accuracy - 1``, is twice what the head scores from
  something other than its training labels. A head that is not a reference head fails when the
  bias exceeds :data:`MAX_BIAS` on any pairwise suite. (A head that scores from what it brought
  along scores the same in both processes: a bias of twice its gain over chance.)

A reference head (family ``reference``: ``length``, ``random``) encodes a fixed prior on purpose;
its control is recorded but never fails it, and reference rows are not ranked. Best-of-N suites
have no such identity: their mirrored score is recorded, not judged. The control runs in its own
process, so a head cannot compare the two trainings; a head that tells them apart from public
knowledge (for example which side of a pair tends to be longer) and behaves differently needs
code a reviewer sees (SECURITY.md, residual risks).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import META_FILE, RATING_PREFIX, meta_table, pair_arrays
from harness.evaluation import ScoringMatrix, score_fields, set_suites
from harness.suites import PAIRWISE

MAX_BIAS = 0.06  # the shipped baselines stay within ±0.03 on the bundled sets (SECURITY.md)
CONTROL_BOOT = 1  # the control's overall is a point estimate; no CI is needed
DESCRIPTION = "chosen and rejected exchanged on every training pair"


def swapped_columns(names: list[str]) -> dict[str, str]:
    """Meta columns that belong to one side of a pair, each mapped to its counterpart."""
    pairs = [("chosen_tokens", "rejected_tokens")]
    pairs += [(c, RATING_PREFIX[1] + c[len(RATING_PREFIX[0]):]) for c in names if c.startswith(RATING_PREFIX[0])]
    out = {}
    for a, b in pairs:
        if a in names and b in names:
            out[a], out[b] = b, a
    return out


def write_control_splits(train: list[Path], folder: Path) -> list[Path]:
    """Copies of the training split folders under ``folder`` with chosen and rejected exchanged on
    every pair; the copies keep the originals' folder names (a split's name is its source) and
    are readable by the worker's uid."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = []
    for i, split in enumerate(train):
        dest = folder / str(i) / split.name
        dest.mkdir(parents=True)
        arrays = pair_arrays(split)
        for stem, source in (("chosen", "rejected"), ("rejected", "chosen"), ("prompt", "prompt")):
            np.save(dest / f"{stem}.npy", np.asarray(arrays[source]), allow_pickle=False)
        table = meta_table(split)
        swap = swapped_columns(table.column_names)
        pq.write_table(pa.table([table.column(swap.get(name, name)) for name in table.column_names],
                                names=table.column_names), dest / META_FILE)
        out.append(dest)
    for path in [folder, *folder.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return out


def control_verdict(matrix: ScoringMatrix, suites: dict[str, dict[str, Any]], mirrored: list[np.ndarray],
                    reference: bool) -> tuple[dict[str, Any], str | None]:
    """``(integrity block, error or None)`` from the real run's suite blocks and the control's
    per-seed scores (seed-averaged overalls; the bias only for pairwise suites)."""
    blocks = score_fields(matrix, mirrored, CONTROL_BOOT)["suites"]
    pairwise = {s.name for s in set_suites(matrix) if getattr(s, "kind", None) == PAIRWISE}
    judged = {}
    for name, block in blocks.items():
        real, flipped = float(suites[name]["overall"]["mean"]), float(block["overall"]["mean"])
        judged[name] = {"overall": round(real, 6), "mirrored": round(flipped, 6)}
        if name in pairwise:
            judged[name]["bias"] = round(real + flipped - 1, 6)
    out = {"labels": DESCRIPTION, "limit": MAX_BIAS, "suites": judged}
    over = [name for name, v in judged.items() if v.get("bias", 0.0) > MAX_BIAS]
    if reference or not over:
        return out, None
    v = judged[over[0]]
    return out, (f"label control: fitted on the same pairs with every preference reversed, it still scores "
                 f"{100 * v['mirrored']:.1f} on {over[0]} ({100 * v['overall']:.1f} with the true labels; a head "
                 f"that learns from them flips to {100 * (1 - v['overall']):.1f}): {50 * v['bias']:.1f} points of "
                 "its score do not come from its training labels (a head may not bring knowledge of a test "
                 f"suite with it; limit {50 * MAX_BIAS:.0f})")
