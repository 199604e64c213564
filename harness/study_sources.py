"""Which training source teaches which test section? ``rewardheads study sources``.

A head (by default the shipped ``bt_linear``) is fitted on each training source of a set alone
(HH-RLHF harmless, HH-RLHF helpful, UltraFeedback...) and on all of them together, over several
seeds, and each fit is scored on every item-credit suite the set carries (RewardBench's sections;
the in-distribution suite's held-out sources where the set has them). The report is a table per
suite, one row per training source, with 95% CIs, and a heat map: it shows which data moves a
section up, which pushes it below chance, and whether two sources pull against each other (a
section learnt from one source and unlearnt from another). Fits run in-process: the head is our
own shipped code, and nothing is chosen on these test scores; they are the study's result.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from harness.embedset import EmbeddingSet
from harness.errors import HarnessError
from harness.evaluation import ScoringMatrix, set_suites, summarise
from harness.fileio import atomic_write_bytes
from harness.suites import Suite

ALL = "all sources"


class SourceOnly:
    """A head fitted on the training pairs of one source only (``None``: every pair)."""

    def __init__(self, make, source: str | None):
        self.head, self.source = make(), source

    def fit(self, train, *, seed):
        if self.source is not None:
            train = train.subset(np.flatnonzero(train.source == self.source))
        self.head.fit(train, seed=seed)

    def score(self, batch):
        return self.head.score(batch)


@dataclass
class SourceRow:
    source: str
    pairs: int
    blocks: dict[str, dict[str, Any]]  # suite -> record block (sections, overall)


def run_source_study(emb: EmbeddingSet, head: str | Path, *, seeds: Sequence[int] = (0, 1, 2),
                     n_boot: int = 1000, progress: bool = True) -> list[SourceRow]:
    """One row per training source and one for all of them: every item-credit suite's block."""
    from tqdm import tqdm

    from harness.api import _factory, _in_process
    from harness.worker import _load_train

    _, make = _factory(head)
    train = _load_train([str(emb.path / s) for s in emb.train_splits()])
    sources = [str(s) for s in dict.fromkeys(train.source.tolist())]
    if len(sources) < 2:
        raise HarnessError(f"{emb.ref}: one training source only; nothing to compare")
    suites = [s for s in set_suites(ScoringMatrix.of(emb)) if isinstance(s, Suite)]
    rows = []
    for source in tqdm([*sources, None], desc="study sources", unit="fit", disable=not progress):
        credits, _ = _in_process(lambda source=source: SourceOnly(make, source), emb, seeds)
        pairs = int((train.source == source).sum()) if source is not None else len(train)
        rows.append(SourceRow(source or ALL, pairs, {s.name: summarise(credits, s.name, n_boot) for s in suites}))
    return rows


def _cell(block: dict[str, Any]) -> str:
    lo, hi = block.get("ci95") or (None, None)
    mark = " ▼" if hi is not None and hi < 0.5 else ""
    return f"{100 * block['mean']:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]{mark}" if lo is not None else \
        f"{100 * block['mean']:.1f}"


def _levels(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [*block["sections"].items(), ("Overall", block["overall"])]


def plot(emb: EmbeddingSet, rows: list[SourceRow]) -> bytes:
    """Heat map per suite: accuracy by training source (rows) and section (columns), 50 = chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suites = list(rows[0].blocks)
    widths = [len(_levels(rows[0].blocks[s])) for s in suites]
    fig, axes = plt.subplots(1, len(suites), figsize=(2.2 + 1.25 * sum(widths), 0.6 * len(rows) + 1.8),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, suite in zip(axes[0], suites, strict=True):
        labels = [name for name, _ in _levels(rows[0].blocks[suite])]
        values = np.array([[100 * b["mean"] for _, b in _levels(r.blocks[suite])] for r in rows])
        image = ax.imshow(values, cmap="RdBu", vmin=20, vmax=80, aspect="auto")
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), [f"{r.source} ({r.pairs})" for r in rows])
        ax.set_title(suite)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="accuracy (%), 50 = chance")
    fig.suptitle(f"Trained on one source vs all: {emb.ref}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def report(emb: EmbeddingSet, rows: list[SourceRow], head: str, seeds: Sequence[int], figure: str,
           command: str) -> str:
    model = emb.manifest.get("model", {}).get("id", "")
    lines = [
        f"# Which training source teaches which section? ({emb.ref})", "",
        f"`{head}` fitted on each training source of `{emb.ref}` ({model}) alone and on all of them, "
        f"seeds {', '.join(map(str, seeds))}; mean accuracy (%) over seeds with a 95% bootstrap CI over items. "
        "▼: the whole CI is below chance (50).", "",
        f"Reproduce: `{command}`", "",
        f"![accuracy by training source]({figure})", "",
    ]
    for suite in rows[0].blocks:
        names = [name for name, _ in _levels(rows[0].blocks[suite])]
        lines += [f"## {suite}", "", "| trained on | pairs | " + " | ".join(names) + " |",
                  "|---|---:|" + "---:|" * len(names)]
        for r in rows:
            lines.append(f"| {r.source} | {r.pairs:,} | " + " | ".join(_cell(b) for _, b in _levels(r.blocks[suite]))
                         + " |")
        lines.append("")
    below = [(r.source, suite, name) for r in rows for suite in r.blocks for name, b in _levels(r.blocks[suite])
             if (b.get("ci95") or [0, 1])[1] < 0.5]
    lines += ["## Below chance", ""]
    lines += [f"* trained on {s}: {suite} {name}" for s, suite, name in below] or ["* none"]
    lines += ["", f"_Generated {datetime.now(UTC).replace(microsecond=0).isoformat()} by `rewardheads study "
              "sources`; every number above was computed in that run._", ""]
    return "\n".join(lines)


def write_source_study(emb: EmbeddingSet, head: str | Path, out: Path, *, seeds: Sequence[int] = (0, 1, 2),
                       n_boot: int = 1000, command: str = "", progress: bool = True) -> tuple[Path, list[SourceRow]]:
    """Run the study and write ``out`` (Markdown) with its plot next to it (``.png``)."""
    rows = run_source_study(emb, head, seeds=seeds, n_boot=n_boot, progress=progress)
    figure = out.with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(figure, plot(emb, rows))
    name = Path(head).name
    text = report(emb, rows, name, seeds, figure.name,
                  command or f"rewardheads study sources --set {emb.ref} --head submissions/{name}")
    atomic_write_bytes(out, text.encode())
    return out, rows
