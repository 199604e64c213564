"""harness.results: validation, schema upgrades, atomic writes and lenient folder loading."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from test_leaderboard import MINI_SHA, OTHER_SHA, make_record

from harness.errors import HarnessError
from harness.records import ResultRecord
from harness.results import (
    SCHEMA_VERSION,
    SUITE_BLOCK_KEYS,
    UPGRADES,
    ResultError,
    group_by_set,
    load_records,
    read_record,
    set_folder,
    validate_record,
    write_record,
)

V0 = {  # what harness 0.0.x wrote: no "schema", bare numbers, a seed count
    "submission": {"name": "bt_old", "version": "0.9", "family": "bradley-terry"},
    "set": {"name": "mini", "version": 1, "manifest_sha256": "ab12"},
    "harness": "0.0.3", "suite": "rewardbench-v1", "seeds": 3, "status": "ok",
    "created": "2026-06-01T12:00:00+00:00", "overall": 0.57,
    "sections": {"Chat": 0.71, "Chat Hard": 0.42, "Safety": 0.6, "Reasoning": 0.55},
    "subsets": {"alpacaeval-easy": 0.81},
}


def test_valid_record_round_trips(tmp_path):
    rec = validate_record(make_record("bt_mlp", 0.6, prior_sets=True))
    before = copy.deepcopy(rec)
    out = validate_record(rec, "x.json")
    assert out == rec and out is not rec and rec == before  # input untouched
    path = write_record(tmp_path / "bt_mlp.json", rec)
    assert read_record(path) == rec
    assert json.loads(path.read_text())["schema"] == SCHEMA_VERSION == 2
    assert issubclass(ResultError, HarnessError)


def test_unknown_extra_keys_are_kept():
    rec = validate_record(make_record("a", 0.6))
    rec["suites"]["rewardbench-v1"]["calibration"] = {"ece": 0.1}
    rec["integrity"] = {"order": "secret"}
    out = validate_record(rec)
    assert out["suites"]["rewardbench-v1"]["calibration"] == {"ece": 0.1}
    assert out["integrity"] == {"order": "secret"}
    typed = ResultRecord.of(rec)
    assert typed.suites["rewardbench-v1"].extra == {"calibration": {"ece": 0.1}}
    assert validate_record(typed.to_json()) == out


def test_upgrade_committed_schema_1_record():
    """A record of the once-published board (schema 1, kept in tests/golden/) reads as schema 2, its
    scores moved under its suite."""
    path = Path(__file__).parent / "golden" / "schema1-bt_linear.json"
    old = json.loads(path.read_text())
    assert old["schema"] == 1 and "overall" in old
    new = read_record(path)
    assert new["schema"] == 2 and new["suite"] == "rewardbench-v1"
    assert not {"subsets", "sections", "overall", "overall_legacy", "missing_subsets"} & set(new)
    block = new["suites"]["rewardbench-v1"]
    assert block["label"] == "RewardBench v1"
    assert block["overall"] == old["overall"] and block["sections"] == old["sections"]
    assert block["subsets"] == old["subsets"] and block["missing_subsets"] == old["missing_subsets"]
    assert {k: v for k, v in new.items() if k not in ("schema", "suites")} == {
        k: v for k, v in old.items() if k not in ("schema", *SUITE_BLOCK_KEYS)}
    typed = ResultRecord.of(old, str(path))
    assert typed.headline.overall.mean == old["overall"]["mean"]
    assert typed.headline.sections["Chat"].ci95 == tuple(old["sections"]["Chat"]["ci95"])
    assert typed.cost.fit_s == old["cost"]["fit_s"] and typed.set.ref == "mini-1"


def test_upgrade_of_a_failed_schema_1_record_has_no_block():
    old = make_record("oom", 0.0, status="failed", error="out of memory")
    assert validate_record(old)["suites"] == {}


def test_schema_2_ok_record_needs_its_suite_block():
    rec = validate_record(make_record("a", 0.6))
    rec["suite"] = "rewardbench-v2"
    with pytest.raises(ResultError, match="x.json: suites has no block for the record's suite 'rewardbench-v2'"):
        validate_record(rec, "x.json")


def test_per_set_folders_and_flat_records_load_together(tmp_path):
    write_record(tmp_path / "mini-1" / "a.json", make_record("a", 0.6))
    write_record(tmp_path / "large-2" / "a.json", make_record("a", 0.7, set_name="large", set_version="2",
                                                              manifest=OTHER_SHA))
    write_record(tmp_path / "b.json", make_record("b", 0.5))  # the old flat layout
    (tmp_path / "mini-1" / "raw").mkdir()
    (tmp_path / "mini-1" / "raw" / "x.json").write_text("{}")  # never read as a record
    records, problems = load_records(tmp_path)
    assert problems == []
    assert [(r["submission"]["name"], r["set"]["name"]) for r in records] == [
        ("a", "large"), ("a", "mini"), ("b", "mini")]
    assert set_folder(tmp_path, "mini", "1") == tmp_path / "mini-1"


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.pop("suite"), "x.json: suite is missing"),
    (lambda r: r["submission"].pop("name"), "x.json: submission.name is missing"),
    (lambda r: r["submission"].update(name="../evil"), "submission.name '../evil' must be"),
    (lambda r: r.update(status="great"), "status must be one of ok, failed, skipped"),
    (lambda r: r["overall"].update(mean="high"), "overall.mean must be a number"),
    (lambda r: r["overall"].update(mean=float("nan")), "overall.mean must be finite"),
    (lambda r: r["overall"].update(ci95=[0.7, 0.5]), "overall.ci95 has low 0.7 above high 0.5"),
    (lambda r: r["overall"].update(ci95=[0.5]), "overall.ci95 must be [low, high] or null"),
    (lambda r: r["overall"].pop("label"), "overall.label is missing"),
    (lambda r: r.pop("overall"), "overall must be an object with a mean"),
    (lambda r: r["sections"]["Chat"].update(per_seed=[0.5, "x"]), "sections.Chat.per_seed[1]"),
    (lambda r: r.update(seeds=[0, True]), "seeds[1] must be an integer"),
    (lambda r: r.update(created="yesterday"), "created must be an ISO-8601 time"),
    (lambda r: r["cost"].update(fit_s="slow"), "cost.fit_s must be a number"),
    (lambda r: r["subsets"]["hep-go"].update(n=-1), "subsets.hep-go.n must be a count"),
    (lambda r: r.update(schema="1"), "schema must be a non-negative integer"),
])
def test_invalid_records_name_file_and_field(mutate, message):
    rec = make_record("bt_mlp", 0.6)
    mutate(rec)
    with pytest.raises(ResultError, match=r"^x\.json: ") as err:
        validate_record(rec, "x.json")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_failed_record_needs_a_reason_but_no_scores():
    rec = make_record("oom", 0.0, status="failed", error="out of\nmemory   in fit")
    assert "overall" not in rec
    assert validate_record(rec)["error"] == "out of memory in fit"  # one line
    rec["error"] = " "
    with pytest.raises(ResultError, match="error must give the reason of a failed record"):
        validate_record(rec)
    with pytest.raises(ResultError, match="must be a JSON object, not list"):
        validate_record([rec], "y.json")


def test_upgrade_v0_record():
    assert 0 in UPGRADES
    out = validate_record(copy.deepcopy(V0), "old.json")
    assert out["schema"] == 2 and 1 in UPGRADES
    block = out["suites"]["rewardbench-v1"]
    assert block["overall"]["mean"] == 0.57 and block["overall"]["ci95"] is None
    assert block["overall"]["label"] == "rewardbench-v1 overall"
    assert block["sections"]["Chat"] == {"mean": 0.71, "std": None, "ci95": None, "per_seed": []}
    assert block["subsets"]["alpacaeval-easy"]["mean"] == 0.81
    assert out["seeds"] == [0, 1, 2]
    assert out["set"]["version"] == "1"
    assert (out["isolation"], out["command"], out["error"]) == ("unknown", "", None)


def test_newer_schema_refused(tmp_path):
    rec = make_record("a", 0.6)
    rec["schema"] = 3
    with pytest.raises(ResultError) as err:
        validate_record(rec, "results/x.json")
    assert str(err.value) == ("results/x.json: schema 3 is newer than this harness reads (2); "
                              "upgrade rewardheads")


def test_load_records_skips_and_names_bad_files(tmp_path):
    write_record(tmp_path / "good.json", make_record("good", 0.6))
    (tmp_path / "old.json").write_text(json.dumps(V0))  # upgraded on read
    (tmp_path / "truncated.json").write_text('{"schema": 1, "submission": {')
    (tmp_path / "future.json").write_text(json.dumps({**make_record("f", 0.6), "schema": 3}))
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "invalid.json").write_text(json.dumps({**make_record("i", 0.6), "status": "?"}))
    (tmp_path / "notes.txt").write_text("not a record")
    (tmp_path / "nested").mkdir()
    write_record(tmp_path / "nested" / "deep.json", make_record("deep", 0.7))
    (tmp_path / "dir.json").mkdir()

    records, problems = load_records(tmp_path)
    # nested/ is not the record's set folder (mini-1/), so it is left alone
    assert sorted(r["submission"]["name"] for r in records) == ["bt_old", "good"]
    by_file = {p.split(":")[0].rsplit("/", 1)[-1]: p for p in problems}
    assert sorted(by_file) == ["binary.json", "future.json", "invalid.json", "list.json",
                               "truncated.json"]
    assert "not valid JSON (Expecting" in by_file["truncated.json"]
    assert "schema 3 is newer" in by_file["future.json"]
    assert "not UTF-8" in by_file["binary.json"]
    assert all("\n" not in p for p in problems)


def test_load_records_missing_folder(tmp_path):
    with pytest.raises(ResultError, match="results folder not found"):
        load_records(tmp_path / "nope")


def test_duplicate_results_keep_the_newer(tmp_path):
    write_record(tmp_path / "a.json", make_record("dup", 0.6, created="2026-11-01T00:00:00Z"))
    write_record(tmp_path / "b.json", make_record("dup", 0.7, created="2026-11-02T00:00:00Z"))
    write_record(tmp_path / "c.json", make_record("dup", 0.5, created="2026-10-01T00:00:00Z"))
    records, problems = load_records(tmp_path)
    assert [r["suites"]["rewardbench-v1"]["overall"]["mean"] for r in records] == [0.7]
    assert len(problems) == 2
    assert all("duplicate result for dup" in p for p in problems)
    assert problems[0].startswith(str(tmp_path / "a.json"))


def test_atomic_write_keeps_old_file_on_invalid_record(tmp_path):
    path = tmp_path / "bt_mlp.json"
    write_record(path, make_record("bt_mlp", 0.6))
    before = path.read_bytes()
    bad = make_record("bt_mlp", 0.7)
    bad["overall"]["mean"] = None
    with pytest.raises(ResultError, match="bt_mlp.json: suites.rewardbench-v1.overall.mean must be a number"):
        write_record(path, bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bt_mlp.json"]  # no temp file left


def test_group_by_set_separates_sets_and_suites():
    records = [make_record("a", 0.6), make_record("b", 0.5),
               make_record("c", 0.6, set_name="large", set_version="2", manifest=OTHER_SHA),
               make_record("d", 0.6, manifest=OTHER_SHA),  # same name, rebuilt set
               make_record("e", 0.6, suite="prior-sets")]
    groups = group_by_set(validate_record(r) for r in records)
    assert {k: [r["submission"]["name"] for r in g] for k, g in groups.items()} == {
        ("large", "2", OTHER_SHA, "rewardbench-v1"): ["c"],
        ("mini", "1", MINI_SHA, "prior-sets"): ["e"],
        ("mini", "1", MINI_SHA, "rewardbench-v1"): ["a", "b"],
        ("mini", "1", OTHER_SHA, "rewardbench-v1"): ["d"],
    }
    assert list(groups) == sorted(groups)


def test_with_headline_view_is_stored_as_plain_schema_2(tmp_path):
    from harness.results import with_headline

    rec = validate_record(make_record("a", 0.6))
    view = with_headline(rec)
    assert view["overall"] == rec["suites"]["rewardbench-v1"]["overall"]
    assert view["sections"] is rec["suites"]["rewardbench-v1"]["sections"]
    stored = read_record(write_record(tmp_path / "a.json", view))
    assert stored == rec and "overall" not in json.loads((tmp_path / "a.json").read_text())
    failed = validate_record(make_record("b", 0.0, status="failed", error="boom"))
    assert with_headline(failed) is failed
