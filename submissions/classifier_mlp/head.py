"""Pointwise classification reward head: P(chosen | response) from a binary MLP.

Each response is an independent example (chosen = 1, rejected = 0) trained with binary
cross-entropy; the reward is the logit. This is the "classification" alternative to
Bradley-Terry compared by Sun et al. 2025 (arXiv:2502.04357). The validation split is by pair,
so a pair's two responses never straddle train and validation. The MLP, the split and the
early-stopping loop are the harness's shared ones (harness/training.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from harness.heads import PreferenceData
from harness.training import MLPHead, best_epoch, mlp, seeded, split_pairs, standardise, train_early_stopping


class Head(MLPHead):
    def __init__(self, hidden=(1024, 512), lr: float = 1e-3, weight_decay: float = 1e-5,
                 batch_size: int = 128, max_epochs: int = 30, patience: int = 3,
                 val_frac: float = 0.1):
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_frac = val_frac

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        rng = seeded(seed)
        n = len(train)
        both, self.mean_, self.std_ = standardise(train.chosen, train.rejected)
        x = self._input(both)
        y = torch.cat([torch.ones(n), torch.zeros(n)])
        held, kept = split_pairs(n, self.val_frac, rng)
        n_val = len(held)
        val = torch.from_numpy(np.concatenate([held, held + n]))
        self.model_ = model = mlp(train.dim, self.hidden)

        def validation() -> tuple[float, float]:
            logits = model(x[val])[:, 0]
            pairwise = float((logits[:n_val] > logits[n_val:]).float().mean())
            return float(F.binary_cross_entropy_with_logits(logits, y[val])), pairwise

        self.history_ = train_early_stopping(
            model, lambda idx: F.binary_cross_entropy_with_logits(model(x[idx])[:, 0], y[idx]), validation,
            np.concatenate([kept, kept + n]), rng, lr=self.lr, weight_decay=self.weight_decay,
            batch_size=self.batch_size, max_epochs=self.max_epochs, patience=self.patience)
        self.best_epoch_ = best_epoch(self.history_)
