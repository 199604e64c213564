"""`rewardheads study sources`: a head fitted on each training source alone and on all of them."""

from __future__ import annotations

import json

import numpy as np

from harness.cli import main
from harness.embedset import EmbeddingSet
from harness.fileio import sha256_file
from harness.paths import repo_path
from harness.study_sources import ALL, run_source_study


def flip_source(path, split: str) -> None:
    """Swap chosen and rejected of one training split (and re-pin the manifest): a source whose
    labels say the opposite of the others'."""
    folder = path / split
    chosen, rejected = np.load(folder / "chosen.npy"), np.load(folder / "rejected.npy")
    np.save(folder / "chosen.npy", rejected)
    np.save(folder / "rejected.npy", chosen)
    manifest = json.loads((path / "manifest.json").read_text())
    for name in ("chosen.npy", "rejected.npy"):
        manifest["splits"][split]["files"][name]["sha256"] = sha256_file(folder / name)
    (path / "manifest.json").write_text(json.dumps(manifest))


def test_a_source_with_opposite_labels_teaches_below_chance(make_set, tmp_path, capsys):
    path = make_set(train={"train/agrees": 60, "train/opposes": 20}, dim=8, test_items=60)
    flip_source(path, "train/opposes")
    emb = EmbeddingSet.open(path)
    head = repo_path("tests", "submissions", "good_linear")
    rows = run_source_study(emb, head, seeds=[0], n_boot=100, progress=False)
    by = {r.source: r for r in rows}
    assert [r.source for r in rows][-1] == ALL and len(rows) == 3
    assert by[ALL].pairs == 80 and sum(r.pairs for r in rows[:-1]) == 80
    overall = {name: r.blocks["rewardbench-v1"]["overall"]["mean"] for name, r in by.items()}
    agrees = next(k for k in overall if k.endswith("agrees"))
    opposes = next(k for k in overall if k.endswith("opposes"))
    assert overall[agrees] > 0.6 and overall[opposes] < 0.4  # the study tells the two sources apart
    assert overall[opposes] < overall[ALL] < overall[agrees]  # and the mix lands in between

    code = main(["study", "sources", "--set", str(path), "--head", str(head), "--seeds", "1", "--n-boot", "100",
                 "--out", str(tmp_path / "docs")])
    assert code == 0
    report = (tmp_path / "docs" / f"source-study-{emb.name}-{emb.version}.md").read_text()
    assert "| trained on | pairs |" in report and "▼" in report and "## Below chance" in report
    assert (tmp_path / "docs" / f"source-study-{emb.name}-{emb.version}.png").stat().st_size > 1000
    capsys.readouterr()
