"""From per-row scores to a record's score fields: the test rows of a set, per-suite credit and summaries.

:class:`ScoringMatrix` is what a head is scored on (every test split of the set, in the set's
order); :func:`score_fields` turns each seed's clean scores into the record's score blocks;
:func:`write_raw_scores` keeps the per-row scores next to the records for later analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet, TestSplit
from harness.errors import HarnessError
from harness.fileio import atomic_write
from harness.scoring import bootstrap_credit, item_credit, mean_credit, score_credit, seed_summary

PRIMARY_SUITE = "rewardbench-v1"
TEST_ARRAYS = ("response", "prompt", "response_tokens", "prompt_tokens")


@dataclass
class ScoringMatrix:
    """Every test split of a set, concatenated in the set's order (rows of the raw score files)."""

    splits: list[tuple[TestSplit, slice]] = field(default_factory=list)

    @classmethod
    def of(cls, emb_set: EmbeddingSet) -> ScoringMatrix:
        """The test splits and their row ranges, without reading any array."""
        splits, offset = [], 0
        for name in emb_set.test_splits():
            split = emb_set.split(name)
            splits.append((split, slice(offset, offset + len(split))))
            offset += len(split)
        if not splits:
            raise HarnessError(f"{emb_set.path}: the set has no test split to score on")
        return cls(splits)

    def __len__(self) -> int:
        return self.splits[-1][1].stop

    def arrays(self) -> dict[str, np.ndarray]:
        """The unlabelled test arrays a head may see (embeddings in their stored dtype, token counts)."""
        return {
            "response": np.concatenate([np.asarray(split.response) for split, _ in self.splits]),
            "prompt": np.concatenate([np.asarray(split.prompt) for split, _ in self.splits]),
            "response_tokens": np.concatenate([split.meta["response_tokens"].to_numpy(np.int64)
                                               for split, _ in self.splits]),
            "prompt_tokens": np.concatenate([split.meta["prompt_tokens"].to_numpy(np.int64)
                                             for split, _ in self.splits]),
        }

    def items(self) -> np.ndarray:
        """A global item id per row (a pair, or a best-of-4 group), unique across splits."""
        parts, offset = [], 0
        for split, _ in self.splits:
            item = split.meta["item"].to_numpy(np.int64)
            parts.append(item + offset)
            offset += int(item.max()) + 1 if len(item) else 0
        return np.concatenate(parts)


def _credit_by_suite(matrix: ScoringMatrix, scores: np.ndarray) -> dict[str, Any]:
    """Per-suite credit; prior sets join the v1 suite as its Prior Sets section."""
    grouped: dict[str, list] = {}
    for split, rows in matrix.splits:
        suite = PRIMARY_SUITE if split.suite == "prior-sets" else split.suite
        grouped.setdefault(suite, []).append((split, scores[rows]))
    credits = {}
    for suite, parts in grouped.items():
        item_offset, cols = 0, {"scores": [], "item": [], "chosen": [], "subset": [], "ids": []}
        for split, s in parts:
            meta = split.meta
            cols["scores"].append(s)
            cols["item"].append(meta["item"].to_numpy(np.int64) + item_offset)
            cols["chosen"].append(split.labels())
            cols["subset"].append(meta["subset"].to_numpy(str))
            cols["ids"].append(meta["id"].astype(str).to_numpy())
            item_offset += int(meta["item"].max()) + 1
        c = {k: np.concatenate(v) for k, v in cols.items()}
        credits[suite] = item_credit(c["scores"], c["item"], c["chosen"], c["subset"], suite, ids=c["ids"])
    return credits


def summarise(per_seed_credit: list[dict[str, Any]], suite: str, n_boot: int) -> dict[str, Any]:
    """Subset/section/overall means over seeds, with a bootstrap CI of the seed-averaged credit."""
    per_seed = [score_credit(c[suite], None, suite) for c in per_seed_credit]
    averaged = mean_credit([c[suite] for c in per_seed_credit])
    boot = bootstrap_credit(averaged, None, suite, n_boot=n_boot)

    def block(values: list[float | None], ci: dict | None) -> dict[str, Any] | None:
        if any(v is None for v in values):
            return None
        out = seed_summary(values)
        if ci is not None:
            out["ci95"] = ci.get("ci95")
        return out

    subsets = {}
    for name in per_seed[0]["subsets"]:
        summary = block([p["subsets"][name] for p in per_seed], boot["subsets"].get(name))
        if summary is not None:
            subsets[name] = {**summary, "n": per_seed[0]["subset_counts"].get(name)}
    sections = {
        name: block([p["sections"][name] for p in per_seed], boot["sections"].get(name))
        for name in per_seed[0]["sections"]
    }
    result = {
        "suite": suite,
        "subsets": subsets,
        "sections": {k: v for k, v in sections.items() if v is not None},
        "missing_subsets": per_seed[0]["missing_subsets"],
    }
    overall = block([p["overall"] for p in per_seed], boot["overall"])
    if overall is not None:
        result["overall"] = {**overall, "label": per_seed[0]["overall_label"]}
    if "legacy_overall" in per_seed[0]:
        legacy = block([p.get("legacy_overall") for p in per_seed], boot.get("legacy_overall"))
        if legacy is not None:
            result["overall_legacy"] = {**legacy, "label": per_seed[0]["legacy_overall_label"]}
    return result


def score_fields(matrix: ScoringMatrix, per_seed_scores: list[np.ndarray], n_boot: int) -> dict[str, Any]:
    """The score fields of an ``ok`` record from each seed's clean per-row scores."""
    per_seed_credit = [_credit_by_suite(matrix, s) for s in per_seed_scores]
    fields = summarise(per_seed_credit, PRIMARY_SUITE, n_boot)
    if "overall" not in fields:
        missing = ", ".join(fields["missing_subsets"][:5])
        raise HarnessError(f"the set lacks whole sections, so there is no overall (missing: {missing}...)")
    return fields


def write_raw_scores(results: Path, name: str, seeds: list[int], per_seed_scores: list[np.ndarray]) -> Path:
    """``results/raw/<name>.npz``: the seeds and each seed's score per test row (set order)."""
    raw = results / "raw" / f"{name}.npz"
    atomic_write(raw, lambda tmp: _save_npz(tmp, seeds=np.array(seeds),
                                            scores=np.stack(per_seed_scores).astype(np.float32)))
    return raw


def _save_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
