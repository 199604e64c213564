"""Shared pytest fixtures: tiny real objects, written by the tests themselves.

Nothing here touches the network or ``../shared``: the Hugging Face libraries are put in
offline mode and ``datasets`` gets a throw-away cache folder for the session.

Fixtures (see each docstring):

- ``fixture_data``      (session) every supported hub schema written as small local files
- ``tiny_llama``        (session) a 2-layer, 32-wide ``LlamaModel`` + tokenizer with a chat template
- ``tiny_bert``         (session) a 2-layer, 32-wide ``BertModel`` + ``[CLS]/[SEP]`` tokenizer
- ``make_set``          factory: a synthetic embedding set written by ``SetWriter`` in ``tmp_path``
- ``synthetic_set``     one such set (6 test items, 12 training pairs, d=8, float32)
- ``tiny_set``          (module) ``tests/tinyset.py``'s RewardBench-like set, opened
- ``isolation``         each sandbox level in turn: "bwrap" (required in CI) and "process"

The writers behind them live in ``tests/fixtures_data.py`` (importable as ``fixtures_data``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# -- no network, no writes to the user's caches (set before any HF library is imported) ----------
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ[_var] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
if "HF_DATASETS_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="rewardheads-tests-datasets-")
    os.environ["HF_DATASETS_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
if "REWARDHEADS_CACHE" not in os.environ:  # the embedding cache and unpacked model zips
    _rh_cache = tempfile.mkdtemp(prefix="rewardheads-tests-cache-")
    os.environ["REWARDHEADS_CACHE"] = _rh_cache
    atexit.register(shutil.rmtree, _rh_cache, ignore_errors=True)

import fixtures_data  # noqa: E402  (tests/ is on sys.path: pytest inserts the conftest's folder)


@pytest.fixture(scope="session")
def fixture_data(tmp_path_factory) -> dict[str, Path | list[Path]]:
    """Every schema ``harness.data`` reads, written once as local files (do not modify them).

    Keys: ``rewardbench``, ``rewardbench2``, ``prior-sets`` (a list of two files), ``hh-rlhf``
    (``.jsonl.gz``), ``ultrafeedback`` (H4 message-list schema), ``ultrafeedback-flat``
    (strings + ``metadata``), ``helpsteer2``, ``skywork``. The rows are the constants in
    ``fixtures_data`` (``RB1_ROWS``, ``HH_ROWS`` ...), so tests can compare against them.
    """
    return fixtures_data.write_all(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A local model folder: random ``LlamaModel`` (hidden 32, 2 layers, seed 0) + tokenizer.

    The tokenizer is a WordLevel one trained on the fixture texts, with ``<s>``, ``</s>``,
    ``<pad>`` and the chat template ``fixtures_data.LLAMA_CHAT_TEMPLATE``. Read-only: copy it
    before changing anything.
    """
    return fixtures_data.write_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A local encoder folder: random ``BertModel`` (hidden 32, 2 layers) + a tokenizer that
    adds ``[CLS] .. [SEP]`` and has no chat template (the builder's fallback template applies)."""
    return fixtures_data.write_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture
def make_set(tmp_path):
    """Factory: ``make_set(**options) -> Path`` of a committed synthetic set under ``tmp_path``.

    Options are those of ``fixtures_data.write_synthetic_set`` (name, version, dim, test_items,
    responses_per_item, train_pairs, dtype, seed, ...); ``root`` defaults to ``tmp_path/"sets"``.
    Chosen embeddings are shifted along a fixed direction, so a linear head can learn them.
    """

    def make(**options) -> Path:
        options.setdefault("root", tmp_path / "sets")
        return fixtures_data.write_synthetic_set(**options)

    return make


@pytest.fixture
def synthetic_set(make_set) -> Path:
    """A small synthetic set ``tiny-1`` (rewardbench test split + ``train/synthetic`` pairs)."""
    return make_set()


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    """A small RewardBench-like set with a learnable direction (``tests/tinyset.py``), opened."""
    from harness.embedset import EmbeddingSet
    from tests.tinyset import make_tiny_set

    return EmbeddingSet.open(make_tiny_set(tmp_path_factory.mktemp("sets")))


@pytest.fixture(params=["bwrap", "process"])
def isolation(request):
    """Each isolation level; bubblewrap's tests fail instead of skipping where CI requires it."""
    if request.param == "bwrap":
        from tests.systools import require_bwrap

        require_bwrap()
    return request.param
