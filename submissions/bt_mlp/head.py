"""Bradley-Terry MLP reward head on frozen embeddings.

r(x) = MLP(x); training minimises -log sigmoid(r(x_chosen) - r(x_rejected)) (Bradley & Terry
1952; the embedding-based setup of Sun et al. 2025, arXiv:2502.04357). Early stopping on a
held-out 10% of pairs restores the weights with the best validation loss. The training loop is
the harness's shared one (harness/training.py).
"""

from __future__ import annotations

import torch

from harness.heads import PreferenceData
from harness.training import (
    MLPHead,
    best_epoch,
    bt_loss,
    bt_validation,
    mlp,
    seeded,
    split_pairs,
    standardise,
    train_early_stopping,
)


class Head(MLPHead):
    def __init__(self, hidden=(1024, 512), lr: float = 1e-3, weight_decay: float = 1e-5,
                 batch_size: int = 64, max_epochs: int = 30, patience: int = 3,
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
        _, self.mean_, self.std_ = standardise(train.chosen, train.rejected)
        xc, xr = self._input(train.chosen), self._input(train.rejected)
        val, tr = split_pairs(len(train), self.val_frac, rng)
        val = torch.from_numpy(val)
        self.model_ = model = mlp(train.dim, self.hidden)
        self.history_ = train_early_stopping(
            model, lambda idx: bt_loss(model, xc[idx], xr[idx]), lambda: bt_validation(model, xc[val], xr[val]),
            tr, rng, lr=self.lr, weight_decay=self.weight_decay, batch_size=self.batch_size,
            max_epochs=self.max_epochs, patience=self.patience)
        self.best_epoch_ = best_epoch(self.history_)
