import numpy as np


class Head:
    """n_params() returns 10**400"""

    def fit(self, train, *, seed):
        self.w_ = (train.chosen - train.rejected).mean(axis=0)

    def score(self, batch):
        return batch.response.astype(np.float64) @ self.w_

    def n_params(self):
        return 10**400
