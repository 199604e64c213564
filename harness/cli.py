"""The ``rewardheads`` command line. Every error of ours is printed as one line."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tomllib
from pathlib import Path

from harness import __version__
from harness.errors import HarnessError
from harness.sandbox import shown_path
from harness.textsafe import terminal

COMMANDS: dict[str, tuple[str, callable]] = {}


def command(name: str, help_text: str):
    """Register ``fn(args)`` as a sub-command; its ``add_arguments`` attribute sets its flags."""

    def register(fn):
        COMMANDS[name] = (help_text, fn)
        return fn

    return register


# -- embed / merge / verify --------------------------------------------------------------------
def _embed_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", type=Path, help="TOML recipe with the options below and [[splits]]")
    p.add_argument("--data-dir", default=".", help="value of {data_dir} in the recipe's file paths")
    p.add_argument("--name"), p.add_argument("--version")
    p.add_argument("--model", help="hub id, local folder, or package:NAME (a GGUF file in a package)")
    p.add_argument("--model-label", help="model name to record in the manifest (default: --model)")
    p.add_argument("--gguf-file"), p.add_argument("--revision")
    p.add_argument("--split", action="append", default=[], metavar="SPLIT=DATASET[#REV][:FILES][@LIMIT]",
                   help="e.g. rewardbench=rewardbench or train/hh=hh-rlhf:hh.jsonl.gz@1000 (repeatable)")
    p.add_argument("--layer", type=int, help="hidden layer to pool (-1: final, after the norm)")
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--device", help="cpu, cuda, cuda:1 ...")
    p.add_argument("--max-length", type=int, help="keep the last N tokens of longer texts")
    p.add_argument("--batch-tokens", type=int, help="padded tokens per batch")
    p.add_argument("--store-dtype", choices=["float16", "float32"])
    p.add_argument("--pooling", choices=["last_token", "mean", "cls"],
                   help="how token states become one vector (default: the model's own, else last_token "
                        "for a causal model and mean for an encoder)")
    p.add_argument("--cache", type=Path, help="embedding cache folder (default: $REWARDHEADS_CACHE/embeddings "
                                              "or ~/.cache/rewardheads/embeddings)")
    p.add_argument("--no-cache", action="store_true", help="embed every text, reuse nothing")
    p.add_argument("--shard", help="k/n: embed this share of the texts (or 'auto' under torchrun/Slurm)")
    p.add_argument("--out", type=Path, default=Path("sets"), help="folder that receives <name>-<version>/")
    p.add_argument("--keep-work", action="store_true", help="keep the chunk folder after merging")
    p.add_argument("--no-progress", action="store_true")


def _build_options(args):
    """The recipe's options and splits, overridden by the flags given: ``(options, specs)``."""
    from harness.embed import SplitSpec

    recipe = tomllib.loads(args.recipe.read_text()) if args.recipe else {}
    fields = ("limit", "revision", "holdout", "holdout_split", "suite", "subset", "source_dataset", "source_split")
    specs = []
    for index, s in enumerate(recipe.pop("splits", []), 1):
        unknown = sorted(set(s) - {"split", "dataset", "data_files", *fields})
        if unknown or "split" not in s or "dataset" not in s:
            what = f"unknown key(s) {', '.join(unknown)}" if unknown else "needs split and dataset"
            raise HarnessError(f"{args.recipe}: [[splits]] entry {index}: {what}")
        specs.append(SplitSpec(s["split"], s["dataset"], [f.format(data_dir=args.data_dir) for f in
                                                          s.get("data_files", [])],
                               **{k: s[k] for k in fields if k in s}))
    specs += [SplitSpec.parse(s) for s in args.split]
    options = {**recipe}
    for key in ("name", "version", "model", "model_label", "gguf_file", "revision", "layer", "dtype",
                "device", "max_length", "batch_tokens", "store_dtype", "pooling"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if "version" in options:
        options["version"] = str(options["version"])
    return options, specs


def _build_inputs(args):
    from harness.embed import BuildConfig

    options, specs = _build_options(args)
    for key in ("name", "version", "model"):
        if key not in options:
            raise HarnessError(f"embed: --{key} is required (or set it in the recipe)")
    return BuildConfig(**options), specs


@command("embed", "build an embedding set from datasets with a transformers model")
def cmd_embed(args) -> int:
    from harness.embed import build, parse_shard

    config, specs = _build_inputs(args)
    shard = parse_shard(args.shard)
    path = build(config, specs, args.out, shard=shard, progress=not args.no_progress, keep_work=args.keep_work,
                 log=lambda line: print(line, flush=True), cache=False if args.no_cache else args.cache)
    if path is None:
        print(f"shard {shard[0]}/{shard[1]} done; run `rewardheads merge` with the same options when all are")
    else:
        print(f"wrote {path}")
    return 0


cmd_embed.add_arguments = _embed_arguments


@command("cache-set", "add a built set's vectors to the embedding cache (give the recipe it was built from)")
def cmd_cache_set(args) -> int:
    from harness.embed import add_set_to_cache

    config, specs = _build_inputs(args)
    added = add_set_to_cache(config, specs, args.set, cache=args.cache, progress=not args.no_progress)
    print(f"added {added} texts of {args.set} to the embedding cache")
    return 0


def _cache_set_arguments(p: argparse.ArgumentParser) -> None:
    _embed_arguments(p)
    p.add_argument("set", type=Path, help="the set folder the recipe built")


cmd_cache_set.add_arguments = _cache_set_arguments


@command("merge", "assemble the shards of a sharded `embed` into the set (no model needed)")
def cmd_merge(args) -> int:
    import shutil

    from harness.embed import merge_work

    options, specs = _build_options(args)
    for key in ("name", "version"):
        if key not in options:
            raise HarnessError(f"merge: --{key} is required (or set it in the recipe)")
    work = Path(args.out) / f"{options['name']}-{options['version']}.partial"
    expect = {**options, **({"splits": [s.split for s in specs]} if specs else {})}
    path = merge_work(work, args.out, expect=expect)
    if not args.keep_work:
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {path}")
    return 0


cmd_merge.add_arguments = _embed_arguments


@command("verify", "re-hash every file of an embedding set against its manifest")
def cmd_verify(args) -> int:
    from harness.embedset import EmbeddingSet, resolve_set

    emb_set = EmbeddingSet.open(resolve_set(args.set))
    n = emb_set.verify(progress=not args.no_progress)
    print(f"{emb_set.ref}: {n} files OK (manifest sha256 {emb_set.manifest_sha256[:16]}...)")
    return 0


def _verify_arguments(p):
    p.add_argument("set", nargs="?", help="set folder or NAME@VERSION (default: the bundled set)")
    p.add_argument("--no-progress", action="store_true")


cmd_verify.add_arguments = _verify_arguments


@command("import-golden", "import the seed paper's golden-reward arrays (embd_/reward_ .npy) as an embedding set")
def cmd_import_golden(args) -> int:
    from harness.golden import import_golden

    path = import_golden(args.folder, args.out, name=args.name, version=args.version, stem=args.stem,
                         annotation_quality=args.annotation_quality, pairs_per_prompt=args.pairs_per_prompt,
                         seed=args.seed, scale=args.reward_scale, subset=args.subset)
    print(f"wrote {path}")
    return 0


def _import_golden_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path, help="folder of embd_<gen>_<embed>_<task>_{train,test}.npy and reward_*.npy")
    p.add_argument("--stem", help="<gen>_<embed>_<task> to import when the folder holds several")
    p.add_argument("--name", required=True), p.add_argument("--version", default="1")
    p.add_argument("--out", type=Path, default=Path("sets"), help="folder that receives <name>-<version>/")
    p.add_argument("--annotation-quality", type=float, default=1.0,
                   help="Bradley-Terry annotator quality; negative: perfect (the higher golden reward wins)")
    p.add_argument("--pairs-per-prompt", type=int, default=10, help="training pairs drawn per training prompt")
    p.add_argument("--seed", type=int, default=0, help="seed of the pairs, their labels and the test-row order")
    p.add_argument("--reward-scale", default="std",
                   help="unit of reward differences: 'std' of the training rewards (the paper's code) or a number")
    p.add_argument("--subset", help="subset name of the test rows (default: the stem's task)")


cmd_import_golden.add_arguments = _import_golden_arguments


# -- run / validate / new ---------------------------------------------------------------------
def _limits(args):
    from harness.sandbox import Limits

    return Limits(memory_mb=args.memory_mb, cpu_s=args.timeout_s, wall_s=args.timeout_s)


def _sandbox_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--isolation", default="auto", choices=["auto", "bwrap", "process"],
                   help="bwrap (namespaces) where available, else a plain process with rlimits")
    p.add_argument("--memory-mb", type=int, default=6144, help="address-space limit per process")
    p.add_argument("--timeout-s", type=int, default=900, help="wall-clock and CPU-time limit per process")


def _seed_list(text: str | None) -> list[int] | None:
    """``--seeds 5`` is seeds 0..4; ``--seeds 0,7`` (or ``7,``) is exactly those seeds."""
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s] if "," in text else list(range(int(text)))
    except ValueError:
        raise HarnessError(f"--seeds {text!r}: give a count (5) or a comma-separated list (0,1,2)") from None
    if not seeds or len(seeds) > 10 or any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise HarnessError(f"--seeds {text!r}: 1 to 10 distinct non-negative seeds (a count, or a list such as 0,)")
    return seeds


@command("run", "train and score submissions on an embedding set, write results/<name>.json")
def cmd_run(args) -> int:
    from harness.embedset import EmbeddingSet, resolve_set
    from harness.paths import WORKSPACE, project_path
    from harness.runner import Runner, RunOptions
    from harness.submissions import discover, parse_grid, parse_param

    paths = [p for target in (args.paths or [project_path("submissions")]) for p in discover(target)]
    if not paths:
        raise HarnessError(f"no submission folders (with submission.toml) in {', '.join(map(str, args.paths))}")
    variants = [{**dict(parse_param(p) for p in args.param), **combo} for combo in parse_grid(args.grid)]
    if args.shard is not None:
        from harness.shards import parse_shard, select_share

        shard = parse_shard(args.shard)
        paths = select_share(paths, shard)
        print(f"shard {shard[0]}/{shard[1]}: {len(paths)} submission(s) in this share")
        if not paths:
            return 0
    emb_set = EmbeddingSet.open(resolve_set(args.set))
    results = args.results or project_path(WORKSPACE, "results")
    options = RunOptions(results=results, seeds=_seed_list(args.seeds), jobs=args.jobs or os.cpu_count() or 1,
                         force=args.force, isolation=args.isolation, limits=_limits(args),
                         n_boot=args.n_boot, progress=not args.no_progress, verbose=args.verbose,
                         control=not args.no_control, command="rewardheads " + shlex.join(args.argv))
    runner = Runner(emb_set, options, log=lambda line: print(terminal(line), flush=True))
    print(terminal(f"set {emb_set.ref} ({emb_set.manifest_sha256[:12]}), {len(paths)} submission(s)"
                   f"{f' x {len(variants)} variants' if len(variants) > 1 else ''}, {options.jobs} job(s) at a time, "
                   f"{runner.sandbox.describe()}; results in {shown_path(results)}"), flush=True)
    records = runner.run(paths, variants, on_record=lambda rec, jobs: print(head_report(rec, jobs), flush=True))
    print(summary_table(records))
    if not args.no_site:
        from harness.leaderboard import render_site

        published = project_path("results")
        out = project_path("leaderboard", "site") if results.resolve() == published.resolve() else \
            results.parent / "site"
        site = render_site(results, out, warn=lambda _: None)
        print(f"leaderboard: {shown_path(site)}")
    published = project_path("results")
    if results.resolve() != published.resolve() and published.is_dir():
        from harness.reproduce import compare_to_published

        print(compare_to_published(records, results, published))
    return 1 if any(r["status"] == "failed" for r in records) else 0


def head_report(record: dict, jobs: list) -> str:
    """The lines ``run`` prints as a head finishes: its score, or its error with its own traceback and output."""
    name = terminal(record["submission"]["name"])
    if record["status"] == "ok":
        o = _headline(record)["overall"]
        ci = o.get("ci95") or [None, None]
        fit = (record.get("cost") or {}).get("fit_s")
        return (f"ok      {name}: overall {100 * o['mean']:.1f}"
                + (f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci[0] is not None else "")
                + (f", fit {fit:.2f} s" if fit is not None else "") + f", {len(record['seeds'])} seed(s)")
    lines = [f"{record['status']:7s} {name}: {terminal(record.get('error') or '')}"]
    job = next((j for j in jobs if j.status != "ok"), None)
    if job is not None and job.traceback:
        lines += ["  traceback (the head's own frames):"] + ["  " + line for line in job.traceback.splitlines()]
    if job is not None and job.output_tail.strip():
        lines += ["  last output:"] + ["    " + line for line in job.output_tail.splitlines()[-10:]]
    return "\n".join(lines)


def _headline(record: dict) -> dict:
    """The block of the record's headline suite (schema 2), or {} when it has no scores."""
    return (record.get("suites") or {}).get(record.get("suite"), {})


def summary_table(records: list[dict]) -> str:
    """The table ``rewardheads run`` prints: :func:`summary_rows` laid out for a terminal."""
    from tabulate import tabulate

    return tabulate(summary_rows(records), headers="keys", tablefmt="github", floatfmt=".3f")


def summary_rows(records: list[dict]) -> list[dict]:
    """One row per record for the terminal: overall with CI, sections, status.

    Every string from a record goes through :func:`harness.textsafe.terminal`.
    """
    rows = []
    for r in sorted(records, key=lambda r: -(_headline(r).get("overall") or {}).get("mean", -1)):
        overall = _headline(r).get("overall") or {}
        ci = overall.get("ci95") or [None, None]
        row = {"submission": terminal(r["submission"]["name"]), "status": terminal(r["status"]),
               "overall": overall.get("mean"),
               "95% CI": f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else ""}
        for name, sec in (_headline(r).get("sections") or {}).items():
            row[terminal(name)] = sec["mean"]
        row["seeds"] = len(r.get("seeds", []))
        row["fit s"] = (r.get("cost") or {}).get("fit_s")
        if r["status"] != "ok":
            row["error"] = terminal(r.get("error") or "")[:80]
        rows.append(row)
    return rows


def _run_arguments(p):
    p.add_argument("paths", nargs="*", type=Path, help="submission folders (default: submissions/)")
    p.add_argument("--set", help="set folder or NAME@VERSION (default: the bundled mini@2)")
    p.add_argument("--seeds", help="N (seeds 0..N-1) or a list 0,1,2 (default: the submission's own)")
    p.add_argument("--jobs", type=int, default=None, help="sandboxed processes in parallel (default: all cores)")
    p.add_argument("--results", type=Path, default=None,
                   help="where result records go (default: the project's workspace/results; "
                        "results/ holds the published board)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="override a [params] value (TOML syntax), recorded as the variant NAME@KEY=VALUE")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="run one variant per value (several --grid: every combination)")
    p.add_argument("--verbose", action="store_true", help="stream each head's own output as it prints")
    p.add_argument("--no-control", action="store_true",
                   help="skip the label control (a second fit with every training preference reversed; see "
                        "SECURITY.md): half the time for a quick look; the published leaderboard refuses such records")
    p.add_argument("--no-site", action="store_true", help="do not render the leaderboard at the end")
    p.add_argument("--force", action="store_true", help="rerun even if the inputs are unchanged")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    p.add_argument("--shard", help="k/n: run this share of the submissions (or 'auto' under a Slurm array or "
                   "with REWARDHEADS_SHARD=k/n); gather the shards' --results folders with `collect`")
    p.add_argument("--no-progress", action="store_true")
    _sandbox_arguments(p)


cmd_run.add_arguments = _run_arguments


@command("tune", "choose a head's hyper-parameters on validation pairs from the training split (never a test suite)")
def cmd_tune(args) -> int:
    import json

    from harness.embedset import EmbeddingSet, resolve_set
    from harness.fileio import atomic_write_json
    from harness.paths import WORKSPACE, project_path
    from harness.submissions import load_submission, parse_axes
    from harness.tuning import tune

    sub = load_submission(args.path)
    axes = parse_axes(args.grid) if args.grid else dict(sub.tuning.get("grid") or {})
    emb_set = EmbeddingSet.open(resolve_set(args.set))
    root = args.out or project_path(WORKSPACE, "tune")
    options = {"seeds": _seed_list(args.seeds), "jobs": args.jobs or os.cpu_count() or 1,
               "isolation": args.isolation, "limits": _limits(args), "n_boot": 200,
               "progress": not args.no_progress, "command": "rewardheads " + shlex.join(args.argv)}
    print(terminal(f"tune {sub.name} on validation pairs of {emb_set.ref}'s training split "
                   f"({args.validation:.0%} of each split's prompts, seed {args.validation_seed}); "
                   f"grid {axes}"), flush=True)
    result = tune(args.path, emb_set, axes, root=root / "sets", results=root / "results", options=options,
                  fraction=args.validation, seed=args.validation_seed,
                  log=lambda line: print(terminal(line), flush=True))
    from tabulate import tabulate

    def pct(value):
        return "" if value is None else f"{100 * value:.1f}"

    rows = [{**{k: terminal(json.dumps(v)) for k, v in p.params.items()},
             "validation": pct(p.mean), "seed sd": pct(p.std),
             **{terminal(k): pct(v) for k, v in p.sections.items()},
             "status": terminal(p.status if p.status == "ok" else f"{p.status}: {p.error[:60]}")}
            for p in result.points]
    print(tabulate(rows, headers="keys", tablefmt="github", disable_numparse=True))
    report = root / f"{sub.name}.json"
    atomic_write_json(report, result.to_json())
    best = result.best
    print(terminal(f"best: {best.params} at {100 * best.mean:.1f} (in-distribution overall on validation pairs); "
                   f"table in {shown_path(report)}"))
    print("put the chosen values in [params] and this table in submission.toml:\n")
    for line in result.toml().splitlines():
        print(terminal(line))
    return 0


def _tune_arguments(p):
    p.add_argument("path", type=Path, help="the submission folder")
    p.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                   help="values to try (several --grid: every combination; default: [tuning] grid)")
    p.add_argument("--set", help="set folder or NAME@VERSION whose training split is used (default: the bundled set)")
    p.add_argument("--validation", type=float, default=0.1, help="fraction of each training split's prompts held out")
    p.add_argument("--validation-seed", type=int, default=0, help="seed of the held-out draw")
    p.add_argument("--seeds", help="N or a list 0,1,2 (default: the submission's own)")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--out", type=Path, default=None,
                   help="where validation sets and results go (default: workspace/tune)")
    p.add_argument("--no-progress", action="store_true")
    _sandbox_arguments(p)


cmd_tune.add_arguments = _tune_arguments


@command("validate", "run the conformance checks CI runs on a pull request")
def cmd_validate(args) -> int:
    from harness.runner import validate
    from harness.sandbox import Sandbox

    sandbox = Sandbox(_limits(args), args.isolation)
    failures = 0
    for path in args.paths:
        results = validate(path, sandbox)
        bad = [r for r in results if not r.passed]
        failures += bool(bad)
        print(terminal(f"{path}: {'FAILED' if bad else 'OK'} ({sandbox.isolation})"))
        for r in results:
            print(f"  {terminal(r.line())}")
    return 1 if failures else 0


def _validate_arguments(p):
    p.add_argument("paths", nargs="+", type=Path, help="submission folders")
    _sandbox_arguments(p)


cmd_validate.add_arguments = _validate_arguments


# -- fetch / publish / cite ---------------------------------------------------------------------
@command("fetch", "download a published embedding set into the cache, verifying every file")
def cmd_fetch(args) -> int:
    from harness.fetch import fetch
    from harness.paths import cache_dir

    path = fetch(args.ref, args.source, cache=args.cache, repo=args.repo, revision=args.revision,
                 manifest_sha256=args.sha256, retries=args.retries, progress=not args.no_progress)
    print(f"{args.ref}: every file verified, in {path}")
    if args.cache and Path(args.cache).resolve() != cache_dir().resolve():
        print(f"(set REWARDHEADS_CACHE={args.cache} to find it by name)")
    return 0


def _fetch_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ref", metavar="NAME@VERSION")
    p.add_argument("--from", dest="source", default="hub", metavar="hub|URL|PATH",
                   help="the Hugging Face Hub (default), an http(s) folder URL, or a local folder")
    p.add_argument("--repo", help="Hub dataset repo (default: rewardheads/rewardheads-NAME)")
    p.add_argument("--revision", help="Hub tag or commit (default: vVERSION)")
    p.add_argument("--cache", type=Path, help="cache folder (default: $REWARDHEADS_CACHE or "
                   "~/.cache/rewardheads); the set goes to CACHE/sets/NAME-VERSION")
    p.add_argument("--sha256", metavar="HASH", help="expected SHA-256 of manifest.json")
    p.add_argument("--retries", type=int, default=3, help="HTTP retries of an interrupted file")
    p.add_argument("--no-progress", action="store_true")


cmd_fetch.add_arguments = _fetch_arguments


@command("publish", "write a release folder (manifest, arrays, dataset card) ready to upload")
def cmd_publish(args) -> int:
    from harness.embedset import EmbeddingSet
    from harness.fetch import hub_repo_id
    from harness.publish import publish

    out = publish(args.set, args.out, repo=args.repo, progress=not args.no_progress)
    emb = EmbeddingSet.open(out)
    repo = hub_repo_id(emb.name, args.repo)
    print(f"wrote {out} ({emb.ref}, manifest sha256 {emb.manifest_sha256[:16]}...); upload with\n"
          f"  hf upload --repo-type dataset {repo} {shlex.quote(str(out))} .\n"
          f"  hf repos tag create --repo-type dataset {repo} v{emb.version}")
    return 0


def _publish_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("set", help="set folder or NAME@VERSION")
    p.add_argument("--out", type=Path, required=True, help="release folder (absent or empty)")
    p.add_argument("--repo", help="Hub dataset repo named in the card "
                   "(default: rewardheads/rewardheads-NAME)")
    p.add_argument("--no-progress", action="store_true")


cmd_publish.add_arguments = _publish_arguments


@command("cite", "print BibTeX for the benchmark and, given submission names, their results")
def cmd_cite(args) -> int:
    from harness.cite import cite

    text, warnings = cite(args.submissions, results_dir=args.results, set_ref=args.set)
    for line in warnings:
        print(f"rewardheads cite: warning: {terminal(line)}", file=sys.stderr)
    print(text, end="")
    return 0


def _cite_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                   help="cite the result in RESULTS/SUBMISSION.json too (or a .json path)")
    p.add_argument("--results", type=Path, default=None, help="folder of result records (default: results/)")
    p.add_argument("--set", help="set folder or NAME@VERSION the benchmark entry is pinned to "
                   "(default: the first result's set, else the bundled set)")


cmd_cite.add_arguments = _cite_arguments


@command("new", "scaffold a new submission folder with a minimal working head")
def cmd_new(args) -> int:
    from harness.scaffold import scaffold

    folder = scaffold(args.name, args.root)
    print(f"created {folder}/submission.toml and head.py\nnext: rewardheads validate {folder} && "
          f"rewardheads run {folder}")
    return 0


def _new_arguments(p):
    p.add_argument("name", help="submission name (lower case, digits, _ or -)")
    p.add_argument("--root", type=Path, default=None, help="where to create it (default: the project's submissions/)")


cmd_new.add_arguments = _new_arguments


# -- leaderboard -------------------------------------------------------------------------------
@command("collect", "gather the result folders of sharded runs (`run --shard`) into one")
def cmd_collect(args) -> int:
    from harness.shards import collect

    names = collect(args.folders, args.out)
    print(f"collected {len(names)} record(s) from {len(args.folders)} folder(s) into {args.out}")
    return 0


def _collect_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folders", nargs="+", type=Path, help="the --results folders of the shards")
    p.add_argument("--out", type=Path, default=Path("results"), help="folder that receives the records")


cmd_collect.add_arguments = _collect_arguments


@command("leaderboard", "render the static leaderboard site (or a Markdown table) from results")
def cmd_leaderboard(args) -> int:
    from harness.leaderboard import render_markdown, timed_render, update_readme

    def warn(line: str) -> None:
        print(f"rewardheads leaderboard: warning: {terminal(line)}", file=sys.stderr)

    published = args.published and not args.allow_unsandboxed
    if args.format == "md":
        print(render_markdown(args.results, warn=warn, published=published), end="")
    else:
        index, seconds = timed_render(args.results, args.out, warn=warn, published=published)
        print(f"wrote {index} in {seconds:.2f} s")
    if args.update_readme:
        changed = update_readme(args.update_readme, args.results, warn=lambda _: None, published=published)
        print(f"{'updated' if changed else 'unchanged'}: {args.update_readme}")
    return 0


def _leaderboard_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", type=Path, default=None,
                   help="folder of result records (default: the project's results/, the published board)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the static site (html format)")
    p.add_argument("--format", choices=["html", "md"], default="html",
                   help="html: write the site (default); md: print the Markdown table")
    p.add_argument("--update-readme", type=Path, metavar="README",
                   help="also rewrite the table between the leaderboard markers in this file")
    p.add_argument("--published", action="store_true",
                   help="the public board: refuse results not computed under bubblewrap (CI uses this)")
    p.add_argument("--allow-unsandboxed", action="store_true",
                   help="with --published, accept results of the process fallback anyway")


cmd_leaderboard.add_arguments = _leaderboard_arguments


@command("compare", "paired bootstrap of two heads on the same items: Δ per section and overall")
def cmd_compare(args) -> int:
    from harness.embedset import EmbeddingSet, resolve_set
    from harness.significance import compare, comparison_text

    emb_set = EmbeddingSet.open(resolve_set(args.set))
    result = compare(args.a, args.b, args.results, emb_set, args.suite, n_boot=args.n_boot,
                     seed=args.seed)
    print(comparison_text(result, emb_set.ref), end="")
    return 0


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", metavar="A", help="submission name of a result record (Δ = A − B)")
    p.add_argument("b", metavar="B", help="submission name of another result record")
    p.add_argument("--set", help="set folder or NAME@VERSION (default: the bundled mini@2)")
    p.add_argument("--results", type=Path, default=None,
                   help="folder of result records and raw/ scores (default: the project's results/)")
    p.add_argument("--suite", default="rewardbench-v1", help="suite to compare on")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--seed", type=int, default=0, help="seed of the resamples")


cmd_compare.add_arguments = _compare_arguments


@command("study", "reproducible studies: `study ensembles` (do ensembles beat a single head?), "
                  "`study backbones` (do head rankings survive a change of embedding model?), "
                  "`study sources` (which training source teaches which section?)")
def cmd_study(args) -> int:
    from harness.embedset import EmbeddingSet, resolve_set
    from harness.paths import project_path

    command = "rewardheads " + shlex.join(args.argv)
    if args.which == "backbones":
        from harness.study_backbones import run_backbone_study

        if len(args.sets) != 2:
            raise HarnessError("study backbones: give two sets, e.g. --sets mini@2 minilm@2")
        first, second = (EmbeddingSet.open(resolve_set(s)) for s in args.sets)
        path = run_backbone_study(first, second, args.results or project_path("results"), args.out,
                                  n_boot=args.n_boot, command=command)
    elif args.which == "sources":
        from harness.study_sources import write_source_study

        emb_set = EmbeddingSet.open(resolve_set(args.set))
        out = args.out / f"source-study-{emb_set.name}-{emb_set.version}.md"
        path, _ = write_source_study(emb_set, args.head or project_path("submissions", "bt_linear"), out,
                                     seeds=_seed_list(args.seeds or "3"), n_boot=args.n_boot,
                                     command=command)
    else:
        from harness.study import run_ensemble_study

        emb_set = EmbeddingSet.open(resolve_set(args.set))
        path = run_ensemble_study(emb_set, project_path("submissions"), args.out,
                                  args.results or project_path("results", "study-ensembles"),
                                  seeds=_seed_list(args.seeds or "5"), jobs=args.jobs, force=args.force,
                                  command=command)
    print(f"wrote {path}")
    return 0


def _study_arguments(p):
    p.add_argument("which", choices=["ensembles", "backbones", "sources"])
    p.add_argument("--set", help="ensembles, sources: set folder or NAME@VERSION (default: the bundled mini@2)")
    p.add_argument("--head", type=Path, help="sources: the submission folder to fit (default: submissions/bt_linear)")
    p.add_argument("--sets", nargs="+", default=["mini@2", "minilm@2"],
                   help="backbones: the two sets holding the same texts (default: mini@2 minilm@2)")
    p.add_argument("--seeds", help="N (seeds 0..N-1) or a list 0,1,2 (default: ensembles 5, sources 3)")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--force", action="store_true")
    p.add_argument("--n-boot", type=int, default=1000, help="backbones, sources: bootstrap resamples")
    p.add_argument("--out", type=Path, default=Path("docs"), help="where the report and plot go")
    p.add_argument("--results", type=Path, help="results folder (ensembles: results/study-ensembles; "
                                                "backbones: results)")


cmd_study.add_arguments = _study_arguments


# -- entry point -------------------------------------------------------------------------------
#: Path options whose default is a folder of the project (found like git finds a repository).
PROJECT_DEFAULTS = {
    ("cite", "results"): ("results",),
    ("compare", "results"): ("results",),
    ("new", "root"): ("submissions",),
    ("leaderboard", "results"): ("results",),
    ("leaderboard", "out"): ("leaderboard", "site"),
}


def _project_defaults(args) -> None:
    from harness.paths import project_path, set_project

    set_project(args.project)
    for (name, attr), parts in PROJECT_DEFAULTS.items():
        if args.command == name and getattr(args, attr, None) is None:
            setattr(args, attr, project_path(*parts))


def make_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(prog="rewardheads", description=__doc__)
    parser.add_argument("--version", action="version", version=f"rewardheads {__version__}")
    parser.add_argument("--project", type=Path, default=None,
                        help="the project folder (default: the nearest folder at or above here holding "
                             "submissions/, else the installed checkout)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, fn) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if hasattr(fn, "add_arguments"):
            fn.add_arguments(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; a :class:`HarnessError` becomes one line on stderr and exit status 2."""
    parser = make_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        _project_defaults(args)
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
        return code
    except HarnessError as err:
        print(f"rewardheads {args.command}: error: {terminal(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rewardheads ... | head`: the reader left; end quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print(f"rewardheads {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
