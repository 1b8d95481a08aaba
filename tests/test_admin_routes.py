"""The admin role means something: the operator routes answer admins only, validate and bound what they are sent,
reuse the domain functions of the scheduler and the CLI, and leave an audit event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from oo_app import audit
from oo_app.admin.routes import MAX_BODY_BYTES, MAX_HISTORY_ROWS
from oo_app.api import api
from oo_app.auth.csrf import CSRF_HEADER
from oo_app.cli import main
from oo_app.deps import OPERATORS_ONLY
from oo_app.models import AgentOutput, AuditEvent, Role, User
from oo_app.profile.consents import set_consents
from tests.auth_helpers import sign_in

PERSONA = Path(__file__).parent / "personas" / "persona-7-02.json"
ADMIN_EMAIL = "ops@example.com"
AGENT = "time-of-day"


@pytest.fixture
def admin(session: Session, demo_user: User) -> User:
    person = User(email=ADMIN_EMAIL, display_name="Ops", role=Role.admin)
    session.add(person)
    session.commit()
    return person


@pytest.fixture
def client_of(session: Session) -> Iterator[Callable[[User | None], TestClient]]:
    """A client signed in as the given person (or nobody)."""
    clients: list[TestClient] = []

    def open_for(person: User | None) -> TestClient:
        client = TestClient(api, raise_server_exceptions=False)
        clients.append(client)
        if person is not None:
            sign_in(client, session, person)
        return client

    yield open_for
    for client in clients:
        client.close()


def _audit(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(session.exec(select(AuditEvent).order_by(AuditEvent.id)))


def _persona() -> dict:
    return json.loads(PERSONA.read_text())


def _compute(client: TestClient, user: User, agent: str = AGENT):
    return client.post(f"/api/agents/{agent}/compute", json={"user_id": user.id})


# --- who may ---------------------------------------------------------------------------------------------------------


def test_an_admin_computes_one_agent_for_a_person_now_and_it_is_audited(
    client_of, session: Session, demo_user: User, admin: User
) -> None:
    response = _compute(client_of(admin), demo_user)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["agent_id"], body["user_id"], body["status"]) == (AGENT, demo_user.id, "ok")
    output = session.get(AgentOutput, body["output_id"])
    assert (output.user_id, output.agent_id) == (demo_user.id, AGENT)
    (event,) = _audit(session)
    assert (event.actor, event.action, event.target) == (ADMIN_EMAIL, audit.RECOMPUTE_AGENTS, f"person:{demo_user.id}")
    assert event.details == {"agents": [AGENT], "outputs": 1, "requested": AGENT}


def test_an_admin_gets_the_parameters_oo_agents_infer_prints_and_it_is_audited(
    client_of, session: Session, admin: User
) -> None:
    printed = CliRunner().invoke(main, ["agents", "infer", "--history", str(PERSONA)])
    assert printed.exit_code == 0, printed.output

    response = client_of(admin).post(f"/api/agents/{AGENT}/infer", json=_persona())

    assert response.status_code == 200, response.text
    assert response.json() == {AGENT: json.loads(printed.stdout)[AGENT]}
    (event,) = _audit(session)
    assert (event.action, event.target) == (audit.INFER_AGENT, f"agent:{AGENT}")
    assert event.details == {
        "events": len(_persona()["events"]),
        "task_completions": len(_persona()["task_completions"]),
    }


@pytest.mark.parametrize("route", ["compute", "infer"])
def test_a_person_without_the_admin_role_gets_a_403_and_nothing_runs(
    client_of, session: Session, demo_user: User, route: str
) -> None:
    body = {"user_id": demo_user.id} if route == "compute" else _persona()
    response = client_of(demo_user).post(f"/api/agents/{AGENT}/{route}", json=body)

    assert response.status_code == 403
    assert response.json()["error"] == OPERATORS_ONLY
    assert session.exec(select(AgentOutput)).all() == []
    assert _audit(session) == []


@pytest.mark.parametrize("route", ["compute", "infer"])
def test_without_a_session_it_is_a_401(client_of, demo_user: User, route: str) -> None:
    body = {"user_id": demo_user.id} if route == "compute" else _persona()
    response = client_of(None).post(f"/api/agents/{AGENT}/{route}", json=body)
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]


def test_an_admin_without_the_csrf_header_is_refused(client_of, session: Session, demo_user: User, admin) -> None:
    client = client_of(admin)
    del client.headers[CSRF_HEADER]
    assert _compute(client, demo_user).status_code == 403
    assert _audit(session) == []


# --- what they may ask ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["compute", "infer"])
def test_an_unknown_agent_is_a_404(client_of, session: Session, demo_user: User, admin: User, route: str) -> None:
    body = {"user_id": demo_user.id} if route == "compute" else _persona()
    response = client_of(admin).post(f"/api/agents/no-such-agent/{route}", json=body)
    assert response.status_code == 404
    assert "no-such-agent" in response.json()["error"]
    assert _audit(session) == []


def test_an_unknown_person_is_a_404(client_of, session: Session, admin: User) -> None:
    response = client_of(admin).post(f"/api/agents/{AGENT}/compute", json={"user_id": 999_999})
    assert response.status_code == 404
    assert "999999" in response.json()["error"]


def test_an_agent_the_person_has_not_allowed_is_a_409_and_never_runs(
    client_of, session: Session, demo_user: User, admin: User
) -> None:
    set_consents(session, demo_user, {"activity": False})
    session.commit()

    response = _compute(client_of(admin), demo_user)

    assert response.status_code == 409
    assert "consents (activity)" in response.json()["error"]
    assert session.exec(select(AgentOutput).where(AgentOutput.agent_id == AGENT)).all() == []
    assert _audit(session) == []


@pytest.mark.parametrize(
    ("route", "body", "says"),
    [
        ("compute", {"user_id": 0}, "greater than or equal to 1"),
        ("compute", {"user_id": "me"}, "valid integer"),
        ("compute", {"user_id": 1, "force": True}, "Extra inputs"),
        ("compute", {}, "Field required"),
        ("infer", {"events": [{"type": "tip_done", "at": "yesterday"}]}, "valid datetime"),
        ("infer", {"tz": "Mars/Olympus"}, "unknown time zone"),
        ("infer", {"event": []}, "Extra inputs"),
        ("infer", {"events": [{"type": "", "at": "2026-11-01T08:00:00Z"}]}, "at least 1 character"),
    ],
)
def test_bad_input_is_a_422_that_says_what_is_wrong(
    client_of, session: Session, admin: User, route: str, body: dict, says: str
) -> None:
    response = client_of(admin).post(f"/api/agents/{AGENT}/{route}", json=body)
    assert response.status_code == 422, response.text
    assert says in json.dumps(response.json()["detail"])
    assert _audit(session) == []


def test_a_history_longer_than_the_bound_is_a_422(client_of, session: Session, admin: User) -> None:
    events = [{"type": "app_open", "at": "2026-11-01T08:00:00Z"}] * (MAX_HISTORY_ROWS + 1)
    response = client_of(admin).post(f"/api/agents/{AGENT}/infer", json={"events": events})
    assert response.status_code == 422
    assert f"at most {MAX_HISTORY_ROWS} items" in json.dumps(response.json()["detail"])
    assert _audit(session) == []


def test_a_body_larger_than_the_bound_is_a_413_that_says_so(client_of, session: Session, admin: User) -> None:
    padding = "x" * (MAX_BODY_BYTES + 1)
    response = client_of(admin).post(
        f"/api/agents/{AGENT}/infer", content=json.dumps({"id": padding}), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert f"{MAX_BODY_BYTES} bytes" in response.json()["error"]
    assert _audit(session) == []


def test_a_streamed_body_past_the_bound_is_a_413_too(client_of, session: Session, admin: User) -> None:
    chunk = b" " * 65_536
    chunks = iter([b'{"id": "', *[chunk] * (MAX_BODY_BYTES // len(chunk) + 1), b'"}'])  # no Content-Length: chunked
    response = client_of(admin).post(
        f"/api/agents/{AGENT}/infer", content=chunks, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert f"{MAX_BODY_BYTES} bytes" in response.json()["error"]
