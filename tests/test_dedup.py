"""The near-duplicate guard on the real embedder: paraphrases of recent tips are caught, distinct tips are not."""

from __future__ import annotations

import pytest

from oo_app.llm.router import embed
from oo_app.recommender.dedup import is_near_duplicate

RECENT = ["Choose the one thing that would make today feel done.", "Pick one big task."]


@pytest.mark.parametrize(
    ("tip", "duplicate"),
    [
        ("Pick the one thing that would make today feel done.", True),
        ("Pick the one big task.", True),
        ("Start a task today.", False),
        ("Your peak hours run through 12:00: one deep task, no inbox.", False),
    ],
)
def test_paraphrases_of_recent_tips_are_near_duplicates(tip: str, duplicate: bool) -> None:
    assert is_near_duplicate(tip, RECENT, embed) is duplicate


def test_no_recent_tips_means_no_duplicate_and_a_failing_embedder_lets_the_tip_through() -> None:
    def broken(_texts: list[str]) -> list[list[float]]:
        raise ConnectionError("embedder down")

    assert is_near_duplicate("Pick one big task.", [], embed) is False
    assert is_near_duplicate("Pick one big task.", RECENT, broken) is False
