"""Bradley-Terry linear reward head (logistic regression on embedding differences).

Under the Bradley-Terry model P(c > r) = sigmoid(w . (x_c - x_r)), so maximum likelihood is
logistic regression on differences without intercept; the mirrored rows (x_r - x_c, label 0)
make the problem balanced for scikit-learn. Embedding-based setting of Sun et al. 2025,
"Reusing Embeddings: Reproducible Reward Model Research in Large Language Model Alignment
without GPUs" (arXiv:2502.04357).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows


class Head(BaseHead):
    def __init__(self, C_grid=(0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0), val_frac: float = 0.1,
                 max_iter: int = 1000):
        self.C_grid = C_grid
        self.val_frac = val_frac
        self.max_iter = max_iter

    @staticmethod
    def _pairs(diff: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.concatenate([diff, -diff])
        y = np.concatenate([np.ones(len(diff)), np.zeros(len(diff))])
        return x, y

    def _fit_lr(self, diff: np.ndarray, C: float) -> LogisticRegression:
        x, y = self._pairs(diff)
        model = LogisticRegression(C=C, fit_intercept=False, max_iter=self.max_iter)
        return model.fit(x, y)

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        rng = np.random.default_rng(seed)
        chosen = train.chosen.astype(np.float64)
        rejected = train.rejected.astype(np.float64)
        both = np.concatenate([chosen, rejected])
        self.scale_ = both.std(axis=0) + 1e-6
        diff = (chosen - rejected) / self.scale_
        perm = rng.permutation(len(diff))
        n_val = max(1, int(round(self.val_frac * len(diff))))
        val, tr = perm[:n_val], perm[n_val:]
        losses = []
        for C in self.C_grid:
            model = self._fit_lr(diff[tr], C)
            x_val, y_val = self._pairs(diff[val])
            losses.append(log_loss(y_val, model.predict_proba(x_val)[:, 1], labels=[0, 1]))
        self.C_ = float(self.C_grid[int(np.argmin(losses))])
        self.val_losses_ = [float(v) for v in losses]
        self.w_ = self._fit_lr(diff, self.C_).coef_[0] / self.scale_  # weights on raw inputs

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        return batch.response.astype(np.float64) @ self.w_

    def n_params(self) -> int:
        return int(self.w_.size)
