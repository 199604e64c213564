"""The seed paper's golden-reward protocol: importer, annotator, metrics and a real head end to end."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fixtures_data import GOLDEN_STEM, write_golden_arrays

from harness.cli import main
from harness.embedset import EmbeddingSet
from harness.evaluation import read_units
from harness.fileio import sha256_file
from harness.golden import (
    TEST_SPLIT,
    TRAIN_SPLIT,
    GoldenError,
    annotate_pairs,
    best_of_n,
    bon_sizes,
    by_prompt,
    expected_top,
    find_stem,
    golden_labels,
    import_golden,
    paired_prompt_bootstrap,
    prompt_bootstrap,
    spearman_per_prompt,
)
from harness.leaderboard import render_markdown, render_site
from harness.paths import repo_path
from harness.runner import Runner, RunOptions
from harness.suites import get_suite

N_TRAIN, N_TEST, K, D = 40, 20, 8, 16


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("golden-src")
    write_golden_arrays(folder, n_train=N_TRAIN, n_test=N_TEST, k=K, d=D)
    return folder


@pytest.fixture(scope="module")
def golden_set(source, tmp_path_factory) -> EmbeddingSet:
    out = tmp_path_factory.mktemp("golden-sets")
    return EmbeddingSet.open(import_golden(source, out, name="golden-toy", version="1", annotation_quality=-1,
                                           pairs_per_prompt=6, seed=3))


def source_arrays(folder: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    emb = np.load(folder / f"embd_{GOLDEN_STEM}_{split}.npy")
    return emb, np.load(folder / f"reward_{GOLDEN_STEM}_{split}.npy")[:, :, 0]


# -- import -----------------------------------------------------------------------------------------
def test_import_records_sources_and_settings(golden_set, source):
    info = golden_set.manifest["golden"]
    assert (info["stem"], info["gen"], info["embed"], info["task"]) == (
        GOLDEN_STEM, "Gemma2b-sft", "Gemma2b", "Harmless")
    assert info["D"] == D and golden_set.dim == D
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        assert (info["source"][split]["N"], info["source"][split]["K"]) == (n, K)
        files = info["source"][split]["files"]
        assert files["embeddings"]["sha256"] == sha256_file(source / f"embd_{GOLDEN_STEM}_{split}.npy")
        assert files["rewards"]["sha256"] == sha256_file(source / f"reward_{GOLDEN_STEM}_{split}.npy")
        assert files["rewards"]["shape"] == [n, K, 1]
    annotation = info["annotation"]
    assert {k: annotation[k] for k in ("quality", "perfect", "pairs_per_prompt", "seed", "pairs")} == {
        "quality": -1.0, "perfect": True, "pairs_per_prompt": 6, "seed": 3, "pairs": N_TRAIN * 6}
    assert annotation["agreement_with_golden"] == 1.0
    assert golden_set.train_splits() == [TRAIN_SPLIT] and golden_set.test_splits() == [TEST_SPLIT]
    assert golden_set.manifest["splits"][TEST_SPLIT]["suite"] == "golden-reward"
    assert golden_set.verify() == 8


def test_train_pairs_are_the_annotated_source_rows(golden_set, source):
    emb, rewards = source_arrays(source, "train")
    split = golden_set.split(TRAIN_SPLIT)
    meta = split.meta
    p, c, r = (meta[col].to_numpy() for col in ("prompt_index", "chosen_k", "rejected_k"))
    assert np.array_equal(split.chosen, emb[p, c]) and np.array_equal(split.rejected, emb[p, r])
    assert (rewards[p, c] > rewards[p, r]).all()  # the perfect annotator
    assert np.allclose(split.prompt, emb.mean(axis=1)[p], atol=1e-6)  # the documented prompt vector
    # the training golden rewards are not in the set: only the pairs' labels are
    stored = np.concatenate([pd.read_parquet(f).select_dtypes("number").to_numpy(float).ravel()
                             for f in (golden_set.path / TRAIN_SPLIT).glob("*.parquet")])
    assert not np.isin(np.round(rewards.ravel(), 9), np.round(stored, 9)).any()


def test_test_rows_hold_every_response_and_golden_labels(golden_set, source):
    emb, rewards = source_arrays(source, "test")
    split = golden_set.split(TEST_SPLIT)
    item, k = split.meta["item"].to_numpy(), split.meta["k"].to_numpy()
    assert len(split) == N_TEST * K and len(set(zip(item, k, strict=True))) == N_TEST * K
    assert not np.array_equal(item, np.repeat(np.arange(N_TEST), K))  # shuffled
    assert np.array_equal(split.response, emb[item, k])
    assert np.array_equal(golden_labels(split), rewards[item, k])
    best = split.labels()
    assert best.sum() == N_TEST and (rewards[item, k][best] == rewards.max(axis=1)[item[best]]).all()
    assert "golden" not in split.meta.columns


def test_bad_inputs_are_one_line_naming_the_file(source, tmp_path, capsys):
    bad = tmp_path / "bad"
    write_golden_arrays(bad, n_train=4, n_test=3, k=3, d=2)
    np.save(bad / f"reward_{GOLDEN_STEM}_test.npy", np.zeros((3, 4, 1)))
    with pytest.raises(GoldenError, match=rf"reward_{GOLDEN_STEM}_test\.npy: expected numeric rewards of shape "
                                          r"\(3, 3, 1\)"):
        import_golden(bad, tmp_path / "out", name="x", version="1")
    (bad / f"reward_{GOLDEN_STEM}_test.npy").unlink()
    with pytest.raises(GoldenError, match=rf"reward_{GOLDEN_STEM}_test\.npy: missing"):
        find_stem(bad)
    write_golden_arrays(bad, n_train=4, n_test=3, k=3, d=2, stem="a_b_c")
    with pytest.raises(GoldenError, match="holds several stems"):
        find_stem(bad)
    assert find_stem(bad, "a_b_c") == "a_b_c"
    code = main(["import-golden", str(tmp_path / "nothing"), "--name", "x", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no such folder of golden-reward arrays" in err
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_cli_import_then_same_pairs_for_the_same_seed(source, tmp_path, capsys):
    for version in ("1", "2"):
        assert main(["import-golden", str(source), "--name", "g", "--version", version, "--out", str(tmp_path),
                     "--annotation-quality", "0.5", "--pairs-per-prompt", "3", "--seed", "7"]) == 0
    assert f"wrote {tmp_path / 'g-2'}" in capsys.readouterr().out
    a, b = (EmbeddingSet.open(tmp_path / f"g-{v}").split(TRAIN_SPLIT) for v in "12")
    assert a.meta.equals(b.meta) and np.array_equal(a.chosen, b.chosen)
    assert EmbeddingSet.open(tmp_path / "g-1").manifest["golden"]["annotation"]["quality"] == 0.5


# -- the annotator ----------------------------------------------------------------------------------
def rewards_matrix(n=400, k=8, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, k))


def test_annotator_quality_sets_the_agreement_rate():
    r = rewards_matrix()
    rates = [annotate_pairs(r, quality=q, pairs_per_prompt=10, seed=0).agreement(r) for q in (0.0, 1.0, 4.0, -1)]
    assert abs(rates[0] - 0.5) < 0.03  # quality 0: coin flips
    assert rates[0] < rates[1] < rates[2] < rates[3] == 1.0  # negative: perfect
    pairs = annotate_pairs(r, quality=1.0, pairs_per_prompt=10, seed=0)
    # the empirical agreement matches the Bradley-Terry probability of the better response winning
    diff = np.abs(r[pairs.prompt, pairs.chosen] - r[pairs.prompt, pairs.rejected])
    assert abs(rates[1] - np.mean(1 / (1 + np.exp(-diff)))) < 0.02


def test_annotator_pairs_are_distinct_and_seeded():
    r = rewards_matrix(n=50, k=5)
    a = annotate_pairs(r, quality=1.0, pairs_per_prompt=4, seed=1)
    b = annotate_pairs(r, quality=1.0, pairs_per_prompt=4, seed=1)
    c = annotate_pairs(r, quality=1.0, pairs_per_prompt=4, seed=2)
    assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("prompt", "chosen", "rejected"))
    assert not np.array_equal(a.chosen, c.chosen)
    assert np.array_equal(a.prompt, np.repeat(np.arange(50), 4)) and (a.chosen != a.rejected).all()
    unordered = {(p, *sorted((x, y))) for p, x, y in zip(a.prompt, a.chosen, a.rejected, strict=True)}
    assert len(unordered) == len(a)
    assert len(annotate_pairs(r, quality=1.0, pairs_per_prompt=99, seed=0)) == 50 * 10  # all C(5, 2) pairs
    with pytest.raises(GoldenError, match="pairs per prompt must be at least 1"):
        annotate_pairs(r, quality=1.0, pairs_per_prompt=0, seed=0)


# -- metrics -----------------------------------------------------------------------------------------
def test_best_of_n_is_the_exact_expectation_over_subsets():
    rng = np.random.default_rng(5)
    for _ in range(20):
        k = int(rng.integers(2, 7))
        scores, golden = rng.integers(0, 3, (1, k)).astype(float), rng.normal(size=(1, k))  # ties on purpose
        for n in range(1, k + 1):
            picks = []
            for subset in itertools.combinations(range(k), n):
                top = scores[0, list(subset)].max()
                picks.append(np.mean([golden[0, j] for j in subset if scores[0, j] == top]))
            assert expected_top(scores, golden, [n])[0, 0] == pytest.approx(np.mean(picks), abs=1e-12)


def test_best_of_n_on_hand_checkable_heads():
    golden = np.array([[1.0, 4.0, 2.0, 3.0]])
    assert bon_sizes(4) == (1, 2, 4) and bon_sizes(10) == (1, 2, 4, 8, 10)
    perfect = best_of_n(golden * 10, golden)
    assert np.allclose(perfect.gain, perfect.oracle_gain)
    # N=2: the max of a random pair is 4 (3 of 6 pairs), 3 (2), 2 (1) -> 20/6; random pick 2.5
    assert perfect.oracle[0, 1] == pytest.approx(20 / 6) and perfect.random[0] == 2.5
    constant = best_of_n(np.zeros((1, 4)), golden)
    assert np.allclose(constant.gain, 0)  # a 4-way tie is split evenly: exactly a random pick
    reverse = best_of_n(-golden, golden)
    assert reverse.gain[0, 2] == pytest.approx(1.0 - 2.5)  # picks the worst of all four
    assert (reverse.gain[0, 1:] / reverse.oracle_gain[0, 1:] < 0).all()
    assert spearman_per_prompt(golden * 3 + 1, golden)[0] == pytest.approx(1.0)
    assert spearman_per_prompt(-golden, golden)[0] == pytest.approx(-1.0)
    assert spearman_per_prompt(np.zeros((1, 4)), golden)[0] == 0.0


def test_constant_head_is_zero_in_expectation_over_many_prompts():
    golden = rewards_matrix(n=200, k=8)
    random_head = np.random.default_rng(9).normal(size=golden.shape)
    gain = best_of_n(random_head, golden).gain[:, -1]
    assert abs(gain.mean()) < 3 * gain.std() / np.sqrt(len(gain))


def test_by_prompt_and_bootstrap():
    values = np.array([10.0, 11.0, 20.0, 21.0])
    matrix, prompts = by_prompt(values, item=np.array([5, 5, 2, 2]), k=np.array([1, 0, 0, 1]))
    assert prompts.tolist() == [2, 5] and matrix.tolist() == [[20.0, 21.0], [11.0, 10.0]]
    with pytest.raises(GoldenError, match="each of K=2 responses of every prompt exactly once"):
        by_prompt(values, item=np.array([5, 5, 2, 2]), k=np.array([1, 1, 0, 1]))
    per_prompt = np.random.default_rng(0).normal(1.0, 1.0, size=(400, 1))
    lo, hi = prompt_bootstrap(per_prompt, lambda m: m[..., 0], n_boot=500)
    se = per_prompt.std() / np.sqrt(400)
    assert lo < per_prompt.mean() < hi and abs((hi - lo) - 3.92 * se) < 0.5 * se
    assert prompt_bootstrap(per_prompt, lambda m: m[..., 0], n_boot=0) is None


def test_paired_bootstrap_resamples_both_heads_alike():
    a = np.random.default_rng(1).normal(size=(300, 1))
    first = lambda m: m[..., 0]  # noqa: E731
    same = paired_prompt_bootstrap(a, a, first, n_boot=300)
    assert same["delta"] == 0.0 and same["ci95"] == [0.0, 0.0] and same["p_value"] == 1.0
    shifted = paired_prompt_bootstrap(a + 0.05, a, first, n_boot=300)  # tiny, but on every prompt
    assert shifted["delta"] == pytest.approx(0.05) and shifted["ci95"][0] > 0 and shifted["p_value"] == 0.0
    noisy = paired_prompt_bootstrap(a, np.random.default_rng(2).normal(size=(300, 1)), first, n_boot=300)
    assert noisy["ci95"][0] < noisy["delta"] < noisy["ci95"][1] and noisy["p_value"] > 0.05


# -- end to end ---------------------------------------------------------------------------------------
def test_a_shipped_head_runs_on_an_imported_set(golden_set, tmp_path):
    runner = Runner(golden_set, RunOptions(results=tmp_path, seeds=[0, 1], isolation="process", n_boot=200,
                                           progress=False))
    records = {r["submission"]["name"]: r for r in runner.run([repo_path("submissions", "bt_linear"),
                                                              repo_path("submissions", "random")])}
    for rec in records.values():
        assert rec["status"] == "ok", rec.get("error")
        assert rec["suite"] == "golden-reward" and list(rec["suites"]) == ["golden-reward"]
        block = rec["suites"]["golden-reward"]
        assert block["K"] == K and list(block["best_of_n"]) == ["2", "4", "K"]
        assert list(block["sections"]) == ["Gain N=K", "Oracle fraction N=2", "Oracle fraction N=4", "Spearman"]
        assert block["overall"]["mean"] == block["best_of_n"]["K"]["oracle_fraction"]["mean"]
        assert block["sections"]["Gain N=K"] == block["best_of_n"]["K"]["gain"]
        lo, hi = block["overall"]["ci95"]
        assert lo <= block["overall"]["mean"] <= hi
    linear = records["bt_linear"]["suites"]["golden-reward"]
    assert linear["overall"]["mean"] > 0.9 and linear["sections"]["Spearman"]["mean"] > 0.8
    assert records["random"]["suites"]["golden-reward"]["overall"]["mean"] < 0.6

    # the record's numbers follow from the raw scores and the golden labels
    raw = np.load(tmp_path / "golden-toy-1" / "raw" / "bt_linear.npz")
    split = golden_set.split(TEST_SPLIT)
    item, k = split.meta["item"].to_numpy(), split.meta["k"].to_numpy()
    golden, _ = by_prompt(golden_labels(split), item, k)
    for seed, scores in zip(raw["seeds"], raw["scores"], strict=True):
        bon = best_of_n(by_prompt(scores.astype(np.float64), item, k)[0], golden)
        frac = bon.gain[:, -1].mean() / bon.oracle_gain[:, -1].mean()
        assert linear["overall"]["per_seed"][int(seed)] == pytest.approx(frac, rel=1e-6)
    assert raw["golden-reward:credit"].shape == (N_TEST, 2 * 3 + 1)

    # a paired test from the results folder alone: the delta is the records' difference
    units = {name: read_units(tmp_path / "golden-toy-1" / "raw" / f"{name}.npz", "golden-reward")
             for name in records}
    paired = get_suite("golden-reward").paired(units["bt_linear"], units["random"], n_boot=300)
    blocks = {name: rec["suites"]["golden-reward"] for name, rec in records.items()}
    assert paired["delta"] == pytest.approx(
        blocks["bt_linear"]["overall"]["mean"] - blocks["random"]["overall"]["mean"])
    assert paired["per_section"]["Spearman"]["delta"] == pytest.approx(
        blocks["bt_linear"]["sections"]["Spearman"]["mean"] - blocks["random"]["sections"]["Spearman"]["mean"])
    assert paired["ci95"][0] > 0 and paired["p_value"] < 0.05
    json.dumps(records)  # records are plain JSON

    # the leaderboard: one table for the set, the suite's declared columns and nothing else
    text = render_markdown(tmp_path)
    assert text.startswith("**golden-toy v1** · golden-reward · manifest ")
    header = next(line for line in text.splitlines() if line.startswith("|") and "Submission" in line)
    labels = [c.label for c in get_suite("golden-reward").columns()]
    shown = [cell.strip() for cell in header.strip("|").split("|")]
    assert shown[3:3 + len(labels)] == [f"{labels[0]} (95% CI)", *labels[1:]]
    assert shown[3 + len(labels)] == "Seeds"
    assert "golden-reward" in render_site(tmp_path, tmp_path / "site").read_text()
