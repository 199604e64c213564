"""Random reward head: the chance-level reference.

Each seed draws one random direction ``w`` (standard normal, seeded by the fit seed), removes
its component along the training pairs' mean preference direction (mean chosen − rejected), and
scores a response by its projection ``x · w``. The score is a function of the row alone, so it
does not depend on the order rows arrive in or flip under tiny perturbations, and it carries no
first-order preference signal: pairwise accuracy is 50% in expectation over seeds (``w`` and
``−w`` are equally likely). On one set a given direction scatters around that (seed to seed by
about 3 points on ``mini@1``), so read this row as "an uninformed linear head", a floor with a
spread, not as exactly 50%. Nothing is learned beyond the direction it must avoid.
"""

from __future__ import annotations

import numpy as np

from harness.heads import BaseHead, PreferenceData, ScoreBatch, score_rows


class Head(BaseHead):
    def __init__(self):
        pass

    def fit(self, train: PreferenceData, *, seed: int) -> None:
        w = np.random.default_rng(seed).standard_normal(train.dim)
        pref = (np.asarray(train.chosen, np.float64) - np.asarray(train.rejected, np.float64)).mean(axis=0)
        if np.linalg.norm(pref) > 0:
            pref /= np.linalg.norm(pref)
            w -= (w @ pref) * pref
        self.direction = w

    def score(self, batch: ScoreBatch) -> np.ndarray:
        return score_rows(lambda part: part.response.astype(np.float64) @ self.direction, batch)

    def n_params(self) -> int:
        return 0
