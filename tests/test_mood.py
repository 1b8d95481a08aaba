"""Mood check-ins: one tap, one event (a second within half an hour replaces the first), only with consent ``mood``;
the mood agent reads them, a low-energy moment gets a gentle and grounded tip, they are in the export, and revoking the
consent or deleting the account deletes them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agents.registry import registry
from agents.runner import compute_output, load_history
from oo_app.auth.csrf import CSRF_HEADER
from oo_app.auth.errors import Forbidden
from oo_app.errors import InvalidInput
from oo_app.models import AgentOutput, Event, User
from oo_app.profile.consents import grant_consent, revoke_consent
from oo_app.profile.mood import REPLACE_WINDOW, record_mood
from oo_app.recommender import recommend
from oo_app.recommender.composer import GENTLE, candidates, compose
from oo_app.recommender.grounding import ungrounded
from tests.test_profile_helpers import NOW, signed_in


@pytest.fixture
def client(demo_user: User) -> Any:
    with signed_in(demo_user) as client:
        yield client


def _moods(session: Session, user: User) -> list[Event]:
    session.commit()
    return list(session.exec(select(Event).where(Event.user_id == user.id, Event.type == "mood").order_by(Event.id)))


# The route


def test_a_tap_is_stored_and_a_second_within_the_window_replaces_it(
    session: Session, demo_user: User, client: TestClient
) -> None:
    first = client.post("/api/mood", json={"level": 1})
    second = client.post("/api/mood", json={"level": 3})

    assert first.status_code == second.status_code == 200, second.text
    assert (first.json()["label"], first.json()["replaced"]) == ("low", False)
    assert (second.json()["label"], second.json()["replaced"]) == ("good", True)
    assert [row.payload for row in _moods(session, demo_user)] == [{"level": 3}], "one check-in, never a pile"


def test_a_tap_after_the_window_is_a_new_check_in(session: Session, demo_user: User) -> None:
    record_mood(session, demo_user, 1, NOW)
    record_mood(session, demo_user, 2, NOW + REPLACE_WINDOW - timedelta(seconds=1))
    record_mood(session, demo_user, 3, NOW + 2 * REPLACE_WINDOW)

    assert [row.payload["level"] for row in _moods(session, demo_user)] == [2, 3]


@pytest.mark.parametrize("level", [0, 4, -1, True, "low", 2.5, None])
def test_a_level_off_the_scale_is_a_422_and_writes_nothing(
    session: Session, demo_user: User, client: TestClient, level: Any
) -> None:
    response = client.post("/api/mood", json={"level": level})

    assert response.status_code == 422
    assert _moods(session, demo_user) == []
    if isinstance(level, int) and not isinstance(level, bool):
        assert "a mood is one of 1 (low), 2 (okay), 3 (good)" in response.json()["error"]


def test_the_domain_refuses_a_level_off_the_scale_before_anything_is_written(session: Session, demo_user: User) -> None:
    with pytest.raises(InvalidInput, match="a mood is one of"):
        record_mood(session, demo_user, 5, NOW)
    assert _moods(session, demo_user) == []


def test_without_the_consent_a_tap_is_a_403_and_writes_nothing(
    session: Session, demo_user: User, client: TestClient
) -> None:
    revoke_consent(session, demo_user, "mood", NOW)
    session.commit()

    response = client.post("/api/mood", json={"level": 2})

    assert response.status_code == 403
    assert "allow 'mood' in your settings" in response.json()["error"]
    assert _moods(session, demo_user) == []
    with pytest.raises(Forbidden):
        record_mood(session, demo_user, 2, NOW)


def test_a_tap_without_the_csrf_token_is_a_403_and_writes_nothing(
    session: Session, demo_user: User, client: TestClient
) -> None:
    del client.headers[CSRF_HEADER]
    response = client.post("/api/mood", json={"level": 2})
    assert response.status_code == 403
    assert _moods(session, demo_user) == []


def test_a_tap_without_a_session_is_a_401(session: Session, demo_user: User) -> None:
    from oo_app.api import api

    with TestClient(api, raise_server_exceptions=False) as anonymous:
        assert anonymous.post("/api/mood", json={"level": 2}).status_code == 401
    assert _moods(session, demo_user) == []


# The agent behind the consent


def test_the_mood_agent_reads_a_tap_at_once(session: Session, demo_user: User) -> None:
    agent = registry()["mood"]
    before = compute_output(session, demo_user, agent, NOW)
    assert before is not None
    assert before.data["energy_now"] == "usual"

    record_mood(session, demo_user, 1, NOW + timedelta(minutes=1))
    session.commit()

    assert session.exec(select(AgentOutput).where(AgentOutput.agent_id == "mood")).all() == [], "a tap drops it"
    after = compute_output(session, demo_user, agent, NOW + timedelta(minutes=2))
    assert after is not None
    assert (after.data["energy_now"], after.data["latest"]) == ("low", "low")


def test_revoking_the_consent_deletes_the_check_ins_and_stops_reading_them(session: Session, demo_user: User) -> None:
    record_mood(session, demo_user, 1, NOW)
    compute_output(session, demo_user, registry()["mood"], NOW)
    session.commit()

    change = revoke_consent(session, demo_user, "mood", NOW + timedelta(minutes=1))
    session.commit()

    assert change.stopped_agents == ["mood"]
    assert "Your mood check-ins are deleted (1)" in change.note
    assert _moods(session, demo_user) == []
    assert session.exec(select(AgentOutput).where(AgentOutput.agent_id == "mood")).all() == []


def test_check_ins_are_read_only_under_the_consent(session: Session, demo_user: User) -> None:
    record_mood(session, demo_user, 1, NOW)
    session.commit()
    assert [m.level for m in load_history(session, demo_user, NOW + timedelta(minutes=1)).moods] == [1]
    # A check-in that outlived a revocation (written around it) is still never read without the consent.
    from oo_app.models import Consent

    row = session.exec(select(Consent).where(Consent.user_id == demo_user.id, Consent.key == "mood")).one()
    row.granted = False
    session.add(row)
    session.commit()
    history = load_history(session, demo_user, NOW + timedelta(minutes=1))
    assert history.moods == ()
    assert "mood" not in {event.type for event in history.events}


# Gentler tips


def test_a_low_energy_moment_gets_a_gentle_grounded_tip(session: Session, demo_user: User) -> None:
    record_mood(session, demo_user, 1, NOW)
    session.commit()

    tip = recommend(session, demo_user, NOW + timedelta(minutes=1))

    assert tip.text in {draft.text for draft in GENTLE}, tip.text
    assert "mood" in tip.agent_ids
    lines = list(session.exec(select(AgentOutput.snippet).where(AgentOutput.user_id == demo_user.id)))
    assert not ungrounded(tip.text, lines)


def test_the_composer_puts_no_pressure_on_a_low_moment() -> None:
    signals = {
        "mood": {"energy_now": "low"},
        "overdue-task": {"least_real_project": "Work", "lateness_tolerance_days": 3},
        "time-of-day": {"phase": "peak", "preferred_hour": 10, "peak_hours": [10], "quiet_start": 22, "quiet_end": 7},
    }
    texts = [draft.text for draft in candidates({"signals": signals})]
    assert texts == [draft.text for draft in GENTLE]
    usual = [draft.text for draft in candidates({"signals": {**signals, "mood": {"energy_now": "usual"}}})]
    assert any("Work" in text for text in usual), "without a low moment the other rules speak"
    quiet = {**signals, "time-of-day": {**signals["time-of-day"], "phase": "quiet"}}
    assert compose({"signals": quiet}).text.startswith("Quiet hours"), "in quiet hours a low moment is told to rest"


# Export and deletion


def test_check_ins_are_exported_and_go_with_the_account(session: Session, demo_user: User, client: TestClient) -> None:
    user_id = demo_user.id
    client.post("/api/mood", json={"level": 1})

    exported = client.get("/api/me/export").json()["tables"]["events"]
    deleted = client.request("DELETE", "/api/me", json={"confirm": "delete my account"})

    assert [row["payload"] for row in exported if row["type"] == "mood"] == [{"level": 1}]
    assert deleted.status_code == 200, deleted.text
    session.expire_all()
    assert session.exec(select(Event).where(Event.user_id == user_id)).all() == []


def test_granting_again_starts_with_no_check_in(session: Session, demo_user: User) -> None:
    record_mood(session, demo_user, 2, NOW)
    revoke_consent(session, demo_user, "mood", NOW)
    grant_consent(session, demo_user, "mood", NOW)
    session.commit()
    assert _moods(session, demo_user) == []
