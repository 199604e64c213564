"""Gradient-boosted trees as a pointwise reward head.

Friedman 2001, "Greedy function approximation: a gradient boosting machine", via
scikit-learn's histogram-based implementation (LightGBM-style, Ke et al. 2017). Each
response is an example (chosen = 1, rejected = 0); the reward is the log-odds. Embeddings
are standardised and reduced with PCA first, since trees split one coordinate at a time and
histogram building scales with the number of features.
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingClassifier

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows


class Head(BaseHead):
    def __init__(self, n_components: int = 64, max_iter: int = 300, learning_rate: float = 0.05,
                 max_leaf_nodes: int = 15, min_samples_leaf: int = 20,
                 l2_regularization: float = 1.0, n_iter_no_change: int = 20,
                 val_frac: float = 0.1):
        self.n_components = n_components
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.n_iter_no_change = n_iter_no_change
        self.val_frac = val_frac

    def _features(self, x: np.ndarray) -> np.ndarray:
        z = (x.astype(np.float64) - self.mean_) / self.std_
        return self.pca_.transform(z) if self.pca_ is not None else z

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = len(train)
        both = np.concatenate([train.chosen, train.rejected]).astype(np.float64)
        self.mean_, self.std_ = both.mean(axis=0), both.std(axis=0) + 1e-6
        k = min(self.n_components, train.dim, 2 * n - 1)
        self.pca_ = None
        if self.n_components:
            self.pca_ = PCA(n_components=k, svd_solver="full").fit((both - self.mean_) / self.std_)
        x = self._features(both)
        y = np.concatenate([np.ones(n), np.zeros(n)])
        perm = rng.permutation(n)
        n_val = max(1, int(round(self.val_frac * n)))
        val = np.concatenate([perm[:n_val], perm[:n_val] + n])  # split by pair
        tr = np.concatenate([perm[n_val:], perm[n_val:] + n])
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, early_stopping=True,
            n_iter_no_change=self.n_iter_no_change, random_state=seed,
        ).fit(x[tr], y[tr], X_val=x[val], y_val=y[val])

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(self._score, batch)

    def _score(self, batch: ScoreBatch) -> np.ndarray:
        return self.model_.decision_function(self._features(batch.response)).astype(np.float64)

    def n_params(self) -> int | None:
        """Tree nodes (each a split or a leaf value) plus the PCA projection."""
        predictors = getattr(self.model_, "_predictors", None)  # scikit-learn internals
        if predictors is None:
            return None
        nodes = sum(len(p.nodes) for it in predictors for p in it)
        return int(nodes + (self.pca_.components_.size if self.pca_ is not None else 0))
