"""The page's websocket only from oO's own pages: a socket opened from another site's page (which the browser would
give the person's cookies) is refused at the handshake, and the settings handlers that delete the account, revoke a
consent or disconnect an integration refuse a connection without a trusted Origin, changing nothing.

A real backend (``reflex run --env prod --backend-only``) on loopback, spoken to as the page speaks
(:class:`tests.page_socket.PageSocket`), and the middleware on its own for the polling path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket
from sqlmodel import select
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from oo_app.auth.websocket_origin import with_websocket_origin_check
from oo_app.db import session_scope
from oo_app.demo import grant_consents
from oo_app.models import Consent, User
from oo_app.profile.deletion import CONFIRMATION_PHRASE
from tests.app_server import Served, run_server, seeded_database
from tests.auth_helpers import session_cookies
from tests.page_socket import ROOT_STATE, PageSocket

SETTINGS_STATE = f"{ROOT_STATE}.oo_app___state___settings____settings_state"
DELETE_ACCOUNT = f"{SETTINGS_STATE}.delete_account"
SET_CONSENT = f"{SETTINGS_STATE}.set_consent"
DISCONNECT = f"{SETTINGS_STATE}.disconnect"
FOREIGN = ["https://evil.example", "http://127.0.0.1:1", "null"]


@dataclass(frozen=True)
class Backend:
    served: Served
    database_url: str


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    workdir: Path = tmp_path_factory.mktemp("websocket-origin")
    database_url = seeded_database(workdir)
    with run_server(workdir, database_url, {"OO_ENV": "test"}, backend_only=True, name="origin") as served:
        yield Backend(served, database_url)


@dataclass(frozen=True)
class Person:
    id: int
    cookies: dict[str, str]


@pytest.fixture
def person(backend: Backend, configure: Callable[..., None]) -> Person:
    """A person of the served database with every demo consent, signed in."""
    configure(OO_ENV="test", OO_DATABASE_URL=backend.database_url)
    with session_scope() as session:
        user = User(email=f"ws-{uuid.uuid4().hex[:12]}@example.com", display_name="Ws", tz="Europe/Berlin")
        session.add(user)
        session.flush()
        grant_consents(session, user)
        session.flush()
        return Person(user.id, session_cookies(session, user))


def _event_url(served: Served) -> str:
    return served.base.replace("http", "ws", 1) + "/_event/?EIO=4&transport=websocket"


def _still_there(person: Person) -> tuple[bool, bool]:
    """(the person exists, their ``tasks`` consent is granted)."""
    with session_scope() as session:
        exists = session.get(User, person.id) is not None
        granted = session.exec(
            select(Consent.granted).where(Consent.user_id == person.id, Consent.key == "tasks")
        ).first()
    return exists, bool(granted)


def _handled(page: PageSocket, name: str, payload: dict) -> None:
    """Sends a settings event and waits for the backend's answer to it (a delta: the error shown, or a redirect)."""
    seen = page.updates
    page.send_event(name, payload)
    page.wait_for(lambda: page.updates > seen, f"the answer to {name.rsplit('.', 1)[-1]}")


# --- the handshake --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", FOREIGN)
def test_a_websocket_from_another_origin_is_refused(backend: Backend, person: Person, origin: str) -> None:
    cookie = "; ".join(f"{name}={value}" for name, value in person.cookies.items())

    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(_event_url(backend.served), timeout=10, origin=origin, header=[f"Cookie: {cookie}"])

    # 403 is oO's own refusal (oo_app.auth.websocket_origin), before Reflex: Engine.IO's CORS list (rxconfig) would
    # answer 400, and only while Reflex's transport is the websocket one.
    assert refused.value.status_code == 403, refused.value


def test_the_pages_own_origin_opens_the_websocket(backend: Backend, person: Person) -> None:
    with PageSocket(backend.served.base, person.cookies) as page:
        assert page.tip["signed_in"] is True
        assert page.tip["tip_id"], "the page shows a tip"


# --- the settings handlers ------------------------------------------------------------------------------------------


def test_without_a_trusted_origin_the_settings_handlers_delete_and_revoke_nothing(
    backend: Backend, person: Person
) -> None:
    with PageSocket(backend.served.base, person.cookies, origin="") as page:
        _handled(page, DELETE_ACCOUNT, {"form": {"confirmation": CONFIRMATION_PHRASE}})
        _handled(page, SET_CONSENT, {"key": "tasks", "granted": False})
        _handled(page, DISCONNECT, {"provider": "todoist"})

    assert _still_there(person) == (True, True), "a socket without a trusted Origin changed the person's data"


def test_from_the_pages_own_origin_the_same_handlers_work(backend: Backend, person: Person) -> None:
    with PageSocket(backend.served.base, person.cookies) as page:
        _handled(page, SET_CONSENT, {"key": "tasks", "granted": False})
        assert _still_there(person) == (True, False), "the consent was revoked"
        _handled(page, DELETE_ACCOUNT, {"form": {"confirmation": CONFIRMATION_PHRASE}})

    assert _still_there(person) == (False, False), "the account was deleted"


# --- the middleware on the polling path -----------------------------------------------------------------------------


def _guarded_app() -> TestClient:
    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/_event/", ok), Route("/api/thing", ok)])
    return TestClient(with_websocket_origin_check(inner), base_url="http://127.0.0.1:8000")


def test_the_event_endpoints_http_path_refuses_another_origin_and_leaves_the_rest_alone(
    configure: Callable[..., None],
) -> None:
    configure(OO_ENV="test", OO_APP_URL="http://127.0.0.1:8000")
    client = _guarded_app()

    assert client.get("/_event/", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/_event/", headers={"Origin": "http://127.0.0.1:8000"}).status_code == 200
    assert client.get("/_event/").status_code == 200, "no Origin: not a browser page"
    assert client.get("/api/thing", headers={"Origin": "https://evil.example"}).status_code == 200, (
        "other routes keep their own checks (CSRF on writes)"
    )
