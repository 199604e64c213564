"""Publish embedding sets: a release folder and its dataset card.

* :func:`publish` writes a release folder (manifest, verified copies, dataset card ``README.md``);
  :func:`write_card` writes the card into an existing set without touching a hashed file.
* The card (:func:`render_card`) names the ``rewardheads embed`` command that rebuilds the set
  (:func:`build_command`) and its BibTeX (:func:`harness.cite.set_bibtex`); sets are fetched
  back with :func:`harness.fetch.fetch`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tomllib
from pathlib import Path
from typing import Any

from harness.cite import set_bibtex
from harness.embedset import MANIFEST, EmbeddingSet, resolve_set
from harness.errors import HarnessError
from harness.fetch import hub_repo_id, manifest_files
from harness.fileio import atomic_write_bytes, sha256_file
from harness.paths import repo_path

CARD = "README.md"


class PublishError(HarnessError):
    """A release folder or dataset card that cannot be written."""


def publish(set_ref: str | os.PathLike, out: str | os.PathLike, *, repo: str | None = None,
            progress: bool = True) -> Path:
    """Write a release folder: ``manifest.json``, verified copies of every file, ``README.md``.

    The set is verified first, every copy is hashed again. ``out`` must be absent or empty; it
    is assembled beside itself and renamed into place. It is the root of the dataset repository
    (``hf upload --repo-type dataset REPO OUT``) or of a static host (``fetch --from URL``).
    """
    path = resolve_set(set_ref)
    emb = EmbeddingSet.open(path)
    emb.verify(progress=progress)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PublishError(f"{out}: exists and is not an empty folder")
    tmp = out.with_name(f".{out.name}.publishing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for rel, info in manifest_files(emb.manifest):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path / rel, tmp / rel)
            if sha256_file(tmp / rel) != info["sha256"]:
                raise PublishError(f"{rel}: the copy does not match the manifest (changed?)")
        shutil.copyfile(path / MANIFEST, tmp / MANIFEST)
        (tmp / CARD).write_text(render_card(emb, repo=repo))
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def write_card(set_path: str | os.PathLike, repo: str | None = None) -> Path:
    """Write the dataset card ``README.md`` into a set folder; no hashed file changes."""
    emb = EmbeddingSet.open(set_path)
    if any(rel == CARD for rel, _ in manifest_files(emb.manifest)):
        raise PublishError(f"{set_path}: the manifest lists a {CARD}; not overwriting it")
    return atomic_write_bytes(emb.path / CARD, render_card(emb, repo=repo).encode())


_LICENSE_IDS = {"mit", "apache-2.0", "odc-by", "odbl", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0",
                "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-3.0", "cc-by-sa-3.0", "llama2", "llama3",
                "gpl-3.0", "bsd-3-clause", "openrail"}
_FLAG_KEYS = ("model", "model_label", "gguf_file", "revision", "layer", "dtype", "device",
              "max_length", "batch_tokens", "store_dtype")


def license_id(text: str) -> str:
    """A Hub licence id from a manifest's licence text (``"ODC-BY (...)"`` → ``odc-by``)."""
    head = re.split(r"[\s(;,]", text.strip(), maxsplit=1)[0].lower()
    return head if head in _LICENSE_IDS else "other"


def build_command(emb: EmbeddingSet) -> dict[str, Any]:
    """The ``rewardheads embed`` command that rebuilds a set, from its manifest.

    With a sibling recipe ``<parent>/<name>-<version>.toml`` (or ``<name>.toml``) whose name,
    version and splits match (the set's held-out splits come from the recipe's), the
    command uses ``--recipe`` (plus flags for options that differ) and the recipe is returned
    verbatim; otherwise every split becomes ``--split SPLIT=DATASET[:FILES]@N`` (the limit is
    applied after decontamination, so ``N`` = rows or test items reproduces the set).
    """
    from dataclasses import asdict, fields

    from harness.embed import BuildConfig

    m = emb.manifest
    build = {k: v for k, v in m.get("build", {}).items() if k in {f.name for f in fields(BuildConfig)}}
    # defaults as resolved for this build's device (batch_tokens depends on it)
    defaults = asdict(BuildConfig(name="", version="", model="", device=build.get("device", "cpu")))
    recipe_file, recipe = emb.path.parent / f"{emb.name}.toml", None
    for candidate in (emb.path.parent / f"{emb.name}-{emb.version}.toml", recipe_file):
        recipe = _matching_recipe(candidate, m)
        if recipe:
            recipe_file = candidate
            break
    options = recipe[1] if recipe else {}
    flags = []
    for key in _FLAG_KEYS:  # without a recipe every option is spelled out
        baseline = options.get(key, defaults[key]) if recipe else None
        if build.get(key) is not None and build[key] != baseline:
            flags += [f"--{key.replace('_', '-')}", str(build[key])]
    args = ["rewardheads", "embed"]
    if recipe:
        in_repo = emb.path.parent.resolve() == repo_path("sets").resolve()
        args += ["--recipe", f"sets/{recipe_file.name}" if in_repo else recipe_file.name,
                 "--data-dir", "DATA", *flags]
    else:
        args += ["--name", emb.name, "--version", emb.version, *flags]
        for split_name, s in m["splits"].items():
            spec = f"{split_name}={s.get('dataset', '?')}"
            if files := (s.get("source") or {}).get("data_files"):
                spec += ":" + ",".join(f"DATA/{f}" for f in files)
            args += ["--split", f"{spec}@{s['items'] if s['kind'] == 'test' else s['rows']}"]
    args += ["--out", "sets"]
    extra = {k: v for k, v in build.items() if k not in _FLAG_KEYS
             and v != options.get(k, defaults[k])}
    return {
        "command": shlex.join(args), "recipe": recipe[0].rstrip("\n") if recipe else None,
        "recipe_path": args[3] if recipe else None,
        "extra_options": "; ".join(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
        "data_note": "DATA is the recipe's `{data_dir}`: the folder holding the source files."
                     if recipe else "DATA is the folder holding the source files named under "
                     "Sources (their SHA-256 is in the manifest).",
    }


def _matching_recipe(file: Path, manifest: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    if not file.is_file():
        return None
    text = file.read_text()
    try:
        options = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    splits = sorted(str(s.get("split")) for s in options.pop("splits", []))
    built = sorted(n for n, s in manifest["splits"].items() if not s.get("held_out_of"))
    if (options.get("name"), str(options.get("version"))) != (
            manifest["name"], str(manifest["version"])) or splits != built:
        return None
    return text, options


def render_card(emb: EmbeddingSet, repo: str | None = None) -> str:
    """The dataset card of a set (YAML front matter + Markdown), rendered from its manifest."""
    import jinja2

    m, cell = emb.manifest, (lambda x: str(x).replace("|", "\\|"))
    splits = []
    for name, s in m["splits"].items():
        src = s.get("source") or {}
        files = src.get("data_files")
        splits.append({
            "name": name, "kind": s["kind"], "rows": s["rows"], "n_items": s.get("items", ""),
            "bytes": sum(f["bytes"] for f in s["files"].values()),
            "truncated": s.get("truncated", "n/a"),
            "decontaminated": s.get("decontaminated", "n/a"),
            "dataset": cell(src.get("dataset", s.get("dataset", "?"))),
            # rows read from local files carry the schema of the hub split, not necessarily its rows
            "source_split": (f"{cell(src['split'])} (local copy)" if src.get("split") else
                             "local files in its schema") if src.get("data_files") else cell(src.get("split", "")),
            "held_out_of": s.get("held_out_of"), "holdout": s.get("holdout"),
            "suite": s.get("suite"), "malformed": s.get("malformed_skipped") or 0,
            "overlaps_heldout": s.get("overlaps_heldout") or 0,
            "license": cell(src.get("license") or "unknown"),
            "files": ", ".join(f"`{k}` (sha256 `{v[:16]}`)" for k, v in files.items()) if files
            else f"revision `{src.get('revision', '?')}`",
        })
    total_rows = sum(s["rows"] for s in splits)
    total_bytes = sum(s["bytes"] for s in splits)
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
              (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")]
    size_category = next((label for bound, label in bounds if total_rows < bound), "n>10M")
    licenses = [str((s.get("source") or {}).get("license") or "unknown")
                for s in m["splits"].values()]
    model = m.get("model") or {}
    keys = ("id", "source", "revision", "gguf_file", "model_type", "layer", "pooling", "dtype",
            "chat_template", "chat_template_sha256")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["q"] = lambda s: json.dumps(str(s), ensure_ascii=False)
    return env.get_template("dataset_card.md.j2").render(
        ref=emb.ref, pretty_name=f"RewardHeads embedding set {emb.ref}",
        license_ids=list(dict.fromkeys(license_id(x) for x in licenses)),
        tags=["rewardheads", "reward-modeling", "embeddings", "preference"],
        size_category=size_category, manifest_sha256=emb.manifest_sha256,
        repo=hub_repo_id(emb.name, repo), model={"id": model.get("id", "an unrecorded model")},
        model_rows=[(k, cell(model[k])) for k in keys if model.get(k) is not None],
        dim=emb.dim, splits=splits, total_rows=total_rows, total_bytes=total_bytes,
        total_human=_human(total_bytes), truncation=m.get("truncation"),
        decontaminated=sum(s.get("decontaminated") or 0 for s in m["splits"].values()),
        created=m.get("created", "?"), harness_version=m.get("harness_version", "?"),
        bibtex=set_bibtex(emb, repo), row_ids=_source_row_ids(emb), **build_command(emb),
    )


def _ranges(values: list[int]) -> str:
    """``1-3, 7, 9-10`` for sorted integers."""
    out, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            out.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ", ".join(out)


def _source_row_ids(emb: EmbeddingSet) -> list[tuple[str, str, int]]:
    """Per split sampled from a larger source (UltraFeedback), the rows' ``source_index`` values,
    so anyone with hub access can select the same rows: ``[(split, ranges, count)]``."""
    out = []
    for name, s in emb.manifest["splits"].items():
        if "ultrafeedback" not in str((s.get("source") or {}).get("dataset", "")).lower():
            continue
        ids = emb.split(name).meta["id"].astype(str)
        numbers = sorted({int(i[3:]) for i in ids if i.startswith("uf-") and i[3:].isdigit()})
        if numbers:
            out.append((name, _ranges(numbers), len(numbers)))
    return out


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""  # unreachable
