"""Where things live: the project's folders, the repository's own files and the cache for fetched sets.

A *project* is a folder holding ``submissions/`` (the repository itself is one). Commands find it
the way git finds a repository: the nearest folder at or above the current one that holds
``submissions/``; ``--project`` (or ``$REWARDHEADS_PROJECT``) names it outright, and outside any
project the source checkout the harness was installed from is used. Default paths hang off the
project, so no command's defaults depend on the current folder; paths given on the command line
are relative to the current folder, as in any tool.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.errors import HarnessError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = "mini@2"
WORKSPACE = "workspace"  # fresh runs write here; results/ holds the published board
_project_override: Path | None = None


def set_project(path: str | os.PathLike | None) -> None:
    """Use ``path`` as the project root for this process (the ``--project`` option)."""
    global _project_override
    if path is None:
        _project_override = None
        return
    root = Path(path).expanduser().resolve()
    if not (root / "submissions").is_dir():
        raise HarnessError(f"--project {path}: no submissions/ folder there")
    _project_override = root


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The project: ``--project``, ``$REWARDHEADS_PROJECT``, the nearest folder holding ``submissions/``
    at or above ``start`` (default: the current folder), else the source checkout."""
    if _project_override is not None:
        return _project_override
    env = os.environ.get("REWARDHEADS_PROJECT")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "submissions").is_dir():
            return folder
    return REPO_ROOT


def project_path(*parts: str) -> Path:
    """A path inside the project (``submissions/``, ``results/``, ``workspace/`` ...)."""
    return project_root().joinpath(*parts)


def repo_path(*parts: str) -> Path:
    """A path inside the source checkout (``submissions/``, ``results/``, ``sets/`` ...)."""
    return REPO_ROOT.joinpath(*parts)


def cache_dir() -> Path:
    """Cache for fetched sets: ``$REWARDHEADS_CACHE`` or ``~/.cache/rewardheads``."""
    env = os.environ.get("REWARDHEADS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "rewardheads"


def set_search_path() -> list[Path]:
    """Folders searched for ``NAME@VERSION``: the project's ``sets/``, the repository's, then the cache."""
    return list(dict.fromkeys([project_path("sets"), repo_path("sets"), cache_dir() / "sets"]))


def default_set_path() -> Path:
    """The bundled default set, ``sets/mini-2`` in the repository."""
    name, version = DEFAULT_SET.split("@")
    return repo_path("sets", f"{name}-{version}")
