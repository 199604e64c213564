"""The seed paper's golden-reward protocol as a suite (Sun et al. 2025, arXiv 2502.04357).

Reads test splits with ``suite = "golden-reward"`` (written by :func:`harness.golden.import_golden`):
every response row of a prompt with its golden reward in the labels file. A unit is one test
prompt; its values are, for each N of :func:`harness.golden.bon_sizes` above 1, the head's
best-of-N gain over a random pick and the oracle's, then the prompt's Spearman correlation
(column order: :meth:`GoldenRewardSuite.metric_names`).

Best-of-N is the exact expectation over N-subsets drawn uniformly from the prompt's K responses
(:data:`harness.golden.BON_RULE`), so there is no sampling seed. Per N (2, 4, ... and K):

* gain: mean over prompts of (golden reward of the head's pick − mean golden reward of the N);
* oracle fraction: that mean gain divided by the oracle's mean gain (a ratio of means, so
  prompts whose responses all tie weigh nothing rather than dividing by zero).

Record block: ``overall`` = oracle fraction at N = K; ``sections`` (the leaderboard's columns)
``Gain N=K``, ``Oracle fraction N=2``, ``Oracle fraction N=4`` and ``Spearman`` (per-prompt
Spearman of scores with golden rewards, averaged over prompts); ``subsets``: the overall per
subset; ``best_of_n``: the whole curve, ``{"2": {"N", "gain", "oracle_fraction",
"oracle_gain"}, ..., "K": ...}`` (``oracle_gain`` is the same for every head); ``K``. Every
score has ``per_seed``/``std`` over training seeds and a 95% percentile-bootstrap ``ci95`` over
prompts (stratified by subset) of the seed-averaged units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.suites import SplitPart, SuiteBase, SuiteColumn, Units

NAME = "golden-reward"
BOOT_SEED = 0
#: The record's sections (those the leaderboard shows); the whole curve is the block's ``best_of_n``.
SECTIONS = ("Gain N=K", "Oracle fraction N=2", "Oracle fraction N=4", "Spearman")
OVERALL_LABEL = ("Golden reward: fraction of the oracle's best-of-K gain over a random pick "
                 "(N = K: all responses of a prompt; ratio of prompt means)")


def _n_label(n: int, k: int) -> str:
    return "K" if n == k else str(n)


class GoldenRewardSuite(SuiteBase):
    """Best-of-N golden reward and per-prompt Spearman over prompts with K scored responses."""

    name = NAME
    title = "Golden reward (best-of-N, Sun et al. 2025)"
    reads = (NAME,)
    overall_label = OVERALL_LABEL
    section_names = SECTIONS

    @staticmethod
    def metric_names(ns: Sequence[int]) -> list[str]:
        """The unit value columns for best-of-N sizes ``ns`` (N = 1 left out: its gain is 0)."""
        k = max(ns)
        sizes = [n for n in ns if n > 1]
        return ([f"gain@{_n_label(n, k)}" for n in sizes] + [f"oracle_gain@{_n_label(n, k)}" for n in sizes]
                + ["spearman"])

    def credit(self, parts: Sequence[SplitPart]) -> Units:
        """Per test prompt: best-of-N gains of the head and the oracle, and the Spearman."""
        from harness.golden import best_of_n, bon_sizes, by_prompt, golden_labels, spearman_per_prompt

        ids, subsets, values, ks = [], [], [], set()
        for part in parts:
            meta = part.split.meta
            item, k = meta["item"].to_numpy(np.int64), meta["k"].to_numpy(np.int64)
            scores, prompts = by_prompt(np.asarray(part.scores, np.float64), item, k)
            golden, _ = by_prompt(golden_labels(part.split), item, k)
            ks.add(scores.shape[1])
            bon = best_of_n(scores, golden)
            keep = [j for j, n in enumerate(bon.ns) if n > 1]
            values.append(np.column_stack([bon.gain[:, keep], bon.oracle_gain[:, keep],
                                           spearman_per_prompt(scores, golden)]))
            subset_of = dict(zip(item, meta["subset"].astype(str), strict=True))
            ids += [f"{part.split.name}:{p}" for p in prompts]
            subsets += [subset_of[p] for p in prompts]
        if len(ks) != 1:
            raise HarnessError(f"suite {self.name}: its splits have different K ({sorted(ks)}); import "
                               "each as its own set")
        ns = bon_sizes(ks.pop())
        return Units(np.array(ids), np.array(subsets), np.concatenate(values), {"ns": ns})

    def average(self, per_seed: Sequence[Units]) -> Units:
        """Mean of each unit's values over seeds (the best-of-N sizes are kept)."""
        mean = super().average(per_seed)
        return Units(mean.ids, mean.subset, mean.values, per_seed[0].detail)

    def summarise(self, per_seed: Sequence[Units], averaged: Units, n_boot: int) -> dict[str, Any]:
        """Sections per metric (seed spread, prompt-bootstrap CI), overall = oracle fraction at N = K."""
        from harness.golden import prompt_bootstrap
        from harness.scoring import seed_summary

        ns = averaged.detail["ns"]
        k = max(ns)
        col = {name: i for i, name in enumerate(self.metric_names(ns))}
        stats = self.statistics(ns)

        def score(stat, rows: np.ndarray | None = None) -> dict[str, Any] | None:
            pick = slice(None) if rows is None else rows
            values = [float(stat(u.values[pick].mean(axis=0))) for u in per_seed]
            if not np.isfinite(values).all():
                return None
            strata = None if rows is not None else averaged.subset
            ci = prompt_bootstrap(averaged.values[pick], stat, n_boot=n_boot, seed=BOOT_SEED, strata=strata)
            return {**seed_summary(values), "ci95": ci}

        scored = {name: s for name, stat in stats.items() if (s := score(stat)) is not None}
        overall_name = f"Oracle fraction N={_n_label(k, k)}"
        subsets = {}
        for name in np.unique(averaged.subset):
            rows = np.flatnonzero(averaged.subset == name)
            if (s := score(stats[overall_name], rows)) is not None:
                subsets[str(name)] = {**s, "n": len(rows)}
        curve = {}
        for n in (n for n in ns if n > 1):
            label = _n_label(n, k)
            curve[label] = {"N": int(n), "gain": scored.get(f"Gain N={label}"),
                            "oracle_fraction": scored.get(f"Oracle fraction N={label}"),
                            "oracle_gain": float(averaged.values[:, col[f"oracle_gain@{label}"]].mean())}
        block: dict[str, Any] = {
            "label": self.title, "subsets": subsets, "missing_subsets": [],
            "sections": {name: scored[name] for name in SECTIONS if name in scored and name != overall_name},
            "K": int(k), "best_of_n": curve,
        }
        if overall_name in scored:
            block["overall"] = {**scored[overall_name], "label": OVERALL_LABEL}
        return block

    def statistics(self, ns: Sequence[int]) -> dict[str, Any]:
        """Per score name, ``f(column means) -> value`` over units of best-of-N sizes ``ns``
        (``Gain N=n`` and ``Oracle fraction N=n`` for each N above 1, and ``Spearman``)."""
        k = max(ns)
        col = {name: i for i, name in enumerate(self.metric_names(ns))}
        stats = {}
        for n in (n for n in ns if n > 1):
            g, o = col[f"gain@{_n_label(n, k)}"], col[f"oracle_gain@{_n_label(n, k)}"]
            stats[f"Gain N={_n_label(n, k)}"] = lambda m, g=g: m[..., g]
            stats[f"Oracle fraction N={_n_label(n, k)}"] = lambda m, g=g, o=o: _ratio(m[..., g], m[..., o])
        stats["Spearman"] = lambda m: m[..., col["spearman"]]
        return stats

    def paired(self, a: Units, b: Units, n_boot: int = 1000, seed: int = BOOT_SEED) -> dict[str, Any]:
        """Head A − head B on the same prompts (seed-averaged units, e.g. from the raw score files):
        ``{"delta", "ci95", "p_value"}`` of the overall and ``per_section`` for every score."""
        from harness.golden import paired_prompt_bootstrap

        if not np.array_equal(np.asarray(a.ids).astype(str), np.asarray(b.ids).astype(str)):
            raise HarnessError(f"suite {self.name}: the two heads were scored on different prompts")
        sizes = (np.asarray(a.values).shape[1] - 1) // 2  # columns: gains, oracle gains, Spearman
        # N = 2, 4, ..., then K: any K above the last power of two gives the same column labels
        stats = self.statistics((1, *(2**i for i in range(1, sizes)), 2 ** (sizes - 1) + 1))
        per = {name: paired_prompt_bootstrap(a.values, b.values, stat, n_boot=n_boot, seed=seed, strata=a.subset)
               for name, stat in stats.items()}
        overall = per["Oracle fraction N=K"]
        return {**overall, "per_section": per, "n_boot": n_boot, "seed": seed,
                "method": "paired percentile bootstrap over prompts (stratified by subset), two-sided p"}

    def columns(self) -> tuple[SuiteColumn, ...]:
        """Overall (oracle fraction at N = K), the gain at N = K, the fractions at N = 2 and 4, Spearman."""
        return (SuiteColumn("overall", "Oracle frac. N=K", "overall", ci=True),
                SuiteColumn("gain", "Gain N=K", "section", "Gain N=K", fmt="num"),
                SuiteColumn("frac2", "Oracle frac. N=2", "section", "Oracle fraction N=2", aux=True),
                SuiteColumn("frac4", "Oracle frac. N=4", "section", "Oracle fraction N=4", aux=True),
                SuiteColumn("spearman", "Spearman", "section", "Spearman", fmt="num", aux=True))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where the oracle gains nothing (every response ties)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


GOLDEN_REWARD = GoldenRewardSuite()

SUITES = (GOLDEN_REWARD,)
