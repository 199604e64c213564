"""Dataset loaders: hub datasets (pinned revisions) or local files of the same schema.

Every loader goes through the ``datasets`` library and maps rows to one internal shape,
:class:`Record`: the chat messages before the response, the candidate responses, which of
them are chosen, and optional per-objective ratings of each response.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.fileio import sha256_file


class DataError(HarnessError):
    """A dataset that cannot be loaded or does not have the expected schema."""


@dataclass
class Record:
    """One prompt with its candidate responses.

    ``messages`` is the conversation up to (not including) the responses, as chat messages
    ``{"role": "user"|"assistant"|"system", "content": str}``; ``chosen[i]`` says whether
    ``responses[i]`` is a preferred response; ``ratings[objective][i]`` rates response ``i``.
    """

    id: str
    subset: str
    messages: list[dict[str, str]]
    responses: list[str]
    chosen: list[bool]
    ratings: dict[str, list[float]] = field(default_factory=dict)

    @property
    def prompt_text(self) -> str:
        """All user turns joined, the text used for decontamination."""
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")


@dataclass(frozen=True)
class Loader:
    """How to load one dataset: hub coordinates, kind, and a row parser."""

    name: str
    hub_id: str
    revision: str
    split: str
    kind: str  # "test" (a benchmark suite) or "pairs" (training data)
    parse: Callable[[dict[str, Any], int, str], Iterable[Record]]
    required: tuple[str, ...]
    suite: str | None = None
    hub_config: str | None = None
    license: str = ""
    citation_key: str = ""

    def source_info(self, data_files: list[Path] | None, revision: str | None = None, *,
                    dataset: str | None = None, split: str | None = None) -> dict[str, Any]:
        """What the manifest records about where the rows came from.

        ``dataset``/``split`` say which hub dataset and split local files are copies of, when
        that is not the loader's default (e.g. HH-RLHF *test* files read by the training loader).
        """
        info: dict[str, Any] = {"dataset": dataset or self.hub_id, "license": self.license}
        if data_files:  # local files in the hub split's schema: the file hashes identify the rows
            info["schema_of_split"] = self.split
            if split:
                info["split"] = split
            info["data_files"] = {p.name: sha256_file(p) for p in data_files}
        else:
            info.update(split=split or self.split, revision=revision or self.revision)
        return info


# -- parsing helpers --------------------------------------------------------------------------
_TURN = re.compile(r"\n\n(Human|Assistant):")


def parse_hh_dialogue(text: str) -> list[dict[str, str]]:
    """Split an Anthropic ``\\n\\nHuman: ... \\n\\nAssistant: ...`` dialogue into chat messages."""
    if not text.startswith("\n\n"):
        text = "\n\n" + text
    parts = _TURN.split(text)
    if parts[0].strip():
        raise DataError(f"HH-RLHF dialogue does not start with a Human turn: {text[:60]!r}")
    roles = {"Human": "user", "Assistant": "assistant"}
    return [
        {"role": roles[speaker], "content": content.strip()}
        for speaker, content in zip(parts[1::2], parts[2::2], strict=True)
    ]


def _as_messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if isinstance(value, list) and all(isinstance(m, dict) for m in value):
        return [{"role": m["role"], "content": m["content"]} for m in value]
    raise DataError(f"expected a prompt string or a list of chat messages, got {type(value).__name__}")


def _split_conversation(value: Any) -> tuple[list[dict[str, str]], str]:
    """A full conversation (messages ending with the assistant's answer) → (context, answer)."""
    if isinstance(value, str):
        return [], value
    messages = _as_messages(value)
    if not messages or messages[-1]["role"] != "assistant":
        raise DataError("conversation does not end with an assistant message")
    return messages[:-1], messages[-1]["content"]


def _pair(rid: str, subset: str, messages, chosen: str, rejected: str, ratings=None) -> Record:
    return Record(rid, subset, messages, [chosen, rejected], [True, False], ratings or {})


# -- row parsers (one per hub schema) ----------------------------------------------------------
def _parse_rewardbench(row: dict, index: int, split: str) -> Iterable[Record]:
    yield _pair(str(row["id"]), row["subset"], _as_messages(row["prompt"]), row["chosen"], row["rejected"])


def _parse_prior_sets(row: dict, index: int, split: str) -> Iterable[Record]:
    rid = str(row.get("id", index))
    subset = row.get("subset") or split
    if isinstance(row["chosen"], list):  # conversation format: context + answer in each side
        context, chosen = _split_conversation(row["chosen"])
        _, rejected = _split_conversation(row["rejected"])
    else:
        context, chosen, rejected = _as_messages(row["prompt"]), row["chosen"], row["rejected"]
    yield _pair(rid, subset, context, chosen, rejected)


def _parse_rewardbench2(row: dict, index: int, split: str) -> Iterable[Record]:
    chosen, rejected = list(row["chosen"]), list(row["rejected"])
    if not chosen or not rejected:
        raise DataError(f"reward-bench-2 row {row.get('id', index)} has no chosen or no rejected")
    yield Record(
        str(row["id"]), row["subset"], _as_messages(row["prompt"]),
        chosen + rejected, [True] * len(chosen) + [False] * len(rejected),
    )


def _parse_hh(row: dict, index: int, split: str) -> Iterable[Record]:
    if "prompt" in row and row.get("prompt") is not None and not str(row["chosen"]).startswith("\n\nHuman:"):
        # the {prompt, chosen, rejected} single-turn variant
        yield _pair(f"hh-{index}", split, _as_messages(row["prompt"]), row["chosen"], row["rejected"])
        return
    chosen, rejected = parse_hh_dialogue(row["chosen"]), parse_hh_dialogue(row["rejected"])
    if chosen[-1]["role"] != "assistant" or rejected[-1]["role"] != "assistant":
        raise DataError(f"HH-RLHF row {index}: dialogue does not end with an Assistant turn")
    context = chosen[:-1]
    yield _pair(f"hh-{index}", split, context, chosen[-1]["content"], rejected[-1]["content"])


def _parse_ultrafeedback(row: dict, index: int, split: str) -> Iterable[Record]:
    context, chosen = _split_conversation(row["chosen"])
    _, rejected = _split_conversation(row["rejected"])
    if not context:
        context = _as_messages(row["prompt"])
    scores = row.get("metadata") or row
    ratings = {}
    if scores.get("score_chosen") is not None:
        ratings["overall"] = [float(scores["score_chosen"]), float(scores["score_rejected"])]
    if row.get("prompt_id"):
        rid = str(row["prompt_id"])
    elif row.get("source_index") is not None:  # a sample of the hub split: its row number there
        rid = str(row["source_index"])
    else:  # neither: the row's position in this file
        rid = f"row{index}"
    yield _pair(f"uf-{rid}", split, context, chosen, rejected, ratings)


HELPSTEER2_ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


def _parse_skywork(row: dict, index: int, split: str) -> Iterable[Record]:
    context, chosen = _split_conversation(row["chosen"])
    _, rejected = _split_conversation(row["rejected"])
    yield _pair(f"sky-{index}", row.get("source") or split, context, chosen, rejected)


def helpsteer2_records(rows: Iterable[dict]) -> list[Record]:
    """HelpSteer2 rates responses one per row; responses to the same prompt become one record.

    The pair label is the helpfulness rating; prompts whose responses tie on helpfulness
    are dropped (they carry no preference), but every response keeps all five ratings.
    """
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["prompt"], []).append(row)
    records = []
    for index, (prompt, group) in enumerate(grouped.items()):
        if len(group) < 2:
            continue
        group = sorted(group, key=lambda r: -r["helpfulness"])[:2]
        if group[0]["helpfulness"] == group[1]["helpfulness"]:
            continue
        ratings = {a: [float(g[a]) for g in group] for a in HELPSTEER2_ATTRIBUTES}
        records.append(
            _pair(f"hs2-{index}", "helpsteer2", _as_messages(prompt),
                  group[0]["response"], group[1]["response"], ratings)
        )
    return records


# -- registry ----------------------------------------------------------------------------------
LOADERS: dict[str, Loader] = {
    loader.name: loader
    for loader in (
        Loader("rewardbench", "allenai/reward-bench", "main", "filtered", "test", _parse_rewardbench,
               ("prompt", "chosen", "rejected", "subset", "id"), suite="rewardbench-v1",
               license="ODC-BY (subsets keep their sources' terms)", citation_key="lambert2024rewardbench"),
        Loader("rewardbench2", "allenai/reward-bench-2", "main", "test", "test", _parse_rewardbench2,
               ("prompt", "chosen", "rejected", "subset", "id"), suite="rewardbench-v2",
               license="ODC-BY", citation_key="malik2025rewardbench2"),
        Loader("prior-sets", "allenai/pref-test-sets", "main", "*", "test", _parse_prior_sets,
               ("chosen", "rejected"), suite="prior-sets", license="per subset (see source)"),
        Loader("hh-rlhf", "Anthropic/hh-rlhf", "main", "train", "pairs", _parse_hh,
               ("chosen", "rejected"), license="MIT", citation_key="bai2022training"),
        Loader("ultrafeedback", "HuggingFaceH4/ultrafeedback_binarized", "main", "train_prefs", "pairs",
               _parse_ultrafeedback, ("prompt", "chosen", "rejected"), license="MIT",
               citation_key="cui2023ultrafeedback"),
        Loader("helpsteer2", "nvidia/HelpSteer2", "main", "train", "pairs", lambda r, i, s: (),
               ("prompt", "response", *HELPSTEER2_ATTRIBUTES), license="CC-BY-4.0",
               citation_key="wang2024helpsteer2"),
        Loader("skywork", "Skywork/Skywork-Reward-Preference-80K-v0.2", "main", "train", "pairs",
               _parse_skywork, ("chosen", "rejected"), license="per source (see dataset card)",
               citation_key="liu2024skywork"),
    )
}


def get_loader(name: str) -> Loader:
    """The loader registered under ``name``."""
    try:
        return LOADERS[name]
    except KeyError:
        raise DataError(f"unknown dataset '{name}' (known: {', '.join(LOADERS)})") from None


def _builder_for(path: Path) -> str:
    suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2", ".xz", ".zst")]
    ext = suffixes[-1] if suffixes else ""
    return {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}.get(ext, "json")


def _open_rows(loader: Loader, data_files: list[Path] | None, revision: str | None):
    """Yield ``(split_name, datasets.Dataset)`` pairs, from local files or the hub."""
    import datasets

    datasets.disable_progress_bars()
    if data_files:
        for path in data_files:
            if not path.is_file():
                raise DataError(f"{path}: data file not found")
            if path.stat().st_size == 0:
                raise DataError(f"{path}: data file is empty")
            try:
                ds = datasets.load_dataset(_builder_for(path), data_files=str(path), split="train")
            except Exception as err:  # datasets raises many types for unreadable files
                raise DataError(f"{path}: cannot read as {loader.name} data ({_one_line(err)})") from None
            yield _split_label(path), ds
        return
    try:
        if loader.split == "*":
            dd = datasets.load_dataset(loader.hub_id, loader.hub_config, revision=revision or loader.revision)
            yield from dd.items()
        else:
            yield loader.split, datasets.load_dataset(
                loader.hub_id, loader.hub_config, split=loader.split, revision=revision or loader.revision
            )
    except Exception as err:
        raise DataError(f"cannot load {loader.hub_id} from the hub ({_one_line(err)})") from None


def _one_line(err: Exception) -> str:
    """``Type: message`` on one line (``datasets``/hub messages often span several)."""
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _split_label(path: Path) -> str:
    name = path.name
    for suffix in reversed(path.suffixes):
        name = name.removesuffix(suffix)
    return name


def load_records(
    name: str,
    data_files: list[str | Path] | None = None,
    *,
    limit: int | None = None,
    revision: str | None = None,
    skipped: list[str] | None = None,
) -> list[Record]:
    """Load a dataset by registry name, from the hub or from local files of the same schema.

    A malformed row raises a :class:`DataError` naming it, unless ``skipped`` is a list: then
    the row is left out and its one-line reason appended (training data with a few broken rows).
    """
    loader = get_loader(name)
    files = [Path(f) for f in data_files] if data_files else None
    records: list[Record] = []
    for split, ds in _open_rows(loader, files, revision):
        missing = [c for c in loader.required if c not in ds.column_names]
        if missing:
            where = split if files is None else next(str(f) for f in files if _split_label(f) == split)
            raise DataError(
                f"{where}: missing column(s) {', '.join(missing)} for dataset {name} "
                f"(has: {', '.join(ds.column_names)})"
            )
        if name == "helpsteer2":
            records.extend(helpsteer2_records(ds))
        else:
            for index, row in enumerate(ds):
                try:
                    records.extend(loader.parse(row, index, split))
                except (KeyError, TypeError, DataError) as err:  # name the row in every case
                    reason = f"{name} row {index} of {split}: malformed ({err})"
                    if skipped is None:
                        raise DataError(reason) from None
                    skipped.append(reason)
        if limit is not None and len(records) >= limit:
            break
    if limit is not None:
        records = records[:limit]
    if not records:
        raise DataError(f"dataset {name} ({', '.join(map(str, files)) if files else loader.hub_id}) is empty")
    return records


def normalise_prompt(text: str) -> str:
    """Lower-case, alphanumerics only, single spaces: the key used for decontamination."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split())


def decontaminate(train: list[Record], test_prompts: set[str]) -> tuple[list[Record], int]:
    """Drop training records any of whose user turns equals a test prompt (normalised)."""
    kept = [
        r for r in train
        if not any(normalise_prompt(m["content"]) in test_prompts for m in r.messages if m["role"] == "user")
        and normalise_prompt(r.prompt_text) not in test_prompts
    ]
    return kept, len(train) - len(kept)
