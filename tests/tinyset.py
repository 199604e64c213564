"""A small, real embedding set written with SetWriter, for runner and sandbox tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.embedset import SetWriter

SUBSETS = ("alpacaeval-easy", "mt-bench-hard", "donotanswer", "math-prm", "hep-python")


def make_tiny_set(root: Path, *, name: str = "tiny", version: str = "1", n_train: int = 300,
                  n_items: int = 200, dim: int = 16, seed: int = 0, ratings: bool = True,
                  noise: float = 0.3) -> Path:
    """A set with a learnable preference direction: a training split and a RewardBench-like test split.

    Chosen test responses are longer on average, so the ``length`` reference beats chance. Each test
    response gets its own ``noise`` (so a pair differs in more than the preference direction).
    """
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim)
    writer = SetWriter(root, name, version, model={"id": "synthetic"})
    base = rng.normal(size=(n_train, dim))
    meta = pd.DataFrame({
        "id": [str(i) for i in range(n_train)], "subset": "synthetic", "prompt_tokens": 5,
        "chosen_tokens": rng.integers(5, 50, n_train), "rejected_tokens": rng.integers(5, 50, n_train),
        "truncated": False,
    })
    if ratings:
        meta["rating_chosen:overall"] = np.where(np.arange(n_train) % 2 == 0, 8.0, np.nan)
        meta["rating_rejected:overall"] = np.where(np.arange(n_train) % 2 == 0, 3.0, np.nan)
    writer.add_pairs("train/synthetic", chosen=(base + direction).astype(np.float16),
                     rejected=(base - direction).astype(np.float16), prompt=base.astype(np.float16), meta=meta)
    response, rows, chosen = [], [], []
    for item in range(n_items):
        prompt = rng.normal(size=dim)
        for is_chosen in (True, False):
            response.append(prompt + (0.3 if is_chosen else -0.3) * direction + noise * rng.normal(size=dim))
            chosen.append(is_chosen)
            rows.append({"item": item, "id": str(item), "subset": SUBSETS[item % len(SUBSETS)],
                         "prompt_tokens": 5, "response_tokens": int(rng.integers(20, 60) + 30 * is_chosen),
                         "truncated": False})
    perm = rng.permutation(len(response))
    test_meta = pd.DataFrame(rows).iloc[perm].reset_index(drop=True)
    test_meta.insert(0, "row", np.arange(len(test_meta)))
    array = np.asarray(response)[perm].astype(np.float16)
    writer.add_test("rewardbench", suite="rewardbench-v1", response=array, prompt=array, meta=test_meta,
                    chosen=np.asarray(chosen)[perm])
    return writer.commit()
