"""Contexts take effect: agents declare the kinds they fit, the context in effect (chosen by hand or scheduled on the
person's clock) decides who speaks, it is a fact in the prompt and for the composer, and switching it changes the
next tip."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agents.base import AgentManifest
from agents.contexts import WEEKDAYS, ContextKind, kind_of
from agents.eligibility import context_in_effect, eligible_agents
from agents.registry import registry
from agents.runner import run_due
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.models import Context, Tip, TipKind, User
from oo_app.profile.contexts import create_context, deactivate_context, set_schedules, switch_context
from oo_app.recommender import recommend
from oo_app.recommender.composer import candidates
from oo_app.recommender.grounding import ungrounded
from oo_app.recommender.on_request import tip_for_new_context
from oo_app.recommender.prompts import CURRENT_VERSION, fact_lines, facts_of, render
from tests.conftest import NOW
from tests.test_profile_helpers import signed_in

TASK_AGENTS = {"overdue-task", "focus-area", "momentum", "recent-patterns"}
WEEKDAYS_9_TO_5 = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}


def berlin(*args: int) -> datetime:
    """A wall-clock time in Berlin (the demo person's zone) as aware UTC."""
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def in_effect(session: Session, user: User, now: datetime) -> str | None:
    context = context_in_effect(session, user.id, now)
    return context.name if context is not None else None


def eligible(session: Session, user: User, now: datetime = NOW) -> set[str]:
    return {agent.manifest.id for agent in eligible_agents(session, user.id, now)}


@pytest.fixture
def contexts(session: Session, demo_user: User) -> User:
    for name in ("work", "holiday", "gym"):
        create_context(session, demo_user, name)
    session.commit()
    return demo_user


# What a context means


@pytest.mark.parametrize(
    ("name", "chosen", "kind"),
    [
        ("work", None, ContextKind.work),
        ("Office", None, ContextKind.work),
        ("home office", None, ContextKind.work),
        ("home", None, ContextKind.home),
        ("holiday", None, ContextKind.rest),
        ("Summer vacation", None, ContextKind.rest),
        ("day off", None, ContextKind.rest),
        ("gym", None, ContextKind.any),
        ("gym", "rest", ContextKind.rest),
    ],
)
def test_a_context_gets_its_kind_from_the_choice_else_from_its_name(name: str, chosen: str | None, kind: str) -> None:
    assert kind_of(name, chosen) is kind


def test_every_agent_declares_the_kinds_it_fits_and_only_time_of_day_speaks_on_a_day_off() -> None:
    declared = {agent_id: set(agent.manifest.contexts) for agent_id, agent in registry().items()}

    assert declared["time-of-day"] == set(), "quiet hours hold in every context"
    assert all(declared[agent_id] == {"work", "home"} for agent_id in TASK_AGENTS), declared


def test_a_manifest_with_an_unknown_context_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown context kinds \['holiday'\]"):
        AgentManifest("x", "1", "", timedelta(hours=1), timedelta(hours=1), contexts=("holiday",))


def test_the_active_context_decides_which_agents_are_eligible(session: Session, contexts: User) -> None:
    everyone = eligible(session, contexts)
    assert everyone >= TASK_AGENTS

    switch_context(session, contexts, "holiday", NOW)
    assert eligible(session, contexts) == {"time-of-day", "mood", "calendar", "learner"}, (
        "quiet hours, energy, meetings and what the person takes up matter on a day off too"
    )

    switch_context(session, contexts, "work", NOW)
    assert eligible(session, contexts) == everyone

    switch_context(session, contexts, "gym", NOW)
    assert eligible(session, contexts) == everyone, "a context oO cannot place silences no one"


def test_a_kind_picked_at_creation_beats_the_name(session: Session, demo_user: User) -> None:
    create_context(session, demo_user, "gym", kind="rest", activate=True)

    assert eligible(session, demo_user) == {"time-of-day", "mood", "calendar", "learner"}
    with pytest.raises(InvalidInput, match="'party' is not a kind of context; use work, home, rest, any"):
        create_context(session, demo_user, "pub", kind="party")


# Schedules


def test_a_weekday_schedule_puts_its_context_in_effect_on_the_persons_clock(session: Session, contexts: User) -> None:
    set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5])

    assert in_effect(session, contexts, berlin(2026, 11, 20, 13, 0)) == "work"  # Friday
    assert in_effect(session, contexts, berlin(2026, 11, 20, 8, 59)) is None
    assert in_effect(session, contexts, berlin(2026, 11, 20, 17, 0)) is None, "the end is not in the slot"
    assert in_effect(session, contexts, berlin(2026, 11, 21, 13, 0)) is None  # Saturday
    contexts.tz = "America/New_York"
    session.add(contexts)
    assert in_effect(session, contexts, berlin(2026, 11, 20, 13, 0)) is None, "07:00 in New York"


def test_an_overnight_schedule_runs_into_the_next_day(session: Session, contexts: User) -> None:
    create_context(session, contexts, "night shift")
    set_schedules(session, contexts, "night shift", [{"weekdays": ["fri"], "start": "22:00", "end": "06:00"}])

    assert in_effect(session, contexts, berlin(2026, 11, 20, 23, 0)) == "night shift"
    assert in_effect(session, contexts, berlin(2026, 11, 21, 5, 59)) == "night shift"  # Saturday morning
    assert in_effect(session, contexts, berlin(2026, 11, 21, 6, 0)) is None
    assert in_effect(session, contexts, berlin(2026, 11, 20, 5, 0)) is None, "Thursday has no night shift"


def test_a_schedule_keeps_to_the_wall_clock_across_a_dst_change(session: Session, contexts: User) -> None:
    set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5])
    summer_monday = datetime(2026, 10, 19, 7, 0, tzinfo=UTC)  # 09:00 CEST
    winter_monday = datetime(2026, 10, 26, 7, 30, tzinfo=UTC)  # 08:30 CET, the day after clocks went back

    assert in_effect(session, contexts, summer_monday) == "work"
    assert in_effect(session, contexts, winter_monday) is None
    assert in_effect(session, contexts, winter_monday + timedelta(minutes=30)) == "work"


def test_a_switch_by_hand_holds_until_the_next_schedule_boundary(session: Session, contexts: User) -> None:
    set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5])
    switch_context(session, contexts, "holiday", berlin(2026, 11, 20, 13, 0))

    assert in_effect(session, contexts, berlin(2026, 11, 20, 16, 59)) == "holiday"
    assert in_effect(session, contexts, berlin(2026, 11, 20, 17, 0)) is None, "the schedule's end is a boundary"
    assert in_effect(session, contexts, berlin(2026, 11, 23, 9, 0)) == "work", "Monday's start takes over"
    switch_context(session, contexts, None, berlin(2026, 11, 23, 10, 0))
    assert in_effect(session, contexts, berlin(2026, 11, 23, 12, 0)) is None, "'none' is a choice by hand too"
    assert in_effect(session, contexts, berlin(2026, 11, 24, 9, 0)) == "work"


def test_deactivating_the_scheduled_context_turns_it_off_until_the_next_boundary(
    session: Session, contexts: User
) -> None:
    set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5])
    deactivate_context(session, contexts, "work", berlin(2026, 11, 20, 10, 0))

    assert in_effect(session, contexts, berlin(2026, 11, 20, 11, 0)) is None
    assert in_effect(session, contexts, berlin(2026, 11, 23, 9, 30)) == "work"


def test_a_round_judges_the_context_at_its_own_moment_not_at_the_clocks(session: Session, contexts: User) -> None:
    # Noon in Berlin three days from today: a holiday scheduled around it is not in effect on the wall clock.
    day = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).date() + timedelta(days=3)
    moment = berlin(day.year, day.month, day.day, 12, 0)
    holiday = {"weekdays": [WEEKDAYS[day.weekday()]], "start": "11:00", "end": "13:00"}
    set_schedules(session, contexts, "holiday", [holiday])
    assert in_effect(session, contexts, datetime.now(UTC)) is None

    computed = {output.agent_id for output in run_due(session, moment, [contexts.id])}
    assert "time-of-day" in computed
    assert not computed & TASK_AGENTS, "on holiday at the round's moment: the task agents stay silent"


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"weekdays": ["mon"], "start": "09:00", "end": "09:00"}, "a schedule cannot end when it starts (09:00)"),
        ({"weekdays": ["funday"], "start": "09:00", "end": "17:00"}, "'funday' is not a weekday; use mon, tue"),
        ({"weekdays": [], "start": "09:00", "end": "17:00"}, "a schedule needs at least one weekday"),
        ({"weekdays": ["mon"], "start": "25:00", "end": "17:00"}, "the start '25:00' is not a time of day"),
        ({"weekdays": ["mon"], "start": "09:00", "end": "5pm"}, "the end '5pm' is not a time of day"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_clear_message_and_nothing_stored(
    session: Session, contexts: User, schedule: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5, schedule])

    assert session.exec(select(Context.schedules).where(Context.name == "work")).one() == []


def test_schedules_of_two_contexts_may_not_overlap(session: Session, contexts: User) -> None:
    set_schedules(session, contexts, "work", [WEEKDAYS_9_TO_5])
    create_context(session, contexts, "night shift")
    set_schedules(session, contexts, "night shift", [{"weekdays": ["sun"], "start": "22:00", "end": "06:00"}])

    with pytest.raises(Conflict, match="holiday's schedule fri 16:00-18:00 overlaps work's mon, tue, wed, thu, fri"):
        set_schedules(session, contexts, "holiday", [{"weekdays": ["fri"], "start": "16:00", "end": "18:00"}])
    with pytest.raises(Conflict, match="overlaps night shift's sun 22:00-06:00"):
        set_schedules(session, contexts, "gym", [{"weekdays": ["Monday"], "start": "05:00", "end": "07:00"}])
    set_schedules(session, contexts, "gym", [{"weekdays": ["mon"], "start": "06:00", "end": "09:00"}])  # touching
    with pytest.raises(NotFound, match="you have no context named 'pub'"):
        set_schedules(session, contexts, "pub", [])


@pytest.fixture
def client(contexts: User) -> Iterator[TestClient]:
    with signed_in(contexts) as client:
        yield client


def test_the_api_stores_schedules_and_refuses_bad_ones(client: TestClient) -> None:
    stored = client.put(
        "/api/profile/contexts/work/schedules",
        json={"schedules": [{"weekdays": ["fri", "mon"], "start": "9:00", "end": "17:00"}]},
    )
    overlapping = client.put(
        "/api/profile/contexts/gym/schedules",
        json={"schedules": [{"weekdays": ["mon"], "start": "16:00", "end": "18:00"}]},
    )
    equal = client.put(
        "/api/profile/contexts/gym/schedules",
        json={"schedules": [{"weekdays": ["sat"], "start": "08:00", "end": "08:00"}]},
    )
    created = client.patch("/api/profile/contexts", json={"action": "create", "name": "pub", "kind": "rest"})

    assert stored.status_code == 200, stored.text
    work = next(c for c in stored.json()["contexts"] if c["name"] == "work")
    assert work["schedules"] == [{"weekdays": ["mon", "fri"], "start": "09:00", "end": "17:00"}]
    assert work["kind"] == "work"
    assert overlapping.status_code == 409
    assert "overlaps work's mon, fri 09:00-17:00" in overlapping.text
    assert equal.status_code == 422
    assert "cannot end when it starts" in equal.text
    assert created.status_code == 200, created.text
    assert next(c for c in created.json()["contexts"] if c["name"] == "pub")["kind"] == "rest"


# The prompt, the composer and the next tip


def test_the_context_is_a_fact_in_the_prompt_and_a_tip_may_name_it(session: Session, contexts: User) -> None:
    switch_context(session, contexts, "holiday", NOW)
    context = context_in_effect(session, contexts.id, NOW)
    facts = facts_of([], [], context=context)

    assert "Context: context: holiday (rest)" not in render([], [], CURRENT_VERSION, context)
    assert "context: holiday (rest)" in render([], [], CURRENT_VERSION, context)
    assert "context: none" in render([], [], CURRENT_VERSION, None)
    assert facts["context"] == {"name": "holiday", "kind": "rest"}
    assert ungrounded("Enjoy the Holiday: leave the list closed.", fact_lines(facts)) == []
    assert ungrounded("Enjoy the Holiday in Rome.", fact_lines(facts)) == ["Rome"]


def test_at_rest_the_composer_writes_no_todo_and_stays_grounded(session: Session, contexts: User) -> None:
    switch_context(session, contexts, "holiday", NOW)
    tip = recommend(session, contexts, NOW)
    outputs = {source["agent_id"] for source in tip.sources}
    facts = facts_of([], [], context=context_in_effect(session, contexts.id, NOW))

    assert tip.prompt_version == CURRENT_VERSION
    assert outputs == {"time-of-day", "mood", "calendar", "learner"}
    assert all(draft.kind is not TipKind.todo for draft in candidates(facts))
    assert all(not ungrounded(draft.text, fact_lines(facts)) for draft in candidates(facts))


def test_switching_context_changes_the_next_tip(session: Session, contexts: User) -> None:
    """The demo person at work hears about their slipping due dates; on holiday, nothing pushes them."""
    switch_context(session, contexts, "work", NOW)
    at_work = tip_for_new_context(session, contexts, NOW)
    switch_context(session, contexts, "holiday", NOW + timedelta(minutes=1))
    on_holiday = tip_for_new_context(session, contexts, NOW + timedelta(minutes=1))

    assert at_work is not None
    assert on_holiday is not None
    assert "due dates" in at_work.text, at_work.text
    assert "overdue-task" in at_work.agent_ids
    assert on_holiday.text != at_work.text
    assert on_holiday.kind is TipKind.advice
    assert set(on_holiday.agent_ids) <= {"time-of-day", "mood", "calendar", "learner"}, on_holiday.agent_ids
    assert not {"due", "task"} & set(on_holiday.text.lower().split()), on_holiday.text
    latest = session.exec(select(Tip).order_by(Tip.id.desc())).first()
    assert latest.id == on_holiday.id, "the tip after the switch is the person's current tip"


def test_a_tip_records_the_context_it_was_written_in_and_the_learner_reads_it(session: Session, contexts: User) -> None:
    from agents.runner import tip_outcomes_of

    switch_context(session, contexts, "work", NOW)
    at_work = recommend(session, contexts, NOW)
    switch_context(session, contexts, None, NOW + timedelta(minutes=1))
    nowhere = recommend(session, contexts, NOW + timedelta(hours=2))
    assert (at_work.context, nowhere.context) == ("work", None)

    for tip, minutes in ((at_work, 5), (nowhere, 125)):
        tip.reaction, tip.reacted_at = "done", NOW + timedelta(minutes=minutes)
        session.add(tip)
    session.flush()
    outcomes = tip_outcomes_of(session, contexts.id, NOW + timedelta(hours=3))
    assert [outcome.context for outcome in outcomes] == ["work", None]
