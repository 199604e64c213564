"""Is a head's rank a property of the head or of the backbone? ``rewardheads study backbones``.

Two sets that embed the *same texts* (same splits, same rows, same order) with two different
models give, for every head, two scores on the same items. The study reads the heads' results
on both sets (run them first with ``rewardheads run --set ...``), and reports, per suite and per
section:

* Kendall's τ between the two rankings of the ranked heads (reference heads excluded), with a
  95% percentile interval from a stratified bootstrap over items: the *same* resampled items on
  both sets, every head's score recomputed by the suite's rules in each replicate
  (:func:`harness.significance.replicates`), τ computed per replicate;
* each head's gain or loss from the first backbone to the second: Δ = score(second) −
  score(first) on the same items, with its paired 95% CI, and its rank on each.

The report (Markdown) and its plot are written to ``docs/``; every number in them is computed
from the result records and raw scores in that run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.fileio import atomic_write_bytes
from harness.significance import (
    OVERALL,
    Delta,
    SuiteRows,
    delta_of,
    head_credit,
    is_reference,
    replicates,
    set_records,
)
from harness.textsafe import plain

SUITES = ("rewardbench-v1", "in-distribution")
LEVEL = 0.95


class StudyError(HarnessError):
    """Inputs the backbone study cannot compare; one line saying which."""


@dataclass(frozen=True)
class Tau:
    """Kendall's τ of two rankings, with a bootstrap interval."""

    tau: float
    ci95: tuple[float, float]


@dataclass(frozen=True)
class HeadShift:
    """One head on both backbones: scores, ranks (None for reference heads) and the paired Δ."""

    name: str
    reference: bool
    first: float
    second: float
    rank_first: int | None
    rank_second: int | None
    delta: Delta


@dataclass(frozen=True)
class LevelResult:
    """One section (or the overall) of one suite."""

    level: str
    tau: Tau | None  # None when fewer than three ranked heads
    heads: list[HeadShift]


def kendall_tau(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall's τ-b of two score vectors (ties counted as neither concordant nor discordant)."""
    from scipy.stats import kendalltau

    value = kendalltau(a, b).statistic
    return float(value) if np.isfinite(value) else 0.0


def _ranks(values: np.ndarray) -> list[int]:
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values), int)
    ranks[order] = np.arange(1, len(values) + 1)
    return ranks.tolist()


def check_same_texts(first: EmbeddingSet, second: EmbeddingSet) -> None:
    """Both sets must hold the same test rows in the same order (else items do not pair)."""
    a, b = first.test_splits(), second.test_splits()
    if a != b:
        raise StudyError(f"{first.ref} and {second.ref} have different test splits ({', '.join(a)} vs "
                         f"{', '.join(b)}): build both from the same recipe splits")
    for name in a:
        ma, mb = first.split(name).meta, second.split(name).meta
        for column in ("id", "subset", "item"):
            if not np.array_equal(ma[column].astype(str).to_numpy(), mb[column].astype(str).to_numpy()):
                raise StudyError(f"{first.ref} and {second.ref}: split {name} differs in its rows ({column}); "
                                 "the study needs the same texts in the same order")


def compare_suite(first: EmbeddingSet, second: EmbeddingSet, results: Path, suite: str, *,
                  n_boot: int = 1000, seed: int = 0) -> list[LevelResult]:
    """τ and per-head shifts for every section of ``suite`` and its overall."""
    rec_a, rec_b = set_records(results, first), set_records(results, second)
    names = sorted(n for n in rec_a if n in rec_b and rec_a[n].get("status") == "ok"
                   and rec_b[n].get("status") == "ok")
    if len(names) < 2:
        raise StudyError(f"fewer than two heads have ok results on both {first.ref} and {second.ref} in "
                         f"{results}; run them with `rewardheads run --set ...` first")
    reference = np.array([is_reference(rec_a[n]) for n in names])
    credits = [head_credit(n, results, first, suite) for n in names]
    credits += [head_credit(n, results, second, suite) for n in names]
    reps = replicates(credits, suite, n_boot=n_boot, seed=seed)
    k = len(names)
    out = []
    for level, (point, rep) in reps.items():
        pa, pb, ra, rb = point[:k], point[k:], rep[:k], rep[k:]
        ranked = ~reference
        tau = None
        if ranked.sum() >= 3:
            boot = np.array([kendall_tau(ra[ranked, j], rb[ranked, j]) for j in range(rep.shape[1])])
            lo, hi = np.percentile(boot, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
            tau = Tau(kendall_tau(pa[ranked], pb[ranked]), (float(lo), float(hi)))
        rank_a = dict(zip(np.array(names)[ranked], _ranks(pa[ranked]), strict=True))
        rank_b = dict(zip(np.array(names)[ranked], _ranks(pb[ranked]), strict=True))
        heads = [HeadShift(n, bool(reference[i]), float(pa[i]), float(pb[i]), rank_a.get(n), rank_b.get(n),
                           delta_of(pb[i], pa[i], rb[i], ra[i])) for i, n in enumerate(names)]
        out.append(LevelResult(level, tau, heads))
    out.sort(key=lambda r: (r.level != OVERALL,))
    return out


def run_backbone_study(first: EmbeddingSet, second: EmbeddingSet, results: Path, out: Path, *,
                       n_boot: int = 1000, seed: int = 0, command: str = "") -> Path:
    """Compare, plot and write ``out/backbone-study.md`` (+ ``.png``); returns the report's path."""
    check_same_texts(first, second)
    studied: dict[str, list[LevelResult]] = {}
    for suite in SUITES:
        try:
            SuiteRows.of(first, suite)
        except HarnessError:
            continue  # the sets carry no test split of this suite
        studied[suite] = compare_suite(first, second, results, suite, n_boot=n_boot, seed=seed)
    if not studied:
        raise StudyError(f"{first.ref} carries none of the suites {', '.join(SUITES)}")
    atomic_write_bytes(out / "backbone-study.png", plot(first, second, studied))
    text = report(first, second, studied, "backbone-study.png", command, results, n_boot)
    path = out / "backbone-study.md"
    atomic_write_bytes(path, text.encode())
    return path


def _model(emb_set: EmbeddingSet) -> str:
    return plain(emb_set.manifest.get("model", {}).get("id", "unknown"), keep="")


def plot(first: EmbeddingSet, second: EmbeddingSet, studied: dict[str, list[LevelResult]]) -> bytes:
    """Left: each head's overall on both backbones (lines join a head). Right: τ per level, 95% CI."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = next(iter(studied.values()))
    overall = next(r for r in main if r.level == OVERALL) if any(r.level == OVERALL for r in main) else main[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [2, 3]})
    for h in overall.heads:
        style = {"color": "grey", "ls": ":"} if h.reference else {}
        left.plot([0, 1], [h.first, h.second], marker="o", ms=4, **style)
        left.annotate(plain(h.name, keep="")[:24], (1, h.second), xytext=(4, 0), textcoords="offset points",
                      fontsize=7, va="center")
    left.set_xticks([0, 1], [first.ref, second.ref])
    left.set_xlim(-0.2, 1.6)
    left.set_ylabel(f"{next(iter(studied))} {overall.level} (mean over seeds)")
    left.axhline(0.5, color="grey", lw=0.8, ls=":")
    labels, taus, errs = [], [], []
    for suite, levels in studied.items():
        for r in levels:
            if r.tau is None:
                continue
            labels.append(f"{suite}: {r.level}")
            taus.append(r.tau.tau)
            errs.append([r.tau.tau - r.tau.ci95[0], r.tau.ci95[1] - r.tau.tau])
    y = np.arange(len(labels))[::-1]
    right.errorbar(taus, y, xerr=np.array(errs).T if errs else None, fmt="o", capsize=3)
    right.axvline(0, color="grey", lw=0.8)
    right.set_yticks(y, labels, fontsize=8)
    right.set_xlim(-1.05, 1.05)
    right.set_xlabel(f"Kendall τ between the rankings on {first.ref} and {second.ref} (95% CI)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    plt.close(fig)
    return buf.getvalue()


def _pts(x: float) -> str:
    return f"{100 * x:.1f}"


def report(first: EmbeddingSet, second: EmbeddingSet, studied: dict[str, list[LevelResult]], figure: str,
           command: str, results: Path, n_boot: int) -> str:
    """The Markdown report."""
    lines = [
        "# Is a head's rank a property of the head or of the backbone?",
        "",
        f"The same texts embedded by two models: `{first.ref}` ({_model(first)}) and `{second.ref}` "
        f"({_model(second)}). Generated {datetime.now(UTC).strftime('%Y-%m-%d')} by `{command}` from the "
        f"records and raw scores in `{results}/`.",
        "",
        "Kendall's τ compares the two rankings of the ranked heads (reference heads excluded); its 95% CI "
        f"comes from {n_boot:,} stratified bootstrap resamples of the items, the same items on both sets, "
        "every head rescored by the suite's rules in each. Δ is a head's score on the second backbone minus "
        "the first, on the same items, with its paired 95% CI. Scores are in points (accuracy × 100).",
        "",
        f"![backbone study]({figure})",
        "",
    ]
    for suite, levels in studied.items():
        lines += [f"## {suite}", "", "| level | Kendall τ [95% CI] |", "|---|---:|"]
        for r in levels:
            cell = "(fewer than 3 heads)" if r.tau is None else (
                f"{r.tau.tau:+.2f} [{r.tau.ci95[0]:+.2f}, {r.tau.ci95[1]:+.2f}]")
            lines.append(f"| {r.level} | {cell} |")
        lines += ["", f"Per head ({levels[0].level}; rank on each backbone, Δ = second − first):", "",
                  f"| head | {first.ref} | rank | {second.ref} | rank | Δ [95% CI] |",
                  "|---|---:|---:|---:|---:|---:|"]
        for h in sorted(levels[0].heads, key=lambda h: (h.reference, h.rank_first or 0)):
            name = plain(h.name, keep="").replace("|", "\\|")
            d = h.delta
            lines.append(
                f"| `{name}`{' (reference)' if h.reference else ''} | {_pts(h.first)} | {h.rank_first or '–'} | "
                f"{_pts(h.second)} | {h.rank_second or '–'} | {100 * d.delta:+.1f} "
                f"[{100 * d.ci95[0]:+.1f}, {100 * d.ci95[1]:+.1f}] |")
        sections = [r for r in levels if r.level != OVERALL]
        if sections:
            lines += ["", "Δ per section (second − first, points; * where the 95% CI excludes 0):", "",
                      "| head | " + " | ".join(r.level for r in sections) + " |",
                      "|---|" + "---:|" * len(sections)]
            for i, h in enumerate(levels[0].heads):
                cells = []
                for r in sections:
                    d = r.heads[i].delta
                    mark = "*" if d.ci95[0] > 0 or d.ci95[1] < 0 else ""
                    cells.append(f"{100 * d.delta:+.1f}{mark}")
                lines.append(f"| `{plain(h.name, keep='').replace('|', chr(92) + '|')}` | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## What the numbers say", ""]
    for suite, levels in studied.items():
        for r in levels:
            if r.tau is None:
                continue
            lo, hi = r.tau.ci95
            verdict = ("the rankings agree more than chance" if lo > 0 else
                       "the rankings disagree" if hi < 0 else
                       "the rankings are not distinguishable from unrelated ones")
            lines.append(f"* {suite}, {r.level}: τ = {r.tau.tau:+.2f} [{lo:+.2f}, {hi:+.2f}]: {verdict}.")
    ranked = sum(not h.reference for h in next(iter(studied.values()))[0].heads)
    step = 2 / max(1, ranked * (ranked - 1) // 2)
    lines += ["", f"The interval reflects the finite test items only, not other training data or seeds; with "
              f"{ranked} ranked heads one swapped pair moves τ by {step:.2f}, so τ is coarse. Regenerate with "
              "the command above.", ""]
    return "\n".join(lines)


def summary(studied: dict[str, list[LevelResult]]) -> dict[str, Any]:
    """Plain numbers (for tests and notes): ``{suite: {level: (tau, lo, hi)}}``."""
    return {suite: {r.level: None if r.tau is None else (r.tau.tau, *r.tau.ci95) for r in levels}
            for suite, levels in studied.items()}
