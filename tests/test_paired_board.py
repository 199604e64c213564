"""The leaderboard's "tied with #1" marks, tiers and plots come from paired tests on the same items."""

from __future__ import annotations

import pytest

from harness.embedset import EmbeddingSet
from harness.leaderboard import build_groups, render_site
from harness.paths import repo_path
from harness.results import load_records
from harness.runner import Runner, RunOptions
from harness.significance import board_statistics, pairwise, tiers, versus_leader
from harness.tables import markdown_from_groups as markdown_table
from tests.tinyset import make_tiny_set

HEADS = ("bt_linear", "bt_mlp", "knn", "gbt", "length", "random")


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    emb = EmbeddingSet.open(make_tiny_set(cache / "sets", name="paired", n_train=200, n_items=160, noise=1.0))
    results = tmp_path_factory.mktemp("results")
    records = Runner(emb, RunOptions(results=results, seeds=[0, 1], jobs=2, isolation="process",
                                     progress=False)).run([repo_path("submissions", h) for h in HEADS])
    assert all(r["status"] == "ok" for r in records), [r.get("error") for r in records]
    return emb, results, cache


def test_tied_marks_and_tiers_are_the_paired_tests(board, monkeypatch):
    emb, results, cache = board
    monkeypatch.setenv("REWARDHEADS_CACHE", str(cache))  # where the board finds the set by name
    groups = build_groups(load_records(results)[0], results)
    (g,) = [g for g in groups if g.suite.name == "rewardbench-v1"]
    deltas = versus_leader(load_records(results)[0], results, emb)
    assert g.extras.get("paired_ties")
    for row in g.rows:
        if row.rank is None or row.leader:
            assert not row.tied
        else:
            assert row.tied == (not deltas[row.name].significant), row.name
    expected_tiers = tiers(load_records(results)[0], results, emb)
    assert {r.name: g.extras["tiers"][r.name] for r in g.rows} == expected_tiers
    assert expected_tiers["length"] is None and expected_tiers["random"] is None
    keys = [c.key for c in g.columns]
    assert {"tier", "delta_vs_leader", "length_gap"} <= set(keys)
    text = markdown_table(groups)
    assert "paired bootstrap on the same items" in text and "overlapping 95% CIs" not in text


def test_site_has_the_heat_map_and_the_length_plot(board, monkeypatch, tmp_path):
    emb, results, cache = board
    monkeypatch.setenv("REWARDHEADS_CACHE", str(cache))
    render_site(results, tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    assert "Pairwise difference of overall scores" in html and "Length bias:" in html
    assert html.count("<svg") >= 4


def test_without_the_set_no_row_is_marked_tied(board, monkeypatch, tmp_path):
    """Overlapping CIs never make a tie: without the set's labels there is no paired test, no mark."""
    _, results, _ = board
    monkeypatch.setenv("REWARDHEADS_CACHE", str(tmp_path / "empty"))
    groups = build_groups(load_records(results)[0], results)
    (g,) = [g for g in groups if g.suite.name == "rewardbench-v1"]
    assert not g.extras.get("paired_ties") and "tier" not in [c.key for c in g.columns]
    assert g.n_tied == 0
    assert "paired test against #1 needs the set on this machine" in markdown_table(groups)


def test_the_paired_verdict_overrides_overlapping_intervals(board, monkeypatch):
    """Where the CIs overlap but the paired test separates, the row is not tied (and vice versa)."""
    from types import SimpleNamespace

    import harness.significance as sig

    emb, results, cache = board
    monkeypatch.setenv("REWARDHEADS_CACHE", str(cache))
    real = sig.board_statistics

    def forced(*a, v, **k):
        deltas, tier_of, matrix = real(*a, **k)
        return ({name: SimpleNamespace(delta=d.delta, ci95=d.ci95, significant=v) for name, d in deltas.items()},
                tier_of, matrix)

    for verdict in (True, False):
        monkeypatch.setattr(sig, "board_statistics", lambda *a, v=verdict, **k: forced(*a, v=v, **k))
        (g,) = [g for g in build_groups(load_records(results)[0], results) if g.suite.name == "rewardbench-v1"]
        ranked = [r for r in g.rows if r.rank is not None and not r.leader]
        assert ranked and all(r.tied == (not verdict) for r in ranked)


def test_one_reading_of_the_scores_gives_the_three_statistics(board):
    emb, results, _ = board
    records = load_records(results)[0]
    deltas, tier_of, matrix = board_statistics(records, results, emb)
    assert deltas == versus_leader(records, results, emb) and tier_of == tiers(records, results, emb)
    alone = pairwise(records, results, emb)
    assert matrix.names == alone.names and (matrix.delta == alone.delta).all()
    assert (matrix.p_value == alone.p_value).all()
