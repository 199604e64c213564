"""The bundled baseline submissions (submissions/*/) on a small synthetic preference set.

Every folder with a ``submission.toml`` passes the static checks ``rewardheads validate`` runs,
is imported from its path the harness's way (no ``__pycache__`` written) and built from its
``[params]`` (network widths shrunk so the whole file runs in seconds); each must fit and score
finite floats, learn the synthetic preference (held-out pairwise accuracy > 0.8, reference
heads excepted) and give bit-identical scores for the same seed.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from threadpoolctl import threadpool_limits

from harness.checks import run_static_checks
from harness.heads import BaseHead, HeadSkipped, PreferenceData, ScoreBatch
from harness.submissions import import_head_class, load_submission

ROOT = Path(__file__).resolve().parents[1] / "submissions"
FOLDERS = sorted(p.parent for p in ROOT.glob("*/submission.toml"))
NAMES = [p.name for p in FOLDERS]
ENSEMBLES = ["bt_ensemble"]
#: every shipped submission and declared variant: (folder, variant name or "")
VARIANTS = [(p.name, v.variant_name) for p in FOLDERS for v in load_submission(p).expand()]
QUICK = {"n_members": 3, "max_epochs": 5}  # the checks test determinism and row-wise scoring, not accuracy
SMALL = {"hidden": [64, 32], "gate_hidden": [64, 64, 64]}  # shrink networks for test speed
DIM = 32


def meta(name: str) -> dict:
    return tomllib.loads((ROOT / name / "submission.toml").read_text())


@functools.cache
def head_class(name: str) -> type:
    """The head class, imported the harness's way (from its file, writing no ``__pycache__``)."""
    return import_head_class(load_submission(ROOT / name))


def make_head(name: str, **override) -> BaseHead:
    params = meta(name).get("params", {})
    small = {k: v for k, v in SMALL.items() if k in params}
    return head_class(name)(**{**params, **small, **override})


def synthetic(n: int, seed: int, ratings: bool = True) -> PreferenceData:
    """chosen = rejected + a fixed direction + noise; 'helpfulness' follows that direction,
    'verbosity' (and the token counts) another; each rating NaN on part of the responses."""
    u, v = np.linalg.qr(np.random.default_rng(1234).normal(size=(DIM, 2)))[0].T
    rng = np.random.default_rng(seed)
    rejected = rng.normal(size=(n, DIM))
    chosen = rejected + 2.0 * u + 0.5 * rng.normal(size=(n, DIM))
    x = np.concatenate([chosen, rejected])
    tokens = np.maximum(5, 200 + 60 * x @ v).astype(np.int64)
    extra = {}
    if ratings:
        rated = np.stack([x @ u + 0.3 * rng.normal(size=2 * n), x @ v], axis=1)
        rated[rng.random((2 * n, 2)) < [[0.4, 0.3]]] = np.nan
        extra = dict(objectives=("helpfulness", "verbosity"),
                     ratings_chosen=rated[:n], ratings_rejected=rated[n:])
    return PreferenceData(
        chosen=chosen.astype(np.float32), rejected=rejected.astype(np.float32),
        prompt=rng.normal(size=(n, DIM)).astype(np.float32), chosen_tokens=tokens[:n],
        rejected_tokens=tokens[n:], prompt_tokens=rng.integers(5, 50, n), **extra)


TRAIN = synthetic(300, seed=0)
TEST = synthetic(200, seed=1)
BATCH = ScoreBatch(  # rows: the 200 chosen responses, then the 200 rejected ones
    response=np.concatenate([TEST.chosen, TEST.rejected]),
    prompt=np.concatenate([TEST.prompt, TEST.prompt]),
    response_tokens=np.concatenate([TEST.chosen_tokens, TEST.rejected_tokens]),
    prompt_tokens=np.concatenate([TEST.prompt_tokens, TEST.prompt_tokens]),
)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One thread per process, as the harness runs heads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(before)


@functools.cache
def fitted_scores(name: str, seed: int = 0) -> np.ndarray:
    head = make_head(name)
    head.fit(TRAIN, seed=seed)
    return head.score(BATCH)


def pair_accuracy(scores: np.ndarray) -> float:
    half = len(scores) // 2
    return float(np.mean(scores[:half] > scores[half:]))


@pytest.mark.parametrize("name", NAMES)
def test_folder_follows_the_submission_rules(name):
    info = meta(name)
    assert info["name"] == name and info["entry_point"] == "head.py:Head"
    assert {p.name for p in (ROOT / name).iterdir()} <= {"submission.toml", "head.py", "README.md"}
    _, checks = run_static_checks(ROOT / name)  # the rules `rewardheads validate` applies, no second list
    assert [c.line() for c in checks if not c.passed] == []
    params = info.get("params", {})
    assert make_head(name, **params).get_params() == params  # hyper-parameters stored unchanged


def variant_params(name: str, variant: str) -> dict:
    """A declared variant's params on top of the folder's, networks shrunk for speed."""
    info = meta(name)
    params = {**info.get("params", {}), **info.get("variants", {}).get(variant, {})}
    return {**params, **{k: v for k, v in {**SMALL, **QUICK}.items() if k in params}}


@functools.cache
def conformance(name: str, variant: str) -> dict[str, dict]:
    """Every named check ``rewardheads validate`` runs, static and dynamic, on one shipped variant,
    with its rules (``run_static_checks``: the same import allowlist, no second list)."""
    from harness.checks import run_dynamic_checks, run_readout_check

    sub, static = run_static_checks(ROOT / name)
    results = {c.name: {"name": c.name, "passed": c.passed, "message": c.message} for c in static}
    cls = head_class(name)
    params = variant_params(name, variant)
    with threadpool_limits(1):
        results.update({r["name"]: r for r in run_dynamic_checks(lambda: cls(**params), seed=0)})
        if sub.readout:
            others = [variant_params(name, v) for v in meta(name)["variants"] if v != variant]
            results["check_readout"] = run_readout_check(
                [params, *others], sub.readout, lambda extra: cls(**extra), seed=0)
    return results


CHECKS = ("check_metadata", "check_folder_size", "check_no_data_files", "check_imports", "check_fit_score",
          "check_deterministic", "check_seeds_may_differ", "check_permutation_equivariant")


def _readout_heads() -> list[tuple[str, str | None]]:
    """The shipped submissions (and variants) that declare read-out params."""
    return [(n, v) for n, v in VARIANTS if load_submission(ROOT / n).readout]


@pytest.mark.parametrize("check", [*CHECKS, "check_readout"])
@pytest.mark.parametrize(("name", "variant"), VARIANTS, ids=[f"{n}@{v}" if v else n for n, v in VARIANTS])
def test_passes_every_conformance_check(name, variant, check):
    """scikit-learn's parametrize_with_checks: each named check on each shipped submission and variant
    (check_readout on those that declare read-out params; on the others it must not run)."""
    results = conformance(name, variant)
    if check == "check_readout" and (name, variant) not in _readout_heads():
        assert check not in results, f"{name} declares no read-out params but check_readout ran"
        return
    assert check in results, sorted(results)
    assert results[check]["passed"], results[check]["message"]


def test_the_conformance_suite_names_every_check():
    """CHECKS above is the checks' own list: a check added to harness/checks.py joins the suite."""
    from harness.checks import STATIC_CHECKS

    results = conformance("bt_linear", "")
    assert sorted(results) == sorted(CHECKS)
    assert {c.__name__ for c in STATIC_CHECKS} <= set(CHECKS)


@pytest.mark.parametrize("name", NAMES)
def test_fit_score_gives_one_finite_float_per_row(name):
    scores = fitted_scores(name)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
    assert scores.shape == (len(BATCH),) and np.isfinite(scores).all()


@pytest.mark.parametrize("name", [n for n in NAMES if meta(n)["family"] != "reference"])
def test_learned_heads_rank_held_out_pairs(name):
    assert pair_accuracy(fitted_scores(name)) > 0.8


def test_reference_heads():
    assert 0.3 < pair_accuracy(fitted_scores("random")) < 0.7
    assert not np.array_equal(fitted_scores("random", 1), fitted_scores("random"))
    np.testing.assert_array_equal(fitted_scores("length"), BATCH.response_tokens)


def test_armo_moe_skips_without_ratings_and_uses_what_exists():
    with pytest.raises(HeadSkipped, match="ratings"):
        make_head("armo_moe").fit(synthetic(100, seed=2, ratings=False), seed=0)
    assert head_class("armo_moe").requires == ("prompt", "ratings")
    head = make_head("armo_moe")
    head.fit(TRAIN, seed=0)  # some pairs have no rating at all: the BT objective joins
    assert head.objectives_ == ("helpfulness", "verbosity", "preference")
    assert set(head.penalties_) == {"helpfulness", "preference"}  # de-correlated from verbosity
    z = (np.concatenate([TRAIN.chosen, TRAIN.rejected]) - head.mean_) / head.std_
    rewards = ((z @ head.w_ + head.b_ - head.r_mean_) / head.r_std_) @ head.transform_
    for i in (0, 2):  # on the reference set, each is now (just) below the threshold
        assert spearmanr(rewards[:, i], rewards[:, 1])[0] < head.corr_threshold
    full = synthetic(300, seed=0)  # every rating present: the rated objectives only
    full.ratings_chosen[:] = np.nan_to_num(full.ratings_chosen)
    full.ratings_rejected[:] = np.nan_to_num(full.ratings_rejected)
    head.fit(full, seed=0)
    assert head.objectives_ == ("helpfulness", "verbosity")
    only = dict(objectives=("overall",), ratings_chosen=TRAIN.ratings_chosen[:, :1].copy(),
                ratings_rejected=TRAIN.ratings_rejected[:, :1].copy())
    only["ratings_chosen"][60:] = only["ratings_rejected"][60:] = np.nan  # 60 rated pairs of 300
    head.fit(PreferenceData(**{**TRAIN.__dict__, **only}), seed=0)
    assert head.objectives_ == ("overall", "preference") and head.penalties_ == {}
    assert pair_accuracy(head.score(BATCH)) > 0.8


@pytest.mark.parametrize("name", ENSEMBLES)
def test_vectorized_ensemble_equals_looped(name):
    heads = [make_head(name, vectorized=v, n_members=4) for v in (True, False)]
    for head in heads:
        head.fit(TRAIN, seed=3)
    a, b = (head.member_scores(BATCH) for head in heads)
    assert np.allclose(a, b)  # in practice bit-identical on CPU
    assert np.allclose(heads[0].score(BATCH), heads[1].score(BATCH))


def test_no_folder_is_a_copy_of_another():
    """Variants are declared in one folder's submission.toml, not copied into folders of their own."""
    sources = [(ROOT / n / "head.py").read_bytes() for n in NAMES]
    assert len(set(sources)) == len(sources)


def test_ensemble_variants_read_one_fit_out_as_their_own_fits_would():
    """The three rows of bt_ensemble share one fit per seed: each re-read equals a fit of its own."""
    assert list(meta("bt_ensemble")["variants"]) == ["mean", "min", "uwo"]
    shared = make_head("bt_ensemble", n_members=4)
    shared.fit(TRAIN, seed=3)
    scores = {}
    for variant in ("mean", "min", "uwo"):
        own = make_head("bt_ensemble", n_members=4, aggregation=variant)
        own.fit(TRAIN, seed=3)
        shared.set_readout(aggregation=variant, uwo_lambda=1.0)
        scores[variant] = shared.score(BATCH)
        np.testing.assert_array_equal(scores[variant], own.score(BATCH))
    members = shared.member_scores(BATCH)
    np.testing.assert_array_equal(scores["min"], members.min(axis=0))
    np.testing.assert_array_equal(scores["uwo"], members.mean(axis=0) - members.std(axis=0))
    shared.set_readout(uwo_lambda=2.5)
    np.testing.assert_array_equal(shared.score(BATCH), members.mean(axis=0) - 2.5 * members.std(axis=0))
    with pytest.raises(ValueError, match="aggregation must be one of"):
        shared.set_readout(aggregation="median")
    with pytest.raises(TypeError, match="has no parameter 'depth'"):
        shared.set_readout(depth=3)
