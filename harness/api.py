"""The notebook API: evaluate a head on a set in a few lines and get a tidy table back.

::

    import harness
    table = harness.evaluate("submissions/bt_linear", set="mini@1", seeds=(0,))
    table[table.level == "section"]

``evaluate`` runs **in this process** by default: fast, and fine for your own code, but the head
is trusted (it could read the labels). The result says so (``table.attrs["isolation"]``).
``sandbox=True`` runs a submission folder exactly as ``rewardheads run`` does.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.embedset import EmbeddingSet, resolve_set
from harness.errors import HarnessError

IN_PROCESS = "in-process (trusted code, not sandboxed)"


def load_set(ref: str | Path | None = None) -> EmbeddingSet:
    """An embedding set by path or ``NAME@VERSION`` (default: the bundled set), checked and memory-mapped."""
    return EmbeddingSet.open(resolve_set(ref))


def _factory(head: Any):
    """A callable returning a fresh head: from a folder, a class, a factory or an instance (deep-copied)."""
    from harness.submissions import load_submission, make_head

    if isinstance(head, str | Path):
        sub = load_submission(head)
        return sub.name, lambda: make_head(sub)
    if isinstance(head, type):
        return head.__name__, head
    if callable(head) and not hasattr(head, "fit"):
        return getattr(head, "__name__", "head"), head
    if hasattr(head, "fit") and hasattr(head, "score"):
        return type(head).__name__, lambda: copy.deepcopy(head)
    raise HarnessError(f"evaluate: expected a submission folder, a head class, a factory or a head, "
                       f"got {type(head).__name__}")


def _in_process(make, emb_set: EmbeddingSet, seeds: Iterable[int]) -> tuple[list[dict], list[np.ndarray]]:
    from harness.evaluation import ScoringMatrix, _credit_by_suite
    from harness.heads import ScoreBatch, check_scores, missing_capabilities
    from harness.worker import _load_train

    train = _load_train([str(emb_set.path / s) for s in emb_set.train_splits()])
    matrix = ScoringMatrix.of(emb_set)
    arrays = matrix.arrays()
    batch = ScoreBatch(response=np.asarray(arrays["response"], np.float32),
                       prompt=np.asarray(arrays["prompt"], np.float32),
                       response_tokens=arrays["response_tokens"], prompt_tokens=arrays["prompt_tokens"])
    credits, scores = [], []
    for seed in seeds:
        head = make()
        missing = missing_capabilities(head, train, batch)
        if missing:
            raise HarnessError(f"evaluate: the set lacks {', '.join(missing)}, which this head requires")
        head.fit(train, seed=seed)
        s = check_scores(head.score(batch), len(batch))
        scores.append(s)
        credits.append(_credit_by_suite(matrix, s))
    return credits, scores


def _table(record: dict[str, Any]) -> pd.DataFrame:
    rows = []

    def add(level: str, name: str, block: dict[str, Any]) -> None:
        ci = block.get("ci95") or [None, None]
        rows.append({"level": level, "name": name, "mean": block["mean"], "ci_low": ci[0], "ci_high": ci[1],
                     "std": block.get("std"), "n": block.get("n"), "per_seed": block.get("per_seed")})

    for name, block in record.get("subsets", {}).items():
        add("subset", name, block)
    for name, block in record.get("sections", {}).items():
        add("section", name, block)
    if "overall" in record:
        add("overall", "Overall", record["overall"])
    return pd.DataFrame(rows, columns=["level", "name", "mean", "ci_low", "ci_high", "std", "n", "per_seed"])


def evaluate(head: Any, set: str | Path | EmbeddingSet | None = None, seeds: Iterable[int] = (0, 1, 2),  # noqa: A002
             *, sandbox: bool = False, n_boot: int = 1000, isolation: str = "auto") -> pd.DataFrame:
    """Fit and score ``head`` on every seed; one row per subset, section and overall, with 95% CIs.

    ``head`` is a submission folder, a head class, a zero-argument factory or a head instance.
    In-process (the default) the head is trusted code; ``sandbox=True`` (folders only) runs it
    like ``rewardheads run``. ``table.attrs`` holds the isolation, seeds and the set.
    """
    from harness.evaluation import summarise
    from harness.runner import Runner, RunOptions

    emb_set = set if isinstance(set, EmbeddingSet) else load_set(set)
    seeds = [int(s) for s in seeds]
    if sandbox:
        if not isinstance(head, str | Path):
            raise HarnessError("evaluate(sandbox=True) needs a submission folder")
        with tempfile.TemporaryDirectory(prefix="rewardheads-evaluate-") as tmp:
            runner = Runner(emb_set, RunOptions(results=Path(tmp), seeds=seeds, jobs=len(seeds), n_boot=n_boot,
                                                isolation=isolation, progress=False), log=lambda _: None)
            record = runner.run([Path(head)])[0]
        if record["status"] != "ok":
            raise HarnessError(f"evaluate: {record['submission']['name']}: {record['error']}")
        label = record["isolation"]
        record = record["suites"][record["suite"]]
    else:
        _, make = _factory(head)
        credits, _ = _in_process(make, emb_set, seeds)
        record = summarise(credits, next(iter(credits[0])), n_boot)
        label = IN_PROCESS
    table = _table(record)
    table.attrs.update(isolation=label, seeds=seeds, set=emb_set.ref, manifest_sha256=emb_set.manifest_sha256,
                       overall=(record.get("overall") or {}).get("label"))
    return table


def compare(a: Any, b: Any, set: str | Path | EmbeddingSet | None = None,  # noqa: A002
            seeds: Iterable[int] = (0, 1, 2), n_boot: int = 2000) -> pd.DataFrame:
    """Paired bootstrap of head ``a`` against ``b`` on the same items (in-process, seed-averaged credit).

    One row per section and overall: ``delta`` (a − b), its 95% CI and a one-sided p-value (the
    fraction of replicates with delta ≤ 0: small when ``a`` is better).
    """
    from harness.scoring import mean_credit, paired_bootstrap

    emb_set = set if isinstance(set, EmbeddingSet) else load_set(set)
    seeds = [int(s) for s in seeds]
    credit = []
    for head in (a, b):
        _, make = _factory(head)
        credits, _ = _in_process(make, emb_set, seeds)
        suite = next(iter(credits[0]))  # the set's headline suite
        credit.append(mean_credit([c[suite] for c in credits]))
    test = paired_bootstrap(credit[0], credit[1], None, suite, n_boot=n_boot, seed=0)
    rows = [{"name": k, "delta": v["delta"], "ci_low": (v["ci95"] or [None, None])[0],
             "ci_high": (v["ci95"] or [None, None])[1], "p_value": v["p_value"]}
            for k, v in test["per_section"].items()]
    ci = test["ci95"] or [None, None]
    rows.append({"name": "Overall", "delta": test["delta"], "ci_low": ci[0], "ci_high": ci[1],
                 "p_value": test["p_value"]})
    table = pd.DataFrame(rows)
    table.attrs.update(isolation=IN_PROCESS, seeds=seeds, set=emb_set.ref, method=test.get("method"))
    return table
