"""harness.embed: the builder, end to end, with tiny real transformers models (float32 builds)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import fixtures_data as fd
import numpy as np
import pytest
import torch

from harness.cli import main
from harness.data import decontaminate, load_records, normalise_prompt
from harness.embed import (
    BuildConfig,
    Builder,
    EmbedError,
    Plan,
    SplitSpec,
    build,
    embed_texts,
    load_model,
    make_batches,
    merge_work,
    plan_build,
    render,
    tokenize_pair,
    truncate,
)
from harness.embedset import EmbeddingSet
from harness.shards import ShardError, parse_shard

ATOL = 1e-5


def make_config(model: Path, **options) -> BuildConfig:
    """The test builds: float32 storage, 4 texts per chunk, small batches (several per chunk)."""
    base = dict(
        name="t",
        version="1",
        model=str(model),
        store_dtype="float32",
        chunk_texts=4,
        batch_tokens=64,
    )
    return BuildConfig(**{**base, **options})


def make_specs(data) -> list[SplitSpec]:
    return [
        SplitSpec("rewardbench", "rewardbench", [str(data["rewardbench"])]),
        SplitSpec("train/hh", "hh-rlhf", [str(data["hh-rlhf"])]),
        SplitSpec("train/uf", "ultrafeedback", [str(data["ultrafeedback"])]),
    ]


def embed_one(model, tok, ids: list[int], prompt_pos: int, causal: bool = True):
    """One text alone in its batch: (full, prompt) embedding vectors."""
    full, prompt = embed_texts(
        model, tok, [ids], [prompt_pos], layer=-1, causal=causal, device="cpu"
    )
    return full[0], prompt[0]


def prompt_only(model, tok, messages) -> np.ndarray:
    """A separate forward pass over the rendered prompt alone: its last token's hidden state."""
    ids = tok(render(tok, messages, None), add_special_tokens=False)["input_ids"]
    return embed_one(model, tok, ids, len(ids) - 1)[0]


def arrays(emb: EmbeddingSet) -> dict[str, np.ndarray]:
    out = {}
    for name in emb.splits:
        split = emb.split(name)
        for a in ("chosen", "rejected", "prompt", "response"):
            if hasattr(split, a):
                out[f"{name}/{a}"] = np.asarray(getattr(split, a))
    return out


def file_hashes(emb: EmbeddingSet) -> dict:
    return {name: split["files"] for name, split in emb.manifest["splits"].items()}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest (and steadiest on a busy machine) on one CPU thread; ``build``
    respects ``OMP_NUM_THREADS`` instead of taking every core."""
    saved, threads = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    if saved is None:
        del os.environ["OMP_NUM_THREADS"]
    else:
        os.environ["OMP_NUM_THREADS"] = saved


@pytest.fixture(scope="module")
def llama(tiny_llama):
    tok, model, info = load_model(BuildConfig("x", "1", str(tiny_llama)))
    return SimpleNamespace(tok=tok, model=model, info=info)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_llama, fixture_data):
    """One unsharded float32 build (work folder kept); read-only for the tests below."""
    root = tmp_path_factory.mktemp("reference")
    config, specs = make_config(tiny_llama), make_specs(fixture_data)
    path = build(config, specs, root, progress=False, keep_work=True)
    return SimpleNamespace(
        root=root,
        path=path,
        config=config,
        specs=specs,
        set=EmbeddingSet.open(path),
        work=root / "t-1.partial",
    )


# -- a build --------------------------------------------------------------------------------------
def test_build_shapes_dtypes_and_manifest(reference, tiny_llama):
    emb = reference.set
    assert emb.dim == 32 and emb.test_splits() == ["rewardbench"]
    assert emb.train_splits() == ["train/hh", "train/uf"]
    test = emb.split("rewardbench")
    assert test.response.shape == test.prompt.shape == (2 * len(fd.RB1_ROWS), 32)
    assert test.response.dtype == np.float32 and isinstance(test.response, np.memmap)
    hh, uf = emb.split("train/hh"), emb.split("train/uf")
    assert hh.chosen.shape == hh.rejected.shape == hh.prompt.shape == (len(fd.HH_ROWS) - 1, 32)
    assert uf.chosen.shape == (len(fd.UF_ROWS), 32) and uf.chosen.dtype == np.float32
    assert uf.objectives == ["overall"] and hh.objectives == []
    names, rc, rr = uf.ratings()
    np.testing.assert_array_equal(rc[:, 0], [r["score_chosen"] for r in fd.UF_ROWS])
    np.testing.assert_array_equal(rr[:, 0], [r["score_rejected"] for r in fd.UF_ROWS])
    m = emb.manifest
    assert (
        m["splits"]["train/hh"]["decontaminated"] == 1 and m["splits"]["rewardbench"]["items"] == 4
    )
    assert m["model"]["model_type"] == "llama" and m["model"]["causal"] is True
    assert m["model"]["pooling"] == "last_token" and m["model"]["chat_template"] == "model"
    assert m["truncation"]["texts"] == 0 and m["truncation"]["total_texts"] == 8 + 8 + 6
    assert m["splits"]["train/hh"]["source"]["data_files"]["helpful-base_test.jsonl.gz"]
    assert m["build"]["last_run"]["tokens"] > 0
    assert torch.get_num_threads() == 1  # build() left OMP_NUM_THREADS=1 alone
    assert emb.verify() == 4 + 4 + 4
    assert not (reference.root / "t-1.tmp").exists()
    for values in (test.response, test.prompt, hh.chosen, uf.prompt):
        assert np.isfinite(values).all() and np.abs(values).sum(1).min() > 0


def test_test_rows_are_shuffled_and_labels_follow_them(reference, llama, fixture_data):
    records = load_records("rewardbench", [fixture_data["rewardbench"]])
    expected, source_order = [], []
    for r, rec in enumerate(records):
        for k, response in enumerate(rec.responses):
            ids, plen = tokenize_pair(llama.tok, rec.messages, response)
            expected.append(
                (r, k, plen, len(ids) - plen, embed_one(llama.model, llama.tok, ids, plen - 1)[0])
            )
            source_order.append((r, k))
    test = reference.set.split("rewardbench")
    labels = test.labels()
    seen = []
    for row in range(len(test)):
        matches = [e for e in expected if np.allclose(test.response[row], e[4], atol=ATOL)]
        assert len(matches) == 1, f"row {row} matches {len(matches)} source texts"
        r, k, plen, rlen, _ = matches[0]
        meta = test.meta.iloc[row]
        assert meta["row"] == row and meta["item"] == r and meta["id"] == records[r].id
        assert meta["subset"] == records[r].subset
        assert (meta["prompt_tokens"], meta["response_tokens"]) == (plen, rlen)
        assert labels[row] == records[r].chosen[k]
        np.testing.assert_allclose(
            test.prompt[row], prompt_only(llama.model, llama.tok, records[r].messages), atol=ATOL
        )
        seen.append((r, k))
    assert (
        sorted(seen) == source_order and seen != source_order
    )  # every text once, not in source order
    assert labels.sum() == len(records)


def test_pairs_line_up_with_decontaminated_records(reference, llama, fixture_data):
    test = load_records("rewardbench", [fixture_data["rewardbench"]])
    kept, dropped = decontaminate(
        load_records("hh-rlhf", [fixture_data["hh-rlhf"]]),
        {normalise_prompt(r.prompt_text) for r in test},
    )
    hh = reference.set.split("train/hh")
    assert dropped == 1 and hh.meta["id"].tolist() == [r.id for r in kept]
    for i, rec in enumerate(kept):
        for arr, response in ((hh.chosen, rec.responses[0]), (hh.rejected, rec.responses[1])):
            ids, plen = tokenize_pair(llama.tok, rec.messages, response)
            np.testing.assert_allclose(
                arr[i], embed_one(llama.model, llama.tok, ids, plen - 1)[0], atol=ATOL
            )
        np.testing.assert_allclose(
            hh.prompt[i], prompt_only(llama.model, llama.tok, rec.messages), atol=ATOL
        )
        assert hh.meta["rejected_tokens"].iloc[i] == len(ids) - plen


# -- numerics -------------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["llama", "bert"])
def test_padding_invariance_of_embed_texts(which, tiny_llama, tiny_bert):
    tok, model, info = load_model(
        BuildConfig("x", "1", str(tiny_llama if which == "llama" else tiny_bert))
    )
    short = tokenize_pair(tok, [{"role": "user", "content": "Say hello."}], "Hello.")
    longer = [
        tokenize_pair(tok, [{"role": "user", "content": row["prompt"]}], row["rejected"])
        for row in fd.RB1_ROWS
    ]
    batch = [*longer, short]
    assert max(len(ids) for ids, _ in longer) > len(short[0]) + 10  # real padding in the batch
    full, prompt = embed_texts(
        model,
        tok,
        [ids for ids, _ in batch],
        [p - 1 for _, p in batch],
        layer=-1,
        causal=info["causal"],
        device="cpu",
    )
    alone_full, alone_prompt = embed_one(model, tok, short[0], short[1] - 1, causal=info["causal"])
    np.testing.assert_allclose(full[-1], alone_full, atol=ATOL)
    np.testing.assert_allclose(prompt[-1], alone_prompt, atol=ATOL)
    assert full.dtype == np.float32 and full.shape == (len(batch), 32)
    # a chosen intermediate layer pools that layer, not the final one
    mid, _ = embed_texts(
        model, tok, [short[0]], [short[1] - 1], layer=1, causal=info["causal"], device="cpu"
    )
    assert not np.allclose(mid[0], alone_full, atol=1e-3)


def test_causal_prompt_embedding_equals_a_prompt_only_forward(llama):
    messages = [
        {"role": "user", "content": "I want to plant a tree."},
        {"role": "assistant", "content": "What kind?"},
        {"role": "user", "content": "An apple tree."},
    ]
    ids, plen = tokenize_pair(
        llama.tok, messages, "Plant it in spring in a sunny spot and water it well."
    )
    prompt_ids = llama.tok(render(llama.tok, messages, None), add_special_tokens=False)["input_ids"]
    assert ids[:plen] == prompt_ids  # the prompt is an exact token prefix of prompt + response
    assert llama.tok.convert_ids_to_tokens(ids[plen - 1]) == "<|assistant|>"
    _, prompt = embed_one(llama.model, llama.tok, ids, plen - 1)
    with torch.inference_mode():
        separate = (
            llama.model(input_ids=torch.tensor([prompt_ids])).last_hidden_state[0, -1].numpy()
        )
    np.testing.assert_allclose(prompt, separate, atol=ATOL)


def test_batch_size_does_not_change_the_set(reference, tmp_path):
    # batch_tokens=1: every text alone in its batch; the reference batches up to 64 padded tokens
    path = build(
        make_config(Path(reference.config.model), batch_tokens=1),
        reference.specs,
        tmp_path,
        progress=False,
    )
    emb = EmbeddingSet.open(path)
    ref = arrays(reference.set)
    for key, arr in arrays(emb).items():
        np.testing.assert_allclose(arr, ref[key], atol=ATOL, err_msg=key)
    for name in emb.splits:
        assert emb.split(name).meta.equals(reference.set.split(name).meta)


def test_make_batches_and_truncate():
    batches = make_batches(np.array([50, 40, 30, 10, 10, 5]), batch_tokens=100, max_batch=3)
    assert [b.tolist() for b in batches] == [[0, 1], [2, 3, 4], [5]]
    assert [b.tolist() for b in make_batches(np.array([500, 3]), 100, 8)] == [
        [0],
        [1],
    ]  # longer than budget
    assert truncate(list(range(10)), 4, 6) == ([4, 5, 6, 7, 8, 9], 0, False)
    assert truncate(list(range(10)), 6, 6) == ([4, 5, 6, 7, 8, 9], 1, True)
    assert truncate(list(range(5)), 3, 6) == ([0, 1, 2, 3, 4], 2, True)


# -- sharding and resuming ------------------------------------------------------------------------
def test_sharded_build_and_merge_equals_the_unsharded_build(reference, tmp_path):
    config = make_config(Path(reference.config.model))
    assert build(config, reference.specs, tmp_path, shard=(0, 2), progress=False) is None
    assert not (tmp_path / "t-1").exists()
    tok, model, info = load_model(config)
    plan = plan_build(config, reference.specs, tok, info)
    builder = Builder(plan, tmp_path / "t-1.partial", model, tok)
    with pytest.raises(EmbedError, match="texts not embedded yet; run the other shards"):
        builder.merge(tmp_path)
    assert build(config, reference.specs, tmp_path, shard=(1, 2), progress=False) is None
    chunks = sorted(p.name for p in (tmp_path / "t-1.partial").glob("*.npz"))
    assert chunks[0].startswith("shard000of002") and chunks[-1].startswith("shard001of002")
    path = builder.merge(tmp_path)
    merged = EmbeddingSet.open(path)
    ref = arrays(reference.set)
    got = arrays(merged)
    assert got.keys() == ref.keys()
    for key in ref:
        np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
    assert file_hashes(merged) == file_hashes(reference.set)
    # chunks of runs with different shard counts in one folder: refused with a clear message
    shutil.copy(next(reference.work.glob("shard000of001-*.npz")), tmp_path / "t-1.partial")
    with pytest.raises(EmbedError, match="different --shard counts"):
        builder.merge(tmp_path / "again")


def test_resume_recomputes_only_the_missing_chunk(reference, tmp_path):
    work = tmp_path / "t-1.partial"
    shutil.copytree(reference.work, work)
    chunks = sorted(work.glob("shard*.npz"))
    assert len(chunks) == 6  # 22 texts, 4 per chunk
    victim = chunks[2]
    before = {p: p.stat().st_mtime_ns for p in chunks if p != victim}
    with np.load(victim) as z:
        old = {k: z[k] for k in z.files}
    victim.unlink()
    config = make_config(Path(reference.config.model))
    path = build(config, reference.specs, tmp_path, progress=False, keep_work=True, cache=False)
    assert {p: p.stat().st_mtime_ns for p in before} == before  # untouched
    with np.load(victim) as z:
        for key, value in old.items():
            np.testing.assert_array_equal(z[key], value)
    emb = EmbeddingSet.open(path)
    tok, model, info = load_model(config)
    plan = plan_build(config, reference.specs, tok, info)
    redone = dict(Builder(plan, work).chunks(0, 1))[victim]
    assert emb.manifest["build"]["last_run"]["tokens"] == sum(len(plan.ids[i]) for i in redone)
    assert file_hashes(emb) == file_hashes(reference.set)


def test_merge_reads_only_the_work_folder_and_checks_it(reference, llama, tmp_path):
    work = tmp_path / "t-1.partial"
    shutil.copytree(reference.work, work)
    assert sorted(p.name for p in work.glob("*.json")) == ["plan.json", "shard000of001.json"]
    stored, fresh = Plan.read(work), plan_build(reference.config, reference.specs, llama.tok, llama.info, False)
    assert stored.ids is None and stored.fingerprint == fresh.fingerprint
    assert (stored.config, stored.model_info, stored.splits) == (fresh.config, fresh.model_info, fresh.splits)
    for attr in ("text_split", "text_record", "text_response", "prompt_len", "lengths"):
        np.testing.assert_array_equal(getattr(stored, attr), getattr(fresh, attr), err_msg=attr)
    with pytest.raises(EmbedError, match=r"built with max_length=1024, not 16; merge with the options of the build"):
        merge_work(work, tmp_path, expect={"max_length": 16})
    with pytest.raises(EmbedError, match="built with splits rewardbench, train/hh, train/uf, not rewardbench$"):
        merge_work(work, tmp_path, expect={"splits": ["rewardbench"]})
    chunk = sorted(work.glob("*-chunk*.npz"))[1]
    with np.load(chunk) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["full"][0, 0] += 1.0
    np.savez(chunk, **arrays)
    with pytest.raises(EmbedError, match=f"^{chunk}: SHA-256 differs from its shard's manifest"):
        merge_work(work, tmp_path)
    (work / "plan.json").unlink()
    with pytest.raises(EmbedError, match="no plan.json; not the work folder of a build"):
        merge_work(work, tmp_path)
    shutil.rmtree(work)
    shutil.copytree(reference.work, work)
    path = merge_work(work, tmp_path, expect={"max_length": 1024, "device": "cuda", "model": reference.config.model})
    assert file_hashes(EmbeddingSet.open(path)) == file_hashes(reference.set)
    assert EmbeddingSet.open(path).manifest["build"]["shards"][0]["shard"] == "0/1"


def test_work_folder_of_another_build_is_refused(reference, tmp_path):
    shutil.copytree(reference.work, tmp_path / "t-1.partial")
    config = make_config(Path(reference.config.model), max_length=16)
    with pytest.raises(EmbedError, match="holds chunks of a different build"):
        build(config, reference.specs, tmp_path, progress=False)
    with pytest.raises(EmbedError, match="set already exists"):
        build(reference.config, reference.specs, reference.root, progress=False)


# -- truncation -----------------------------------------------------------------------------------
def test_truncation_keeps_the_end_and_is_counted(tmp_path, llama, tiny_llama):
    long_prompt = " ".join(["Why is the sky blue?"] * 8)
    long_answer = " ".join(["Boil water and pour it over the leaves."] * 6)
    rows = [
        {
            **fd.RB1_ROWS[0],
            "id": 1,
            "prompt": long_prompt,
            "chosen": "Because of the air.",
            "rejected": "Because it reflects the sea.",
        },
        {
            **fd.RB1_ROWS[0],
            "id": 2,
            "prompt": "How do I make tea?",
            "chosen": long_answer,
            "rejected": "Tea is a drink.",
        },
        {**fd.RB1_ROWS[0], "id": 3},
    ]
    data = fd.write_rows(tmp_path / "rb.jsonl", rows)
    config = make_config(tiny_llama, max_length=32)
    path = build(
        config,
        [SplitSpec("rewardbench", "rewardbench", [str(data)])],
        tmp_path / "out",
        progress=False,
    )
    emb = EmbeddingSet.open(path)
    assert (
        emb.manifest["truncation"]["texts"] == 3
    )  # both texts of item 1, the long answer of item 2
    assert emb.manifest["truncation"]["prompt_lost"] == 1  # the long answer alone fills the window
    assert emb.manifest["truncation"]["max_length"] == 32
    assert emb.manifest["splits"]["rewardbench"]["truncated"] == 3
    test = emb.split("rewardbench")
    meta = test.meta
    assert (
        meta.loc[meta["id"] == "1", "truncated"].all()
        and not meta.loc[meta["id"] == "3", "truncated"].any()
    )
    # a long-prompt text: the last 32 tokens are embedded, the prompt end is still inside them
    row = int(meta.index[meta["id"] == "1"][0])
    record = load_records("rewardbench", [data])[0]
    for response in record.responses:
        ids, plen = tokenize_pair(llama.tok, record.messages, response)
        kept, pos, intact = truncate(ids, plen, 32)
        assert (
            intact
            and len(ids) > 32
            and llama.tok.convert_ids_to_tokens(kept[pos]) == "<|assistant|>"
        )
        full, prompt = embed_one(llama.model, llama.tok, kept, pos)
        if np.allclose(test.response[row], full, atol=ATOL):
            np.testing.assert_allclose(test.prompt[row], prompt, atol=ATOL)
            break
    else:
        pytest.fail("the truncated text's embedding is not that of its last 32 tokens")


# -- an encoder -----------------------------------------------------------------------------------
def test_encoder_model_builds_with_a_separate_prompt_pass(tiny_bert, fixture_data, tmp_path):
    specs = [
        SplitSpec("rewardbench", "rewardbench", [str(fixture_data["rewardbench"])]),
        SplitSpec("train/hh", "hh-rlhf", [str(fixture_data["hh-rlhf"])]),
    ]
    path = build(make_config(tiny_bert, pooling="last_token"), specs, tmp_path, progress=False)
    emb = EmbeddingSet.open(path)
    assert (
        emb.manifest["model"]["causal"] is False
        and emb.manifest["model"]["chat_template"] == "fallback"
    )
    assert emb.manifest["model"]["model_type"] == "bert" and emb.dim == 32
    tok, model, _ = load_model(make_config(tiny_bert))
    hh = emb.split("train/hh")
    kept = [r for r in load_records("hh-rlhf", [fixture_data["hh-rlhf"]]) if r.id != "hh-2"]
    for i, rec in enumerate(kept):
        ids, plen = tokenize_pair(tok, rec.messages, rec.responses[0])
        assert tok.convert_ids_to_tokens([ids[0], ids[-1]]) == ["[CLS]", "[SEP]"]
        with torch.inference_mode():
            alone = model(input_ids=torch.tensor([ids[:plen]])).last_hidden_state[0, -1].numpy()
            in_full = model(input_ids=torch.tensor([ids])).last_hidden_state[0, plen - 1].numpy()
            full = model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1].numpy()
        np.testing.assert_allclose(hh.prompt[i], alone, atol=ATOL)
        np.testing.assert_allclose(hh.chosen[i], full, atol=ATOL)
        assert not np.allclose(
            in_full, alone, atol=1e-3
        )  # bidirectional: the response changes the prompt's states


def test_model_that_does_not_load_is_one_line(tmp_path, fixture_data):
    (tmp_path / "empty").mkdir()
    specs = [SplitSpec("rewardbench", "rewardbench", [str(fixture_data["rewardbench"])])]
    for model in (tmp_path / "missing", tmp_path / "empty", "package:no_such_package_xyz"):
        with pytest.raises(EmbedError, match="cannot load|not installed") as err:
            build(BuildConfig("t", "1", str(model)), specs, tmp_path / "out", progress=False)
        assert "\n" not in str(err.value) and str(model) in str(err.value)
    assert not (tmp_path / "out" / "t-1").exists()


# -- the command line ------------------------------------------------------------------------------
def test_cli_embed_then_verify_and_a_corrupted_file(
    tmp_path, tiny_llama, fixture_data, capsys, monkeypatch
):
    monkeypatch.setenv("REWARDHEADS_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "cache" / "sets"
    argv = [
        "embed",
        "--model",
        str(tiny_llama),
        "--name",
        "cli",
        "--version",
        "3",
        "--store-dtype",
        "float32",
        "--split",
        f"rewardbench=rewardbench:{fixture_data['rewardbench']}",
        "--split",
        f"train/hh=hh-rlhf:{fixture_data['hh-rlhf']}@2",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip() == f"wrote {out / 'cli-3'}"
    emb = EmbeddingSet.open(out / "cli-3")
    assert len(emb.split("train/hh")) == 2 and emb.manifest["splits"]["train/hh"]["limit"] == 2
    assert emb.manifest["build"]["store_dtype"] == "float32"
    assert main(["verify", "cli@3", "--no-progress"]) == 0  # NAME@VERSION found in the cache
    assert "cli@3: 8 files OK" in capsys.readouterr().out
    target = out / "cli-3" / "rewardbench" / "response.npy"
    data = bytearray(target.read_bytes())
    data[-1] ^= 0x01
    target.write_bytes(bytes(data))
    assert main(["verify", str(out / "cli-3"), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and str(target) in captured.err
    assert captured.err.startswith("rewardheads verify: error:")
    assert main(argv) == 2  # the set exists now: refused, not overwritten
    assert "already exists" in capsys.readouterr().err
    assert main(["embed", "--split", "x=rewardbench"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "rewardheads embed: error: embed: --name is required (or set it in the recipe)"
    )


def test_cli_sharded_embed_with_a_recipe_then_merge(tmp_path, reference, fixture_data, capsys):
    data_dir = Path(fixture_data["rewardbench"]).parent.parent
    recipe = tmp_path / "r.toml"
    fd.write_recipe(recipe, reference.config.model)
    common = ["--recipe", str(recipe), "--data-dir", str(data_dir), "--out", str(tmp_path / "sets")]
    for k in (0, 1):
        assert main(["embed", *common, "--shard", f"{k}/2", "--no-progress"]) == 0
        assert f"shard {k}/2 done" in capsys.readouterr().out
    assert main(["merge", *common]) == 0
    merged = EmbeddingSet.open(tmp_path / "sets" / "t-1")
    assert file_hashes(merged) == file_hashes(reference.set)


def test_parse_shard(monkeypatch):
    for var in (
        "REWARDHEADS_SHARD",
        "WORLD_SIZE",
        "RANK",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_STEP",
    ):
        monkeypatch.delenv(var, raising=False)
    assert (
        parse_shard(None) == (0, 1)
        and parse_shard("2/5") == (2, 5)
        and parse_shard("0/1") == (0, 1)
    )
    assert parse_shard("auto") == (0, 1)  # not under a launcher
    for bad in ("5/5", "-1/2", "1/0", "x", "1/2/3", "1"):
        with pytest.raises(ShardError, match="--shard"):
            parse_shard(bad)
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "10")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "12")
    assert parse_shard("auto") == (2, 4)  # --array=10-13
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "0")
    monkeypatch.setenv("SLURM_ARRAY_TASK_STEP", "2")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "6")
    assert parse_shard("auto") == (3, 4)  # --array=0-6:2 is tasks 0, 2, 4, 6
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("RANK", "5")
    assert parse_shard("auto") == (5, 8)  # torchrun wins over Slurm
    monkeypatch.setenv("RANK", "8")
    with pytest.raises(ShardError, match="auto"):
        parse_shard("auto")
    monkeypatch.setenv("REWARDHEADS_SHARD", "1/3")  # e.g. from a CI matrix: wins over the launchers
    assert parse_shard("auto") == (1, 3)
    monkeypatch.setenv("REWARDHEADS_SHARD", "3/3")
    with pytest.raises(ShardError, match=r"^--shard auto \(REWARDHEADS_SHARD=3/3\): need 0 <= k < n$"):
        parse_shard("auto")


def test_split_spec_parse():
    spec = SplitSpec.parse("train/hh=hh-rlhf:a.jsonl.gz,b.jsonl@1000")
    assert (spec.split, spec.dataset, spec.data_files, spec.limit) == (
        "train/hh",
        "hh-rlhf",
        ["a.jsonl.gz", "b.jsonl"],
        1000,
    )
    spec = SplitSpec.parse("rewardbench=rewardbench")
    assert (spec.split, spec.dataset, spec.data_files, spec.limit) == (
        "rewardbench",
        "rewardbench",
        [],
        None,
    )
    with pytest.raises(EmbedError, match="SPLIT=DATASET"):
        SplitSpec.parse("rewardbench")


def test_split_spec_pins_a_hub_revision():
    spec = SplitSpec.parse("rewardbench=rewardbench#0a1b2c3@10")
    assert (spec.dataset, spec.revision, spec.limit, spec.data_files) == ("rewardbench", "0a1b2c3", 10, [])
    from harness.data import get_loader

    assert get_loader("rewardbench").source_info(None, spec.revision)["revision"] == "0a1b2c3"
    assert get_loader("rewardbench").source_info(None)["revision"] == "main"


# -- pooling ---------------------------------------------------------------------------------------
def test_mean_and_cls_pooling_of_an_encoder(tiny_bert, fixture_data, tmp_path):
    specs = [SplitSpec("train/hh", "hh-rlhf", [str(fixture_data["hh-rlhf"])])]
    tok, model, info = load_model(make_config(tiny_bert))
    assert info["pooling"] == "mean"  # an encoder without a pooling config: the mean
    kept = load_records("hh-rlhf", [fixture_data["hh-rlhf"]])  # no test split: nothing decontaminated
    for pooling in ("mean", "cls"):
        emb = EmbeddingSet.open(build(make_config(tiny_bert, pooling=pooling, version=pooling), specs, tmp_path,
                                      progress=False, cache=False))
        assert emb.manifest["model"]["pooling"] == pooling
        hh = emb.split("train/hh")
        for i, rec in enumerate(kept):
            ids, plen = tokenize_pair(tok, rec.messages, rec.responses[0])
            with torch.inference_mode():
                states = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
                prompt_states = model(input_ids=torch.tensor([ids[:plen]])).last_hidden_state[0]
            want = states.mean(0) if pooling == "mean" else states[0]
            want_prompt = prompt_states.mean(0) if pooling == "mean" else prompt_states[0]
            np.testing.assert_allclose(hh.chosen[i], want.numpy(), atol=ATOL)
            np.testing.assert_allclose(hh.prompt[i], want_prompt.numpy(), atol=ATOL)


def test_sentence_transformers_pooling_config_is_the_default(tiny_bert, tmp_path):
    folder = tmp_path / "st"
    shutil.copytree(tiny_bert, folder)
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    assert load_model(make_config(folder))[2]["pooling"] == "cls"
    with pytest.raises(EmbedError, match="pooling 'max' is not one of last_token, mean, cls"):
        make_config(folder, pooling="max")


def test_cls_pooling_of_a_causal_model_is_refused(tiny_llama):
    with pytest.raises(EmbedError, match="cls pooling needs an encoder"):
        load_model(make_config(tiny_llama, pooling="cls"))


def test_truncation_keeps_an_encoders_first_token():
    ids = [101, *range(1, 11), 102]
    kept, end, intact = truncate(ids, 4, 6, keep_first=True)
    assert kept == [101, *ids[-5:]]
    assert (end, intact) == (0, False)  # the prompt (first 4 tokens) is gone but [CLS]
    assert truncate(ids, 9, 6, keep_first=True)[1:] == (2, True)


# -- the embedding cache -----------------------------------------------------------------------------
def test_cache_embeds_only_new_texts_and_serves_the_same_numbers(tiny_llama, fixture_data, tmp_path):
    cache = tmp_path / "cache"
    small = [SplitSpec("train/hh", "hh-rlhf", [str(fixture_data["hh-rlhf"])], limit=2)]
    more = [SplitSpec("train/hh", "hh-rlhf", [str(fixture_data["hh-rlhf"])]),
            SplitSpec("rewardbench", "rewardbench", [str(fixture_data["rewardbench"])])]
    first = EmbeddingSet.open(build(make_config(tiny_llama), small, tmp_path / "a", progress=False, cache=cache))
    second = EmbeddingSet.open(build(make_config(tiny_llama, version="2", max_length=4096), more, tmp_path / "b",
                                     progress=False, cache=cache))
    fresh = EmbeddingSet.open(build(make_config(tiny_llama, version="3"), more, tmp_path / "c", progress=False,
                                    cache=False))
    stats = second.manifest["build"]["last_run"]
    assert stats["cached_texts"] == 4  # the two pairs of the first build, untruncated under both limits
    tok, _, info = load_model(make_config(tiny_llama))
    plan = plan_build(make_config(tiny_llama, max_length=4096), more, tok, info, False)
    assert stats["tokens"] == int(plan.lengths.sum()) - sum(
        len(plan.ids[i]) for i in range(len(plan.ids)) if plan.text_split[i] == 0 and plan.text_record[i] < 2)
    np.testing.assert_array_equal(second.split("train/hh").chosen[:2], first.split("train/hh").chosen)
    for name in ("train/hh", "rewardbench"):
        a, b = second.split(name), fresh.split(name)
        for attr in ("chosen", "rejected", "prompt") if name.startswith("train") else ("response", "prompt"):
            np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), atol=ATOL)


def test_a_built_set_seeds_the_cache_so_a_rebuild_embeds_nothing(tiny_llama, fixture_data, tmp_path):
    """`rewardheads cache-set`: the vectors of a set built without the cache go into it, row by
    row in the set's stored order (pairs as chosen/rejected, test rows shuffled); a new version
    of the same recipe then takes every text from the cache and stores the same numbers."""
    from harness.embed import add_set_to_cache

    specs, cache = make_specs(fixture_data), tmp_path / "cache"
    old = build(make_config(tiny_llama), specs, tmp_path / "old", progress=False, cache=False)
    assert add_set_to_cache(make_config(tiny_llama), specs, old, cache=cache, progress=False) > 0
    new = build(make_config(tiny_llama, version="2"), specs, tmp_path / "new", progress=False, cache=cache)
    manifest = EmbeddingSet.open(new).manifest
    texts = sum(v["rows"] * (2 if v["kind"] == "pairs" else 1) for v in manifest["splits"].values())
    assert manifest["build"]["last_run"]["tokens"] == 0
    assert manifest["build"]["last_run"]["cached_texts"] == texts
    a, b = arrays(EmbeddingSet.open(old)), arrays(EmbeddingSet.open(new))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # a recipe that plans other rows is refused, naming the split
    with pytest.raises(EmbedError, match="does not hold the rows this recipe plans"):
        add_set_to_cache(make_config(tiny_llama), [replace_limit(specs[1], 1), specs[0], specs[2]], old, cache=cache,
                         progress=False)


def replace_limit(spec: SplitSpec, limit: int) -> SplitSpec:
    from dataclasses import replace

    return replace(spec, limit=limit)


def test_cache_is_keyed_by_model_and_settings(tiny_llama, tiny_bert, fixture_data, tmp_path):
    from harness.embed import cache_settings
    from harness.embedcache import settings_digest

    config = make_config(tiny_llama)
    a = cache_settings(config, load_model(config)[2])
    b = cache_settings(make_config(tiny_llama, dtype="bfloat16"), load_model(config)[2])
    c = cache_settings(make_config(tiny_bert), load_model(make_config(tiny_bert))[2])
    assert len({settings_digest(x) for x in (a, b, c)}) == 3
    assert a["revision"].startswith("sha256:")  # a local folder is identified by its weights


# -- held-out in-distribution splits ------------------------------------------------------------
def test_holdout_splits_are_test_splits_on_unseen_prompts(tiny_llama, fixture_data, tmp_path):
    import gzip
    import json as _json

    from harness.publish import render_card

    rows = [_json.loads(line) for line in gzip.open(fixture_data["hh-rlhf"], "rt")]
    broken = dict(rows[0], rejected=rows[0]["rejected"] + "\n\nHuman: and then?")  # ends with a Human turn
    hh = tmp_path / "hh_test.jsonl"
    hh.write_text("".join(_json.dumps(r) + "\n" for r in [*rows, *rows, broken]))  # every prompt twice
    uf_rows = [_json.loads(line) for line in open(fixture_data["ultrafeedback-flat"])]
    uf = tmp_path / "uf_sample.jsonl"  # a sample of the hub split: rows carry their source_index
    sampled = [{**r, "source_index": i} for r, i in zip(uf_rows, (4, 5, 9), strict=True)]
    uf.write_text("".join(_json.dumps(r) + "\n" for r in sampled))
    specs = [SplitSpec("train/hh", "hh-rlhf", [str(hh)], holdout=0.3, source_split="test"),
             SplitSpec("heldout/uf", "ultrafeedback", [str(uf)], suite="in-distribution",
                       subset="ultrafeedback-eval")]
    emb = EmbeddingSet.open(build(make_config(tiny_llama), specs, tmp_path, progress=False, cache=False))
    info = emb.manifest["splits"]
    held = info["heldout/hh"]
    assert held["kind"] == "test" and held["suite"] == "in-distribution" and held["held_out_of"] == "train/hh"
    assert held["items"] == round(0.3 * (2 * len(rows)))
    assert info["train/hh"]["malformed_skipped"] == 1 and info["train/hh"]["source"]["split"] == "test"
    assert info["heldout/uf"]["suite"] == "in-distribution"
    assert set(emb.split("heldout/uf").meta["subset"]) == {"ultrafeedback-eval"}
    assert set(emb.split("heldout/hh").meta["subset"]) == {"hh"}
    # no training pair shares a prompt with a held-out pair (each prompt was there twice)
    held_ids = set(emb.split("heldout/hh").meta["id"])
    train_ids = set(emb.split("train/hh").meta["id"])
    prompt_of = {f"hh-{i}": parse_prompt(r) for i, r in enumerate([*rows, *rows])}
    assert not {prompt_of[i] for i in held_ids} & {prompt_of[i] for i in train_ids}
    assert info["train/hh"]["overlaps_heldout"] > 0
    assert len(held_ids) + len(train_ids) + info["train/hh"]["overlaps_heldout"] == 2 * len(rows)
    # the same rows on every build: the draw is seeded by the split's name
    again = EmbeddingSet.open(build(make_config(tiny_llama, version="2"), specs, tmp_path, progress=False))
    assert list(again.split("heldout/hh").meta["id"]) == list(emb.split("heldout/hh").meta["id"])
    card = render_card(emb)
    assert "## In-distribution test splits" in card and "drawn from `train/hh`" in card
    assert "test (local copy)" in card and "1 source rows could not be read" in card
    assert "* `heldout/uf` (3 rows): 4-5, 9" in card  # rows identified by source_index


def parse_prompt(row: dict) -> str:
    return row["chosen"].rsplit("\n\nAssistant:", 1)[0]


def test_holdout_fraction_is_checked():
    with pytest.raises(EmbedError, match=r"holdout must be in \[0, 1\)"):
        SplitSpec("train/x", "hh-rlhf", holdout=1.0)
