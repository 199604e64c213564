"""From per-row scores to a record's score fields: the test rows of a set, per-suite credit and summaries.

:class:`ScoringMatrix` is what a head is scored on (every test split of the set, in the set's
order); :func:`score_fields` turns each seed's clean scores into one block per suite the set
carries (:func:`set_suites`: each registered suite of :mod:`harness.suites` that reads one of
the set's ``split.suite`` values); :func:`write_raw_scores` keeps the per-row scores (set
order) and each suite's seed-averaged unit credit next to the records for later analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet, TestSplit
from harness.errors import HarnessError
from harness.fileio import atomic_write
from harness.scoring import mean_credit, summarise_credit
from harness.suites import SplitPart, SuiteBase, Units, suites_for

#: The headline suite of the bundled set (a record's ``suite`` is :func:`primary_suite`).
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


def suite_parts(matrix: ScoringMatrix, suite: SuiteBase, scores: np.ndarray) -> list[SplitPart]:
    """The splits ``suite`` reads or includes, with their rows of ``scores`` (set order)."""
    wanted = {*suite.reads, *suite.includes}
    return [SplitPart(split, scores[rows]) for split, rows in matrix.splits if split.suite in wanted]


def set_suites(matrix: ScoringMatrix) -> list[SuiteBase]:
    """The registered suites this set is scored on (see :func:`harness.suites.suites_for`)."""
    found = suites_for([split.suite for split, _ in matrix.splits])
    if not found:
        kinds = ", ".join(sorted({split.suite for split, _ in matrix.splits}))
        raise HarnessError(f"no registered suite reads this set's test splits (suites: {kinds})")
    return found


def primary_suite(matrix: ScoringMatrix) -> str:
    """The record's headline suite: the first suite (registry order) the set is scored on."""
    return set_suites(matrix)[0].name


def units_by_suite(matrix: ScoringMatrix, scores: np.ndarray) -> dict[str, Units]:
    """One seed's per-unit credit for every suite the set is scored on."""
    return {suite.name: suite.credit(suite_parts(matrix, suite, scores)) for suite in set_suites(matrix)}


def _credit_by_suite(matrix: ScoringMatrix, scores: np.ndarray) -> dict[str, Any]:
    """Per-suite credit (a :class:`harness.scoring.Credit` for item-credit suites); prior sets
    join the v1 suite as its Prior Sets section. Kept for the callers of the old name."""
    return {name: (u.detail if u.detail is not None else u) for name, u in units_by_suite(matrix, scores).items()}


def summarise(per_seed_credit: list[dict[str, Any]], suite: str, n_boot: int) -> dict[str, Any]:
    """The record block of an item-credit ``suite`` from each seed's :func:`_credit_by_suite`."""
    credits = [c[suite] for c in per_seed_credit]
    return summarise_credit(credits, mean_credit(credits), suite, n_boot)


def score_fields(matrix: ScoringMatrix, per_seed_scores: list[np.ndarray], n_boot: int) -> dict[str, Any]:
    """The score fields of an ``ok`` record: ``{"suite": headline suite, "suites": {name: block}}``.

    Every suite the set carries is scored; a suite without an overall (the set lacks whole
    sections) is an error naming it.
    """
    blocks = {}
    for suite in set_suites(matrix):
        per_seed = [suite.credit(suite_parts(matrix, suite, s)) for s in per_seed_scores]
        block = suite.summarise(per_seed, suite.average(per_seed), n_boot)
        if "overall" not in block:
            missing = ", ".join(block.get("missing_subsets", [])[:5])
            raise HarnessError(f"{suite.name}: the set lacks whole sections, so there is no overall "
                               f"(missing: {missing}...)")
        blocks[suite.name] = block
    return {"suite": next(iter(blocks)), "suites": blocks}


def seed_averaged_units(matrix: ScoringMatrix, per_seed_scores: list[np.ndarray]) -> dict[str, Units]:
    """Per suite, the credit of each unit averaged over seeds (what paired tests resample)."""
    out = {}
    for suite in set_suites(matrix):
        out[suite.name] = suite.average([suite.credit(suite_parts(matrix, suite, s)) for s in per_seed_scores])
    return out


def raw_path(folder: Path, name: str) -> Path:
    """Where a submission's raw scores live in a results folder (``<folder>/raw/<name>.npz``)."""
    return folder / "raw" / f"{name}.npz"


def write_raw_scores(results: Path, name: str, seeds: list[int], per_seed_scores: list[np.ndarray],
                     matrix: ScoringMatrix | None = None) -> Path:
    """``<results>/raw/<name>.npz``: the seeds and each seed's score per test row (set order).

    With ``matrix``, also per suite the seed-averaged unit credit: arrays ``<suite>:unit``,
    ``<suite>:subset`` (strings) and ``<suite>:credit`` (float64; 2-D for multi-metric units).
    """
    arrays: dict[str, np.ndarray] = {"seeds": np.array(seeds),
                                     "scores": np.stack(per_seed_scores).astype(np.float32)}
    if matrix is not None:
        for suite, units in seed_averaged_units(matrix, per_seed_scores).items():
            arrays[f"{suite}:unit"] = np.asarray(units.ids).astype(str)
            arrays[f"{suite}:subset"] = np.asarray(units.subset).astype(str)
            arrays[f"{suite}:credit"] = np.asarray(units.values, dtype=np.float64)
    raw = raw_path(results, name)
    atomic_write(raw, lambda tmp: _save_npz(tmp, **arrays))
    return raw


def read_units(raw: Path, suite: str) -> Units:
    """The seed-averaged unit credit of ``suite`` stored in a raw score file."""
    with np.load(raw, allow_pickle=False) as data:
        if f"{suite}:credit" not in data:
            raise HarnessError(f"{raw}: holds no unit credit for suite {suite}")
        return Units(data[f"{suite}:unit"], data[f"{suite}:subset"], data[f"{suite}:credit"])


def _save_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def file_raw_scores(results: Path, set_results: Path, name: str, matrix: ScoringMatrix) -> Path | None:
    """Put a run's raw scores into the set's folder with every suite's unit credit.

    The runner's scoring step writes ``<results>/raw/<name>.npz`` (scores only) or already
    ``<set_results>/raw/<name>.npz``; the newer of the two is rewritten as
    ``<set_results>/raw/<name>.npz`` with the units of :func:`seed_averaged_units`, and a flat
    file is removed. None when there is no raw file.
    """
    found = [p for p in (raw_path(set_results, name), raw_path(results, name)) if p.is_file()]
    if not found:
        return None
    source = max(found, key=lambda p: p.stat().st_mtime_ns)  # the run's own file, not a stale one
    with np.load(source, allow_pickle=False) as data:
        seeds, scores = [int(s) for s in data["seeds"]], list(data["scores"])
    target = write_raw_scores(set_results, name, seeds, scores, matrix)
    if source != target:
        source.unlink()
        try:  # the flat raw/ folder goes once it is empty
            source.parent.rmdir()
        except OSError:
            pass
    return target
