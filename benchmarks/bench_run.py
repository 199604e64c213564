"""Harness overhead of a run, and the cost of scoring one head.

    python benchmarks/bench_run.py [--set SET] [--head submissions/bt_linear] [--repeats 3]

Overhead = everything the harness adds around the head's own fit + score (process spawn,
imports, loading arrays, transfer of the test matrix, scoring, bootstrap, writing the
record), as a fraction of the run's wall time. Target: < 10% for a linear head.
Scoring = credit + sections + 1000 bootstrap resamples for one head. Target: < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from harness.embedset import EmbeddingSet, resolve_set
from harness.evaluation import ScoringMatrix, _credit_by_suite, summarise
from harness.paths import repo_path
from harness.probe import ScoreCalls, flip_rate, secret_rng
from harness.runner import Runner, RunOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set")
    parser.add_argument("--head", type=Path, default=repo_path("submissions", "bt_linear"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--isolation", default="auto")
    args = parser.parse_args()
    emb_set = EmbeddingSet.open(resolve_set(args.set))

    rows = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runner = Runner(emb_set, RunOptions(results=Path(tmp), seeds=[0], isolation=args.isolation,
                                                progress=False), log=lambda _: None)
            start = time.perf_counter()
            record = runner.run([args.head])[0]
            total = time.perf_counter() - start
        if record["status"] != "ok":
            raise SystemExit(f"{args.head.name}: {record['error']}")
        cost = record["cost"]
        rows.append((total, cost["fit_s"] + cost["score_s"], cost["import_s"], cost["load_s"]))
    total, head_time, imports, load = (statistics.median(r[i] for r in rows) for i in range(4))
    print(f"set {emb_set.ref}, head {args.head.name}, isolation {runner.sandbox.isolation}, "
          f"median of {args.repeats} runs")
    print(f"  run wall time        {total:8.3f} s")
    print(f"  head fit + score     {head_time:8.3f} s")
    print(f"  head's own imports   {imports:8.3f} s  (the packages head.py imports, e.g. sklearn, torch)")
    print(f"  loading the arrays   {load:8.3f} s  (inside the sandbox)")
    overhead = total - head_time
    print(f"  harness overhead     {overhead:8.3f} s  = {overhead / total:6.1%} of the run (target < 10%)")
    print(f"    of which the head's imports: {imports / total:.1%}; without them: "
          f"{(overhead - imports) / total:.1%}")

    matrix = ScoringMatrix.of(emb_set)
    arrays, items = matrix.arrays(), matrix.items()
    draw, check = [], []
    for _ in range(5):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            rng = secret_rng()
            calls = ScoreCalls.draw(len(matrix), rng)
            calls.write(Path(tmp), arrays, rng)
            draw.append(time.perf_counter() - start)
        fake = {name: np.random.default_rng(0).normal(size=size) for name, size in calls.sizes.items()}
        start = time.perf_counter()
        clean, perturbed, _ = calls.unpack(fake, len(matrix))
        flip_rate(clean, perturbed, items)
        check.append(time.perf_counter() - start)
    print(f"  integrity work per job: drawing + writing the secret score calls "
          f"{statistics.median(draw) * 1000:.0f} ms, un-permuting + probe {statistics.median(check) * 1000:.0f} ms")
    scores = np.random.default_rng(0).normal(size=len(matrix))
    times = []
    for _ in range(5):
        start = time.perf_counter()
        summarise([_credit_by_suite(matrix, scores)], "rewardbench-v1", n_boot=1000)
        times.append(time.perf_counter() - start)
    print(f"  scoring one head (credit + sections + 1000 bootstrap resamples): "
          f"{statistics.median(times) * 1000:.0f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
