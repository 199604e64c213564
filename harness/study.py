"""Studies built from result records: do reward-model ensembles beat a single head?

``rewardheads study ensembles`` runs a single Bradley–Terry MLP and its ensembles (mean, min,
mean − λ·std) over several seeds on one set, then compares each ensemble with the single head
by a paired bootstrap over the same pairs, per section and overall, and writes a Markdown
report with a plot. The numbers in the report are computed in that run, never typed in.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.evaluation import PRIMARY_SUITE, ScoringMatrix, _credit_by_suite
from harness.fileio import atomic_write_bytes
from harness.runner import Runner, RunOptions
from harness.scoring import Credit, mean_credit, paired_bootstrap

SINGLE = "bt_mlp"
ENSEMBLES = ("bt_ensemble@mean", "bt_ensemble@min", "bt_ensemble@uwo")  # the variants of one folder
SECTIONS = ("Chat", "Chat Hard", "Safety", "Reasoning")


def seed_averaged_credit(raw_file: Path, matrix: ScoringMatrix) -> Credit:
    """Per-item credit of one head, averaged over its seeds (primary suite)."""
    return mean_credit([_credit_by_suite(matrix, s)[PRIMARY_SUITE] for s in np.load(raw_file)["scores"]])


def compare(emb_set: EmbeddingSet, results: Path, n_boot: int = 2000) -> dict[str, Any]:
    """Paired bootstrap of every ensemble against the single head, from the runs' raw scores."""
    matrix = ScoringMatrix.of(emb_set)  # raw scores are stored in set order: no arrays needed
    from harness.significance import raw_path

    credit = {name: seed_averaged_credit(raw_path(name, results, emb_set), matrix) for name in (SINGLE, *ENSEMBLES)}
    return {name: paired_bootstrap(credit[name], credit[SINGLE], None, PRIMARY_SUITE, n_boot=n_boot, seed=0)
            for name in ENSEMBLES}


def plot(records: dict[str, dict], tests: dict[str, dict]) -> bytes:
    """Left: section and overall scores (mean over seeds, 95% CI). Right: ensemble − single."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [SINGLE, *ENSEMBLES]
    labels = ["single", "mean", "min", "mean−λ·std"]
    columns = [*SECTIONS, "Overall"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.8 / len(names)
    for k, (name, label) in enumerate(zip(names, labels, strict=True)):
        rec = records[name]
        blocks = [rec["sections"][s] for s in SECTIONS] + [rec["overall"]]
        means = np.array([b["mean"] for b in blocks])
        lo = means - np.array([b["ci95"][0] for b in blocks])
        hi = np.array([b["ci95"][1] for b in blocks]) - means
        x = np.arange(len(columns)) + (k - (len(names) - 1) / 2) * width
        left.bar(x, means, width, yerr=[lo, hi], capsize=2, label=label)
    left.set_xticks(np.arange(len(columns)), columns)
    left.set_ylabel("accuracy (mean over seeds, 95% CI)")
    left.axhline(0.5, color="grey", lw=0.8, ls=":")
    left.set_ylim(0, 1)
    left.legend(frameon=False, ncol=4, loc="upper center", fontsize=8)
    for k, name in enumerate(ENSEMBLES):
        test = tests[name]
        rows = [test["per_section"][s] for s in SECTIONS] + [test]
        y = np.arange(len(rows))[::-1] + (k - 1) * 0.22
        deltas = np.array([r["delta"] for r in rows])
        err = np.array([[r["delta"] - r["ci95"][0], r["ci95"][1] - r["delta"]] for r in rows]).T
        right.errorbar(deltas, y, xerr=err, fmt="o", ms=4, capsize=2, label=labels[k + 1], color=f"C{k + 1}")
    right.axvline(0, color="grey", lw=0.8)
    right.set_yticks(np.arange(len(columns))[::-1], columns)
    right.set_xlabel("ensemble − single head (paired bootstrap 95% CI)")
    right.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130)
    plt.close(fig)
    return buf.getvalue()


def report(emb_set: EmbeddingSet, records: dict[str, dict], tests: dict[str, dict], seeds: list[int],
           figure: str, command: str, results: Path) -> str:
    """The Markdown report."""
    def fmt(block: dict) -> str:
        return f"{block['mean']:.3f} ± {block['std']:.3f}"

    def fmt_p(p: float, n_boot: int) -> str:
        return f"< {1 / n_boot:.4f}" if p == 0 else f"= {p:.3f}"

    lines = [
        "# Do reward-model ensembles beat a single head? (embedding-based replication)",
        "",
        f"Set `{emb_set.ref}` (manifest `{emb_set.manifest_sha256[:16]}…`, embeddings from "
        f"{emb_set.manifest.get('model', {}).get('id', 'unknown')}), seeds {seeds}, generated "
        f"{datetime.now(UTC).strftime('%Y-%m-%d')} by `{command}`.",
        "",
        "The single head is `bt_mlp` (Bradley–Terry MLP, embedding → 1024 → 512 → 1). Each ensemble trains "
        "10 such members (member seeds derived from the run seed) and aggregates their rewards by the mean, "
        "the minimum (worst case), or the mean minus λ times the standard deviation (uncertainty-weighted). "
        "Scores are RewardBench v1 accuracies (mean ± std over seeds). The comparison is a paired bootstrap "
        "over the same RewardBench pairs (2,000 resamples, stratified by subset) of the seed-averaged "
        "per-pair correctness: Δ = ensemble − single, with its 95% CI and the one-sided p-value "
        "P(Δ ≤ 0).",
        "",
        f"![ensemble study]({figure})",
        "",
        "| head | " + " | ".join(SECTIONS) + " | Overall | Δ overall [95% CI] | p |",
        "|---|" + "---:|" * (len(SECTIONS) + 3),
    ]
    for name in (SINGLE, *ENSEMBLES):
        rec = records[name]
        cells = [fmt(rec["sections"][s]) for s in SECTIONS] + [fmt(rec["overall"])]
        if name in tests:
            t = tests[name]
            p_cell = fmt_p(t["p_value"], t["n_boot"]).lstrip("= ")
            cells += [f"{t['delta']:+.3f} [{t['ci95'][0]:+.3f}, {t['ci95'][1]:+.3f}]", p_cell]
        else:
            cells += ["(reference)", ""]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    lines += ["", "Per-section Δ (ensemble − single) with 95% CI:", "",
              "| ensemble | " + " | ".join(SECTIONS) + " |", "|---|" + "---:|" * len(SECTIONS)]
    for name in ENSEMBLES:
        per = tests[name]["per_section"]
        lines.append(f"| `{name}` | " + " | ".join(
            f"{per[s]['delta']:+.3f} [{per[s]['ci95'][0]:+.3f}, {per[s]['ci95'][1]:+.3f}]" for s in SECTIONS) + " |")
    lines += ["", "## What the numbers say", ""]
    for name in ENSEMBLES:
        t = tests[name]
        lo, hi = t["ci95"]
        if lo > 0:
            verdict = "beats the single head: the whole 95% CI of Δ is above zero"
        elif hi < 0:
            verdict = "is worse than the single head: the whole 95% CI of Δ is below zero"
        else:
            verdict = "is not distinguishable from the single head: the 95% CI of Δ contains zero"
        lines.append(f"* `{name}` {verdict} (Δ = {t['delta']:+.3f}, p {fmt_p(t['p_value'], t['n_boot'])}).")
    lines += ["", "Caveats: a 135M-parameter embedding model and ~2,100 training pairs make every head weak; "
              "the CIs reflect the finite RewardBench pairs, not variation over training data (the ± columns show "
              "the spread over seeds, which for the single head is large on Reasoning). An ensemble costs 10× the "
              "training compute of the single head. "
              "Regenerate with the command above; the result records are in "
              f"`{results}/`.", ""]
    return "\n".join(lines)


def run_ensemble_study(emb_set: EmbeddingSet, submissions: Path, out: Path, results: Path, *,
                       seeds: list[int], jobs: int = 1, force: bool = False, command: str = "") -> Path:
    """Run the heads (skipping up-to-date results), compare, write ``out/ensemble-study.md``."""
    runner = Runner(emb_set, RunOptions(results=results, seeds=seeds, jobs=jobs, force=force,
                                        command=command))
    records = {r["submission"]["name"]: r for r in runner.run([submissions / n for n in dict.fromkeys(
        x.split("@")[0] for x in (SINGLE, *ENSEMBLES))])}
    bad = [f"{n}: {r.get('error')}" for n, r in records.items() if r["status"] != "ok"]
    if bad:
        raise HarnessError("ensemble study: " + "; ".join(bad))
    tests = compare(emb_set, results)
    atomic_write_bytes(out / "ensemble-study.png", plot(records, tests))
    text = report(emb_set, records, tests, seeds, "ensemble-study.png", command, results)
    atomic_write_bytes(out / "ensemble-study.md", text.encode())
    return out / "ensemble-study.md"
