"""The sense check: a labelled set kept in the repo, a classifier over the real embedder, the held-apart part scored."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from oo_app.llm.router import embed
from oo_app.recommender import sense
from oo_app.recommender.drafts import QUIET
from oo_app.recommender.sense import (
    KINDS,
    THRESHOLD,
    held_apart,
    labelled_set,
    reads_well,
    sense_failure,
    sense_model,
    split,
)


def test_the_labelled_set_holds_every_bad_kind_and_the_local_models_own_tips() -> None:
    tips = labelled_set()
    kinds = Counter(tip.kind for tip in tips)
    assert set(kinds) == set(KINDS)
    assert all(kinds[kind] >= 25 for kind in KINDS), kinds
    assert sum(tip.source == "local model" for tip in tips) >= 40, "real outputs of the local model are labelled"
    assert 0.35 <= kinds["good"] / len(tips) <= 0.65, "about as many good tips as bad ones"


def test_the_held_apart_part_is_a_fifth_decided_by_each_text_alone() -> None:
    tips = labelled_set()
    train, test = split(tips)
    assert 0.12 <= len(test) / len(tips) <= 0.28
    assert {tip.good for tip in test} == {True, False}, "both labels are held apart"
    assert split(list(reversed(tips))) == (list(reversed(train)), list(reversed(test))), "order never moves a tip"
    assert all(held_apart(tip.text) == held_apart("  " + tip.text.upper() + " ") for tip in tips[:20])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"text": "Start now.", "kind": "rude", "source": "written"}', "needs a text, a kind"),
        ('{"text": "Start now."}', "not a labelled tip"),
        ("Start now.", "not a labelled tip"),
        ('{"text": "start  NOW.", "kind": "good", "source": "written"}', "the same text as line 1"),
    ],
)
def test_a_malformed_entry_is_named_by_its_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps({"text": "Start now.", "kind": "good", "source": "written"}) + "\n" + line + "\n")
    with pytest.raises(ValueError, match=f"line 2: {problem}"):
        labelled_set(path)


def test_on_the_held_apart_part_it_catches_most_bad_tips_and_keeps_most_good_ones() -> None:
    _train, test = split(labelled_set())
    probabilities = np.asarray(reads_well([tip.text for tip in test]))
    bad = np.asarray([not tip.good for tip in test])
    flagged = probabilities < THRESHOLD
    precision = (flagged & bad).sum() / max(1, flagged.sum())
    recall = (flagged & bad).sum() / bad.sum()
    kept = (~flagged & ~bad).sum() / (~bad).sum()
    assert precision >= 0.8, f"of the tips it flags, {precision:.0%} read badly"
    assert recall >= 0.75, f"it flags {recall:.0%} of the tips that read badly"
    assert kept >= 0.75, f"{kept:.0%} of the good tips pass"


@pytest.mark.parametrize(
    "tip",
    [
        "If they are not working, pick a task that you can finish today.",  # the examples
        "Finish all their tasks by 10:00 (7.2x the mean hour).",
        "They should start their hardest task before 11:00.",
        "Start the the report now before.",
        "Be productive.",
    ],
)
def test_tips_that_read_badly_fail_the_sense_check(tip: str) -> None:
    assert sense_failure(tip) is not None


@pytest.mark.parametrize(
    "tip",
    [
        "Your peak starts at 11:00. Save the report for then.",
        "Give one Home task ten minutes before dinner.",
        "Pick the one task that matters most today.",
        *(draft.text for draft in QUIET),  # the composer's own words for the quiet hours
    ],
)
def test_tips_in_os_voice_pass_the_sense_check(tip: str) -> None:
    assert sense_failure(tip) is None


def _hashing_embedder(texts: list[str]) -> list[list[float]]:
    """A 64-dimension bag of words: stands in for a hosted embedder of another shape than the local one."""
    rows = []
    for text in texts:
        row = [0.0] * 64
        for word in text.lower().split():
            row[sum(map(ord, word)) % 64] += 1.0
        rows.append(row)
    return rows


def test_swapping_the_embedder_retrains_on_its_vectors_instead_of_breaking(configure: Callable[..., None]) -> None:
    local = sense_model(embed)
    configure(OO_LLM_ALIASES=json.dumps({"embedder": [{"model": "hosted/hashing-64"}]}))

    swapped = sense_model(_hashing_embedder)

    assert swapped.embedder != local.embedder
    assert "hashing-64" in swapped.embedder
    assert swapped.weights.shape == (64 + len(sense.surface_features("")),)
    assert local.weights.shape == (384 + len(sense.surface_features("")),)
    (probability,) = reads_well(["Start the report before 10:00."], _hashing_embedder)
    assert 0.0 <= probability <= 1.0


def test_a_failing_embedder_skips_the_check_with_a_warning_and_gives_the_judge_nothing(
    configure: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_texts: list[str]) -> list[list[float]]:
        raise ConnectionError("embedder down")

    configure(OO_LLM_ALIASES=json.dumps({"embedder": [{"model": "hosted/down"}]}))
    with caplog.at_level(logging.WARNING, logger="oo_app.recommender.sense"):
        assert sense_failure("Be productive.", broken) is None
    assert "sense check skipped" in caplog.text
    assert "Be productive" not in caplog.text, "a tip's text never reaches the logs above DEBUG"
    with pytest.raises(ConnectionError):
        reads_well(["Be productive."], broken)


def test_another_embedder_is_fitted_once_and_kept(configure: Callable[..., None]) -> None:
    configure(OO_LLM_ALIASES=json.dumps({"embedder": [{"model": "hosted/hashing-64"}]}))
    calls = []

    def counting(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return _hashing_embedder(texts)

    sense.forget_models()
    sense_model(counting)
    fitted = sum(calls)
    sense_model(counting)
    reads_well(["Start the report now."], counting)
    assert fitted == len(split(labelled_set())[0])
    assert sum(calls) == fitted + 1, "later checks embed only the tip"


def test_the_committed_coefficients_are_those_the_set_gives_the_embedded_embedder() -> None:
    key = sense.embedder_key()
    committed = sense.fitted_for(key)
    assert committed is not None, "the set or C changed: refit with `python benchmarks/sense.py --no-model --save`"
    train, test = split(labelled_set())
    refitted = sense.fit(train, embed, key)
    texts = [tip.text for tip in test]
    difference = np.abs(np.asarray(committed.probabilities(texts, embed)) - refitted.probabilities(texts, embed))
    assert difference.max() < 0.01
