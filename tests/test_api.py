"""The HTTP API: the tip contract, and bad input answered with a JSON 4xx, never a 500 or a stack trace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agents.registry import registry
from oo_app.api import api
from oo_app.models import Event, Tip, User
from tests.auth_helpers import sign_in

TIP_KEYS = {"id", "text", "kind", "agents", "model", "policy", "created_at", "why"}


@pytest.fixture
def client(demo_user: User, session: Session) -> Iterator[TestClient]:
    """The demo person, signed in: session cookie, CSRF cookie and header."""
    with TestClient(api, raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        yield client


def test_health_checks_the_database(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["checks"]["database"]["status"] == "ok"  # every check: tests/test_observability.py


def test_health_reports_an_unreachable_database(configure) -> None:
    configure(OO_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none")
    response = TestClient(api).get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


def test_recommend_returns_the_tip_contract(client: TestClient, session: Session) -> None:
    response = client.post("/api/recommend")
    assert response.status_code == 200
    tip = response.json()["tip"]
    assert set(tip) == TIP_KEYS
    assert tip["text"]
    assert tip["kind"] in {"advice", "todo"}
    assert tip["agents"] == list(registry()), "the demo person consented to every agent"
    assert tip["model"] == "oo-rules/composer"
    assert tip["policy"] == "incumbent"
    assert datetime.fromisoformat(tip["created_at"]).tzinfo is not None
    assert tip["why"]["because"], "why this tip, in a sentence"
    assert not any(agent_id in tip["why"]["because"] for agent_id in ("time-of-day", "overdue-task", "focus-area"))
    assert tip["why"]["written_by"] == "Written by oO's rules."
    stored = session.get(Tip, tip["id"])
    assert stored is not None
    assert stored.shown_at is not None


def test_reaction_is_logged_and_answered_with_the_next_tip(client: TestClient, session: Session) -> None:
    first = client.post("/api/recommend").json()["tip"]
    response = client.post(f"/api/tips/{first['id']}/reaction", json={"reaction": "dismissed"})
    assert response.status_code == 200
    body = response.json()
    assert body["reacted"]["id"] == first["id"]
    assert body["next"]["id"] != first["id"]
    assert body["next"]["text"] != first["text"]
    assert body["next"]["why"]["because"], "the next tip comes with its reasons"
    event = session.exec(select(Event).where(Event.type == "tip_dismissed")).one()
    assert event.payload == {"tip_id": first["id"]}


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/tips/999999/reaction", {"reaction": "done"}, 404),
        ("/api/tips/abc/reaction", {"reaction": "done"}, 422),
        ("/api/tips/1/reaction", {"reaction": "exploded"}, 422),
        ("/api/tips/1/reaction", {"reaction": "done", "extra": 1}, 422),
        ("/api/tips/1/reaction", "not json", 422),
        ("/api/tips/1/reaction", None, 422),
    ],
)
def test_bad_input_gets_a_json_4xx(client: TestClient, path: str, body, status: int) -> None:
    kwargs = {"content": body} if isinstance(body, str) else {"json": body}
    response = client.post(path, **kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()
    assert "Traceback" not in response.text


def test_answering_a_tip_twice_is_a_conflict(client: TestClient, session: Session) -> None:
    tip = client.post("/api/recommend").json()["tip"]
    assert client.post(f"/api/tips/{tip['id']}/reaction", json={"reaction": "done"}).status_code == 200
    again = client.post(f"/api/tips/{tip['id']}/reaction", json={"reaction": "snoozed"})
    assert again.status_code == 409
    assert session.get(Tip, tip["id"]).reaction == "done"


def test_a_person_who_no_longer_exists_is_a_401_that_says_to_sign_in(client: TestClient, session: Session) -> None:
    session.delete(session.exec(select(User)).one())
    session.commit()
    response = client.post("/api/recommend")
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]


def test_an_unexpected_failure_is_a_generic_json_500(client: TestClient, session: Session) -> None:
    session.exec(sa.text("DROP TABLE tips"))
    session.commit()
    response = client.post("/api/recommend")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; it has been logged"}
