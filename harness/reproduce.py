"""Does a fresh run reproduce the published board? Raw scores compared bit for bit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.results import read_record
from harness.textsafe import terminal


def _raw(folder: Path, name: str, set_ref: str) -> np.ndarray | None:
    """Raw scores of ``name`` in ``<folder>/<set>-<version>/raw/`` or the old flat ``<folder>/raw/``."""
    for path in (folder / set_ref / "raw" / f"{name}.npz", folder / "raw" / f"{name}.npz"):
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                return data["scores"]
    return None


def _published(published: Path, name: str, set_ref: str) -> dict[str, Any]:
    """The published record of ``name`` on ``set_ref`` (per-set folder, else the flat layout)."""
    nested = published / set_ref / f"{name}.json"
    return read_record(nested if nested.is_file() else published / f"{name}.json")


def _overall(record: dict[str, Any]) -> float | None:
    block = record.get("suites", {}).get(record["suite"]) or {}
    return (block.get("overall") or {}).get("mean")


def compare_to_published(records: list[dict[str, Any]], results: Path, published: Path) -> str:
    """One line per outcome: which heads reproduced the published raw scores bit for bit, and which differ."""
    same, differ, new = [], [], []
    for rec in records:
        if rec.get("status") != "ok":
            continue
        name = rec["submission"]["name"]
        set_ref = f"{rec['set']['name']}-{rec['set']['version']}"
        try:
            pub = _published(published, name, set_ref)
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
        mine, theirs = _raw(results, name, set_ref), _raw(published, name, set_ref)
        if mine is not None and theirs is not None and mine.shape == theirs.shape and np.array_equal(mine, theirs):
            same.append(name)
        else:
            ours, theirs_overall = _overall(rec), _overall(pub)
            if ours is not None and theirs_overall is not None:
                differ.append(f"{name} (overall {100 * ours:.2f} vs {100 * theirs_overall:.2f}, "
                              f"Δ {100 * (ours - theirs_overall):+.2f})")
            else:
                differ.append(f"{name} (no published scores)")
    lines = []
    if same:
        lines.append(f"reproduced bit for bit: {len(same)} of {len(same) + len(differ)} published head(s) "
                     f"({', '.join(same)})")
    if differ:
        lines.append("differ from the published results: " + "; ".join(differ))
    if new:
        lines.append(f"not on the published board: {', '.join(new)}")
    return terminal("\n".join(lines) or "nothing to compare with the published board", keep_newlines=True)
