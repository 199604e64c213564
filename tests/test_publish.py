"""fetch / publish / cite: a tiny set is published, served by a real HTTP server, fetched back.

Offline: the server is ``http.server.ThreadingHTTPServer`` on 127.0.0.1 in a thread. It
serves a release folder at ``/<path>`` and at the Hub's ``/datasets/<repo>/resolve/<rev>/<path>``
routes, honours ``Range: bytes=N-``, and can cut a transfer short once or flip a byte.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import harness.paths
from harness import __version__
from harness import fetch as fetching
from harness import publish as pub
from harness.cli import main
from harness.embedset import EmbeddingSet, EmbeddingSetError, SetWriter, resolve_set

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RECIPE = """# Recipe of the tiny test set.
name = "tiny"
version = "1"
model = "hf-internal/tiny"
model_label = "tiny-model | test"
revision = "abc123"
dtype = "float32"
max_length = 64

[[splits]]
split = "rewardbench"
dataset = "rewardbench"
data_files = ["{data_dir}/rb/filtered.jsonl"]

[[splits]]
split = "train/hh"
dataset = "hh-rlhf"
data_files = ["{data_dir}/hh/helpful-base_test.jsonl.gz"]
limit = 6
"""


def make_tiny_set(root: Path, *, name: str = "tiny", version: str = "1", dim: int = 8,
                  pairs: int = 6, items: int = 4, seed: int = 0, recipe: bool = False,
                  pair_splits: tuple[str, ...] = ("train/hh",)) -> Path:
    """Write a committed set ``<root>/<name>-<version>`` with random float16 arrays.

    ``pair_splits`` (default ``train/hh``) and a ``rewardbench`` test split, with the fields the
    builder records (model, build, truncation, per-split source/decontaminated/truncated).
    ``recipe=True`` also writes the sibling recipe ``<root>/<name>.toml``.
    """
    rng = np.random.default_rng(seed)

    def emb(n: int) -> np.ndarray:
        return rng.standard_normal((n, dim)).astype(np.float16)

    writer = SetWriter(
        root, name, version,
        model={"id": "tiny-model | test", "source": "hf-internal/tiny", "revision": "abc123",
               "layer": -1, "pooling": "last_token", "dtype": "float32"},
        build={"model": "hf-internal/tiny", "model_label": "tiny-model | test", "gguf_file": None,
               "revision": "abc123", "layer": -1, "dtype": "float32", "device": "cpu",
               "max_length": 64, "batch_tokens": 2048, "max_batch": 64, "store_dtype": "float16",
               "shuffle_seed": 0, "chunk_texts": 256, "causal": None},
        truncation={"max_length": 64, "side": "left", "texts": 3, "prompt_lost": 1,
                    "total_texts": 2 * pairs + 2 * items},
    )
    meta = pd.DataFrame({"id": [f"p{i}" for i in range(pairs)], "subset": "helpful",
                         "prompt_tokens": 5, "chosen_tokens": 7, "rejected_tokens": 6,
                         "truncated": False})
    hh = {"dataset": "Anthropic/hh-rlhf", "split": "train", "license": "MIT",
          "data_files": {"helpful-base_test.jsonl.gz": "a" * 64}}
    for split in pair_splits:
        writer.add_pairs(split, chosen=emb(pairs), rejected=emb(pairs), prompt=emb(pairs),
                         meta=meta, objectives=[], dataset="hh-rlhf", decontaminated=2,
                         truncated=1, source=hh)
    n = 2 * items
    test_meta = pd.DataFrame({"row": np.arange(n), "item": np.repeat(np.arange(items), 2),
                              "id": [f"t{i // 2}" for i in range(n)], "subset": "chat",
                              "prompt_tokens": 5, "response_tokens": 8, "truncated": False})
    writer.add_test("rewardbench", suite="rewardbench-v1", response=emb(n), prompt=emb(n),
                    meta=test_meta, chosen=np.tile([True, False], items), dataset="rewardbench",
                    decontaminated=0, truncated=2, shuffle_seed=0,
                    source={"dataset": "allenai/reward-bench", "split": "filtered",
                            "license": "ODC-BY (subsets keep their sources' terms)",
                            "data_files": {"filtered.jsonl": "b" * 64}})
    path = writer.commit()
    if recipe:
        (root / f"{name}.toml").write_text(RECIPE)
    return path


class Server:
    """A release folder over HTTP, with the Hub's resolve routes, Range, and injected faults."""

    def __init__(self, root: Path):
        self.root = root
        self.log: list[tuple[str, str, str | None]] = []  # (method, path, Range header)
        self.cut_once: set[str] = set()  # files whose next full GET stops halfway
        self.corrupt: set[str] = set()  # files served with their last byte flipped
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                state.serve(self, head=True)

            def do_GET(self) -> None:
                state.serve(self, head=False)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def serve(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = urllib.parse.unquote(h.path.split("?")[0])
        hub = re.fullmatch(r"/datasets/[^/]+/[^/]+/resolve/([^/]+)/(.+)", path)
        rel = hub.group(2) if hub else path.lstrip("/")
        rng = h.headers.get("Range")
        self.log.append((h.command, path, rng))
        file = self.root / rel
        if ".." in rel.split("/") or not file.is_file():
            h.send_error(404)
            return
        data = bytearray(file.read_bytes())
        if rel in self.corrupt:
            data[-1] ^= 0xFF
        start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1)) if rng else 0
        body = bytes(data[start:])
        h.send_response(206 if rng else 200)
        if rng:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.send_header("Content-Length", str(len(body)))
        h.send_header("Accept-Ranges", "bytes")
        if hub:
            h.send_header("X-Repo-Commit", COMMIT)
            h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.end_headers()
        if head:
            return
        if rel in self.cut_once:
            self.cut_once.discard(rel)
            body = body[: len(body) // 2]  # then the connection closes: a short transfer
        h.wfile.write(body)

    def gets(self, suffix: str) -> list[tuple[str, str, str | None]]:
        """The GET requests whose path ends with ``suffix``."""
        return [r for r in self.log if r[0] == "GET" and r[1].endswith(suffix)]


@pytest.fixture
def tiny(tmp_path) -> Path:
    """A tiny set in ``tmp_path/sets`` with a sibling recipe."""
    return make_tiny_set(tmp_path / "sets", recipe=True)


@pytest.fixture
def release(tiny, tmp_path) -> Path:
    """The tiny set published to ``tmp_path/release``."""
    return pub.publish(tiny, tmp_path / "release", progress=False)


@pytest.fixture
def server(release) -> Iterator[Server]:
    """The release folder served on 127.0.0.1."""
    srv = Server(release)
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """``REWARDHEADS_CACHE`` pointed at ``tmp_path/cache``; no retry delay."""
    monkeypatch.setenv("REWARDHEADS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(fetching, "RETRY_DELAY", 0.0)
    return tmp_path / "cache"


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


# -- publish and the dataset card ---------------------------------------------------------------
def test_publish_writes_a_verified_release_with_a_card(tiny, tmp_path, capsys):
    out = tmp_path / "release"
    assert main(["publish", str(tiny), "--out", str(out), "--no-progress"]) == 0
    assert "hf upload --repo-type dataset rewardheads/rewardheads-tiny" in capsys.readouterr().out
    original = EmbeddingSet.open(tiny)
    assert (out / "manifest.json").read_bytes() == (tiny / "manifest.json").read_bytes()
    for rel, _ in fetching.manifest_files(original.manifest):
        assert (out / rel).read_bytes() == (tiny / rel).read_bytes()
    assert EmbeddingSet.open(out).verify() == 8
    card = (out / "README.md").read_text()
    front = _front_matter(card)
    assert front["license"] == ["odc-by", "mit"]
    assert front["pretty_name"] == "RewardHeads embedding set tiny@1"
    assert front["size_categories"] == ["n<1K"] and "rewardheads" in front["tags"]
    assert '- "n<1K"' in card and "built-in" not in card
    for section in ("What it is", "How it was built", "Model", "Sizes",
                    "Truncation and decontamination", "Sources", "Citation"):
        assert f"\n## {section}\n" in card
    assert "rewardheads embed --recipe tiny.toml --data-dir DATA --out sets" in card
    assert RECIPE.strip() in card  # verbatim
    assert "| revision | `abc123` |" in card and "tiny-model \\| test" in card
    assert "3 of 20" in card and "| `train/hh` | pairs | 6 |  | 4586 | 1 | 2 |" in card
    assert "| `rewardbench` | test | 8 | 4 |" in card
    assert original.manifest_sha256 in card
    bib = re.search(r"```bibtex\n(.*?)```", card, re.S).group(1)
    assert parse_bibtex(bib)[0][1] == "rewardheads-set-tiny-1"
    # a non-empty --out is refused with one line
    assert main(["publish", str(tiny), "--out", str(out), "--no-progress"]) == 2
    assert "not an empty folder" in capsys.readouterr().err


def test_write_card_changes_no_hashed_file(tmp_path):
    path = make_tiny_set(tmp_path / "sets")  # no sibling recipe: the command is spelled out
    before = EmbeddingSet.open(path).manifest_sha256
    pub.write_card(path)
    emb = EmbeddingSet.open(path)
    assert emb.verify() == 8 and emb.manifest_sha256 == before
    assert "README.md" not in {rel for rel, _ in fetching.manifest_files(emb.manifest)}
    card = (path / "README.md").read_text()
    command = re.search(r"```bash\n(.*?)\n```", card, re.S).group(1)
    assert command.startswith("rewardheads embed --name tiny --version 1 --model hf-internal/tiny")
    assert "--split rewardbench=rewardbench:DATA/filtered.jsonl@4" in command
    assert "--split train/hh=hh-rlhf:DATA/helpful-base_test.jsonl.gz@6" in command
    assert "--revision abc123" in command and "--max-length 64" in command
    assert "--model-label 'tiny-model | test'" in command
    assert "```toml" not in card


def test_card_of_a_set_built_from_the_bundled_recipe(tmp_path, monkeypatch):
    sets = tmp_path / "sets"
    path = make_tiny_set(sets, name="mini", pair_splits=(
        "train/hh-helpful", "train/hh-harmless", "train/ultrafeedback"))
    recipe = harness.paths.repo_path("sets", "mini-1.toml").read_text()  # read only
    (sets / "mini-1.toml").write_text(recipe)
    monkeypatch.setattr(pub, "repo_path", lambda *parts: tmp_path.joinpath(*parts))
    pub.write_card(path)
    card = (path / "README.md").read_text()
    assert "rewardheads embed --recipe sets/mini-1.toml --data-dir DATA --model hf-internal/tiny" \
        in card  # the recipe's options that this (fake) set does not share become flags
    assert recipe.strip() in card


# -- fetch --------------------------------------------------------------------------------------
def test_round_trip_over_http(tiny, server, cache):
    assert main(["fetch", "tiny@1", "--from", server.url, "--no-progress"]) == 0
    path = resolve_set("tiny@1")
    assert path == cache / "sets" / "tiny-1"
    emb = EmbeddingSet.open(path)
    assert emb.verify() == 8
    assert emb.manifest_sha256 == EmbeddingSet.open(tiny).manifest_sha256
    assert not (cache / "sets" / "tiny-1.partial").exists()
    assert not list(path.rglob("*.part"))
    requests = len(server.log)
    assert main(["fetch", "tiny@1", "--from", server.url, "--no-progress"]) == 0  # cached
    assert len(server.log) == requests


def test_interrupted_download_resumes_with_a_range_request(server, cache):
    victim = "train/hh/chosen.npy"
    server.cut_once.add(victim)
    with pytest.raises(fetching.FetchError, match="run the same fetch again to resume"):
        fetching.fetch("tiny@1", server.url, retries=0, progress=False)
    partial = cache / "sets" / "tiny-1.partial"
    assert not (cache / "sets" / "tiny-1").exists()
    part = partial / (victim + ".part")
    assert 0 < part.stat().st_size < (server.root / victim).stat().st_size
    kept = part.stat().st_size
    path = fetching.fetch("tiny@1", server.url, retries=0, progress=False)
    assert EmbeddingSet.open(path).verify() == 8
    assert [r[2] for r in server.gets(victim)] == [None, f"bytes={kept}-"]
    assert len(server.gets("rewardbench/response.npy")) == 1  # verified files are not fetched again


def test_interrupted_transfer_is_retried_within_one_fetch(server, cache):
    server.cut_once.add("rewardbench/prompt.npy")
    path = fetching.fetch("tiny@1", server.url, retries=1, progress=False)
    assert EmbeddingSet.open(path).verify() == 8
    assert [r[2] is not None for r in server.gets("rewardbench/prompt.npy")] == [False, True]


def test_corrupted_file_is_refused_and_nothing_looks_complete(server, cache, capsys):
    server.corrupt.add("rewardbench/response.npy")
    assert main(["fetch", "tiny@1", "--from", server.url, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rewardbench/response.npy" in err and "corrupted" in err
    assert not (cache / "sets" / "tiny-1").exists()
    assert not list((cache / "sets").rglob("response.npy*"))
    with pytest.raises(EmbeddingSetError, match="not found"):
        resolve_set("tiny@1")
    server.corrupt.clear()
    assert main(["fetch", "tiny@1", "--from", server.url, "--no-progress"]) == 0
    assert EmbeddingSet.open(resolve_set("tiny@1")).verify() == 8
    assert len(server.gets("rewardbench/labels.parquet")) == 1


def test_fetch_from_a_local_path(tiny, release, cache):
    assert main(["fetch", "tiny@1", "--from", str(release), "--no-progress"]) == 0
    assert EmbeddingSet.open(resolve_set("tiny@1")).verify() == 8
    # a folder holding <name>-<version>/ works too, into another cache
    other = cache.parent / "cache2"
    path = fetching.fetch("tiny@1", str(tiny.parent), cache=other, progress=False)
    assert path == other / "sets" / "tiny-1" and EmbeddingSet.open(path).verify() == 8


def test_fetch_refusals(server, cache, capsys):
    expected = hashlib.sha256((server.root / "manifest.json").read_bytes()).hexdigest()
    with pytest.raises(fetching.FetchError, match="manifest SHA-256"):
        fetching.fetch("tiny@1", server.url, manifest_sha256="0" * 64, progress=False)
    assert main(["fetch", "other@1", "--from", server.url, "--no-progress"]) == 2
    assert "holds tiny@1, not other@1" in capsys.readouterr().err
    assert main(["fetch", "tiny", "--from", server.url]) == 2
    assert main(["fetch", "tiny@1", "--from", server.url, "--revision", "v1"]) == 2
    assert fetching.fetch("tiny@1", server.url, manifest_sha256=expected, progress=False).is_dir()


def test_fetch_from_the_hub_routes_of_a_local_endpoint(server, cache, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # conftest sets it
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    path = fetching.fetch("tiny@1", progress=False)
    assert EmbeddingSet.open(path).verify() == 8
    assert not (path / ".hub").exists()
    assert ("HEAD", "/datasets/rewardheads/rewardheads-tiny/resolve/v1/manifest.json", None) \
        in server.log
    files = [r for r in server.log if r[0] == "GET" and "manifest" not in r[1]]
    assert len(files) == 8 and all(f"/resolve/{COMMIT}/" in r[1] for r in files)
    # the same verification refuses a corrupted file from the hub
    server.corrupt.add("train/hh/meta.parquet")
    with pytest.raises(fetching.FetchError, match="train/hh/meta.parquet: corrupted"):
        fetching.fetch("tiny@1", cache=cache / "other", repo="acme/tiny", revision="main",
                       progress=False)
    assert not (cache / "other" / "sets" / "tiny-1").exists()


# -- cite ---------------------------------------------------------------------------------------
def parse_bibtex(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """A strict little BibTeX reader: ``@type{key, name = {value}, ...}`` entries only.

    Braces are counted as BibTeX counts them (a backslash does not escape one); a value must
    not hold an unescaped ``& % $ # _``; keys must be unique.
    """
    entries, pos, keys = [], 0, set()
    space, head = re.compile(r"\s*"), re.compile(r"@(\w+)\{([A-Za-z0-9_.:-]+),")
    field = re.compile(r"([a-z]+)\s*=\s*\{")
    while (pos := space.match(text, pos).end()) < len(text):
        m = head.match(text, pos)
        assert m, f"no entry at {text[pos:pos + 40]!r}"
        kind, key = m.groups()
        assert key not in keys, f"duplicate key {key}"
        keys.add(key)
        pos, fields = m.end(), {}
        while not text.startswith("}", pos := space.match(text, pos).end()):
            f = field.match(text, pos)
            assert f, f"bad field at {text[pos:pos + 40]!r}"
            depth, start, pos = 1, f.end(), f.end()
            while depth:
                assert pos < len(text), f"unbalanced braces in {key}.{f.group(1)}"
                depth += (text[pos] == "{") - (text[pos] == "}")
                pos += 1
            value = text[start:pos - 1]
            if f.group(1) != "url":
                assert not re.search(r"(?<!\\)[&%$#_]", value), f"unescaped in {value!r}"
            assert f.group(1) not in fields
            fields[f.group(1)] = value
            pos = space.match(text, pos).end()
            pos += text.startswith(",", pos)
        entries.append((kind, key, fields))
        pos += 1
    return entries


def _record(name: str, version: str, set_sha: str, mean: float) -> dict:
    return {
        "schema": 1,
        "submission": {"name": name, "version": version, "sha256": "c" * 64,
                       "authors": ["Ada Lovelace", "R&D Team"],
                       "links": {"code": "https://example.org/x_y"}},
        "set": {"name": "tiny", "version": "1", "manifest_sha256": set_sha},
        "harness": "0.1.0", "suite": "rewardbench-v1", "seeds": [0], "status": "ok",
        "error": None, "isolation": "process", "created": "2026-06-01T12:00:00+00:00",
        "command": "rewardheads run", "subsets": {}, "sections": {},
        "overall": {"mean": mean, "std": None, "ci95": None, "per_seed": [mean],
                    "label": "overall"},
    }


def test_cite_prints_valid_bibtex(tiny, tmp_path, capsys):
    sha = EmbeddingSet.open(tiny).manifest_sha256
    results = tmp_path / "results"
    results.mkdir()
    for file, name, version, set_sha in (("a", "bt_mlp+v2", "1.0 {rc} & 50% #1", sha),
                                         ("b", "bt_mlp-v2", "1.0-rc-50-1", sha),
                                         ("c", "knn", "2", "d" * 64)):
        (results / f"{file}.json").write_text(json.dumps(_record(name, version, set_sha, 0.75)))
    assert main(["cite", "a", "b", "c", "--results", str(results), "--set", str(tiny)]) == 0
    out, err = capsys.readouterr()
    entries = parse_bibtex(out)
    assert [e[1] for e in entries] == ["rewardheads", "rewardheads-bt_mlp-v2-1.0-rc-50-1",
                                       "rewardheads-bt_mlp-v2-1.0-rc-50-1-2", "rewardheads-knn-2"]
    bench = entries[0][2]
    assert sha in bench["note"] and __version__ in bench["note"] and "tiny@1" in bench["note"]
    first = entries[1][2]
    assert r"\textbraceleft{}rc\textbraceright{} \& 50\% \#1" in first["title"]
    assert "overall mean 0.7500" in first["note"] and "c" * 64 in first["note"]
    assert first["author"] == r"Ada Lovelace and R\&D Team" and first["year"] == "2026"
    assert "scored on tiny@1 (manifest dddddddddddddddd)" in err  # c.json: another set


def test_cite_without_a_set_or_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(harness.paths, "default_set_path", lambda: tmp_path / "absent")
    assert main(["cite"]) == 0
    out, err = capsys.readouterr()
    [(_, key, fields)] = parse_bibtex(out)
    assert key == "rewardheads" and "manifest" not in fields["note"]
    assert "warning: no set to pin" in err
    assert main(["cite", "nobody", "--results", str(tmp_path)]) == 2
    assert "nobody.json: no such result file" in capsys.readouterr().err
