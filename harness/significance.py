"""Which heads are better than which: paired tests on the same items, tiers and a pairwise map.

Overlapping 95% CIs say little about two heads scored on the *same* items; a paired test does.
A head's credit on a suite is its per-item correctness averaged over training seeds, recomputed
here from the raw scores the runner keeps (``raw/<name>.npz``: ``seeds`` and ``scores`` of shape
``(seeds, rows)``, rows in the order of the set's test splits concatenated) and the set's
labels, through :func:`harness.scoring.item_credit`. Raw files are looked up in
``RESULTS/<set>-<version>/raw/`` then ``RESULTS/raw/`` (the old flat layout), records in
``RESULTS/`` and ``RESULTS/<set>-<version>/``.

The test (:func:`paired_delta`): Δ = score(A) − score(B) on the suite's overall and on each
section. Items are resampled with replacement *within each subset* (each subset keeps its size),
the same indices for both heads, and the suite's rules are reapplied to every replicate: subsets
weighted inside a section (RewardBench v1: example counts, so math-prm weighs as much as the six
hep-* subsets together), overall = the suite's mean of sections. So Δ of the overall is the Δ of
the overall as the suite defines it, not a plain mean over items. The 95% CI is the percentile
interval of the replicate Δs; ``p`` is two-sided, ``min(1, 2·min(P(Δ* ≤ 0), P(Δ* ≥ 0)))`` with
both tails counted as ``(1 + k) / (1 + n_boot)`` (so never 0); two heads are *significantly
different* iff the CI excludes 0.

Public functions (``heads``: records as :func:`harness.results.load_records` reads them, or
submission names; records that are not ``ok`` are skipped)::

    versus_leader(heads, results_dir, emb_set, suite="rewardbench-v1", *, n_boot=1000, seed=0)
        -> {name: PairedDelta}        # head − leader, in rank order, leader (Δ = 0) included
    tiers(heads, results_dir, emb_set, suite="rewardbench-v1", *, n_boot=1000, seed=0)
        -> {name: int | None}         # 1, 2, ... ; None for reference heads
    compare(a, b, results_dir, emb_set, suite="rewardbench-v1", *, n_boot=1000, seed=0)
        -> PairedDelta                # a − b
    pairwise(heads, results_dir, emb_set, suite="rewardbench-v1", *, n_boot=1000, seed=0)
        -> PairwiseMatrix             # every pair, overall; pairwise_heatmap_svg(matrix) draws it
    is_reference(record) -> bool      # family "reference": not ranked, never "best in column"

The leader is the non-reference head with the best seed-averaged overall. Every call of one
function shares one set of resamples across all heads (seed ``seed``), so results repeat exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.results import ResultError, load_records
from harness.scoring import Credit, item_credit, mean_credit
from harness.suites import TIES_WEIGHTS, Suite, get_suite
from harness.textsafe import plain

DEFAULT_SUITE = "rewardbench-v1"
LEVEL = 0.95
OVERALL = "Overall"
_TIES_W = np.array(list(TIES_WEIGHTS.values()))


class SignificanceError(HarnessError):
    """A head, record or raw score file that cannot be compared; one line naming it."""


# -- reading heads -----------------------------------------------------------------------------
def is_reference(record: dict[str, Any]) -> bool:
    """True for a reference line (family ``reference``: random, length): shown, never ranked."""
    return (record.get("submission") or {}).get("family") == "reference"


def _folders(results_dir: str | Path, emb_set: EmbeddingSet) -> list[Path]:
    """Where records of ``emb_set`` may be: the folder itself, then its ``<set>-<version>/``."""
    base = Path(results_dir)
    return [base, base / f"{emb_set.name}-{emb_set.version}"]


def set_records(results_dir: str | Path, emb_set: EmbeddingSet) -> dict[str, dict[str, Any]]:
    """Every readable record of ``emb_set`` (same name and version) under ``results_dir``, by name."""
    found: dict[str, dict[str, Any]] = {}
    folders = [f for f in _folders(results_dir, emb_set) if f.is_dir()]
    if not folders:
        raise SignificanceError(f"{results_dir}: results folder not found")
    for folder in folders:
        try:
            records, _ = load_records(folder)
        except ResultError:
            continue
        for rec in records:
            s = rec.get("set") or {}
            if (s.get("name"), str(s.get("version"))) == (emb_set.name, emb_set.version):
                found.setdefault(rec["submission"]["name"], rec)
    return found


def raw_path(name: str, results_dir: str | Path, emb_set: EmbeddingSet) -> Path:
    """The raw score file of head ``name`` (either layout); a missing one is one error line."""
    candidates = [folder / "raw" / f"{name}.npz" for folder in _folders(results_dir, emb_set)[::-1]]
    for path in candidates:
        if path.is_file():
            return path
    raise SignificanceError(f"no raw scores for {plain(name, keep='')!r} (looked for "
                            f"{' and '.join(map(str, candidates))}); rerun `rewardheads run` on it")


def raw_scores(name: str, results_dir: str | Path, emb_set: EmbeddingSet) -> np.ndarray:
    """``(seeds, rows)`` scores of head ``name``, checked against the set's number of test rows."""
    path = raw_path(name, results_dir, emb_set)
    try:
        with np.load(path, allow_pickle=False) as npz:
            scores = np.asarray(npz["scores"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as err:
        raise SignificanceError(f"{path}: not a raw score file ({err})") from None
    rows = sum(len(emb_set.split(n)) for n in emb_set.test_splits())
    if scores.ndim != 2 or scores.shape[1] != rows or scores.shape[0] == 0:
        raise SignificanceError(f"{path}: scores have shape {scores.shape}, but {emb_set.ref} has "
                                f"{rows} test rows (seeds, rows expected)")
    return scores


def _item_suite(suite: Suite | str) -> Suite:
    """The item-credit suite named ``suite``; other plug-ins have no items to pair."""
    suite = get_suite(suite)
    if not isinstance(suite, Suite):
        raise SignificanceError(f"suite {suite.name} is not scored by item credit, so it has no "
                                "paired test here")
    return suite


@dataclass(frozen=True)
class SuiteRows:
    """The test rows of one suite in a set: ``index`` into a raw score row, and their labels.

    ``item`` is unique across splits (offset per split); ``tokens`` is each row's response length.
    """

    suite: Suite
    index: np.ndarray
    item: np.ndarray
    chosen: np.ndarray
    subset: np.ndarray
    ids: np.ndarray
    tokens: np.ndarray

    @classmethod
    def of(cls, emb_set: EmbeddingSet, suite: Suite | str = DEFAULT_SUITE) -> SuiteRows:
        """Rows of every test split the suite reads or includes (v1 includes prior sets)."""
        suite = _item_suite(suite)
        wanted = {*suite.reads, *suite.includes}
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("index", "item", "chosen", "subset",
                                                             "ids", "tokens")}
        start = item_offset = 0
        for name in emb_set.test_splits():
            split = emb_set.split(name)
            if split.suite in wanted:
                meta = split.meta
                item = meta["item"].to_numpy(np.int64)
                cols["index"].append(np.arange(start, start + len(split)))
                cols["item"].append(item + item_offset)
                cols["chosen"].append(np.asarray(split.labels(), dtype=bool))
                cols["subset"].append(meta["subset"].to_numpy(str))
                cols["ids"].append(meta["id"].astype(str).to_numpy())
                cols["tokens"].append(meta["response_tokens"].to_numpy(np.int64))
                item_offset += int(item.max()) + 1 if len(item) else 0
            start += len(split)
        if not cols["index"]:
            raise SignificanceError(f"{emb_set.ref} has no test split of suite {suite.name}")
        return cls(suite, **{k: np.concatenate(v) for k, v in cols.items()})

    def credit(self, scores: np.ndarray) -> Credit:
        """Seed-averaged per-item credit from ``(seeds, all test rows)`` raw scores."""
        return mean_credit([item_credit(s[self.index], self.item, self.chosen, self.subset,
                                        self.suite, ids=self.ids) for s in np.atleast_2d(scores)])


def head_credit(name: str, results_dir: str | Path, emb_set: EmbeddingSet,
                suite: Suite | str = DEFAULT_SUITE) -> Credit:
    """Seed-averaged per-item credit of head ``name`` on ``suite``, from its raw scores."""
    return SuiteRows.of(emb_set, suite).credit(raw_scores(name, results_dir, emb_set))


@dataclass(frozen=True)
class _Head:
    name: str
    reference: bool
    credit: Credit


def _heads(heads: Iterable[dict[str, Any] | str], results_dir, emb_set, suite) -> list[_Head]:
    rows = SuiteRows.of(emb_set, suite)
    known: dict[str, dict[str, Any]] | None = None
    out, seen = [], set()
    for head in heads:
        if isinstance(head, dict):
            if head.get("status") != "ok":
                continue
            rec = head
        else:
            if known is None:
                known = set_records(results_dir, emb_set)
            rec = known.get(head)
            if rec is None:
                names = ", ".join(repr(plain(n, keep="")) for n in sorted(known)[:10]) or "none"
                names += ", ..." if len(known) > 10 else ""
                raise SignificanceError(f"unknown head {plain(head, keep='')!r}: no record of it on "
                                        f"{emb_set.ref} in {results_dir} (known: {names})")
        name = rec["submission"]["name"]
        if name in seen:
            continue
        seen.add(name)
        out.append(_Head(name, is_reference(rec), rows.credit(raw_scores(name, results_dir, emb_set))))
    return out


# -- the paired bootstrap ----------------------------------------------------------------------
@dataclass(frozen=True)
class Delta:
    """One paired difference: ``delta`` (fraction, A − B), its 95% ``ci95``, two-sided ``p_value``."""

    delta: float
    ci95: tuple[float, float]
    p_value: float

    @property
    def significant(self) -> bool:
        """True iff the 95% CI excludes 0."""
        return not self.ci95[0] <= 0.0 <= self.ci95[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``{"delta", "ci95", "p_value", "significant"}``."""
        return {"delta": self.delta, "ci95": list(self.ci95), "p_value": self.p_value,
                "significant": self.significant}


@dataclass(frozen=True)
class PairedDelta:
    """Head ``head`` against ``other`` on the same items: Δ of the overall and of each section."""

    head: str
    other: str
    suite: str
    overall: Delta
    sections: dict[str, Delta] = field(default_factory=dict)
    n_items: int = 0
    n_boot: int = 0
    seed: int = 0

    @property
    def delta(self) -> float:
        """Δ of the overall (head − other, a fraction)."""
        return self.overall.delta

    @property
    def ci95(self) -> tuple[float, float]:
        return self.overall.ci95

    @property
    def p_value(self) -> float:
        return self.overall.p_value

    @property
    def significant(self) -> bool:
        return self.overall.significant

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (every Δ a fraction, not points)."""
        return {"head": self.head, "other": self.other, "suite": self.suite,
                **self.overall.to_dict(),
                "sections": {k: v.to_dict() for k, v in self.sections.items()},
                "n_items": self.n_items, "n_boot": self.n_boot, "seed": self.seed,
                "method": "paired percentile bootstrap, items resampled within each subset"}


def _subset_values(credits: Sequence[Credit], name: str, idx: np.ndarray) -> np.ndarray:
    """``(heads, ...)`` score of subset ``name`` for index array ``idx`` (last axis: units)."""
    if name in credits[0].composite:  # Ties: weighted sum of NaN-skipping component means
        out = []
        for cr in credits:
            parts = cr.parts[idx]
            present = ~np.isnan(parts)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(present, parts, 0.0).sum(axis=-2) / present.sum(axis=-2)
            out.append(means @ _TIES_W)
        return np.stack(out)
    return np.stack([cr.credit for cr in credits])[:, idx].mean(axis=-1)


def replicates(credits: Sequence[Credit], suite: Suite | str, n_boot: int = 1000,
               seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Point and bootstrap scores of every head, one shared set of stratified resamples.

    Returns ``{level: (point (heads,), replicates (heads, n_boot))}`` for each section present and
    ``"Overall"`` (when every overall section is present); subsets outside the suite are ignored.
    """
    suite = _item_suite(suite)
    if n_boot < 1:
        raise SignificanceError(f"n_boot must be at least 1, got {n_boot}")
    first = credits[0]
    for cr in credits[1:]:
        if not (np.array_equal(cr.item_ids, first.item_ids)
                and np.array_equal(cr.item_subset, first.item_subset)):
            raise SignificanceError("paired tests need every head's credit on the same items")
    names = [str(n) for n in np.unique(first.item_subset) if suite.section_of(str(n))]
    rng = np.random.default_rng(seed)
    point = np.empty((len(credits), len(names)))
    reps = np.empty((len(credits), n_boot, len(names)))
    for j, name in enumerate(names):
        rows = np.flatnonzero(first.item_subset == name)
        resampled = rows[rng.integers(0, len(rows), size=(n_boot, len(rows)))]
        point[:, j] = _subset_values(credits, name, rows)
        reps[:, :, j] = _subset_values(credits, name, resampled)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for section, subsets in suite.sections.items():
        cols = [j for j, n in enumerate(names) if n in subsets]
        if cols:
            w = np.array([suite.weight(names[j], first.item_counts) for j in cols])
            out[section] = (point[:, cols] @ w / w.sum(), reps[:, :, cols] @ w / w.sum())
    overall = [s for s in suite.overall_sections if s in out]
    if overall and (len(overall) == len(suite.overall_sections)
                    or getattr(suite, "overall_of_present", False)):
        out[OVERALL] = (np.mean([out[s][0] for s in overall], axis=0),
                        np.mean([out[s][1] for s in overall], axis=0))
    return out


def delta_of(point_a: float, point_b: float, reps_a: np.ndarray, reps_b: np.ndarray) -> Delta:
    """:class:`Delta` of A − B from their point values and paired replicates."""
    diff = np.asarray(reps_a) - np.asarray(reps_b)
    lo, hi = np.percentile(diff, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    n = diff.size
    tails = ((1 + np.sum(diff <= 0)) / (1 + n), (1 + np.sum(diff >= 0)) / (1 + n))
    return Delta(float(point_a - point_b), (float(lo), float(hi)), float(min(1.0, 2 * min(tails))))


def _pair(reps, i: int, j: int, names: Sequence[str], suite: Suite, n_items: int, n_boot: int,
          seed: int) -> PairedDelta:
    deltas = {level: delta_of(p[i], p[j], r[i], r[j]) for level, (p, r) in reps.items()}
    if OVERALL not in deltas:
        raise SignificanceError(f"suite {suite.name}: the set lacks whole sections, so there is no "
                                "overall to compare")
    overall = deltas.pop(OVERALL)
    return PairedDelta(names[i], names[j], suite.name, overall, deltas, n_items, n_boot, seed)


def paired_delta(credit_a: Credit, credit_b: Credit, suite: Suite | str = DEFAULT_SUITE, *,
                 n_boot: int = 1000, seed: int = 0, names: tuple[str, str] = ("A", "B")) -> PairedDelta:
    """The stratified paired bootstrap of A − B on the same items (see the module docstring)."""
    suite = _item_suite(suite)
    reps = replicates([credit_a, credit_b], suite, n_boot, seed)
    return _pair(reps, 0, 1, names, suite, len(credit_a), n_boot, seed)


# -- the board's questions ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    """Heads in rank order (best seed-averaged overall first) and their shared replicates."""

    heads: list[_Head]
    suite: Suite
    reps: dict[str, tuple[np.ndarray, np.ndarray]]
    n_boot: int
    seed: int

    @classmethod
    def of(cls, heads, results_dir, emb_set, suite, n_boot: int, seed: int) -> _Field:
        suite = _item_suite(suite)
        loaded = _heads(heads, results_dir, emb_set, suite)
        if not loaded:
            raise SignificanceError("no head with an ok result to compare")
        reps = replicates([h.credit for h in loaded], suite, n_boot, seed)
        if OVERALL not in reps:
            raise SignificanceError(f"suite {suite.name}: the set lacks whole sections, so there "
                                    "is no overall to compare")
        order = sorted(range(len(loaded)), key=lambda i: (-reps[OVERALL][0][i], loaded[i].name))
        reps = {k: (p[order], r[order]) for k, (p, r) in reps.items()}
        return cls([loaded[i] for i in order], suite, reps, n_boot, seed)

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.heads]

    def pair(self, i: int, j: int) -> PairedDelta:
        return _pair(self.reps, i, j, self.names, self.suite, len(self.heads[0].credit),
                     self.n_boot, self.seed)

    def leader(self) -> int:
        for i, head in enumerate(self.heads):
            if not head.reference:
                return i
        raise SignificanceError("every head is a reference head; there is no leader to rank by")


def versus_leader(heads: Iterable[dict[str, Any] | str], results_dir: str | Path,
                  emb_set: EmbeddingSet, suite: Suite | str = DEFAULT_SUITE, *,
                  n_boot: int = 1000, seed: int = 0) -> dict[str, PairedDelta]:
    """Every head (reference heads too) against the leader, head − leader, in rank order.

    The leader is the best non-reference head; its own entry has Δ = 0, p = 1. A head with
    ``significant`` False is "not significantly different from #1" (its CI contains 0).
    """
    return _versus_leader(_Field.of(heads, results_dir, emb_set, suite, n_boot, seed))


def _versus_leader(board: _Field) -> dict[str, PairedDelta]:
    lead = board.leader()
    return {name: board.pair(i, lead) for i, name in enumerate(board.names)}


def tiers(heads: Iterable[dict[str, Any] | str], results_dir: str | Path, emb_set: EmbeddingSet,
          suite: Suite | str = DEFAULT_SUITE, *, n_boot: int = 1000,
          seed: int = 0) -> dict[str, int | None]:
    """Tier of every head: 1, 2, ... for ranked heads, None for reference heads.

    Greedy from the top, over non-reference heads in rank order: tier 1 is the leader and every
    head not significantly different from it; tier 2 starts at the best head left and takes every
    remaining head not significantly different from *that* head; and so on. Each tier is thus
    the heads indistinguishable from the best of their tier (a rare head whose CI is wide may join
    a tier above one ranked higher than it).
    """
    return _tiers(_Field.of(heads, results_dir, emb_set, suite, n_boot, seed))


def _tiers(board: _Field) -> dict[str, int | None]:
    out: dict[str, int | None] = {h.name: None for h in board.heads}
    left = [i for i, h in enumerate(board.heads) if not h.reference]
    tier = 0
    while left:
        tier += 1
        top, rest = left[0], left[1:]
        members = [top] + [i for i in rest if not board.pair(i, top).significant]
        for i in members:
            out[board.heads[i].name] = tier
        left = [i for i in rest if i not in members]
    return out


def compare(a: str, b: str, results_dir: str | Path, emb_set: EmbeddingSet,
            suite: Suite | str = DEFAULT_SUITE, *, n_boot: int = 1000, seed: int = 0) -> PairedDelta:
    """Head ``a`` − head ``b`` (names of records) on the same items, overall and per section."""
    if a == b:
        raise SignificanceError(f"compare needs two different heads, got {plain(a, keep='')!r} twice")
    board = _Field.of([a, b], results_dir, emb_set, suite, n_boot, seed)
    i, j = board.names.index(a), board.names.index(b)
    return board.pair(i, j)


@dataclass(frozen=True)
class PairwiseMatrix:
    """Overall Δ of every pair, heads in rank order: cell ``[i, j]`` is head i − head j."""

    names: list[str]
    reference: list[bool]
    overall: np.ndarray
    delta: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    p_value: np.ndarray
    suite: str
    n_boot: int

    @property
    def significant(self) -> np.ndarray:
        """``(n, n)`` booleans: the pair's 95% CI excludes 0 (the diagonal is False)."""
        return (self.ci_low > 0) | (self.ci_high < 0)


def pairwise(heads: Iterable[dict[str, Any] | str], results_dir: str | Path,
             emb_set: EmbeddingSet, suite: Suite | str = DEFAULT_SUITE, *, n_boot: int = 1000,
             seed: int = 0) -> PairwiseMatrix:
    """The paired overall Δ of every pair of heads (reference heads included, flagged)."""
    return _pairwise(_Field.of(heads, results_dir, emb_set, suite, n_boot, seed))


def _pairwise(board: _Field) -> PairwiseMatrix:
    point, reps = board.reps[OVERALL]
    n = len(board.heads)
    cells = {k: np.zeros((n, n)) for k in ("delta", "lo", "hi")}
    p = np.ones((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                d = delta_of(point[i], point[j], reps[i], reps[j])
                cells["delta"][i, j], (cells["lo"][i, j], cells["hi"][i, j]) = d.delta, d.ci95
                p[i, j] = d.p_value
    return PairwiseMatrix(board.names, [h.reference for h in board.heads], point.copy(),
                          cells["delta"], cells["lo"], cells["hi"], p, board.suite.name, board.n_boot)


def board_statistics(heads: Iterable[dict[str, Any] | str], results_dir: str | Path,
                     emb_set: EmbeddingSet, suite: Suite | str = DEFAULT_SUITE, *, n_boot: int = 1000,
                     seed: int = 0) -> tuple[dict[str, PairedDelta], dict[str, int | None], PairwiseMatrix]:
    """:func:`versus_leader`, :func:`tiers` and :func:`pairwise` from one reading of the raw scores
    and one set of resamples (what a leaderboard table needs), equal to calling the three."""
    board = _Field.of(heads, results_dir, emb_set, suite, n_boot, seed)
    return _versus_leader(board), _tiers(board), _pairwise(board)


def comparison_text(result: PairedDelta, set_ref: str = "") -> str:
    """``result`` as the lines ``rewardheads compare`` prints: per section, then overall, Δ in
    points with its 95% CI, two-sided p and whether it is significant; names terminal-safe."""
    from tabulate import tabulate

    from harness.textsafe import terminal

    suite = get_suite(result.suite)
    rows = [[terminal(name), _points(d.delta), f"[{_points(d.ci95[0])}, {_points(d.ci95[1])}]",
             f"{d.p_value:.3f}", "yes" if d.significant else "no"]
            for name, d in [*result.sections.items(), (OVERALL, result.overall)]]
    where = f" on {terminal(set_ref)}" if set_ref else ""
    head = (f"{terminal(result.head)} − {terminal(result.other)}{where}, {terminal(suite.name)}: "
            f"paired bootstrap on the same {result.n_items} items ({result.n_boot} resamples "
            "within each subset, seed-averaged credit)")
    table = tabulate(rows, headers=["", "Δ (points)", "95% CI", "p", "significant"],
                     tablefmt="github", colalign=("left", "right", "right", "right", "left"),
                     disable_numparse=True)
    foot = (f"{OVERALL}: {terminal(suite.overall_label)}. Significant: the 95% CI of Δ excludes 0; "
            f"p is two-sided (smallest possible: {2 / (result.n_boot + 1):.3f}).")
    return f"{head}\n{table}\n{foot}\n"


# -- the heat map ------------------------------------------------------------------------------
_CELL, _NAME_CHARS, _CHAR_W, _FONT = 46, 30, 6.6, 11
_BETTER, _WORSE = (59, 111, 216), (224, 123, 57)  # row better than column: blue; worse: orange


def svg_text(text: Any, limit: int | None = None) -> str:
    """Untrusted ``text`` ready for SVG character data or an attribute: no control characters or
    bidi overrides (:func:`harness.textsafe.plain`), cut to ``limit`` characters, XML-escaped."""
    from markupsafe import escape

    text = plain(text, keep="")
    if limit is not None and len(text) > limit:
        text = text[:limit - 1].rstrip() + "…"
    return str(escape(text))


def _points(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "−")


def pairwise_heatmap_svg(matrix: PairwiseMatrix, *, label: str = "Pairwise overall difference",
                         id_prefix: str = "pairwise-") -> str | None:
    """The pairwise matrix as an inline ``<svg>``: cell (row, column) = row − column, overall, points.

    Heads in rank order; a filled, bold cell is significant (its 95% CI excludes 0), a pale one is
    not; blue: the row head is better, orange: worse. Reference heads' names are in italics.
    Every cell has a ``<title>`` with the two names, Δ, the CI and p. Names are untrusted and
    escaped (:func:`svg_text`); ``label`` becomes the ``aria-label``. None for fewer than 2 heads.
    """
    n = len(matrix.names)
    if n < 2:
        return None
    left = 12 + _CHAR_W * min(_NAME_CHARS, 4 + max(len(plain(s, keep="")) for s in matrix.names))
    top, width = 26, left + n * _CELL + 8
    height = top + n * _CELL + 46
    scale = max(float(np.abs(matrix.delta).max()), 1e-9)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height}" '
           f'role="img" aria-label="{svg_text(label)}" font-family="sans-serif" font-size="{_FONT}">']
    for j in range(n):
        x = left + j * _CELL + _CELL / 2
        out.append(f'<text x="{x:.1f}" y="{top - 8}" text-anchor="middle" fill="#4b5563">{j + 1}</text>')
    for i, name in enumerate(matrix.names):
        y = top + i * _CELL
        style = ' font-style="italic"' if matrix.reference[i] else ""
        out.append(f'<text x="{left - 8:.1f}" y="{y + _CELL / 2 + 4:.1f}" text-anchor="end" '
                   f'fill="#1f2937"{style}>{i + 1}. {svg_text(name, _NAME_CHARS)}</text>')
        for j, other in enumerate(matrix.names):
            x = left + j * _CELL
            cell = f'x="{x:.1f}" y="{y}" width="{_CELL - 2}" height="{_CELL - 2}"'
            if i == j:
                out.append(f'<rect id="{svg_text(id_prefix)}{i}-{j}" {cell} fill="#f9fafb"/>')
                continue
            d, sig = matrix.delta[i, j], bool(matrix.significant[i, j])
            rgb = _BETTER if d > 0 else _WORSE
            alpha = 0.25 + 0.75 * abs(d) / scale if sig else 0.0
            fill = f"rgba({rgb[0]},{rgb[1]},{rgb[2]},{alpha:.2f})" if sig else "#f3f4f6"
            title = (f"{svg_text(name)} − {svg_text(other)}: {_points(d)} points, 95% CI "
                     f"[{_points(matrix.ci_low[i, j])}, {_points(matrix.ci_high[i, j])}], "
                     f"p = {matrix.p_value[i, j]:.3f}, "
                     f"{'significant' if sig else 'not significantly different'}")
            weight = ' font-weight="bold" fill="#111827"' if sig else ' fill="#9ca3af"'
            out.append(f'<g><title>{title}</title><rect id="{svg_text(id_prefix)}{i}-{j}" {cell} '
                       f'fill="{fill}"/><text x="{x + _CELL / 2 - 1:.1f}" y="{y + _CELL / 2 + 3:.1f}" '
                       f'text-anchor="middle" font-size="10"{weight}>{_points(d)}</text></g>')
    y = top + n * _CELL + 16
    out.append(f'<text x="4" y="{y}" fill="#374151">Cell: row − column, overall, points '
               f'(paired bootstrap, {matrix.n_boot} resamples). Bold, filled: 95% CI excludes 0.</text>')
    out.append(f'<text x="4" y="{y + 16}" fill="#374151">Blue: row better; orange: row worse; '
               'pale: not significantly different. Italics: reference heads.</text>')
    return "".join(out) + "</svg>"

__all__ = ["Delta", "PairedDelta", "PairwiseMatrix", "SignificanceError", "SuiteRows", "compare",
           "comparison_text",
           "delta_of", "head_credit", "is_reference", "pairwise", "pairwise_heatmap_svg",
           "paired_delta", "raw_path", "raw_scores", "replicates", "set_records", "svg_text",
           "tiers", "versus_leader"]
