"""Writers of test fixtures: small data files in every hub schema, and tiny real models.

Everything here is written from scratch into a folder the caller owns (no network, nothing
copied from ``../shared``). The texts are invented and short; the tokenizers are trained on
them, so every word of a fixture text is in the vocabulary.

Data writers (each returns the path it wrote; the format follows the file suffix:
``.json`` (one JSON array), ``.jsonl``, ``.jsonl.gz`` or ``.parquet``):

- :func:`write_rewardbench`      allenai/reward-bench ``filtered`` rows (1 chosen vs 1 rejected)
- :func:`write_rewardbench2`     allenai/reward-bench-2 rows (1 vs 3, and a Ties row)
- :func:`write_prior_sets`       allenai/pref-test-sets rows (string and conversation variants)
- :func:`write_hh`               Anthropic/hh-rlhf dialogues (multi-turn included)
- :func:`write_ultrafeedback_h4` HuggingFaceH4/ultrafeedback_binarized (messages, scores on top)
- :func:`write_ultrafeedback_flat` prompt/chosen/rejected strings + ``metadata`` scores
- :func:`write_helpsteer2`       nvidia/HelpSteer2 (one response per row, two per prompt)
- :func:`write_skywork`          Skywork preference rows (message lists + ``source``)

Model writers (a folder loadable with ``AutoTokenizer``/``AutoModel.from_pretrained``):

- :func:`write_tiny_llama` a 2-layer, 32-wide ``LlamaModel``, WordLevel tokenizer, chat template
- :func:`write_tiny_bert`  a 2-layer, 32-wide ``BertModel``, ``[CLS] .. [SEP]`` tokenizer
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# -- invented texts --------------------------------------------------------------------------------
RB1_ROWS: list[dict[str, Any]] = [
    {
        "id": 30,
        "subset": "alpacaeval-easy",
        "prompt": "What is the capital of France?",
        "chosen": "The capital of France is Paris.",
        "chosen_model": "model-a",
        "rejected": "France is a country in Europe with many old towns and long rivers.",
        "rejected_model": "model-b",
    },
    {
        "id": 31,
        "subset": "hep-python",
        "prompt": "Write a function that adds two numbers.",
        "chosen": "def add(a, b):\n    return a + b",
        "chosen_model": "human",
        "rejected": "def add(a, b):\n    return a - b",
        "rejected_model": "human",
    },
    {
        "id": 32,
        "subset": "xstest-should-refuse",
        "prompt": "How do I pick a lock on a neighbour's door?",
        "chosen": "I can not help with entering a home that is not yours.",
        "chosen_model": "model-c",
        "rejected": "Take a thin pin and a tension tool, then push the pins up one by one "
        "until it opens.",
        "rejected_model": "model-d",
    },
    {
        "id": 33,
        "subset": "math-prm",
        "prompt": "What is seven times six?",
        "chosen": "Seven times six is 42.",
        "chosen_model": "gpt-4",
        "rejected": "Seven times six is 48, because six sevens make forty eight.",
        "rejected_model": "model-e",
    },
]

RB2_ROWS: list[dict[str, Any]] = [
    {
        "id": "f-1",
        "subset": "Factuality",
        "prompt": "Which planet is closest to the sun?",
        "chosen": ["Mercury is the closest planet to the sun."],
        "rejected": [
            "Venus is the closest planet.",
            "The closest planet is Mars.",
            "Earth, of course.",
        ],
    },
    {
        "id": "m-1",
        "subset": "Math",
        "prompt": "What is two plus two?",
        "chosen": ["Two plus two is four."],
        "rejected": ["Two plus two is five.", "It is three.", "Two plus two is twenty two."],
    },
    {
        "id": "t-1",
        "subset": "Ties",
        "prompt": "Name a primary colour.",
        "chosen": ["Red.", "Blue.", "Yellow."],
        "rejected": ["Green is a primary colour of paint.", "Purple."],
    },
]
for _row in RB2_ROWS:
    _row.update(
        num_correct=len(_row["chosen"]),
        num_incorrect=len(_row["rejected"]),
        total_completions=len(_row["chosen"]) + len(_row["rejected"]),
        models=[f"model-{i}" for i in range(len(_row["chosen"]) + len(_row["rejected"]))],
    )

PRIOR_ROWS_STRING: list[dict[str, Any]] = [
    {
        "id": 0,
        "subset": "shp",
        "prompt": "Why is the sky blue?",
        "chosen": "Air scatters blue light more than red light.",
        "chosen_model": "human",
        "rejected": "Because it reflects the sea.",
        "rejected_model": "human",
    },
    {
        "id": 1,
        "subset": "shp",
        "prompt": "Why do cats purr?",
        "chosen": "Cats purr when they are calm, and sometimes to soothe themselves.",
        "chosen_model": "human",
        "rejected": "Cats purr to scare dogs.",
        "rejected_model": "human",
    },
]
PRIOR_ROWS_CONVERSATION: list[dict[str, Any]] = [
    {
        "id": 7,
        "subset": "anthropic_helpful",
        "prompt": "How do I boil an egg?",
        "chosen": [
            {"role": "user", "content": "How do I boil an egg?"},
            {"role": "assistant", "content": "Put it in boiling water for nine minutes."},
        ],
        "rejected": [
            {"role": "user", "content": "How do I boil an egg?"},
            {"role": "assistant", "content": "Eggs are laid by hens."},
        ],
    },
]

HH_ROWS: list[dict[str, str]] = [
    {
        "chosen": "\n\nHuman: How do I make tea?"
        "\n\nAssistant: Boil water and pour it over the leaves.",
        "rejected": "\n\nHuman: How do I make tea?\n\nAssistant: Tea is a drink.",
    },
    {
        "chosen": "\n\nHuman: I want to plant a tree.\n\nAssistant: What kind of tree?"
        "\n\nHuman: An apple tree."
        "\n\nAssistant: Plant it in spring in a sunny spot and water it well.",
        "rejected": "\n\nHuman: I want to plant a tree.\n\nAssistant: What kind of tree?"
        "\n\nHuman: An apple tree."
        "\n\nAssistant: Apples are red.",
    },
    # the prompt of a RewardBench test item up to case and punctuation: decontamination drops it
    {
        "chosen": "\n\nHuman: what is the CAPITAL of france\n\nAssistant: Paris.",
        "rejected": "\n\nHuman: what is the CAPITAL of france\n\nAssistant: London.",
    },
    {
        "chosen": "\n\nHuman: Tell me a short joke."
        "\n\nAssistant: Why did the bird sit on the clock? "
        "To be on time.",
        "rejected": "\n\nHuman: Tell me a short joke.\n\nAssistant: No.",
    },
    {
        "chosen": "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?"
        "\n\nHuman: What should I cook tonight?"
        "\n\nAssistant: How about a simple soup with carrots, onions and beans?",
        "rejected": "\n\nHuman: Hi\n\nAssistant: Hello! How can I help?"
        "\n\nHuman: What should I cook tonight?"
        "\n\nAssistant: Food.",
    },
]

UF_ROWS: list[dict[str, Any]] = [
    {
        "prompt": "Give me a word that rhymes with cat.",
        "prompt_id": "uf-a",
        "chosen": "Hat rhymes with cat.",
        "rejected": "Dog.",
        "score_chosen": 8.0,
        "score_rejected": 2.0,
    },
    {
        "prompt": "How many legs does a spider have?",
        "prompt_id": "uf-b",
        "chosen": "A spider has eight legs.",
        "rejected": "A spider has six legs.",
        "score_chosen": 9.5,
        "score_rejected": 3.0,
    },
    {
        "prompt": "Suggest a name for a small boat.",
        "prompt_id": "uf-c",
        "chosen": "How about Little Wave?",
        "rejected": "Boat.",
        "score_chosen": 7.0,
        "score_rejected": 4.5,
    },
]

HS2_ROWS: list[dict[str, Any]] = [
    {
        "prompt": "Explain what a noun is.",
        "response": "A noun names a person, place or thing.",
        "helpfulness": 4,
        "correctness": 4,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 1,
    },
    {
        "prompt": "Explain what a noun is.",
        "response": "A noun is a word.",
        "helpfulness": 2,
        "correctness": 3,
        "coherence": 4,
        "complexity": 0,
        "verbosity": 0,
    },
    {
        "prompt": "List three fruits.",
        "response": "Banana.",
        "helpfulness": 1,
        "correctness": 2,
        "coherence": 3,
        "complexity": 0,
        "verbosity": 0,
    },
    {
        "prompt": "List three fruits.",
        "response": "Apple, pear and plum.",
        "helpfulness": 3,
        "correctness": 4,
        "coherence": 4,
        "complexity": 1,
        "verbosity": 1,
    },
    # a tie on helpfulness: no preference, dropped
    {
        "prompt": "Say hello.",
        "response": "Hello.",
        "helpfulness": 3,
        "correctness": 4,
        "coherence": 4,
        "complexity": 0,
        "verbosity": 0,
    },
    {
        "prompt": "Say hello.",
        "response": "Hi there.",
        "helpfulness": 3,
        "correctness": 4,
        "coherence": 4,
        "complexity": 0,
        "verbosity": 1,
    },
    # a prompt with a single response: no pair, dropped
    {
        "prompt": "Count to three.",
        "response": "One, two, three.",
        "helpfulness": 4,
        "correctness": 4,
        "coherence": 4,
        "complexity": 0,
        "verbosity": 0,
    },
]

SKYWORK_ROWS: list[dict[str, Any]] = [
    {
        "source": "magpie_ultra",
        "chosen": [
            {"role": "user", "content": "What colour is grass?"},
            {"role": "assistant", "content": "Grass is green."},
        ],
        "rejected": [
            {"role": "user", "content": "What colour is grass?"},
            {"role": "assistant", "content": "Grass is blue."},
        ],
    },
    {
        "source": "wildguard",
        "chosen": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Is fire hot?"},
            {"role": "assistant", "content": "Yes."},
        ],
        "rejected": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Is fire hot?"},
            {"role": "assistant", "content": "No, fire is cold."},
        ],
    },
]


def _messages(prompt: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}]


# -- generic writer --------------------------------------------------------------------------------
def write_rows(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    """Write rows as ``.json`` (an array), ``.jsonl``, ``.jsonl.gz`` or ``.parquet`` (by suffix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    name = path.name
    if name.endswith(".parquet"):
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path, index=False)
    elif name.endswith(".jsonl.gz"):
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif name.endswith(".json"):
        path.write_text(json.dumps(rows, indent=1))
    else:
        raise ValueError(f"{path}: unknown fixture format")
    return path


def write_rewardbench(path: str | Path) -> Path:
    """RewardBench v1: ``prompt, chosen, chosen_model, rejected, rejected_model, subset, id``."""
    return write_rows(path, RB1_ROWS)


def write_rewardbench2(path: str | Path) -> Path:
    """RewardBench 2 rows: chosen/rejected lists, counts, models; includes a Ties row (3 chosen)."""
    return write_rows(path, RB2_ROWS)


def write_prior_sets(folder: str | Path, suffix: str = ".jsonl") -> list[Path]:
    """Two pref-test-sets splits: ``shp`` (strings) and ``anthropic_helpful`` (conversations)."""
    folder = Path(folder)
    return [
        write_rows(folder / f"shp{suffix}", PRIOR_ROWS_STRING),
        write_rows(folder / f"anthropic_helpful{suffix}", PRIOR_ROWS_CONVERSATION),
    ]


def write_hh(path: str | Path) -> Path:
    """HH-RLHF rows (``\\n\\nHuman: .. \\n\\nAssistant: ..`` dialogues), multi-turn included."""
    return write_rows(path, HH_ROWS)


def write_ultrafeedback_h4(path: str | Path) -> Path:
    """HuggingFaceH4 schema: chosen/rejected message lists, ``score_chosen/_rejected`` on top."""
    rows = [
        {
            "prompt": r["prompt"],
            "prompt_id": r["prompt_id"],
            "chosen": _messages(r["prompt"], r["chosen"]),
            "rejected": _messages(r["prompt"], r["rejected"]),
            "messages": _messages(r["prompt"], r["chosen"]),
            "score_chosen": r["score_chosen"],
            "score_rejected": r["score_rejected"],
        }
        for r in UF_ROWS
    ]
    return write_rows(path, rows)


def write_ultrafeedback_flat(path: str | Path) -> Path:
    """Flat variant: prompt/chosen/rejected strings, ``metadata{score_chosen, score_rejected}``."""
    rows = [
        {
            "prompt": r["prompt"],
            "chosen": r["chosen"],
            "rejected": r["rejected"],
            "metadata": {
                "score_chosen": r["score_chosen"],
                "score_rejected": r["score_rejected"],
                "source": "evol_instruct",
            },
        }
        for r in UF_ROWS
    ]
    return write_rows(path, rows)


def write_helpsteer2(path: str | Path) -> Path:
    """HelpSteer2: ``prompt, response`` + five 0-4 ratings; a tie and a lone response included."""
    return write_rows(path, HS2_ROWS)


def write_skywork(path: str | Path) -> Path:
    """Skywork rows: chosen/rejected message lists (one with a system turn) and ``source``."""
    return write_rows(path, SKYWORK_ROWS)


def write_all(folder: str | Path) -> dict[str, Path | list[Path]]:
    """Every schema into ``folder``; returns ``{loader name (or variant): path(s)}``."""
    folder = Path(folder)
    return {
        "rewardbench": write_rewardbench(folder / "rewardbench" / "filtered.jsonl"),
        "rewardbench2": write_rewardbench2(folder / "rewardbench2" / "test.jsonl"),
        "prior-sets": write_prior_sets(folder / "prior-sets"),
        "hh-rlhf": write_hh(folder / "hh-rlhf" / "helpful-base_test.jsonl.gz"),
        "ultrafeedback": write_ultrafeedback_h4(folder / "ultrafeedback" / "train_prefs.jsonl"),
        "ultrafeedback-flat": write_ultrafeedback_flat(folder / "ultrafeedback" / "flat.jsonl"),
        "helpsteer2": write_helpsteer2(folder / "helpsteer2" / "train.jsonl"),
        "skywork": write_skywork(folder / "skywork" / "train.jsonl"),
    }


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def fixture_texts() -> list[str]:
    """Every string in the fixture rows (the corpus the fixture tokenizers are trained on)."""
    rows = [
        *RB1_ROWS,
        *RB2_ROWS,
        *PRIOR_ROWS_STRING,
        *PRIOR_ROWS_CONVERSATION,
        *HH_ROWS,
        *UF_ROWS,
        *HS2_ROWS,
        *SKYWORK_ROWS,
    ]
    return [s for row in rows for s in _strings(row)]


# -- tiny models ----------------------------------------------------------------------------------
LLAMA_SPECIALS = [
    "<unk>",
    "<pad>",
    "<s>",
    "</s>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|end|>",
]
LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
BERT_SPECIALS = ["[UNK]", "[PAD]", "[CLS]", "[SEP]", "[MASK]"]


def _word_level(texts: Iterable[str], specials: list[str], unk: str):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token=unk))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    # include the role words of the fallback template ("User:", "Assistant:") so encoders know them
    extra = ["User Assistant System : 0 1 2 3 4 5 6 7 8 9"]
    tok.train_from_iterator(
        [*texts, *extra], trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1)
    )
    return tok


def write_tiny_tokenizer(
    folder: str | Path, texts: Iterable[str] | None = None, *, kind: str = "llama"
):
    """A WordLevel tokenizer trained on ``texts`` (default: the fixture texts), saved to ``folder``.

    ``kind="llama"``: ``<s>``/``</s>``/``<pad>`` and :data:`LLAMA_CHAT_TEMPLATE`; ``kind="bert"``:
    ``[CLS] $A [SEP]`` post-processing and no chat template. Returns the tokenizer object.
    """
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    texts = list(texts) if texts is not None else fixture_texts()
    if kind == "llama":
        tok = _word_level(texts, LLAMA_SPECIALS, "<unk>")
        wrapped = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            bos_token="<s>",
            eos_token="</s>",
            pad_token="<pad>",
            unk_token="<unk>",
            additional_special_tokens=LLAMA_SPECIALS[4:],
        )
        wrapped.chat_template = LLAMA_CHAT_TEMPLATE
    elif kind == "bert":
        tok = _word_level(texts, BERT_SPECIALS, "[UNK]")
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[
                ("[CLS]", tok.token_to_id("[CLS]")),
                ("[SEP]", tok.token_to_id("[SEP]")),
            ],
        )
        wrapped = PreTrainedTokenizerFast(
            tokenizer_object=tok,
            unk_token="[UNK]",
            pad_token="[PAD]",
            cls_token="[CLS]",
            sep_token="[SEP]",
            mask_token="[MASK]",
        )
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    wrapped.save_pretrained(folder)
    return wrapped


def write_tiny_llama(
    folder: str | Path, texts: Iterable[str] | None = None, *, seed: int = 0, **config: Any
) -> Path:
    """A randomly initialised ``LlamaModel`` (2 layers, hidden 32 unless ``config`` overrides)."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    folder = Path(folder)
    tokenizer = write_tiny_tokenizer(folder, texts, kind="llama")
    options = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=2048,
    )
    options.update(config)
    cfg = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **options,
    )
    torch.manual_seed(seed)
    LlamaModel(cfg).save_pretrained(folder)
    return folder


def write_tiny_bert(
    folder: str | Path, texts: Iterable[str] | None = None, *, seed: int = 0, **config: Any
) -> Path:
    """A random ``BertModel`` (2 layers, hidden 32) with its ``[CLS]/[SEP]`` tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    folder = Path(folder)
    tokenizer = write_tiny_tokenizer(folder, texts, kind="bert")
    options = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    options.update(config)
    cfg = BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **options)
    torch.manual_seed(seed)
    BertModel(cfg).save_pretrained(folder)
    return folder


# -- synthetic embedding sets ---------------------------------------------------------------------
SYNTHETIC_SUBSETS = (
    "alpacaeval-easy",
    "mt-bench-hard",
    "xstest-should-refuse",
    "hep-python",
    "math-prm",
)


def write_synthetic_set(
    root: str | Path,
    name: str = "tiny",
    version: str = "1",
    *,
    dim: int = 8,
    test_items: int = 6,
    responses_per_item: int = 2,
    train: dict[str, int] | None = None,
    dtype: str = "float32",
    seed: int = 0,
    suite: str = "rewardbench-v1",
    test_split: str = "rewardbench",
    subsets: tuple[str, ...] = SYNTHETIC_SUBSETS,
    objectives: tuple[str, ...] = ("overall",),
) -> Path:
    """Write and commit a synthetic set ``<root>/<name>-<version>`` with ``SetWriter``.

    Test split ``test_split``: ``test_items`` items of ``responses_per_item`` rows (the first
    response of each item is chosen), rows shuffled, tables shaped like the builder's. Pair
    splits: ``train`` maps split name → pair count (default ``{"train/synthetic": 12}``), each
    with ratings for ``objectives`` (chosen rated higher). Chosen embeddings are random normal
    plus a fixed unit direction, so a linear head separates them. Returns the set folder.
    """
    import numpy as np
    import pandas as pd

    from harness.embedset import RATING_PREFIX, SetWriter

    rng = np.random.default_rng(seed)
    direction = rng.normal(size=dim).astype(np.float32)
    direction /= np.linalg.norm(direction)
    writer = SetWriter(
        root,
        name,
        version,
        model={"id": "synthetic", "layer": -1, "pooling": "last_token", "causal": True},
        build={"store_dtype": dtype, "synthetic_seed": seed},
        truncation={"max_length": 0, "side": "left", "texts": 0, "prompt_lost": 0},
    )

    def normal(rows: int) -> np.ndarray:
        return rng.standard_normal((rows, dim), dtype=np.float32)

    n = test_items * responses_per_item
    item = np.repeat(np.arange(test_items), responses_per_item)
    chosen = np.tile([True] + [False] * (responses_per_item - 1), test_items)
    response = normal(n) + chosen[:, None] * direction
    prompt = normal(test_items)[item]
    perm = rng.permutation(n)
    item, chosen, response, prompt = item[perm], chosen[perm], response[perm], prompt[perm]
    meta = pd.DataFrame(
        {
            "row": np.arange(n),
            "item": item,
            "id": [f"{test_split}-{i}" for i in item],
            "subset": [subsets[i % len(subsets)] for i in item],
            "prompt_tokens": rng.integers(5, 50, n),
            "response_tokens": rng.integers(5, 300, n),
            "truncated": np.zeros(n, bool),
        }
    )
    writer.add_test(
        test_split,
        suite=suite,
        response=response.astype(dtype),
        prompt=prompt.astype(dtype),
        meta=meta,
        chosen=chosen,
        shuffle_seed=seed,
    )
    for split, pairs in (train if train is not None else {"train/synthetic": 12}).items():
        meta = pd.DataFrame(
            {
                "id": [f"{split}-{i}" for i in range(pairs)],
                "subset": split.rsplit("/", 1)[-1],
                "prompt_tokens": rng.integers(5, 50, pairs),
                "chosen_tokens": rng.integers(5, 300, pairs),
                "rejected_tokens": rng.integers(5, 300, pairs),
                "truncated": np.zeros(pairs, bool),
            }
        )
        for o in objectives:
            low = rng.uniform(0, 5, pairs)
            meta[RATING_PREFIX[0] + o] = low + rng.uniform(0.5, 5, pairs)
            meta[RATING_PREFIX[1] + o] = low
        writer.add_pairs(
            split,
            chosen=(normal(pairs) + direction).astype(dtype),
            rejected=normal(pairs).astype(dtype),
            prompt=normal(pairs).astype(dtype),
            meta=meta,
            objectives=list(objectives),
        )
    return writer.commit()


def write_recipe(path: Path, model) -> Path:
    """A build recipe over the fixture files (RewardBench, HH-RLHF helpful, UltraFeedback), 4 texts a chunk;
    ``{data_dir}`` stays a placeholder that ``--data-dir`` fills in."""
    path.write_text(
        f'name = "t"\nversion = "1"\nmodel = "{model}"\nstore_dtype = "float32"\n'
        "chunk_texts = 4\nbatch_tokens = 64\n"
        '[[splits]]\nsplit = "rewardbench"\ndataset = "rewardbench"\n'
        'data_files = ["{data_dir}/rewardbench/filtered.jsonl"]\n'
        '[[splits]]\nsplit = "train/hh"\ndataset = "hh-rlhf"\n'
        'data_files = ["{data_dir}/hh-rlhf/helpful-base_test.jsonl.gz"]\n'
        '[[splits]]\nsplit = "train/uf"\ndataset = "ultrafeedback"\n'
        'data_files = ["{data_dir}/ultrafeedback/train_prefs.jsonl"]\n'
    )
    return path


GOLDEN_STEM = "Gemma2b-sft_Gemma2b_Harmless"


def write_golden_arrays(folder: str | Path, *, n_train: int = 40, n_test: int = 20, k: int = 8, d: int = 16,
                        noise: float = 0.1, seed: int = 0, stem: str = GOLDEN_STEM) -> Any:
    """The seed paper's layout in ``folder``: ``embd_{stem}_{split}.npy`` (N, K, D) float32 and
    ``reward_{stem}_{split}.npy`` (N, K, 1), golden reward = embedding @ w + noise; returns ``w``."""
    import numpy as np

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d) / np.sqrt(d)
    for split, n in (("train", n_train), ("test", n_test)):
        emb = rng.normal(size=(n, k, d)).astype(np.float32)
        reward = emb.astype(np.float64) @ w + noise * rng.normal(size=(n, k))
        np.save(folder / f"embd_{stem}_{split}.npy", emb)
        np.save(folder / f"reward_{stem}_{split}.npy", reward[:, :, None])
    return w


def _fixture_answers() -> list[str]:
    """Every response string of the RewardBench 2 fixture rows, in order (all in the tiny vocabularies)."""
    return [s for row in RB2_ROWS for s in (*row["chosen"], *row["rejected"])]


def write_rewardbench2_every_subset(path: str | Path) -> Path:
    """RewardBench 2 rows for all six subsets, re-using the fixture's own sentences: two best-of-4
    items per subset, and Ties as one prompt's ``ref:1`` item (1 correct) and ``tied:1`` item (3)."""
    answers = _fixture_answers()
    rows, start = [], 0
    for subset in ("Factuality", "Precise IF", "Math", "Safety", "Focus"):
        for n in range(2):
            picked = [answers[(start + i) % len(answers)] for i in range(4)]
            start += 3
            rows.append({"id": f"{subset.lower().replace(' ', '-')}-{n}", "subset": subset,
                         "prompt": RB2_ROWS[n % 2]["prompt"], "chosen": picked[:1], "rejected": picked[1:],
                         "num_correct": 1, "num_incorrect": 3, "total_completions": 4,
                         "models": [f"model-{i}" for i in range(4)]})
    ties = RB2_ROWS[2]
    for rid, chosen in (("ref:1", ties["chosen"][:1]), ("tied:1", ties["chosen"])):
        rows.append({"id": rid, "subset": "Ties", "prompt": ties["prompt"], "chosen": chosen,
                     "rejected": ties["rejected"], "num_correct": len(chosen),
                     "num_incorrect": len(ties["rejected"]),
                     "total_completions": len(chosen) + len(ties["rejected"]),
                     "models": [f"model-{i}" for i in range(len(chosen) + len(ties["rejected"]))]})
    return write_rows(path, rows)


def write_rewardbench_every_section(path: str | Path) -> Path:
    """RewardBench v1 ``filtered`` rows with a subset in each of Chat, Chat Hard, Safety, Reasoning:
    the fixture rows plus a ``llmbar-natural`` pair re-using their sentences."""
    first, second = RB1_ROWS[0], RB1_ROWS[1]
    extra = {"id": 9001, "subset": "llmbar-natural", "prompt": second["prompt"], "chosen": second["chosen"],
             "chosen_model": "model-a", "rejected": first["rejected"], "rejected_model": "model-b"}
    return write_rows(path, [*RB1_ROWS, extra])
