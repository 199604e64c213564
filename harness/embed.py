"""The embedding builder: texts → hidden states of a frozen ``transformers`` model → a set.

One build is planned once (records loaded, decontaminated, rendered with the chat template,
tokenized), then embedded in chunks that are written atomically to a work folder, so an
interrupted build resumes where it stopped and ``--shard k/n`` lets n processes (GPUs, nodes,
a Slurm array) share the work. ``merge`` assembles the chunks into an :class:`EmbeddingSet`.

The work folder ``<out>/<name>-<version>.partial/`` holds, besides the chunks:

* ``plan.json``: the plan without its token ids (options, model, per-split records, and per text
  its split, record, response, prompt length and token count), written by whichever process
  comes first; every other process checks its fingerprint against its own plan;
* ``shardKKKofNNN.json``: written by shard k when its last chunk is done, with the SHA-256 of
  each of its chunks and the timings of its last run.

That is all :func:`merge_work` reads: merging needs neither the model nor the data files, nor
``torch`` (a login node can do it). Processes share nothing but the folder: no process group.

Pooling: the hidden state at the last non-pad token of the chosen layer (right padding, so
a text's embedding does not depend on what it is batched with). With a causal model, the
prompt-only embedding is the hidden state at the prompt's last token in the same forward
pass (causal attention makes it equal to a prompt-only run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data import decontaminate, get_loader, load_records, normalise_prompt
from harness.embedcache import EmbeddingCache, text_key
from harness.embedset import RATING_PREFIX, SetWriter
from harness.errors import HarnessError
from harness.fileio import atomic_write, atomic_write_bytes, atomic_write_json, sha256_bytes, sha256_file
from harness.shards import parse_shard

__all__ = ["BuildConfig", "Builder", "EmbedError", "Plan", "SplitSpec", "build", "merge_work", "parse_shard"]

PLAN_FILE = "plan.json"
PLAN_FORMAT = 2
CHUNK_RE = re.compile(r"shard(\d+)of(\d+)-chunk(\d+)\.npz")
KILL_AFTER_ENV = "REWARDHEADS_EMBED_KILL_AFTER"
"""Test hook: ``N`` (or ``N@K``: only in shard K) makes the builder SIGKILL itself right after
its N-th finished chunk of this run, the way a preempted job dies."""

POOLINGS = ("last_token", "mean", "cls")

FALLBACK_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] | capitalize }}: {{ m['content'] }}\n\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant: {% endif %}"
)
"""Used when a tokenizer has no chat template: ``Role: content`` blocks separated by blank lines."""


class EmbedError(HarnessError):
    """A build that cannot proceed (model does not load, work folder from another build...)."""


@dataclass
class SplitSpec:
    """One split of the set to build: its name, the dataset loader and optional local files."""

    split: str
    dataset: str
    data_files: list[str] = field(default_factory=list)
    limit: int | None = None
    revision: str | None = None  # hub revision (commit, tag or branch) to pin; default: the loader's
    holdout: float = 0.0  # fraction of a training split's pairs kept back as an in-distribution test
    holdout_split: str | None = None  # name of that test split (default heldout/<name>)
    suite: str | None = None  # read this split as a test split of that suite (e.g. in-distribution)
    subset: str | None = None  # the subset name its rows get (default: the loader's)
    source_dataset: str | None = None  # the hub dataset local files copy, if not the loader's
    source_split: str | None = None  # the split of it they copy, if not the loader's

    def __post_init__(self) -> None:
        if not 0.0 <= self.holdout < 1.0:
            raise EmbedError(f"split {self.split}: holdout must be in [0, 1), not {self.holdout}")

    @classmethod
    def parse(cls, text: str) -> SplitSpec:
        """``SPLIT=DATASET[#REVISION][:FILE[,FILE...]][@LIMIT]``, e.g. ``train/hh=hh-rlhf:a.jsonl.gz@1000``."""
        if "=" not in text:
            raise EmbedError(f"split spec '{text}' is not SPLIT=DATASET[#REVISION][:FILES][@LIMIT]")
        split, rest = text.split("=", 1)
        limit = None
        if "@" in rest:
            rest, lim = rest.rsplit("@", 1)
            limit = int(lim)
        dataset, _, files = rest.partition(":")
        dataset, _, revision = dataset.partition("#")
        return cls(split, dataset, [f for f in files.split(",") if f], limit, revision or None)


@dataclass
class BuildConfig:
    """Everything that determines the numbers in a set (recorded in its manifest)."""

    name: str
    version: str
    model: str
    gguf_file: str | None = None
    revision: str | None = None
    layer: int = -1
    dtype: str = "float32"
    device: str = "cpu"
    max_length: int = 1024
    batch_tokens: int | None = None  # padded tokens per batch; default 2048 on CPU, 16384 on GPU
    max_batch: int = 64
    store_dtype: str = "float16"
    shuffle_seed: int = 0
    chunk_texts: int = 256
    causal: bool | None = None
    model_label: str | None = None
    pooling: str | None = None  # last_token, mean or cls; default: the model's own, else by kind

    def __post_init__(self) -> None:
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise EmbedError(f"pooling '{self.pooling}' is not one of {', '.join(POOLINGS)}")
        if self.batch_tokens is None:
            # measured on 2 CPU cores: small batches waste less on padding and run as fast per token
            self.batch_tokens = 2048 if self.device == "cpu" else 16384


# ----------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------
def resolve_model(spec: str, gguf_file: str | None) -> tuple[str, str | None]:
    """``package:NAME`` finds a GGUF file shipped inside an installed Python package."""
    if spec.startswith("package:"):
        import importlib.util

        found = importlib.util.find_spec(spec.removeprefix("package:"))
        if found is None or not found.submodule_search_locations:
            raise EmbedError(f"model {spec}: package not installed (pip install --no-deps {spec[8:]})")
        folder = Path(found.submodule_search_locations[0])
        ggufs = sorted(folder.glob("*.gguf"))
        if ggufs:
            return str(folder), gguf_file or ggufs[0].name
        zips = sorted(folder.glob("*.zip"))
        if zips:
            return str(extract_model_zip(zips[0])), None
        raise EmbedError(f"model {spec}: no .gguf file or model .zip in {folder}")
    return spec, gguf_file


def extract_model_zip(archive: Path) -> Path:
    """Unpack a model folder shipped as a zip (once, content-addressed) into the cache."""
    import zipfile

    from harness.paths import cache_dir

    target = cache_dir() / "models" / f"{archive.stem}-{sha256_file(archive)[:16]}"
    if (target / "config.json").is_file():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():  # refuse members that would land outside the folder
                if member.startswith("/") or ".." in Path(member).parts:
                    raise EmbedError(f"{archive}: unsafe member {member!r}")
            zf.extractall(tmp)
    except zipfile.BadZipFile as err:
        raise EmbedError(f"{archive}: not a zip file ({err})") from None
    inner = [p.parent for p in tmp.rglob("config.json") if (p.parent / "tokenizer_config.json").exists()]
    if not inner:
        shutil.rmtree(tmp, ignore_errors=True)
        raise EmbedError(f"{archive}: no transformers model folder (config.json + tokenizer) inside")
    target.parent.mkdir(parents=True, exist_ok=True)
    if inner[0] != tmp:
        inner[0].rename(tmp.with_name(tmp.name + ".model"))
        shutil.rmtree(tmp)
        tmp = tmp.with_name(tmp.name + ".model")
    try:
        tmp.rename(target)
    except OSError:  # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _weights_digest(path: str) -> str:
    """``sha256:...`` of a local model folder's weight files (``local`` if it has none)."""
    files = sorted(p for pattern in ("*.safetensors", "*.bin", "*.pt")
                   for p in Path(path).glob(pattern)) if Path(path).is_dir() else []
    if not files:
        return "local"
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + sha256_file(f).encode())
    return "sha256:" + digest.hexdigest()


def cache_settings(config: BuildConfig, model_info: Mapping[str, Any]) -> dict[str, Any]:
    """What, besides the token ids, decides a text's embedding (the cache's settings)."""
    keys = ("source", "gguf_file", "revision", "model_type", "causal", "chat_template_sha256", "pooling",
            "keeps_first_token")
    return {**{k: model_info.get(k) for k in keys}, "dtype": config.dtype, "layer": config.layer}


def default_pooling(path: str, causal: bool) -> str:
    """The model's own pooling (a sentence-transformers ``1_Pooling/config.json``) or, without
    one, the hidden state at the last token for a causal model and the mean for an encoder."""
    config = Path(path) / "1_Pooling" / "config.json"
    if config.is_file():
        try:
            modes = json.loads(config.read_text())
        except ValueError:
            modes = {}
        if modes.get("pooling_mode_cls_token"):
            return "cls"
        if modes.get("pooling_mode_mean_tokens"):
            return "mean"
        if modes.get("pooling_mode_lasttoken"):
            return "last_token"
    return "last_token" if causal else "mean"


def load_model(config: BuildConfig):
    """Load tokenizer and base model (no LM head); returns ``(tokenizer, model, info)``."""
    import torch
    import transformers

    path, gguf = resolve_model(config.model, config.gguf_file)
    kwargs: dict[str, Any] = {"revision": config.revision} if config.revision else {}
    if gguf:
        kwargs["gguf_file"] = gguf
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, **kwargs)
        model = transformers.AutoModel.from_pretrained(path, dtype=getattr(torch, config.dtype), **kwargs)
    except Exception as err:  # transformers raises OSError, ValueError, KeyError ...
        reason = " ".join(str(err).split())  # transformers' messages span lines; ours are one line
        raise EmbedError(f"model {config.model}: cannot load ({type(err).__name__}: {reason})") from None
    model.to(config.device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    model_type = model.config.model_type
    causal = config.causal
    if causal is None:
        from transformers.models.auto import modeling_auto as auto

        causal = model_type in auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and (
            model_type not in auto.MODEL_FOR_MASKED_LM_MAPPING_NAMES
        )
    if gguf:
        revision = "sha256:" + sha256_file(Path(path) / gguf)
    else:
        revision = config.revision or getattr(model.config, "_commit_hash", None) or _weights_digest(path)
    template = tokenizer.chat_template or FALLBACK_TEMPLATE
    pooling = config.pooling or default_pooling(path, bool(causal))
    if pooling == "cls" and causal:
        raise EmbedError(f"model {config.model}: cls pooling needs an encoder (the first token of a causal "
                         "model sees nothing else)")
    info = {
        "id": config.model_label or config.model,
        "source": config.model,
        "gguf_file": gguf,
        "revision": revision,
        "model_type": model_type,
        "causal": bool(causal),
        "num_layers": model.config.num_hidden_layers,
        "chat_template_sha256": sha256_bytes(template.encode()),
        "chat_template": "model" if tokenizer.chat_template else "fallback",
        "pooling": pooling,
        "keeps_first_token": tokenizer.chat_template is None and bool(tokenizer.cls_token_id is not None),
    }
    return tokenizer, model, info


def render(tokenizer, messages: list[dict[str, str]], response: str | None) -> str:
    """The chat-templated text of a conversation (+ the response as the assistant's turn)."""
    template = None if tokenizer.chat_template else FALLBACK_TEMPLATE
    if response is None:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, chat_template=template
        )
    full = [*messages, {"role": "assistant", "content": response}]
    return tokenizer.apply_chat_template(full, tokenize=False, chat_template=template)


def tokenize_pair(tokenizer, messages, response) -> tuple[list[int], int]:
    """Token ids of prompt + response and the length of the prompt part."""
    prompt_text = render(tokenizer, messages, None)
    full_text = render(tokenizer, messages, response)
    special = tokenizer.chat_template is None
    prompt_ids = tokenizer(prompt_text, add_special_tokens=special)["input_ids"]
    full_ids = tokenizer(full_text, add_special_tokens=special)["input_ids"]
    if special and full_ids and full_ids[-1] == tokenizer.sep_token_id and prompt_ids[-1] == full_ids[-1]:
        prompt_ids = prompt_ids[:-1]  # encoders append [SEP]; the prompt ends before it
    n = min(len(prompt_ids), len(full_ids) - 1)
    common = next((i for i in range(n) if prompt_ids[i] != full_ids[i]), n)
    return full_ids, max(common, 1)


# ----------------------------------------------------------------------------------------------
# Planning
# ----------------------------------------------------------------------------------------------
TEXT_COLUMNS = {"split": "text_split", "record": "text_record", "response": "text_response",
                "prompt_len": "prompt_len", "length": "lengths"}


@dataclass
class Plan:
    """The texts to embed, tokenized, with enough metadata to assemble every split.

    A plan read back from a work folder (:meth:`read`) has no token ids (``ids is None``):
    it can merge chunks, not embed them.
    """

    config: BuildConfig
    model_info: dict[str, Any]
    splits: list[dict[str, Any]]  # per split: name, kind, suite, source, records metadata
    text_split: np.ndarray  # per text: split index
    text_record: np.ndarray  # record index within the split
    text_response: np.ndarray  # response index within the record
    prompt_len: np.ndarray  # tokens of the prompt part
    lengths: np.ndarray  # tokens of prompt + response (untruncated)
    fingerprint: str  # identity of the work: see :func:`plan_fingerprint`
    ids: list[list[int]] | None = None  # full token ids (untruncated)

    def order(self) -> np.ndarray:
        """Texts sorted longest first (stable), the order in which batches are formed."""
        lengths = np.minimum(self.lengths, self.config.max_length)
        return np.argsort(-lengths, kind="stable")

    def to_json(self) -> dict[str, Any]:
        """What ``plan.json`` holds: everything but the token ids."""
        return {"format": PLAN_FORMAT, "fingerprint": self.fingerprint, "config": asdict(self.config),
                "model": self.model_info, "splits": self.splits,
                "texts": {key: getattr(self, attr).tolist() for key, attr in TEXT_COLUMNS.items()}}

    @classmethod
    def read(cls, work_dir: Path) -> Plan:
        """The plan a work folder's ``plan.json`` holds (without token ids)."""
        path = Path(work_dir) / PLAN_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise EmbedError(f"{work_dir}: no {PLAN_FILE}; not the work folder of a build (run `rewardheads "
                             "embed` first, with the same --out, --name and --version)") from None
        except (OSError, ValueError) as err:
            raise EmbedError(f"{path}: cannot read ({err})") from None
        if data.get("format") != PLAN_FORMAT:
            raise EmbedError(f"{path}: written by another harness version (format {data.get('format')}, "
                             f"this one reads {PLAN_FORMAT}); rerun the build")
        texts = {attr: np.asarray(data["texts"][key], np.int64) for key, attr in TEXT_COLUMNS.items()}
        return cls(BuildConfig(**data["config"]), data["model"], data["splits"], fingerprint=data["fingerprint"],
                   **texts)


def plan_fingerprint(config: BuildConfig, model_info: dict[str, Any], splits: list[dict[str, Any]],
                     ids: list[list[int]]) -> str:
    """Identity of the work: data, model and the options that change chunk contents.

    Where a shard runs (``device``) is left out, so shards on different GPUs share one folder.
    """
    options = {k: v for k, v in asdict(config).items() if k != "device"}
    digest = hashlib.sha256()
    digest.update(json.dumps([options, model_info, splits], sort_keys=True).encode())
    for seq in ids:
        digest.update(np.asarray(seq, np.int64).tobytes())
    return digest.hexdigest()


HELDOUT_SUITE = "in-distribution"


def _holdout_mask(spec: SplitSpec, n: int) -> np.ndarray:
    """Which of a training split's ``n`` records are held out: ``round(holdout * n)`` of them,
    drawn by a generator seeded from the split's name (the same rows on every machine)."""
    mask = np.zeros(n, bool)
    count = int(round(spec.holdout * n))
    if count:
        seed = int.from_bytes(hashlib.sha256(spec.split.encode()).digest()[:8], "little")
        mask[np.random.default_rng(seed).permutation(n)[:count]] = True
    return mask


def _short(split: str) -> str:
    return split.split("/", 1)[-1]


def plan_build(config: BuildConfig, specs: list[SplitSpec], tokenizer, model_info, progress: bool = True) -> Plan:
    """Load and decontaminate every split, hold out test rows, render and tokenize every text.

    Training rows are dropped when a user turn equals the prompt of any test row: of a
    benchmark split, of a training file read as a test split (``suite``), or of a row held out
    from a training split (``holdout``), so held-out accuracy is measured on unseen prompts.
    """
    from tqdm import tqdm

    if not specs:
        raise EmbedError("nothing to build: give at least one split")
    loaded = []
    for spec in specs:
        loader = get_loader(spec.dataset)
        is_test = loader.kind == "test" or spec.suite is not None
        skipped: list[str] = []
        records = load_records(spec.dataset, spec.data_files or None, limit=None, revision=spec.revision,
                               skipped=None if loader.kind == "test" else skipped)
        if spec.subset:
            records = [replace(r, subset=spec.subset) for r in records]
        loaded.append((spec, loader, is_test, records, skipped))
    test_prompts = {normalise_prompt(r.prompt_text) for _, _, is_test, recs, _ in loaded if is_test for r in recs}
    entries = []  # per split to write: [name, spec, loader, kind, suite, records, info]
    heldout = []  # the held-out test splits, entries of the same shape
    for spec, loader, is_test, records, skipped in loaded:
        info = {"decontaminated": 0, "limit": spec.limit, "malformed_skipped": len(skipped)}
        if loader.kind == "pairs":
            for r in records:
                if sorted(r.chosen) != [False, True]:
                    raise EmbedError(f"{spec.split}: record {r.id} is not one chosen + one rejected")
        if not is_test:
            records, info["decontaminated"] = decontaminate(records, test_prompts)
        if spec.limit is not None:
            records = records[: spec.limit]
        suite = spec.suite or loader.suite
        if is_test:
            entries.append([spec.split, spec, loader, "test", suite, records, info])
            continue
        mask = _holdout_mask(spec, len(records))
        entries.append([spec.split, spec, loader, "pairs", None,
                        [r for r, m in zip(records, mask, strict=True) if not m], info])
        if mask.any():
            held = [r if spec.subset else replace(r, subset=_short(spec.split))
                    for r, m in zip(records, mask, strict=True) if m]
            heldout.append([spec.holdout_split or f"heldout/{_short(spec.split)}", spec, loader, "test",
                            HELDOUT_SUITE, held, {"decontaminated": 0, "limit": None, "held_out_of": spec.split,
                                                  "holdout": spec.holdout, "malformed_skipped": 0}])
    if heldout:  # training rows must not share a prompt with any held-out row
        held_prompts = {normalise_prompt(r.prompt_text) for h in heldout for r in h[5]}
        for entry in entries:
            if entry[3] == "pairs":
                entry[5], dropped = decontaminate(entry[5], held_prompts)
                entry[6]["overlaps_heldout"] = dropped
        entries += heldout
    splits, t_split, t_rec, t_resp, ids, plen = [], [], [], [], [], []
    for s_index, (name, spec, loader, kind, suite, records, info) in enumerate(entries):
        if not records:
            raise EmbedError(f"split {name}: no records left after decontamination")
        splits.append({
            "name": name, "kind": kind, "suite": suite, "dataset": spec.dataset,
            "source": loader.source_info([Path(f) for f in spec.data_files] or None, spec.revision,
                                         dataset=spec.source_dataset, split=spec.source_split),
            **info,
            "records": [
                {"id": r.id, "subset": r.subset, "chosen": r.chosen, "ratings": r.ratings} for r in records
            ],
        })
        for r_index, record in enumerate(tqdm(records, desc=f"tokenize {name}", unit="rec", leave=False,
                                                   disable=not progress)):
            for resp_index, response in enumerate(record.responses):
                full, p = tokenize_pair(tokenizer, record.messages, response)
                t_split.append(s_index)
                t_rec.append(r_index)
                t_resp.append(resp_index)
                ids.append(full)
                plen.append(p)
    names = [sp["name"] for sp in splits]
    if len(set(names)) != len(names):
        raise EmbedError(f"two splits are named {next(n for n in names if names.count(n) > 1)}")
    return Plan(config, model_info, splits, np.array(t_split, np.int64), np.array(t_rec, np.int64),
                np.array(t_resp, np.int64), np.array(plen, np.int64), np.array([len(s) for s in ids], np.int64),
                plan_fingerprint(config, model_info, splits, ids), ids)


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------
def make_batches(lengths: np.ndarray, batch_tokens: int, max_batch: int) -> list[np.ndarray]:
    """Split positions (already sorted by length, longest first) into padded-token-budget batches."""
    batches, start = [], 0
    while start < len(lengths):
        longest = int(lengths[start])
        size = max(1, min(max_batch, batch_tokens // max(longest, 1)))
        batches.append(np.arange(start, min(start + size, len(lengths))))
        start += size
    return batches


def truncate(ids: list[int], prompt_len: int, max_length: int,
             keep_first: bool = False) -> tuple[list[int], int, bool]:
    """Keep the last ``max_length`` tokens (and the first, an encoder's [CLS], with
    ``keep_first``); returns (ids, prompt end position, prompt intact)."""
    drop = max(0, len(ids) - max_length)
    prompt_end = prompt_len - 1 - drop
    if keep_first and drop:
        return [ids[0], *ids[drop + 1:]], max(prompt_end, 0), prompt_end >= 1
    return ids[drop:], max(prompt_end, 0), prompt_end >= 0


def pad_batch(seqs: list[list[int]], pad_id: int):
    """Right-padded ``(input_ids, attention_mask)`` long tensors for token-id sequences."""
    import torch

    width = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def embed_texts(model, tokenizer, seqs: list[list[int]], prompt_pos: list[int], *, layer: int,
                causal: bool, device: str, pooling: str = "last_token") -> tuple[np.ndarray, np.ndarray]:
    """Embed one batch: (full embeddings, prompt embeddings), float32 numpy arrays.

    ``pooling``: the hidden state at the last token, the mean over the tokens, or the first
    token's (an encoder's [CLS]).
    """
    import torch

    def forward(batch_seqs: list[list[int]]):
        input_ids, mask = pad_batch(batch_seqs, tokenizer.pad_token_id)
        out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                    output_hidden_states=layer != -1)
        hidden = out.last_hidden_state if layer == -1 else out.hidden_states[layer]
        return hidden, mask.to(hidden.device)

    def pool(hidden, mask, upto=None):
        """Pool each row over its first ``upto[row] + 1`` tokens (default: all real tokens)."""
        last = mask.sum(1) - 1 if upto is None else upto
        if pooling == "last_token":
            return hidden[rows, last].float()
        if pooling == "cls":
            return hidden[:, 0].float()
        keep = torch.arange(hidden.shape[1], device=hidden.device)[None, :] <= last[:, None]
        keep = keep & mask.bool()
        total = (hidden.float() * keep[..., None]).sum(1)
        return total / keep.sum(1, keepdim=True).clamp(min=1)

    rows = torch.arange(len(seqs))
    with torch.inference_mode():
        hidden, mask = forward(seqs)
        full = pool(hidden, mask).cpu().numpy()
        if causal:  # causal attention: the prompt's states are those of a prompt-only run
            prompt = pool(hidden, mask, torch.tensor(prompt_pos, device=hidden.device)).cpu().numpy()
        else:  # bidirectional attention: the prompt needs a pass of its own
            p_hidden, p_mask = forward([s[: p + 1] for s, p in zip(seqs, prompt_pos, strict=True)])
            prompt = pool(p_hidden, p_mask).cpu().numpy()
    return full, prompt


class Builder:
    """Runs a plan's share of chunks into ``work_dir`` and merges finished work into a set.

    ``device`` is where this process embeds (default: the plan's); under torchrun each local
    rank has its own GPU while the plan, and so the work folder, stays the same for all.
    """

    def __init__(self, plan: Plan, work_dir: Path, model=None, tokenizer=None, device: str | None = None,
                 cache: EmbeddingCache | None = None):
        self.plan, self.work_dir, self.model, self.tokenizer = plan, Path(work_dir), model, tokenizer
        self.device = device or plan.config.device
        self.cache = cache
        self.cached_texts = 0  # texts of this run served from the cache
        self.embedded_tokens = 0  # tokens this run ran through the model

    def prepare(self) -> None:
        """Create the work folder, or check that an existing one belongs to this very plan.

        Several processes may start at once: each writes the (identical) plan atomically.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stamp = self.work_dir / PLAN_FILE
        if stamp.exists():
            try:
                previous = json.loads(stamp.read_text()).get("fingerprint")
            except ValueError:
                previous = None
            if previous != self.plan.fingerprint:
                raise EmbedError(
                    f"{self.work_dir}: holds chunks of a different build (model, data or options "
                    "changed); remove it to start over"
                )
        else:
            text = json.dumps(self.plan.to_json(), sort_keys=True, separators=(",", ":"))
            atomic_write_bytes(stamp, text.encode() + b"\n")

    def shard_manifest(self, shard: int, num_shards: int) -> Path:
        """The file shard ``shard`` of ``num_shards`` writes when all its chunks are done."""
        return self.work_dir / f"shard{shard:03d}of{num_shards:03d}.json"

    def chunks(self, shard: int, num_shards: int) -> list[tuple[Path, np.ndarray]]:
        """This shard's chunks: (file, text indices). Chunks are cut from the length order the
        same way for any shard count and shards take whole chunks round-robin, so every text is
        embedded in the same batch as in an unsharded build (results equal bit for bit)."""
        order = self.plan.order()
        size = self.plan.config.chunk_texts
        return [
            (self.work_dir / f"shard{shard:03d}of{num_shards:03d}-chunk{j:05d}.npz", order[i : i + size])
            for j, i in enumerate(range(0, len(order), size))
            if j % num_shards == shard
        ]

    def run(self, shard: int = 0, num_shards: int = 1, progress: bool = True) -> dict[str, float]:
        """Embed every unfinished chunk of this shard, then write its shard manifest.

        Returns tokens, seconds and tokens/s of this run, chunks embedded and chunks found done.
        """
        from tqdm import tqdm

        self.prepare()
        cfg = self.plan.config
        mine = self.chunks(shard, num_shards)
        todo = [(f, idx) for f, idx in mine if not f.exists()]
        lengths = np.minimum(self.plan.lengths, cfg.max_length)
        total = int(sum(lengths[idx].sum() for _, idx in todo))
        bar = tqdm(total=total, unit="tok", unit_scale=True, desc=f"embed shard {shard}/{num_shards}",
                   disable=not progress, smoothing=0.1)
        kill_after = _kill_after(shard)
        start = time.perf_counter()
        for count, (file, idx) in enumerate(todo, 1):
            self._run_chunk(file, idx, bar)
            if count == kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        bar.close()
        seconds = time.perf_counter() - start
        done = self.embedded_tokens
        stats = {"cached_texts": self.cached_texts, "tokens": done, "seconds": seconds,
                 "tokens_per_s": done / seconds if seconds else 0.0,
                 "chunks": len(todo), "resumed_chunks": len(mine) - len(todo)}
        atomic_write_json(self.shard_manifest(shard, num_shards), {
            "format": PLAN_FORMAT, "fingerprint": self.plan.fingerprint, "shard": shard, "num_shards": num_shards,
            "chunks": {f.name: sha256_file(f) for f, _ in mine}, "texts": int(sum(len(idx) for _, idx in mine)),
            "device": self.device, "last_run": {k: round(v, 3) for k, v in stats.items()},
        })
        return stats

    def _run_chunk(self, file: Path, idx: np.ndarray, bar) -> None:
        cfg = self.plan.config
        keep_first = bool(self.plan.model_info.get("keeps_first_token"))
        seqs, pos, intact = [], [], []
        for i in idx:
            s, p, ok = truncate(self.plan.ids[i], int(self.plan.prompt_len[i]), cfg.max_length, keep_first)
            seqs.append(s)
            pos.append(p)
            intact.append(ok)
        full = np.empty((len(idx), self.model.config.hidden_size), np.float32)
        prompt = np.empty_like(full)
        lengths = np.array([len(s) for s in seqs])
        keys = [text_key(s, p) for s, p in zip(seqs, pos, strict=True)] if self.cache is not None else []
        todo = []
        for row in range(len(idx)):
            hit = self.cache.get(keys[row]) if keys else None
            if hit is None:
                todo.append(row)
            else:
                full[row], prompt[row] = hit[0], hit[1]
        if len(todo) < len(idx):
            self.cached_texts += len(idx) - len(todo)
            bar.update(int(lengths.sum() - lengths[todo].sum()))
        todo = np.array(todo, np.int64)
        for batch in make_batches(lengths[todo], cfg.batch_tokens, cfg.max_batch):
            rows = todo[batch]
            f, p = embed_texts(self.model, self.tokenizer, [seqs[b] for b in rows], [pos[b] for b in rows],
                               layer=cfg.layer, causal=self.plan.model_info["causal"], device=self.device,
                               pooling=self.plan.model_info.get("pooling", "last_token"))
            full[rows], prompt[rows] = f, p
            self.embedded_tokens += int(lengths[rows].sum())
            bar.update(int(lengths[rows].sum()))
            bar.set_postfix(tok_s=f"{bar.format_dict['rate'] or 0:.0f}")
        if keys and len(todo):
            self.cache.put([keys[r] for r in todo], full[todo], prompt[todo], np.array(intact)[todo])
        atomic_write(file, lambda tmp: _save_npz(tmp, index=idx, full=full, prompt=prompt,
                                                 prompt_intact=np.array(intact)))

    def merge(self, out_root: Path) -> Path:
        """Assemble all shards' chunks into the set folder (atomically): :func:`merge_work`."""
        return merge_work(self.work_dir, out_root)


def _kill_after(shard: int) -> int | None:
    value = os.environ.get(KILL_AFTER_ENV)
    if not value:
        return None
    count, _, only = value.partition("@")
    return int(count) if not only or int(only) == shard else None


def _save_npz(path: Path, **arrays) -> None:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


# ----------------------------------------------------------------------------------------------
# Merging (no model, no data files, no torch)
# ----------------------------------------------------------------------------------------------
def merge_work(work_dir: str | os.PathLike, out_root: str | os.PathLike,
               expect: Mapping[str, Any] | None = None) -> Path:
    """Assemble a work folder's chunks into the set ``out_root/<name>-<version>`` (atomically).

    Reads only the work folder: ``plan.json``, the shard manifests and the chunks, whose SHA-256
    is checked against the manifest of the shard that wrote them. ``expect`` (options given to
    ``merge``, e.g. from the recipe) must agree with the options the chunks were built with.
    Every shard of the shard count the chunks were made with must have finished.
    """
    work_dir = Path(work_dir)
    plan = Plan.read(work_dir)
    _check_expected(plan, expect or {}, work_dir)
    chunk_files = sorted(f for f in work_dir.glob("shard*-chunk*.npz") if CHUNK_RE.fullmatch(f.name))
    counts = sorted({int(CHUNK_RE.fullmatch(f.name)[2]) for f in chunk_files})
    if len(counts) > 1:
        raise EmbedError(f"{work_dir}: holds chunks of runs with different --shard counts "
                         f"({', '.join(map(str, counts))}); remove the folder to start over")
    num_shards = counts[0] if counts else 1
    listed: dict[str, str] = {}
    unfinished = []
    for k in range(num_shards):
        path = work_dir / f"shard{k:03d}of{num_shards:03d}.json"
        if not path.is_file():
            unfinished.append(f"{k}/{num_shards}")
            continue
        manifest = json.loads(path.read_text())
        if manifest.get("fingerprint") != plan.fingerprint:
            raise EmbedError(f"{path}: written for a different build than {work_dir / PLAN_FILE}; "
                             "remove the folder to start over")
        listed.update(manifest["chunks"])
    n = len(plan.lengths)
    full = prompt = None
    intact = np.zeros(n, bool)
    seen = np.zeros(n, np.int64)
    for file in chunk_files:
        if file.name in listed and sha256_file(file) != listed[file.name]:
            raise EmbedError(f"{file}: SHA-256 differs from its shard's manifest (corrupted or copied "
                             "from another build); delete it and rerun that shard")
        with np.load(file) as z:
            idx = z["index"]
            if full is None:
                full = np.empty((n, z["full"].shape[1]), np.float32)
                prompt = np.empty_like(full)
            full[idx], prompt[idx], intact[idx] = z["full"], z["prompt"], z["prompt_intact"]
            seen[idx] += 1
    missing = int((seen == 0).sum())
    if unfinished or missing or full is None:
        raise EmbedError(f"{work_dir}: {missing} of {n} texts not embedded yet; run the other shards first "
                         f"(unfinished: shard {', '.join(unfinished) or 'none'}; a rerun resumes)")
    if (seen > 1).any():
        raise EmbedError(f"{work_dir}: {int((seen > 1).sum())} texts are in two chunks; remove the folder "
                         "to start over")
    shards = [json.loads((work_dir / f"shard{k:03d}of{num_shards:03d}.json").read_text())
              for k in range(num_shards)]
    runs = [{"shard": f"{m['shard']}/{m['num_shards']}", "device": m.get("device"), **m["last_run"]} for m in shards]
    return assemble(plan, full, prompt, intact, Path(out_root), runs)


def _check_expected(plan: Plan, expect: Mapping[str, Any], work_dir: Path) -> None:
    built = asdict(plan.config)
    for key, value in expect.items():
        if key == "splits":
            names = [s["name"] for s in plan.splits]
            if list(value) != names:
                raise EmbedError(f"{work_dir}: built with splits {', '.join(names)}, not {', '.join(value)}")
        elif key != "device" and key in built and built[key] != value:
            raise EmbedError(f"{work_dir}: built with {key}={built[key]!r}, not {value!r}; merge with the "
                             "options of the build (or fewer)")


# ----------------------------------------------------------------------------------------------
# Assembly
# ----------------------------------------------------------------------------------------------
def _store(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "float16" and np.abs(array).max(initial=0) > np.finfo(np.float16).max / 2:
        return array.astype(np.float32)  # would overflow float16; keep full precision
    return array.astype(dtype)


def stored_texts(plan: Plan, s_index: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Split ``s_index``'s texts in the order its set stores them: for a pairs split, (chosen
    texts, rejected texts), one per record in record order; for a test split, (its rows in the
    shuffled order, None). :func:`assemble` writes this layout and :func:`add_set_to_cache`
    reads it back."""
    sel = np.flatnonzero(plan.text_split == s_index)
    split = plan.splits[s_index]
    if split["kind"] == "pairs":
        records = split["records"]
        is_chosen = np.array([records[r]["chosen"][k] for r, k in
                              zip(plan.text_record[sel], plan.text_response[sel], strict=True)], bool)
        return sel[is_chosen], sel[~is_chosen]
    return sel[np.random.default_rng(plan.config.shuffle_seed).permutation(len(sel))], None


def assemble(plan: Plan, full: np.ndarray, prompt: np.ndarray, intact: np.ndarray, out_root: Path,
             runs: list[dict[str, Any]] | None = None) -> Path:
    """Write the set: pairs splits as chosen/rejected arrays, test splits shuffled with labels.

    ``runs`` (each shard's last-run timings) goes to the manifest's ``build.shards``.
    """
    cfg = plan.config
    lengths = plan.lengths
    truncated = lengths > cfg.max_length
    build_info = {k: v for k, v in asdict(cfg).items() if k not in ("name", "version")}
    if runs:
        build_info["shards"] = runs
    writer = SetWriter(
        out_root, cfg.name, cfg.version,
        model={"pooling": "last_token", **plan.model_info, "layer": cfg.layer, "dtype": cfg.dtype},
        build=build_info,
        truncation={"max_length": cfg.max_length, "side": "left", "texts": int(truncated.sum()),
                    "prompt_lost": int((~intact).sum()), "total_texts": len(lengths)},
    )
    for s_index, split in enumerate(plan.splits):
        sel = np.flatnonzero(plan.text_split == s_index)
        info = {"source": split["source"], "dataset": split["dataset"], "decontaminated": split["decontaminated"],
                "truncated": int(truncated[sel].sum()), "limit": split["limit"],
                **{k: split[k] for k in ("malformed_skipped", "overlaps_heldout", "held_out_of", "holdout")
                   if split.get(k)}}
        records = split["records"]
        if split["kind"] == "pairs":
            c, j = stored_texts(plan, s_index)  # one chosen and one rejected text per record
            meta = pd.DataFrame({
                "id": [r["id"] for r in records], "subset": [r["subset"] for r in records],
                "prompt_tokens": plan.prompt_len[c], "chosen_tokens": lengths[c] - plan.prompt_len[c],
                "rejected_tokens": lengths[j] - plan.prompt_len[j], "truncated": truncated[c] | truncated[j],
            })
            objectives = sorted({o for r in records for o in r["ratings"]})
            for o in objectives:
                vals = [r["ratings"].get(o, [np.nan, np.nan]) for r in records]
                order = [(0, 1) if r["chosen"][0] else (1, 0) for r in records]
                meta[RATING_PREFIX[0] + o] = [v[a] for v, (a, _) in zip(vals, order, strict=True)]
                meta[RATING_PREFIX[1] + o] = [v[b] for v, (_, b) in zip(vals, order, strict=True)]
            writer.add_pairs(split["name"], chosen=_store(full[c], cfg.store_dtype),
                             rejected=_store(full[j], cfg.store_dtype), prompt=_store(prompt[c], cfg.store_dtype),
                             meta=meta, objectives=objectives, **info)
        else:
            sel, _ = stored_texts(plan, s_index)
            rec, resp = plan.text_record[sel], plan.text_response[sel]
            meta = pd.DataFrame({
                "row": np.arange(len(sel)), "item": rec,
                "id": [records[r]["id"] for r in rec], "subset": [records[r]["subset"] for r in rec],
                "prompt_tokens": plan.prompt_len[sel], "response_tokens": lengths[sel] - plan.prompt_len[sel],
                "truncated": truncated[sel],
            })
            chosen = np.array([records[r]["chosen"][k] for r, k in zip(rec, resp, strict=True)])
            writer.add_test(split["name"], suite=split["suite"], response=_store(full[sel], cfg.store_dtype),
                            prompt=_store(prompt[sel], cfg.store_dtype), meta=meta, chosen=chosen,
                            shuffle_seed=cfg.shuffle_seed, **info)
    return writer.commit()


# ----------------------------------------------------------------------------------------------
# Entry point
# ----------------------------------------------------------------------------------------------
def build(config: BuildConfig, specs: list[SplitSpec], out_root: str | os.PathLike, *,
          shard: tuple[int, int] = (0, 1), merge: bool | None = None, progress: bool = True,
          keep_work: bool = False, log: Callable[[str], None] | None = None,
          cache: str | os.PathLike | None | bool = None) -> Path | None:
    """Plan, embed this shard, and (when ``merge`` or a single shard) assemble the set.

    Returns the set folder, or ``None`` when only a shard's chunks were written. ``log`` gets a
    line when a shard resumes from chunks an earlier run finished. ``cache`` is the embedding
    cache's folder (default ``cache_dir()/embeddings``; ``False``: no cache).
    """
    import torch

    out_root = Path(out_root)
    final = out_root / f"{config.name}-{config.version}"
    if final.exists():
        raise EmbedError(f"{final}: set already exists; remove it or choose another --version")
    if config.device == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # the cores this process may use (a Slurm/container allocation), not all of the host's
        torch.set_num_threads(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    device = config.device
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        # under torchrun / accelerate each local rank embeds its shard on its own GPU
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    torch.manual_seed(0)
    tokenizer, model, info = load_model(replace(config, device=device))
    plan = plan_build(config, specs, tokenizer, info, progress)  # the same plan on every device
    store = None
    if cache is not False:
        from harness.paths import cache_dir

        store = EmbeddingCache(cache or cache_dir() / "embeddings", cache_settings(config, info))
    builder = Builder(plan, out_root / f"{config.name}-{config.version}.partial", model, tokenizer, device,
                      cache=store)
    builder.prepare()
    done = sum(f.exists() for f, _ in builder.chunks(*shard))
    if done and log:
        log(f"resuming shard {shard[0]}/{shard[1]}: {done} of {len(builder.chunks(*shard))} chunks already done")
    stats = builder.run(*shard, progress=progress)
    if log and builder.cached_texts:
        log(f"{builder.cached_texts} texts came from the embedding cache ({store.folder})")
    if merge is False or (merge is None and shard[1] > 1):
        return None
    path = builder.merge(out_root)
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["build"]["last_run"] = {k: round(v, 2) for k, v in stats.items()}
    atomic_write_json(manifest_path, manifest)
    # the manifest changed after hashing nothing but itself: its own hash is never listed
    if not keep_work:
        shutil.rmtree(builder.work_dir, ignore_errors=True)
    return path


def add_set_to_cache(config: BuildConfig, specs: list[SplitSpec], set_path: str | os.PathLike,
                     cache: str | os.PathLike | None = None, progress: bool = True) -> int:
    """Put the vectors of a set built from ``specs`` (its recipe) into the embedding cache.

    The recipe is planned again (tokenizer only: no text is embedded) to learn each stored
    row's token ids; every split's rows must match the plan's records and token counts, and
    the set must come from the same model file and settings. Returns the texts added.
    """
    from harness.embedset import EmbeddingSet
    from harness.paths import cache_dir

    emb = EmbeddingSet.open(set_path)
    tokenizer, _, info = load_model(config)
    stored = emb.manifest["model"]
    for key in ("revision", "dtype", "layer"):
        want = info.get(key) if key == "revision" else getattr(config, key)
        if stored.get(key) != want:
            raise EmbedError(f"{set_path}: built with {key} {stored.get(key)}, the recipe gives {want}")
    if stored.get("pooling", "last_token") != info["pooling"]:
        raise EmbedError(f"{set_path}: pooled by {stored.get('pooling')}, the recipe gives {info['pooling']}")
    plan = plan_build(config, specs, tokenizer, info, progress)
    store = EmbeddingCache(cache or cache_dir() / "embeddings", cache_settings(config, info))
    keep_first = bool(info.get("keeps_first_token"))
    added = 0
    for s_index, split in enumerate(plan.splits):
        part = emb.split(split["name"])
        records = split["records"]
        first, second = stored_texts(plan, s_index)
        if second is not None:
            texts = np.r_[first, second]
            full = np.r_[np.asarray(part.chosen), np.asarray(part.rejected)]
            prompt = np.r_[np.asarray(part.prompt), np.asarray(part.prompt)]
            ids = [r["id"] for r in records]
            tokens = np.r_[part.meta["chosen_tokens"], part.meta["rejected_tokens"]]
        else:
            texts = first
            full, prompt = np.asarray(part.response), np.asarray(part.prompt)
            ids = [records[r]["id"] for r in plan.text_record[texts]]
            tokens = part.meta["response_tokens"].to_numpy()
        if list(part.meta["id"]) != ids or not np.array_equal(
                tokens, plan.lengths[texts] - plan.prompt_len[texts]):
            raise EmbedError(f"{set_path}: split {split['name']} does not hold the rows this recipe plans "
                             "(another recipe, data file or harness version)")
        keys, intact = [], []
        for t in texts:
            seq, pos, ok = truncate(plan.ids[t], int(plan.prompt_len[t]), config.max_length, keep_first)
            keys.append(text_key(seq, pos))
            intact.append(ok)
        added += store.put(keys, full.astype(np.float32), prompt.astype(np.float32), np.array(intact))
    return added
