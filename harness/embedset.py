"""The embedding-set format: a versioned folder of memory-mapped arrays plus a manifest.

A set lives in a folder named ``<name>-<version>/``::

    manifest.json                 what was built, how, from what; SHA-256 of every file
    train/<source>/chosen.npy     (n, d) embeddings of prompt + chosen response
    train/<source>/rejected.npy   (n, d) embeddings of prompt + rejected response
    train/<source>/prompt.npy     (n, d) embeddings at the end of the prompt
    train/<source>/meta.parquet   one row per pair: id, subset, token counts, ratings
    <test>/response.npy           (N, d) one row per response, shuffled with a fixed seed
    <test>/prompt.npy             (N, d) prompt embedding of each response row
    <test>/meta.parquet           one row per response: item, subset, id, token counts
    <test>/labels.parquet         which response rows are chosen: never given to a head

Opening a set checks sizes, shapes and dtypes against the manifest (cheap); ``verify``
re-hashes every file. Arrays are opened with ``np.load(mmap_mode="r")``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported where it is used: the sandboxed worker reads splits without it
    import pandas as pd

from harness import __version__
from harness.errors import HarnessError
from harness.fileio import atomic_write_json, sha256_file

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PAIR_ARRAYS = ("chosen", "rejected", "prompt")
META_FILE = "meta.parquet"
TEST_ARRAYS = ("response", "prompt")
RATING_PREFIX = ("rating_chosen:", "rating_rejected:")


class EmbeddingSetError(HarnessError):
    """A set folder that is missing, malformed, truncated or does not match its manifest."""


# -- the split folder format: the one reader (the sandboxed worker reads its splits with it) ------
def load_array(file: Path) -> np.ndarray:
    """One ``.npy`` array of a split, memory-mapped (never unpickled)."""
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise EmbeddingSetError(f"{file}: cannot memory-map ({err})") from None


def pair_arrays(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of a pairs split folder (``chosen``, ``rejected``, ``prompt``), memory-mapped."""
    return {stem: load_array(Path(folder) / f"{stem}.npy") for stem in PAIR_ARRAYS}


def meta_table(folder: str | os.PathLike):
    """A split folder's ``meta.parquet`` as a pyarrow table (no pandas: it starts faster)."""
    import pyarrow.parquet as pq

    return pq.read_table(Path(folder) / META_FILE)


class _LazyMeta:
    """``meta`` is read from its Parquet file on first use, so opening a split costs nothing."""

    meta_source: pd.DataFrame | Path

    @cached_property
    def meta(self) -> pd.DataFrame:
        import pandas as pd

        source = self.meta_source
        return source if isinstance(source, pd.DataFrame) else pd.read_parquet(source)


@dataclass(frozen=True)
class PairSplit(_LazyMeta):
    """Training pairs: row ``i`` of ``chosen`` was preferred over row ``i`` of ``rejected``."""

    name: str
    chosen: np.ndarray
    rejected: np.ndarray
    prompt: np.ndarray
    meta_source: pd.DataFrame | Path

    def __len__(self) -> int:
        return len(self.chosen)

    @property
    def objectives(self) -> list[str]:
        """Names of the per-objective ratings this split carries (may be empty)."""
        return [c.split(":", 1)[1] for c in self.meta.columns if c.startswith(RATING_PREFIX[0])]

    def ratings(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """``(names, chosen_ratings, rejected_ratings)``; ratings are (n, k) with NaN if absent."""
        names = self.objectives
        chosen = self.meta[[RATING_PREFIX[0] + n for n in names]].to_numpy(np.float64)
        rejected = self.meta[[RATING_PREFIX[1] + n for n in names]].to_numpy(np.float64)
        return names, chosen, rejected


@dataclass(frozen=True)
class TestSplit(_LazyMeta):
    """A test suite: unlabelled response rows grouped into items (one prompt each)."""

    name: str
    suite: str
    response: np.ndarray
    prompt: np.ndarray
    meta_source: pd.DataFrame | Path
    labels_path: Path

    def __len__(self) -> int:
        return len(self.response)

    def labels(self) -> np.ndarray:
        """Boolean array, True where a response row is a chosen response (scoring only)."""
        import pandas as pd

        table = pd.read_parquet(self.labels_path)
        if len(table) != len(self.meta) or not (table["row"].to_numpy() == np.arange(len(table))).all():
            raise EmbeddingSetError(f"{self.labels_path}: labels do not line up with meta rows")
        return table["chosen"].to_numpy(bool)


@dataclass
class EmbeddingSet:
    """An opened embedding set. Use :meth:`open`; arrays are memory-mapped on access."""

    path: Path
    manifest: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike) -> EmbeddingSet:
        """Open a set folder, checking the manifest and every file's size, shape and dtype."""
        path = Path(path).absolute()  # the sandbox binds it by path, whatever the current folder
        if not path.is_dir():
            raise EmbeddingSetError(f"{path}: no such embedding-set folder")
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise EmbeddingSetError(f"{path}: not an embedding set (no {MANIFEST})")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise EmbeddingSetError(f"{manifest_path}: unreadable manifest ({err})") from None
        if not isinstance(manifest, dict) or "format_version" not in manifest:
            raise EmbeddingSetError(f"{manifest_path}: not a RewardHeads manifest (no format_version)")
        fmt = manifest["format_version"]
        if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
            raise EmbeddingSetError(
                f"{manifest_path}: format version {fmt} is newer than this harness reads "
                f"({FORMAT_VERSION}); upgrade rewardheads"
            )
        for key in ("name", "version", "dim", "splits"):
            if key not in manifest:
                raise EmbeddingSetError(f"{manifest_path}: manifest lacks '{key}'")
        emb_set = cls(path, manifest)
        for split_name, split in manifest["splits"].items():
            for rel, info in split["files"].items():
                emb_set._check_file(split_name, rel, info)
        return emb_set

    def _check_file(self, split_name: str, rel: str, info: dict[str, Any]) -> None:
        file = self.path / split_name / rel
        if not file.is_file():
            raise EmbeddingSetError(f"{file}: file listed in the manifest is missing")
        size = file.stat().st_size
        if size != info["bytes"]:
            raise EmbeddingSetError(
                f"{file}: {size} bytes, manifest says {info['bytes']} (truncated or replaced)"
            )
        if rel.endswith(".npy"):
            shape, dtype = _npy_header(file)
            if list(shape) != info["shape"] or str(dtype) != info["dtype"]:
                raise EmbeddingSetError(
                    f"{file}: array is {list(shape)} {dtype}, manifest says {info['shape']} {info['dtype']}"
                )

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def ref(self) -> str:
        """``name@version``, the way the CLI names a set."""
        return f"{self.name}@{self.version}"

    @cached_property
    def manifest_sha256(self) -> str:
        """SHA-256 of ``manifest.json``: it pins every file's hash, so it identifies the set."""
        return sha256_file(self.path / MANIFEST)

    @property
    def splits(self) -> list[str]:
        return list(self.manifest["splits"])

    def train_splits(self) -> list[str]:
        return [s for s, v in self.manifest["splits"].items() if v["kind"] == "pairs"]

    def test_splits(self) -> list[str]:
        return [s for s, v in self.manifest["splits"].items() if v["kind"] == "test"]

    # -- data ----------------------------------------------------------------------------
    def split(self, name: str) -> PairSplit | TestSplit:
        """A split by name, arrays memory-mapped."""
        if name not in self.manifest["splits"]:
            raise EmbeddingSetError(f"{self.path}: no split '{name}' (has: {', '.join(self.splits)})")
        if name not in self._cache:
            info = self.manifest["splits"][name]
            base = self.path / name
            meta = base / "meta.parquet"
            if info["kind"] == "pairs":
                arrays = {a: self._array(base, a) for a in PAIR_ARRAYS}
                obj: PairSplit | TestSplit = PairSplit(name=name, meta_source=meta, **arrays)
            else:
                arrays = {a: self._array(base, a) for a in TEST_ARRAYS}
                obj = TestSplit(
                    name=name, suite=info["suite"], meta_source=meta, labels_path=base / "labels.parquet", **arrays
                )
            self._cache[name] = obj
        return self._cache[name]

    def _array(self, base: Path, stem: str) -> np.ndarray:
        return load_array(base / f"{stem}.npy")

    def train_pairs(self, names: list[str] | None = None) -> PairSplit:
        """All training pairs (or those of ``names``) as one split; one split is not copied."""
        names = names or self.train_splits()
        if not names:
            raise EmbeddingSetError(f"{self.path}: the set has no training split")
        parts = [self.split(n) for n in names]
        if len(parts) == 1:
            return parts[0]  # type: ignore[return-value]
        import pandas as pd

        meta = pd.concat([p.meta.assign(split=p.name) for p in parts], ignore_index=True)
        rating_cols = [c for c in meta.columns if c.startswith(RATING_PREFIX)]
        meta[rating_cols] = meta[rating_cols].astype(float)
        return PairSplit(
            name="+".join(names),
            meta_source=meta,
            **{a: np.concatenate([getattr(p, a) for p in parts]) for a in PAIR_ARRAYS},
        )

    # -- integrity -----------------------------------------------------------------------
    def verify(self, progress: bool = False) -> int:
        """Re-hash every file against the manifest; returns the number of files checked."""
        items = [
            (split_name, rel, info)
            for split_name, split in self.manifest["splits"].items()
            for rel, info in split["files"].items()
        ]
        if progress:
            from tqdm import tqdm

            items = tqdm(items, desc=f"verify {self.ref}", unit="file")
        for split_name, rel, info in items:
            file = self.path / split_name / rel
            self._check_file(split_name, rel, info)
            if sha256_file(file) != info["sha256"]:
                raise EmbeddingSetError(f"{file}: SHA-256 does not match the manifest (corrupted)")
        return len(items)


def _npy_header(file: Path) -> tuple[tuple[int, ...], np.dtype]:
    try:
        with open(file, "rb") as fh:
            major, _minor = np.lib.format.read_magic(fh)
            read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _fortran, dtype = read(fh)
    except (ValueError, OSError) as err:
        raise EmbeddingSetError(f"{file}: not a valid .npy file ({err})") from None
    return shape, dtype


# ----------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------
class SetWriter:
    """Writes a set into ``<root>/<name>-<version>.tmp`` and renames it into place on commit.

    Until :meth:`commit` has run there is no folder named ``<name>-<version>``, so an
    interrupted write never leaves a set that looks complete.
    """

    def __init__(self, root: str | os.PathLike, name: str, version: str, **info: Any):
        self.root = Path(root)
        self.final = self.root / f"{name}-{version}"
        if self.final.exists():
            raise EmbeddingSetError(f"{self.final}: already exists; remove it or bump the version")
        self.tmp = self.root / f"{name}-{version}.tmp"
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.manifest: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "name": name,
            "version": str(version),
            "harness_version": __version__,
            "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
            "splits": {},
            **info,
        }

    def _file(self, split: str, rel: str, write) -> dict[str, Any]:
        file = self.tmp / split / rel
        file.parent.mkdir(parents=True, exist_ok=True)
        write(file)
        return {"bytes": file.stat().st_size, "sha256": sha256_file(file)}

    def _array(self, split: str, stem: str, array: np.ndarray) -> dict[str, Any]:
        array = np.ascontiguousarray(array)
        info = self._file(split, f"{stem}.npy", lambda f: np.save(f, array, allow_pickle=False))
        return {**info, "shape": list(array.shape), "dtype": str(array.dtype)}

    def _table(self, split: str, stem: str, table: pd.DataFrame) -> dict[str, Any]:
        return self._file(split, f"{stem}.parquet", lambda f: table.to_parquet(f, index=False))

    def add_pairs(self, split: str, *, chosen, rejected, prompt, meta: pd.DataFrame, **info: Any) -> None:
        """Add a training split of preference pairs."""
        n = len(meta)
        _check_rows(split, n, chosen=chosen, rejected=rejected, prompt=prompt)
        files = {f"{a}.npy": self._array(split, a, arr) for a, arr in
                 (("chosen", chosen), ("rejected", rejected), ("prompt", prompt))}
        files["meta.parquet"] = self._table(split, "meta", meta)
        self.manifest["splits"][split] = {"kind": "pairs", "rows": n, "files": files, **info}

    def add_test(
        self, split: str, *, suite: str, response, prompt, meta: pd.DataFrame, chosen: np.ndarray, **info: Any
    ) -> None:
        """Add a test split; rows must already be shuffled. ``chosen`` goes to the labels file."""
        n = len(meta)
        _check_rows(split, n, response=response, prompt=prompt, chosen=chosen)
        files = {f"{a}.npy": self._array(split, a, arr) for a, arr in (("response", response), ("prompt", prompt))}
        files["meta.parquet"] = self._table(split, "meta", meta)
        import pandas as pd

        labels = pd.DataFrame({"row": np.arange(n), "chosen": np.asarray(chosen, bool)})
        files["labels.parquet"] = {**self._table(split, "labels", labels), "role": "labels"}
        self.manifest["splits"][split] = {
            "kind": "test", "suite": suite, "rows": n, "items": int(meta["item"].nunique()), "files": files, **info
        }

    def commit(self) -> Path:
        """Write the manifest last, then rename the folder into place."""
        dims = {
            info["shape"][1]
            for split in self.manifest["splits"].values()
            for name, info in split["files"].items()
            if name.endswith(".npy")
        }
        if len(dims) != 1:
            raise EmbeddingSetError(f"{self.tmp}: splits disagree on the embedding dimension {sorted(dims)}")
        self.manifest["dim"] = dims.pop()
        atomic_write_json(self.tmp / MANIFEST, self.manifest)
        os.replace(self.tmp, self.final)
        return self.final


def _check_rows(split: str, n: int, **arrays: np.ndarray) -> None:
    for key, arr in arrays.items():
        if len(arr) != n:
            raise EmbeddingSetError(f"split {split}: {key} has {len(arr)} rows, meta has {n}")


def resolve_set(ref: str | os.PathLike | None, search: list[Path] | None = None) -> Path:
    """Find a set folder from a path or ``NAME@VERSION`` (looked up in the search folders)."""
    from harness.paths import default_set_path, set_search_path

    if ref is None:
        return default_set_path()
    candidate = Path(ref)
    if candidate.is_dir():
        return candidate.absolute()
    ref = str(ref)
    if "@" in ref:
        name, version = ref.split("@", 1)
        for folder in search or set_search_path():
            if (folder / f"{name}-{version}").is_dir():
                return folder / f"{name}-{version}"
        raise EmbeddingSetError(
            f"set {ref} not found in {', '.join(map(str, search or set_search_path()))}; "
            f"run `rewardheads fetch {ref}` first"
        )
    raise EmbeddingSetError(f"{ref}: no such embedding-set folder (give a path or NAME@VERSION)")
