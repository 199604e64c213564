"""Hyper-parameter search on validation pairs carved from a set's training split only.

``rewardheads tune FOLDER --grid k=8,16,32`` never looks at a test suite. It writes a
*validation set* next to the workspace: the set's training splits with a fraction of each
split's prompts taken out, and those held pairs as test splits of the in-distribution suite
(pairwise accuracy, sections HH helpful / HH harmless / UltraFeedback). RewardBench and the
set's own held-out suites are not copied into it, so no grid point can be scored on them. Every
grid point then runs through :class:`harness.runner.Runner` exactly as ``rewardheads run``
does (sandbox, seeds, variants), and the point with the best seed-averaged in-distribution
overall wins (the first in grid order on a tie).

A validation set is a set like any other (manifest, SHA-256 of every file), named
``<name>-<version>-val<percent>s<seed>``, and is built once per (set, fraction, seed).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.embed import HELDOUT_SUITE
from harness.embedset import EmbeddingSet, SetWriter
from harness.errors import HarnessError
from harness.suites.in_distribution import IN_DISTRIBUTION_SECTIONS

KNOWN_SUBSETS = frozenset(s for subsets in IN_DISTRIBUTION_SECTIONS.values() for s in subsets)
VALIDATION_PREFIX = "validation/"


class TuneError(HarnessError):
    """A tuning run that cannot start (a set without training pairs, an empty grid...)."""


def source_subset(dataset: str, split: str, meta_subset: str) -> str:
    """The in-distribution subset a training pair belongs to, from its split's dataset and the
    subset its meta records (HH-RLHF's file stem such as ``helpful-base_test``)."""
    if meta_subset in KNOWN_SUBSETS:
        return meta_subset
    if dataset == "hh-rlhf":
        stem = meta_subset
        for suffix in ("_test", "_train"):
            stem = stem.removesuffix(suffix)
        name = f"hh-{stem}"
    elif dataset == "ultrafeedback":
        name = "ultrafeedback"
    else:
        name = ""
    if name not in KNOWN_SUBSETS:
        raise TuneError(f"{split}: training pairs of dataset {dataset!r} (subset {meta_subset!r}) have no "
                        f"in-distribution section to be validated in (known: {', '.join(sorted(KNOWN_SUBSETS))})")
    return name


def _held_prompts(prompt: np.ndarray, fraction: float, seed: int, split: str) -> np.ndarray:
    """Which pairs to hold out: ``round(fraction * prompts)`` whole prompts (pairs with an
    identical prompt vector stay together, so no validation prompt is trained on), drawn by a
    generator seeded from ``seed`` and the split's name."""
    _, group = np.unique(np.ascontiguousarray(prompt).view(np.dtype((np.void, prompt.dtype.itemsize
                                                                     * prompt.shape[1]))).ravel(),
                         return_inverse=True)
    n_groups = int(group.max()) + 1
    rng = np.random.default_rng([seed, zlib.crc32(split.encode())])
    chosen = rng.permutation(n_groups)[: max(1, round(fraction * n_groups))]
    return np.isin(group, chosen)


def validation_name(emb: EmbeddingSet, fraction: float, seed: int) -> str:
    return f"{emb.version}-val{round(100 * fraction)}s{seed}"


def validation_set(emb: EmbeddingSet, root: str | os.PathLike, fraction: float = 0.1, seed: int = 0) -> EmbeddingSet:
    """The validation set of ``emb`` under ``root`` (built on first use; reused after)."""
    if not 0 < fraction <= 0.5:
        raise TuneError(f"validation fraction {fraction}: give a number in (0, 0.5]")
    version = validation_name(emb, fraction, seed)
    final = Path(root) / f"{emb.name}-{version}"
    if final.is_dir():
        existing = EmbeddingSet.open(final)
        if existing.manifest.get("validation", {}).get("of_manifest_sha256") == emb.manifest_sha256:
            return existing
        raise TuneError(f"{final}: a validation set of another build of {emb.ref}; remove it")
    train = emb.train_splits()
    if not train:
        raise TuneError(f"{emb.ref}: no training splits to carve validation pairs from")
    import pandas as pd

    writer = SetWriter(root, emb.name, version, model=emb.manifest.get("model", {}),
                       build=emb.manifest.get("build", {}),
                       validation={"of": emb.ref, "of_manifest_sha256": emb.manifest_sha256, "fraction": fraction,
                                   "seed": seed, "suite": HELDOUT_SUITE})
    for name in train:
        split, info = emb.split(name), emb.manifest["splits"][name]
        chosen, rejected, prompt = (np.asarray(a) for a in (split.chosen, split.rejected, split.prompt))
        meta = split.meta.reset_index(drop=True)
        held = _held_prompts(prompt, fraction, seed, name)
        if held.all():
            raise TuneError(f"{name}: too few prompts to hold {fraction:.0%} out and still train")
        keep = ~held
        writer.add_pairs(name, chosen=chosen[keep], rejected=rejected[keep], prompt=prompt[keep],
                         meta=meta[keep].reset_index(drop=True), objectives=list(info.get("objectives", [])),
                         dataset=info.get("dataset"), validation_held=int(held.sum()))
        rows = np.flatnonzero(held)
        subsets = [source_subset(info.get("dataset", ""), name, s) for s in meta["subset"].iloc[rows]]
        # each held pair becomes two test rows (chosen, rejected), shuffled with a recorded seed
        item = np.repeat(np.arange(len(rows)), 2)
        is_chosen = np.tile([True, False], len(rows))
        perm = np.random.default_rng([seed, zlib.crc32(name.encode()), 1]).permutation(len(item))
        item, is_chosen = item[perm], is_chosen[perm]
        source = rows[item]
        response = np.where(is_chosen[:, None], chosen[source], rejected[source])
        table = meta.iloc[source].reset_index(drop=True)
        test_meta = pd.DataFrame({
            "row": np.arange(len(item)), "item": item, "id": table["id"].to_numpy(),
            "subset": np.asarray(subsets)[item], "prompt_tokens": table["prompt_tokens"].to_numpy(),
            "response_tokens": np.where(is_chosen, table["chosen_tokens"], table["rejected_tokens"]),
            "truncated": table["truncated"].to_numpy(),
        })
        writer.add_test(VALIDATION_PREFIX + name.removeprefix("train/"), suite=HELDOUT_SUITE, response=response,
                        prompt=prompt[source], meta=test_meta, chosen=is_chosen, held_out_of=name,
                        holdout=fraction, dataset=info.get("dataset"))
    return EmbeddingSet.open(writer.commit())


@dataclass
class GridPoint:
    """One grid point's validation score: seed-averaged in-distribution overall and its seed spread."""

    params: dict[str, Any]
    name: str
    status: str
    mean: float | None = None
    std: float | None = None
    per_seed: list[float] = field(default_factory=list)
    sections: dict[str, float] = field(default_factory=dict)
    error: str = ""


@dataclass
class TuneResult:
    submission: str
    set_ref: str
    validation: dict[str, Any]
    grid: dict[str, list[Any]]
    points: list[GridPoint]
    seeds: list[int]

    @property
    def best(self) -> GridPoint:
        ok = [p for p in self.points if p.status == "ok" and p.mean is not None]
        if not ok:
            raise TuneError(f"{self.submission}: no grid point finished; see the errors above")
        return max(ok, key=lambda p: p.mean)  # max keeps the first of equal means: grid order breaks ties

    def toml(self) -> str:
        """The ``[tuning]`` table to paste into submission.toml (the chosen values go to [params] too)."""
        def value(v: Any) -> str:
            import json

            return json.dumps(v) if not isinstance(v, bool) else str(v).lower()

        grid = ", ".join(f"{k} = [{', '.join(value(x) for x in vs)}]" for k, vs in self.grid.items())
        chosen = ", ".join(f"{k} = {value(self.best.params[k])}" for k in self.grid)
        return "\n".join([
            "[tuning]",
            'method = "grid"',
            f'set = "{self.set_ref}"',
            f"validation = {self.validation['fraction']}",
            f"validation_seed = {self.validation['seed']}",
            f"seeds = [{', '.join(map(str, self.seeds))}]",
            f"grid = {{ {grid} }}",
            f"chosen = {{ {chosen} }}",
        ])

    def to_json(self) -> dict[str, Any]:
        return {"submission": self.submission, "set": self.set_ref, "validation": self.validation,
                "grid": self.grid, "seeds": self.seeds, "chosen": self.best.params if self.points else None,
                "points": [vars(p) for p in self.points]}


def _point(record: Mapping[str, Any], params: dict[str, Any]) -> GridPoint:
    name = record["submission"]["name"]
    block = (record.get("suites") or {}).get(HELDOUT_SUITE)
    if record.get("status") != "ok" or not block:
        return GridPoint(params, name, record.get("status", "failed"), error=str(record.get("error") or ""))
    overall = block["overall"]
    return GridPoint(params, name, "ok", overall["mean"], overall.get("std"), list(overall.get("per_seed") or []),
                     {k: v["mean"] for k, v in block.get("sections", {}).items()})


def tune(folder: Path, emb: EmbeddingSet, grid: Mapping[str, Sequence[Any]], *, root: Path, results: Path,
         options: dict[str, Any], fraction: float = 0.1, seed: int = 0,
         log: Callable[[str], None] = print) -> TuneResult:
    """Run every grid point of ``folder`` on the validation set of ``emb``; see the module doc.

    ``options`` are :class:`harness.runner.RunOptions` fields (seeds, jobs, isolation, limits...).
    """
    from harness.runner import Runner, RunOptions
    from harness.submissions import load_submission

    if not grid or not all(grid.values()):
        raise TuneError("tune: give a grid (--grid KEY=V1,V2 or [tuning] grid in submission.toml)")
    sub = load_submission(folder)
    if sub.variants:
        raise TuneError(f"{folder / 'submission.toml'}: declares [variants]; tune searches a folder's [params] "
                        "(copy the folder without its [variants] to tune one)")
    unknown = sorted(set(grid) - set(sub.params))
    if unknown:
        raise TuneError(f"{folder / 'submission.toml'}: grid key(s) {', '.join(unknown)} are not in [params]")
    val = validation_set(emb, root, fraction, seed)
    log(f"validation set {val.ref}: {sum(val.manifest['splits'][s]['rows'] for s in val.train_splits())} training "
        f"pairs, {sum(v['items'] for v in val.manifest['splits'].values() if v['kind'] == 'test')} validation pairs")
    import itertools

    combos = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    runner = Runner(val, RunOptions(results=results, force=True, control=False, **options), log=log)
    def key(params: Mapping[str, Any]) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    by_params = {key(r["submission"].get("overrides") or {}): r for r in runner.run([folder], combos)}
    points = [_point(by_params[key(c)], c) if key(c) in by_params else GridPoint(c, "", "missing") for c in combos]
    seeds = options.get("seeds") or list(sub.seeds)
    return TuneResult(sub.name, emb.ref, {"fraction": fraction, "seed": seed, "set": val.ref}, dict(grid), points,
                      list(seeds))
