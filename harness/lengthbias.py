"""Length bias: does a head reward long answers rather than good ones?

Two numbers per head, both on the RewardBench v1 pairs of a set (the test rows whose subset is
in one of the overall's sections: Chat, Chat Hard, Safety, Reasoning; Prior Sets are left out),
with response lengths from each test split's ``meta["response_tokens"]``:

* ``spearman``: the Spearman rank correlation of the head's scores with response length over
  all those rows, computed per training seed and averaged (None when a seed's scores are
  constant);
* ``acc_longer`` / ``acc_shorter``: the head's accuracy (seed-averaged credit, a plain mean over
  pairs, not the suite's weighted overall) on the pairs where the chosen response is the longer
  one, and on those where it is the shorter one; pairs of equal length go to neither group.
  ``gap = acc_longer − acc_shorter`` is the board's column: about 0 for a head blind to length,
  +1 for one that only counts tokens.

Public: :func:`length_bias` (per head, from records or names + the results folder + the set, as
:func:`harness.significance.versus_leader` takes them), :func:`length_bias_of_scores` (one head's
raw ``(seeds, rows)`` scores) and :func:`length_gap_svg` (a bar chart of the gap per head).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet
from harness.significance import SuiteRows, raw_scores, set_records, svg_text
from harness.textsafe import plain

SUITE = "rewardbench-v1"


@dataclass(frozen=True)
class LengthBias:
    """Length bias of one head (accuracies and gap are fractions; None where a group is empty)."""

    name: str
    spearman: float | None
    acc_longer: float | None
    acc_shorter: float | None
    gap: float | None
    n_longer: int
    n_shorter: int
    n_equal: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields."""
        return asdict(self)


def _spearman(scores: np.ndarray, tokens: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if np.ptp(scores) == 0 or np.ptp(tokens) == 0:
        return None
    return float(spearmanr(scores, tokens).statistic)


def _v1_rows(emb_set: EmbeddingSet) -> SuiteRows:
    """The suite's rows restricted to the subsets of its overall sections."""
    rows = SuiteRows.of(emb_set, SUITE)
    suite = rows.suite
    keep = np.array([suite.section_of(s) in suite.overall_sections for s in rows.subset], bool)
    return SuiteRows(suite, *(getattr(rows, k)[keep] for k in
                              ("index", "item", "chosen", "subset", "ids", "tokens")))


def length_bias_of_scores(name: str, scores: np.ndarray, rows: SuiteRows) -> LengthBias:
    """:class:`LengthBias` of raw ``(seeds, all test rows)`` scores on the pairs of ``rows``."""
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    per_seed = [_spearman(s[rows.index], rows.tokens) for s in scores]
    spearman = None if any(r is None for r in per_seed) else float(np.mean(per_seed))
    credit = rows.credit(scores)
    # per item: tokens of the chosen row minus tokens of the rejected row
    items, inv = np.unique(rows.item, return_inverse=True)
    diff = np.zeros(len(items))
    np.add.at(diff, inv, np.where(rows.chosen, rows.tokens, -rows.tokens))
    by_item = dict(zip(items.tolist(), diff, strict=True))
    sign = np.sign([by_item[int(i)] for i in credit.item_ids])
    groups = {k: credit.credit[sign == v] for k, v in (("longer", 1), ("shorter", -1))}
    acc = {k: float(v.mean()) if len(v) else None for k, v in groups.items()}
    gap = None if None in acc.values() else acc["longer"] - acc["shorter"]
    return LengthBias(name, spearman, acc["longer"], acc["shorter"], gap, len(groups["longer"]),
                      len(groups["shorter"]), int(np.sum(sign == 0)))


def length_bias(heads: Iterable[dict[str, Any] | str], results_dir: str | Path,
                emb_set: EmbeddingSet) -> dict[str, LengthBias]:
    """Length bias of every head (records that are not ``ok`` are skipped), in the given order.

    A name without a record, or a head without raw scores, is one
    :class:`harness.significance.SignificanceError` line.
    """
    from harness.significance import SignificanceError

    rows = _v1_rows(emb_set)
    known: Mapping[str, dict[str, Any]] | None = None
    out: dict[str, LengthBias] = {}
    for head in heads:
        if isinstance(head, dict):
            if head.get("status") != "ok":
                continue
            name = head["submission"]["name"]
        else:
            known = set_records(results_dir, emb_set) if known is None else known
            if head not in known:
                raise SignificanceError(f"unknown head {plain(head, keep='')!r}: no record of it on "
                                        f"{emb_set.ref} in {results_dir}")
            name = head
        out[name] = length_bias_of_scores(name, raw_scores(name, results_dir, emb_set), rows)
    return out


# -- the plot ----------------------------------------------------------------------------------
_ROW, _NAME_CHARS, _CHAR_W, _BAR_W = 22, 30, 6.6, 260


def length_gap_svg(biases: Mapping[str, LengthBias] | Iterable[LengthBias], *,
                   label: str = "Accuracy gap, chosen longer minus chosen shorter",
                   id_prefix: str = "lengthgap-") -> str | None:
    """An inline ``<svg>`` bar chart of each head's gap (points), bars from a zero line.

    Heads in the given order; a head without a gap gets "n/a". Names are untrusted and
    escaped (:func:`harness.significance.svg_text`). None when there is nothing to draw.
    """
    items = list(biases.values()) if isinstance(biases, Mapping) else list(biases)
    if not items:
        return None
    left = 12 + _CHAR_W * min(_NAME_CHARS, max(len(plain(b.name, keep="")) for b in items))
    zero = left + 40 + _BAR_W / 2
    width, top = zero + _BAR_W / 2 + 60, 22
    height = top + len(items) * _ROW + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height}" '
           f'role="img" aria-label="{svg_text(label)}" font-family="sans-serif" font-size="11">',
           f'<text x="{zero - _BAR_W / 2:.1f}" y="14" fill="#4b5563">−100</text>',
           f'<text x="{zero:.1f}" y="14" text-anchor="middle" fill="#4b5563">0</text>',
           f'<text x="{zero + _BAR_W / 2:.1f}" y="14" text-anchor="end" fill="#4b5563">+100</text>']
    for k, b in enumerate(items):
        y = top + k * _ROW
        out.append(f'<text x="{left:.1f}" y="{y + 15}" text-anchor="end" fill="#1f2937">'
                   f'{svg_text(b.name, _NAME_CHARS)}</text>')
        if b.gap is None:
            out.append(f'<text x="{zero + 4:.1f}" y="{y + 15}" fill="#9ca3af">n/a</text>')
            continue
        w = abs(b.gap) * _BAR_W / 2
        x = zero if b.gap >= 0 else zero - w
        colour = "#e07b39" if b.gap > 0 else "#3b6fd8"
        tip = (f"{svg_text(b.name)}: gap {100 * b.gap:+.1f} points (chosen longer "
               f"{100 * b.acc_longer:.1f}% of {b.n_longer}, chosen shorter "
               f"{100 * b.acc_shorter:.1f}% of {b.n_shorter})")
        out.append(f'<g><title>{tip}</title><rect id="{svg_text(id_prefix)}{k}" x="{x:.1f}" '
                   f'y="{y + 4}" width="{max(w, 0.5):.1f}" height="{_ROW - 8}" fill="{colour}"/>'
                   f'<text x="{zero + _BAR_W / 2 + 6:.1f}" y="{y + 15}" fill="#374151">'
                   f'{100 * b.gap:+.1f}</text></g>')
    y = top + len(items) * _ROW
    out.append(f'<line x1="{zero:.1f}" y1="{top}" x2="{zero:.1f}" y2="{y}" stroke="#9ca3af"/>')
    out.append(f'<text x="4" y="{y + 18}" fill="#374151">Accuracy on pairs whose chosen response '
               'is longer minus on those where it is shorter (points).</text>')
    out.append(f'<text x="4" y="{y + 34}" fill="#374151">Right: favours longer responses; 0: '
               'blind to length.</text>')
    return "".join(out) + "</svg>"


__all__ = ["LengthBias", "length_bias", "length_bias_of_scores", "length_gap_svg"]
