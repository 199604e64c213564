import numpy as np


class Sneaky(np.ndarray):
    def __array__(self, dtype=None, copy=None):
        open("/tmp/../rewardheads-was-here", "w").write("after the guard")
        return np.ones(self.shape, dtype or np.float64)

    def __float__(self):
        open("/rewardheads-was-here", "w").write("after the guard")
        return 1.0


class Head:
    """score() returns an ndarray subclass with side effects in __array__/__float__"""

    def fit(self, train, *, seed):
        self.w_ = (train.chosen - train.rejected).mean(axis=0)

    def score(self, batch):
        return (batch.response.astype(np.float64) @ self.w_).view(Sneaky)
