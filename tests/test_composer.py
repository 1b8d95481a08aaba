"""The rule-based composer only says what the agents' facts say, for every persona at every hour of a day."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest

from agents.base import UserHistory
from agents.busy import BusyInterval, CalendarDay
from agents.inference import infer_params, run_inference
from agents.registry import registry
from oo_app.models import TipKind
from oo_app.recommender.composer import candidates, compose
from oo_app.recommender.drafts import GENERIC, QUIET
from oo_app.recommender.grounding import ungrounded

PERSONAS = sorted((Path(__file__).parent / "personas").glob("persona-*.json"))


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)
def test_every_composer_candidate_is_grounded_in_the_snippets(path: Path) -> None:
    data = json.loads(path.read_text())
    base = UserHistory.from_mapping(data)
    for hour in range(0, 24, 3):
        history = UserHistory(base.events, base.task_completions, base.tz, base.now + timedelta(hours=hour))
        signals, lines = {}, []
        for agent_id, agent in registry().items():
            snippet = agent.compute(history, run_inference(agent.manifest, history))
            signals[agent_id], lines = snippet.data, [*lines, snippet.text]
        for draft in candidates({"signals": signals}):
            assert not ungrounded(draft.text, lines), (hour, draft.text, ungrounded(draft.text, lines))


def test_compose_avoids_recent_tips_then_reuses_the_oldest() -> None:
    facts = {"signals": {}, "recent_tips": []}
    first = compose(facts)
    second = compose({**facts, "recent_tips": [first.text]})
    assert second.text != first.text
    generic = [draft.text for draft in candidates(facts)]
    assert compose({**facts, "recent_tips": list(reversed(generic))}).text == generic[0]


def test_a_fact_from_an_older_agent_version_does_not_break_the_composer() -> None:
    assert compose({"signals": {"time-of-day": {"phase": "peak"}}, "recent_tips": []}).text


def _calendar_facts(history: UserHistory) -> tuple[dict, list[str]]:
    signals, lines = {}, []
    for agent_id in ("time-of-day", "calendar"):
        agent = registry()[agent_id]
        snippet = agent.compute(history, run_inference(agent.manifest, history))
        signals[agent_id], lines = snippet.data, [*lines, snippet.text]
    return {"signals": signals}, lines


@pytest.mark.parametrize("path", PERSONAS[:3], ids=lambda p: p.stem)
def test_every_calendar_candidate_is_grounded_in_the_calendar_line(path: Path) -> None:
    """Meetings planted around every half hour of a day: whatever the free time, the tips restate it exactly."""
    base = UserHistory.from_mapping(json.loads(path.read_text()))
    start = base.now.replace(minute=0, second=0, microsecond=0)
    busy = [
        BusyInterval(start + timedelta(hours=h, minutes=m), start + timedelta(hours=h, minutes=m + length))
        for h, m, length in [(1, 0, 60), (3, 30, 25), (3, 50, 40), (7, 0, 180), (9, 15, 20), (26, 0, 60)]
    ]
    days = [CalendarDay((base.now - timedelta(days=d)).date(), 90, 2) for d in range(1, 8)]
    seen = set()
    for half_hours in range(48):
        history = dataclasses.replace(
            base, now=start + timedelta(minutes=30 * half_hours), busy=tuple(busy), calendar_days=tuple(days)
        )
        facts, lines = _calendar_facts(history)
        for draft in candidates(facts):
            assert not ungrounded(draft.text, lines), (draft.text, lines, ungrounded(draft.text, lines))
            assert len(draft.text) <= 140
            seen.add(draft.text.split(":")[0][-12:])
    assert len(seen) > 5, "the day's different free times gave different tips"


def test_free_time_leads_and_the_quiet_hours_silence_it() -> None:
    calendar = {"in_meeting": False, "free_now": True, "free_until": "14:00", "free_minutes": 45, "load": "usual"}
    awake = {"phase": "before_peak", "preferred_hour": 10, "peak_hours": [10], "quiet_start": 22, "quiet_end": 7}
    first = candidates({"signals": {"calendar": calendar, "time-of-day": awake}})[0]
    assert first.text == "45 min free before 14:00: your one deep task fits."
    quiet = {**awake, "phase": "quiet"}
    texts = [draft.text for draft in candidates({"signals": {"calendar": calendar, "time-of-day": quiet}})]
    assert not any("14:00" in text for text in texts), texts


def test_a_heavier_day_than_usual_asks_for_small_tasks() -> None:
    calendar = {"in_meeting": True, "meeting_until": "11:00", "load": "heavier", "meetings_today": 7}
    texts = [draft.text for draft in candidates({"signals": {"calendar": {**calendar, "usual_meetings": 3}}})]
    assert texts[:2] == [
        "After your meeting ends at 11:00, start with the task that matters.",
        "7 meetings today, more than your usual 3: keep tasks small between them.",
    ]


def _new_persons_facts(now) -> dict:
    """What every agent says of a person of a minute ago (no history), as the runner hands them their params."""
    history = UserHistory.build([], [], "Europe/Berlin", now)
    signals = {}
    for agent_id, agent in registry().items():
        signals[agent_id] = agent.compute(history, infer_params(agent.manifest, history).params()).data
    return {"signals": signals}


@pytest.mark.parametrize("hour", range(24))
def test_a_new_person_is_never_told_an_assumed_hour_as_theirs(hour: int) -> None:
    """The known bug: with no history, the cold-start hours read "This is your best hour" and "Close one open loop
    by 11:00". No candidate may state an hour, a peak or quiet hours oO only assumed."""
    from tests.conftest import NOW

    facts = _new_persons_facts(NOW.replace(hour=hour))
    led = [draft.text for draft in candidates(facts) if draft.lead is not None]
    for text in led:
        assert not re.search(r"\d\d:\d\d|best hour|peak|quiet hours|momentum|steady", text, re.I), (hour, text)


def test_learned_hours_are_still_stated() -> None:
    data = json.loads(PERSONAS[0].read_text())
    truth, base = data["truth"], UserHistory.from_mapping(data)
    history = dataclasses.replace(base, now=base.now.replace(hour=(truth["preferred_hour"] - 1) % 24))
    agent = registry()["time-of-day"]
    signals = {"time-of-day": agent.compute(history, infer_params(agent.manifest, history).params()).data}
    assert signals["time-of-day"]["assumed"] == [], "a persona's months of history teach every hour"
    texts = [draft.text for draft in candidates({"signals": signals}) if draft.lead == "time-of-day"]
    assert any(re.search(r"\d\d:00", text) for text in texts), texts


def test_momentum_says_nothing_while_its_trend_is_only_assumed() -> None:
    cold = {"trend": "steady", "days": 7, "done_last_7_days": 3, "cold_start": True}
    assert not [draft for draft in candidates({"signals": {"momentum": cold}}) if draft.lead == "momentum"]
    known = {**cold, "cold_start": False}
    assert [draft for draft in candidates({"signals": {"momentum": known}}) if draft.lead == "momentum"]


BERLIN_IN_NOVEMBER = timedelta(hours=1)  # a new person's zone is Berlin: a local hour is one UTC hour later


@pytest.mark.parametrize(
    ("hour", "said", "never"),
    [
        (8, r"morning|noon", r"evening|afternoon|lunch"),
        (13, r"midday|lunch", r"evening|tomorrow"),
        (15, r"afternoon|this morning", r"evening|lunch"),
        (20, r"evening|tomorrow|the day end", r"this morning|lunch|afternoon"),
    ],
)
def test_a_new_person_hears_the_time_of_day_by_the_clock(hour: int, said: str, never: str) -> None:
    """Until oO learns a person's best hours, the time-of-day tips go by the clock (a fact), not by an assumed peak."""
    from tests.conftest import NOW

    facts = _new_persons_facts(NOW.replace(hour=hour) - BERLIN_IN_NOVEMBER)
    led = [draft.text for draft in candidates(facts) if draft.lead == "time-of-day"]
    assert led, f"no time-of-day tip at {hour}:00"
    assert any(re.search(said, text, re.I) for text in led), led
    assert not [text for text in led if re.search(never, text, re.I)], led
    facts_text = [json.dumps(facts["signals"]["time-of-day"])]
    assert not [text for text in led if ungrounded(text, facts_text)], "every clock tip is grounded in the facts"


@pytest.mark.parametrize("hour", [8, 13, 15, 20])
def test_a_new_persons_tips_in_a_row_each_differ_from_the_ten_before(hour: int) -> None:
    """The reported bug: a brand-new person's first dozen tips cycled through three general tips."""
    from tests.conftest import NOW

    facts = _new_persons_facts(NOW.replace(hour=hour) - BERLIN_IN_NOVEMBER)
    shown: list[str] = []
    for _ in range(12):
        shown.append(compose({**facts, "recent_tips": shown[-10:]}).text)
    for at, text in enumerate(shown):
        assert text not in shown[max(0, at - 10) : at], (at, text, shown)


@pytest.mark.parametrize("hour", [22, 23, 0, 3, 5, 6])
def test_the_quiet_hours_offer_rest_and_no_general_task_for_now(hour: int) -> None:
    """The found bug: a new person at 05:36 (inside the quiet hours oO assumes) was told to rest once, then eight
    general task tips ("Pick one small task and finish it in the next ten minutes"). In the quiet hours, learned or
    assumed, the quiet tips stand in for the general ones; the person's own facts (an overdue task) still speak."""
    from tests.conftest import NOW

    facts = _new_persons_facts(NOW.replace(hour=hour) - BERLIN_IN_NOVEMBER)
    assert facts["signals"]["time-of-day"]["phase"] == "quiet", hour
    found = candidates(facts)
    assert found, hour
    assert all(draft.kind is TipKind.advice for draft in found), [d.text for d in found]
    assert not {draft.text for draft in found} & {draft.text for draft in GENERIC}
    assert {draft.text for draft in QUIET} <= {draft.text for draft in found}
    shown: list[str] = []
    for _ in range(12):  # a dozen answers in a row: the rest tips take turns, none of them a task
        shown.append(compose({**facts, "recent_tips": shown[-10:]}).text)
    assert set(shown) <= {draft.text for draft in found}
    assert len(set(shown)) >= 3, shown

    facts["signals"]["open-task"] = {"title": "Renew passport", "days_overdue": 2}
    with_task = candidates(facts)
    assert with_task[0].text == "'Renew passport' is 2 days overdue: give it a date today.", "their own task speaks"
    assert not {draft.text for draft in with_task} & {draft.text for draft in GENERIC}


def test_a_context_at_work_in_the_quiet_hours_still_gets_its_tasks() -> None:
    """A night shift the person named: their context says work, so the quiet hours do not silence the general tips."""
    from tests.conftest import NOW

    facts = _new_persons_facts(NOW.replace(hour=3) - BERLIN_IN_NOVEMBER)
    facts["signals"]["open-task"] = {"title": "Call the bank", "days_overdue": 2}
    found = candidates({**facts, "context": {"name": "night shift", "kind": "work"}})
    assert found[0].text == "'Call the bank' is 2 days overdue: give it a date today."
    assert {draft.text for draft in GENERIC} <= {draft.text for draft in found}
