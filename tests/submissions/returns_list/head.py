import numpy as np


class Head:
    """score() returns a Python list"""

    def fit(self, train, *, seed):
        self.w_ = (train.chosen - train.rejected).mean(axis=0)

    def score(self, batch):
        return list(batch.response.astype(np.float64) @ self.w_)
