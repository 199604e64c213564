"""Does a fresh run reproduce the published board? Raw scores compared bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.results import read_record
from harness.textsafe import terminal


def _raw(folder: Path, name: str) -> np.ndarray | None:
    path = folder / "raw" / f"{name}.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return data["scores"]


def compare_to_published(records: list[dict[str, Any]], results: Path, published: Path) -> str:
    """One line per outcome: which heads reproduced the published raw scores bit for bit, and which differ."""
    same, differ, new = [], [], []
    for rec in records:
        if rec.get("status") != "ok":
            continue
        name = rec["submission"]["name"]
        try:
            pub = read_record(published / f"{name}.json")
        except (HarnessError, OSError):
            new.append(name)
            continue
        if pub["submission"].get("sha256") != rec["submission"].get("sha256") or \
                pub["submission"].get("params") != rec["submission"].get("params"):
            differ.append(f"{name} (the submission changed since it was published)")
            continue
        if pub["set"]["manifest_sha256"] != rec["set"]["manifest_sha256"] or pub["seeds"] != rec["seeds"]:
            differ.append(f"{name} (published on another set or seeds)")
            continue
        mine, theirs = _raw(results, name), _raw(published, name)
        if mine is not None and theirs is not None and mine.shape == theirs.shape and np.array_equal(mine, theirs):
            same.append(name)
        else:
            delta = rec["overall"]["mean"] - (pub.get("overall") or {}).get("mean", float("nan"))
            detail = f"overall {100 * rec['overall']['mean']:.2f} vs {100 * pub['overall']['mean']:.2f}" \
                if pub.get("overall") else "no published scores"
            differ.append(f"{name} ({detail}, Δ {100 * delta:+.2f})")
    lines = []
    if same:
        lines.append(f"reproduced bit for bit: {len(same)} of {len(same) + len(differ)} published head(s) "
                     f"({', '.join(same)})")
    if differ:
        lines.append("differ from the published results: " + "; ".join(differ))
    if new:
        lines.append(f"not on the published board: {', '.join(new)}")
    return terminal("\n".join(lines) or "nothing to compare with the published board", keep_newlines=True)
