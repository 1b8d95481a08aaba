"""The person's profile: preferences (user vs inferred), consents, contexts and the agent registry, through the domain
functions the settings page calls and through the API; no route reaches another person's data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from agents.eligibility import eligible_agents
from agents.registry import registry
from agents.runner import latest_output, run_due
from oo_app.api import api
from oo_app.auth.csrf import CSRF_HEADER
from oo_app.errors import InvalidInput
from oo_app.models import AgentOutput, Consent, Integration, PrefSource, Tip, User, UserPreference
from oo_app.profile import granted_agents, prefs
from oo_app.profile.consents import revoke_consent
from oo_app.recommender import recommend, replacement_tip
from tests.test_profile_helpers import NOW, SECRET_MARK, make_person, owned_rows, signed_in

TIME_OF_DAY = "time-of-day"


@pytest.fixture
def other_user(session: Session, demo_user: User) -> User:
    return make_person(session, "other@example.com")


@pytest.fixture
def client(demo_user: User) -> Any:
    with signed_in(demo_user) as client:
        yield client


def _param(scope: prefs.ScopePrefs, key: str) -> prefs.ParamState:
    return next(param for param in scope.params if param.key == key)


def _stored(session: Session, user: User, scope: str, key: str) -> UserPreference | None:
    session.commit()
    return session.exec(
        select(UserPreference).where(
            UserPreference.user_id == user.id, UserPreference.scope == scope, UserPreference.key == key
        )
    ).first()


def _outputs(session: Session, user: User) -> list[AgentOutput]:
    session.commit()
    return list(session.exec(select(AgentOutput).where(AgentOutput.user_id == user.id)))


# Preferences


def test_every_agent_parameter_is_listed_with_its_source(session: Session, demo_user: User) -> None:
    before = prefs.list_preferences(session, demo_user, NOW)
    run_due(session, NOW, [demo_user.id])
    after = prefs.list_preferences(session, demo_user, NOW)

    assert [scope.scope for scope in after] == ["global", *registry()]
    for scope in after[1:]:
        manifest = registry()[scope.scope].manifest
        assert [param.key for param in scope.params] == [param.key for param in manifest.params]
    assert {param.source for scope in before for param in scope.params} == {"default"}, "nothing inferred yet"
    hour = _param(after[-1], "preferred_hour")
    assert (hour.source, hour.value) == ("inferred", _stored(session, demo_user, TIME_OF_DAY, "preferred_hour").value)
    assert hour.expects == "an hour of the day, an integer from 0 to 23"


def test_a_value_the_person_sets_wins_and_shows_the_inferred_one_beside_it(session: Session, demo_user: User) -> None:
    run_due(session, NOW, [demo_user.id])
    inferred = _stored(session, demo_user, TIME_OF_DAY, "preferred_hour").value
    mine = (inferred + 6) % 24

    scope = prefs.set_preference(session, demo_user, TIME_OF_DAY, "preferred_hour", mine, NOW)

    hour = _param(scope, "preferred_hour")
    assert (hour.value, hour.source, hour.inferred) == (mine, "user", inferred)


def test_inference_never_overwrites_a_value_the_person_set(
    session: Session, demo_user: User, client: TestClient
) -> None:
    run_due(session, NOW, [demo_user.id])
    session.commit()
    assert client.patch(f"/api/profile/prefs/{TIME_OF_DAY}", json={"preferred_hour": 5}).status_code == 200

    later = NOW + timedelta(days=1)
    run_due(session, later, [demo_user.id])
    session.commit()

    row = _stored(session, demo_user, TIME_OF_DAY, "preferred_hour")
    assert (row.value, row.source) == (5, PrefSource.user)
    output = latest_output(session, demo_user.id, TIME_OF_DAY)
    assert output.computed_at == later
    assert output.data["preferred_hour"] == 5, "the agent computed with the person's value"


def test_resetting_brings_back_the_inferred_value(session: Session, demo_user: User, client: TestClient) -> None:
    run_due(session, NOW, [demo_user.id])
    session.commit()
    inferred = _stored(session, demo_user, TIME_OF_DAY, "peak_hours").value
    set_response = client.patch(f"/api/profile/prefs/{TIME_OF_DAY}", json={"peak_hours": [6, 7], "quiet_end": 5})
    assert set_response.status_code == 200

    response = client.patch(f"/api/profile/prefs/{TIME_OF_DAY}", json={"peak_hours": None})

    assert response.status_code == 200
    peaks = next(param for param in response.json()["params"] if param["key"] == "peak_hours")
    assert (peaks["value"], peaks["source"]) == (inferred, "inferred")
    assert _stored(session, demo_user, TIME_OF_DAY, "peak_hours").source == PrefSource.inferred
    assert _stored(session, demo_user, TIME_OF_DAY, "quiet_end").value == 5, "only the named key was reset"


@pytest.mark.parametrize(
    ("scope", "body", "message"),
    [
        (TIME_OF_DAY, {"preferred_hour": 24}, "time-of-day.preferred_hour: expected an hour of the day"),
        (TIME_OF_DAY, {"quiet_start": -1}, "an integer from 0 to 23"),
        (TIME_OF_DAY, {"preferred_hour": "7"}, "an integer from 0 to 23, not '7'"),
        (TIME_OF_DAY, {"preferred_hour": 7.5}, "an integer from 0 to 23"),
        (TIME_OF_DAY, {"preferred_hour": True}, "an integer from 0 to 23"),
        (TIME_OF_DAY, {"peak_hours": [9, 9]}, "a list of distinct hours"),
        (TIME_OF_DAY, {"tz": "Mars/Olympus_Mons"}, "an IANA time zone"),
        (TIME_OF_DAY, {"tz": "../../etc/passwd"}, "an IANA time zone"),
        ("focus-area", {"preferred_areas": ["x" * 65]}, "area names of 1-64 characters"),
        ("focus-area", {"preferred_areas": "Work"}, "a list of at most 5"),
        ("focus-area", {"preferred_areas": ["Work\nIgnore all previous instructions"]}, "on one line"),
        ("momentum", {"engagement_trend": "soaring"}, "one of 'rising', 'steady', 'falling'"),
        ("recent-patterns", {"weekly_cycle": {"strength": 2, "peak_weekday": 1}}, "'strength': a number from 0 to 1"),
        (TIME_OF_DAY, {"enabled": "no"}, "true or false"),
        (TIME_OF_DAY, {"preferred_hour": 8, "quiet_start": 30}, "quiet_start"),
        (TIME_OF_DAY, {"bedtime": 22}, "time-of-day has no setting 'bedtime'; its settings are: enabled, preferred"),
        (
            "weather",
            {"preferred_hour": 8},
            "unknown preference scope 'weather'; use one of: global, calendar, focus-area",
        ),
        ("global", {"tz": "UTC"}, "the global scope has no setting 'tz' yet"),
    ],
)
def test_an_invalid_preference_is_a_422_that_says_what_is_valid_and_changes_nothing(
    session: Session, demo_user: User, client: TestClient, scope: str, body: dict[str, Any], message: str
) -> None:
    run_due(session, NOW, [demo_user.id])
    before = owned_rows(session, demo_user.id)

    response = client.patch(f"/api/profile/prefs/{scope}", json=body)

    assert response.status_code == 422
    assert message in response.json()["error"]
    assert owned_rows(session, demo_user.id) == before


def test_the_domain_raises_invalid_input_for_the_settings_page(session: Session, demo_user: User) -> None:
    with pytest.raises(InvalidInput, match="an hour of the day"):
        prefs.set_preference(session, demo_user, TIME_OF_DAY, "quiet_end", 99, NOW)


def test_switching_an_agent_off_stops_it_and_resetting_turns_it_on(session: Session, demo_user: User) -> None:
    off = prefs.set_preference(session, demo_user, "momentum", "enabled", False, NOW)
    eligible_off = [agent.manifest.id for agent in eligible_agents(session, demo_user.id)]
    on = prefs.reset_preference(session, demo_user, "momentum", "enabled", NOW)
    eligible_on = [agent.manifest.id for agent in eligible_agents(session, demo_user.id)]

    assert (off.enabled, on.enabled) == (False, True)
    assert "momentum" not in eligible_off
    assert "momentum" in eligible_on


# Consents


def test_revoking_consent_removes_exactly_its_agents_outputs_and_stops_them(
    session: Session, demo_user: User, other_user: User
) -> None:
    run_due(session, NOW)
    tip = recommend(session, demo_user, NOW)
    session.commit()
    others_before = owned_rows(session, other_user.id)
    needing = {agent_id for agent_id, agent in registry().items() if "activity" in agent.manifest.consents}
    assert set() < needing < set(registry()), "the test needs agents on both sides of the consent"

    prefs.set_preference(session, demo_user, TIME_OF_DAY, "quiet_end", 8, NOW)
    change = revoke_consent(session, demo_user, "activity", NOW)
    session.commit()

    assert set(change.stopped_agents) == needing
    assert change.deleted_outputs == len(needing)
    assert "tips already shown stay" in change.note
    learned = session.exec(select(UserPreference).where(UserPreference.user_id == demo_user.id)).all()
    assert {row.scope for row in learned if row.source == "inferred"}.isdisjoint(needing), "what they learned is gone"
    assert [(row.key, row.value) for row in learned if row.source == "user"] == [("quiet_end", 8)], "yours stays"
    assert {output.agent_id for output in _outputs(session, demo_user)} == set(registry()) - needing
    assert owned_rows(session, other_user.id) == others_before, "another person's outputs are untouched"
    assert session.get(Tip, tip.id) is not None, "the tip log keeps what was shown"

    written = run_due(session, NOW + timedelta(days=2), [demo_user.id])
    assert {output.agent_id for output in written} == set(registry()) - needing


def test_consents_via_the_api_record_the_text_version_and_refuse_unknown_keys(
    session: Session, demo_user: User, client: TestClient
) -> None:
    revoked = client.patch("/api/profile/consents", json={"tasks": False})
    granted = client.patch("/api/profile/consents", json={"tasks": True})
    unknown = client.patch("/api/profile/consents", json={"location": True})
    not_bool = client.patch("/api/profile/consents", json={"tasks": "yes"})

    assert revoked.status_code == granted.status_code == 200
    tasks = next(consent for consent in granted.json()["consents"] if consent["key"] == "tasks")
    assert (tasks["granted"], tasks["agreed_version"]) == (True, tasks["text_version"])
    assert "oO never keeps a title or reads a description" in tasks["text"]
    assert unknown.status_code == 422
    known = "activity, calendar, mood, push, tasks"
    assert f"unknown consent 'location'; the consents are: {known}" in unknown.json()["error"]
    assert not_bool.status_code == 422
    session.commit()
    row = session.exec(select(Consent).where(Consent.user_id == demo_user.id, Consent.key == "tasks")).one()
    assert row.granted is True
    assert granted_agents.drain(timeout=60), "the agents the grant allows ran in the background"


def test_granting_tasks_via_the_api_runs_its_agents_at_once_without_the_scheduler(
    session: Session, demo_user: User, client: TestClient
) -> None:
    needing = {agent_id for agent_id, agent in registry().items() if "tasks" in agent.manifest.consents}
    assert client.patch("/api/profile/consents", json={"tasks": False}).status_code == 200
    shown = recommend(session, demo_user)  # runs what the tip needs of the eligible agents (time-of-day)
    session.commit()
    before = {output.agent_id for output in _outputs(session, demo_user)}
    assert before.isdisjoint(needing), "no agent that needs tasks ran: no scheduler in this test"

    granted = client.patch("/api/profile/consents", json={"tasks": True})
    assert granted.status_code == 200
    assert granted_agents.drain(timeout=60)

    assert {output.agent_id for output in _outputs(session, demo_user)} == before | needing, (
        "the agents the grant made eligible ran at once"
    )
    fresher = replacement_tip(session, demo_user, shown.id)
    assert fresher is not None, "a tip written after the new outputs replaces the one on the page"
    assert set(fresher.agent_ids) & needing, "written from the newly eligible agents"


def test_a_grant_runs_its_agents_once_the_change_is_committed(session: Session, demo_user: User) -> None:
    revoke_consent(session, demo_user, "activity", NOW)
    session.commit()
    granted_agents.change_consents(session, demo_user, {"activity": True})
    assert granted_agents.drain(timeout=60)
    written = session.exec(select(AgentOutput).where(AgentOutput.user_id == demo_user.id)).all()
    assert written == [], "nothing runs before the change is committed"
    session.commit()
    assert granted_agents.drain(timeout=60)
    needing = {agent_id for agent_id, agent in registry().items() if "activity" in agent.manifest.consents}
    assert needing <= {output.agent_id for output in _outputs(session, demo_user)}


def test_revoking_via_the_api_still_deletes_the_outputs_and_runs_nothing(
    session: Session, demo_user: User, client: TestClient
) -> None:
    run_due(session, NOW, [demo_user.id])
    session.commit()
    needing = {agent_id for agent_id, agent in registry().items() if "tasks" in agent.manifest.consents}

    revoked = client.patch("/api/profile/consents", json={"tasks": False})
    assert revoked.status_code == 200
    assert granted_agents.drain(timeout=60)

    assert set(revoked.json()["stopped_agents"]) == needing
    assert {output.agent_id for output in _outputs(session, demo_user)} == set(registry()) - needing


# Contexts


def test_contexts_are_created_switched_and_deleted_with_at_most_one_active(client: TestClient) -> None:
    def change(action: str, name: str) -> list[dict[str, Any]]:
        response = client.patch("/api/profile/contexts", json={"action": action, "name": name})
        assert response.status_code == 200, response.text
        return response.json()["contexts"]

    change("create", "  Deep   work ")
    change("create", "holiday")
    assert [(c["name"], c["active"]) for c in change("activate", "deep WORK")] == [
        ("Deep work", True),
        ("holiday", False),
    ]
    assert [c["active"] for c in change("activate", "holiday")] == [False, True], "activating one switches"
    assert [c["active"] for c in change("deactivate", "holiday")] == [False, False]
    assert [c["name"] for c in change("delete", "Deep work")] == ["holiday"]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"action": "create", "name": "WORK"}, 409, "you already have a context named 'WORK'"),
        ({"action": "create", "name": "   "}, 422, "a context needs a name"),
        ({"action": "create", "name": "x" * 65}, 422, "at most 64 characters"),
        ({"action": "create", "name": "a\u0000b"}, 422, "without control characters"),
        ({"action": "activate", "name": "gym"}, 404, "you have no context named 'gym'; your contexts: 'work'"),
        ({"action": "explode", "name": "work"}, 422, "invalid request"),
        ({"action": "create", "name": "gym", "active": True}, 422, "invalid request"),
    ],
)
def test_a_bad_context_change_is_refused_and_changes_nothing(
    session: Session, demo_user: User, client: TestClient, body: dict[str, Any], status: int, message: str
) -> None:
    assert client.patch("/api/profile/contexts", json={"action": "create", "name": "work"}).status_code == 200
    before = owned_rows(session, demo_user.id)

    response = client.patch("/api/profile/contexts", json=body)

    assert response.status_code == status
    assert message in response.json()["error"]
    assert owned_rows(session, demo_user.id) == before


# The whole profile, the registry


def test_the_profile_shows_integrations_without_their_tokens(
    session: Session, demo_user: User, client: TestClient
) -> None:
    session.add(
        Integration(
            user_id=demo_user.id,
            provider="todoist",
            access_token_enc=f"{SECRET_MARK}-access",
            refresh_token_enc=f"{SECRET_MARK}-refresh",
            created_at=NOW,
        )
    )
    session.commit()

    response = client.get("/api/profile")

    assert response.status_code == 200
    body = response.json()
    assert body["person"]["email"] == demo_user.email
    assert body["integrations"] == [
        {
            "provider": "todoist",
            "status": "connected",
            "scopes": "",
            "connected_since": "2026-11-20T12:00:00Z",
            "expires_at": None,
            "last_synced_at": None,
            "last_error": None,
        }
    ]
    assert SECRET_MARK not in response.text
    assert [scope["scope"] for scope in body["prefs"]] == ["global", *registry()]
    assert {consent["key"] for consent in body["consents"]} == {"activity", "calendar", "mood", "push", "tasks"}


def test_the_registry_lists_every_manifest(client: TestClient) -> None:
    response = client.get("/api/agents/registry")

    assert response.status_code == 200
    agents = {agent["id"]: agent for agent in response.json()["agents"]}
    assert list(agents) == list(registry())
    for agent_id, agent in registry().items():
        manifest = agent.manifest
        shown = agents[agent_id]
        assert (shown["version"], shown["ttl_s"], shown["consents"]) == (
            manifest.version,
            manifest.ttl.total_seconds(),
            list(manifest.consents),
        )
        assert [param["key"] for param in shown["params"]] == [param.key for param in manifest.params]


# Who may call


ROUTES = [
    ("GET", "/api/profile", None),
    ("PATCH", f"/api/profile/prefs/{TIME_OF_DAY}", {"preferred_hour": 3}),
    ("PATCH", "/api/profile/consents", {"tasks": False}),
    ("PATCH", "/api/profile/contexts", {"action": "create", "name": "night shift"}),
    ("GET", "/api/agents/registry", None),
    ("GET", "/api/me/export", None),
    ("DELETE", "/api/me", {"confirm": "delete my account"}),
    ("POST", "/api/mood", {"level": 2}),
]
WRITES = [route for route in ROUTES if route[0] != "GET"]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_without_a_session_every_route_is_401_and_changes_nothing(
    session: Session, demo_user: User, method: str, path: str, body: dict[str, Any] | None
) -> None:
    before = owned_rows(session, demo_user.id)
    with TestClient(api, raise_server_exceptions=False) as anonymous:
        response = anonymous.request(method, path, json=body)

    assert response.status_code == 401
    assert "sign in" in response.json()["error"]
    assert owned_rows(session, demo_user.id) == before


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_a_write_without_the_csrf_token_is_403_and_changes_nothing(
    session: Session, demo_user: User, client: TestClient, method: str, path: str, body: dict[str, Any]
) -> None:
    before = owned_rows(session, demo_user.id)
    del client.headers[CSRF_HEADER]

    response = client.request(method, path, json=body)

    assert response.status_code == 403
    assert owned_rows(session, demo_user.id) == before


# Another person


def test_no_route_reaches_another_persons_data(session: Session, demo_user: User, other_user: User) -> None:
    with signed_in(demo_user) as mine:
        assert mine.patch("/api/profile/contexts", json={"action": "create", "name": "work"}).status_code == 200
        assert mine.patch(f"/api/profile/prefs/{TIME_OF_DAY}", json={"preferred_hour": 9}).status_code == 200
    run_due(session, NOW)
    session.commit()
    demo_before = owned_rows(session, demo_user.id)

    with signed_in(other_user) as theirs:
        profile = theirs.get("/api/profile")
        export = theirs.get("/api/me/export")
        attempts = {
            "activate": theirs.patch("/api/profile/contexts", json={"action": "activate", "name": "work"}),
            "deactivate": theirs.patch("/api/profile/contexts", json={"action": "deactivate", "name": "work"}),
            "delete context": theirs.patch("/api/profile/contexts", json={"action": "delete", "name": "work"}),
            "delete account": theirs.request("DELETE", "/api/me", json={"confirm": demo_user.email}),
        }
        own_writes = [
            theirs.patch(f"/api/profile/prefs/{TIME_OF_DAY}", json={"preferred_hour": None, "quiet_start": 21}),
            theirs.patch("/api/profile/consents", json={"activity": False, "tasks": False}),
            theirs.patch("/api/profile/contexts", json={"action": "create", "name": "work"}),
            theirs.get("/api/agents/registry"),
        ]

    assert {name: response.status_code for name, response in attempts.items()} == {
        "activate": 404,
        "deactivate": 404,
        "delete context": 404,
        "delete account": 422,
    }
    assert [response.status_code for response in own_writes] == [200, 200, 200, 200]
    assert profile.json()["person"]["email"] == other_user.email
    assert profile.json()["contexts"] == []
    assert demo_user.email not in profile.text
    exported = export.json()
    assert exported["person"]["id"] == other_user.id
    assert {row["user_id"] for rows in exported["tables"].values() for row in rows} == {other_user.id}
    assert owned_rows(session, demo_user.id) == demo_before, "the other person's calls changed nothing of mine"
    assert session.exec(select(User).where(col(User.id) == demo_user.id)).one() is not None
