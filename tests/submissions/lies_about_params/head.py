import numpy as np


class Head:
    """n_params() returns whatever `claim` says: 10**400 by default, -1 as a variant"""

    def __init__(self, claim="1e400"):
        self.claim = claim

    def fit(self, train, *, seed):
        self.w_ = (train.chosen - train.rejected).mean(axis=0)

    def score(self, batch):
        return batch.response.astype(np.float64) @ self.w_

    def n_params(self):
        mantissa, _, exponent = self.claim.partition("e")
        return int(mantissa) * 10 ** int(exponent or 0)
