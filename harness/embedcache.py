"""A content-addressed store of embeddings, so no text is embedded twice with the same model.

A text's key is the SHA-256 of exactly what the model reads: its token ids after truncation and
the position its prompt embedding is taken at. The store is split by *settings*, everything
else that changes the numbers (model file and revision, dtype, layer, pooling, causal or not);
where a text runs (CPU, which GPU, which batch) is not part of either, as in an unsharded vs a
sharded build. So a new set that shares texts with an old one (another version, more training
rows, other splits) only embeds what is new, and any ``max_length`` reuses every text short
enough to be stored whole under both.

Layout: ``<root>/<settings digest>/settings.json`` plus ``part-*.npz`` files, each holding
``key`` (32-byte digests), ``full``, ``prompt`` (float32) and ``prompt_intact``; every part is
written atomically, so a killed build loses at most the chunk it was embedding.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import HarnessError
from harness.fileio import atomic_write, atomic_write_json

SETTINGS_FILE = "settings.json"


class CacheError(HarnessError):
    """A cache folder that cannot be used."""


def text_key(ids: Iterable[int], prompt_pos: int) -> bytes:
    """The key of one text: its (truncated) token ids and its prompt position."""
    digest = hashlib.sha256(np.asarray(list(ids), np.int64).tobytes())
    digest.update(int(prompt_pos).to_bytes(8, "little", signed=True))
    return digest.digest()


def settings_digest(settings: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(dict(settings), sort_keys=True).encode()).hexdigest()[:24]


class EmbeddingCache:
    """The entries for one set of settings under ``root``; loads every part on open."""

    def __init__(self, root: str | os.PathLike, settings: Mapping[str, Any]):
        self.settings = dict(settings)
        self.folder = Path(root) / settings_digest(self.settings)
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = self.folder / SETTINGS_FILE
        if not stamp.exists():
            atomic_write_json(stamp, self.settings)
        self._index: dict[bytes, tuple[int, int]] = {}
        self._parts: list[dict[str, np.ndarray]] = []
        for path in sorted(self.folder.glob("part-*.npz")):
            try:
                with np.load(path) as data:
                    part = {k: data[k] for k in ("key", "full", "prompt", "prompt_intact")}
            except (OSError, ValueError, KeyError) as err:
                raise CacheError(f"{path}: unreadable cache part ({err}); delete it") from None
            self._add_part(part)

    def _add_part(self, part: dict[str, np.ndarray]) -> None:
        number = len(self._parts)
        self._parts.append(part)
        for row, key in enumerate(part["key"]):
            self._index.setdefault(bytes(key), (number, row))

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: bytes) -> bool:
        return key in self._index

    def get(self, key: bytes) -> tuple[np.ndarray, np.ndarray, bool] | None:
        """``(full, prompt, prompt_intact)`` of a stored text, or None."""
        where = self._index.get(key)
        if where is None:
            return None
        part = self._parts[where[0]]
        row = where[1]
        return part["full"][row], part["prompt"][row], bool(part["prompt_intact"][row])

    def put(self, keys: list[bytes], full: np.ndarray, prompt: np.ndarray, intact: np.ndarray) -> int:
        """Store new entries (keys already present are skipped); returns how many were new."""
        new = [i for i, k in enumerate(keys) if k not in self._index]
        new = list({keys[i]: i for i in new}.values())  # one entry per key
        if not new:
            return 0
        part = {"key": np.array([keys[i] for i in new], dtype="S32"),
                "full": np.asarray(full, np.float32)[new], "prompt": np.asarray(prompt, np.float32)[new],
                "prompt_intact": np.asarray(intact, bool)[new]}
        name = hashlib.sha256(part["key"].tobytes()).hexdigest()[:20]
        atomic_write(self.folder / f"part-{name}.npz", lambda tmp: _save(tmp, part))
        self._add_part(part)
        return len(new)


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
