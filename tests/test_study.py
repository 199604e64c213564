"""`rewardheads study ensembles` end to end on a tiny set: runs, paired tests, report and plot."""

from __future__ import annotations

from harness.embedset import EmbeddingSet
from harness.paths import repo_path
from harness.study import ENSEMBLES, SINGLE, run_ensemble_study
from tests.tinyset import make_tiny_set


def test_ensemble_study_report(tmp_path):
    emb_set = EmbeddingSet.open(make_tiny_set(tmp_path / "sets", n_train=200, n_items=100, noise=0.0))
    report = run_ensemble_study(emb_set, repo_path("submissions"), tmp_path / "docs", tmp_path / "results",
                                seeds=[0], jobs=2, command="rewardheads study ensembles --seeds 2")
    text = report.read_text()
    png = (tmp_path / "docs" / "ensemble-study.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    for name in (SINGLE, *ENSEMBLES):
        assert f"| `{name}` |" in text
    verdicts = [line for line in text.splitlines() if line.startswith("* `bt_ensemble@")]
    assert len(verdicts) == 3 and all("Δ = " in v and "p " in v for v in verdicts)
    assert "rewardheads study ensembles --seeds 2" in text and emb_set.manifest_sha256[:16] in text
    raw = tmp_path / "results" / f"{emb_set.name}-{emb_set.version}" / "raw"
    assert sorted(p.stem for p in raw.glob("*.npz")) == sorted([SINGLE, *ENSEMBLES])
