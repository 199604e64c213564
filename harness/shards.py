"""Splitting work across processes, and gathering what the processes wrote.

``--shard k/n`` names one share of n. ``--shard auto`` reads the share from the environment:
``REWARDHEADS_SHARD=k/n`` (e.g. from a CI matrix), torchrun's ``RANK``/``WORLD_SIZE`` (also
set by ``accelerate launch``), or a Slurm array's ``SLURM_ARRAY_TASK_*`` variables.

* ``rewardheads embed --shard`` gives each share whole chunks of texts (:mod:`harness.embed`).
* ``rewardheads run --shard`` gives each share whole submissions: :func:`select_share` sorts the
  folders by name and deals them round-robin, so every process of a run, on any machine, picks
  the same disjoint share from the same list. Each share writes its own results folder;
  :func:`collect` copies the records (and raw score files) of several folders into one, for
  ``rewardheads leaderboard``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from harness.errors import HarnessError
from harness.fileio import atomic_write_bytes

SHARD_ENV = "REWARDHEADS_SHARD"
T = TypeVar("T", bound=os.PathLike)


class ShardError(HarnessError):
    """A ``--shard`` value that is not a share, or shard folders that do not fit together."""


def parse_shard(text: str | None, env: Mapping[str, str] | None = None) -> tuple[int, int]:
    """``k/n`` → ``(k, n)``; ``auto`` reads the environment (see the module docstring); ``None``
    (and ``auto`` outside any launcher) is the whole, ``(0, 1)``."""
    if text is None:
        return 0, 1
    env = os.environ if env is None else env
    label = text
    if text == "auto":
        if env.get(SHARD_ENV):
            text, label = env[SHARD_ENV], f"auto ({SHARD_ENV}={env[SHARD_ENV]})"
        elif "WORLD_SIZE" in env:
            k, n = int(env.get("RANK", 0)), int(env["WORLD_SIZE"])
            text, label = f"{k}/{n}", f"auto ({k}/{n} from the environment)"
        elif "SLURM_ARRAY_TASK_COUNT" in env:
            first, step = int(env.get("SLURM_ARRAY_TASK_MIN", 0)), int(env.get("SLURM_ARRAY_TASK_STEP", 1))
            k, n = (int(env["SLURM_ARRAY_TASK_ID"]) - first) // step, int(env["SLURM_ARRAY_TASK_COUNT"])
            text, label = f"{k}/{n}", f"auto ({k}/{n} from the environment)"
        else:
            return 0, 1
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ShardError(f"--shard {label}: expected k/n, e.g. 0/4") from None
    if not 0 <= k < n:
        raise ShardError(f"--shard {label}: need 0 <= k < n")
    return k, n


def select_share(paths: Sequence[T], shard: tuple[int, int]) -> list[T]:
    """This share's folders: sorted by folder name (then full path), every n-th from the k-th."""
    k, n = shard
    ordered = sorted(paths, key=lambda p: (Path(p).name, str(p)))
    return [p for i, p in enumerate(ordered) if i % n == k]


def collect(folders: Sequence[Path], out: Path) -> list[str]:
    """Copy every record (``<set>-<version>/<name>.json``, or the old flat ``<name>.json``) and
    its ``raw/<name>.npz`` of every folder into the same place under ``out``; return the names.

    Every record is read (and so validated) first; a record found in two folders with different
    contents is refused (two shards ran the same submission), identical copies are fine.
    Records already in ``out`` under other names stay; those collected replace their old copy.
    """
    from harness.results import read_record, record_files

    found: dict[Path, Path] = {}
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise ShardError(f"{folder}: results folder not found")
        for path in record_files(folder):
            read_record(path)
            rel = path.relative_to(folder)
            other = found.setdefault(rel, path)
            if other != path and not _same_files(other, path):
                raise ShardError(f"{path.stem}: different records in {other.parent} and {path.parent} "
                                 "(two shards ran the same submission); keep one")
    out = Path(out)
    for rel, path in sorted(found.items()):
        raw = path.parent / "raw" / f"{path.stem}.npz"
        if raw.is_file():
            atomic_write_bytes(out / rel.parent / "raw" / raw.name, raw.read_bytes())
        atomic_write_bytes(out / rel, path.read_bytes())
    return sorted({rel.stem for rel in found})


def _same_files(a: Path, b: Path) -> bool:
    raw_a, raw_b = a.parent / "raw" / f"{a.stem}.npz", b.parent / "raw" / f"{b.stem}.npz"
    if a.read_bytes() != b.read_bytes() or raw_a.is_file() != raw_b.is_file():
        return False
    return not raw_a.is_file() or raw_a.read_bytes() == raw_b.read_bytes()
