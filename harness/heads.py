"""The reward-head interface: ``fit`` on training pairs, ``score`` unlabelled responses.

A head is a class whose hyper-parameters are ``__init__`` keyword arguments (stored
unchanged, as in scikit-learn) with two methods::

    class Head(BaseHead):
        def __init__(self, alpha: float = 1.0): self.alpha = alpha
        def fit(self, train: PreferenceData, *, seed: int) -> None: ...
        def score(self, batch: ScoreBatch) -> np.ndarray: ...   # one float per row

Learned state gets a trailing underscore (``w_``). A head that needs something a set may
lack (prompt embeddings, ratings) lists it in ``requires``; the harness skips it with a
reason instead of crashing it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from harness.errors import HarnessError

CAPABILITIES = ("prompt", "ratings", "tokens")


class HeadSkipped(HarnessError):
    """Raised by a head (or the harness) when the data lacks what the head needs."""


@dataclass(frozen=True)
class PreferenceData:
    """Training pairs: row ``i`` of ``chosen`` was preferred over row ``i`` of ``rejected``.

    ``prompt`` holds prompt-only embeddings; ``ratings_chosen``/``ratings_rejected`` are
    (n, k) per-objective ratings (NaN where a source has none) named by ``objectives``.
    """

    chosen: np.ndarray
    rejected: np.ndarray
    prompt: np.ndarray | None = None
    chosen_tokens: np.ndarray | None = None
    rejected_tokens: np.ndarray | None = None
    prompt_tokens: np.ndarray | None = None
    objectives: tuple[str, ...] = ()
    ratings_chosen: np.ndarray | None = None
    ratings_rejected: np.ndarray | None = None
    source: np.ndarray | None = field(default=None, repr=False)  # training split of each pair

    def __post_init__(self) -> None:
        n = len(self.chosen)
        for name in ("rejected", "prompt", "chosen_tokens", "rejected_tokens", "prompt_tokens",
                     "ratings_chosen", "ratings_rejected", "source"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise HarnessError(f"PreferenceData: {name} has {len(value)} rows, chosen has {n}")

    def __len__(self) -> int:
        return len(self.chosen)

    @property
    def dim(self) -> int:
        return int(self.chosen.shape[1])

    def has(self, capability: str) -> bool:
        """Whether the data carries ``prompt``, ``ratings`` or ``tokens``."""
        if capability == "prompt":
            return self.prompt is not None
        if capability == "ratings":
            return bool(self.objectives) and self.ratings_chosen is not None and bool(
                np.isfinite(self.ratings_chosen).any()
            )
        if capability == "tokens":
            return self.chosen_tokens is not None
        raise HarnessError(f"unknown capability '{capability}' (known: {', '.join(CAPABILITIES)})")

    def subset(self, rows: np.ndarray) -> PreferenceData:
        """The pairs at ``rows`` (e.g. a validation split)."""
        take = {
            name: (value[rows] if isinstance(value, np.ndarray) else value)
            for name, value in self.__dict__.items()
        }
        return PreferenceData(**take)


@dataclass(frozen=True)
class ScoreBatch:
    """Unlabelled responses to score, in an order that says nothing about preference."""

    response: np.ndarray
    prompt: np.ndarray | None = None
    response_tokens: np.ndarray | None = None
    prompt_tokens: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.response)


@runtime_checkable
class RewardHead(Protocol):
    """What the harness calls. Hyper-parameters are keyword arguments of ``__init__``."""

    def fit(self, train: PreferenceData, *, seed: int) -> None: ...

    def score(self, batch: ScoreBatch) -> np.ndarray: ...


class BaseHead:
    """Optional base class: ``get_params``, ``requires`` and a parameter count."""

    requires: ClassVar[tuple[str, ...]] = ()

    def get_params(self) -> dict[str, Any]:
        """Constructor arguments as stored on the instance (scikit-learn convention)."""
        sig = inspect.signature(type(self).__init__)
        return {
            name: getattr(self, name)
            for name, p in sig.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def n_params(self) -> int | None:
        """Number of learned parameters, if the head can say (shown on the leaderboard)."""
        return None

    def set_readout(self, **params: Any) -> None:
        """Re-read the fitted model under other read-out params (those ``readout = [...]`` in
        ``submission.toml`` names): variants that differ only in these share one fit per seed.

        The default stores each value on the constructor argument of that name, which is right when
        ``score`` reads the attribute (as ``self.aggregation``); override it when ``fit`` derives
        state from a read-out param. ``check_readout`` verifies a re-read scores like a fresh fit.
        """
        known = self.get_params()
        for name, value in params.items():
            if name not in known:
                raise TypeError(f"set_readout: {type(self).__name__}() has no parameter {name!r}")
            setattr(self, name, value)

    def fit(self, train: PreferenceData, *, seed: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, batch: ScoreBatch) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


def missing_capabilities(head: Any, train: PreferenceData, batch: ScoreBatch | None = None) -> list[str]:
    """What ``head.requires`` asks for that the data does not carry."""
    missing = [c for c in getattr(head, "requires", ()) if not train.has(c)]
    if batch is not None and "prompt" in getattr(head, "requires", ()) and batch.prompt is None:
        missing.append("prompt (test)")
    return missing


MAX_PARAMS = 10**12
ROW_BLOCK = 256


def count_params(head: Any) -> int | None:
    """The head's own count, else the size of its torch modules / numpy arrays with ``_`` names."""
    own = getattr(head, "n_params", None)
    if callable(own) and (n := own()) is not None:
        return n
    total, found = 0, False
    for name, value in vars(head).items():
        if not name.endswith("_"):
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            total, found = total + value.size, True
        elif hasattr(value, "parameters"):
            total, found = total + sum(p.numel() for p in value.parameters()), True
    return total if found else None


def check_params(n: Any) -> int | None:
    """A parameter count as a plain int in [0, 10**12] (or None), else a clear error."""
    if n is None:
        return None
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise HarnessError(f"n_params() returned {type(n).__name__}, not an integer")
    value = int(n)
    if not 0 <= value <= MAX_PARAMS:
        shown = str(value) if abs(value) < 10**15 else f"a {len(str(abs(value)))}-digit number"
        raise HarnessError(f"n_params() returned {shown}, outside [0, {MAX_PARAMS:.0e}]")
    return value


def check_scores(scores: Any, n: int) -> np.ndarray:
    """The head's output as a float64 vector of ``n`` finite values, or a clear error.

    One rule for ``validate`` and ``run``: ``score()`` returns a numpy array of floats of shape
    ``(n,)`` (or ``(n, 1)``); lists, object arrays, integers and subclasses are refused.
    """
    if not isinstance(scores, np.ndarray):
        raise HarnessError(f"score() must return a numpy array of floats, got {type(scores).__name__}")
    if scores.dtype.kind != "f":
        raise HarnessError(f"score() must return floats, got an array of {scores.dtype}")
    arr = np.array(scores, dtype=np.float64, copy=True, subok=False)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0].copy()
    if arr.shape != (n,):
        raise HarnessError(f"score() returned shape {arr.shape}, expected ({n},)")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise HarnessError(f"score() returned {int(bad.sum())} non-finite value(s) (NaN/inf) of {n}")
    return arr


def score_rows(fn: Callable[[ScoreBatch], Any], batch: ScoreBatch, block: int = ROW_BLOCK) -> np.ndarray:
    """``fn`` applied to ``batch`` in fixed-size blocks of rows (the last one zero-padded), concatenated.

    Matrix products give a row bit-for-bit the same result only when it is computed in a block of
    the same shape: BLAS picks kernels by size and treats edge tiles differently. In fixed blocks a
    row's score no longer depends on where it sits in the batch, how large the batch is or what
    else is in it, which is what the permutation-equivariance check (and every run) asks of a head::

        def score(self, batch):
            return score_rows(self._score, batch)
    """
    n = len(batch)
    pad = (-n) % block

    def padded(a: np.ndarray | None) -> np.ndarray | None:
        if a is None or not pad:
            return a
        return np.concatenate([a, np.zeros((pad, *a.shape[1:]), a.dtype)])

    full = ScoreBatch(**{k: padded(v) for k, v in batch.__dict__.items()})
    out = []
    for i in range(0, n + pad, block):
        part = ScoreBatch(**{k: (v[i:i + block] if v is not None else None) for k, v in full.__dict__.items()})
        out.append(np.asarray(fn(part), dtype=np.float64).reshape(-1))
    return np.concatenate(out)[:n] if out else np.zeros(0)
