""" "why this tip?" answers with the facts behind the tip in the person's words: the lead's first, what oO learned,
who wrote it; never an agent id or a parameter name, and never an assumed value as a learned one."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from agents.base import UserHistory
from agents.inference import infer_params
from agents.registry import registry
from oo_app.llm.aliases import COMPOSER_MODEL, LOCAL_TIP_MODEL
from oo_app.models import User
from oo_app.recommender.reasons import (
    EXPIRED,
    GENERAL,
    NO_FACTS,
    NO_HISTORY,
    UNSAID,
    because,
    why,
    why_this_tip,
    written_by,
)
from tests.conftest import NOW

PERSONAS = sorted((Path(__file__).parent / "personas").glob("persona-*.json"))
# Agent ids and parameter names: what a person must never read in "why this tip?" ("calendar" and "mood" are words
# of the language as well as ids: a person may read those).
NAMES = {*registry(), *(p.key for agent in registry().values() for p in agent.manifest.params), "open-task"}
INTERNAL = {name for name in NAMES if "-" in name or "_" in name} | {"learner", "tastes", "tz"}


def _plain(text: str) -> None:
    found = sorted(word for word in INTERNAL if re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text))
    assert not found, f"internal names {found} in {text!r}"
    assert "_" not in text, f"a parameter-like name in {text!r}"


def _facts(history: UserHistory) -> dict[str, dict]:
    """Every agent's facts for ``history``, with the params the runner hands them (assumed values marked)."""
    return {
        agent_id: agent.compute(history, infer_params(agent.manifest, history).params()).data
        for agent_id, agent in registry().items()
    }


def _new_person(at: datetime) -> dict[str, dict]:
    return _facts(UserHistory.build([], [], "Europe/Berlin", at))


def _persona(path: Path, hours: int = 0) -> dict[str, dict]:
    data = json.loads(path.read_text())
    history = UserHistory.from_mapping(data)
    return _facts(
        UserHistory(history.events, history.task_completions, history.tz, history.now + timedelta(hours=hours))
    )


# --- time of day: learned hours are stated, assumed ones are worded as assumptions ---


def test_a_new_persons_quiet_hours_are_said_to_be_assumed() -> None:
    facts = _new_person(datetime(2026, 11, 20, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
    said = because("time-of-day", facts)
    assert said == "oO does not know your quiet hours yet, so it assumes 22:00 to 07:00."


def test_a_new_person_is_not_told_their_best_hours() -> None:
    facts = _new_person(datetime(2026, 11, 20, 9, 15, tzinfo=UTC))  # 10:15 in Berlin: the assumed peak
    said = because("time-of-day", facts)
    assert "has not learned yet when in the day you work best" in said, said
    assert not re.search(r"\d\d:\d\d", said), f"no assumed hour stated: {said}"


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)
def test_a_persons_learned_hours_are_stated_as_theirs(path: Path) -> None:
    for hours in range(0, 24, 2):
        facts = _persona(path, hours)
        said = because("time-of-day", facts)
        assert facts["time-of-day"]["assumed"] == [], "months of history teach every hour"
        assert said.startswith(("Your quiet hours run from", "You get the most done", "Your best hours")), said
        assert re.search(r"\d\d:00", said), f"it names their hours: {said}"


def test_a_run_of_peak_hours_reads_as_a_span() -> None:
    data = {"phase": "peak", "preferred_hour": 10, "peak_hours": [9, 10, 11], "quiet_start": 23, "quiet_end": 7}
    assert because("time-of-day", {"time-of-day": {**data, "local_time": "10:20", "assumed": []}}) == (
        "You get the most done between 09:00 and 12:00."
    )


# --- every other agent's facts ---


def test_momentum_states_the_week_against_the_usual_and_its_cold_start_as_too_little_history() -> None:
    rising = {"trend": "rising", "done_last_7_days": 12, "per_day_last_7_days": 1.7, "baseline_per_day": 1.1}
    assert because("momentum", {"momentum": {**rising, "noun": "tasks"}}) == (
        "You completed 12 tasks in the last 7 days (1.7 a day), up on your usual 1.1 a day."
    )
    cold = {"trend": "steady", "done_last_7_days": 1, "noun": "tips", "cold_start": True}
    said = because("momentum", {"momentum": cold})
    assert said.startswith("You completed 1 tip in the last 7 days; oO needs"), said
    assert "steady" not in said, "the cold-start trend is an assumption, not said"


def test_overdue_states_the_usual_lateness_and_the_project_that_slips() -> None:
    data = {"lateness_tolerance_days": 1.5, "least_real_project": "Home", "least_real_by_days": 2.0}
    assert because("overdue-task", {"overdue-task": data}) == (
        "You usually finish tasks about 1.5 days after their due date, and Home due dates slip the most."
    )
    assert "too few" in because("overdue-task", {"overdue-task": {"dated_completions": 2, "cold_start": True}})


def test_focus_names_the_areas_with_what_was_done_there() -> None:
    data = {"preferred_areas": ["Work", "Home"], "completions": {"Work": 23, "Home": 12}}
    assert (
        because("focus-area", {"focus-area": data})
        == "Most of what you finish is in Work (23 done), then Home (12 done)."
    )


def test_recent_patterns_name_the_hour_and_the_days() -> None:
    data = {"peak_hour": 9, "daily_strength": 4.2, "busy_weekdays": ["Monday", "Tuesday", "Wednesday", "Thursday"]}
    assert because("recent-patterns", {"recent-patterns": data}) == (
        "Most of your tasks get done around 09:00, mostly on Mondays to Thursdays."
    )


def test_the_calendar_states_the_free_time_and_the_days_load() -> None:
    data = {"free_now": True, "free_until": "14:00", "free_minutes": 90, "load": "heavier", "meetings_today": 5}
    assert because("calendar", {"calendar": {**data, "usual_meetings": 3}}) == (
        "Your calendar is free until 14:00 (1 h 30 min), with 5 meetings today against your usual 3."
    )
    meeting = {"in_meeting": True, "meeting_until": "11:30", "load": "usual"}
    assert because("calendar", {"calendar": meeting}) == "Your calendar shows a meeting until 11:30."


def test_a_most_overdue_open_task_is_said_so_without_its_title() -> None:
    assert because("open-task", {}) == "It is the most urgent open task on your list, by its due date."


@pytest.mark.parametrize("path", PERSONAS, ids=lambda p: p.stem)
def test_every_leads_facts_read_as_plain_words(path: Path) -> None:
    """Whichever agent leads, for every persona at every other hour, a sentence of its own (never the fallback),
    with no agent id and no parameter name in it."""
    for hours in range(0, 24, 6):
        facts = _persona(path, hours)
        for lead in ("time-of-day", "momentum", "overdue-task", "focus-area", "recent-patterns", "calendar"):
            said = because(lead, facts)
            assert said not in (UNSAID, EXPIRED), (lead, said)
            _plain(said)


# --- tips with no lead, no facts, or facts gone ---


def test_a_general_tip_says_whether_oo_knows_anything_of_the_person() -> None:
    assert because(None, {}) == NO_FACTS
    assert because(None, _new_person(NOW)) == NO_HISTORY
    assert because(None, _persona(PERSONAS[0])) == GENERAL
    answered = {**_new_person(NOW), "learner": {"seen": {"generic": {"taken": 3, "reactions": 3}}, "reactions": 3}}
    assert because(None, answered) == NO_HISTORY, "answers to tips are no habits: said by the learned sentence"


def test_a_gentle_tip_says_energy_is_low() -> None:
    mood = {"energy_now": "low", "because": "hour", "low_hours": [15]}
    assert because(None, {"mood": mood}) == "Your energy tends to dip around this hour, so this tip keeps it small."


def test_facts_of_an_older_agent_version_or_gone_never_break_the_answer() -> None:
    assert because("time-of-day", {"time-of-day": {"phase": "peak"}}) == UNSAID
    assert because("momentum", {}) == EXPIRED
    assert because("a-future-agent", {"a-future-agent": {"x": 1}}) == UNSAID


# --- the writer and the whole answer ---


def test_the_writer_is_named_in_plain_words() -> None:
    assert written_by(COMPOSER_MODEL) == "Written by oO's rules."
    assert written_by(LOCAL_TIP_MODEL) == "Written by the local model from these facts."
    assert written_by("ollama_chat/qwen3") == "Written by a language model (ollama_chat/qwen3) from these facts."


def test_a_local_model_tip_gives_its_leads_facts_then_what_was_learned() -> None:
    data = {"preferred_areas": ["Work", "Home"], "completions": {"Work": 23, "Home": 12}}
    learned = "You finish most tips like this one (4 of 5)."
    answer = why("focus-area", {"focus-area": data}, LOCAL_TIP_MODEL, learned, "Work first: one task there today.")
    assert answer.text == f"Most of what you finish is in Work (23 done), then Home (12 done). {learned}"
    assert answer.written_by == "Written by the local model from these facts."
    assert len(re.findall(r"[.!?](?:\s|$)", answer.text)) <= 2, "a sentence or two"


# --- from the database: the tips oO really writes ---


def test_a_brand_new_person_reads_why_with_nothing_claimed(session: Session) -> None:
    from oo_app.demo import grant_consents
    from oo_app.recommender import recommend

    newcomer = User(email="new@example.com", display_name="New", tz="Europe/Berlin")
    session.add(newcomer)
    session.flush()
    grant_consents(session, newcomer, ("activity", "tasks", "mood"))
    for hour in range(0, 24, 3):
        tip = recommend(session, newcomer, NOW.replace(hour=hour))
        answer = why_this_tip(session, tip)
        _plain(answer.text)
        assert answer.written_by == "Written by oO's rules."
        assert not re.search(r"best hour|peak|your quiet hours", tip.text, re.I), f"at {hour}: {tip.text}"
        assert not re.search(r"You get the most done|Your quiet hours run|Your best hours", answer.because), answer


def test_a_person_with_history_reads_their_own_facts(session: Session, demo_user: User) -> None:
    from oo_app.recommender import recommend

    tip = recommend(session, demo_user, NOW)
    answer = why_this_tip(session, tip)
    assert tip.lead_agent is not None, "months of history: a tip led by an agent"
    assert answer.because not in (NO_FACTS, NO_HISTORY, GENERAL, UNSAID, EXPIRED), answer
    _plain(answer.text)


def test_the_learned_hour_a_tip_names_is_the_one_its_answer_gives() -> None:
    data = {"phase": "quiet", "preferred_hour": 10, "peak_hours": [9, 10], "quiet_start": 23, "quiet_end": 7}
    facts = {"time-of-day": {**data, "local_time": "03:00", "assumed": []}}
    assert because("time-of-day", facts, "Tomorrow at 10:00: start with the task that matters most.") == (
        "Your quiet hours run from 23:00 to 07:00, and you get the most done around 10:00."
    )
    evening = {"time-of-day": {**facts["time-of-day"], "phase": "after_peak", "local_time": "17:00"}}
    assert because("time-of-day", evening, "Wind down before 23:00, when your quiet hours begin.") == (
        "You get the most done between 09:00 and 11:00, and your quiet hours start at 23:00."
    )
    assert because("time-of-day", evening, "Write down tomorrow's first task for 10:00.") == (
        "You get the most done around 10:00."
    )
