"""The grounding check lets through only tips whose numbers, times, days and names come from the facts."""

from __future__ import annotations

import pytest

from oo_app.recommender.grounding import is_grounded, ungrounded

FACTS = [
    "It is 14:05 on Wednesday; they get most done around 16:00 (peak hours 15:00, 16:00); quiet hours 22:00-07:00.",
    "Completed 12 tasks in the last 7 days, above their usual 3.1/day (z=+1.4): momentum is rising.",
    "Their main areas lately: Work, then Health.",
]


@pytest.mark.parametrize(
    "tip",
    [
        "Your peak starts at 15:00: save the hardest Work task for then.",
        "12 tasks in 7 days. Keep the streak going this Wednesday.",
        "Take a walk before 16:00 and come back to Health.",
        "Rest now.",
        "Block 16:00 for one deep task.",
    ],
)
def test_tips_built_from_the_facts_pass(tip: str) -> None:
    assert is_grounded(tip, FACTS), ungrounded(tip, FACTS)


@pytest.mark.parametrize(
    ("tip", "invented"),
    [
        ("Give the 12 Tax tasks a due date.", ["Tax"]),
        ("Finish 5 tasks before lunch.", ["5"]),
        ("Your peak starts at 09:00.", ["09:00"]),
        ("Plan Friday around your peak.", ["Friday"]),
        ("Call Anna about the Berlin trip.", ["Anna", "Berlin"]),
        ("Review the December budget.", ["December"]),
    ],
)
def test_invented_numbers_times_days_and_names_are_caught(tip: str, invented: list[str]) -> None:
    assert ungrounded(tip, FACTS) == invented
