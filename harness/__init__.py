"""RewardHeads: a benchmark and leaderboard harness for embedding-based reward models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rewardheads")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.1.0"

from harness.errors import HarnessError

__all__ = ["HarnessError", "__version__", "compare", "evaluate", "load_set", "project_path"]


def __getattr__(name: str):
    """``harness.evaluate`` / ``load_set`` / ``compare`` load the notebook API on first use (the
    sandbox worker imports ``harness`` and must stay light)."""
    if name in ("evaluate", "load_set", "compare"):
        from harness import api

        return getattr(api, name)
    if name == "project_path":
        from harness.paths import project_path

        return project_path
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
