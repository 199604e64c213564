"""Cost of every baseline on a set, the whole regeneration, and vectorised vs looped ensembles.

    python benchmarks/bench_heads.py [--set SET] [--jobs 2] [--seeds 3]

Prints, per head, fit seconds, score seconds and peak RSS (medians over seeds, measured inside
the sandbox), the wall time of regenerating all baselines × seeds (target < 5 min on 2 cores),
and the speed-up of training an ensemble's members as one batched model over a Python loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from harness.embedset import EmbeddingSet, resolve_set
from harness.paths import repo_path
from harness.runner import Runner, RunOptions
from harness.submissions import discover, load_submission, make_head
from harness.worker import _load_train


def regenerate(emb_set: EmbeddingSet, jobs: int, seeds: int) -> None:
    paths = discover(repo_path("submissions"))
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(emb_set, RunOptions(results=Path(tmp), seeds=list(range(seeds)), jobs=jobs,
                                            force=True, progress=True), log=print)
        start = time.perf_counter()
        records = runner.run(paths)
        wall = time.perf_counter() - start
    rows = [{"head": r["submission"]["name"], "status": r["status"],
             "fit s": (r.get("cost") or {}).get("fit_s"), "score s": (r.get("cost") or {}).get("score_s"),
             "peak RSS MB": (r.get("cost") or {}).get("peak_rss_mb"), "params": (r.get("cost") or {}).get("params"),
             "overall": (r.get("overall") or {}).get("mean")} for r in records]
    print(tabulate(rows, headers="keys", tablefmt="github", floatfmt=".3f"))
    print(f"\nregeneration of {len(paths)} heads x {seeds} seeds with --jobs {jobs}: {wall:.1f} s "
          f"({wall / 60:.2f} min; target < 5 min)")


def ensemble_speedup(emb_set: EmbeddingSet) -> None:
    import torch

    torch.set_num_threads(1)
    train = _load_train([str(emb_set.path / s) for s in emb_set.train_splits()])
    sub = load_submission(repo_path("submissions", "bt_ensemble")).expand()[0]  # the mean variant
    times = {}
    for vectorized in (True, False):
        head = make_head(sub, vectorized=vectorized)
        start = time.perf_counter()
        head.fit(train, seed=0)
        times[vectorized] = time.perf_counter() - start
    print(f"\nensemble of members, one thread: vectorised {times[True]:.1f} s, looped {times[False]:.1f} s, "
          f"speed-up x{times[False] / times[True]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--skip-regeneration", action="store_true")
    args = parser.parse_args()
    emb_set = EmbeddingSet.open(resolve_set(args.set))
    if not args.skip_regeneration:
        regenerate(emb_set, args.jobs, args.seeds)
    ensemble_speedup(emb_set)


if __name__ == "__main__":
    main()
