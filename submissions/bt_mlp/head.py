"""Bradley-Terry MLP reward head on frozen embeddings.

r(x) = MLP(x); training minimises -log sigmoid(r(x_chosen) - r(x_rejected)) (Bradley & Terry
1952; the embedding-based setup of Sun et al. 2025, arXiv:2502.04357). Early stopping on a
held-out 10% of pairs restores the weights with the best validation loss.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows


class Head(BaseHead):
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

    def _build(self, dim: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for width in self.hidden:
            layers += [nn.Linear(dim, width), nn.ReLU()]
            dim = width
        return nn.Sequential(*layers, nn.Linear(dim, 1))

    def _input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x - self.mean_) / self.std_).astype(np.float32))

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        both = np.concatenate([train.chosen, train.rejected]).astype(np.float64)
        self.mean_, self.std_ = both.mean(axis=0), both.std(axis=0) + 1e-6
        xc, xr = self._input(train.chosen), self._input(train.rejected)
        perm = rng.permutation(len(train))
        n_val = max(1, int(round(self.val_frac * len(train))))
        val, tr = torch.from_numpy(perm[:n_val]), perm[n_val:]
        self.model_ = model = self._build(train.dim)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        best, best_state, waited = np.inf, None, 0
        self.history_ = []
        for _ in range(self.max_epochs):
            model.train()
            order = torch.from_numpy(rng.permutation(tr))
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                margin = model(xc[idx]) - model(xr[idx])
                loss = -F.logsigmoid(margin).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                margin = model(xc[val]) - model(xr[val])
                val_loss = float(-F.logsigmoid(margin).mean())
                val_acc = float((margin > 0).float().mean())
            self.history_.append((val_loss, val_acc))
            if val_loss < best:
                best, waited = val_loss, 0
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
            else:
                waited += 1
                if waited >= self.patience:
                    break
        model.load_state_dict(best_state)
        model.eval()
        self.best_epoch_ = int(np.argmin([h[0] for h in self.history_])) + 1

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        with torch.no_grad():
            out = self.model_(self._input(batch.response.astype(np.float64)))
        return out[:, 0].double().numpy()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model_.parameters())
