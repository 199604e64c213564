"""Suites as plug-ins: the base types, the registry and :func:`get_suite`.

A *suite* turns a head's per-row scores on some test splits of a set into one score block of a
result record (``record["suites"][suite.name]``) and into one leaderboard table per set. Each
suite is one module in this package; every module here that defines ``SUITES`` (a tuple of
:class:`SuiteBase` instances) is registered when the package is imported, in module-name order.

How to add a suite
------------------
1. Write ``harness/suites/<name>.py`` holding the definition as data and::

       SUITES = (MY_SUITE,)

   ``MY_SUITE`` is either a :class:`Suite` (RewardBench-style item credit: subsets grouped into
   count-weighted sections, pairwise or best-of-n, all the math in :mod:`harness.scoring`) or an
   instance of your own subclass of :class:`SuiteBase`.
2. Declare which test splits it reads: ``reads`` are values of ``split.suite`` in the set
   manifest. The runner (:func:`harness.evaluation.score_fields`) scores every registered suite
   that reads at least one test split of the set. ``includes`` are split suites that join this
   suite's parts when it is scored (RewardBench v1 includes ``prior-sets`` as its Prior Sets
   section); a suite all of whose ``reads`` are included by another suite the set carries is
   not scored on its own.
3. Implement the four methods of :class:`SuiteBase` (a :class:`Suite` has them already):

   * ``credit(parts) -> Units``: one seed. ``parts`` are :class:`SplitPart` (the
     :class:`harness.embedset.TestSplit` with its ``meta`` table and ``labels()``, and this
     seed's scores for its rows, in the split's row order). Return per-*unit* values: a unit is
     whatever the suite resamples (a pair, a best-of-4 group, a prompt with K responses).
     ``Units.values`` is 1-D (one credit per unit) or 2-D (one column per metric, e.g. best-of-N
     gain and Spearman per prompt); ``Units.subset`` groups units (a subset name, or one group).
   * ``average(per_seed) -> Units``: the seed-averaged units (default: the mean of ``values``
     over seeds; units must come in the same order every seed).
   * ``summarise(per_seed, averaged, n_boot) -> dict``: the record block, a JSON object
     ``{"label", "subsets", "sections", "overall", "missing_subsets"}`` plus any extra keys
     (``"overall_legacy"`` for v1). ``subsets`` and ``sections`` map a name to a score
     ``{"mean", "std", "per_seed", "ci95": [lo, hi] | None}`` (subsets add ``"n"``); ``overall``
     is such a score with a ``"label"``. "Sections" need not be groups of subsets: a
     golden-reward suite reports its metrics there (``{"Best-of-N gain": ..., "Spearman": ...}``)
     with a prompt bootstrap for ``ci95``, and its overall may be a ratio of means (fraction of
     the oracle's gain). Use :func:`harness.scoring.seed_summary` for mean/std/per_seed.
   * ``columns() -> tuple[SuiteColumn, ...]``: the leaderboard columns the suite contributes
     (by default: its overall, then one per section). A column reads ``block["overall"]``,
     ``block["sections"][name]`` or ``block[key]`` (e.g. ``overall_legacy``); ``fmt`` is
     ``"pct"`` (a fraction shown as a percentage) or ``"num"``; ``higher_is_better`` sets
     ranking and "best in column".

   ``section_names`` (ordered) and ``overall_label`` describe the suite on the site's rules
   page; ``title`` names its tables.
4. The per-unit credit averaged over seeds is stored next to the raw scores
   (``results/<set>-<version>/raw/<submission>.npz``, arrays ``<suite>:unit``,
   ``<suite>:subset``, ``<suite>:credit``) so paired tests run from the results folder alone.
5. Add ``tests/test_suites.py`` cases; nothing else needs editing: records, the leaderboard,
   its CSV/Markdown and the detail pages pick the new block up from the registry.

The RewardBench definitions (sources and caveats in :mod:`harness.suites.rewardbench_v1` and
:mod:`harness.suites.rewardbench_v2`) are re-exported here under their old names.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from harness.errors import HarnessError

PAIRWISE = "pairwise"
BEST_OF_N = "best_of_n"


# -- what a suite is handed and returns --------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SplitPart:
    """One test split a suite reads and one seed's scores for its rows (split row order)."""

    split: Any  # harness.embedset.TestSplit: .name, .suite, .meta, .labels()
    scores: np.ndarray


@dataclass(frozen=True, eq=False)
class Units:
    """Per-unit values of one head on one suite: what is averaged over seeds and resampled.

    ``ids`` names each unit (strings or integers, unique), ``subset`` its group, ``values`` is
    ``(n,)`` credit or ``(n, m)`` metrics. ``detail`` is the suite's own richer object (a
    :class:`harness.scoring.Credit` for item-credit suites), passed back to ``summarise``.
    """

    ids: np.ndarray
    subset: np.ndarray
    values: np.ndarray
    detail: Any = None

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class SuiteColumn:
    """A leaderboard column a suite contributes (see :mod:`harness.tables` for the spec)."""

    key: str  # unique within the suite's table
    label: str
    source: str  # "overall", "section" or a block key such as "overall_legacy"
    name: str = ""  # the section name when source == "section"
    fmt: str = "pct"  # "pct" or "num"
    higher_is_better: bool = True
    aux: bool = False  # shown but not part of the overall (faded in the section plot)
    ci: bool = False  # show its 95% CI next to the mean


class SuiteBase(ABC):
    """The plug-in interface; see the module docstring for how to add a suite."""

    name: str
    title: str
    reads: tuple[str, ...]
    includes: tuple[str, ...] = ()
    overall_label: str = ""
    section_names: tuple[str, ...] = ()

    @abstractmethod
    def credit(self, parts: Sequence[SplitPart]) -> Units:
        """Per-unit values of one seed from the splits this suite reads (and includes)."""

    def average(self, per_seed: Sequence[Units]) -> Units:
        """Units averaged over seeds (values mean; ids and subsets must agree)."""
        first = per_seed[0]
        for other in per_seed[1:]:
            if not np.array_equal(other.ids, first.ids):
                raise HarnessError(f"suite {self.name}: seeds scored different units")
        return Units(first.ids, first.subset, np.mean([u.values for u in per_seed], axis=0))

    @abstractmethod
    def summarise(self, per_seed: Sequence[Units], averaged: Units, n_boot: int) -> dict[str, Any]:
        """The record block: label, subsets, sections, overall, missing_subsets (+ extras)."""

    def columns(self) -> tuple[SuiteColumn, ...]:
        """Overall, then one column per section."""
        return (SuiteColumn("overall", "Overall", "overall", ci=True),
                *(SuiteColumn(f"s:{s}", s, "section", s) for s in self.section_names))


# -- RewardBench-style item-credit suites --------------------------------------------------------
def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Suite(SuiteBase):
    """An item-credit suite: how its subsets group into sections and how sections make an overall.

    ``sections`` maps a section to its subsets; a section's score is the mean of its present
    subsets weighted by ``example_counts`` (or unweighted for ``unweighted_sections``, or by
    the number of items the set has of each subset when ``weight_by_items``).
    ``overall_sections`` are averaged with equal weight into the overall score (with
    ``overall_of_present``: those of them present, and no subset counts as missing).
    ``optional_sections`` may be absent entirely without the result counting as incomplete.
    ``legacy_weights`` (section → weight), when set, defines a second, labelled overall that
    is reported only when every section it names is present. ``composite_subsets`` are scored
    by a composite rather than a plain mean of item credit (RewardBench 2's Ties).
    ``reads``/``includes``: split suites scored by it (default: its own name).
    """

    name: str
    kind: str
    sections: Mapping[str, tuple[str, ...]]
    example_counts: Mapping[str, int]
    dataset: str
    split: str
    overall_sections: tuple[str, ...]
    overall_label: str
    unweighted_sections: tuple[str, ...] = ()
    optional_sections: tuple[str, ...] = ()
    legacy_weights: Mapping[str, int] | None = None
    legacy_label: str = ""
    composite_subsets: tuple[str, ...] = ()
    notes: str = ""
    title: str = ""
    reads: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    weight_by_items: bool = False
    overall_of_present: bool = False
    _section_of: Mapping[str, str] = field(default_factory=dict, init=False, repr=False,
                                           compare=False)

    def __post_init__(self) -> None:
        if self.kind not in (PAIRWISE, BEST_OF_N):
            raise HarnessError(f"suite {self.name}: kind must be pairwise or best_of_n")
        sections = {s: tuple(subs) for s, subs in self.sections.items()}
        object.__setattr__(self, "sections", _frozen(sections))
        object.__setattr__(self, "example_counts", _frozen(self.example_counts))
        object.__setattr__(self, "title", self.title or self.name)
        object.__setattr__(self, "reads", tuple(self.reads) or (self.name,))
        object.__setattr__(self, "includes", tuple(self.includes))
        if self.legacy_weights is not None:
            object.__setattr__(self, "legacy_weights", _frozen(self.legacy_weights))
        owner: dict[str, str] = {}
        for section, subsets in sections.items():
            for subset in subsets:
                if subset in owner:
                    raise HarnessError(f"suite {self.name}: subset {subset} is in two sections")
                if subset not in self.example_counts and not self.weight_by_items:
                    raise HarnessError(f"suite {self.name}: subset {subset} has no example count")
                owner[subset] = section
        for name in (*self.overall_sections, *self.unweighted_sections, *self.optional_sections,
                     *(self.legacy_weights or {})):
            if name not in sections:
                raise HarnessError(f"suite {self.name}: unknown section {name}")
        object.__setattr__(self, "_section_of", _frozen(owner))

    @property
    def subsets(self) -> tuple[str, ...]:
        """Every subset the suite scores, in section order."""
        return tuple(s for subs in self.sections.values() for s in subs)

    @property
    def section_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The sections in display order."""
        return tuple(self.sections)

    def section_of(self, subset: str) -> str | None:
        """The section a subset belongs to, or None for a subset the suite does not use."""
        return self._section_of.get(subset)

    def weight(self, subset: str, item_counts: Mapping[str, int] | None = None) -> float:
        """The subset's weight inside its section (1.0 in an unweighted section; its item
        count in ``item_counts`` for a ``weight_by_items`` suite)."""
        section = self.section_of(subset)
        if section is None:
            raise HarnessError(f"suite {self.name}: subset {subset} is not part of the suite")
        if section in self.unweighted_sections:
            return 1.0
        if self.weight_by_items:
            if not item_counts or subset not in item_counts:
                raise HarnessError(f"suite {self.name}: the weight of {subset} is its item count "
                                   "in the set, which was not given")
            return float(item_counts[subset])
        return float(self.example_counts[subset])

    # -- the plug-in interface (the math lives in harness.scoring) --
    def credit(self, parts: Sequence[SplitPart]) -> Units:
        """Item credit (pairwise or best-of-n, Ties composite) over every part, ids made distinct."""
        from harness.scoring import item_credit

        cols: dict[str, list] = {"scores": [], "item": [], "chosen": [], "subset": [], "ids": []}
        offset = 0
        for part in parts:
            meta = part.split.meta
            item = meta["item"].to_numpy(np.int64)
            cols["scores"].append(np.asarray(part.scores))
            cols["item"].append(item + offset)
            cols["chosen"].append(part.split.labels())
            cols["subset"].append(meta["subset"].to_numpy(str))
            cols["ids"].append(meta["id"].astype(str).to_numpy())
            offset += int(item.max()) + 1 if len(item) else 0
        c = {k: np.concatenate(v) for k, v in cols.items()}
        cr = item_credit(c["scores"], c["item"], c["chosen"], c["subset"], self, ids=c["ids"])
        return Units(cr.item_ids, cr.item_subset, cr.credit, cr)

    def average(self, per_seed: Sequence[Units]) -> Units:
        """Seed-averaged :class:`harness.scoring.Credit` (Ties components averaged too)."""
        from harness.scoring import mean_credit

        cr = mean_credit([u.detail for u in per_seed])
        return Units(cr.item_ids, cr.item_subset, cr.credit, cr)

    def summarise(self, per_seed: Sequence[Units], averaged: Units, n_boot: int) -> dict[str, Any]:
        """Subset/section/overall means over seeds, CIs from a bootstrap of the averaged credit."""
        from harness.scoring import summarise_credit

        return summarise_credit([u.detail for u in per_seed], averaged.detail, self, n_boot)

    def columns(self) -> tuple[SuiteColumn, ...]:
        """Overall, each section (those outside the overall marked aux), then the legacy overall."""
        cols = [SuiteColumn("overall", "Overall", "overall", ci=True)]
        cols += [SuiteColumn(f"s:{s}", s, "section", s, aux=s not in self.overall_sections)
                 for s in self.sections]
        if self.legacy_weights:
            cols.append(SuiteColumn("legacy", "Legacy overall", "overall_legacy"))
        return tuple(cols)

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able description of the suite (for manifests and reports)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
               if not f.name.startswith("_")}
        out["sections"] = {k: list(v) for k, v in self.sections.items()}
        out["example_counts"] = dict(self.example_counts)
        out["legacy_weights"] = dict(self.legacy_weights) if self.legacy_weights else None
        for key in ("overall_sections", "unweighted_sections", "optional_sections",
                    "composite_subsets", "reads", "includes"):
            out[key] = list(out[key])
        return out


# -- the registry ------------------------------------------------------------------------------
SUITES: dict[str, SuiteBase] = {}


def register(suite: SuiteBase) -> SuiteBase:
    """Add ``suite`` to the registry (a second suite of the same name is an error)."""
    if suite.name in SUITES and SUITES[suite.name] is not suite:
        raise HarnessError(f"two suites are named '{suite.name}'")
    SUITES[suite.name] = suite
    return suite


def get_suite(name: str | SuiteBase) -> Any:
    """The suite registered under ``name`` (a suite object is returned unchanged)."""
    if isinstance(name, SuiteBase):
        return name
    try:
        return SUITES[name]
    except (KeyError, TypeError):
        raise HarnessError(f"unknown suite '{name}' (known: {', '.join(SUITES)})") from None


def suites_for(split_suites: Sequence[str]) -> list[SuiteBase]:
    """The registered suites a set with test splits of ``split_suites`` is scored on, in
    registry order; a suite whose reads are all included by another of them is left out."""
    present = set(split_suites)
    reading = [s for s in SUITES.values() if present & set(s.reads)]
    return [s for s in reading
            if not set(s.reads) <= {inc for o in reading if o is not s for inc in o.includes}]


#: Modules registered first, in this order (the board shows suites in registry order); any other
#: module of the package follows in name order.
FIRST = ("rewardbench_v1", "rewardbench_v2", "in_distribution")


def _discover() -> None:
    names = sorted(m.name for m in pkgutil.iter_modules(__path__))
    for name in [*FIRST, *(n for n in names if n not in FIRST)]:
        module = importlib.import_module(f"{__name__}.{name}")
        for suite in getattr(module, "SUITES", ()):
            register(suite)


_discover()

from harness.suites.in_distribution import IN_DISTRIBUTION  # noqa: E402
from harness.suites.rewardbench_v1 import (  # noqa: E402  (re-exported under the old names)
    LEGACY_LABEL,
    LEGACY_WEIGHTS,
    PRIOR_SETS,
    PRIOR_SETS_COUNTS,
    PRIOR_SETS_SUBSETS,
    RB1_EXAMPLE_COUNTS,
    RB1_OVERALL_LABEL,
    RB1_SUBSET_MAPPING,
    RB1_UPSTREAM_COUNTS,
    RB1_UPWEIGHTED_ROWS,
    REWARDBENCH_V1,
    upstream_v1,
)
from harness.suites.rewardbench_v2 import (  # noqa: E402
    RB2_COUNTS,
    RB2_SUBSETS,
    REWARDBENCH_V2,
    TIES_WEIGHTS,
)

__all__ = [
    "BEST_OF_N", "FIRST", "IN_DISTRIBUTION", "LEGACY_LABEL", "LEGACY_WEIGHTS", "PAIRWISE", "PRIOR_SETS",
    "PRIOR_SETS_COUNTS", "PRIOR_SETS_SUBSETS", "RB1_EXAMPLE_COUNTS", "RB1_OVERALL_LABEL", "RB1_SUBSET_MAPPING",
    "RB1_UPSTREAM_COUNTS", "RB1_UPWEIGHTED_ROWS", "RB2_COUNTS", "RB2_SUBSETS", "REWARDBENCH_V1",
    "REWARDBENCH_V2", "SUITES", "SplitPart", "Suite", "SuiteBase", "SuiteColumn", "TIES_WEIGHTS", "Units",
    "get_suite", "register", "suites_for", "upstream_v1",
]
