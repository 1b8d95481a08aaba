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


CALENDAR = [
    "In a meeting until 11:00; free from 11:00 to 14:00 (3 h); next meeting at 14:00. 4 meetings today, about your "
    "usual 3.",
    "Free now until 16:00 (1 h 30 min); next meeting at 16:00.",
]


@pytest.mark.parametrize(
    "tip",
    [
        "Free from 11:00 to 14:00 (3 h): your one deep task fits.",
        "3 hours free before 14:00: block them for your one deep task.",
        "180 minutes free before 14:00: start the hard task at 11:00.",
        "1 h 30 min before 16:00: finish one small thing.",
        "4 meetings today, about your usual 3: keep the gaps for small tasks.",
    ],
)
def test_a_tip_stating_the_calendar_facts_passes(tip: str) -> None:
    assert is_grounded(tip, CALENDAR), ungrounded(tip, CALENDAR)


@pytest.mark.parametrize(
    ("tip", "invented"),
    [
        ("Free from 10:00 to 14:00: start your deep task.", ["10:00"]),
        ("Free until 15:00: start your deep task.", ["15:00"]),
        ("You have 4 h free before 14:00.", ["4 h"]),
        ("3 min before your next meeting: breathe.", ["3 min"]),
        ("30 min free before 16:00: one small task.", ["30 min"]),
    ],
)
def test_a_wrong_free_time_or_length_is_caught(tip: str, invented: list[str]) -> None:
    assert ungrounded(tip, CALENDAR) == invented
