"""``GET /api/tips/due``: the tip a first visit paints before its live connection opens.

It answers exactly the tip the page's live state then shows (same id, marked shown once), writes a tip only where the
page would, never lets a browser or a cache keep a copy, and gives nothing to a visitor without a session or to
another site. Asked twice at once (the page's early fetch and its live state), both answer one tip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from oo_app.api import api
from oo_app.auth.sessions import csrf_cookie, session_cookie
from oo_app.db import get_engine
from oo_app.demo import seed_demo
from oo_app.models import Event, Tip, User
from oo_app.state.tip import _opened, _show_current
from tests.auth_helpers import session_cookies

DUE = "/api/tips/due"


def _tips(session: Session, user: User) -> list[Tip]:
    session.expire_all()
    return list(session.exec(select(Tip).where(Tip.user_id == user.id, Tip.shadow == False)).all())  # noqa: E712


def _client(cookies: dict[str, str] | None = None) -> TestClient:
    """A client holding only the cookies (no CSRF header: the page's painter sends none)."""
    client = TestClient(api, raise_server_exceptions=False)
    for name, value in (cookies or {}).items():
        client.cookies.set(name, value)
    return client


@pytest.fixture
def cookies(session: Session, demo_user: User) -> dict[str, str]:
    return session_cookies(session, demo_user)


def test_the_due_tip_is_the_tip_the_live_page_then_shows(
    session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    with _client(cookies) as client:
        response = client.get(DUE)

    assert response.status_code == 200, response.text
    painted = response.json()["tip"]
    assert painted["text"]
    assert painted["kind"] in {"advice", "todo"}
    live = _show_current(cookies)
    assert live is not None
    assert live.id == painted["id"], "the live state shows the tip the page painted"
    assert live.text == painted["text"]
    assert len(_tips(session, demo_user)) == 1, "one tip written for the two"


def test_the_due_tip_is_marked_shown_once(session: Session, demo_user: User, cookies: dict[str, str]) -> None:
    with _client(cookies) as client:
        first = client.get(DUE).json()["tip"]
        again = client.get(DUE).json()["tip"]
    _show_current(cookies)

    assert again["id"] == first["id"]
    assert session.get(Tip, first["id"]).shown_at is not None
    events = session.exec(select(Event).where(Event.user_id == demo_user.id, Event.type == "tip_shown")).all()
    shown = [event for event in events if event.payload.get("tip_id") == first["id"]]
    assert len(shown) == 1, "showing the same tip again records nothing new"


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_no_answer_of_the_route_may_be_stored(
    signed_in: bool, session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    with _client(cookies if signed_in else None) as client:
        response = client.get(DUE)

    assert response.status_code == (200 if signed_in else 401)
    assert response.headers["cache-control"] == "no-store"


def test_without_a_session_nothing_is_answered_and_nothing_written(session: Session, demo_user: User) -> None:
    with _client({session_cookie(): "forged", csrf_cookie(): "forged"}) as client:
        response = client.get(DUE)

    assert response.status_code == 401
    assert "tip" not in response.json()
    assert _tips(session, demo_user) == []


def test_another_sites_request_is_refused_and_writes_nothing(
    session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    with _client(cookies) as client:
        response = client.get(DUE, headers={"Sec-Fetch-Site": "cross-site"})

    assert response.status_code == 403
    assert response.headers["cache-control"] == "no-store"
    assert _tips(session, demo_user) == []


def _before_the_first_run(session: Session, user: User) -> None:
    """``user`` as a new person is until they answer the first run."""
    user.onboarded_at = None
    session.add(user)
    session.commit()


def test_before_the_first_run_no_tip_is_due_nor_written(
    session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    _before_the_first_run(session, demo_user)

    with _client(cookies) as client:
        response = client.get(DUE)

    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    assert _tips(session, demo_user) == [], "the first tip comes from the first run's answer"


def test_opening_the_page_shows_the_tip_it_would_show_live_in_one_transaction(
    session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    begun: list[object] = []
    engine, count = get_engine(), begun.append
    sa.event.listen(engine, "begin", count)
    try:
        first_run, view = _opened(cookies)
    finally:
        sa.event.remove(engine, "begin", count)

    assert first_run is False
    assert view is not None
    assert len(begun) == 1, "the first run's check, the tip and its reasons in one transaction"
    assert _show_current(cookies) == view, "the live page then shows the same tip"
    assert [tip.id for tip in _tips(session, demo_user)] == [view.id]


def test_opening_the_page_before_the_first_run_shows_it_and_writes_no_tip(
    session: Session, demo_user: User, cookies: dict[str, str]
) -> None:
    _before_the_first_run(session, demo_user)

    assert _opened(cookies) == (True, None)
    assert _tips(session, demo_user) == [], "the first tip comes from the first run's answer"


def _at_once(*calls: Callable[[], int]) -> list[int]:
    """Runs ``calls`` in threads released together; their results in order (an exception fails the test)."""
    barrier = threading.Barrier(len(calls))
    results: list[int | BaseException] = [0] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # reported below, in the test's thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


@pytest.fixture
def person(any_database: Session) -> tuple[Session, User, dict[str, str]]:
    user = seed_demo(any_database, "due@example.com", now=datetime.now(UTC), days=14)
    assert user is not None
    any_database.commit()
    return any_database, user, session_cookies(any_database, user)


@pytest.mark.parametrize("round_", range(3))
def test_the_early_fetch_and_the_live_state_at_once_answer_one_tip(
    round_: int, person: tuple[Session, User, dict[str, str]]
) -> None:
    session, user, cookies = person

    def fetch() -> int:
        with _client(cookies) as client:
            response = client.get(DUE)
        assert response.status_code == 200, response.text
        return response.json()["tip"]["id"]

    def live() -> int:
        view = _show_current(cookies)
        assert view is not None
        return view.id

    painted, shown = _at_once(fetch, live)

    assert painted == shown, "the page painted one tip and its live state showed another"
    assert [tip.id for tip in _tips(session, user)] == [painted], "a first visit writes one tip, not two"
