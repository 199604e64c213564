"""k-nearest-neighbour reward head (Cover & Hart 1967) on cosine similarity.

The reward of a response is the fraction of chosen responses among its k most similar
training responses (chosen = 1, rejected = 0); with ``weights="similarity"`` the labels are
weighted by cosine similarity. Uniform weights give only k + 1 distinct rewards, so two
near-identical responses often tie (a tie counts as wrong in RewardBench's accuracy).
"""

from __future__ import annotations

import numpy as np

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows


class Head(BaseHead):
    def __init__(self, k: int = 32, center: bool = True, weights: str = "uniform",
                 chunk: int = 1024):
        self.k = k
        self.center = center
        self.weights = weights
        self.chunk = chunk

    def _unit(self, x: np.ndarray) -> np.ndarray:
        z = x.astype(np.float32) - self.mean_
        return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        if self.weights not in ("uniform", "similarity"):
            raise ValueError(f"weights must be 'uniform' or 'similarity', got {self.weights!r}")
        both = np.concatenate([train.chosen, train.rejected])
        self.mean_ = both.mean(axis=0) if self.center else np.zeros(train.dim, np.float32)
        self.keys_ = self._unit(both)
        self.labels_ = np.concatenate([np.ones(len(train)), np.zeros(len(train))])

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        k = min(self.k, len(self.keys_))
        out = np.empty(len(batch), dtype=np.float64)
        for start in range(0, len(batch), self.chunk):
            sim = self._unit(batch.response[start:start + self.chunk]) @ self.keys_.T
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            labels = self.labels_[top]
            if self.weights == "uniform":
                out[start:start + len(sim)] = labels.mean(axis=1)
            else:
                w = np.maximum(np.take_along_axis(sim, top, axis=1).astype(np.float64), 0) + 1e-12
                out[start:start + len(sim)] = (w * labels).sum(axis=1) / w.sum(axis=1)
        return out

    def n_params(self) -> int:
        return int(self.keys_.size)
