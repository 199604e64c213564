"""Every suite a set carries is scored: v2-only, v1 + v2 and in-distribution sets, through Runner,
the per-set results folder, the raw unit credit and the leaderboard."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.embedset import EmbeddingSet, SetWriter
from harness.evaluation import ScoringMatrix, read_units, score_fields
from harness.leaderboard import build_groups, render_markdown, render_site
from harness.results import load_records
from harness.runner import Runner, RunOptions
from harness.suites import RB2_SUBSETS
from harness.suites.in_distribution import IN_DISTRIBUTION_SECTIONS

TESTS = Path(__file__).parent / "submissions"
DIM = 8
V1_SUBSETS = ("alpacaeval-easy", "mt-bench-hard", "xstest-should-refuse", "hep-python")


def _rows(rng, direction, items: list[tuple[str, str, int, int]]):
    """Rows of ``items`` = (subset, id, n_chosen, n_rejected), shuffled: (meta, response, chosen)."""
    meta, response, chosen = [], [], []
    for k, (subset, item_id, n_c, n_r) in enumerate(items):
        prompt = rng.normal(size=DIM)
        for c in [True] * n_c + [False] * n_r:
            response.append(prompt + (0.8 if c else -0.8) * direction + 0.5 * rng.normal(size=DIM))
            chosen.append(c)
            meta.append({"item": k, "id": item_id, "subset": subset, "prompt_tokens": 5,
                         "response_tokens": int(rng.integers(20, 60)), "truncated": False})
    perm = rng.permutation(len(meta))
    table = pd.DataFrame(meta).iloc[perm].reset_index(drop=True)
    table.insert(0, "row", np.arange(len(table)))
    return table, np.asarray(response, np.float32)[perm], np.asarray(chosen)[perm]


def v1_items(n: int = 40) -> list:
    return [(V1_SUBSETS[i % len(V1_SUBSETS)], str(i), 1, 1) for i in range(n)]


def v2_items(per_subset: int = 6) -> list:
    items = [(s, f"{s}-{i}", 1, 3) for s in RB2_SUBSETS if s != "Ties" for i in range(per_subset)]
    for n in range(per_subset):  # Ties: per prompt a ref item and a tied item (several chosen)
        items += [("Ties", f"ref:{n}", 1, 3), ("Ties", f"tied:{n}", 3, 2)]
    return items


def id_items(subsets: tuple[str, ...], per_subset: int = 8) -> list:
    """Pairs of each subset; the k-th subset has ``per_subset + 2k`` of them."""
    return [(s, f"{s}-{i}", 1, 1) for k, s in enumerate(subsets) for i in range(per_subset + 2 * k)]


def write_set(root: Path, name: str, splits: dict[str, tuple[str, list]], seed: int = 0) -> Path:
    """A set with one training split and the test ``splits`` (name -> (suite, items))."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=DIM)
    writer = SetWriter(root, name, "1", model={"id": "synthetic"})
    base = rng.normal(size=(200, DIM))
    meta = pd.DataFrame({"id": [str(i) for i in range(200)], "subset": "synthetic", "prompt_tokens": 5,
                         "chosen_tokens": 30, "rejected_tokens": 30, "truncated": False})
    writer.add_pairs("train/synthetic", chosen=(base + direction).astype(np.float32),
                     rejected=(base - direction).astype(np.float32), prompt=base.astype(np.float32), meta=meta)
    for split, (suite, items) in splits.items():
        table, response, chosen = _rows(rng, direction, items)
        writer.add_test(split, suite=suite, response=response, prompt=response, meta=table, chosen=chosen)
    return writer.commit()


def run(emb_path: Path, results: Path) -> list[dict]:
    runner = Runner(EmbeddingSet.open(emb_path), RunOptions(results=results, seeds=[0, 1], isolation="process",
                                                            n_boot=50, progress=False), log=lambda _: None)
    return runner.run([TESTS / "good_linear", TESTS.parent.parent / "submissions" / "random"])


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("suite-sets")
    return {
        "v2only": write_set(root, "v2only", {"rewardbench2": ("rewardbench-v2", v2_items())}),
        "both": write_set(root, "both", {"rewardbench": ("rewardbench-v1", v1_items()),
                                         "rewardbench2": ("rewardbench-v2", v2_items())}, seed=1),
        "heldout": write_set(root, "heldout", {
            "rewardbench": ("rewardbench-v1", v1_items()),
            "heldout/hh": ("in-distribution", id_items(("hh-helpful-base", "hh-helpful-online",
                                                        "hh-harmless-base"))),
            "heldout/uf": ("in-distribution", id_items(("ultrafeedback",)))}, seed=2),
    }


def test_v2_only_set_runs_and_renders(sets, tmp_path):
    records = run(sets["v2only"], tmp_path)
    assert [r["status"] for r in records] == ["ok", "ok"], records
    for rec in records:
        assert rec["suite"] == "rewardbench-v2" and list(rec["suites"]) == ["rewardbench-v2"]
        assert set(rec["suites"]["rewardbench-v2"]["sections"]) == set(RB2_SUBSETS)
        name = rec["submission"]["name"]
        assert (tmp_path / "v2only-1" / f"{name}.json").is_file()
        assert not (tmp_path / f"{name}.json").exists() and not (tmp_path / "raw").exists()
    good = next(r for r in records if r["submission"]["name"] == "good_linear")
    assert good["suites"]["rewardbench-v2"]["overall"]["mean"] > 0.8
    groups = build_groups(load_records(tmp_path)[0])
    assert [(g.set.name, g.suite.name) for g in groups] == [("v2only", "rewardbench-v2")]
    assert [r.name for r in groups[0].rows] == ["good_linear", "random"]
    assert "Focus" in render_markdown(tmp_path)
    index = render_site(tmp_path, tmp_path / "site").read_text()
    assert "rewardbench-v2" in index and 'data-key="ties"' in index


def test_v1_and_v2_set_scores_both_and_keeps_raw_units(sets, tmp_path):
    records = run(sets["both"], tmp_path)
    good = next(r for r in records if r["submission"]["name"] == "good_linear")
    assert good["status"] == "ok" and good["suite"] == "rewardbench-v1"
    assert list(good["suites"]) == ["rewardbench-v1", "rewardbench-v2"]
    raw = tmp_path / "both-1" / "raw" / "good_linear.npz"
    emb = EmbeddingSet.open(sets["both"])
    matrix = ScoringMatrix.of(emb)
    with np.load(raw) as data:
        assert data["scores"].shape == (2, len(matrix))
        scores = list(data["scores"])
    # the stored unit credit is the seed-averaged credit of each suite, on every unit
    v2 = read_units(raw, "rewardbench-v2")
    assert len(v2) == 5 * 6 + 6 and set(v2.subset) == set(RB2_SUBSETS)
    v1 = read_units(raw, "rewardbench-v1")
    assert len(v1) == 40 and set(np.unique(v1.values)) <= {0.0, 0.5, 1.0}
    again = score_fields(matrix, scores, 50)["suites"]
    assert again["rewardbench-v2"]["sections"]["Math"]["mean"] == pytest.approx(
        good["suites"]["rewardbench-v2"]["sections"]["Math"]["mean"])
    boards = build_groups(load_records(tmp_path)[0])
    assert [g.suite.name for g in boards] == ["rewardbench-v1", "rewardbench-v2"]
    site = render_site(tmp_path, tmp_path / "site")
    page = (site.parent / "submissions" / "good_linear.html").read_text()
    assert "RewardBench v1 · section scores" in page and "RewardBench 2 · section scores" in page
    # a rerun finds the per-set records up to date
    again_records = run(sets["both"], tmp_path)
    assert [r["created"] for r in again_records] == [r["created"] for r in records]


def test_in_distribution_suite_is_scored_by_item_weights(sets, tmp_path):
    records = run(sets["heldout"], tmp_path)
    good = next(r for r in records if r["submission"]["name"] == "good_linear")
    block = good["suites"]["in-distribution"]
    assert set(block["sections"]) == {"HH helpful", "HH harmless", "UltraFeedback"}
    assert block["missing_subsets"] == []
    subsets = block["subsets"]
    assert {k: v["n"] for k, v in subsets.items()} == {
        "hh-helpful-base": 8, "hh-helpful-online": 10, "hh-harmless-base": 12, "ultrafeedback": 8}
    helpful = [subsets[s]["per_seed"][0] for s in ("hh-helpful-base", "hh-helpful-online")]
    assert block["sections"]["HH helpful"]["per_seed"][0] == pytest.approx((8 * helpful[0] + 10 * helpful[1]) / 18)
    sections = [block["sections"][s]["per_seed"][1] for s in IN_DISTRIBUTION_SECTIONS]
    assert block["overall"]["per_seed"][1] == pytest.approx(sum(sections) / 3)
    md = render_markdown(tmp_path)
    assert "· in-distribution ·" in md and "HH harmless" in md


def test_old_flat_records_are_still_read(tmp_path):
    kept = Path(__file__).parent / "golden" / "schema1-bt_linear.json"  # a record of the old flat board
    (tmp_path / "bt_linear.json").write_text(kept.read_text())
    records, problems = load_records(tmp_path)
    assert problems == [] and records[0]["schema"] == 2
    assert json.loads(kept.read_text())["schema"] == 1
