"""Score reward heads the way RewardBench does, with bootstrap and seed uncertainty.

Input is one test split as per-*response-row* arrays in any order: ``scores`` (the head's
reward), ``item`` (rows of one prompt share an id), ``chosen`` (label) and ``subset``; ``ids``
(the source dataset id of each row) is needed only for RewardBench 2's Ties subset.

The work is split so that the row → item reduction happens once: :func:`item_credit` returns a
:class:`Credit`, and every aggregate (:func:`subset_scores`, :func:`score_credit`,
:func:`overall_from_credit`, :func:`bootstrap_credit`, :func:`paired_bootstrap`) takes it.
Those functions also take a plain credit array plus ``item_subset``; then every subset,
Ties included, is the mean of its credit (exact for Ties when each prompt has both items).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.suites import BEST_OF_N, TIES_WEIGHTS, Suite, get_suite

_TIES_W = np.array(list(TIES_WEIGHTS.values()))
LEVEL = 0.95
METHOD = ("percentile bootstrap; items resampled with replacement within each subset "
          "(each subset keeps its size; a Ties unit is a prompt's ref and tied items together)")


class ScoringError(HarnessError):
    """Scores, labels or groupings that cannot be scored as given."""


@dataclass(frozen=True, eq=False)
class Credit:
    """Per-unit credit of one head on one split; unpacks as ``(item_ids, item_subset, credit)``.

    A unit is an item, except in composite subsets (Ties) where it is one prompt (its ``ref``
    and ``tied`` items), labelled by the lower of their item ids. ``parts`` is ``(n, 5)`` with
    the Ties components (:data:`harness.suites.TIES_WEIGHTS` order) and NaN elsewhere; a Ties
    unit's ``credit`` is its weighted component sum, but Ties is scored from ``parts``.
    ``composite`` names the subsets scored from ``parts``; ``item_counts`` is the number of
    items (dataset rows) per subset.
    """

    item_ids: np.ndarray
    item_subset: np.ndarray
    credit: np.ndarray
    parts: np.ndarray | None = None
    composite: tuple[str, ...] = ()
    item_counts: Mapping[str, int] = field(default_factory=dict)

    def __iter__(self):
        return iter((self.item_ids, self.item_subset, self.credit))

    def __len__(self) -> int:
        return len(self.credit)


# -- rows → items ------------------------------------------------------------------------------
# s, c: scores and chosen sorted by item; starts, counts: each item's run of rows;
# ids, subset, source, n_chosen: per item (source: the ids column, or None)
_Groups = namedtuple("_Groups", "s c starts counts ids subset source n_chosen")


def _fail_first(bad: np.ndarray, g_ids, g_sub, message: str) -> None:
    """Raise a ScoringError naming the first item flagged in ``bad``."""
    if bad.any():
        k = np.flatnonzero(bad)[0]
        raise ScoringError(f"item {g_ids[k]} (subset {g_sub[k]}) {message}")


def _group(scores, item, chosen, subset, ids) -> _Groups:
    s = np.asarray(scores, dtype=np.float64)
    item, subset = np.asarray(item), np.asarray(subset).astype(str)
    chosen_raw = np.asarray(chosen)
    arrays = {"scores": s, "item": item, "chosen": chosen_raw, "subset": subset}
    if ids is not None:
        arrays["ids"] = np.asarray(ids).astype(str)
    bad_dim = [k for k, a in arrays.items() if a.ndim != 1]
    if bad_dim:
        raise ScoringError(f"{', '.join(bad_dim)} must be one-dimensional (one value per row)")
    lengths = {k: len(a) for k, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ScoringError("length mismatch: " + ", ".join(f"{k}={n}" for k, n in lengths.items()))
    if len(s) == 0:
        raise ScoringError("no rows to score")
    if not np.isfinite(s).all():
        bad = np.flatnonzero(~np.isfinite(s))
        raise ScoringError(f"scores contain {len(bad)} NaN/inf value(s) (first at row {bad[0]})")
    if chosen_raw.dtype != bool and not np.isin(chosen_raw, (0, 1)).all():
        raise ScoringError("chosen must be boolean (or 0/1) per row")
    order = np.argsort(item, kind="stable")
    item_s, sub_s = item[order], subset[order]
    starts = np.flatnonzero(np.r_[True, item_s[1:] != item_s[:-1]])
    counts = np.diff(np.r_[starts, len(s)])
    g_ids, g_sub = item_s[starts], sub_s[starts]
    _check_constant(sub_s, g_sub, counts, g_ids, "subset")
    source = None
    if ids is not None:
        src_s = arrays["ids"][order]
        source = src_s[starts]
        _check_constant(src_s, source, counts, g_ids, "ids")
    c = chosen_raw.astype(bool)[order]
    n_chosen = np.add.reduceat(c.astype(np.int64), starts)
    _fail_first(n_chosen == 0, g_ids, g_sub, "has no chosen row")
    _fail_first(n_chosen == counts, g_ids, g_sub, "has no rejected row")
    return _Groups(s[order], c, starts, counts, g_ids, g_sub, source, n_chosen)


def _check_constant(sorted_vals, per_item, counts, g_ids, what: str) -> None:
    differs = sorted_vals != np.repeat(per_item, counts)
    if differs.any():
        k = np.searchsorted(np.cumsum(counts), np.flatnonzero(differs)[0], side="right")
        raise ScoringError(f"item {g_ids[k]} has rows with different {what}")


def _reduce(fn, g: _Groups, mask: np.ndarray, fill: float) -> np.ndarray:
    return fn.reduceat(np.where(mask, g.s, fill), g.starts)


def item_credit(scores, item, chosen, subset, suite: Suite | str, ids=None) -> Credit:
    """Reduce response rows to per-item credit for ``suite``.

    Pairwise suites (v1, Prior Sets): each item has one chosen and one rejected row; credit is
    1.0 iff score(chosen) > score(rejected) strictly, so a tie is wrong (``scripts/run_rm.py``).
    Best-of-n (v2): each item has one chosen row; credit is 1/k when it ties k-ways for the
    maximum, else 0 (``reroll_and_score_dataset``).

    Ties (v2 composite, ``process_single_model``): each item may have several chosen rows, and
    its ``ids`` must read ``ref:<n>`` or ``tied:<n>`` (RewardBench 2's layout, one item per
    kind and prompt number ``n``). Per item: accurate = worst chosen > best rejected; margin
    to wrong = worst chosen - best rejected; spread = best chosen - worst chosen (tied items
    need >= 2 chosen). Per prompt with both items: preferred = tied margin > tied spread;
    preferred-hard = min(ref, tied margin) > tied spread; margin term =
    tanh(min margin / spread - 1) with 0/0 counted 0. Ties = 0.30 mean tied accuracy + 0.30
    mean ref accuracy + 0.20 preferred + 0.20 preferred-hard + 0.01 margin term.
    """
    suite = get_suite(suite)
    g = _group(scores, item, chosen, subset, ids)
    composite_mask = np.isin(g.subset, suite.composite_subsets)
    if suite.kind == BEST_OF_N:
        _fail_first((g.n_chosen != 1) & ~composite_mask, g.ids, g.subset,
                    "has several chosen rows; best-of-n credit needs exactly one")
        top = np.maximum.reduceat(g.s, g.starts)
        at_top = g.s == np.repeat(top, g.counts)
        k_top = np.add.reduceat(at_top, g.starts)
        chosen_top = np.add.reduceat(at_top & g.c, g.starts) > 0
        credit = np.where(chosen_top, 1.0 / k_top, 0.0)
    else:
        _fail_first((g.counts != 2) | (g.n_chosen != 1), g.ids, g.subset,
                    "is not one chosen + one rejected row, as pairwise scoring needs")
        credit = (_reduce(np.add, g, g.c, 0.0) > _reduce(np.add, g, ~g.c, 0.0)).astype(float)

    subs, n_items = np.unique(g.subset, return_counts=True)
    item_counts = {str(a): int(b) for a, b in zip(subs, n_items, strict=True)}
    present = tuple(s for s in suite.composite_subsets if s in item_counts)
    if not present:
        return Credit(g.ids, g.subset, credit, None, (), item_counts)
    keep = ~composite_mask
    unit_ids, unit_sub, unit_credit = [g.ids[keep]], [g.subset[keep]], [credit[keep]]
    unit_parts = [np.full((int(keep.sum()), len(_TIES_W)), np.nan)]
    for name in present:
        ids_u, parts = _ties_units(g, np.flatnonzero(g.subset == name))
        unit_ids.append(ids_u)
        unit_sub.append(np.full(len(ids_u), name))
        unit_credit.append(np.nansum(parts * _TIES_W, axis=1))
        unit_parts.append(parts)
    all_ids = np.concatenate(unit_ids)
    order = np.argsort(all_ids, kind="stable")
    return Credit(all_ids[order], np.concatenate(unit_sub)[order],
                  np.concatenate(unit_credit)[order], np.concatenate(unit_parts)[order],
                  present, item_counts)


def _ties_units(g: _Groups, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit labels and ``(units, 5)`` Ties components for the items at ``rows``."""
    if g.source is None:
        raise ScoringError("RewardBench 2 Ties needs ids per row ('ref:<n>' or 'tied:<n>')")
    kind, sep, num = np.char.partition(g.source[rows], ":").T
    ok = (sep == ":") & np.isin(kind, ("ref", "tied")) & np.char.isdigit(num)
    _fail_first(~ok, g.ids[rows], g.subset[rows], "needs an id 'ref:<n>' or 'tied:<n>' (n an "
                f"integer), not {g.source[rows][~ok][0]!r}" if not ok.all() else "")
    pid = num.astype(np.int64)
    best_c = _reduce(np.maximum, g, g.c, -np.inf)[rows]
    worst_c = _reduce(np.minimum, g, g.c, np.inf)[rows]
    best_r = _reduce(np.maximum, g, ~g.c, -np.inf)[rows]
    margin = worst_c - best_r
    spread = np.where(g.n_chosen[rows] > 1, best_c - worst_c, np.nan)
    units, inv = np.unique(pid, return_inverse=True)
    pos = {}
    for kind_name in ("tied", "ref"):
        sel = kind == kind_name
        if (np.bincount(inv[sel], minlength=len(units)) > 1).any():
            raise ScoringError(f"Ties has two '{kind_name}' items with the same prompt number")
        where = np.full(len(units), -1)
        where[inv[sel]] = np.flatnonzero(sel)
        pos[kind_name] = where
    t, r = pos["tied"], pos["ref"]
    has_t, has_r = t >= 0, r >= 0
    both = has_t & has_r
    if np.isnan(spread[t[both]]).any():
        raise ScoringError("a Ties 'tied' item has only one chosen row; its spread is undefined")
    acc = (margin > 0).astype(float)
    m_t, m_r, sp = margin[t], margin[r], spread[t]
    hard = np.minimum(m_r, m_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.nan_to_num(np.tanh(hard / sp - 1.0), nan=0.0)
    parts = np.column_stack([
        np.where(has_t, acc[t], np.nan), np.where(has_r, acc[r], np.nan),
        np.where(both, m_t > sp, np.nan), np.where(both, hard > sp, np.nan),
        np.where(both, term, np.nan),
    ])
    tid, rid = g.ids[rows][t], g.ids[rows][r]
    return np.where(has_t & (~has_r | (tid <= rid)), tid, rid), parts


# -- aggregation -------------------------------------------------------------------------------
def _as_credit(credit, item_subset) -> Credit:
    if isinstance(credit, Credit):
        return credit
    values = np.asarray(credit, dtype=np.float64)
    if item_subset is None:
        raise ScoringError("item_subset is required with a plain credit array")
    sub = np.asarray(item_subset).astype(str)
    if values.ndim != 1 or len(values) != len(sub):
        raise ScoringError(f"length mismatch: credit={values.size}, item_subset={len(sub)}")
    if not np.isfinite(values).all():
        raise ScoringError("credit contains NaN/inf values")
    names, n = np.unique(sub, return_counts=True)
    counts = {str(a): int(b) for a, b in zip(names, n, strict=True)}
    return Credit(np.arange(len(values)), sub, values, None, (), counts)


def _composite(parts: np.ndarray) -> np.ndarray:
    """Ties score from ``(..., units, 5)`` components: weighted sum of NaN-skipping means."""
    # Upstream counts an empty accuracy mean as 0.0, but an empty one implies no prompt has
    # both items, which makes the other three means (and so the score) NaN anyway.
    present = ~np.isnan(parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(present, parts, 0.0).sum(axis=-2) / present.sum(axis=-2)
    return means @ _TIES_W


def _subset_values(cr: Credit, rows: np.ndarray, name: str) -> np.ndarray:
    """Score of subset ``name`` for index array ``rows`` (last axis = units)."""
    if name in cr.composite:
        return _composite(cr.parts[rows])
    return cr.credit[rows].mean(axis=-1)


def subset_scores(credit: Credit | Sequence[float], item_subset=None) -> dict[str, float]:
    """Accuracy per subset present (Ties: its composite), from :func:`item_credit` output."""
    cr = _as_credit(credit, item_subset)
    return {str(n): float(_subset_values(cr, np.flatnonzero(cr.item_subset == n), str(n)))
            for n in np.unique(cr.item_subset)}


def _aggregate(values: np.ndarray, names: Sequence[str], suite: Suite,
               counts: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Sections, overall and legacy overall from subset values ``(..., len(names))``;
    ``counts`` (items per subset in the set) weigh a ``weight_by_items`` suite's subsets."""
    sections = {}
    for section, subs in suite.sections.items():
        cols = [i for i, n in enumerate(names) if n in subs]
        if cols:
            w = np.array([suite.weight(names[i], counts) for i in cols])
            sections[section] = values[..., cols] @ w / w.sum()
    out: dict[str, Any] = {"sections": sections, "overall": None, "legacy": None}
    overall = [s for s in suite.overall_sections if s in sections]
    if overall and (suite.overall_of_present or len(overall) == len(suite.overall_sections)):
        out["overall"] = np.mean([sections[s] for s in overall], axis=0)
    if suite.legacy_weights and all(s in sections for s in suite.legacy_weights):
        w = np.array(list(suite.legacy_weights.values()), dtype=float)
        stacked = np.stack([sections[s] for s in suite.legacy_weights], axis=-1)
        out["legacy"] = stacked @ w / w.sum()
    return out


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def section_scores(subset_scores: Mapping[str, float], suite: Suite | str,
                   counts: Mapping[str, int] | None = None) -> dict[str, float]:
    """Example-count-weighted mean of the present subsets of each section (as upstream's
    ``calculate_scores_per_section``; Prior Sets unweighted; a ``weight_by_items`` suite by
    ``counts``, the items per subset). Sections with no subset present are left out; see
    :func:`missing_subsets`."""
    suite = get_suite(suite)
    names = list(subset_scores)
    agg = _aggregate(np.array([subset_scores[n] for n in names], float), names, suite, counts)
    return {k: float(v) for k, v in agg["sections"].items()}


def missing_subsets(subset_scores: Mapping[str, float], suite: Suite | str) -> list[str]:
    """Suite subsets absent from ``subset_scores`` (an optional section wholly absent is fine;
    an ``overall_of_present`` suite misses nothing)."""
    suite = get_suite(suite)
    if suite.overall_of_present:
        return []
    missing = []
    for section, subs in suite.sections.items():
        absent = [s for s in subs if s not in subset_scores]
        if len(absent) < len(subs) or section not in suite.optional_sections:
            missing.extend(absent)
    return missing


def overall_score(section_scores: Mapping[str, float], suite: Suite | str) -> float | None:
    """Unweighted mean of the suite's overall sections; None unless all are present (those
    present, for an ``overall_of_present`` suite)."""
    suite = get_suite(suite)
    present = [s for s in suite.overall_sections if s in section_scores]
    if not present or (len(present) < len(suite.overall_sections) and not suite.overall_of_present):
        return None
    return float(np.mean([section_scores[s] for s in present]))


def legacy_overall(section_scores: Mapping[str, float], suite: Suite | str) -> float | None:
    """The legacy weighted overall (v1: 2,2,2,2,1 incl. Prior Sets); None if not computable."""
    suite = get_suite(suite)
    weights = suite.legacy_weights
    if not weights or not all(s in section_scores for s in weights):
        return None
    return float(sum(section_scores[s] * w for s, w in weights.items()) / sum(weights.values()))


def overall_from_credit(credit, item_subset, suite: Suite | str) -> float | None:
    """Overall score straight from credit (``item_subset`` may be None for a :class:`Credit`)."""
    return score_credit(credit, item_subset, suite)["overall"]


def score_credit(credit, item_subset, suite: Suite | str) -> dict[str, Any]:
    """The JSON-able result of :func:`score_suite`, from already computed credit."""
    suite = get_suite(suite)
    cr = _as_credit(credit, item_subset)
    subs = subset_scores(cr)
    sections = section_scores(subs, suite, cr.item_counts)
    missing = missing_subsets(subs, suite)
    result: dict[str, Any] = {
        "suite": suite.name,
        "subsets": {k: _num(v) for k, v in subs.items()},
        "subset_counts": dict(cr.item_counts),
        "sections": {k: _num(v) for k, v in sections.items()},
        "overall": _num(overall_score(sections, suite)),
        "overall_label": suite.overall_label,
        "missing_subsets": missing,
        "extra_subsets": [s for s in subs if suite.section_of(s) is None],
        "complete": not missing,
    }
    legacy = legacy_overall(sections, suite)
    if legacy is not None:
        result["legacy_overall"] = _num(legacy)
        result["legacy_overall_label"] = suite.legacy_label
    return result


def score_suite(scores, item, chosen, subset, suite: Suite | str, ids=None) -> dict[str, Any]:
    """Score one head on one split: subsets, sections, overall (+ legacy overall if any).

    Returns ``{"suite", "subsets": {name: acc}, "subset_counts": {name: n_items},
    "sections": {name: score}, "overall": float | None, "overall_label": str,
    "missing_subsets": [...], "extra_subsets": [...], "complete": bool}`` plus
    ``"legacy_overall"`` and ``"legacy_overall_label"`` when the legacy score applies.
    """
    return score_credit(item_credit(scores, item, chosen, subset, suite, ids), None, suite)


# -- uncertainty -------------------------------------------------------------------------------
def _replicates(credits: Sequence[Credit], suite: Suite, n_boot: int, seed: int):
    """Point and bootstrap aggregates for each credit, all sharing one set of resamples."""
    if n_boot < 1:
        raise ScoringError(f"n_boot must be at least 1, got {n_boot}")
    names = [str(n) for n in np.unique(credits[0].item_subset)]
    rng = np.random.default_rng(seed)
    points = [np.empty(len(names)) for _ in credits]
    reps = [np.empty((n_boot, len(names))) for _ in credits]
    for j, name in enumerate(names):
        rows = np.flatnonzero(credits[0].item_subset == name)
        resampled = rows[rng.integers(0, len(rows), size=(n_boot, len(rows)))]
        for cr, point, rep in zip(credits, points, reps, strict=True):
            point[j] = _subset_values(cr, rows, name)
            rep[:, j] = _subset_values(cr, resampled, name)
    counts = credits[0].item_counts
    return names, [(_aggregate(p, names, suite, counts), _aggregate(r, names, suite, counts), p, r)
                   for p, r in zip(points, reps, strict=True)]


def _interval(point, reps) -> dict[str, Any]:
    if reps is None or not np.isfinite(reps).all():
        return {"point": _num(point), "ci95": None}
    lo, hi = np.percentile(reps, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return {"point": _num(point), "ci95": [float(lo), float(hi)]}


def bootstrap_credit(credit, item_subset, suite: Suite | str, n_boot: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """95% percentile intervals for every subset, section and the overall, from credit.

    Returns ``{"n_boot", "seed", "level", "method", "subsets": {name: {"point", "ci95"}},
    "sections": {...}, "overall": {"point", "ci95", "label"}}`` plus ``"legacy_overall"``
    when it applies; ``ci95`` is ``[lo, hi]`` or None where the value is undefined.
    """
    suite = get_suite(suite)
    names, [(pt, rp, p_sub, r_sub)] = _replicates([_as_credit(credit, item_subset)], suite,
                                                  n_boot, seed)
    out: dict[str, Any] = {
        "n_boot": n_boot, "seed": seed, "level": LEVEL, "method": METHOD,
        "subsets": {n: _interval(p_sub[j], r_sub[:, j]) for j, n in enumerate(names)},
        "sections": {k: _interval(v, rp["sections"][k]) for k, v in pt["sections"].items()},
        "overall": {**_interval(pt["overall"], rp["overall"]), "label": suite.overall_label},
    }
    if pt["legacy"] is not None:
        out["legacy_overall"] = {**_interval(pt["legacy"], rp["legacy"]),
                                 "label": suite.legacy_label}
    return out


def bootstrap(scores, item, chosen, subset, suite: Suite | str, ids=None, n_boot: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """:func:`bootstrap_credit` on response rows (see :func:`item_credit` for the inputs)."""
    credit = item_credit(scores, item, chosen, subset, suite, ids)
    return bootstrap_credit(credit, None, suite, n_boot, seed)


def mean_credit(credits: Sequence[Credit]) -> Credit:
    """Credit averaged over runs (training seeds) of one head on the same items."""
    first = credits[0]
    for other in credits[1:]:
        if not np.array_equal(other.item_ids, first.item_ids):
            raise ScoringError("mean_credit needs every run's credit on the same items")
    parts = None if first.parts is None else np.mean([c.parts for c in credits], axis=0)
    return Credit(first.item_ids, first.item_subset, np.mean([c.credit for c in credits], axis=0), parts,
                  first.composite, first.item_counts)


def seed_summary(values: Sequence[float]) -> dict[str, Any]:
    """Mean and spread of one score over training seeds (std with ddof=1; 0 for one seed)."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    if arr.size == 0:
        raise ScoringError("seed_summary needs at least one value")
    if not np.isfinite(arr).all():
        raise ScoringError("seed_summary got a NaN/inf value")
    std = float(arr.std(ddof=1)) if arr.size >= 2 else 0.0
    return {"mean": float(arr.mean()), "std": std, "per_seed": [float(v) for v in arr]}


def paired_bootstrap(credit_a, credit_b, item_subset, suite: Suite | str, n_boot: int = 1000,
                     seed: int = 0) -> dict[str, Any]:
    """Compare head A with head B on the same items, resampling both with the same indices.

    Returns ``{"delta": overall_a - overall_b, "ci95": [lo, hi], "p_value", "p_value_definition",
    "per_section": {name: {"delta", "ci95", "p_value"}}, "n_boot", "seed"}``. ``p_value`` is
    one-sided: the fraction of replicates with delta <= 0 (small when A is better than B).
    """
    suite = get_suite(suite)
    a, b = _as_credit(credit_a, item_subset), _as_credit(credit_b, item_subset)
    if not (np.array_equal(a.item_ids, b.item_ids)
            and np.array_equal(a.item_subset, b.item_subset)):
        raise ScoringError("paired_bootstrap needs both heads' credit on the same items")
    _, [(pa, ra, _, _), (pb, rb, _, _)] = _replicates([a, b], suite, n_boot, seed)

    def compare(point_a, point_b, rep_a, rep_b) -> dict[str, Any]:
        if point_a is None or point_b is None:
            return {"delta": None, "ci95": None, "p_value": None}
        diff = rep_a - rep_b
        interval = _interval(point_a - point_b, diff)
        p = float(np.mean(diff <= 0)) if np.isfinite(diff).all() else None
        return {"delta": interval["point"], "ci95": interval["ci95"], "p_value": p}

    overall = compare(pa["overall"], pb["overall"], ra["overall"], rb["overall"])
    return {
        **overall,
        "p_value_definition": "one-sided: fraction of bootstrap replicates with delta <= 0",
        "per_section": {k: compare(pa["sections"][k], pb["sections"][k], ra["sections"][k],
                                   rb["sections"][k]) for k in pa["sections"]},
        "n_boot": n_boot, "seed": seed, "level": LEVEL, "method": METHOD,
    }


def summarise_credit(per_seed: Sequence[Credit], averaged: Credit, suite: Suite | str,
                     n_boot: int) -> dict[str, Any]:
    """A record's block for ``suite``: subset/section/overall means over seeds (with std and
    per-seed values) and 95% CIs from a bootstrap of the seed-averaged credit ``averaged``.

    Returns ``{"label", "subsets": {name: {..., "n"}}, "sections", "missing_subsets"}`` plus
    ``"overall"`` (with its label) when the set carries every overall section, and
    ``"overall_legacy"`` when the legacy overall applies.
    """
    suite = get_suite(suite)
    scored = [score_credit(c, None, suite) for c in per_seed]
    boot = bootstrap_credit(averaged, None, suite, n_boot=n_boot)

    def block(values: list[float | None], ci: dict | None) -> dict[str, Any] | None:
        if any(v is None for v in values):
            return None
        out = seed_summary(values)
        if ci is not None:
            out["ci95"] = ci.get("ci95")
        return out

    first = scored[0]
    subsets = {}
    for name in first["subsets"]:
        summary = block([p["subsets"][name] for p in scored], boot["subsets"].get(name))
        if summary is not None:
            subsets[name] = {**summary, "n": first["subset_counts"].get(name)}
    sections = {name: block([p["sections"][name] for p in scored], boot["sections"].get(name))
                for name in first["sections"]}
    result: dict[str, Any] = {
        "label": suite.title,
        "subsets": subsets,
        "sections": {k: v for k, v in sections.items() if v is not None},
        "missing_subsets": first["missing_subsets"],
    }
    overall = block([p["overall"] for p in scored], boot["overall"])
    if overall is not None:
        result["overall"] = {**overall, "label": first["overall_label"]}
    if "legacy_overall" in first:
        legacy = block([p.get("legacy_overall") for p in scored], boot.get("legacy_overall"))
        if legacy is not None:
            result["overall_legacy"] = {**legacy, "label": first["legacy_overall_label"]}
    return result
