"""``rewardheads new NAME``: a new submission folder with metadata and a minimal working head."""

from __future__ import annotations

from pathlib import Path

from harness.submissions import NAME_RE, SubmissionError

#: (field, placeholder text, what to do): ``rewardheads validate`` refuses a folder still holding one.
PLACEHOLDERS = (
    ("description", "One sentence: what the head does", "write one sentence on what your head does"),
    ("authors", "Your Name", "list the authors' names"),
)

TOML = '''name = "{name}"
version = "0.1.0"
family = "bradley-terry"   # one of: {families}
description = "One sentence: what the head does and what it is based on."
authors = ["Your Name"]
license = "Apache-2.0"
entry_point = "head.py:Head"
seeds = [0, 1, 2]

[links]
# paper = "https://arxiv.org/abs/..."
# code = "https://github.com/..."

[params]
# keyword arguments of Head.__init__
l2 = 1e-3
steps = 200
lr = 0.1

[tuning]
# how [params] were chosen, on training data only: "grid" (rewardheads tune prints this table),
# "in-fit", "fixed" or "none"
method = "fixed"
note = "Scaffold defaults, not searched."
'''

HEAD = '''"""{name}: a Bradley-Terry linear reward head trained by gradient descent (a starting point).

Replace the body of ``fit`` and ``score`` with your method. Hyper-parameters are keyword
arguments of ``__init__`` (declared in ``submission.toml`` under ``[params]``); learned state
ends with an underscore. Use only numpy, scipy, scikit-learn, torch, pandas and the standard
library; seed everything from ``seed`` so the same seed gives bit-identical scores.
"""

import numpy as np

from harness.heads import score_rows


class Head:
    def __init__(self, l2: float = 1e-3, steps: int = 200, lr: float = 0.1):
        self.l2 = l2
        self.steps = steps
        self.lr = lr

    def fit(self, train, *, seed: int) -> None:
        """Minimise -log sigmoid(w . (chosen - rejected)) + l2 |w|^2 over the training pairs."""
        rng = np.random.default_rng(seed)
        diff = (train.chosen - train.rejected).astype(np.float64)
        self.scale_ = diff.std(axis=0) + 1e-6
        x = diff / self.scale_
        w = rng.normal(scale=1e-3, size=x.shape[1])
        for _ in range(self.steps):
            margin = x @ w
            grad = -(x * (1.0 / (1.0 + np.exp(margin)))[:, None]).mean(axis=0) + 2 * self.l2 * w
            w -= self.lr * grad
        self.w_ = w / self.scale_

    def score(self, batch) -> np.ndarray:
        """One reward per response row, each row on its own (fixed blocks: bit-reproducible)."""
        return score_rows(lambda part: part.response.astype(np.float64) @ self.w_, batch)

    def n_params(self) -> int:
        return int(self.w_.size)
'''


def scaffold(name: str, root: Path) -> Path:
    """Create ``root/name/`` with ``submission.toml`` and ``head.py``; refuse to overwrite."""
    from harness.submissions import FAMILIES

    if not NAME_RE.match(name):
        raise SubmissionError(f"name '{name}' must match {NAME_RE.pattern} (lower case, digits, _ or -)")
    folder = root / name
    if folder.exists():
        raise SubmissionError(f"{folder} already exists")
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text(TOML.format(name=name, families=", ".join(FAMILIES)))
    (folder / "head.py").write_text(HEAD.format(name=name))
    return folder
