"""What a head is shown of the test rows: secret order, a perturbation probe and repeated rows.

Each sandboxed job gets two score calls drawn afresh from the OS's CSPRNG, never written
where the head can read the draw:

* every test row appears once *clean* and once *perturbed* (each stored value moved by at
  most one step of its storage precision, e.g. one float16 ulp), split between the two calls
  at random, each call in its own random order. The row order of a set (however it was built)
  therefore carries nothing, and the clean scores are un-permuted outside the sandbox.
* the **perturbation probe** compares each item's decision (which row scores highest) on
  the clean and the perturbed copies. An honest head barely notices a change at the storage
  precision (the shipped baselines flip 0-1.6% of items on ``mini@1``); a head that looks
  test rows up in a table keyed by their exact content misses every perturbed row. Jobs
  that flip more than :data:`MAX_FLIP_RATE` of the items fail. The two calls mix clean and
  perturbed rows so a head cannot tell which call is "the real one".
* a few rows appear clean in *both* calls, at different positions and in different company:
  their scores must agree (row-wise, permutation-equivariant scoring) to rounding noise
  (:data:`REPEAT_RTOL`); heads that score in fixed blocks (:func:`harness.heads.score_rows`,
  as every shipped head does) agree bit for bit, so their results are bit-reproducible
  although the order changes from run to run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

MAX_FLIP_RATE = 0.05
N_REPEATS = 256
REPEAT_RTOL = 1e-6  # rounding noise of BLAS kernels; order-dependent scoring differs by far more
CALLS = ("a", "b")


def secret_rng() -> np.random.Generator:
    """A generator seeded from the OS's CSPRNG: nothing in the source or a file predicts it."""
    return np.random.Generator(np.random.PCG64(secrets.randbits(128)))


def perturb(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Move each value down one step, keep it, or move it up one step of its own dtype's precision."""
    x = np.asarray(x)
    if x.dtype.kind != "f":
        raise HarnessError(f"cannot perturb an array of {x.dtype}")
    step = rng.integers(0, 3, x.shape, dtype=np.int8)
    out = x.copy()
    up, down = step == 2, step == 0
    out[up] = np.nextafter(x[up], np.array(np.inf, x.dtype))
    out[down] = np.nextafter(x[down], np.array(-np.inf, x.dtype))
    return out


@dataclass(frozen=True)
class ScoreCalls:
    """One job's draw: which stored row (and which copy) sits at each position of each call."""

    rows: tuple[np.ndarray, np.ndarray]  # per call, the set-order row at each position
    clean: tuple[np.ndarray, np.ndarray]  # per call, whether that position holds the clean copy
    primary: tuple[np.ndarray, np.ndarray]  # per call, whether it is the row's first clean copy

    @classmethod
    def draw(cls, n: int, rng: np.random.Generator, n_repeats: int = N_REPEATS) -> ScoreCalls:
        in_a = rng.random(n) < 0.5  # the row's clean copy goes to call a, its perturbed copy to b
        repeats = rng.choice(n, size=min(n_repeats, n), replace=False)
        rows, clean, primary = [], [], []
        for mine in (in_a, ~in_a):
            ids = np.arange(n)
            extra = repeats[~mine[repeats]]  # repeated rows get a second clean copy in the other call
            r = np.concatenate([ids, extra])
            c = np.concatenate([mine, np.ones(len(extra), bool)])
            p = np.concatenate([mine, np.zeros(len(extra), bool)])
            order = rng.permutation(len(r))
            rows.append(r[order])
            clean.append(c[order])
            primary.append(p[order])
        return cls(tuple(rows), tuple(clean), tuple(primary))

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(r) for name, r in zip(CALLS, self.rows, strict=True)}

    def write(self, folder: Path, arrays: dict[str, np.ndarray], rng: np.random.Generator) -> None:
        """Save each call's arrays (embeddings perturbed where a position holds the perturbed copy)."""
        for name, rows, clean in zip(CALLS, self.rows, self.clean, strict=True):
            out = folder / name
            out.mkdir(parents=True)
            for key, values in arrays.items():
                taken = np.asarray(values[rows])
                if taken.dtype.kind == "f":
                    taken[~clean] = perturb(taken[~clean], rng)
                np.save(out / f"{key}.npy", taken, allow_pickle=False)

    def unpack(self, scores: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray, float]:
        """``(clean, perturbed, mismatch of the repeated rows)`` in set order (see :func:`repeat_mismatch`)."""
        clean, perturbed = np.full(n, np.nan), np.full(n, np.nan)
        repeat_first, repeat_second = np.full(n, np.nan), np.full(n, np.nan)
        for name, rows, c, p in zip(CALLS, self.rows, self.clean, self.primary, strict=True):
            s = scores[name]
            clean[rows[p]] = s[p]
            perturbed[rows[~c]] = s[~c]
            second = c & ~p
            repeat_second[rows[second]] = s[second]
        repeated = ~np.isnan(repeat_second)
        repeat_first[repeated] = clean[repeated]
        return clean, perturbed, repeat_mismatch(repeat_first[repeated], repeat_second[repeated])


def repeat_mismatch(first: np.ndarray, second: np.ndarray) -> float:
    """0.0 when two scorings of the same rows agree to rounding noise, else their largest difference."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    diff = np.abs(first - second)
    scale = np.maximum(np.abs(first), np.abs(second))
    bad = diff > REPEAT_RTOL * scale + 1e-12
    return float(diff[bad].max()) if bad.any() else 0.0


def item_decisions(scores: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Per item (sorted by id), the row with the strictly highest score, or -1 for a tie."""
    order = np.lexsort((-scores, item))
    s, it = scores[order], item[order]
    starts = np.flatnonzero(np.r_[True, it[1:] != it[:-1]])
    top = order[starts]
    second = starts + 1
    has_second = (second < len(it)) & np.r_[it[1:] == it[:-1], False][starts]
    tie = has_second & (s[np.minimum(second, len(s) - 1)] == s[starts])
    return np.where(tie, -1, top)


def flip_rate(clean: np.ndarray, perturbed: np.ndarray, item: np.ndarray) -> float:
    """Fraction of items whose decision differs between the clean and the perturbed scores."""
    a, b = item_decisions(clean, item), item_decisions(perturbed, item)
    return float(np.mean(a != b)) if len(a) else 0.0
