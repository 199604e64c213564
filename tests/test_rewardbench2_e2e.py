"""RewardBench 2 end to end: `embed` builds a v2-only and a v1+v2 set from hub-schema files, a head
runs on each, its records carry one block per suite, checked against the raw scores by hand, and
the leaderboard shows a table per (set, suite)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fixtures_data import write_rewardbench2_every_subset, write_rewardbench_every_section

from harness.embed import BuildConfig, SplitSpec, build
from harness.embedset import EmbeddingSet
from harness.leaderboard import render_markdown, render_site
from harness.paths import repo_path
from harness.runner import Runner, RunOptions
from harness.suites import RB1_EXAMPLE_COUNTS, RB1_SUBSET_MAPPING, RB2_SUBSETS, TIES_WEIGHTS

SEEDS = [0, 1]
CONSTANT_HEAD = '''import numpy as np


class Head:
    """Scores every response 0: every best-of-4 item is a 4-way tie."""

    def fit(self, train, *, seed):
        self.seed_ = seed

    def score(self, batch):
        return np.zeros(len(batch.response))
'''


def write_constant_head(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "submission.toml").write_text(
        'name = "constant"\nversion = "0.1.0"\nfamily = "reference"\ndescription = "Every score is 0"\n'
        'authors = ["RewardHeads tests"]\nlicense = "Apache-2.0"\nentry_point = "head.py:Head"\n')
    (folder / "head.py").write_text(CONSTANT_HEAD)
    return folder


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_llama, fixture_data):
    """Both sets built by the builder, bt_linear and a constant head run on each (process isolation)."""
    root = tmp_path_factory.mktemp("rb2")
    rb2 = write_rewardbench2_every_subset(root / "data" / "rewardbench2" / "test.jsonl")
    rb1 = write_rewardbench_every_section(root / "data" / "rewardbench" / "filtered.jsonl")
    train = [SplitSpec("train/hh", "hh-rlhf", [str(fixture_data["hh-rlhf"])]),
             SplitSpec("train/uf", "ultrafeedback", [str(fixture_data["ultrafeedback"])])]
    v2_split = SplitSpec("rewardbench2", "rewardbench2", [str(rb2)])
    v1_split = SplitSpec("rewardbench", "rewardbench", [str(rb1)])
    saved, threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        paths = {name: build(BuildConfig(name=name, version="1", model=str(tiny_llama), store_dtype="float32",
                                         chunk_texts=4, batch_tokens=64), specs, root / "sets", progress=False)
                 for name, specs in (("rbtwo", [v2_split, *train]), ("rbboth", [v1_split, v2_split, *train]))}
    finally:
        torch.set_num_threads(threads)
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved
    heads = [repo_path("submissions", "bt_linear"), write_constant_head(root / "heads" / "constant")]
    results = root / "results"
    out = {}
    for name, path in paths.items():
        emb = EmbeddingSet.open(path)
        runner = Runner(emb, RunOptions(results=results, seeds=SEEDS, isolation="process", n_boot=200,
                                        progress=False))
        out[name] = SimpleNamespace(set=emb, records={r["submission"]["name"]: r for r in runner.run(heads)},
                                    raw=results / f"{name}-1" / "raw")
    return SimpleNamespace(results=results, root=root, **out)


# -- scoring by hand, from the raw scores and the labels ---------------------------------------------
def split_rows(emb: EmbeddingSet, split_name: str, scores: np.ndarray):
    """This split's rows of set-order ``scores``, with its meta and labels."""
    offset = 0
    for name in emb.test_splits():
        split = emb.split(name)
        if name == split_name:
            return scores[offset:offset + len(split)], split.meta, split.labels()
        offset += len(split)
    raise KeyError(split_name)


def v2_by_hand(scores, meta, chosen) -> dict[str, float]:
    """Best-of-4 credit 1/k for a k-way tie at the top; Ties from the composite's five terms."""
    credit: dict[str, list[float]] = {}
    margins: dict[str, dict[str, float]] = {}
    tied_spread, accurate = {}, {}
    for item in np.unique(meta["item"]):
        rows = np.flatnonzero(meta["item"].to_numpy() == item)
        s, c = scores[rows], chosen[rows]
        subset, rid = meta["subset"].iloc[rows[0]], str(meta["id"].iloc[rows[0]])
        if subset != "Ties":
            top = s.max()
            credit.setdefault(subset, []).append(1 / (s == top).sum() if s[c][0] == top else 0.0)
            continue
        kind, number = rid.split(":")
        margins.setdefault(number, {})[kind] = s[c].min() - s[~c].max()
        accurate[rid] = float(s[c].min() > s[~c].max())
        if kind == "tied":
            tied_spread[number] = s[c].max() - s[c].min()
    out = {name: float(np.mean(v)) for name, v in credit.items()}
    terms = {"tied_accuracy": [], "ref_accuracy": [], "correctness_preferred": [],
             "correctness_preferred_hard": [], "margin": []}
    for number, m in margins.items():
        spread, low = tied_spread[number], min(m["ref"], m["tied"])
        terms["tied_accuracy"].append(accurate[f"tied:{number}"])
        terms["ref_accuracy"].append(accurate[f"ref:{number}"])
        terms["correctness_preferred"].append(float(m["tied"] > spread))
        terms["correctness_preferred_hard"].append(float(low > spread))
        terms["margin"].append(0.0 if spread == 0 and low == 0 else float(np.tanh(low / spread - 1)))
    out["Ties"] = sum(TIES_WEIGHTS[k] * np.mean(v) for k, v in terms.items())
    out["overall"] = float(np.mean([out[s] for s in RB2_SUBSETS]))
    return out


def v1_by_hand(scores, meta, chosen) -> dict[str, float]:
    """Strict pairwise accuracy per subset; sections weighted by RewardBench's example counts."""
    acc: dict[str, list[float]] = {}
    for item in np.unique(meta["item"]):
        rows = np.flatnonzero(meta["item"].to_numpy() == item)
        s, c = scores[rows], chosen[rows]
        acc.setdefault(meta["subset"].iloc[rows[0]], []).append(float(s[c][0] > s[~c][0]))
    subsets = {k: np.mean(v) for k, v in acc.items()}
    out = {}
    for section, names in RB1_SUBSET_MAPPING.items():
        present = [n for n in names if n in subsets]
        weights = np.array([RB1_EXAMPLE_COUNTS[n] for n in present], float)
        out[section] = float(np.dot(weights, [subsets[n] for n in present]) / weights.sum())
    out["overall"] = float(np.mean([out[s] for s in RB1_SUBSET_MAPPING]))
    return out


def check_block_against_raw(run, head: str, suite: str, split: str, by_hand) -> None:
    block = run.records[head]["suites"][suite]
    raw = np.load(run.raw / f"{head}.npz")
    for seed, scores in zip(raw["seeds"], raw["scores"], strict=True):
        expect = by_hand(*split_rows(run.set, split, scores.astype(np.float64)))
        i = SEEDS.index(int(seed))
        for name, value in expect.items():
            got = block["overall"] if name == "overall" else block["sections"][name]
            assert got["per_seed"][i] == pytest.approx(value, abs=1e-6), (suite, head, name)  # raw scores: float32


# -- the tests ---------------------------------------------------------------------------------------
def test_v2_set_records_carry_only_the_v2_block(runs):
    assert runs.rbtwo.set.test_splits() == ["rewardbench2"]
    for name, rec in runs.rbtwo.records.items():
        assert rec["status"] == "ok", (name, rec.get("error"))
        assert rec["suite"] == "rewardbench-v2" and list(rec["suites"]) == ["rewardbench-v2"]
        block = rec["suites"]["rewardbench-v2"]
        assert list(block["sections"]) == list(RB2_SUBSETS) and block["missing_subsets"] == []
        assert block["subsets"]["Ties"]["n"] == 2 and block["subsets"]["Math"]["n"] == 2
    constant = runs.rbtwo.records["constant"]["suites"]["rewardbench-v2"]
    for subset in ("Factuality", "Precise IF", "Math", "Safety", "Focus"):
        assert constant["sections"][subset]["per_seed"] == [0.25, 0.25]  # a 4-way tie earns 1/4
    assert constant["sections"]["Ties"]["mean"] == 0.0  # all tied: not accurate, no margin
    assert constant["overall"]["mean"] == pytest.approx(5 * 0.25 / 6, abs=1e-12)


def test_v2_block_follows_from_the_raw_scores(runs):
    for head in ("bt_linear", "constant"):
        check_block_against_raw(runs.rbtwo, head, "rewardbench-v2", "rewardbench2", v2_by_hand)


def test_v1_v2_set_records_carry_both_blocks(runs):
    assert runs.rbboth.set.test_splits() == ["rewardbench", "rewardbench2"]
    for name, rec in runs.rbboth.records.items():
        assert rec["status"] == "ok", (name, rec.get("error"))
        assert rec["suite"] == "rewardbench-v1"
        assert sorted(rec["suites"]) == ["rewardbench-v1", "rewardbench-v2"]
        assert list(rec["suites"]["rewardbench-v1"]["sections"]) == list(RB1_SUBSET_MAPPING)
        assert list(rec["suites"]["rewardbench-v2"]["sections"]) == list(RB2_SUBSETS)
    constant = runs.rbboth.records["constant"]["suites"]
    assert constant["rewardbench-v1"]["overall"]["mean"] == 0.0  # v1: a tie is wrong
    assert constant["rewardbench-v2"]["sections"]["Focus"]["mean"] == 0.25  # v2: a tie earns 1/k
    for head in ("bt_linear", "constant"):
        check_block_against_raw(runs.rbboth, head, "rewardbench-v1", "rewardbench", v1_by_hand)
        check_block_against_raw(runs.rbboth, head, "rewardbench-v2", "rewardbench2", v2_by_hand)


def test_the_same_v2_rows_score_alike_in_both_sets(runs):
    """The v2 split of the v1+v2 set is the same rows: bt_linear's v2 block differs only through training
    (decontamination drops different training pairs), the constant head's not at all."""
    one = runs.rbtwo.records["constant"]["suites"]["rewardbench-v2"]
    both = runs.rbboth.records["constant"]["suites"]["rewardbench-v2"]
    assert {k: v["per_seed"] for k, v in one["sections"].items()} == {
        k: v["per_seed"] for k, v in both["sections"].items()}


def test_leaderboard_shows_a_table_per_set_and_suite(runs, tmp_path):
    text = render_markdown(runs.results)
    titles = [line for line in text.splitlines() if line.startswith("**")]
    shown = sorted((t.split("**")[1], t.split(" · ")[1]) for t in titles)
    assert shown == [("rbboth v1", "rewardbench-v1"), ("rbboth v1", "rewardbench-v2"),
                     ("rbtwo v1", "rewardbench-v2")]
    for title in titles:  # each table ranks both heads
        table = text.split(title, 1)[1].split("\n\n", 2)[1]
        assert "bt_linear" in table and "constant" in table
    index = render_site(runs.results, tmp_path / "site")
    html = index.read_text()
    assert html.count("rewardbench-v2") >= 2 and "rewardbench-v1" in html
