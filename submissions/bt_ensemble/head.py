"""Ensemble of Bradley-Terry MLP reward heads, aggregated by mean, min or UWO.

Coste et al. 2024, "Reward Model Ensembles Help Mitigate Overoptimization" (arXiv:2310.02743):
M Bradley-Terry reward models differing only in their seed; the ensemble reward is their mean,
their minimum (worst case), or mean - lambda * std (uncertainty-weighted optimisation, UWO).
Members are the bt_mlp recipe (frozen embeddings, MLP, BT loss, Adam, early stopping per
member). They train together as batched weights (M, d_in, d_out) with batched matmuls; with
``vectorized=False`` the same code runs once per member. A member's initialisation and
minibatch order depend only on its member seed, so both paths give the same members (on CPU
bit-identical in our tests; at least equal up to float rounding).
Member rewards are standardised on the training responses before aggregation (BT rewards have
an arbitrary offset and scale per member, which would otherwise decide min/std). The aggregation
only reads the fitted members out, so the folder's three variants (mean, min, uwo) share one fit
per seed (``readout`` in submission.toml, :meth:`Head.set_readout`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows
from harness.training import as_input, seeded, split_pairs, standardise

AGGREGATIONS = ("mean", "min", "uwo")


class Head(BaseHead):
    def __init__(self, aggregation: str = "mean", n_members: int = 10, uwo_lambda: float = 1.0,
                 normalize: bool = True, vectorized: bool = True, hidden=(1024, 512),
                 lr: float = 1e-3, weight_decay: float = 1e-5, batch_size: int = 64,
                 max_epochs: int = 30, patience: int = 3, val_frac: float = 0.1):
        self.aggregation = aggregation
        self.n_members = n_members
        self.uwo_lambda = uwo_lambda
        self.normalize = normalize
        self.vectorized = vectorized
        self.hidden = hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.val_frac = val_frac

    def _init(self, dim: int, member_seed: int) -> list[torch.Tensor]:
        """One member's [W1, b1, W2, b2, ...], uniform(+-1/sqrt(fan_in)) as torch.nn.Linear."""
        gen = torch.Generator().manual_seed(member_seed)
        params = []
        for width in [*self.hidden, 1]:
            bound = 1.0 / math.sqrt(dim)
            params.append((torch.rand(dim, width, generator=gen) * 2 - 1) * bound)
            params.append((torch.rand(1, width, generator=gen) * 2 - 1) * bound)
            dim = width
        return params

    @staticmethod
    def _forward(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Rewards (M, B) of the M members for x of shape (M, B, d) or shared (B, d)."""
        for i in range(0, len(params) - 2, 2):
            x = torch.relu(torch.matmul(x, params[i]) + params[i + 1])
        # Output layer as multiply-and-sum: batched matrix-vector products are not bit-identical
        # across batch sizes, and the looped path should reproduce the vectorized one exactly.
        return (x * params[-2].transpose(1, 2)).sum(dim=-1) + params[-1][..., 0]

    def _bt_loss(self, params, xc, xr) -> torch.Tensor:  # (M,): mean BT loss of each member
        return -F.logsigmoid(self._forward(params, xc) - self._forward(params, xr)).mean(dim=1)

    def _train(self, xc, xr, tr: np.ndarray, val: torch.Tensor, seeds: list[int]):
        inits = [self._init(xc.shape[1], s) for s in seeds]
        params = [torch.stack(group).requires_grad_() for group in zip(*inits, strict=True)]
        rngs = [np.random.default_rng(s) for s in seeds]
        opt = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        best = [p.detach().clone() for p in params]
        best_loss, waited = np.full(len(seeds), np.inf), np.zeros(len(seeds), dtype=int)
        active = np.ones(len(seeds), dtype=bool)
        for _ in range(self.max_epochs):
            order = torch.from_numpy(np.stack([rng.permutation(tr) for rng in rngs]))
            for start in range(0, order.shape[1], self.batch_size):
                idx = order[:, start:start + self.batch_size]  # (M, B): each member's batch
                loss = self._bt_loss(params, xc[idx], xr[idx]).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                val_loss = self._bt_loss(params, xc[val], xr[val]).numpy()
            improved = active & (val_loss < best_loss)  # a stopped member's snapshot is final
            mask = torch.from_numpy(improved)
            for p, b in zip(params, best, strict=True):
                b[mask] = p.detach()[mask]
            best_loss[improved] = val_loss[improved]
            waited = np.where(improved, 0, waited + 1)
            active &= waited < self.patience
            if not active.any():
                break
        return best, best_loss

    def _input(self, x: np.ndarray) -> torch.Tensor:
        return as_input(x, self.mean_, self.std_)

    def _rewards(self, x: np.ndarray) -> np.ndarray:  # (M, n) raw member rewards
        with torch.no_grad():
            return np.concatenate([self._forward(self.params_, self._input(x[s:s + 2048])).numpy()
                                   for s in range(0, len(x), 2048)], axis=1).astype(np.float64)

    def _check_aggregation(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {self.aggregation!r}")

    def set_readout(self, **params) -> None:
        """Read the fitted members out under another aggregation (or uwo_lambda): no refit."""
        super().set_readout(**params)
        self._check_aggregation()

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        self._check_aggregation()
        rng = seeded(seed)
        both, self.mean_, self.std_ = standardise(train.chosen, train.rejected)
        xc, xr = self._input(train.chosen), self._input(train.rejected)
        val, tr = split_pairs(len(train), self.val_frac, rng)
        val = torch.from_numpy(val)
        self.member_seeds_ = [int(np.random.SeedSequence([seed, m]).generate_state(1)[0])
                              for m in range(self.n_members)]
        if self.vectorized:
            self.params_, self.val_loss_ = self._train(xc, xr, tr, val, self.member_seeds_)
        else:
            parts = [self._train(xc, xr, tr, val, [s]) for s in self.member_seeds_]
            self.params_ = [torch.cat(group) for group in zip(*(p for p, _ in parts), strict=True)]
            self.val_loss_ = np.concatenate([loss for _, loss in parts])
        ref = self._rewards(both)
        self.ref_mean_ = ref.mean(axis=1) if self.normalize else np.zeros(self.n_members)
        self.ref_std_ = ref.std(axis=1) + 1e-12 if self.normalize else np.ones(self.n_members)

    def member_scores(self, batch: ScoreBatch) -> np.ndarray:
        """(M, n) rewards of every member, standardised when ``normalize``."""
        return (self._rewards(batch.response) - self.ref_mean_[:, None]) / self.ref_std_[:, None]

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        r = self.member_scores(batch)
        if self.aggregation == "mean":
            return r.mean(axis=0)
        if self.aggregation == "min":
            return r.min(axis=0)
        return r.mean(axis=0) - self.uwo_lambda * r.std(axis=0)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.params_)
