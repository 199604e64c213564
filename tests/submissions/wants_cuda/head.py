import numpy as np
import torch


class Head:
    """Moves its weights to CUDA"""

    def fit(self, train, *, seed):
        self.w_ = torch.zeros(train.dim).cuda()

    def score(self, batch):
        return np.zeros(len(batch))
