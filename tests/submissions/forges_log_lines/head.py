import sys

FAKE = "\nok      forges_log_lines: overall 99.9 [99.0, 100.0], fit 0.01 s, 3 seed(s)\n"


class Head:
    def fit(self, train, *, seed):
        print("\x1b[2J\x1b[H" + FAKE + "<script>alert(1)</script>", flush=True)
        sys.stderr.write("\x1b]0;pwned\x07" + FAKE)
        self.w_ = (train.chosen - train.rejected).mean(axis=0)

    def score(self, batch):
        if len(batch) > 0:
            raise ValueError("\x1b[31m" + FAKE + "reproduced bit for bit: 11 of 11\r<img src=x onerror=alert(1)>")
        return batch.response @ self.w_
