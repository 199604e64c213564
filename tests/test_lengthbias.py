"""Length bias (harness/lengthbias.py): Spearman with length, accuracy by longer/shorter chosen."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from harness.lengthbias import LengthBias, length_bias, length_bias_of_scores, length_gap_svg
from harness.significance import SignificanceError, SuiteRows
from harness.suites import REWARDBENCH_V1

# five pairs of alpacaeval-easy: (chosen tokens, rejected tokens)
PAIRS = [(100, 50), (80, 40), (30, 60), (50, 50), (20, 90)]


def hand_rows(subset: str = "alpacaeval-easy") -> SuiteRows:
    """Rows chosen, rejected of each pair in :data:`PAIRS`, in that order."""
    tokens = np.array([t for pair in PAIRS for t in pair])
    n = len(tokens)
    return SuiteRows(REWARDBENCH_V1, np.arange(n), np.repeat(np.arange(len(PAIRS)), 2),
                     np.tile([True, False], len(PAIRS)), np.full(n, subset),
                     np.repeat(np.arange(len(PAIRS)), 2).astype(str), tokens)


def test_a_head_that_counts_tokens_has_gap_one():
    rows = hand_rows()
    bias = length_bias_of_scores("length", rows.tokens.astype(float)[None], rows)
    assert bias == LengthBias("length", 1.0, 1.0, 0.0, 1.0, n_longer=2, n_shorter=2, n_equal=1)


def test_accuracy_by_length_group_on_a_hand_made_case():
    rows = hand_rows()
    # per pair: right, wrong, wrong, right (but equal length: in neither group), right
    scores = np.array([[2, 1, 0, 1, 0, 1, 5, 4, 3, 1], [2, 1, 0, 1, 0, 1, 5, 4, 3, 1]], float)
    bias = length_bias_of_scores("h", scores, rows)
    assert (bias.acc_longer, bias.acc_shorter, bias.gap) == (0.5, 0.5, 0.0)
    # a second seed that gets pair 1 right too: credit 0.5 there, so longer = (1 + 0.5) / 2
    scores[1, 2:4] = [1, 0]
    bias = length_bias_of_scores("h", scores, rows)
    assert (bias.acc_longer, bias.acc_shorter) == (0.75, 0.5) and bias.gap == 0.25


def test_spearman_is_averaged_over_seeds_and_none_for_constant_scores():
    rows = hand_rows()
    t = rows.tokens.astype(float)
    assert length_bias_of_scores("h", np.stack([t, -t]), rows).spearman == pytest.approx(0.0)
    assert length_bias_of_scores("h", np.stack([t, t ** 2]), rows).spearman == pytest.approx(1.0)
    flat = length_bias_of_scores("h", np.ones((1, len(t))), rows)
    assert flat.spearman is None and flat.acc_longer == 0.0  # ties are wrong


def test_no_pair_in_a_group_gives_no_gap():
    rows = hand_rows()
    keep = np.repeat([True, True, False, True, False], 2)  # drop the chosen-shorter pairs
    rows = SuiteRows(rows.suite, *(getattr(rows, k)[keep] for k in
                                   ("index", "item", "chosen", "subset", "ids", "tokens")))
    bias = length_bias_of_scores("h", np.arange(10, dtype=float)[None], rows)
    assert bias.n_shorter == 0 and bias.acc_shorter is None and bias.gap is None


def test_length_bias_from_a_results_folder(tiny_set, tmp_path):
    split = tiny_set.split("rewardbench")
    tokens = split.meta["response_tokens"].to_numpy(np.float32)
    raw = tmp_path / "tiny-1" / "raw"
    raw.mkdir(parents=True)
    np.savez(raw / "length.npz", seeds=np.array([0]), scores=tokens[None])
    records = [{"status": "ok", "submission": {"name": "length", "family": "reference"}},
               {"status": "failed", "submission": {"name": "broken"}}]
    biases = length_bias(records, tmp_path, tiny_set)
    assert list(biases) == ["length"]
    b = biases["length"]
    # tiny chosen responses are 30 tokens longer on average; ties in length are wrong for it
    item, chosen = split.meta["item"].to_numpy(), split.labels().astype(bool)
    diff = np.zeros(item.max() + 1)
    np.add.at(diff, item, np.where(chosen, tokens, -tokens))
    assert (b.n_longer, b.n_shorter, b.n_equal) == tuple(int(np.sum(f(diff))) for f in
                                                          (lambda d: d > 0, lambda d: d < 0,
                                                           lambda d: d == 0))
    assert (b.acc_longer, b.acc_shorter) == (1.0, 0.0) and b.spearman == pytest.approx(1.0)
    with pytest.raises(SignificanceError, match="unknown head 'nope'"):
        length_bias(["nope"], tmp_path, tiny_set)


def test_gap_plot_escapes_hostile_names():
    hostile = '<script>alert("x")</script>&\x1b[31m\u202e evil'
    svg = length_gap_svg([LengthBias(hostile, 0.3, 0.7, 0.4, 0.3, 10, 12, 1),
                          LengthBias("none", None, None, None, None, 0, 0, 0)], label=hostile)
    root = ET.fromstring(svg)
    assert "<script" not in svg and "\x1b" not in svg and "\u202e" not in svg
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert '<script>alert("x")</script>&…' in texts  # cut to 30 characters, escaped
    assert "+30.0" in texts and "n/a" in texts
    title = next(root.iter("{http://www.w3.org/2000/svg}title")).text
    assert title.endswith("gap +30.0 points (chosen longer 70.0% of 10, chosen shorter 40.0% of 12)")
    assert length_gap_svg([]) is None
