"""The mood agent finds the hours and weekdays a person's energy dips, reads their recent mood, and says what energy
to expect now; with too few check-ins it keeps its defaults."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agents.base import UserHistory
from agents.inference import run_inference
from agents.mood import AGENT, compute
from agents.registry import registry

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday; 13:00 in Berlin
TZ = "Europe/Berlin"


def _checkins(days: int, low_hours: set[int], low_weekdays: set[int] = frozenset(), seed: int = 1) -> list[tuple]:
    """Four check-ins a day at random local hours between 08:00 and 21:00: low (1) at the planted hours and weekdays,
    okay or good (2, 3) otherwise."""
    rng = random.Random(seed)
    zone = ZoneInfo(TZ)
    moods = []
    for day in range(1, days + 1):
        date = (NOW - timedelta(days=day)).astimezone(zone).date()
        for hour in rng.sample(range(8, 22), 4):
            local = datetime(date.year, date.month, date.day, hour, rng.randrange(60), tzinfo=zone)
            low = hour in low_hours or date.weekday() in low_weekdays
            moods.append((local.astimezone(UTC), 1 if low else rng.choice([2, 3])))
    return moods


def _history(moods: list[tuple], now: datetime = NOW) -> UserHistory:
    return UserHistory.build([], [], TZ, now, moods=moods)


def test_the_mood_agent_is_registered_behind_its_own_consent() -> None:
    assert registry()["mood"] is AGENT
    assert AGENT.manifest.consents == ("mood",)
    assert all(param.description for param in AGENT.manifest.params), "every parameter has plain words for /settings"


def test_planted_low_hours_and_weekdays_are_found() -> None:
    history = _history(_checkins(days=42, low_hours={15, 16}, low_weekdays={0}))

    values = run_inference(AGENT.manifest, history)

    assert values["low_hours"] == [15, 16]
    assert values["low_weekdays"] == [0]
    assert 1.0 <= values["recent_mood"] <= 3.0


def test_no_planted_dip_finds_none() -> None:
    values = run_inference(AGENT.manifest, _history(_checkins(days=42, low_hours=set())))
    assert (values["low_hours"], values["low_weekdays"]) == ([], [])


def test_the_recent_mood_weighs_the_last_days_most() -> None:
    older = [(NOW - timedelta(days=10, hours=h), 3) for h in range(6)]
    lately = [(NOW - timedelta(days=1, hours=h), 1) for h in range(3)]
    recent = run_inference(AGENT.manifest, _history(older + lately))["recent_mood"]
    assert recent < 1.5, f"three low days ago outweigh six good ten days ago: {recent}"


def test_too_few_check_ins_keep_the_cold_start_defaults() -> None:
    history = _history([(NOW - timedelta(hours=5), 1), (NOW - timedelta(days=1), 1)])

    values = run_inference(AGENT.manifest, history)

    assert values == {"recent_mood": 2.0, "low_hours": [], "low_weekdays": []}
    empty = compute(_history([]), run_inference(AGENT.manifest, _history([])))
    assert empty.data["energy_now"] == "usual"
    assert empty.data["cold_start"] is True
    assert "No mood check-ins yet" in empty.text


def test_a_planted_dip_hour_makes_energy_low_now_and_says_so() -> None:
    moods = _checkins(days=42, low_hours={13})  # 13:00 in Berlin is NOW
    history = _history(moods)

    snippet = compute(history, run_inference(AGENT.manifest, history))

    assert snippet.data["energy_now"] == "low"
    assert snippet.data["because"] == "hour"
    assert "Energy now: low." in snippet.text
    assert "dip around 13:00" in snippet.text


def test_a_fresh_check_in_decides_the_energy_now() -> None:
    moods = _checkins(days=42, low_hours={13})
    good_now = _history([*moods, (NOW - timedelta(minutes=20), 3)])
    low_now = _history([(NOW - timedelta(minutes=20), 1)])

    good = compute(good_now, run_inference(AGENT.manifest, good_now))
    low = compute(low_now, run_inference(AGENT.manifest, low_now))

    assert (good.data["energy_now"], good.data["because"]) == ("high", "check-in")
    assert (low.data["energy_now"], low.data["latest"]) == ("low", "low")
    assert "Latest check-in: low at 12:40" in low.text


def test_mood_check_ins_are_never_among_the_events_other_agents_read() -> None:
    history = UserHistory.build([("mood", NOW), ("app_open", NOW)], [], TZ, NOW, moods=[(NOW, 2)])
    assert [event.type for event in history.events] == ["app_open"]
    assert [mood.level for mood in history.moods] == [2]
