"""A round finds its group's due (person, agent) pairs in a few statements for the whole group
(:func:`agents.due_pairs.due_agents`), and they are the pairs asking person by person finds
(:func:`agents.eligibility.eligible_agents`, then :func:`agents.runner.is_due`), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from agents.base import Agent
from agents.due_pairs import due_agents
from agents.eligibility import ENABLED_KEY, ZONE_KEY, ZONE_SCOPE, eligible_agents
from agents.freshness import pair_freshness
from agents.registry import registry
from agents.runner import is_due, run_due
from oo_app.models import AgentOutput, Consent, Context, User, UserPreference
from oo_app.tasks import agent_jobs
from tests.conftest import NOW

AGENTS = registry()
CONSENT_KEYS = sorted({key for agent in AGENTS.values() for key in agent.manifest.consents})
SCHEDULES = sorted({agent.manifest.schedule for agent in AGENTS.values()})
LONGEST = SCHEDULES[-1]
TICK = timedelta(microseconds=1)
# How long before the round an output was computed: on each side of every schedule (the last clause of the rule) and
# of the longest one (the oldest output a round reads), long ago, and after the round. Few values: ties are common.
AGO = sorted(
    {offset for schedule in SCHEDULES for offset in (schedule - TICK, schedule, schedule + TICK)}
    | {timedelta(0), LONGEST + timedelta(days=3), timedelta(days=40), -timedelta(hours=1)}
)
# When an output expires, from the round's moment: long gone, exactly then (expired), a tick after, a day after.
EXPIRES = (-timedelta(days=1), timedelta(0), TICK, timedelta(days=1))
ALL_DAY = {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}
SCHEDULED = (
    [],
    [{**ALL_DAY, "start": "00:00", "end": "12:00"}],
    [{**ALL_DAY, "start": "12:00", "end": "00:00"}],  # overnight
    [{"weekdays": ["fri"], "start": "09:00", "end": "17:00"}],
    [{"weekdays": ["funday"], "start": "09:00", "end": "17:00"}],  # unreadable: ignored
    "not a list",
)

# An agent's output: (agent id, version, ago, expires in), and maybe a twin computed at the same moment, written
# after it (the later written is the latest).
stamps = st.tuples(st.sampled_from(("current", "old")), st.sampled_from(EXPIRES))
outputs = st.lists(
    st.tuples(st.sampled_from(sorted(AGENTS)), stamps, st.sampled_from(AGO), st.none() | stamps),
    max_size=14,
)
contexts = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(("work", "holiday", "gym", "home", "summer vacation")),
            "kind": st.sampled_from((None, "work", "rest", "any", "party")),  # party: unknown, read from the name
            "active": st.booleans(),
            "schedules": st.sampled_from(SCHEDULED),
            "switched_ago": st.sampled_from((None, timedelta(minutes=5), timedelta(days=2))),
        }
    ),
    max_size=3,
    unique_by=lambda context: context["name"],
)
persons = st.lists(
    st.fixed_dictionaries(
        {
            "consents": st.fixed_dictionaries(
                {key: st.sampled_from((True, True, False, None)) for key in CONSENT_KEYS}  # None: no row
            ),
            # Only a stored False switches an agent off; "global" is no agent.
            "switches": st.dictionaries(
                st.sampled_from([*AGENTS, "global"]), st.sampled_from((False, True, 0, None, "false"))
            ),
            "tz": st.sampled_from(("Europe/Berlin", "America/New_York", "Asia/Kathmandu")),
            "preferred_tz": st.sampled_from((None, "", "Pacific/Marquesas", 5)),  # None: no row
            "contexts": contexts,
            "outputs": outputs,
        }
    ),
    min_size=1,
    max_size=6,
)
moments = st.sampled_from((NOW, NOW + timedelta(hours=7), NOW + timedelta(days=3, hours=13)))


# Every consent, on holiday (the task agents silenced), a fresh output of time-of-day, and learner's latest output an
# old version's twin of a fresh one.
ON_HOLIDAY = {
    "consents": dict.fromkeys(CONSENT_KEYS, True),
    "switches": {},
    "tz": "Europe/Berlin",
    "preferred_tz": None,
    "contexts": [{"name": "holiday", "kind": None, "active": True, "schedules": [], "switched_ago": None}],
    "outputs": [
        ("time-of-day", ("current", timedelta(days=1)), timedelta(0), None),
        ("learner", ("current", timedelta(days=1)), timedelta(0), ("old", timedelta(days=1))),
    ],
}


def _add_person(session: Session, person: dict[str, Any], now: datetime, keys: Iterator[int]) -> int:
    user = User(email=f"due{next(keys)}@example.com", tz=person["tz"])
    session.add(user)
    session.flush()
    session.add_all(
        Consent(user_id=user.id, key=key, granted=granted)
        for key, granted in person["consents"].items()
        if granted is not None
    )
    session.add_all(
        UserPreference(user_id=user.id, scope=scope, key=ENABLED_KEY, value=value)
        for scope, value in person["switches"].items()
    )
    session.add(UserPreference(user_id=user.id, scope="momentum", key="window_days", value=False))  # not a switch
    if person["preferred_tz"] is not None:
        session.add(UserPreference(user_id=user.id, scope=ZONE_SCOPE, key=ZONE_KEY, value=person["preferred_tz"]))
    for context in person["contexts"]:
        ago = context["switched_ago"]
        session.add(
            Context(
                user_id=user.id,
                name=context["name"],
                kind=context["kind"],
                active=context["active"],
                schedules=context["schedules"],
                switched_at=now - ago if ago is not None else None,
            )
        )
    for agent_id, first, ago, twin in person["outputs"]:
        manifest = AGENTS[agent_id].manifest
        for version, expires in (first, twin) if twin is not None else (first,):
            session.add(
                AgentOutput(
                    user_id=user.id,
                    agent_id=agent_id,
                    agent_version=manifest.version if version == "current" else f"{manifest.version}-old",
                    job_key=f"due-pairs-{next(keys)}",
                    snippet="s",
                    computed_at=now - ago,
                    expires_at=now + expires,
                )
            )
            session.flush()  # the twin gets the larger id
    session.flush()
    return user.id


def _ids(agents: list[Agent]) -> set[str]:
    return {agent.manifest.id for agent in agents}


def _each_alone(session: Session, user_id: int, now: datetime) -> list[str]:
    return [
        agent.manifest.id for agent in eligible_agents(session, user_id, now) if is_due(session, user_id, agent, now)
    ]


def test_a_groups_due_pairs_are_those_asking_person_by_person_finds(any_database: Session) -> None:
    session, keys, seen = any_database, itertools.count(), Counter[str]()

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(persons, moments)
    @example([ON_HOLIDAY], NOW)  # each case at least once, whatever the examples drawn
    def same_answer(population: list[dict[str, Any]], now: datetime) -> None:
        ids = [_add_person(session, person, now, keys) for person in population]
        together = {
            user_id: [agent.manifest.id for agent in due] for user_id, due in due_agents(session, ids, now).items()
        }
        alone = {user_id: _each_alone(session, user_id, now) for user_id in ids}
        assert together == alone
        for user_id in ids:
            eligible = _ids(eligible_agents(session, user_id, now))
            silenced = _ids(eligible_agents(session, user_id, now, in_effect=None)) - eligible
            seen.update(due=len(alone[user_id]), fresh=len(eligible) - len(alone[user_id]), silenced=len(silenced))

    same_answer()
    assert all(seen[what] for what in ("due", "fresh", "silenced")), f"the populations never had each case: {seen}"


def _quiet_persons(session: Session, count: int, first: int = 0) -> list[int]:
    """``count`` persons granting every consent, every agent's output fresh at NOW; every other one has a context."""
    ids = []
    for index in range(first, first + count):
        user = User(email=f"quiet{index}@example.com", tz="Europe/Berlin")
        session.add(user)
        session.flush()
        session.add_all(Consent(user_id=user.id, key=key, granted=True) for key in CONSENT_KEYS)
        if index % 2:
            session.add(Context(user_id=user.id, name="work", active=True, schedules=SCHEDULED[3]))
        session.add_all(
            AgentOutput(
                user_id=user.id,
                agent_id=agent.manifest.id,
                agent_version=agent.manifest.version,
                job_key=f"quiet-{user.id}-{agent.manifest.id}",
                snippet="s",
                computed_at=NOW - timedelta(minutes=1),
                expires_at=NOW + agent.manifest.ttl,
            )
            for agent in AGENTS.values()
        )
        ids.append(user.id)
    session.commit()
    return ids


def test_a_round_with_nothing_due_runs_as_many_statements_for_fifty_persons_as_for_five(any_database: Session) -> None:
    session = any_database
    ids = _quiet_persons(session, 50)
    statements: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        counts = []
        for group in (ids[:5], ids):
            statements.clear()
            assert run_due(session, NOW, group) == [], "nothing is due"
            counts.append(len(statements))
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert counts[0] == counts[1], f"statements for 5 and 50 persons: {counts}"
    assert counts[1] <= 6, f"the persons, their consents, switches, contexts, zones and latest outputs: {statements}"


def test_the_task_engines_tick_defers_the_pairs_asking_person_by_person_finds(any_database: Session) -> None:
    """The workers' tick (:func:`oo_app.tasks.agent_jobs.due_pairs`) reads persons in groups too, at its moment."""
    session, keys = any_database, itertools.count()
    _quiet_persons(session, 3)
    _add_person(session, ON_HOLIDAY, NOW, keys)  # a context in effect silences most of the agents
    _add_person(session, {**ON_HOLIDAY, "contexts": [], "outputs": []}, NOW, keys)  # every agent due
    session.commit()
    everyone = session.exec(sa.select(User.id).order_by(User.id)).scalars().all()

    alone = [(user_id, agent_id) for user_id in everyone for agent_id in _each_alone(session, user_id, NOW)]

    assert agent_jobs.due_pairs(session, NOW) == alone
    assert {user_id for user_id, _ in alone} == set(everyone[-2:]), "only the two persons with due pairs"


def test_freshness_reads_eligibility_for_a_group_at_once_with_the_same_pairs(any_database: Session) -> None:
    """The ``/metrics`` scrape and the hub (:func:`agents.freshness.pair_freshness`): the pairs of each person's
    eligible agents, in as many statements for 50 persons as for 5."""
    session = any_database
    _add_person(session, ON_HOLIDAY, NOW, itertools.count())  # a context in effect silences most of the agents
    _quiet_persons(session, 4)
    statements: list[str] = []

    def count(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine, counts = session.get_bind(), []
    for more in (0, 45):
        _quiet_persons(session, more, first=4)
        everyone = session.exec(sa.select(User.id).order_by(User.id)).scalars().all()
        alone = [(person, agent.manifest.id) for person in everyone for agent in eligible_agents(session, person, NOW)]
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            statements.clear()
            pairs = [(row.person_id, row.agent) for row in pair_freshness(session, NOW)]
            counts.append(len(statements))
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
        assert pairs == alone
    assert counts[0] == counts[1], f"statements for 5 and 50 persons: {counts}"
