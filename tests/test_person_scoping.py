"""A person's tips and agent outputs are looked up with their id: nobody reacts to, sees or is shown another person's
tip or agent output by naming its id, not through the API, not through the page's handler, and not through ids a
tip's sources carry (an id a deleted person's row once had, on a database that reused it). Real rows, real sessions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from agents.registry import registry
from agents.runner import compute_output, job_key
from oo_app.api import api
from oo_app.demo import grant_consents
from oo_app.errors import NotFound
from oo_app.models import AgentOutput, Event, Tip, User
from oo_app.profile.consents import consent_keys
from oo_app.profile.contexts import change_context
from oo_app.push.keys import generate_private_key, raw_private_key
from oo_app.recommender import react, recommend
from oo_app.recommender.orchestrator import good_examples
from oo_app.recommender.shadow import inputs_of
from oo_app.state.tip import _react_and_next
from tests.auth_helpers import session_cookies
from tests.conftest import NOW
from tests.fakes.push_service import Browser as PushBrowser
from tests.test_profile_helpers import owned_rows, seed_every_person_table, signed_in

OTHERS_SNIPPET = "Their divorce hearing is at 15:00 on Friday."


@pytest.fixture
def other(session: Session) -> User:
    """A second person, with one agent output of their own."""
    person = User(email="bea@example.com", display_name="Bea", tz="Europe/Berlin")
    session.add(person)
    session.flush()
    session.add(
        AgentOutput(
            user_id=person.id,
            agent_id="time-of-day",
            agent_version="1.0.0",
            job_key=f"{person.id}:time-of-day@1.0.0:1",
            snippet=OTHERS_SNIPPET,
            computed_at=NOW,
            expires_at=NOW + timedelta(days=1),
        )
    )
    session.commit()
    return person


def _others_output(session: Session, other: User) -> AgentOutput:
    return session.exec(select(AgentOutput).where(AgentOutput.user_id == other.id)).one()


def _events(session: Session) -> list[tuple[int, str]]:
    session.commit()
    return [(event.user_id, event.type) for event in session.exec(select(Event).order_by(Event.id))]


def _answered(session: Session, tip_id: int) -> str | None:
    session.commit()
    return session.exec(select(Tip.reaction).where(Tip.id == tip_id)).one()


# --- reactions ------------------------------------------------------------------------------------------------------


def test_reacting_to_another_persons_tip_through_the_api_is_a_404_and_changes_nothing(
    session: Session, demo_user: User, other: User
) -> None:
    tip = recommend(session, demo_user, NOW)
    session.commit()
    before = _events(session)

    with signed_in(other) as client:
        response = client.post(f"/api/tips/{tip.id}/reaction", json={"reaction": "done"})

    assert response.status_code == 404, response.text
    assert "no tip" in response.json()["error"]
    assert _answered(session, tip.id) is None
    assert _events(session) == before


def test_reacting_to_another_persons_tip_through_the_pages_handler_is_not_found_and_changes_nothing(
    session: Session, demo_user: User, other: User
) -> None:
    tip = recommend(session, demo_user, NOW)
    session.commit()
    before = _events(session)
    cookies = session_cookies(session, other)

    with pytest.raises(NotFound, match="no tip"):
        _react_and_next(cookies, tip.id, "done")

    assert _answered(session, tip.id) is None
    assert _events(session) == before


def test_a_shadow_tip_cannot_be_reacted_to_even_by_its_person(session: Session, demo_user: User) -> None:
    tip = recommend(session, demo_user, NOW)
    tip.shadow = True
    session.commit()

    with pytest.raises(NotFound):
        react(session, demo_user, tip.id, "done")


# --- ids in a tip's sources -----------------------------------------------------------------------------------------


def _tip_naming(session: Session, person: User, output: AgentOutput, reaction: str | None = None) -> Tip:
    """The person's tip, its sources also naming ``output`` (as a reused id would after a deletion)."""
    tip = recommend(session, person, NOW)
    tip.sources = [
        *tip.sources,
        {"agent_id": "borrowed", "agent_version": output.agent_version, "output_id": output.id},
    ]
    tip.reaction, tip.shown_at = reaction, NOW
    session.add(tip)
    session.commit()
    return tip


def test_the_examples_of_good_tips_never_carry_another_persons_snippet(
    session: Session, demo_user: User, other: User
) -> None:
    _tip_naming(session, demo_user, _others_output(session, other), reaction="liked")

    examples = good_examples(session, demo_user.id)

    assert examples, "the person's own liked tip is an example"
    assert all(OTHERS_SNIPPET not in example["facts"] for example in examples), examples


def test_a_shadow_is_written_only_from_its_persons_outputs(session: Session, demo_user: User, other: User) -> None:
    shown = _tip_naming(session, demo_user, _others_output(session, other))

    inputs = inputs_of(session, shown)

    assert inputs.outputs, "the person's own outputs stay"
    assert {output.user_id for output in inputs.outputs} == {demo_user.id}


def test_an_agent_slot_is_looked_up_with_its_person(
    session: Session, demo_user: User, other: User, configure: Callable[..., None]
) -> None:
    agent = registry()["time-of-day"]
    # Another person's row under this person's slot key: what an id reused after a deletion would leave behind.
    borrowed = _others_output(session, other)
    borrowed.job_key = job_key(demo_user.id, agent, NOW)
    session.add(borrowed)
    session.commit()

    try:
        output = compute_output(session, demo_user, agent, NOW)
    except sa.exc.SQLAlchemyError:  # the slot's key is taken: no output for this person, rather than another's
        session.rollback()
        output = None

    assert output is None or output.user_id == demo_user.id, "another person's output was returned as theirs"


# --- every route of the API -----------------------------------------------------------------------------------------

A_MARK = "person-a-mark"  # in every person-owned row of person A's: no answer to person B may carry it
A_CONTEXT = "a-private-context"

# What each path parameter names. A person's own thing is named by A's id (B must get 403 or 404); a catalogue entry
# (an agent, a kind of calendar) is the same for everyone, and the route then acts on B's own rows.
OWNED_BY_A: dict[str, Callable[[Tip], str]] = {
    "tip_id": lambda tip: str(tip.id),
    "name": lambda _tip: A_CONTEXT,  # a context, by its name: /api/profile/contexts/{name}/schedules
}
CATALOGUE = {"scope": "time-of-day", "kind": "ics", "agent_id": "time-of-day"}

# Bodies that pass validation, so that each call reaches the route's own code (where scoping happens), given person
# A. A route with a body and none here answers 422, and the walk fails until it gets one.
BODIES: dict[tuple[str, str], Callable[[User], Any]] = {
    ("POST", "/api/tips/{tip_id}/reaction"): lambda _a: {"reaction": "done"},
    ("PUT", "/api/profile/contexts/{name}/schedules"): lambda _a: {
        "schedules": [{"weekdays": ["mon"], "start": "09:00", "end": "17:00"}]
    },
    ("PATCH", "/api/profile/prefs/{scope}"): lambda _a: {"preferred_hour": 9},
    ("PATCH", "/api/profile/consents"): lambda _a: {"activity": False},
    ("PATCH", "/api/profile/contexts"): lambda _a: {"action": "delete", "name": A_CONTEXT},
    ("POST", "/api/mood"): lambda _a: {"level": 3},
    ("DELETE", "/api/me"): lambda a: {"confirm": a.email},
    # B's own browser: an endpoint subscribed again moves to whoever subscribes it, by design (tests/test_push.py).
    ("POST", "/api/push/subscriptions"): lambda _a: PushBrowser.new("http://127.0.0.1:9/push/b-browser").to_json(),
    ("DELETE", "/api/push/subscriptions"): lambda _a: {"endpoint": f"{A_MARK}-push_subscriptions-endpoint"},
    ("POST", "/api/push/react"): lambda _a: {"token": "not-a-token", "action": "done"},
    ("POST", "/api/integrations/calendar/ics"): lambda _a: {"address": "https://127.0.0.1:9/calendar.ics"},
    ("POST", "/api/integrations/calendar/caldav"): lambda _a: {
        "url": "https://127.0.0.1:9/",
        "username": "b",
        "password": "an-app-password",
    },
    ("POST", "/api/agents/{agent_id}/compute"): lambda a: {"user_id": a.id},
    ("POST", "/api/agents/{agent_id}/infer"): lambda _a: {"events": []},
}
# Answers that refuse the call as asked, with a reason each; any other 422 is a body this walk still lacks.
EXPECTED_422 = {
    ("DELETE", "/api/me"): "B confirms with A's email: not theirs, so nothing is deleted",
}
LAST = {("POST", "/auth/logout")}  # it ends B's session: walked after every other route
# Routes that answer without a session, and why that is right; every other route refuses a caller without one.
PUBLIC = {
    ("GET", "/health"): "the load balancer's probe: the dependencies' status, nothing of anyone's",
    ("GET", "/metrics"): "Prometheus' scrape: its own bearer token or loopback, counters of no one in particular",
    ("GET", "/api/openapi.json"): "the API's schema, where the docs are on",
    ("GET", "/api/docs"): "Swagger UI over the schema",
    ("GET", "/auth/login"): "signing in starts without a session",
    ("GET", "/auth/callback"): "the provider sends the browser back before there is a session",
    ("POST", "/auth/dev-login"): "development only, off elsewhere: signs in the demo person",
    ("POST", "/auth/logout"): "signing out without a session is a no-op",
    ("POST", "/api/integrations/todoist/webhook"): "Todoist calls it: its HMAC signature is the credential",
    ("POST", "/api/push/react"): "a notification's button: the signed answer token is the credential, never a cookie",
}


def api_routes() -> list[tuple[str, str]]:
    """Every (method, path) the API serves, the included routers' and those hidden from the OpenAPI schema too."""
    routes = {
        (method, context.path)
        for context in iter_route_contexts(api.routes)
        if isinstance(context.original_route, APIRoute)
        for method in context.methods or ()
    }
    return sorted(routes, key=lambda route: (route in LAST, route))


@pytest.fixture
def person_b(session: Session) -> User:
    """A second person who granted every consent, so that no route stops at a missing consent before its work."""
    person = User(email="bea@example.com", display_name="Bea", tz="Europe/Berlin")
    session.add(person)
    session.flush()
    grant_consents(session, person, tuple(consent_keys()))
    session.commit()
    return person


@pytest.fixture
def person_a(session: Session, demo_user: User) -> tuple[User, Tip]:
    """The demo person with a tip, a context of their own and a row in every person-owned table, each carrying
    :data:`A_MARK`."""
    tip = recommend(session, demo_user, NOW)
    change_context(session, demo_user, "create", A_CONTEXT)
    session.commit()
    seed_every_person_table(session, demo_user.id, A_MARK)
    return demo_user, tip


def _url(path: str, tip: Tip) -> str:
    params = re.findall(r"{(\w+)}", path)
    unknown = [name for name in params if name not in OWNED_BY_A and name not in CATALOGUE]
    assert not unknown, f"{path}: say in OWNED_BY_A or CATALOGUE what {unknown} names"
    return path.format(**{name: OWNED_BY_A[name](tip) if name in OWNED_BY_A else CATALOGUE[name] for name in params})


def test_the_walk_covers_every_route_of_the_openapi_schema() -> None:
    walked = {path for _method, path in api_routes()}
    documented = set(api.openapi()["paths"])
    assert documented <= walked
    assert ("POST", "/api/tips/{tip_id}/reaction") in api_routes()
    assert set(PUBLIC) <= set(api_routes()), "PUBLIC names routes the API no longer has"
    assert {path for path in walked if path.startswith(("/api/integrations", "/integrations"))}, "integrations too"


def test_no_route_lets_one_person_reach_anothers_data(
    session: Session, person_a: tuple[User, Tip], person_b: User, configure: Callable[..., None], tmp_path: Path
) -> None:
    """Person B, signed in, calls every route of the API, naming person A's tip and context where a route takes an
    id: those answer 403 or 404, no answer carries anything of A's, and A's rows are as they were."""
    configure(  # push and the token vault set up, so that their routes do their work
        OO_VAPID_PRIVATE_KEY=raw_private_key(generate_private_key()),
        OO_VAPID_SUBJECT="mailto:ops@example.com",
        OO_VAPID_KEY_FILE=str(tmp_path / "vapid.key"),
        OO_TOKEN_KEYS=json.dumps([Fernet.generate_key().decode()]),
    )
    a, tip = person_a
    before = owned_rows(session, a.id)
    answers: dict[tuple[str, str], tuple[int, str]] = {}

    with signed_in(person_b) as b:
        for method, path in api_routes():
            url = _url(path, tip)
            body = BODIES[(method, path)](a) if (method, path) in BODIES else None
            response = b.request(method, url, json=body, follow_redirects=False)
            answers[(method, path)] = (response.status_code, response.text)

    for (method, path), (status, text) in answers.items():
        route = f"{method} {path}"
        assert status != 500, f"{route}: an unexpected error: {text[:300]}"  # 502, 503: a service out of reach
        assert status != 422 or (method, path) in EXPECTED_422, f"{route}: give BODIES a valid body: {text[:300]}"
        assert A_MARK not in text, f"{route} answered B with A's data: {text[:300]}"
        assert a.email not in text, f"{route} answered B with A's email: {text[:300]}"
        if any(name in OWNED_BY_A for name in re.findall(r"{(\w+)}", path)):
            assert status in (403, 404), f"{route} with A's id answered B {status}: {text[:300]}"
    assert owned_rows(session, a.id) == before, "B's calls changed nothing of A's"


def test_every_route_but_the_public_ones_refuses_a_caller_without_a_session(
    session: Session, person_a: tuple[User, Tip]
) -> None:
    a, tip = person_a
    before = owned_rows(session, a.id)
    with TestClient(api, raise_server_exceptions=False) as anonymous:
        answers = {
            (method, path): anonymous.request(
                method, _url(path, tip), json=BODIES[(method, path)](a) if (method, path) in BODIES else None
            )
            for method, path in api_routes()
            if (method, path) not in PUBLIC
        }

    opened = {
        route: response.status_code for route, response in answers.items() if response.status_code not in (401, 403)
    }
    assert not opened, f"routes that answered without a session (scope them, or list them in PUBLIC): {opened}"
    assert owned_rows(session, a.id) == before
