"""The recent-patterns agent reads a weekly or daily rhythm only from what recurs over days, never from one busy day."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from agents.base import UserHistory
from agents.history_arrays import MIN_RHYTHM_DAYS
from agents.recent_patterns import MIN_CYCLE_DAYS, RECENT_DONE
from agents.registry import get_agent
from tests.agents.agent_paths import BOTH_PATHS, Answer

AGENT = get_agent("recent-patterns")
LISBON = ZoneInfo("Europe/Lisbon")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=LISBON)
CYCLES = {"weekly_cycle", "daily_cycle"}


def _done_at_five(days: int) -> UserHistory:
    """A person first seen three weeks ago, who finished 30 tips a minute apart from 05:00, dealt over ``days``
    mornings of the week before last (inside the weeks the cycles read, well past their 14 observed days)."""
    first_morning = (NOW - timedelta(days=12)).replace(hour=5, minute=0)
    events = [("tip_shown", NOW - timedelta(days=21))]
    for n in range(RECENT_DONE):
        events.append(("tip_done", first_morning + timedelta(days=n * days // RECENT_DONE, minutes=n)))
    return UserHistory.build(events, [], "Europe/Lisbon", NOW)


@BOTH_PATHS
def test_one_busy_day_is_no_rhythm(answer: Answer) -> None:
    history = _done_at_five(days=1)
    assert (NOW - history.events[0].at).days >= MIN_CYCLE_DAYS, "observed long enough for the cycles"
    inferred, snippet = answer(AGENT, history)
    assert inferred.assumed >= CYCLES, f"cycles read from one day: {inferred.values}"
    assert snippet.data.get("cold_start"), snippet.text
    assert "05:00" not in snippet.text, f"claims a daily peak from one day: {snippet.text}"


@BOTH_PATHS
def test_the_same_done_over_several_days_show_the_early_peak(answer: Answer) -> None:
    inferred, snippet = answer(AGENT, _done_at_five(days=MIN_RHYTHM_DAYS))
    assert not inferred.assumed & CYCLES, f"assumed {sorted(inferred.assumed)} after {MIN_RHYTHM_DAYS} mornings"
    assert inferred.values["daily_cycle"]["peak_hour"] == 5
    assert "Most done around 05:00" in snippet.text
