"""harness.tuning and `rewardheads tune`: hyper-parameters chosen on training-split validation pairs only."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.embedset import EmbeddingSet
from harness.fileio import sha256_file
from harness.paths import project_path, repo_path
from harness.submissions import SubmissionError, discover, load_submission
from harness.tuning import TuneError, source_subset, tune, validation_set

TRAIN = {"train/hh-helpful-base": 60, "train/hh-harmless-base": 40, "train/ultrafeedback": 30}

def signed_head(root: Path, tuning: str = "") -> Path:
    """A copy of the test head ``scaled_linear`` (mean chosen-minus-rejected direction times
    ``scale``: scale = -1 ranks every pair the wrong way round), with ``tuning`` appended."""
    folder = root / "scaled_linear"
    shutil.copytree(repo_path("tests", "submissions", "scaled_linear"), folder)
    with open(folder / "submission.toml", "a") as fh:
        fh.write(tuning)
    return folder


@pytest.fixture
def emb(make_set) -> EmbeddingSet:
    path = make_set(train=TRAIN, dim=8, test_items=10)
    return EmbeddingSet.open(path)


def test_validation_set_holds_out_whole_training_prompts_and_no_test_split(emb, tmp_path):
    val = validation_set(emb, tmp_path / "val", fraction=0.2, seed=0)
    assert val.ref == f"{emb.name}@{emb.version}-val20s0"
    tests = val.test_splits()
    assert sorted(tests) == sorted("validation/" + s.removeprefix("train/") for s in TRAIN)
    assert {val.manifest["splits"][s]["suite"] for s in tests} == {"in-distribution"}
    assert "rewardbench" not in val.splits  # the original's test suites are not copied
    for name, pairs in TRAIN.items():
        kept = val.split(name)
        held = val.split("validation/" + name.removeprefix("train/"))
        labels = held.labels()
        assert len(kept.meta) + len(held.meta) // 2 == pairs
        assert len(held.meta) // 2 == round(0.2 * pairs)
        assert np.asarray(labels).sum() == len(held.meta) // 2
        # no validation response is a training response, and each held item is one original pair
        train_rows = {np.asarray(r).tobytes() for r in (*kept.chosen, *kept.rejected)}
        assert not {np.asarray(r).tobytes() for r in held.response} & train_rows
        assert set(held.meta["subset"]) == {name.removeprefix("train/")}
    again = validation_set(emb, tmp_path / "val", fraction=0.2, seed=0)
    assert again.path == val.path and again.manifest_sha256 == val.manifest_sha256  # built once
    other = validation_set(emb, tmp_path / "val", fraction=0.2, seed=1)
    assert other.path != val.path
    assert not np.array_equal(np.asarray(other.split("train/ultrafeedback").chosen),
                              np.asarray(val.split("train/ultrafeedback").chosen))


def test_pairs_with_the_same_prompt_are_held_out_together(make_set, tmp_path):
    path = make_set(train={"train/hh-helpful-base": 40}, dim=8)
    prompt = np.load(path / "train/hh-helpful-base/prompt.npy", mmap_mode="r+")
    prompt[:20] = prompt[0]  # twenty pairs answer one prompt
    prompt.flush()
    del prompt
    manifest = json.loads((path / "manifest.json").read_text())
    entry = manifest["splits"]["train/hh-helpful-base"]["files"]["prompt.npy"]
    entry["sha256"] = sha256_file(path / "train/hh-helpful-base/prompt.npy")
    (path / "manifest.json").write_text(json.dumps(manifest))
    emb = EmbeddingSet.open(path)
    for seed in range(6):
        val = validation_set(emb, tmp_path / "val", fraction=0.1, seed=seed)
        kept = np.asarray(val.split("train/hh-helpful-base").prompt)
        held = np.asarray(val.split("validation/hh-helpful-base").prompt)
        shared = np.asarray(emb.split("train/hh-helpful-base").prompt)[0].tobytes()
        in_train = any(r.tobytes() == shared for r in kept)
        in_held = any(r.tobytes() == shared for r in held)
        assert in_train != in_held  # never on both sides


def test_a_training_source_without_an_in_distribution_section_is_refused():
    assert source_subset("hh-rlhf", "train/x", "helpful-online_test") == "hh-helpful-online"
    assert source_subset("ultrafeedback", "train/uf", "binarized_train_sample1000") == "ultrafeedback"
    with pytest.raises(TuneError, match="no in-distribution section"):
        source_subset("golden", "train/g", "harmless")


def test_tune_picks_the_grid_point_that_wins_on_validation(emb, tmp_path):
    folder = signed_head(tmp_path)
    result = tune(folder, emb, {"scale": [-1.0, 1.0]}, root=tmp_path / "sets", results=tmp_path / "results",
                  options={"seeds": [0, 1], "isolation": "process", "n_boot": 50, "progress": False},
                  fraction=0.2, log=lambda _: None)
    by_scale = {p.params["scale"]: p for p in result.points}
    assert by_scale[1.0].mean > 0.6 and by_scale[-1.0].mean < 0.4  # the mean difference separates the pairs
    assert result.best.params == {"scale": 1.0}
    assert len(by_scale[1.0].per_seed) == 2
    assert set(by_scale[1.0].sections) <= {"HH helpful", "HH harmless", "UltraFeedback"}
    # only the validation set's results were written: nothing was scored on the original set
    written = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert written == [f"{emb.name}-{emb.version}-val20s0"]
    # the printed [tuning] table, pasted into submission.toml, is accepted
    pasted = signed_head(tmp_path / "pasted", "\n" + result.toml() + "\n")
    assert load_submission(pasted).tuning["chosen"] == {"scale": 1.0}


def test_rewardheads_tune_prints_the_table_and_writes_its_report(emb, tmp_path, capsys):
    folder = signed_head(tmp_path, '\n[tuning]\nmethod = "grid"\nset = "tiny@1"\nvalidation = 0.2\n'
                                   'grid = { scale = [-1.0, 1.0] }\nchosen = { scale = 1.0 }\n')
    code = main(["tune", str(folder), "--set", str(emb.path), "--validation", "0.2", "--seeds", "1",
                 "--isolation", "process", "--out", str(tmp_path / "tune"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "best: {'scale': 1.0}" in out
    table = out[out.index("[tuning]"):]
    parsed = tomllib.loads(table)["tuning"]
    assert parsed["chosen"] == {"scale": 1.0} and parsed["grid"] == {"scale": [-1.0, 1.0]}
    assert (tmp_path / "tune" / "scaled_linear.json").is_file()


def test_tune_refuses_bad_input_in_one_line(emb, tmp_path, capsys):
    folder = signed_head(tmp_path)
    assert main(["tune", str(folder), "--set", str(emb.path), "--grid", "width=1,2"]) != 0
    assert "not in [params]" in capsys.readouterr().err
    assert main(["tune", str(folder), "--set", str(emb.path), "--grid", "scale=1,-1", "--validation", "0.9"]) != 0
    assert "validation fraction" in capsys.readouterr().err
    with open(folder / "submission.toml", "a") as fh:
        fh.write("\n[variants.half]\nscale = 0.5\n")
    assert main(["tune", str(folder), "--set", str(emb.path), "--grid", "scale=1,-1"]) != 0
    assert "declares [variants]" in capsys.readouterr().err


@pytest.mark.parametrize("tuning, message", [
    ('method = "grid"\nset = "mini@1"\nvalidation = 0.1\ngrid = { scale = [1.0, -1.0] }\nchosen = { scale = -1.0 }',
     "copy the chosen value into"),
    ('method = "grid"\nset = "mini@1"\nvalidation = 0.1\ngrid = { scale = [-1.0] }\nchosen = { scale = 1.0 }',
     "is not one of tuning.grid.scale"),
    ('method = "on the test set"', "tuning.method"),
    ('method = "fixed"\ngrid = { scale = [1.0] }', 'belongs to method = "grid" only'),
    ('method = "grid"\nset = "mini@1"', "needs tuning.validation"),
    ('method = "grid"\nset = "mini@1"\nvalidation = 7\ngrid = { scale = [1.0] }\nchosen = { scale = 1.0 }',
     "must be a fraction"),
    ('method = "none"\nwhen = "yesterday"', "unknown key"),
    ('method = "fixed"\nnote = "from \\u202e the paper"', "control character"),
])
def test_a_tuning_table_that_does_not_say_what_was_done_is_refused(tmp_path, tuning, message):
    folder = signed_head(tmp_path, f"\n[tuning]\n{tuning}\n")
    with pytest.raises(SubmissionError, match=message):
        load_submission(folder)


def test_every_shipped_head_says_how_its_hyper_parameters_were_chosen():
    for folder in discover(project_path("submissions")):
        sub = load_submission(folder)
        assert sub.tuning.get("method") in ("grid", "in-fit", "fixed", "none"), folder
        assert sub.tuning.get("note") or sub.tuning["method"] == "none", folder
        if sub.tuning["method"] == "grid":
            # chosen on a bundled set's training split, and what [params] holds (load_submission checks it)
            assert sub.tuning["set"] in ("mini@1", "mini@2"), folder
        assert sub.record()["tuning"] == sub.tuning


def test_a_variant_run_does_not_claim_the_folder_s_tuning(tmp_path):
    folder = signed_head(tmp_path, '\n[tuning]\nmethod = "fixed"\nnote = "one"\n')
    sub = load_submission(folder)
    assert sub.record()["tuning"]["method"] == "fixed"
    assert "tuning" not in sub.variant({"scale": -1.0}).record()
    shutil.rmtree(folder)


def test_grid_values_may_be_lists_and_quoted_strings():
    from harness.submissions import parse_grid

    assert parse_grid(["hidden=[256],[1024, 512]", "mode='a,b',c"]) == [
        {"hidden": [256], "mode": "a,b"}, {"hidden": [256], "mode": "c"},
        {"hidden": [1024, 512], "mode": "a,b"}, {"hidden": [1024, 512], "mode": "c"}]


def test_the_head_s_page_says_how_its_hyper_parameters_were_chosen(emb, tmp_path):
    from harness.leaderboard import render_site
    from harness.runner import Runner, RunOptions

    note = "Searched <script>alert(1)</script> on | training pairs"
    folder = signed_head(tmp_path, '\n[tuning]\nmethod = "grid"\nset = "mini@1"\nvalidation = 0.1\n'
                                   f'grid = {{ scale = [-1.0, 1.0] }}\nchosen = {{ scale = 1.0 }}\nnote = "{note}"\n')
    results = tmp_path / "results"
    [record] = Runner(emb, RunOptions(results=results, seeds=[0], isolation="process", n_boot=50,
                                      progress=False), log=lambda _: None).run([folder])
    assert record["submission"]["tuning"]["chosen"] == {"scale": 1.0}
    site = render_site(results, tmp_path / "site", warn=lambda _: None)
    page = next((site.parent if site.is_file() else site).rglob("scaled_linear*.html")).read_text()
    assert "by grid search" in page and "training split" in page and "<code>scale</code>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
