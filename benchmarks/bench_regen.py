"""Full regeneration of the board, old harness against new: wall ratio, same scores, bt_linear overhead.

    python benchmarks/bench_regen.py [--old REV] [--set sets/mini-1] [--jobs 2]

The old way is a ``git worktree`` of ``REV`` (default: the parent of the commit that folded the
ensemble folders, the first of the change to one sandboxed process per (submission, set)), run
from its own source tree via ``PYTHONPATH`` (each run checks that ``harness`` really was imported
from there); the new way is this checkout.
Both regenerate every shipped head on the same set with ``--force --jobs N`` into throwaway result
folders, and hand over each head's float64 scores per seed (the runner's own
``write_raw_scores`` call, wrapped). Printed: each side's wall time and their ratio (target: new
at least 2x faster), whether every head's scores are bit-identical (old folder names mapped to the
new variant names), and for ``bt_linear`` the harness overhead: the parent-measured job wall time
per seed against the head's own fit + score (target < 15%).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: the old harness: the parent of the commit that folded the ensemble folders (the first of this change)
FOLDED = "submissions/bt_ensemble_min/head.py"
RENAMED = {"bt_ensemble_mean": "bt_ensemble@mean", "bt_ensemble_min": "bt_ensemble@min",
           "bt_ensemble_uwo": "bt_ensemble@uwo"}

# Runs in a fresh interpreter with the tree under test first on sys.path.
DRIVER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    import numpy as np
    tree, set_path, results, jobs = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    import harness
    if not Path(harness.__file__).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"harness came from {harness.__file__}, not from {tree}")
    from harness import runner
    from harness.embedset import EmbeddingSet
    from harness.submissions import discover
    scores, write = {}, runner.write_raw_scores
    def keep(folder, name, seeds, per_seed, *args, **kwargs):
        scores[name] = np.stack(per_seed).astype(np.float64)
        return write(folder, name, seeds, per_seed, *args, **kwargs)
    runner.write_raw_scores = keep
    options = runner.RunOptions(results=results, jobs=jobs, force=True, progress=False, n_boot=1000)
    start = time.perf_counter()
    run = runner.Runner(EmbeddingSet.open(set_path), options, log=lambda _: None)
    records = run.run(discover(tree / "submissions"))
    wall = time.perf_counter() - start
    np.savez(results / "bench-scores.npz", **scores)
    summary = {r["submission"]["name"]: {"status": r["status"], "error": r.get("error"), "cost": r.get("cost")}
               for r in records}
    (results / "bench-summary.json").write_text(json.dumps({"wall_s": wall, "records": summary}))
""")


def regenerate(tree: Path, set_path: Path, results: Path, jobs: int) -> tuple[float, dict, dict[str, np.ndarray]]:
    """Run every head of ``tree`` with ``tree``'s harness; ``(wall of the whole run, records, scores)``."""
    results.mkdir(parents=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", DRIVER, str(tree), str(set_path), str(results), str(jobs)], check=True,
                   env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(results)}, cwd=tree)
    wall = time.perf_counter() - start
    summary = json.loads((results / "bench-summary.json").read_text())
    with np.load(results / "bench-scores.npz") as data:
        scores = {name: data[name] for name in data.files}
    return wall, summary["records"], scores


def overhead(record: dict) -> tuple[float, float, float]:
    """``(job wall per seed, fit + score per seed, overhead as a fraction of the wall)`` of one record."""
    cost = record["cost"]
    head = cost["fit_s"] + cost["score_s"]
    return cost["wall_s"], head, (cost["wall_s"] - head) / cost["wall_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", help=f"the old harness's commit (default: the parent of the commit deleting {FOLDED})")
    parser.add_argument("--set", type=Path, default=ROOT / "sets" / "mini-1")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    set_path = args.set.resolve()
    if args.old is None:
        deleted = subprocess.run(["git", "-C", str(ROOT), "log", "--diff-filter=D", "--format=%H", "--", FOLDED],
                                 capture_output=True, text=True, check=True).stdout.split()
        if not deleted:
            raise SystemExit(f"no commit deletes {FOLDED}; name the old harness with --old REV")
        args.old = f"{deleted[-1]}~1"
    with tempfile.TemporaryDirectory(prefix="bench-regen-") as tmp:
        work = Path(tmp)
        old_tree = work / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(old_tree), args.old],
                       check=True)
        try:
            old_wall, old_records, old_scores = regenerate(old_tree, set_path, work / "old-results", args.jobs)
            new_wall, new_records, new_scores = regenerate(ROOT, set_path, work / "new-results", args.jobs)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old_tree)], check=False)
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.old], capture_output=True,
                         text=True).stdout.strip()
    print(f"set {set_path.name}, --jobs {args.jobs}, --force, every shipped head with its own seeds")
    print(f"  old ({rev}, one process per seed)    {old_wall:8.1f} s  ({len(old_records)} records)")
    print(f"  new (one process per head and set)  {new_wall:8.1f} s  ({len(new_records)} records)")
    print(f"  full regeneration: new is {old_wall / new_wall:.2f}x faster (target >= 2x)")
    bad = [n for n, r in {**old_records, **new_records}.items() if r["status"] != "ok"]
    if bad:
        print(f"  not ok: {', '.join(bad)}")
    same, differ = [], []
    for old_name, scores in sorted(old_scores.items()):
        new_name = RENAMED.get(old_name, old_name)
        (same if new_name in new_scores and np.array_equal(scores, new_scores[new_name]) else differ).append(new_name)
    print(f"  scores bit-identical per seed: {len(same)} of {len(old_scores)} heads"
          + (f"; differ: {', '.join(differ)}" if differ else ""))
    for side, records in (("old", old_records), ("new", new_records)):
        wall, head, frac = overhead(records["bt_linear"])
        imports = records["bt_linear"]["cost"]["import_s"]
        print(f"  bt_linear {side}: job wall {wall:.2f} s per seed, fit + score {head:.2f} s, "
              f"overhead {frac:.1%} of the wall (target < 15%); of it the head's own imports (sklearn) "
              f"{imports:.2f} s, without them {(wall - head - imports) / wall:.1%}")


if __name__ == "__main__":
    main()
