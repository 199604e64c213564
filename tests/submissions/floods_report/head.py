import os
import stat

import numpy as np


class Head:
    """Writes far more than a report to the harness's pipe"""

    def fit(self, train, *, seed):
        pipes = []
        for fd in range(3, 256):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    pipes.append(fd)
            except OSError:
                pass
        block = b"x" * (1 << 20)
        for _ in range(200):
            os.write(pipes[-1], block)

    def score(self, batch):
        return np.zeros(len(batch))
