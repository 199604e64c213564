"""Shared training code for heads: standardised inputs, pair splits, MLPs, an early-stopping Adam loop.

The shipped heads train with these, and a submission may import this module as it imports
:mod:`harness.heads` (``check_imports`` allows both, and the sandboxed worker loads it from the
harness package it runs from). Everything here is deterministic for a seed: one numpy generator
drives the splits and minibatch orders, ``torch.manual_seed`` the initial weights.

A Bradley-Terry MLP in a few lines::

    from harness.training import (MLPHead, bt_loss, bt_validation, mlp, seeded, split_pairs, standardise,
                                  train_early_stopping)

    class Head(MLPHead):
        def fit(self, train, *, seed):
            rng = seeded(seed)
            _, self.mean_, self.std_ = standardise(train.chosen, train.rejected)
            xc, xr = self._input(train.chosen), self._input(train.rejected)
            val, tr = split_pairs(len(train), 0.1, rng)
            self.model_ = model = mlp(train.dim, (1024, 512))
            self.history_ = train_early_stopping(
                model, lambda idx: bt_loss(model, xc[idx], xr[idx]),
                lambda: bt_validation(model, xc[val], xr[val]), tr, rng)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from harness.heads import BaseHead, ScoreBatch, score_rows


def seeded(seed: int) -> np.random.Generator:
    """Deterministic torch (algorithms and global seed) and the numpy generator of this fit."""
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def standardise(chosen: np.ndarray, rejected: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(both responses stacked as float64, per-dimension mean, std + 1e-6)`` of the training responses."""
    both = np.concatenate([chosen, rejected]).astype(np.float64)
    return both, both.mean(axis=0), both.std(axis=0) + 1e-6


def as_input(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> torch.Tensor:
    """Standardised embeddings as a float32 tensor."""
    return torch.from_numpy(((x - mean) / std).astype(np.float32))


def split_pairs(n: int, val_frac: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(validation pairs, training pairs)``: a random ``val_frac`` of the ``n`` pairs (at least one) held out."""
    perm = rng.permutation(n)
    n_val = max(1, int(round(val_frac * n)))
    return perm[:n_val], perm[n_val:]


def mlp(dim: int, hidden: Sequence[int]) -> nn.Sequential:
    """``dim -> hidden... -> 1`` with ReLU between the linear layers (torch's default initialisation)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(dim, width), nn.ReLU()]
        dim = width
    return nn.Sequential(*layers, nn.Linear(dim, 1))


def bt_loss(model: nn.Module, chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """The Bradley-Terry loss: mean of -log sigmoid(r(chosen) - r(rejected))."""
    return -F.logsigmoid(model(chosen) - model(rejected)).mean()


def bt_validation(model: nn.Module, chosen: torch.Tensor, rejected: torch.Tensor) -> tuple[float, float]:
    """``(Bradley-Terry loss, pairwise accuracy)`` of held-out pairs."""
    margin = model(chosen) - model(rejected)
    return float(-F.logsigmoid(margin).mean()), float((margin > 0).float().mean())


def train_early_stopping(model: nn.Module, batch_loss: Callable[[torch.Tensor], torch.Tensor],
                         validation: Callable[[], tuple[float, float]], rows: np.ndarray, rng: np.random.Generator,
                         *, lr: float = 1e-3, weight_decay: float = 1e-5, batch_size: int = 64,
                         max_epochs: int = 30, patience: int = 3) -> list[tuple[float, float]]:
    """Adam over minibatches of ``rows`` (a fresh order from ``rng`` each epoch) until the validation
    loss has not improved for ``patience`` epochs (at most ``max_epochs``); restores the best weights.

    ``batch_loss(idx)`` is the loss of the rows ``idx`` (a tensor of indices), ``validation()`` the
    held-out ``(loss, accuracy)``. Returns the validation history, one tuple per epoch.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, waited = np.inf, None, 0
    history: list[tuple[float, float]] = []
    for _ in range(max_epochs):
        model.train()
        order = torch.from_numpy(rng.permutation(rows))
        for start in range(0, len(order), batch_size):
            loss = batch_loss(order[start:start + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            val_loss, val_acc = validation()
        history.append((val_loss, val_acc))
        if val_loss < best:
            best, waited = val_loss, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= patience:
                break
    model.load_state_dict(best_state)
    model.eval()
    return history


def best_epoch(history: list[tuple[float, float]]) -> int:
    """The (1-based) epoch with the lowest validation loss."""
    return int(np.argmin([loss for loss, _ in history])) + 1


class MLPHead(BaseHead):
    """A head scoring ``model_`` (a torch module, one output) on embeddings standardised by
    ``mean_``/``std_``: row-wise scoring in fixed blocks and a parameter count; subclasses fit."""

    def _input(self, x: np.ndarray) -> torch.Tensor:
        return as_input(x, self.mean_, self.std_)

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        with torch.no_grad():
            out = self.model_(self._input(batch.response.astype(np.float64)))
        return out[:, 0].double().numpy()

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model_.parameters())
