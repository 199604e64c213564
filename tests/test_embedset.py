"""harness.embedset: the on-disk format, its integrity checks and the atomic writer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from harness.embedset import FORMAT_VERSION, EmbeddingSet, EmbeddingSetError, SetWriter, resolve_set


def _flip_byte(path, offset_from_end=5):
    data = bytearray(path.read_bytes())
    data[-offset_from_end] ^= 0xFF
    path.write_bytes(bytes(data))


def _write_small(root, name="fmt", version="1", dim=4):
    """A hand-made set whose every value the test knows."""
    rng = np.random.default_rng(1)
    writer = SetWriter(root, name, version, model={"id": "hand-made"})
    pairs = {
        a: rng.standard_normal((3, dim)).astype(np.float32)
        for a in ("chosen", "rejected", "prompt")
    }
    pair_meta = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "subset": "s",
            "rating_chosen:overall": [5.0, 4.0, 3.0],
            "rating_rejected:overall": [1.0, 2.0, 0.0],
        }
    )
    writer.add_pairs("train/x", meta=pair_meta, **pairs)
    test = {a: rng.standard_normal((4, dim)).astype(np.float16) for a in ("response", "prompt")}
    test_meta = pd.DataFrame(
        {
            "row": range(4),
            "item": [1, 0, 1, 0],
            "id": ["q1", "q0", "q1", "q0"],
            "subset": ["hep-go"] * 4,
        }
    )
    chosen = np.array([False, True, True, False])
    writer.add_test("rewardbench", suite="rewardbench-v1", meta=test_meta, chosen=chosen, **test)
    return writer.commit(), pairs, test, pair_meta, test_meta, chosen


def test_round_trip_pairs_and_test_split_memory_mapped(tmp_path):
    path, pairs, test, pair_meta, test_meta, chosen = _write_small(tmp_path)
    assert path == tmp_path / "fmt-1"
    emb = EmbeddingSet.open(path)
    assert (emb.name, emb.version, emb.dim, emb.ref) == ("fmt", "1", 4, "fmt@1")
    assert emb.train_splits() == ["train/x"] and emb.test_splits() == ["rewardbench"]
    train = emb.split("train/x")
    for a, arr in pairs.items():
        got = getattr(train, a)
        assert isinstance(got, np.memmap) and got.dtype == np.float32
        np.testing.assert_array_equal(got, arr)
    pd.testing.assert_frame_equal(train.meta, pair_meta)
    assert train.objectives == ["overall"] and len(train) == 3
    tsplit = emb.split("rewardbench")
    assert tsplit.suite == "rewardbench-v1" and len(tsplit) == 4
    for a, arr in test.items():
        got = getattr(tsplit, a)
        assert isinstance(got, np.memmap) and got.dtype == np.float16
        np.testing.assert_array_equal(got, arr)
    np.testing.assert_array_equal(tsplit.labels(), chosen)
    assert emb.manifest["splits"]["rewardbench"]["items"] == 2
    assert emb.manifest["format_version"] == FORMAT_VERSION and emb.manifest["model"] == {
        "id": "hand-made"
    }
    with pytest.raises(EmbeddingSetError, match="no split 'nope'"):
        emb.split("nope")


def test_labels_live_in_their_own_file_not_in_meta(synthetic_set):
    emb = EmbeddingSet.open(synthetic_set)
    test = emb.split("rewardbench")
    assert "chosen" not in test.meta.columns and "label" not in test.meta.columns
    files = emb.manifest["splits"]["rewardbench"]["files"]
    assert files["labels.parquet"]["role"] == "labels"
    assert test.labels_path == synthetic_set / "rewardbench" / "labels.parquet"
    labels = test.labels()
    assert (
        labels.dtype == bool and labels.sum() == test.meta["item"].nunique()
    )  # one chosen per item


def test_verify_passes_then_names_a_flipped_byte(synthetic_set):
    emb = EmbeddingSet.open(synthetic_set)
    assert emb.verify() == sum(len(s["files"]) for s in emb.manifest["splits"].values())
    target = synthetic_set / "train" / "synthetic" / "rejected.npy"
    size = target.stat().st_size
    _flip_byte(target)
    assert target.stat().st_size == size
    reopened = EmbeddingSet.open(
        synthetic_set
    )  # the cheap check cannot see it: same size and header
    with pytest.raises(EmbeddingSetError, match="SHA-256") as err:
        reopened.verify()
    assert str(target) in str(err.value) and "\n" not in str(err.value)


def test_truncated_npy_is_refused_at_open(synthetic_set):
    target = synthetic_set / "rewardbench" / "response.npy"
    data = target.read_bytes()
    target.write_bytes(data[:-64])
    with pytest.raises(EmbeddingSetError, match="truncated") as err:
        EmbeddingSet.open(synthetic_set)
    assert str(target) in str(err.value)


def test_npy_with_another_shape_is_refused_at_open(synthetic_set):
    target = synthetic_set / "rewardbench" / "prompt.npy"
    arr = np.load(target)
    np.save(target, arr.reshape(arr.shape[1], arr.shape[0]))  # same bytes, other shape
    with pytest.raises(EmbeddingSetError, match="manifest says") as err:
        EmbeddingSet.open(synthetic_set)
    assert str(target) in str(err.value)


def test_missing_file_is_named(synthetic_set):
    target = synthetic_set / "train" / "synthetic" / "meta.parquet"
    target.unlink()
    with pytest.raises(EmbeddingSetError, match="missing") as err:
        EmbeddingSet.open(synthetic_set)
    assert str(target) in str(err.value)


def test_newer_format_version_is_refused(synthetic_set):
    manifest_path = synthetic_set / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(EmbeddingSetError, match="newer than this harness reads.*upgrade"):
        EmbeddingSet.open(synthetic_set)


def test_folder_that_is_not_a_set(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "data.npy").write_bytes(b"")
    with pytest.raises(EmbeddingSetError, match="not an embedding set"):
        EmbeddingSet.open(tmp_path / "plain")
    with pytest.raises(EmbeddingSetError, match="no such embedding-set folder"):
        EmbeddingSet.open(tmp_path / "absent")
    (tmp_path / "plain" / "manifest.json").write_text("{broken")
    with pytest.raises(EmbeddingSetError, match="unreadable manifest"):
        EmbeddingSet.open(tmp_path / "plain")
    (tmp_path / "plain" / "manifest.json").write_text('{"name": "x"}')
    with pytest.raises(EmbeddingSetError, match="no format_version"):
        EmbeddingSet.open(tmp_path / "plain")


def test_existing_set_is_not_overwritten(synthetic_set):
    before = {p: p.read_bytes() for p in synthetic_set.rglob("*") if p.is_file()}
    with pytest.raises(EmbeddingSetError, match="already exists"):
        SetWriter(synthetic_set.parent, "tiny", "1")
    assert {p: p.read_bytes() for p in synthetic_set.rglob("*") if p.is_file()} == before
    EmbeddingSet.open(synthetic_set).verify()


def test_interrupted_write_leaves_no_set_folder(tmp_path):
    def write_then_fail():
        writer = SetWriter(tmp_path, "broken", "2")
        writer.add_pairs(
            "train/x",
            chosen=np.zeros((2, 3)),
            rejected=np.zeros((2, 3)),
            prompt=np.zeros((2, 3)),
            meta=pd.DataFrame({"id": ["a", "b"]}),
        )
        raise KeyboardInterrupt  # e.g. Ctrl-C half-way through a build

    with pytest.raises(KeyboardInterrupt):
        write_then_fail()
    assert not (tmp_path / "broken-2").exists()
    # rows that disagree with meta are refused before anything is committed
    writer = SetWriter(tmp_path, "broken", "2")  # a retry starts over from a clean temporary folder
    with pytest.raises(EmbeddingSetError, match="3 rows, meta has 2"):
        writer.add_pairs(
            "train/x",
            chosen=np.zeros((3, 3)),
            rejected=np.zeros((2, 3)),
            prompt=np.zeros((2, 3)),
            meta=pd.DataFrame({"id": ["a", "b"]}),
        )
    # splits that disagree on the dimension fail at commit, still without a set folder
    writer.add_pairs(
        "train/x",
        chosen=np.zeros((2, 3)),
        rejected=np.zeros((2, 3)),
        prompt=np.zeros((2, 3)),
        meta=pd.DataFrame({"id": ["a", "b"]}),
    )
    writer.add_pairs(
        "train/y",
        chosen=np.zeros((2, 4)),
        rejected=np.zeros((2, 4)),
        prompt=np.zeros((2, 4)),
        meta=pd.DataFrame({"id": ["a", "b"]}),
    )
    with pytest.raises(EmbeddingSetError, match="disagree on the embedding dimension"):
        writer.commit()
    assert not (tmp_path / "broken-2").exists()


def test_train_pairs_concatenates_splits_with_ratings(make_set):
    path = make_set(train={"train/a": 5, "train/b": 3}, objectives=("overall",))
    emb = EmbeddingSet.open(path)
    a, b = emb.split("train/a"), emb.split("train/b")
    assert emb.train_pairs(["train/a"]) is a  # one split: returned as is, still memory-mapped
    both = emb.train_pairs()
    assert both.name == "train/a+train/b" and len(both) == 8
    for arr in ("chosen", "rejected", "prompt"):
        np.testing.assert_array_equal(
            getattr(both, arr), np.concatenate([getattr(a, arr), getattr(b, arr)])
        )
    assert both.meta["split"].tolist() == ["train/a"] * 5 + ["train/b"] * 3
    names, rc, rr = both.ratings()
    assert names == ["overall"] and rc.shape == rr.shape == (8, 1)
    np.testing.assert_array_equal(rc[:5, 0], a.meta["rating_chosen:overall"].to_numpy())
    assert (rc > rr).all()


def test_train_pairs_with_unrated_split_gives_nan(tmp_path):
    writer = SetWriter(tmp_path, "mixed", "1")
    z = np.zeros((2, 3), np.float32)
    writer.add_pairs(
        "train/rated",
        chosen=z,
        rejected=z,
        prompt=z,
        meta=pd.DataFrame(
            {
                "id": ["a", "b"],
                "rating_chosen:overall": [3.0, 4.0],
                "rating_rejected:overall": [1.0, 2.0],
            }
        ),
    )
    writer.add_pairs(
        "train/plain", chosen=z + 1, rejected=z, prompt=z, meta=pd.DataFrame({"id": ["c", "d"]})
    )
    emb = EmbeddingSet.open(writer.commit())
    assert emb.train_splits() == ["train/plain", "train/rated"]  # the manifest keeps splits sorted
    both = emb.train_pairs()
    names, rc, rr = both.ratings()
    assert names == ["overall"] and both.meta["id"].tolist() == ["c", "d", "a", "b"]
    np.testing.assert_array_equal(rc[:, 0], [np.nan, np.nan, 3.0, 4.0])
    np.testing.assert_array_equal(rr[:, 0], [np.nan, np.nan, 1.0, 2.0])
    np.testing.assert_array_equal(both.chosen[:, 0], [1, 1, 0, 0])
    assert emb.split("train/plain").ratings()[0] == []
    with pytest.raises(EmbeddingSetError, match="no training split"):
        EmbeddingSet.open(_write_test_only(tmp_path)).train_pairs()


def _write_test_only(root):
    writer = SetWriter(root, "testonly", "1")
    writer.add_test(
        "rewardbench",
        suite="rewardbench-v1",
        response=np.zeros((2, 3)),
        prompt=np.zeros((2, 3)),
        meta=pd.DataFrame({"row": [0, 1], "item": [0, 0]}),
        chosen=[True, False],
    )
    return writer.commit()


def test_resolve_set_by_path_and_by_name_at_version(synthetic_set, tmp_path):
    assert resolve_set(synthetic_set) == synthetic_set
    assert resolve_set(str(synthetic_set)) == synthetic_set
    assert (
        resolve_set("tiny@1", search=[tmp_path / "elsewhere", synthetic_set.parent])
        == synthetic_set
    )
    with pytest.raises(EmbeddingSetError, match="tiny@2 not found.*rewardheads fetch tiny@2"):
        resolve_set("tiny@2", search=[synthetic_set.parent])
    with pytest.raises(EmbeddingSetError, match="NAME@VERSION"):
        resolve_set(tmp_path / "no-such-set")


def test_the_worker_reads_training_splits_with_the_set_reader(make_set):
    """One reader of the split format: the sandboxed worker's training data equals the set's own."""
    from harness.embedset import pair_arrays
    from harness.worker import _load_train

    path = make_set(train={"train/a": 7, "train/b": 5})
    emb = EmbeddingSet.open(path)
    data = _load_train([str(path / s) for s in emb.train_splits()])
    merged = emb.train_pairs()
    for key in ("chosen", "rejected", "prompt"):
        np.testing.assert_array_equal(getattr(data, key), np.asarray(getattr(merged, key), np.float32))
    np.testing.assert_array_equal(data.chosen_tokens, merged.meta["chosen_tokens"].to_numpy())
    bad = path / "train" / "a" / "chosen.npy"
    np.save(bad, np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)
    with pytest.raises(EmbeddingSetError, match="chosen.npy: cannot memory-map"):
        pair_arrays(bad.parent)
