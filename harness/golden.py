"""The seed paper's golden-reward protocol: import its arrays, annotate pairs, score best-of-N.

Sun et al. 2025 ("Reusing Embeddings: Reproducible Reward Model Research in Large Language
Model Alignment without GPUs", arXiv 2502.04357) publish, per task and split, the embeddings of
K sampled responses to each of N prompts and one golden reward per response (the score of a
large golden reward model), as two ``.npy`` files in one folder::

    embd_{gen}_{embed}_{task}_{split}.npy     (N, K, D) embeddings of prompt + response
    reward_{gen}_{embed}_{task}_{split}.npy   (N, K, 1) golden rewards

(``load_data.py`` of holarissun/embedding-based-llm-alignment; e.g. ``gen = Gemma2b-sft``,
``embed = Gemma2b``, ``task = Harmless``, ``split`` ``train`` with K = 10 or ``test`` with
K = 500). :func:`import_golden` turns one ``{gen}_{embed}_{task}`` *stem* into an embedding set:

* ``train/golden``: a normal ``pairs`` split. Pairs of two distinct responses to one training
  prompt, labelled by a simulated Bradley-Terry annotator (:func:`annotate_pairs`), drawn once
  at import time with a recorded seed so that every head trains on the same pairs. The golden
  rewards of training responses are not stored anywhere in the set: a head learns only from
  the annotated pairs, as in the paper.
* ``golden``: a ``test`` split (suite ``golden-reward``) with every (prompt, k) row; its golden
  rewards are labels (``labels.parquet`` column ``golden``) that never reach a head.
* ``prompt``: the source has no prompt-only embedding, so a row's ``prompt`` array holds the
  mean of the embeddings of its prompt's K responses in that split (the same vector for every
  response of a prompt: it identifies the prompt and carries no reward information). Token
  counts are unknown and stored as 0.

The metrics (:func:`best_of_n`, :func:`spearman_per_prompt`, :func:`prompt_bootstrap`,
:func:`paired_prompt_bootstrap`) are pure
functions of ``(P, K)`` score and golden-reward matrices; the suite that puts them in result
records is :mod:`harness.suites.golden_reward`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, gammaln
from scipy.stats import rankdata

from harness.errors import HarnessError
from harness.fileio import sha256_file

SUITE = "golden-reward"
TRAIN_SPLIT = "train/golden"
TEST_SPLIT = "golden"
SOURCE_SPLITS = ("train", "test")
EMBED_PREFIX, REWARD_PREFIX = "embd_", "reward_"
PROMPT_RULE = ("mean of the embeddings of the prompt's K responses in its split (the source has "
               "no prompt-only embedding)")
BON_RULE = ("expected golden reward of the head's top-scored response among N of the prompt's K "
            "responses drawn uniformly without replacement, a tie for the top score broken uniformly "
            "at random (exact expectation, no sampling)")
ANNOTATOR_RULE = ("P(first preferred) = sigmoid(quality * (r_first - r_second) / scale); quality < 0: "
                  "the higher golden reward always wins (a tie goes to the first of the pair's random order)")


class GoldenError(HarnessError):
    """Golden-reward arrays that are missing, malformed or inconsistent."""


# ----------------------------------------------------------------------------------------------
# Finding and reading the paper's files
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceSplit:
    """One split of the source: embeddings ``(N, K, D)`` (memory-mapped) and rewards ``(N, K)``."""

    split: str
    embeddings: np.ndarray
    rewards: np.ndarray
    files: dict[str, Path]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.embeddings.shape)  # type: ignore[return-value]


def source_files(folder: Path, stem: str, split: str) -> dict[str, Path]:
    """The two file paths of one split of ``stem``: ``{"embeddings": ..., "rewards": ...}``."""
    return {"embeddings": folder / f"{EMBED_PREFIX}{stem}_{split}.npy",
            "rewards": folder / f"{REWARD_PREFIX}{stem}_{split}.npy"}


def find_stem(folder: str | os.PathLike, stem: str | None = None) -> str:
    """The ``{gen}_{embed}_{task}`` stem to import from ``folder`` (the only one, unless given)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GoldenError(f"{folder}: no such folder of golden-reward arrays")
    pattern = re.compile(rf"^{EMBED_PREFIX}(.+)_train\.npy$")
    stems = sorted(m.group(1) for f in folder.iterdir() if (m := pattern.match(f.name)))
    if stem is None:
        if not stems:
            raise GoldenError(f"{folder}: no {EMBED_PREFIX}<gen>_<embed>_<task>_train.npy file "
                              "(the seed paper's layout)")
        if len(stems) > 1:
            raise GoldenError(f"{folder}: holds several stems ({', '.join(stems)}); choose one with --stem")
        stem = stems[0]
    for split in SOURCE_SPLITS:
        for path in source_files(folder, stem, split).values():
            if not path.is_file():
                raise GoldenError(f"{path}: missing (each split needs both {EMBED_PREFIX}*.npy and "
                                  f"{REWARD_PREFIX}*.npy)")
    return stem


def describe_stem(stem: str) -> dict[str, str]:
    """``{"gen": ..., "embed": ..., "task": ...}`` when the stem has exactly three ``_`` parts."""
    parts = stem.split("_")
    return dict(zip(("gen", "embed", "task"), parts, strict=True)) if len(parts) == 3 else {}


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise GoldenError(f"{path}: not a readable .npy array ({err})") from None


def read_split(folder: str | os.PathLike, stem: str, split: str) -> SourceSplit:
    """Read and check one split: float embeddings ``(N, K, D)``, finite rewards ``(N, K, 1)``."""
    files = source_files(Path(folder), stem, split)
    emb, rew = _load(files["embeddings"]), _load(files["rewards"])
    if emb.ndim != 3 or emb.dtype.kind != "f":
        raise GoldenError(f"{files['embeddings']}: expected float embeddings of shape (N, K, D), "
                          f"got {emb.dtype} {list(emb.shape)}")
    n, k, d = emb.shape
    if n < 1 or k < 2 or d < 1:
        raise GoldenError(f"{files['embeddings']}: needs at least 1 prompt, 2 responses per prompt and "
                          f"1 dimension, got {list(emb.shape)}")
    if rew.ndim == 3 and rew.shape[2] == 1:
        rew = rew[:, :, 0]
    if rew.shape != (n, k) or rew.dtype.kind not in "fiu":
        raise GoldenError(f"{files['rewards']}: expected numeric rewards of shape ({n}, {k}, 1) to match "
                          f"{files['embeddings'].name}, got {rew.dtype} {list(np.shape(rew))}")
    rewards = np.asarray(rew, dtype=np.float64)
    if not np.isfinite(rewards).all():
        raise GoldenError(f"{files['rewards']}: {int((~np.isfinite(rewards)).sum())} NaN/inf reward(s)")
    for start in range(0, n, 1024):
        if not np.isfinite(emb[start:start + 1024]).all():
            raise GoldenError(f"{files['embeddings']}: NaN/inf embedding values (prompts {start}..)")
    return SourceSplit(split, emb, rewards, files)


# ----------------------------------------------------------------------------------------------
# The simulated annotator
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AnnotatedPairs:
    """Pairs of responses to one prompt: ``chosen[i]`` was preferred over ``rejected[i]``.

    All arrays have one entry per pair: the prompt index and the two response indices in
    ``0..K-1``; ``p_chosen`` is the annotator's probability of the label it gave.
    """

    prompt: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray
    p_chosen: np.ndarray

    def __len__(self) -> int:
        return len(self.prompt)

    def agreement(self, rewards: np.ndarray) -> float:
        """Fraction of pairs whose chosen response has the strictly higher golden reward."""
        return float(np.mean(rewards[self.prompt, self.chosen] > rewards[self.prompt, self.rejected]))


def reward_scale(rewards: np.ndarray, rule: str | float) -> float:
    """The annotator's reward unit: ``"std"`` (of every reward given, as the authors' code) or a number."""
    if rule == "std":
        return float(np.std(rewards)) + 1e-8
    try:
        scale = float(rule)
    except (TypeError, ValueError):
        raise GoldenError(f"reward scale {rule!r}: give 'std' or a positive number") from None
    if not np.isfinite(scale) or scale <= 0:
        raise GoldenError(f"reward scale {rule!r}: give 'std' or a positive number")
    return scale


def annotate_pairs(rewards: np.ndarray, *, quality: float, pairs_per_prompt: int, seed: int,
                   scale: float = 1.0) -> AnnotatedPairs:
    """Draw ``pairs_per_prompt`` distinct pairs per prompt and label each by a Bradley-Terry annotator.

    ``rewards`` is ``(N, K)``. Per prompt, ``min(pairs_per_prompt, K (K - 1) / 2)`` distinct
    unordered pairs are drawn without replacement and put in a random order; the first is
    preferred with probability ``sigmoid(quality * (r_first - r_second) / scale)``. A negative
    ``quality`` is the perfect annotator (the higher golden reward wins); 0 labels at random.
    Everything comes from ``np.random.default_rng(seed)`` in a fixed order, so the same inputs
    and seed give the same pairs.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 2 or rewards.shape[1] < 2:
        raise GoldenError(f"annotate_pairs: rewards must be (N, K) with K >= 2, got {list(rewards.shape)}")
    if pairs_per_prompt < 1:
        raise GoldenError(f"pairs per prompt must be at least 1, got {pairs_per_prompt}")
    if not np.isfinite(quality):
        raise GoldenError(f"annotation quality must be a finite number, got {quality}")
    n, k = rewards.shape
    first_of, second_of = np.triu_indices(k, 1)
    m = min(pairs_per_prompt, len(first_of))
    rng = np.random.default_rng(seed)
    combo = np.stack([rng.choice(len(first_of), m, replace=False) for _ in range(n)])
    prompt = np.repeat(np.arange(n), m)
    a, b = first_of[combo.ravel()], second_of[combo.ravel()]
    swap = rng.random(len(prompt)) < 0.5  # the pair's random order
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    diff = rewards[prompt, a] - rewards[prompt, b]
    if quality < 0:
        p_first = np.where(diff >= 0, 1.0, 0.0)
    else:
        p_first = expit(quality * diff / scale)
    first_wins = rng.random(len(prompt)) < p_first
    return AnnotatedPairs(prompt=prompt, chosen=np.where(first_wins, a, b), rejected=np.where(first_wins, b, a),
                          p_chosen=np.where(first_wins, p_first, 1.0 - p_first))


# ----------------------------------------------------------------------------------------------
# Import
# ----------------------------------------------------------------------------------------------
def _stored(emb: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if emb.dtype == np.float64 else emb.dtype


def _centroids(emb: np.ndarray) -> np.ndarray:
    """Per prompt, the mean of its K response embeddings (in chunks: ``emb`` may be memory-mapped)."""
    out = np.empty((emb.shape[0], emb.shape[2]), _stored(emb))
    for start in range(0, emb.shape[0], 1024):
        out[start:start + 1024] = np.asarray(emb[start:start + 1024], np.float64).mean(axis=1)
    return out


def _file_info(path: Path) -> dict[str, Any]:
    array = _load(path)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path),
            "shape": list(array.shape), "dtype": str(array.dtype)}


def import_golden(folder: str | os.PathLike, out: str | os.PathLike, *, name: str, version: str,
                  stem: str | None = None, annotation_quality: float = 1.0, pairs_per_prompt: int = 10,
                  seed: int = 0, scale: str | float = "std", subset: str | None = None) -> Path:
    """Write ``<out>/<name>-<version>/`` from the paper's arrays in ``folder``; returns the set folder.

    ``annotation_quality``, ``pairs_per_prompt``, ``seed`` and ``scale`` set the annotator
    (:func:`annotate_pairs`; ``scale="std"`` divides reward differences by the standard deviation
    of the training rewards, as the authors' ``pair_annotate`` does). The same seed also fixes the
    order of the test rows. ``subset`` names the test rows' subset (default: the stem's task).
    Embeddings keep their float dtype (float64 becomes float32).
    """
    from harness.embedset import SetWriter

    folder = Path(folder)
    stem = find_stem(folder, stem)
    train, test = (read_split(folder, stem, s) for s in SOURCE_SPLITS)
    if train.shape[2] != test.shape[2]:
        raise GoldenError(f"{test.files['embeddings']}: dimension {test.shape[2]}, but the train split's "
                          f"is {train.shape[2]}")
    parts = describe_stem(stem)
    subset = subset or parts.get("task") or stem
    unit = reward_scale(train.rewards, scale)
    pairs = annotate_pairs(train.rewards, quality=annotation_quality, pairs_per_prompt=pairs_per_prompt,
                           seed=seed, scale=unit)
    annotation = {
        "quality": float(annotation_quality), "perfect": bool(annotation_quality < 0),
        "pairs_per_prompt": int(pairs_per_prompt), "seed": int(seed), "scale_rule": str(scale),
        "scale": unit, "rule": ANNOTATOR_RULE, "pairs": len(pairs),
        "agreement_with_golden": pairs.agreement(train.rewards),
    }
    source = {s.split: {"N": s.shape[0], "K": s.shape[1],
                        "files": {role: _file_info(path) for role, path in s.files.items()}}
              for s in (train, test)}
    golden_info = {"protocol": "Sun et al. 2025, arXiv 2502.04357", "stem": stem, **parts,
                   "D": train.shape[2], "source": source, "annotation": annotation,
                   "prompt_embedding": PROMPT_RULE, "best_of_n": BON_RULE}
    writer = SetWriter(out, name, version, golden=golden_info,
                       model={"id": parts.get("embed", stem), "pooling": "as published by the source",
                              "responses_from": parts.get("gen", "")})
    try:
        _add_train(writer, train, pairs, subset)
        _add_test(writer, test, subset, seed)
        return writer.commit()
    except BaseException:
        import shutil

        shutil.rmtree(writer.tmp, ignore_errors=True)
        raise


def _add_train(writer, train: SourceSplit, pairs: AnnotatedPairs, subset: str) -> None:
    dtype = _stored(train.embeddings)
    n_pairs = len(pairs)
    meta = pd.DataFrame({
        "id": [f"{p}:{c}>{r}" for p, c, r in zip(pairs.prompt, pairs.chosen, pairs.rejected, strict=True)],
        "subset": subset, "prompt_tokens": np.zeros(n_pairs, np.int64),
        "chosen_tokens": np.zeros(n_pairs, np.int64), "rejected_tokens": np.zeros(n_pairs, np.int64),
        "truncated": np.zeros(n_pairs, bool), "prompt_index": pairs.prompt,
        "chosen_k": pairs.chosen, "rejected_k": pairs.rejected,
    })
    emb = train.embeddings
    writer.add_pairs(TRAIN_SPLIT, chosen=np.asarray(emb[pairs.prompt, pairs.chosen], dtype),
                     rejected=np.asarray(emb[pairs.prompt, pairs.rejected], dtype),
                     prompt=_centroids(emb)[pairs.prompt], meta=meta,
                     source=f"{SUITE} train ({train.files['embeddings'].name})",
                     K=train.shape[1], prompts=train.shape[0], annotation="see manifest golden.annotation")


def _add_test(writer, test: SourceSplit, subset: str, seed: int) -> None:
    n, k, d = test.shape
    rows = n * k
    perm = np.random.default_rng(seed).permutation(rows)
    item, kk = perm // k, perm % k
    response = np.asarray(test.embeddings.reshape(rows, d)[perm], _stored(test.embeddings))
    golden = test.rewards[item, kk]
    best_k = np.argmax(test.rewards, axis=1)  # the oracle's pick (lowest k among ties)
    meta = pd.DataFrame({
        "row": np.arange(rows), "item": item, "id": item.astype(str), "subset": subset, "k": kk,
        "prompt_tokens": np.zeros(rows, np.int64), "response_tokens": np.zeros(rows, np.int64),
        "truncated": np.zeros(rows, bool),
    })
    writer.add_test(TEST_SPLIT, suite=SUITE, response=response, prompt=_centroids(test.embeddings)[item],
                    meta=meta, chosen=kk == best_k[item], shuffle_seed=seed, K=k, prompts=n,
                    source=f"{SUITE} test ({test.files['embeddings'].name})")
    # the golden rewards join the labels file (never given to a head); keep the manifest's hash in step
    labels = pd.DataFrame({"row": np.arange(rows), "chosen": kk == best_k[item], "golden": golden})
    files = writer.manifest["splits"][TEST_SPLIT]["files"]
    files["labels.parquet"] = {**writer._table(TEST_SPLIT, "labels", labels), "role": "labels"}


def golden_labels(split: Any) -> np.ndarray:
    """The golden reward of every row of a golden test split (row order), from its labels file."""
    path = Path(split.labels_path)
    table = pd.read_parquet(path)
    if "golden" not in table.columns:
        raise GoldenError(f"{path}: no 'golden' column (not a golden-reward split)")
    if len(table) != len(split.meta) or not (table["row"].to_numpy() == np.arange(len(table))).all():
        raise GoldenError(f"{path}: labels do not line up with meta rows")
    return table["golden"].to_numpy(np.float64)


# ----------------------------------------------------------------------------------------------
# Metrics (pure functions of (P, K) matrices)
# ----------------------------------------------------------------------------------------------
def bon_sizes(k: int) -> tuple[int, ...]:
    """N = 1, 2, 4, ... (powers of two below K), then K itself."""
    sizes, n = [], 1
    while n < k:
        sizes.append(n)
        n *= 2
    return (*sizes, k)


def _log_comb(a: np.ndarray, n: int) -> np.ndarray:
    """log C(a, n) elementwise; -inf where a < n."""
    a = np.asarray(a, dtype=np.float64)
    out = np.full(a.shape, -np.inf)
    ok = a >= n
    out[ok] = gammaln(a[ok] + 1) - gammaln(n + 1) - gammaln(a[ok] - n + 1)
    return out


@dataclass(frozen=True)
class BestOfN:
    """Best-of-N golden reward per prompt: ``picked``/``oracle`` are ``(P, len(ns))``, ``random`` ``(P,)``."""

    ns: tuple[int, ...]
    picked: np.ndarray
    oracle: np.ndarray
    random: np.ndarray

    @property
    def gain(self) -> np.ndarray:
        """The head's pick minus a random pick (the mean golden reward of the N)."""
        return self.picked - self.random[:, None]

    @property
    def oracle_gain(self) -> np.ndarray:
        """The best of the N minus a random pick."""
        return self.oracle - self.random[:, None]


def expected_top(scores: np.ndarray, golden: np.ndarray, ns: Sequence[int]) -> np.ndarray:
    """``(P, len(ns))``: the expected golden reward of the top-scored of N uniformly drawn responses.

    Sort a prompt's responses by score; a response ranked below ``h`` others, in a group of ``g``
    tied scores, is picked with probability ``(C(K-h, N) - C(K-h-g, N)) / (g C(K, N))``: no
    higher-scored response was drawn, at least one of its group was, and the tie is split evenly.
    """
    scores, golden = np.asarray(scores, np.float64), np.asarray(golden, np.float64)
    if scores.shape != golden.shape or scores.ndim != 2:
        raise GoldenError(f"scores {list(scores.shape)} and golden rewards {list(golden.shape)} must both be (P, K)")
    p, k = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, axis=1)
    g = np.take_along_axis(golden, order, axis=1)
    pos = np.broadcast_to(np.arange(k), (p, k))
    new = np.ones((p, k), bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    start = np.maximum.accumulate(np.where(new, pos, 0), axis=1)  # h: rows scored strictly higher
    last = np.ones((p, k), bool)
    last[:, :-1] = new[:, 1:]
    end = np.minimum.accumulate(np.where(last, pos, k)[:, ::-1], axis=1)[:, ::-1]
    size = end - start + 1
    out = np.empty((p, len(ns)))
    for j, n in enumerate(ns):
        if not 1 <= n <= k:
            raise GoldenError(f"best-of-N: N={n} is outside 1..K={k}")
        total = _log_comb(np.array(k), n)
        w = np.exp(_log_comb(k - start, n) - total) - np.exp(_log_comb(k - start - size, n) - total)
        out[:, j] = (w / size * g).sum(axis=1)
    return out


def best_of_n(scores: np.ndarray, golden: np.ndarray, ns: Sequence[int] | None = None) -> BestOfN:
    """Best-of-N for a head's ``(P, K)`` scores against golden rewards (``ns`` default :func:`bon_sizes`)."""
    golden = np.asarray(golden, np.float64)
    ns = tuple(ns) if ns is not None else bon_sizes(golden.shape[1])
    return BestOfN(ns, expected_top(scores, golden, ns), expected_top(golden, golden, ns), golden.mean(axis=1))


def spearman_per_prompt(scores: np.ndarray, golden: np.ndarray) -> np.ndarray:
    """``(P,)`` Spearman correlation (average ranks) of each prompt's scores with its golden rewards.

    A prompt whose scores (or golden rewards) are all equal has no defined correlation; it counts
    as 0, so a constant head scores 0 rather than being dropped.
    """
    r_s = rankdata(np.asarray(scores, np.float64), axis=1)
    r_g = rankdata(np.asarray(golden, np.float64), axis=1)
    r_s -= r_s.mean(axis=1, keepdims=True)
    r_g -= r_g.mean(axis=1, keepdims=True)
    den = np.sqrt((r_s**2).sum(axis=1) * (r_g**2).sum(axis=1))
    num = (r_s * r_g).sum(axis=1)
    safe = den > 0
    return np.where(safe, num / np.where(safe, den, 1.0), 0.0)


def by_prompt(values: np.ndarray, item: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row values of a test split as a ``(P, K)`` matrix (prompts in item order) and the items."""
    item, k = np.asarray(item, np.int64), np.asarray(k, np.int64)
    prompts, p_index = np.unique(item, return_inverse=True)
    width = int(k.max()) + 1
    counts = np.bincount(p_index, minlength=len(prompts))
    if (counts != width).any() or len(np.unique(p_index * width + k)) != len(k):
        raise GoldenError(f"golden-reward rows must hold each of K={width} responses of every prompt exactly once")
    out = np.empty((len(prompts), width))
    out[p_index, k] = values
    return out, prompts


def _resample_weights(n: int, n_boot: int, seed: int, strata: np.ndarray | None) -> np.ndarray:
    """``(n_boot, n)`` counts of each prompt in each resample (each stratum keeps its size)."""
    rng = np.random.default_rng(seed)
    strata = np.zeros(n, int) if strata is None else np.asarray(strata)
    weights = np.zeros((n_boot, n))
    for label in np.unique(strata):
        members = np.flatnonzero(strata == label)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=n_boot)
    return weights


def paired_prompt_bootstrap(values_a: np.ndarray, values_b: np.ndarray,
                            statistic: Callable[[np.ndarray], np.ndarray], *, n_boot: int = 1000, seed: int = 0,
                            strata: np.ndarray | None = None, level: float = 0.95) -> dict[str, Any]:
    """Head A against head B on the same prompts: both resampled with the same prompt indices.

    ``values_a``/``values_b`` are ``(P, m)`` per-prompt units in the same prompt order. Returns
    ``{"delta", "ci95", "p_value"}``: ``statistic(A) − statistic(B)`` on all prompts, its percentile
    CI, and the two-sided p (twice the smaller fraction of replicates on either side of 0, at most 1).
    """
    a, b = np.asarray(values_a, np.float64), np.asarray(values_b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise GoldenError(f"paired bootstrap needs both heads' units on the same prompts ({a.shape} vs {b.shape})")
    delta = float(statistic(a.mean(axis=0)) - statistic(b.mean(axis=0)))
    weights = _resample_weights(len(a), n_boot, seed, strata)
    diff = np.asarray(statistic(weights @ a / len(a)) - statistic(weights @ b / len(b)), np.float64)
    diff = diff[np.isfinite(diff)]
    if not np.isfinite(delta) or len(diff) < n_boot / 2:
        return {"delta": None, "ci95": None, "p_value": None}
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(diff, [tail, 100 - tail])
    p = min(1.0, 2 * min(float(np.mean(diff <= 0)), float(np.mean(diff >= 0))))
    return {"delta": delta, "ci95": [float(lo), float(hi)], "p_value": p}


def prompt_bootstrap(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *, n_boot: int,
                     seed: int = 0, strata: np.ndarray | None = None, level: float = 0.95) -> list[float] | None:
    """Percentile CI of ``statistic(column means)`` over prompts resampled with replacement.

    ``values`` is ``(P, m)``, one row per prompt; ``statistic`` maps ``(B, m)`` resampled column
    means to ``(B,)``. ``strata`` (one label per prompt) keeps each group's size. None when
    ``n_boot`` is 0 or the statistic is undefined on most resamples.
    """
    values = np.asarray(values, np.float64)
    if n_boot <= 0 or len(values) == 0:
        return None
    weights = _resample_weights(len(values), n_boot, seed, strata)
    stats = np.asarray(statistic(weights @ values / len(values)), np.float64)
    stats = stats[np.isfinite(stats)]
    if len(stats) < n_boot / 2:
        return None
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return [float(lo), float(hi)]
