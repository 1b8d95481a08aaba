"""Todoist through the real routes against a faithful stand-in (``tests/fakes/todoist.py``) on loopback.

Connect (OAuth 2 code flow with state), tokens encrypted at rest, sync of completion derivatives with no titles,
idempotent re-sync, revocation on disconnect (even when Todoist fails), refresh of expiring tokens, and a dump of
the whole database (SQLite and PostgreSQL) that shows no token and no task title.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from agents.runner import compute_output
from oo_app import db
from oo_app.api import api
from oo_app.auth.csrf import CSRF_HEADER
from oo_app.clock import as_utc
from oo_app.demo import seed_demo
from oo_app.integrations import recompute
from oo_app.integrations.cli import integrations
from oo_app.integrations.oauth import IssuedTokens, save_connection, todoist_provider
from oo_app.integrations.routes import state_cookie
from oo_app.integrations.todoist import parse_due, sync, todoist_due
from oo_app.integrations.vault import TokenVault, store_tokens
from oo_app.models import AgentOutput, Integration, TaskCompletion, User
from oo_app.state.settings import _sync_now
from tests.auth_helpers import sign_in
from tests.conftest import NOW
from tests.fakes.todoist import FakeTodoist

KEY = Fernet.generate_key().decode()
BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")
CONNECT = "/integrations/todoist/connect"
SYNC, DISCONNECT = "/api/integrations/todoist/sync", "/api/integrations/todoist/disconnect"
COMPLETED = "/api/v1/tasks/completed/by_completion_date"


def seed(fake: FakeTodoist, now: datetime) -> None:
    """Projects and tasks with titles that must never reach oO's database."""
    inbox, work, home = fake.add_project("Inbox", inbox=True), fake.add_project("Work"), fake.add_project("Home")
    garden = fake.add_project("Old garden", archived=True)
    yesterday = (now - timedelta(days=1)).astimezone(BERLIN).date()
    fake.add_completed("Renew passport zebra-7731", work, now - timedelta(hours=20), {"date": yesterday.isoformat()})
    fake.add_completed(
        "Call the plumber about the quokka leak",
        home,
        now - timedelta(days=2),
        {"date": f"{yesterday.isoformat()}T09:00:00", "timezone": None},
        description="door code 4412-lemur",
    )
    fake.add_completed(
        "File taxes narwhal-2208", work, now - timedelta(days=3), {"date": "2026-04-15T16:00:00Z", "timezone": "UTC"}
    )
    fake.add_completed("Water the okapi ferns", garden, now - timedelta(days=4))
    stretch = fake.add_completed("Stretch pangolin-9001", inbox, now - timedelta(days=5))
    fake.add_completed("Stretch pangolin-9001", inbox, now - timedelta(days=6), task_id=stretch["id"])
    fake.add_completed("Archive receipts axolotl-6120", home, now - timedelta(days=100))
    fake.add_completed("Too old to read tamarin-4021", home, now - timedelta(days=130))
    fake.add_task("Buy a gift for the tapir-3344 party", home)


def titles(fake: FakeTodoist) -> set[str]:
    tasks = fake.completed_tasks + fake.tasks
    return {task["content"] for task in tasks} | {task["description"] for task in tasks if task["description"]}


def connect(client: TestClient) -> httpx.Response:
    """The person's round trip: oO -> Todoist (a real request to the stand-in) -> oO's callback."""
    start = client.get(CONNECT, follow_redirects=False)
    assert start.status_code == 303, start.text
    at_todoist = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_todoist.status_code == 302, at_todoist.text
    back = urlsplit(at_todoist.headers["location"])
    assert back.netloc == "testserver"
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)


def todoist_row(session: Session, user: User) -> Integration | None:
    session.expire_all()
    return session.exec(select(Integration).where(Integration.user_id == user.id)).first()


def todoist_completions(session: Session, user: User) -> list[TaskCompletion]:
    session.expire_all()
    query = select(TaskCompletion).where(
        TaskCompletion.user_id == user.id, TaskCompletion.source_key.startswith("todoist:")
    )
    return list(session.exec(query.order_by(TaskCompletion.completed_at)).all())


def dump(engine: Engine) -> str:
    """Every row of every table in the database, as text (reflected, so no table escapes)."""
    tables = sa.MetaData()
    lines = []
    with engine.connect() as connection:
        tables.reflect(bind=connection)
        for table in tables.sorted_tables:
            lines.extend(f"{table.name}: {tuple(row)!r}" for row in connection.execute(sa.select(table)))
        if engine.dialect.name == "sqlite":
            lines.extend(connection.connection.driver_connection.iterdump())
    return "\n".join(lines)


@pytest.fixture
def fake() -> Iterator[FakeTodoist]:
    with FakeTodoist(redirect_uri="https://testserver/integrations/todoist/callback") as fake:
        seed(fake, datetime.now(UTC))
        yield fake


@pytest.fixture
def todoist_settings(configure: Callable[..., None], fake: FakeTodoist) -> None:
    configure(
        OO_ENV="test",
        OO_APP_URL="https://testserver",
        OO_TOKEN_KEYS=json.dumps([KEY]),
        OO_TODOIST_CLIENT_ID=fake.client_id,
        OO_TODOIST_CLIENT_SECRET=fake.client_secret,
        OO_TODOIST_OAUTH_URL=fake.oauth_url,
        OO_TODOIST_API_URL=fake.api_url,
    )


@pytest.fixture
def client(todoist_settings: None, demo_user: User, session: Session) -> Iterator[TestClient]:
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        yield client


# --- connect ----------------------------------------------------------------------------------------------------


def test_connect_sends_the_person_to_todoist_with_a_state_and_the_read_only_scope(
    client: TestClient, fake: FakeTodoist
) -> None:
    response = client.get(CONNECT, follow_redirects=False)
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake.oauth_url}/authorize"
    assert query["client_id"] == [fake.client_id]
    assert query["scope"] == ["data:read"]
    assert query["redirect_uri"] == [fake.redirect_uri]
    assert len(query["state"][0]) >= 32
    assert query["state"][0] not in response.cookies[state_cookie()], "the cookie is signed, not the state"


def test_connecting_stores_the_tokens_encrypted(client: TestClient, fake: FakeTodoist, session: Session, demo_user):
    response = connect(client)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/settings?integration=todoist&status=connected"
    row = todoist_row(session, demo_user)
    issued = fake.issued[-1].access_token
    assert (row.provider, row.status, row.scopes) == ("todoist", "connected", "data:read")
    assert issued not in row.access_token_enc
    assert TokenVault([KEY]).decrypt(row.access_token_enc) == issued
    assert (row.refresh_token_enc, row.expires_at) == (None, None), "Todoist's tokens neither expire nor refresh"
    exchange = fake.requests_to("/oauth/access_token")[-1]
    assert (exchange.body["client_id"], exchange.body["client_secret"]) == (fake.client_id, fake.client_secret)


@pytest.mark.parametrize("tamper", ["forged state", "no state cookie"])
def test_a_callback_that_does_not_match_the_started_connection_stores_nothing(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User, tamper: str
) -> None:
    start = client.get(CONNECT, follow_redirects=False)
    back = urlsplit(httpx.get(start.headers["location"], follow_redirects=False).headers["location"])
    query = parse_qs(back.query)
    if tamper == "forged state":
        query["state"] = ["attacker-chosen-state"]
    else:
        client.cookies.delete(state_cookie(), path="/integrations/todoist")
    response = client.get(back.path, params={k: v[0] for k, v in query.items()}, follow_redirects=False)

    assert response.status_code == 400
    assert "start again from the settings page" in response.text
    assert todoist_row(session, demo_user) is None
    assert fake.requests_to("/oauth/access_token") == [], "the code was never traded"


def test_a_denied_authorization_stores_nothing(client: TestClient, fake: FakeTodoist, session, demo_user) -> None:
    fake.approve = False
    response = connect(client)
    assert response.status_code == 400
    assert "did not grant access (access_denied)" in response.text
    assert todoist_row(session, demo_user) is None


def test_a_replayed_code_is_refused_and_the_connection_unchanged(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    start = client.get(CONNECT, follow_redirects=False)
    first = urlsplit(httpx.get(start.headers["location"], follow_redirects=False).headers["location"])
    assert client.get(f"{first.path}?{first.query}", follow_redirects=False).status_code == 303
    stored = todoist_row(session, demo_user).access_token_enc

    again = client.get(CONNECT, follow_redirects=False)
    fresh_state = parse_qs(urlsplit(again.headers["location"]).query)["state"][0]
    old_code = parse_qs(first.query)["code"][0]
    replay = client.get(first.path, params={"code": old_code, "state": fresh_state}, follow_redirects=False)

    assert replay.status_code == 400
    assert "refused the authorization (invalid_grant)" in replay.text
    assert todoist_row(session, demo_user).access_token_enc == stored
    assert len(fake.issued) == 1


def test_the_stand_in_refuses_a_foreign_redirect_uri_and_an_unknown_client(fake: FakeTodoist) -> None:
    authorize = f"{fake.oauth_url}/authorize"
    common = {"client_id": fake.client_id, "scope": "data:read", "state": "s" * 32}
    foreign = httpx.get(authorize, params={**common, "redirect_uri": "https://evil.example/cb"})
    unknown = httpx.get(authorize, params={**common, "client_id": "someone-else"})
    assert (foreign.status_code, unknown.status_code) == (400, 400)
    assert "location" not in foreign.headers, "no redirect to a foreign URI"
    assert "location" not in unknown.headers


# --- sync -------------------------------------------------------------------------------------------------------


def test_connecting_backfills_completion_derivatives_and_no_titles(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    response = connect(client)

    assert response.status_code == 303, response.text
    rows = todoist_completions(session, demo_user)
    assert sorted(row.project for row in rows) == ["Home", "Inbox", "Inbox", "Old garden", "Work", "Work"], (
        "every completion of the last 90 days, the recurring one twice"
    )
    text = dump(db.get_engine())
    leaked = [title for title in titles(fake) if title in text]
    assert leaked == [], "no task title or description reaches the database"
    assert not any(task["id"] in text for task in fake.completed_tasks), "nor Todoist's task ids"
    assert fake.requests_to("/oauth/access_token")[1:] == [], "a token that does not expire is never refreshed"
    row = todoist_row(session, demo_user)
    assert (row.provider_user_id, row.consecutive_failures, row.last_error) == (fake.user_id, 0, None)
    assert row.last_synced_at is not None
    assert row.sync_token_enc is not None


def test_sync_keeps_when_tasks_were_due_in_the_persons_time(client: TestClient, fake, session, demo_user) -> None:
    connect(client)
    by_title = {task["content"]: datetime.fromisoformat(task["completed_at"]) for task in fake.completed_tasks[:3]}
    due = {row.completed_at: row.due_at for row in todoist_completions(session, demo_user)}
    passport = fake.completed_tasks[0]["due"]["date"]
    assert due[by_title["Renew passport zebra-7731"]] == datetime.combine(
        date.fromisoformat(passport), time(23, 59, 59), BERLIN
    ).astimezone(UTC)
    assert due[by_title["Call the plumber about the quokka leak"]] == datetime.fromisoformat(
        f"{passport}T09:00:00"
    ).replace(tzinfo=BERLIN).astimezone(UTC)
    assert due[by_title["File taxes narwhal-2208"]] == datetime(2026, 4, 15, 16, tzinfo=UTC)


def test_a_sync_reads_the_zone_the_person_has_now_not_the_one_it_began_with(
    todoist_settings: None, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    """A first run sets the person's zone while their backfill reads Todoist, in another session: the sync's copy of
    the person is from before, and the derivatives must still be read on their new clock."""
    issued = IssuedTokens(fake._issue("data:read").access_token, scope="data:read")
    save_connection(session, demo_user, todoist_provider(), issued)
    session.commit()
    with Session(session.get_bind()) as first_run:
        first_run.get(User, demo_user.id).tz = "Asia/Tokyo"
        first_run.commit()
    assert demo_user.tz == "Europe/Berlin", "the sync starts from a copy taken before the change"

    sync(session, demo_user)

    passport = fake.completed_tasks[0]
    (row,) = [r for r in todoist_completions(session, demo_user) if r.completed_at == as_utc(passport["completed_at"])]
    end_of_day_in_tokyo = datetime.combine(date.fromisoformat(passport["due"]["date"]), time(23, 59, 59), TOKYO)
    assert row.due_at == end_of_day_in_tokyo.astimezone(UTC)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        ({"date": "2026-11-20"}, datetime(2026, 11, 20, 22, 59, 59, tzinfo=UTC)),  # full day: local end of day
        ({"date": "2026-07-01"}, datetime(2026, 7, 1, 21, 59, 59, tzinfo=UTC)),  # the same in summer time
        ({"date": "2026-11-20T09:00:00", "timezone": None}, datetime(2026, 11, 20, 8, tzinfo=UTC)),  # floating
        ({"date": "2026-03-29T09:00:00"}, datetime(2026, 3, 29, 7, tzinfo=UTC)),  # floating, the DST day
        ({"date": "2026-11-20T09:00:00Z", "timezone": "America/New_York"}, datetime(2026, 11, 20, 9, tzinfo=UTC)),
        ({"date": "2026-11-20T09:00:00", "timezone": "UTC-05:00"}, datetime(2026, 11, 20, 14, tzinfo=UTC)),
        (None, None),
        ({"date": "next tuesday"}, None),
    ],
)
def test_due_dates_follow_todoists_three_forms(due: dict | None, expected: datetime | None) -> None:
    assert parse_due(due, BERLIN) == expected


@pytest.mark.parametrize(
    ("due", "day_in_tokyo"),
    [
        ({"date": "2026-11-20"}, date(2026, 11, 20)),  # a full day is that day on any clock
        ({"date": "2026-11-20T23:00:00"}, date(2026, 11, 20)),  # so is a floating time
        ({"date": "2026-11-20T23:00:00Z"}, date(2026, 11, 21)),  # a fixed moment falls on the day Tokyo reads it
        ({"date": "2026-11-20T23:00:00", "timezone": "Europe/Berlin"}, date(2026, 11, 21)),
    ],
)
def test_a_due_is_kept_as_todoist_states_it_and_read_on_the_clock_of_use(due: dict, day_in_tokyo: date) -> None:
    stated = todoist_due(due)
    assert stated is not None
    assert stated.day_on(TOKYO) == day_in_tokyo
    assert stated.moment_on(BERLIN) == parse_due(due, BERLIN)


def test_a_resync_is_idempotent(client: TestClient, session: Session, demo_user: User) -> None:
    connect(client)
    before = {row.id: row.source_key for row in todoist_completions(session, demo_user)}

    again = client.post(SYNC).json()

    assert len(before) == 6
    assert (again["kind"], again["added"], again["updated"]) == ("incremental", 0, 0)
    assert {row.id: row.source_key for row in todoist_completions(session, demo_user)} == before


def test_sync_now_on_the_settings_page_answers_before_the_agents_that_read_tasks_have_run(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CI failure: on a cold process focus-area first loads the embedder (18 s here, over 30 s on CI), and "sync
    now" kept the person waiting for it. The page now says what the sync found once the completions are stored; the
    agents that read tasks follow on a background thread and write their outputs there."""
    connect(client)
    released, computed_on = threading.Event(), []

    def held(session: Session, user: User, agent: Any, **kwargs: Any) -> Any:
        computed_on.append(threading.current_thread().name)
        assert released.wait(30), "the test never released the agents"
        return compute_output(session, user, agent, **kwargs)

    monkeypatch.setattr(recompute, "compute_output", held)
    now = datetime.now(UTC)
    fake.add_completed("Feed the quetzal-1207 cat", fake.projects[1], now - timedelta(minutes=2))
    fake.add_completed("Wash the gecko-3390 van", fake.projects[1], now - timedelta(minutes=1))

    assert _sync_now(session, demo_user) == "Synced: 2 new tasks done"
    newest = max(row.id for row in todoist_completions(session, demo_user))
    fresh = select(AgentOutput).where(
        AgentOutput.user_id == demo_user.id, col(AgentOutput.job_key).endswith(f"+tasks{newest}")
    )
    assert session.exec(fresh).all() == [], "nothing computed while the agents are held"

    released.set()
    assert recompute.drain(60)
    session.expire_all()
    assert {row.agent_id for row in session.exec(fresh).all()} >= {"focus-area", "momentum"}
    assert computed_on
    assert all(name.startswith("oo-task-agents") for name in computed_on), computed_on


def test_a_renamed_project_updates_the_stored_completions(client: TestClient, fake, session, demo_user) -> None:
    connect(client)
    fake.rename_project(fake.projects[1], "Job")

    report = client.post(SYNC).json()

    assert (report["added"], report["updated"]) == (0, 2)
    assert sorted(row.project for row in todoist_completions(session, demo_user)).count("Job") == 2


def test_the_backfill_reads_every_page_in_windows_todoist_accepts(client: TestClient, fake, session, demo_user):
    inbox = fake.projects[0]
    now = datetime.now(UTC)
    for minute in range(230):
        fake.add_completed(f"Inbox zero drill {minute}", inbox, now - timedelta(days=10, minutes=minute))

    connect(client)

    assert len(todoist_completions(session, demo_user)) == 6 + 230
    requests = fake.requests_to(COMPLETED)
    assert any("cursor" in seen.query for seen in requests), "the second page was asked for with the cursor"
    windows = sorted({(seen.query["since"], seen.query["until"]) for seen in requests})
    assert len(windows) == 2, "90 days in windows of at most three months"
    assert windows[0][1] == windows[1][0], "the windows touch"
    since = datetime.fromisoformat(windows[0][0])
    assert timedelta(days=89) < now - since <= timedelta(days=90, minutes=1), "the backfill reaches 90 days back"
    assert all(seen.headers["Authorization"].startswith("Bearer ") for seen in fake.seen if "/api/v1/" in seen.path)


def test_sync_without_a_connection_is_a_clear_error(client: TestClient) -> None:
    response = client.post(SYNC)
    assert response.status_code == 409
    assert "connect it from the settings page" in response.json()["error"]


def test_a_token_revoked_mid_backfill_marks_reauth_needed_and_writes_nothing(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    fake.revoke_after_requests = 3  # the full sync and the first window's page, then the person revokes oO

    assert connect(client).status_code == 303, "the connection itself stands"

    assert todoist_completions(session, demo_user) == [], "nothing half-written"
    row = todoist_row(session, demo_user)
    assert row.status == "reauth_needed"
    assert "reconnect" in row.last_error
    asked = fake.api_requests
    response = client.post(SYNC)
    assert response.status_code == 409
    assert "reconnect Todoist" in response.json()["error"]
    assert fake.api_requests == asked, "a known dead token is not tried again"


def test_writes_need_the_csrf_proof(client: TestClient) -> None:
    del client.headers[CSRF_HEADER]
    assert client.post(SYNC).status_code == 403
    assert client.post(DISCONNECT).status_code == 403


def test_cli_sync_prints_the_report(client: TestClient, fake: FakeTodoist, session: Session, demo_user: User) -> None:
    connect(client)
    fake.add_completed("Sweep the yak-5521 barn", fake.projects[2], datetime.now(UTC) - timedelta(minutes=1))
    result = CliRunner().invoke(integrations, ["sync", "--user", demo_user.email])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 1


# --- disconnect and revocation ----------------------------------------------------------------------------------


def test_disconnect_revokes_at_todoist_and_forgets_the_tokens(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    token = fake.issued[-1].access_token

    response = client.post(DISCONNECT)

    assert response.status_code == 200, response.text
    assert response.json() == {"provider": "todoist", "status": "disconnected", "revocation": "revoked", "error": None}
    revocation = fake.requests_to("/api/v1/revoke")[-1]
    basic = base64.b64encode(f"{fake.client_id}:{fake.client_secret}".encode()).decode()
    assert revocation.headers["Authorization"] == f"Basic {basic}"
    assert (revocation.body["token"], revocation.body["token_type_hint"]) == (token, "access_token")
    assert not fake.is_valid(token)
    row = todoist_row(session, demo_user)
    assert (row.status, row.access_token_enc, row.refresh_token_enc) == ("disconnected", None, None)


def test_disconnect_forgets_the_tokens_even_when_todoist_fails(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    fake.revocation_status = 503

    body = client.post(DISCONNECT).json()

    assert (body["status"], body["revocation"]) == ("disconnected", "failed")
    assert "HTTP 503" in body["error"]
    assert todoist_row(session, demo_user).access_token_enc is None


def test_revoke_all_revokes_and_forgets_every_integration(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    from oo_app.integrations.revocation import revoke_all

    connect(client)
    other = Integration(user_id=demo_user.id, provider="calendar", scopes="read")
    store_tokens(other, "calendar-token-51fd", None, None, TokenVault([KEY]))
    session.add(other)
    session.commit()

    results = revoke_all(session, demo_user)
    session.commit()

    assert {(r.provider, r.revocation) for r in results} == {("todoist", "revoked"), ("calendar", "failed")}
    assert "no OAuth client for 'calendar'" in next(r.error for r in results if r.provider == "calendar")
    assert not fake.is_valid(fake.issued[-1].access_token)
    session.expire_all()
    rows = session.exec(select(Integration).where(Integration.user_id == demo_user.id)).all()
    assert {(row.access_token_enc, row.status) for row in rows} == {(None, "disconnected")}


# --- refresh (a generic provider: Todoist's own tokens never expire) ---------------------------------------------


def expire(session: Session, user: User) -> None:
    row = todoist_row(session, user)
    row.expires_at = datetime.now(UTC) - timedelta(minutes=5)
    session.add(row)
    session.commit()


def test_an_expired_token_is_refreshed_and_the_new_one_stored_encrypted(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    fake.token_lifetime_s = 3600
    connect(client)
    assert todoist_row(session, demo_user).expires_at is not None
    old = fake.issued[-1]
    expire(session, demo_user)

    response = client.post(SYNC)

    assert response.status_code == 200, response.text
    refresh = fake.requests_to("/oauth/access_token")[-1]
    assert (refresh.body["grant_type"], refresh.body["refresh_token"]) == ("refresh_token", old.refresh_token)
    new = fake.issued[-1]
    row = todoist_row(session, demo_user)
    vault = TokenVault([KEY])
    assert vault.decrypt(row.access_token_enc) == new.access_token != old.access_token
    assert vault.decrypt(row.refresh_token_enc) == new.refresh_token
    assert row.expires_at > datetime.now(UTC)


def test_a_refused_refresh_marks_reauth_needed(client: TestClient, fake, session: Session, demo_user: User) -> None:
    fake.token_lifetime_s = 3600
    connect(client)
    expire(session, demo_user)
    fake.revoke_all_tokens()

    response = client.post(SYNC)

    assert response.status_code == 409
    assert "refused to renew oO's access (invalid_grant)" in response.json()["error"]
    assert todoist_row(session, demo_user).status == "reauth_needed"


# --- the dump ---------------------------------------------------------------------------------------------------


def test_a_database_dump_shows_no_token_in_clear(
    todoist_settings: None, any_database: Session, fake: FakeTodoist
) -> None:
    fake.token_lifetime_s = 3600  # so that refresh tokens exist too
    person = seed_demo(any_database, "demo@example.com", now=NOW)
    any_database.commit()
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, any_database, person)
        connect(client)
        expire(any_database, person)
        assert client.post(SYNC).status_code == 200

    text = dump(db.get_engine())

    secrets = [t.access_token for t in fake.issued] + [t.refresh_token for t in fake.issued]
    assert len(secrets) == 4, "an access and a refresh token, before and after the refresh"
    assert [secret for secret in secrets if secret in text] == []
    assert [title for title in titles(fake) if title in text] == []
    row = todoist_row(any_database, person)
    assert row.access_token_enc in text, "the dump does hold the integration, encrypted"
    assert row.refresh_token_enc in text
