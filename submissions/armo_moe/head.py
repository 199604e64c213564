"""ArmoRM-style multi-objective reward head with a mixture-of-experts gate, on frozen embeddings.

Wang et al. 2024, "Interpretable Preferences via Multi-Objective Reward Modeling and
Mixture-of-Experts" (ArmoRM, arXiv:2406.12845): per-objective ridge rewards fitted where each
rating is finite, verbosity de-correlation, and a prompt-conditioned softmax gate trained with
the Bradley-Terry loss. With partial ratings a Bradley-Terry linear "preference" objective
joins the rated ones; stage 2 uses out-of-fold (cross-fitted) stage-1 rewards. README.md
describes each step and what the head degrades to.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn
from torch.nn import functional as F

from harness.heads import BaseHead, HeadSkipped, PreferenceData, ScoreBatch, score_rows
from harness.training import seeded, standardise


class Head(BaseHead):
    requires = ("prompt", "ratings")

    def __init__(self, ridge_alphas=(1.0, 10.0, 100.0, 1000.0, 10000.0),
                 preference_objective: str = "auto", preference_Cs=(0.003, 0.01, 0.03, 0.1),
                 n_folds: int = 5, min_rated: int = 20, corr_threshold: float = 0.03,
                 gate_hidden=(1024, 1024, 1024), temperature: float = 10.0, dropout: float = 0.2,
                 lr: float = 1e-3, batch_size: int = 128, max_epochs: int = 20, patience: int = 3,
                 tol: float = 1e-3, val_frac: float = 0.1):
        self.ridge_alphas = ridge_alphas
        self.preference_objective = preference_objective
        self.preference_Cs = preference_Cs
        self.n_folds = n_folds
        self.min_rated = min_rated
        self.corr_threshold = corr_threshold
        self.gate_hidden = gate_hidden
        self.temperature = temperature
        self.dropout = dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.tol = tol
        self.val_frac = val_frac

    def _crossfit(self, fit, loss, grid, z, folds):
        """Pick h in grid by out-of-fold loss; return (out-of-fold rewards (2n,), final (w, b))."""
        best = (np.inf, None, None)
        for h in grid:
            oof = np.empty(len(z))
            for f in range(self.n_folds):
                held = np.tile(folds == f, 2)
                w, b = fit(h, ~held)
                oof[held] = z[held] @ w + b
            if (value := loss(oof)) < best[0]:
                best = (value, h, oof)
        return best[2], fit(best[1], np.ones(len(z), dtype=bool))

    def _penalty(self, r: np.ndarray, v: np.ndarray) -> float:
        """Smallest lambda >= 0 with spearman(r - lambda v, v) < threshold, by bisection."""
        def ok(lam: float) -> bool:
            return not spearmanr(r - lam * v, v)[0] >= self.corr_threshold  # NaN counts as ok
        lo, hi = 0.0, 1.0
        if ok(lo):
            return lo
        while not ok(hi) and hi < 1e6:
            lo, hi = hi, 2 * hi
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if ok(mid) else (mid, hi)
        return hi

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        if not train.has("ratings"):
            raise HeadSkipped("needs per-objective ratings (finite ratings_chosen/ratings_rejected "
                              "for at least one objective); this set has none")
        if train.prompt is None:
            raise HeadSkipped("needs prompt embeddings for the gating network")
        if self.preference_objective not in ("auto", "always", "never"):
            raise ValueError(f"preference_objective must be auto/always/never, not "
                             f"{self.preference_objective!r}")
        rng = seeded(seed)
        n = len(train)
        both, self.mean_, self.std_ = standardise(train.chosen, train.rejected)
        z = (both - self.mean_) / self.std_
        folds = np.empty(n, dtype=int)
        folds[rng.permutation(n)] = np.arange(n) % self.n_folds
        ratings = np.concatenate([train.ratings_chosen, train.ratings_rejected]).astype(np.float64)
        names, fits = [], []  # fits: (out-of-fold rewards, (w, b)) per objective
        for k, name in enumerate(train.objectives):
            y, ok = ratings[:, k], np.isfinite(ratings[:, k])
            if ok.sum() >= self.min_rated:
                names.append(name)
                fits.append(self._crossfit(
                    lambda a, rows, y=y, ok=ok: self._ridge(a, z[rows & ok], y[rows & ok]),
                    lambda pred, y=y, ok=ok: np.mean((pred[ok] - y[ok]) ** 2),
                    self.ridge_alphas, z, folds))
        if not names:
            raise HeadSkipped(f"needs per-objective ratings: no objective has {self.min_rated} "
                              "rated responses")
        covered = np.isfinite(ratings).any(axis=1).reshape(2, n).any(axis=0).all()
        if {"always": True, "never": False}.get(self.preference_objective,
                                                len(names) < 2 or not covered):
            names.append("preference")
            fits.append(self._crossfit(
                lambda C, rows: self._logistic(C, z[:n][rows[:n]] - z[n:][rows[:n]]),
                lambda pred: np.mean(np.logaddexp(0.0, pred[n:] - pred[:n])),
                self.preference_Cs, z, folds))
        self.objectives_ = tuple(names)
        self.w_ = np.stack([w for _, (w, _) in fits], axis=1)  # (d, K), on standardised inputs
        self.b_ = np.array([b for _, (_, b) in fits])
        ref = z @ self.w_ + self.b_
        self.r_mean_, self.r_std_ = ref.mean(axis=0), ref.std(axis=0) + 1e-12
        ref = (ref - self.r_mean_) / self.r_std_
        self.transform_ = np.eye(len(names))  # de-correlated = standardised @ transform_
        self.penalties_ = {}
        for v in [i for i, name in enumerate(names) if "verbos" in name.lower()][:1]:
            for i, name in enumerate(names):
                if i != v:
                    self.penalties_[name] = self._penalty(ref[:, i], ref[:, v])
                    self.transform_[v, i] = -self.penalties_[name]
        oof = np.stack([o for o, _ in fits], axis=1)
        self._fit_gate(train.prompt, ((oof - self.r_mean_) / self.r_std_) @ self.transform_, rng)

    @staticmethod
    def _ridge(alpha, x, y):
        model = Ridge(alpha=alpha).fit(x, y)
        return model.coef_, float(model.intercept_)

    @staticmethod
    def _logistic(C, diff):
        model = LogisticRegression(C=C, fit_intercept=False, max_iter=1000)
        return model.fit(np.concatenate([diff, -diff]), np.repeat([1, 0], len(diff))).coef_[0], 0.0

    def _gate_weights(self, prompt: np.ndarray) -> torch.Tensor:
        p = torch.from_numpy(((prompt - self.p_mean_) / self.p_std_).astype(np.float32))
        return F.softmax(self.gate_(p) / self.temperature, dim=1)

    def _fit_gate(self, prompt: np.ndarray, rewards: np.ndarray, rng) -> None:
        n, dims = len(prompt), [prompt.shape[1], *self.gate_hidden]
        prompt = prompt.astype(np.float64)
        self.p_mean_, self.p_std_ = prompt.mean(axis=0), prompt.std(axis=0) + 1e-6
        gap = torch.from_numpy((rewards[:n] - rewards[n:]).astype(np.float32))  # (n, K)
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(self.dropout)]
        self.gate_ = nn.Sequential(*layers, nn.Linear(dims[-1], len(self.objectives_)))
        perm = rng.permutation(n)
        n_val = max(1, int(round(self.val_frac * n)))
        val, tr = perm[:n_val], perm[n_val:]
        # Start the learnable scale at its BT optimum for a uniform gate (1-D, convex): Adam at
        # lr 1e-3 would need hundreds of steps to get there, which a small set does not have.
        m = gap[tr].mean(dim=1).double().numpy()
        s0 = minimize_scalar(lambda s: np.logaddexp(0.0, -s * m).mean(), bounds=(1e-3, 1e3),
                             method="bounded").x
        self.scale_ = nn.Parameter(torch.tensor([s0], dtype=torch.float32))
        opt = torch.optim.AdamW([*self.gate_.parameters(), self.scale_], lr=self.lr,
                                weight_decay=0.0, foreach=True)

        def loss_of(idx):
            g = self._gate_weights(prompt[idx])
            return -F.logsigmoid(self.scale_ * (g * gap[idx]).sum(dim=1)).mean()

        best, state, scale, waited = np.inf, None, s0, 0
        for epoch in range(1, self.max_epochs + 1):
            self.gate_epochs_ = epoch
            self.gate_.train()
            order = rng.permutation(tr)
            for start in range(0, len(order), self.batch_size):
                loss = loss_of(order[start:start + self.batch_size])
                opt.zero_grad()
                loss.backward()
                opt.step()
            self.gate_.eval()
            with torch.no_grad():
                val_loss = float(loss_of(val))
            if val_loss < best - self.tol:
                best, waited = val_loss, 0
                state = {k: v.clone() for k, v in self.gate_.state_dict().items()}
                scale = self.scale_.item()
            elif (waited := waited + 1) >= self.patience:
                break
        self.gate_.load_state_dict(state)
        self.scale_ = nn.Parameter(torch.tensor([scale]))
        self.gate_.eval()

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        if batch.prompt is None:
            raise HeadSkipped("needs prompt embeddings for the gating network")
        z = (batch.response.astype(np.float64) - self.mean_) / self.std_
        rewards = ((z @ self.w_ + self.b_ - self.r_mean_) / self.r_std_) @ self.transform_
        with torch.no_grad():
            g = self._gate_weights(batch.prompt.astype(np.float64)).double().numpy()
        return self.scale_.item() * (g * rewards).sum(axis=1)

    def n_params(self) -> int:
        gate = sum(q.numel() for q in self.gate_.parameters())
        return int(self.w_.size + self.b_.size + 1 + gate)
