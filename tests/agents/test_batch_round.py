"""A round over many persons computes each agent for all of them at once, and stores what computing each person
alone stores: the same snippets, facts and inferred preferences, on SQLite and PostgreSQL."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import Session, select

from agents import batch, runner
from agents.columns import EPOCH, EventColumn
from agents.group_reads import _parsed, read_calendar_days, read_histories, read_tip_outcomes
from agents.population import Population
from agents.registry import registry
from agents.runner import compute_output, run_due
from oo_app.demo import Habits, grant_consents, store_history, synthetic_history
from oo_app.models import (
    AgentOutput,
    AgentRun,
    CalendarDayRecord,
    Consent,
    Event,
    TaskCompletion,
    Tip,
    User,
    UserPreference,
)
from tests.agents.test_batch import assert_same_columns
from tests.conftest import NOW

ZONES = ("Europe/Berlin", "Asia/Kathmandu", "Pacific/Marquesas", "America/New_York")


def _persons(session: Session, count: int) -> list[User]:
    users = []
    for index in range(count):
        habits = Habits(tz=ZONES[index % len(ZONES)], preferred_hour=8 + index, completions_per_day=1.0 + index)
        user = User(email=f"p{index}@example.com", display_name=f"P{index}", tz=habits.tz)
        session.add(user)
        session.flush()
        store_history(session, user, synthetic_history(habits, days=30 + 20 * index, now=NOW, seed=index))
        session.add(Event(user_id=user.id, type="mood", at=NOW - timedelta(hours=index + 1), payload={"level": 1}))
        grant_consents(session, user)
        users.append(user)
    session.commit()
    return users


def test_a_round_computes_each_agent_once_for_all_its_persons(
    any_database: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = _persons(any_database, 4)
    together: list[tuple[str, int]] = []
    collector: set[bool] = set()  # whether the cycle collector ran while a group was computed
    real = batch.compute_many

    def counted(agent, population, *args, **kwargs):  # type: ignore[no-untyped-def]
        together.append((agent.manifest.id, population.size))
        collector.add(gc.isenabled())
        return real(agent, population, *args, **kwargs)

    monkeypatch.setattr(runner, "compute_many", counted)
    written = run_due(any_database, NOW)
    assert sorted(together) == sorted((agent_id, len(users)) for agent_id in registry()), together
    assert len(written) == len(users) * len(registry())
    assert collector == {False}, "the cycle collector is paused while a group is computed"
    assert gc.isenabled(), "and runs again after it"


def test_a_round_stores_what_computing_each_person_alone_stores(any_database: Session) -> None:
    users = _persons(any_database, 4)
    in_round = {(o.user_id, o.agent_id): (o.snippet, o.data) for o in run_due(any_database, NOW)}
    inferred = {(p.user_id, p.scope, p.key): p.value for p in any_database.exec(select(UserPreference))}
    assert not any_database.exec(select(AgentRun).where(AgentRun.status != "ok")).first()
    for user in users:
        for agent in registry().values():
            alone = compute_output(any_database, user, agent, NOW, fresh_data="alone")
            assert alone is not None
            assert (alone.snippet, alone.data) == in_round[(user.id, agent.manifest.id)], agent.manifest.id
    again = {(p.user_id, p.scope, p.key): p.value for p in any_database.exec(select(UserPreference))}
    assert again == inferred
    assert any_database.exec(select(AgentOutput)).all()


def test_one_person_alone_takes_the_per_person_path(any_database: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    users = _persons(any_database, 2)
    monkeypatch.setattr(runner, "compute_many", lambda *args, **kwargs: pytest.fail("batch for one person"))
    assert {o.agent_id for o in run_due(any_database, NOW, [users[0].id])} == set(registry())


def _odd_person(session: Session, index: int, consents: tuple[str, ...]) -> User:
    """A person whose rows sit on every edge a group read must keep: moments a microsecond apart and exactly when the
    clocks change, two events at one moment, rows after now and before the window, check-ins that are not levels,
    projects that plain names merge, projects and kinds of events that hold the separator a group read joins texts
    with, kinds of events the app does not write, a moment SQLite holds in another format, no due date."""
    change = datetime(2026, 3, 29, 1, tzinfo=UTC)  # 02:00 in Berlin becomes 03:00
    user = User(email=f"odd{index}@example.com", tz="Europe/Berlin" if index % 2 else "America/New_York")
    session.add(user)
    session.flush()
    moments = [change + timedelta(microseconds=m) for m in (-1, 0, 1)] + [NOW, NOW - timedelta(days=119, hours=23)]
    for at in moments:
        session.add_all(Event(user_id=user.id, type=kind, at=at) for kind in ("tip_done", "tip_shown", "app_open"))
    if index == 0:  # kinds the app does not write (one holding the separator): the group read reads them apart
        session.add(Event(user_id=user.id, type="app\x1fopen", at=NOW - timedelta(hours=2)))
        session.add(Event(user_id=user.id, type="legacy", at=change))
    elif session.get_bind().dialect.name == "sqlite":  # a moment stored otherwise: the group's events are read as rows
        at = (NOW - timedelta(hours=9)).strftime("%Y-%m-%d %H:%M:%S")
        session.execute(
            sa.text("INSERT INTO events (user_id, type, at, payload) VALUES (:user, 'tip_done', :at, '{}')"),
            {"user": user.id, "at": at},
        )
    session.add(Event(user_id=user.id, type="tip_done", at=NOW + timedelta(microseconds=1)))  # after now
    session.add(Event(user_id=user.id, type="tip_done", at=NOW - timedelta(days=121)))  # before the window
    for level, hours in ((1, 1), (True, 2), ("2", 3), (4, 4), (3, 5), (2, 5)):
        session.add(Event(user_id=user.id, type="mood", at=NOW - timedelta(hours=hours), payload={"level": level}))
    for hours, payload in ((6, [3]), (7, "3"), (8, None)):  # payloads that are no object: no level in either read
        session.add(Event(user_id=user.id, type="mood", at=NOW - timedelta(hours=hours), payload=payload))
    projects = ["Work", " Work\n", "", "Ho\x1fme" if index == 0 else "Home", 'Ärger, "quoted"']
    for number, at in enumerate([*moments, NOW + timedelta(seconds=1), change - timedelta(days=200)]):
        due = None if number % 3 == 0 else at - timedelta(days=number, microseconds=number)
        session.add(
            TaskCompletion(
                user_id=user.id,
                source_key=f"odd:{number}",
                completed_at=at,
                due_at=due,
                project=projects[number % len(projects)],
            )
        )
    session.add_all(Consent(user_id=user.id, key=key, granted=True) for key in consents)
    for number, reaction in enumerate(("done", "liked", None, "dismissed")):
        at = NOW - timedelta(days=number, microseconds=number)
        session.add(
            Tip(
                user_id=user.id,
                text="t",
                prompt_version="p",
                model_alias="a",
                model="m",
                policy="x",
                reaction=reaction,
                reacted_at=at,
                lead_agent="momentum" if number % 2 else None,
            )
        )
    day = (NOW - timedelta(days=3)).date()
    session.add(CalendarDayRecord(user_id=user.id, day=day, busy_minutes=90, meetings=2, first_busy_at=NOW))
    return user


def test_a_group_read_equals_each_persons_read_to_the_last_bit(any_database: Session) -> None:
    session = any_database
    users = [
        *_persons(session, 3),
        _odd_person(session, 0, ("mood", "calendar", "activity")),
        _odd_person(session, 1, ("activity",)),
        User(email="nobody@example.com", tz="Asia/Kathmandu"),
    ]
    session.add(users[-1])
    session.flush()
    session.add(Consent(user_id=users[-1].id, key="activity", granted=True))  # no history: cold-start outputs
    session.commit()
    since = NOW - timedelta(days=runner.HISTORY_DAYS)
    # Two groups: on SQLite the second one's events are read as rows (a moment stored otherwise), the first's not.
    together = read_histories(session, users[:4], since, NOW) | read_histories(session, users[4:], since, NOW)
    alone = [runner._read_history(session, user, NOW) for user in users]
    for user, one in zip(users, alone, strict=True):
        for field in ("events", "task_completions", "moods", "tz", "now"):
            got, expected = getattr(together[user.id], field), getattr(one, field)
            assert (tuple(got) if field != "tz" and field != "now" else got) == expected, (user.email, field)
    assert [together[user.id] for user in users] == alone
    assert all(isinstance(together[user.id].events, EventColumn) for user in users)
    assert_same_columns(Population([together[user.id] for user in users]), Population(alone))
    ids = [user.id for user in users]
    tips = read_tip_outcomes(session, ids, since, NOW)
    assert [tips[i] for i in ids] == [runner.tip_outcomes_of(session, i, NOW) for i in ids]
    assert any(tips[i] for i in ids)
    days = read_calendar_days(session, ids, (NOW - timedelta(days=runner.CALENDAR_DAYS)).date())
    assert [days[i] for i in ids] == [runner.calendar_days_of(session, i, NOW) for i in ids]
    assert any(days[i] for i in ids)
    in_round = {(o.user_id, o.agent_id): (o.snippet, o.data) for o in run_due(session, NOW)}
    assert {user_id for user_id, _ in in_round} == set(ids), "every person got outputs"
    by_id = {user.id: user for user in users}
    for (user_id, agent_id), stored in in_round.items():
        alone_output = compute_output(session, by_id[user_id], registry()[agent_id], NOW, fresh_data="alone")
        assert alone_output is not None
        assert (alone_output.snippet, alone_output.data) == stored, agent_id


@given(st.lists(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 31)), min_size=1, max_size=40))
def test_moments_stored_by_sqlite_are_read_from_their_digits_exactly(moments: list[datetime]) -> None:
    text = "".join(  # as SQLAlchemy stores them in SQLite, joined as a group read joins them
        f"{m.year:04d}-{m.month:02d}-{m.day:02d} {m.hour:02d}:{m.minute:02d}:{m.second:02d}.{m.microsecond:06d}"
        for m in moments
    )
    expected = [(moment.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1) for moment in moments]
    assert _parsed(text).tolist() == expected
    assert _parsed(text + "+00:00") is None, "stored otherwise: parsed one by one"
