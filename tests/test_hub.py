"""The operator hub's queries and actions: the seeded figures on SQLite and PostgreSQL, and an audited promotion and
recompute. The notebooks themselves are run in tests/test_hub_notebooks.py over the same seed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from agents.registry import registry
from oo_app import audit
from oo_app.db import make_engine
from oo_app.errors import Conflict, InvalidInput, NotFound
from oo_app.hub import actions, mlflow_store, navigation
from oo_app.hub import agent_health as agent_queries
from oo_app.hub import events as event_queries
from oo_app.hub import experiments as experiment_queries
from oo_app.hub import overview as overview_queries
from oo_app.hub import people as people_queries
from oo_app.hub import shared as hub_shared
from oo_app.hub import tips as tip_queries
from oo_app.models import (
    AgentOutput,
    AgentRun,
    AuditEvent,
    Consent,
    Context,
    Event,
    EventType,
    Integration,
    Policy,
    PolicyRole,
    Tip,
    User,
)
from oo_app.recommender.prompts import PROMPTS_DIR

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
TODAY, YESTERDAY, TWO_DAYS_AGO = NOW.date(), (NOW - timedelta(days=1)).date(), (NOW - timedelta(days=2)).date()
SEEDED_TEXT = "Seeded tip: close one open loop before 16:00."
COMPOSER = "oo-rules/composer"
QWEN = "ollama_chat/qwen2.5:1.5b"
# A deployment whose tip writer is a real model: a composer tip from `tip-generator` is then a fallback.
MODEL_ALIASES = {"tip-generator": [{"model": QWEN}], "tip-generator-fallback": [{"model": COMPOSER}]}
OPERATOR = "ops@oo.example"
TOKEN = "gAAAAA-not-a-real-ciphertext-but-never-to-be-read"  # what the vault would store


def seed(url: str) -> None:
    """Three persons with known consents, six shown tips (three today) and one shadow tip, four events, agent outputs
    (one expired, one missing) and runs (one error today), and a shadow candidate ``terse-v1``:

    ==  ======  ===================  ========  ====  =======  ==========  =========================
    #   person  created              reaction  by    prompt   policy      agents
    ==  ======  ===================  ========  ====  =======  ==========  =========================
    1   ada     today 14:00          done      comp  v2       incumbent   time-of-day, momentum
    2   ada     today 13:00          snoozed   qwen  v2       incumbent   time-of-day
    3   bob     today 12:00          -         qwen  v2       incumbent   momentum
    4   bob     yesterday (reacted   done      comp  v1       incumbent   time-of-day
                today 10:00)
    5   bob     two days ago         dismissed qwen  v1       legacy      focus-area
    6   cy      two days ago         liked     comp  v1       incumbent   time-of-day
    7   bob     today 12:00, shadow of #3 by terse-v1 (agreement 0.8, judge 0.6 against 0.7)
    ==  ======  ===================  ========  ====  =======  ==========  =========================
    """
    engine = make_engine(url)
    agents = {agent_id: agent.manifest for agent_id, agent in registry().items()}
    with Session(engine) as session:
        ada, bob, cy = User(email="ada@example.com"), User(email="bob@example.com"), User(email="cy@example.com")
        session.add_all([ada, bob, cy])
        session.flush()
        session.add_all(
            [
                Consent(user_id=ada.id, key="activity", granted=True),
                Consent(user_id=ada.id, key="tasks", granted=True),
                Consent(user_id=bob.id, key="activity", granted=True),
                Consent(user_id=cy.id, key="tasks", granted=False),
                Integration(user_id=ada.id, provider="todoist", access_token_enc=TOKEN, refresh_token_enc=TOKEN),
            ]
        )

        def tip(user: User, text: str, hours_ago: float, reaction: str | None, model: str, **fields: Any) -> Tip:
            created = NOW - timedelta(hours=hours_ago)
            reacted = fields.pop("reacted_at", created + timedelta(minutes=10) if reaction else None)
            return Tip(
                user_id=user.id,
                text=text,
                prompt_version=fields.pop("prompt_version", "orchestrator-v2"),
                model_alias="tip-generator",
                model=model,
                policy=fields.pop("policy", "incumbent"),
                sources=[{"agent_id": a, "agent_version": "1.0.0", "output_id": 1} for a in fields.pop("agents")],
                created_at=created,
                reaction=reaction,
                reacted_at=reacted,
                **fields,
            )

        shown_three = tip(bob, "c", 3, None, QWEN, agents=["momentum"], judge_score=0.7)
        session.add_all(
            [
                tip(ada, SEEDED_TEXT, 1, "done", COMPOSER, agents=["time-of-day", "momentum"]),
                tip(ada, "b", 2, "snoozed", QWEN, agents=["time-of-day"]),
                shown_three,
                tip(
                    bob,
                    "d",
                    24,
                    "done",
                    COMPOSER,
                    agents=["time-of-day"],
                    prompt_version="orchestrator-v1",
                    reacted_at=NOW - timedelta(hours=5),
                ),
                tip(
                    bob,
                    "e",
                    48,
                    "dismissed",
                    QWEN,
                    agents=["focus-area"],
                    prompt_version="orchestrator-v1",
                    policy="legacy",
                ),
                tip(cy, "f", 48, "liked", COMPOSER, agents=["time-of-day"], prompt_version="orchestrator-v1"),
            ]
        )
        session.flush()
        session.add(
            tip(
                bob,
                "shadow",
                3,
                None,
                QWEN,
                agents=["momentum"],
                policy="terse-v1",
                shadow=True,
                shadow_of=shown_three.id,
                agreement=0.8,
                judge_score=0.6,
            )
        )
        session.add_all(
            [
                Event(user_id=ada.id, type="app_open", at=NOW - timedelta(hours=2)),
                Event(user_id=ada.id, type="tip_done", at=NOW - timedelta(minutes=50), payload={"tip_id": 1}),
                Event(user_id=bob.id, type="tip_shown", at=NOW - timedelta(hours=3), payload={"tip_id": 3}),
                Event(user_id=cy.id, type="mood", at=NOW - timedelta(days=1), payload={"mood": 3}),
            ]
        )

        def output(user: User, agent_id: str, hours_ago: float) -> AgentOutput:
            manifest = agents[agent_id]
            computed = NOW - timedelta(hours=hours_ago)
            return AgentOutput(
                user_id=user.id,
                agent_id=agent_id,
                agent_version=manifest.version,
                job_key=f"seed:{user.id}:{agent_id}:{hours_ago}",
                snippet=f"{agent_id} snippet",
                computed_at=computed,
                expires_at=computed + manifest.ttl,
            )

        session.add_all(
            [
                output(ada, "time-of-day", 0.5),
                output(bob, "time-of-day", 5),
                output(bob, "time-of-day", 3),  # bob's newest, expired (TTL 1 h)
                output(ada, "momentum", 2),
                output(ada, "recent-patterns", 1),
                output(ada, "focus-area", 1),
                # ada's overdue-task output is missing
            ]
        )

        def run(user: User, agent_id: str, minutes_ago: float, ms: float, error: str | None = None) -> AgentRun:
            return AgentRun(
                user_id=user.id,
                agent_id=agent_id,
                agent_version=agents[agent_id].version,
                status="error" if error else "ok",
                error=error,
                started_at=NOW - timedelta(minutes=minutes_ago),
                duration_ms=ms,
            )

        session.add_all(
            [
                run(ada, "time-of-day", 30, 10),
                run(bob, "time-of-day", 180, 20),
                run(bob, "time-of-day", 300, 30),
                run(bob, "time-of-day", 20, 40, "ValueError: boom"),
                run(bob, "time-of-day", 60 * 24 * 10, 50, "OSError: long ago"),  # outside the 7-day window
                run(ada, "momentum", 120, 100),
            ]
        )
        session.add_all(
            [
                Policy(
                    name="incumbent",
                    prompt_version="orchestrator-v2",
                    alias="tip-generator",
                    role=PolicyRole.incumbent,
                    offline_judge_score=0.8,
                ),
                Policy(name="terse-v1", prompt_version="orchestrator-v2", alias="tip-generator"),
                Policy(name="legacy", prompt_version="orchestrator-v1", alias="tip-generator", role=PolicyRole.retired),
            ]
        )
        session.commit()
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated and seeded database: a SQLite file, or a throwaway PostgreSQL database (skipped if down)."""
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")  # migrated already
    else:
        url = request.getfixturevalue("migrated_postgres_url")
    seed(url)
    return url


@pytest.fixture
def hub_engine(seeded_url: str, configure: Callable[..., None]) -> Iterator[Engine]:
    configure(OO_DATABASE_URL=seeded_url, OO_TIP_WRITER="rules")
    engine = make_engine(seeded_url)
    yield engine
    engine.dispose()


def _ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {email.split("@")[0]: user_id for user_id, email in session.exec(select(User.id, User.email))}


# Overview


def test_overview_counts_persons_activity_tips_reactions_and_errors(hub_engine: Engine) -> None:
    stats = overview_queries.overview(hub_engine, now=NOW, alias_table=MODEL_ALIASES)
    assert (stats.persons, stats.active_today, stats.tips, stats.tips_today) == (3, 2, 6, 3)
    assert stats.reactions == {"done": 2, "snoozed": 1, "dismissed": 1, "liked": 1}
    assert (stats.reaction_rate, stats.done_rate, stats.acceptance) == pytest.approx((5 / 6, 2 / 6, 3 / 6))
    assert stats.agent_errors_today == 1
    assert (stats.fallbacks, stats.fallbacks_today) == (3, 1)


def test_composer_tips_are_no_fallback_where_the_composer_is_the_writer(hub_engine: Engine) -> None:
    stats = overview_queries.overview(hub_engine, now=NOW)  # OO_TIP_WRITER=rules: `tip-generator` is the composer
    assert (stats.fallbacks, stats.fallbacks_today) == (0, 0)


def test_tips_per_day_has_every_day_and_the_reaction_split(hub_engine: Engine) -> None:
    frame = overview_queries.tips_per_day(hub_engine, days=7, now=NOW)
    assert len(frame) == 7
    by_day = frame.set_index("date")
    assert by_day.loc[TODAY, ["tips", "done", "snoozed", hub_shared.NO_REACTION]].tolist() == [3, 1, 1, 1]
    assert by_day.loc[YESTERDAY, ["tips", "done"]].tolist() == [1, 1]
    assert by_day.loc[TWO_DAYS_AGO, ["tips", "dismissed", "liked"]].tolist() == [2, 1, 1]
    assert int(frame["tips"].sum()) == 6


def test_errors_per_day_counts_agent_errors_and_fallbacks(hub_engine: Engine) -> None:
    frame = overview_queries.errors_per_day(hub_engine, days=7, now=NOW, alias_table=MODEL_ALIASES).set_index("date")
    assert frame.loc[TODAY].tolist() == [1, 1]
    assert frame.loc[YESTERDAY].tolist() == [0, 1]
    assert frame.loc[TWO_DAYS_AGO].tolist() == [0, 1]
    assert int(frame["agent_errors"].sum()) == 1, "the error of ten days ago is outside the window"


# Agents


def test_agent_freshness_against_ttl_and_sla(hub_engine: Engine) -> None:
    frame = agent_queries.agent_freshness(hub_engine, now=NOW).set_index("agent")
    assert list(frame.index) == sorted(registry())
    figures = ["eligible", "fresh", "stale", "missing"]
    assert frame.loc["time-of-day", figures].tolist() == [2, 1, 1, 0], "ada and bob consented to activity"
    assert frame.loc["overdue-task", figures].tolist() == [1, 0, 0, 1]
    assert frame.loc["momentum", figures].tolist() == [1, 1, 0, 0]
    assert frame.loc["time-of-day", "freshness"] == pytest.approx(0.5)
    assert frame["meets_sla"].to_dict() == {
        "calendar": True,  # nobody allows the calendar either
        "focus-area": True,
        "learner": False,  # ada and bob consented to activity; neither has a learner output yet
        "momentum": True,
        "mood": True,  # nobody allows mood: no one waits for it
        "overdue-task": False,
        "recent-patterns": True,
        "time-of-day": False,
    }


def test_stale_outputs_name_the_persons_waiting(hub_engine: Engine) -> None:
    frame = agent_queries.stale_outputs(hub_engine, now=NOW)
    rows = frame[["person", "agent", "reason"]].values.tolist()
    assert rows == [
        ["ada@example.com", "learner", "missing"],
        ["bob@example.com", "learner", "missing"],
        ["ada@example.com", "overdue-task", "missing"],
        ["bob@example.com", "time-of-day", "expired"],
    ]
    assert frame.loc[3, "age_h"] == pytest.approx(3.0)


def test_agent_run_stats_give_durations_and_errors(hub_engine: Engine) -> None:
    frame = agent_queries.agent_run_stats(hub_engine, days=7, now=NOW).set_index("agent")
    clock = frame.loc["time-of-day"]
    assert (clock["runs"], clock["errors"], clock["error_rate"]) == (4, 1, 0.25)
    assert (clock["p50_ms"], clock["p95_ms"], clock["max_ms"]) == pytest.approx((25.0, 38.5, 40.0))
    assert clock["last_error"] == "ValueError: boom"
    assert frame.loc["momentum", ["runs", "errors"]].tolist() == [1, 0]
    assert frame.loc["focus-area", "runs"] == 0


def test_agent_runs_lists_the_errors_newest_first(hub_engine: Engine) -> None:
    errors = agent_queries.agent_runs(hub_engine, days=30, now=NOW, status="error")
    assert errors["error"].tolist() == ["ValueError: boom", "OSError: long ago"]


# Tips


@pytest.mark.parametrize(
    ("filters", "texts"),
    [
        (tip_queries.TipFilters(), [SEEDED_TEXT, "b", "c", "d", "f", "e"]),
        (tip_queries.TipFilters(person="ADA@"), [SEEDED_TEXT, "b"]),
        (tip_queries.TipFilters(agent="momentum"), [SEEDED_TEXT, "c"]),
        (tip_queries.TipFilters(reaction=hub_shared.NO_REACTION), ["c"]),
        (tip_queries.TipFilters(reaction="liked"), ["f"]),
        (tip_queries.TipFilters(shadow=True), ["shadow"]),
        (tip_queries.TipFilters(start=YESTERDAY, end=YESTERDAY), ["d"]),
        (tip_queries.TipFilters(start=NOW - timedelta(hours=2, minutes=30)), [SEEDED_TEXT, "b"]),
        (tip_queries.TipFilters(model=COMPOSER, policy="incumbent"), [SEEDED_TEXT, "d", "f"]),
        (tip_queries.TipFilters(prompt_version="orchestrator-v1", policy="legacy"), ["e"]),
    ],
)
def test_tip_log_filters(hub_engine: Engine, filters: tip_queries.TipFilters, texts: list[str]) -> None:
    assert tip_queries.tip_log(hub_engine, filters)["text"].tolist() == texts


def test_tip_log_by_person_id_includes_shadow_tips_on_request(hub_engine: Engine) -> None:
    bob = _ids(hub_engine)["bob"]
    frame = tip_queries.tip_log(hub_engine, tip_queries.TipFilters(person=str(bob), shadow=None), limit=3)
    assert frame["text"].tolist() == ["shadow", "c", "d"]
    assert frame["shadow"].tolist() == [True, False, False]
    assert frame.columns.tolist() == tip_queries.TIP_LOG_COLUMNS


def test_recent_tips_lists_newest_first_with_person_and_agents(hub_engine: Engine) -> None:
    frame = overview_queries.recent_tips(hub_engine, limit=3)
    assert frame["text"].tolist() == [SEEDED_TEXT, "b", "shadow"]
    assert frame.loc[0, "person"] == "ada@example.com"
    assert frame.loc[0, "agents"] == "momentum, time-of-day"
    assert frame.loc[0, "reaction"] == "done"


@pytest.mark.parametrize(
    ("by", "expected"),
    [
        ("model", [(QWEN, 3, 0), (COMPOSER, 3, 3)]),
        ("prompt_version", [("orchestrator-v1", 3, 2), ("orchestrator-v2", 3, 1)]),
        ("policy", [("incumbent", 5, 3), ("legacy", 1, 0)]),
        (
            "agents",
            [("time-of-day", 3, 2), ("focus-area", 1, 0), ("momentum", 1, 0), ("momentum, time-of-day", 1, 1)],
        ),
    ],
)
def test_acceptance_is_done_or_liked_over_shown(hub_engine: Engine, by: str, expected: list[tuple]) -> None:
    frame = tip_queries.acceptance(hub_engine, by)
    assert [tuple(row) for row in frame[[by, "shown", "accepted"]].values.tolist()] == expected
    assert frame["acceptance"].tolist() == pytest.approx([accepted / shown for _, shown, accepted in expected])


def test_acceptance_per_day_splits_the_groups_by_day(hub_engine: Engine) -> None:
    frame = tip_queries.acceptance_per_day(hub_engine, "model")
    rows = [tuple(row) for row in frame[["date", "model", "shown", "accepted"]].values.tolist()]
    assert rows == [
        (TWO_DAYS_AGO, QWEN, 1, 0),
        (TWO_DAYS_AGO, COMPOSER, 1, 1),
        (YESTERDAY, COMPOSER, 1, 1),
        (TODAY, QWEN, 2, 0),
        (TODAY, COMPOSER, 1, 1),
    ]


def test_acceptance_refuses_an_unknown_dimension(hub_engine: Engine) -> None:
    with pytest.raises(ValueError, match="choose one of agents"):
        tip_queries.acceptance(hub_engine, "colour")


def test_tip_filter_options_offer_what_the_log_holds(hub_engine: Engine) -> None:
    options = tip_queries.tip_filter_options(hub_engine)
    assert options.models == [QWEN, COMPOSER]
    assert options.policies == ["incumbent", "legacy", "terse-v1"]
    assert options.prompt_versions == ["orchestrator-v1", "orchestrator-v2"]
    assert options.agents == sorted(registry())


# Events


@pytest.mark.parametrize(
    ("filters", "types"),
    [
        (event_queries.EventFilters(), ["tip_done", "app_open", "tip_shown", "mood"]),
        (event_queries.EventFilters(person="ada"), ["tip_done", "app_open"]),
        (event_queries.EventFilters(types=("mood", "tip_shown")), ["tip_shown", "mood"]),
        (event_queries.EventFilters(start=TODAY, end=TODAY), ["tip_done", "app_open", "tip_shown"]),
        (event_queries.EventFilters(end=NOW - timedelta(hours=2)), ["tip_shown", "mood"]),
    ],
)
def test_events_filter_by_person_type_and_time(
    hub_engine: Engine, filters: event_queries.EventFilters, types: list[str]
) -> None:
    assert event_queries.events(hub_engine, filters)["type"].tolist() == types


def test_events_carry_the_person_and_the_payload(hub_engine: Engine) -> None:
    frame = event_queries.events(hub_engine, event_queries.EventFilters(types=("mood",)))
    assert frame.loc[0, "person"] == "cy@example.com"
    assert json.loads(frame.loc[0, "payload"]) == {"mood": 3}


def test_events_per_day_count_each_type(hub_engine: Engine) -> None:
    frame = event_queries.events_per_day(hub_engine)
    assert [tuple(row) for row in frame.values.tolist()] == [
        (YESTERDAY, "mood", 1),
        (TODAY, "app_open", 1),
        (TODAY, "tip_done", 1),
        (TODAY, "tip_shown", 1),
    ]
    assert {"mood", "app_open", "tip_liked"} <= set(event_queries.event_types(hub_engine))


# Policies, experiments, people


def test_policy_table_and_shadow_comparisons(hub_engine: Engine) -> None:
    table = experiment_queries.policy_table(hub_engine)
    assert table["name"].tolist()[0] == "incumbent"
    assert dict(zip(table["name"], table["role"], strict=True)) == {
        "incumbent": "incumbent",
        "terse-v1": "shadow",
        "legacy": "retired",
    }
    comparisons = experiment_queries.shadow_comparisons(hub_engine)
    assert comparisons["policy"].tolist() == ["terse-v1"]
    row = comparisons.iloc[0]
    assert (row["pairs"], row["agreement_mean"], row["judge_candidate"], row["judge_incumbent"]) == (1, 0.8, 0.6, 0.7)
    assert not row["promotable"]
    assert "no offline benchmark yet" in row["blockers"]
    assert "1 shadow tips online" in row["blockers"]


def test_find_person_by_email_or_id_shows_profile_tips_and_outputs(hub_engine: Engine) -> None:
    card = people_queries.find_person(hub_engine, "Ada@Example.com", now=NOW)
    assert card.profile.person.email == "ada@example.com"
    assert {consent.key: consent.granted for consent in card.profile.consents} == {
        "activity": True,
        "calendar": False,
        "mood": False,
        "push": False,
        "tasks": True,
    }
    assert [(i.provider, i.status) for i in card.profile.integrations] == [("todoist", "connected")]
    assert TOKEN not in repr(card)
    assert card.tips["text"].tolist() == [SEEDED_TEXT, "b"]
    assert card.outputs["agent"].tolist() == ["focus-area", "momentum", "recent-patterns", "time-of-day"]
    assert card.outputs["fresh"].all()
    by_id = people_queries.find_person(hub_engine, str(_ids(hub_engine)["bob"]), now=NOW)
    assert by_id.outputs[["agent", "fresh"]].values.tolist() == [["time-of-day", False]]
    with pytest.raises(NotFound, match="no person with the id or email"):
        people_queries.find_person(hub_engine, "nobody@example.com")


def test_a_persons_signals_say_how_each_reaches_their_tips(hub_engine: Engine) -> None:
    ada = _ids(hub_engine)["ada"]
    with Session(hub_engine) as session:
        todoist = session.exec(select(Integration).where(Integration.user_id == ada)).one()
        todoist.last_synced_at, todoist.consecutive_failures, todoist.last_error = NOW, 2, "429 Too Many Requests"
        todoist.next_attempt_at = NOW + timedelta(minutes=4)
        session.add(Event(user_id=ada, type=EventType.mood, at=NOW - timedelta(days=20), payload={"level": 3}))
        session.add(Event(user_id=ada, type=EventType.mood, at=NOW - timedelta(hours=2), payload={"level": 1}))
        schedule = {"weekdays": ["fri"], "start": "09:00", "end": "17:00"}  # NOW is a Friday, 15:00 UTC
        session.add(Context(user_id=ada, name="office", schedules=[schedule]))
        session.commit()

    signals = people_queries.find_person(hub_engine, "ada@example.com", now=NOW).signals
    by_signal = {row["signal"]: (row["state"], row["detail"]) for row in signals.to_dict("records")}

    assert by_signal["first run"][0] == "answered"
    assert by_signal["todoist"] == (
        "connected",
        "last synced 2026-11-20 15:00 UTC; next attempt 2026-11-20 15:04 UTC; 2 failures in a row, last: 429 Too Many "
        "Requests",
    )
    assert by_signal["mood"] == ("low", "2026-11-20 13:00 UTC; 1 in 14 days")
    assert by_signal["context"] == ("office (work)", "by schedule; 1 contexts, 1 weekly slots")
    bob = people_queries.find_person(hub_engine, str(_ids(hub_engine)["bob"]), now=NOW).signals
    assert bob[["signal", "state"]].values.tolist()[-2:] == [["mood", "no check-in"], ["context", "none"]]


def test_hub_queries_never_select_a_token_column(hub_engine: Engine) -> None:
    statements: list[str] = []

    def remember(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    sa.event.listen(hub_engine, "before_cursor_execute", remember)
    overview_queries.overview(hub_engine, now=NOW)
    overview_queries.tips_per_day(hub_engine, now=NOW)
    overview_queries.errors_per_day(hub_engine, now=NOW)
    overview_queries.recent_tips(hub_engine)
    agent_queries.agent_freshness(hub_engine, now=NOW)
    agent_queries.agent_run_stats(hub_engine, now=NOW)
    tip_queries.acceptance(hub_engine, "agents")
    tip_queries.tip_filter_options(hub_engine)
    event_queries.events(hub_engine)
    event_queries.events_per_day(hub_engine)
    experiment_queries.policy_table(hub_engine)
    experiment_queries.shadow_comparisons(hub_engine)
    people_queries.find_person(hub_engine, "ada@example.com", now=NOW)
    actions.audit_log(hub_engine)
    selects = [statement for statement in statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 20, statements
    leaking = [statement for statement in selects if "_enc" in statement.lower() or "token" in statement.lower()]
    assert not leaking


# Operator actions and the audit log


def test_a_refused_promotion_changes_nothing_and_records_nothing(hub_engine: Engine) -> None:
    with pytest.raises(Conflict, match="cannot be promoted yet"):
        actions.promote_policy(hub_engine, "terse-v1", actor=OPERATOR)
    assert actions.audit_log(hub_engine).empty
    assert experiment_queries.policy_table(hub_engine)["name"].tolist()[0] == "incumbent"


def test_a_forced_promotion_changes_the_incumbent_and_is_audited(hub_engine: Engine) -> None:
    promoted = actions.promote_policy(hub_engine, "terse-v1", actor=OPERATOR, force=True, now=NOW)
    assert promoted.role == PolicyRole.incumbent
    assert promoted.promoted_by == OPERATOR
    roles = experiment_queries.policy_table(hub_engine).set_index("name")["role"].to_dict()
    assert roles == {"terse-v1": "incumbent", "incumbent": "retired", "legacy": "retired"}
    log = actions.audit_log(hub_engine)
    assert log[["actor", "action", "target"]].values.tolist() == [[OPERATOR, "policy.promote", "policy:terse-v1"]]
    details = json.loads(log.loc[0, "details"])
    assert details["previous_incumbent"] == "incumbent"
    assert details["force"] is True
    assert len(details["overrode"]) == 2, details
    assert log.loc[0, "at"] == NOW


def test_recompute_runs_the_persons_due_agents_and_is_audited(hub_engine: Engine) -> None:
    bob = _ids(hub_engine)["bob"]
    assert actions.recompute_person(hub_engine, bob, actor=OPERATOR, now=NOW) == ["learner", "time-of-day"]
    freshness = agent_queries.agent_freshness(hub_engine, now=NOW).set_index("agent")
    assert freshness.loc["time-of-day", ["fresh", "stale"]].tolist() == [2, 0]
    log = actions.audit_log(hub_engine, target=audit.person_target(bob))
    assert log[["actor", "action", "target"]].values.tolist() == [[OPERATOR, "agents.recompute", f"person:{bob}"]]
    assert json.loads(log.loc[0, "details"]) == {"agents": ["learner", "time-of-day"], "outputs": 2}
    assert "bob@example.com" not in log.to_string(), "the audit log names a person by id only"
    with pytest.raises(NotFound):
        actions.recompute_person(hub_engine, 9999, actor=OPERATOR)


def test_audit_record_refuses_personal_data(hub_engine: Engine) -> None:
    with Session(hub_engine) as session:
        with pytest.raises(InvalidInput, match="by id"):
            audit.record(session, OPERATOR, "agents.recompute", "person:bob@example.com", {})
        with pytest.raises(InvalidInput, match="personal data"):
            audit.record(session, OPERATOR, "agents.recompute", "person:2", {"email": "bob@example.com"})
        with pytest.raises(InvalidInput, match="actor"):
            audit.record(session, " ", "agents.recompute", "person:2", {})
        event = audit.record(session, OPERATOR, "agents.recompute", "person:2", {"outputs": 1})
        session.commit()
        assert session.exec(select(AuditEvent)).one().id == event.id


def test_audit_events_filter_by_action_and_target_newest_first(hub_engine: Engine) -> None:
    with Session(hub_engine) as session:
        for minutes, action, target in [(3, "policy.promote", "policy:a"), (2, "x", "person:1"), (1, "x", "person:2")]:
            audit.record(session, OPERATOR, action, target, {}, now=NOW - timedelta(minutes=minutes))
        session.commit()
        assert [e.target for e in audit.events(session)] == ["person:2", "person:1", "policy:a"]
        assert [e.target for e in audit.events(session, action="x", limit=1)] == ["person:2"]
        assert [e.action for e in audit.events(session, target="policy:a")] == ["policy.promote"]


@pytest.mark.parametrize(
    ("request_", "query", "environ", "operator"),
    [
        (
            {"meta": {"operator": "meta@oo.example"}},
            {"operator": "q@oo.example"},
            {"OO_HUB_OPERATOR": "env"},
            "meta@oo.example",
        ),
        (
            {"meta": {}, "user": {"is_authenticated": True, "username": "user"}},
            {"operator": "q@oo.example"},
            {"OO_HUB_OPERATOR": "env@oo.example"},
            "env@oo.example",
        ),
        (
            {"user": {"is_authenticated": True, "username": "ann@oo.example"}},
            {},
            {"OO_HUB_OPERATOR": "env@oo.example"},
            "ann@oo.example",
        ),
        ({"user": {"is_authenticated": False, "username": "ann@oo.example"}}, {}, {}, "operator"),
        (None, {"operator": "q@oo.example"}, {}, "q@oo.example"),
        (None, {"operator": ["listed@oo.example"]}, {}, "listed@oo.example"),
        (None, None, {"OO_HUB_OPERATOR": "  "}, "operator"),
    ],
)
def test_the_hub_operator_comes_from_the_server_then_the_environment_then_the_query(
    request_: dict | None, query: dict | None, environ: dict[str, str], operator: str
) -> None:
    assert audit.hub_operator(request_, query, environ) == operator


# Links


def test_notebook_links_follow_how_the_notebooks_are_served(
    monkeypatch: pytest.MonkeyPatch, configure: Callable[..., None]
) -> None:
    monkeypatch.delenv(navigation.NOTEBOOK_LINKS_ENV, raising=False)
    configure()
    assert navigation.notebook_href("tips") == "?file=tips.py", "marimo run admin_notebooks/ (the default)"
    assert navigation.notebook_href("tips", "path") == "../tips/", "with_dynamic_directory: sibling paths"
    configure(**{navigation.NOTEBOOK_LINKS_ENV: "path"})
    assert navigation.notebook_href("people") == "../people/", "the setting hub_notebook_links"
    notebooks = Path(__file__).resolve().parents[1] / "admin_notebooks"
    assert {path.stem for path in notebooks.glob("*.py")} == set(navigation.NOTEBOOKS), "every notebook is linked"
    with pytest.raises(KeyError):
        navigation.notebook_href("nowhere")
    with pytest.raises(ValueError, match="OO_HUB_NOTEBOOK_LINKS"):
        navigation.notebook_href("tips", "cdn")


def test_mlflow_links_without_a_store_point_at_the_ui_and_say_why(
    configure: Callable[..., None], tmp_path: Path
) -> None:
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'absent.db'}", OO_MLFLOW_UI_URL="http://mlflow.test")
    links = mlflow_store.mlflow_links()
    assert links.experiments == {
        "oo-tips": "http://mlflow.test/#/experiments",
        "oo-bench": "http://mlflow.test/#/experiments",
    }
    assert set(links.prompts) == {path.stem for path in PROMPTS_DIR.glob("*.txt")} >= {"judge-v1", "orchestrator-v2"}
    assert links.message
    assert "no MLflow store" in links.message
    assert not (tmp_path / "absent.db").exists(), "looking does not create a store"


def test_bench_runs_tolerate_a_missing_or_unreachable_store(
    configure: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'absent.db'}")
    missing = mlflow_store.bench_runs()
    assert missing.runs.empty
    assert "no MLflow store" in missing.message
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    unreachable = mlflow_store.bench_runs("http://admin:secret@127.0.0.1:9")
    assert unreachable.runs.empty
    assert "unavailable" in unreachable.message
    assert "secret" not in unreachable.message


def test_bench_runs_and_links_read_the_mlflow_store(
    configure: Callable[..., None], tmp_path: Path, mlflow_template_db: Path
) -> None:
    import shutil

    from oo_app import tracking
    from oo_app.recommender import prompt_registry

    store = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template_db, store)
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{store}", OO_MLFLOW_UI_URL="http://mlflow.test")
    assert (
        mlflow_store.bench_runs().message
        == "No `oo-bench` experiment in sqlite:///" + str(store) + " yet: run `oo bench models`."
    )
    run_id = tracking.log_benchmark_run(
        "bench terse-v1",
        {"policy": "terse-v1", "prompt_version": "orchestrator-v2", "alias": "tip-generator"},
        {"tips": 14, "judge_score_mean": 0.75, "guardrail_pass_rate": 0.9, "latency_p50_s": 0.5},
    )
    bench = mlflow_store.bench_runs()
    assert bench.message is None
    row = bench.runs.iloc[0]
    assert (row["run_id"], row["name"], row["policy"], row["judge_score_mean"]) == (
        run_id,
        "bench terse-v1",
        "terse-v1",
        0.75,
    )
    assert row["url"].startswith("http://mlflow.test/#/experiments/")
    assert row["url"].endswith(f"/runs/{run_id}")
    prompt_registry.register_prompts()
    links = mlflow_store.mlflow_links()
    assert links.message is None
    assert links.experiments["oo-bench"] == bench.experiment_url
    assert links.traces.endswith("/traces")
    assert links.traces != "http://mlflow.test/#/experiments"
    assert links.prompts["orchestrator-v2"].startswith("http://mlflow.test/#/prompts/oo-orchestrator?promptVersion=")


# Off-policy estimates and the simulation


def test_offpolicy_estimates_read_the_logged_leads_and_propensities(hub_engine: Engine) -> None:
    assert experiment_queries.offpolicy_estimates(hub_engine).empty, "the seeded tips carry no propensity"
    ada = _ids(hub_engine)["ada"]
    with Session(hub_engine) as session:
        # A random logger over two leads: "focus-area" always taken up, "momentum" never.
        for index in range(8):
            lead = ("focus-area", "momentum")[index % 2]
            session.add(
                Tip(
                    user_id=ada,
                    text=f"logged {index}",
                    prompt_version="orchestrator-v7",
                    model_alias="tip-generator",
                    model="oo-rules/composer",
                    policy="incumbent",
                    created_at=NOW - timedelta(days=1, hours=index),
                    reaction="done" if lead == "focus-area" else "dismissed",
                    reacted_at=NOW - timedelta(days=1),
                    lead_agent=lead,
                    candidates=["momentum", "focus-area"],
                    propensity=0.5,
                )
            )
        session.commit()
    table = experiment_queries.offpolicy_estimates(hub_engine, since=NOW - timedelta(days=2))
    found = {(row["policy"], row["method"]): row for row in table.to_dict("records")}
    assert found[("no-learning", "snips")]["acceptance"] == 0.0, "the composer's first lead, momentum, never works"
    assert found[("no-learning", "ips")]["tips"] == 8
    assert found[("random-agent", "snips")]["acceptance"] == pytest.approx(0.5)
    assert found[("logged", "mean")]["acceptance"] == pytest.approx(0.5)
    assert all(row["low"] <= row["acceptance"] <= row["high"] for row in found.values())


def test_the_latest_simulation_run_is_read_from_mlflow(
    configure: Callable[..., None], tmp_path: Path, mlflow_template_db: Path
) -> None:
    import shutil

    from oo_app.evaluation.simulation_report import PolicyResult, SimulationReport, log_report
    from oo_app.models import Reaction

    store = tmp_path / "mlflow.db"
    shutil.copy(mlflow_template_db, store)
    configure(OO_MLFLOW_TRACKING_URI=f"sqlite:///{store}", OO_MLFLOW_UI_URL="http://mlflow.test")
    assert "No simulation run yet" in mlflow_store.latest_simulation().message
    results = {"incumbent": PolicyResult(), "random-agent": PolicyResult()}
    for day in range(3):
        results["incumbent"].record("p", Reaction.done, quiet=False, day=day)
        results["random-agent"].record("p", Reaction.done if day else Reaction.dismissed, quiet=False, day=day)
    run_id = log_report(SimulationReport(days=3, seed=0, personas=("p",), policies=results), seconds=1.5)
    found = mlflow_store.latest_simulation()
    assert found.message is None
    assert found.url.endswith(f"/runs/{run_id}")
    by_day = found.by_day.set_index(["policy", "day"])["acceptance"].to_dict()
    assert by_day == {
        ("incumbent", 1): 1.0,
        ("incumbent", 2): 1.0,
        ("incumbent", 3): 1.0,
        ("random-agent", 1): 0.0,
        ("random-agent", 2): 1.0,
        ("random-agent", 3): 1.0,
    }
    assert found.summary.set_index("policy")["acceptance"].to_dict() == pytest.approx(
        {"incumbent": 1.0, "random-agent": 2 / 3}
    )
