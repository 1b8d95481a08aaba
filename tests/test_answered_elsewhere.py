"""A tip answered elsewhere (a notification's button, another tab) while a page still shows it: a tap on the page
keeps the first answer and the page moves on to the person's next tip, with no error shown. A real backend on
loopback, spoken to as the page speaks (:class:`tests.page_socket.PageSocket`); its live watch is slowed to a crawl so
the tap, not the watch, is what moves the page."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from oo_app.db import session_scope
from oo_app.demo import grant_consents
from oo_app.models import Event, Tip, User
from oo_app.recommender import react
from tests.app_server import Served, run_server, seeded_database
from tests.auth_helpers import session_cookies
from tests.page_socket import PageSocket


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, str]]:
    workdir: Path = tmp_path_factory.mktemp("answered-elsewhere")
    database_url = seeded_database(workdir)
    env = {"OO_ENV": "test", "OO_LIVE_POLL_S": "600"}
    with run_server(workdir, database_url, env, backend_only=True, name="answered") as server:
        yield server, database_url


def test_a_tap_on_a_tip_answered_elsewhere_keeps_that_answer_and_shows_the_next_tip(
    served: tuple[Served, str], configure: Callable[..., None]
) -> None:
    server, database_url = served
    configure(OO_ENV="test", OO_DATABASE_URL=database_url)
    with session_scope() as session:
        user = User(email=f"elsewhere-{uuid.uuid4().hex[:8]}@example.com", display_name="E", tz="Europe/Berlin")
        session.add(user)
        session.flush()
        grant_consents(session, user)
        session.flush()
        user_id, cookies = user.id, session_cookies(session, user)

    with PageSocket(server.base, cookies) as page:
        shown = page.tip["tip_id"]
        assert shown, "the page shows a tip"
        with session_scope() as session:  # the notification's "done", while the page still shows the tip
            react(session, session.get(User, user_id), shown, "done")

        after = page.react("dismissed")

    assert after["error"] == "", "the page shows no error for a tip answered elsewhere"
    assert after["tip_id"] not in (0, shown), "the page moved on to the person's next tip"
    with session_scope() as session:
        assert session.get(Tip, shown).reaction == "done", "the first answer stands"
        events = session.exec(select(Event).where(Event.user_id == user_id, Event.type != "tip_shown")).all()
        assert [event.type for event in events if event.payload.get("tip_id") == shown] == ["tip_done"], "one answer"
