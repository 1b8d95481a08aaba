"""Answering a tip from its notification (``POST /api/push/react``): the token a push carries is the only credential,
it answers its one tip, once, as the page would; forged, altered, expired, another person's, a session cookie: a
clear 4xx and nothing written. On SQLite and PostgreSQL, where a double tap races."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from itsdangerous import URLSafeSerializer
from sqlmodel import Session, col, func, select

from agents.runner import run_due
from oo_app.api import api
from oo_app.auth.sessions import session_cookie
from oo_app.models import AgentRun, Event, Reaction, Tip, User
from oo_app.push.answers import (
    ANSWER_LIFETIME,
    MAX_TOKEN_LENGTH,
    SALT,
    answer_from_notification,
    answer_token,
    read_answer_token,
)
from oo_app.recommender import current_tip, mark_shown, react, recommend, replacement_tip
from oo_app.recommender.learning import LEARNER
from oo_app.recommender.timing import snooze_until, timing_params
from oo_app.settings import get_settings
from tests.conftest import NOW
from tests.test_profile_helpers import make_person, signed_in

ROUTE = "/api/push/react"


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A client with no session, no cookie and no CSRF header: what a service worker's answer is."""
    with TestClient(api, raise_server_exceptions=False) as client:
        yield client


def _person(session: Session, email: str = "answers@example.com") -> User:
    user = make_person(session, email)
    run_due(session, NOW, [user.id])
    session.commit()
    return user


def _pushed_tip(session: Session, user: User) -> Tip:
    """A tip written for ``user`` now (real time: the route answers at the real clock), as a push carries it."""
    tip = recommend(session, user, datetime.now(UTC))
    session.commit()
    return tip


def _events(session: Session, tip: Tip, kind: str | None = None) -> list[Event]:
    session.commit()
    events = session.exec(select(Event).where(Event.user_id == tip.user_id, col(Event.type).like("tip_%"))).all()
    return [e for e in events if e.payload.get("tip_id") == tip.id and (kind is None or e.type == kind)]


def _learner_runs(session: Session, user: User) -> int:
    session.commit()
    query = select(func.count()).where(AgentRun.user_id == user.id, AgentRun.agent_id == LEARNER)
    return session.exec(query).one()


def _stored(session: Session, tip: Tip) -> Tip:
    session.commit()
    stored = session.get(Tip, tip.id)
    session.refresh(stored)
    return stored


def _tips(session: Session, user_id: int) -> int:
    session.commit()
    return session.exec(select(func.count()).where(Tip.user_id == user_id)).one()


def _resigned(token: str, **changes: Any) -> str:
    """``token`` with its claim changed but its signature kept (what an attacker without the key can do)."""
    body, signature = token.rsplit(".", 1)
    claim = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged = base64.urlsafe_b64encode(json.dumps(claim | changes, separators=(",", ":")).encode()).rstrip(b"=")
    return f"{forged.decode()}.{signature}"


# --- what an answer does ----------------------------------------------------------------------------------------------


def test_done_from_a_notification_records_the_reaction_as_the_page_does(
    any_database: Session, client: TestClient
) -> None:
    user = _person(any_database)
    tip = _pushed_tip(any_database, user)
    runs = _learner_runs(any_database, user)

    response = client.post(ROUTE, json={"token": answer_token(tip), "action": "done"})

    assert response.status_code == 200, response.text
    assert response.json() == {"tip_id": tip.id, "reaction": "done", "recorded": True}
    stored = _stored(any_database, tip)
    assert (stored.reaction, stored.snoozed_until) == (Reaction.done, None)
    assert [event.type for event in _events(any_database, tip)] == ["tip_done"]
    assert _learner_runs(any_database, user) == runs + 1, "the learner reads the reaction at once, as on the page"


def test_later_snoozes_the_tip_until_the_time_the_page_would(session: Session, client: TestClient) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)

    response = client.post(ROUTE, json={"token": answer_token(tip), "action": "later"})

    assert response.status_code == 200, response.text
    assert response.json()["reaction"] == "snoozed"
    stored = _stored(session, tip)
    assert stored.reaction == Reaction.snoozed
    assert stored.snoozed_until == snooze_until(timing_params(session, user), stored.reacted_at)
    assert [event.type for event in _events(session, tip)] == ["tip_snoozed"]


def test_the_open_page_moves_on_from_a_tip_answered_in_its_notification(session: Session) -> None:
    user = _person(session)
    now = datetime.now(UTC)
    shown = mark_shown(session, current_tip(session, user, now), now)
    session.commit()

    answered = answer_from_notification(session, answer_token(shown, now), "done", now + timedelta(seconds=5))
    session.commit()

    following = replacement_tip(session, user, shown.id, now + timedelta(seconds=10))
    assert answered.following is not None
    assert following is not None, "the live page is offered a tip in place of the answered one"
    assert (following.id, following.reaction) == (answered.following.id, None)
    assert current_tip(session, user, now + timedelta(minutes=1)).id == following.id, "a reload shows it too"


def test_answering_an_older_tip_leaves_the_tip_on_the_page_standing(session: Session, client: TestClient) -> None:
    user = _person(session)
    older = _pushed_tip(session, user)
    on_the_page = _pushed_tip(session, user)
    tips = _tips(session, user.id)

    response = client.post(ROUTE, json={"token": answer_token(older), "action": "done"})

    assert (response.status_code, response.json()["recorded"]) == (200, True)
    assert _stored(session, older).reaction == Reaction.done
    assert _tips(session, user.id) == tips, "no tip written in place of the one the page shows"
    assert current_tip(session, user).id == on_the_page.id


# --- tapped twice, or answered elsewhere ------------------------------------------------------------------------------


def test_a_second_tap_of_the_same_button_is_a_200_that_writes_nothing(
    any_database: Session, client: TestClient
) -> None:
    user = _person(any_database)
    tip = _pushed_tip(any_database, user)
    body = {"token": answer_token(tip), "action": "done"}
    assert client.post(ROUTE, json=body).json()["recorded"] is True
    tips, runs = _tips(any_database, user.id), _learner_runs(any_database, user)
    answered_at = _stored(any_database, tip).reacted_at

    again = client.post(ROUTE, json=body)

    assert again.status_code == 200, again.text
    assert again.json() == {"tip_id": tip.id, "reaction": "done", "recorded": False}
    assert len(_events(any_database, tip, "tip_done")) == 1
    assert (_tips(any_database, user.id), _learner_runs(any_database, user)) == (tips, runs), "no next tip, no learning"
    assert _stored(any_database, tip).reacted_at == answered_at


def test_two_taps_at_once_record_one_answer(any_database: Session) -> None:
    user = _person(any_database)
    tip = _pushed_tip(any_database, user)
    token, engine = answer_token(tip), any_database.get_bind()
    start = threading.Barrier(2)
    outcomes: list[Any] = []

    def tap() -> None:
        with Session(engine, expire_on_commit=False) as session:
            start.wait()
            try:
                outcomes.append(answer_from_notification(session, token, "done").recorded)
                session.commit()
            except Exception as error:  # the assertion below names it
                session.rollback()
                outcomes.append(error)

    taps = [threading.Thread(target=tap) for _ in range(2)]
    for thread in taps:
        thread.start()
    for thread in taps:
        thread.join(timeout=60)

    assert sorted(outcomes, key=str) == [False, True], outcomes
    assert len(_events(any_database, tip)) == 1


@pytest.mark.parametrize("on_the_page", ["dismissed", "snoozed"])
def test_a_tip_answered_on_the_page_keeps_its_answer(session: Session, client: TestClient, on_the_page: str) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)
    react(session, user, tip.id, on_the_page)
    session.commit()

    response = client.post(ROUTE, json={"token": answer_token(tip), "action": "done"})

    assert response.status_code == 409
    assert f"already answered ({on_the_page}); nothing changed" in response.json()["error"]
    assert _stored(session, tip).reaction == on_the_page
    assert [event.type for event in _events(session, tip)] == [f"tip_{on_the_page}"]


def test_the_same_answer_given_on_the_page_stands_and_the_notification_agrees(
    session: Session, client: TestClient
) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)
    with signed_in(user) as page:
        assert page.post(f"/api/tips/{tip.id}/reaction", json={"reaction": "done"}).status_code == 200

    response = client.post(ROUTE, json={"token": answer_token(tip), "action": "done"})

    assert (response.status_code, response.json()["recorded"]) == (200, False)
    assert len(_events(session, tip, "tip_done")) == 1


# --- what is refused --------------------------------------------------------------------------------------------------


def _refused(session: Session, client: TestClient, tip: Tip, body: dict[str, Any], status: int) -> str:
    """Post ``body``; assert ``status`` and that the tip is unanswered and nothing was logged; the error message."""
    tips = _tips(session, tip.user_id)
    response = client.post(ROUTE, json=body)
    assert response.status_code == status, response.text
    assert _stored(session, tip).reaction is None
    assert _events(session, tip) == []
    assert _tips(session, tip.user_id) == tips, "no next tip written"
    assert "Traceback" not in response.text
    return response.json()["error"]


def test_a_forged_or_altered_token_is_a_403(any_database: Session, client: TestClient) -> None:
    user = _person(any_database)
    tip = _pushed_tip(any_database, user)
    token = answer_token(tip)
    other_key = URLSafeSerializer("not-oO's-secret-key", salt=SALT).dumps(
        {"u": user.id, "t": tip.id, "p": "answer-tip", "e": int(datetime.now(UTC).timestamp()) + 3600}
    )
    other_salt = URLSafeSerializer(get_settings().secret_key.get_secret_value(), salt="oo-hub-session").dumps(
        {"u": user.id, "t": tip.id, "p": "answer-tip", "e": int(datetime.now(UTC).timestamp()) + 3600}
    )
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    longer = _resigned(token, e=int(datetime.now(UTC).timestamp()) + 10 * 24 * 3600)

    for forged in (other_key, other_salt, tampered, longer, "not-a-token", token + "x"):
        message = _refused(any_database, client, tip, {"token": forged, "action": "done"}, 403)
        assert message == "this notification cannot answer a tip: open oO to answer it there"


def test_a_token_answers_only_its_own_tip(any_database: Session, client: TestClient) -> None:
    user = _person(any_database)
    first, second = _pushed_tip(any_database, user), _pushed_tip(any_database, user)
    token = answer_token(first)

    _refused(any_database, client, second, {"token": _resigned(token, t=second.id), "action": "done"}, 403)
    naming = client.post(ROUTE, json={"token": token, "action": "done", "tip_id": second.id})
    assert naming.status_code == 422, "the body cannot name a tip: only the token does"
    assert _stored(any_database, second).reaction is None


def test_a_token_for_another_person_answers_nothing_of_theirs(any_database: Session, client: TestClient) -> None:
    mine, theirs = _person(any_database), _person(any_database, "other@example.com")
    tip = _pushed_tip(any_database, mine)
    their_tip = _pushed_tip(any_database, theirs)
    # Signed with the key, so only a bug could make it: a claim of theirs over my tip is refused as no tip of theirs.
    crossed = Tip(id=tip.id, user_id=theirs.id, text=tip.text, prompt_version="", model_alias="", model="", policy="")

    message = _refused(any_database, client, tip, {"token": answer_token(crossed), "action": "done"}, 404)

    assert message == "the tip of this notification no longer exists"
    assert _stored(any_database, their_tip).reaction is None


def test_an_expired_token_is_a_410_that_says_to_answer_on_the_page(session: Session, client: TestClient) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)
    sent = datetime.now(UTC) - ANSWER_LIFETIME - timedelta(seconds=1)

    message = _refused(session, client, tip, {"token": answer_token(tip, sent), "action": "done"}, 410)

    assert "too old to answer from: open oO" in message
    assert read_answer_token(answer_token(tip, sent), sent + ANSWER_LIFETIME - timedelta(seconds=1)).tip_id == tip.id


def test_the_session_cookie_is_no_answer_token_and_is_never_read(session: Session) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)
    with signed_in(user) as page:
        cookie = page.cookies.get(session_cookie())
        as_token = page.post(ROUTE, json={"token": cookie, "action": "done"})
        without_token = page.post(ROUTE, json={"action": "done"})

    assert cookie, "the signed-in client holds a session cookie"
    assert as_token.status_code == 403
    assert without_token.status_code == 422
    assert _stored(session, tip).reaction is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "dismissed"}, 422),  # only the notification's buttons answer
        ({"action": "done", "extra": 1}, 422),
        ({"action": "done", "token": "x" * (MAX_TOKEN_LENGTH + 1)}, 422),
        ({"action": "done", "padding": "x" * 20_000}, 413),
    ],
)
def test_bad_bodies_are_refused_before_anything_is_read(
    session: Session, client: TestClient, body: dict[str, Any], status: int
) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)

    _refused(session, client, tip, {"token": answer_token(tip)} | body, status)


def test_an_answer_after_the_account_was_deleted_is_a_404(session: Session, client: TestClient) -> None:
    user = _person(session)
    tip = _pushed_tip(session, user)
    token = answer_token(tip)
    with signed_in(user) as page:
        assert page.request("DELETE", "/api/me", json={"confirm": user.email}).status_code == 200

    response = client.post(ROUTE, json={"token": token, "action": "done"})

    assert response.status_code == 404
    assert response.json() == {"error": "the tip of this notification no longer exists"}
