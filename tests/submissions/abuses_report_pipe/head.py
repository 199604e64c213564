import json
import os
import stat
import struct

import numpy as np


def pipes():
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found


class Head:
    """mode "forge": sends an 'ok' report with made-up cost figures and exits; "flood": writes 200 MB"""

    def __init__(self, mode="forge"):
        self.mode = mode

    def fit(self, train, *, seed):
        fd = pipes()[-1]
        if self.mode == "flood":
            block = b"x" * (1 << 20)
            for _ in range(200):
                os.write(fd, block)
            return
        header = json.dumps({"status": "ok", "phase": "done", "times": {"fit_s": 0.0, "score_s": 0.0},
                             "params": -5, "arrays": ["a", "b"]}).encode()
        os.write(fd, b"RHW1" + struct.pack("<I", len(header)) + header + b"\0" * 64)
        os._exit(0)

    def score(self, batch):
        return np.zeros(len(batch))
