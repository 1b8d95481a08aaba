"""The calendar agent: free time and the next meeting in plain words, today's load against the usual day, facts in its
data the grounding check can hold a tip to, and a cold start that says nothing it does not know."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.base import UserHistory
from agents.busy import BusyInterval, CalendarDay
from agents.calendar import AGENT, infer_usual_meetings, length
from agents.inference import run_inference
from agents.registry import registry
from oo_app.recommender.grounding import ungrounded

BERLIN = "Europe/Berlin"


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)


def _history(now: datetime, busy=(), days=()) -> UserHistory:
    base = UserHistory.build([], [], BERLIN, now)
    return dataclasses.replace(base, busy=tuple(busy), calendar_days=tuple(days))


def _snippet(history: UserHistory):
    return AGENT.compute(history, run_inference(AGENT.manifest, history))


# A Friday: 09-11 and two overlapping meetings 14-15 and 14:30-16, then 17:00-17:45.
FRIDAY = [
    BusyInterval(_at(2026, 11, 20, 9), _at(2026, 11, 20, 11)),
    BusyInterval(_at(2026, 11, 20, 14), _at(2026, 11, 20, 15)),
    BusyInterval(_at(2026, 11, 20, 14, 30), _at(2026, 11, 20, 16)),
    BusyInterval(_at(2026, 11, 20, 17), _at(2026, 11, 20, 17, 45)),
]
PAST = [CalendarDay(date(2026, 11, day), 120, 3) for day in range(6, 20)]


def test_the_agent_is_registered_reads_the_calendar_under_its_consent_and_fits_every_context() -> None:
    manifest = registry()["calendar"].manifest
    assert manifest.calendar
    assert manifest.consents == ("calendar",)
    assert manifest.contexts == ()
    assert manifest.schedule <= timedelta(minutes=10), "busy times change within the hour"


def test_in_a_meeting_it_says_when_it_ends_the_free_block_after_it_and_todays_load() -> None:
    snippet = _snippet(_history(_at(2026, 11, 20, 10, 30), FRIDAY, PAST))
    assert snippet.text == (
        "In a meeting until 11:00; free from 11:00 to 14:00 (3 h); next meeting at 14:00. "
        "4 meetings today, about your usual 3."
    )
    assert snippet.data["in_meeting"] is True
    assert (snippet.data["free_from"], snippet.data["free_until"], snippet.data["free_minutes"]) == (
        "11:00",
        "14:00",
        180,
    )


def test_free_now_it_says_until_when_and_for_how_long() -> None:
    snippet = _snippet(_history(_at(2026, 11, 20, 11, 15), FRIDAY, PAST))
    assert snippet.text.startswith("Free now until 14:00 (2 h 45 min); next meeting at 14:00.")
    assert snippet.data["free_now"] is True
    assert snippet.data["free_length"] == {"hours": 2, "minutes": 45}


def test_a_gap_too_short_to_name_is_skipped_for_the_next_real_free_block() -> None:
    snippet = _snippet(_history(_at(2026, 11, 20, 16, 50), FRIDAY, PAST))
    assert snippet.text.startswith("Next meeting at 17:00; free from 17:45 with nothing booked in the next 48 h.")


def test_a_meeting_tomorrow_is_named_as_tomorrow() -> None:
    tomorrow = [BusyInterval(_at(2026, 11, 21, 9), _at(2026, 11, 21, 10))]
    snippet = _snippet(_history(_at(2026, 11, 20, 18), tomorrow, PAST))
    assert snippet.text.startswith("Free now until tomorrow at 09:00 (15 h); next meeting tomorrow at 09:00.")
    assert snippet.data["next_meeting"] == "09:00"


def test_a_day_booked_solid_says_there_is_no_free_time() -> None:
    solid = [BusyInterval(_at(2026, 11, 20, 0), _at(2026, 11, 22, 12))]
    snippet = _snippet(_history(_at(2026, 11, 20, 10), solid, PAST))
    assert snippet.text.startswith("In a meeting until Sunday at 12:00; no free time in the next 48 h.")


def test_the_load_is_heavier_or_lighter_than_usual_only_beyond_one_meeting() -> None:
    heavy = [BusyInterval(_at(2026, 11, 20, h), _at(2026, 11, 20, h, 30)) for h in range(9, 15)]
    assert _snippet(_history(_at(2026, 11, 20, 8), heavy, PAST)).text.endswith(
        "6 meetings today, more than your usual 3."
    )
    assert _snippet(_history(_at(2026, 11, 20, 8), [], PAST)).text.endswith(
        "No meetings today, fewer than your usual 3."
    )
    one = FRIDAY[:1]
    assert _snippet(_history(_at(2026, 11, 20, 8), one, PAST)).text.endswith(
        "1 meeting today, fewer than your usual 3."
    )


def test_the_usual_count_is_the_median_of_past_days_and_unknown_before_five_of_them() -> None:
    now = _at(2026, 11, 20, 8)
    days = [
        CalendarDay(date(2026, 11, day), 60, count)
        for day, count in zip(range(13, 20), [0, 0, 2, 5, 4, 9, 4], strict=True)
    ]
    assert infer_usual_meetings(_history(now, days=days)) == 4
    assert infer_usual_meetings(_history(now, days=days[:4])) is None
    today = CalendarDay(date(2026, 11, 20), 600, 40)
    assert infer_usual_meetings(_history(now, days=[*days, today])) == 4, "today is not part of the usual"
    snippet = _snippet(_history(now, FRIDAY, days[:4]))
    assert snippet.text.endswith("4 meetings today.")
    assert snippet.data["load"] == "unknown"


def test_todays_count_is_the_stored_day_when_the_sync_wrote_one() -> None:
    stored = CalendarDay(date(2026, 11, 20), 300, 7)
    snippet = _snippet(_history(_at(2026, 11, 20, 11, 15), FRIDAY, [*PAST, stored]))
    assert snippet.data["meetings_today"] == 7


def test_without_a_calendar_read_it_says_so_and_states_no_free_time() -> None:
    snippet = _snippet(_history(_at(2026, 11, 20, 10)))
    assert snippet.text == "No calendar read yet."
    assert snippet.data["cold_start"] is True
    assert "free_until" not in snippet.data


def test_lengths_read_as_plain_words() -> None:
    assert length(45)[0] == "45 min"
    assert length(180)[0] == "3 h"
    assert length(90.9)[0] == "1 h 30 min"


def test_grounding_accepts_a_tip_stating_the_facts_and_refuses_a_wrong_free_time() -> None:
    line = _snippet(_history(_at(2026, 11, 20, 10, 30), FRIDAY, PAST)).text
    assert ungrounded("Free from 11:00 to 14:00: 3 h for your one deep task.", [line]) == []
    assert ungrounded("4 meetings today, about your usual 3: keep the gaps for small tasks.", [line]) == []
    assert ungrounded("Free from 10:00 to 14:00: start your deep task.", [line]) == ["10:00"]
    assert ungrounded("Free until 15:00: start your deep task.", [line]) == ["15:00"]
    assert ungrounded("You have 4 h free before 14:00.", [line]) == ["4 h"], "a wrong length"


BUSY = st.lists(
    st.tuples(st.integers(-600, 3000), st.integers(1, 600)).map(
        lambda pair: BusyInterval(
            _at(2026, 11, 20, 12) + timedelta(minutes=pair[0]),
            _at(2026, 11, 20, 12) + timedelta(minutes=pair[0] + pair[1]),
        )
    ),
    max_size=12,
)
DAYS = st.lists(st.integers(0, 30), max_size=10).map(
    lambda counts: [CalendarDay(date(2026, 11, 19) - timedelta(days=i), 60 * c, c) for i, c in enumerate(counts)]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(busy=BUSY, days=DAYS, minutes=st.integers(0, 24 * 60))
def test_any_calendar_gets_a_short_snippet_whose_every_number_and_time_is_in_its_data(
    busy: list[BusyInterval], days: list[CalendarDay], minutes: int
) -> None:
    snippet = _snippet(_history(_at(2026, 11, 20, 0) + timedelta(minutes=minutes), busy, days))
    assert 0 < len(snippet.text) <= 240
    data_text = repr(snippet.data)
    for clock in re.findall(r"\b\d{2}:\d{2}\b", snippet.text):
        assert f"'{clock}'" in data_text, (clock, snippet.text, snippet.data)
    assert "_" not in snippet.text, "no parameter names in what a person reads"
