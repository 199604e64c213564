import threading
import time

import numpy as np


class Head:
    """Starts threads until it cannot; reports how many it got"""

    def fit(self, train, *, seed):
        started = 0
        try:
            while started < 5000:
                threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        raise RuntimeError(f"started {started} threads")

    def score(self, batch):
        return np.zeros(len(batch))
