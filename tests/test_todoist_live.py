"""Todoist, live: incremental sync with the Sync API's token, backoff, refresh, reauth, the schedule's rounds, the
agents that read tasks computed afresh, and the signed webhook, against the stand-in in ``tests/fakes/todoist.py``.

No test sleeps: the schedule's clock is the ``now`` handed to a round.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from agents.registry import registry
from oo_app.integrations import jobs
from oo_app.integrations.schedule import MAX_BACKOFF
from oo_app.integrations.webhook import signature
from oo_app.models import AgentOutput, User, WebhookDelivery
from oo_app.profile.consents import revoke_consent
from tests import test_todoist
from tests.fakes.todoist import FakeTodoist
from tests.test_todoist import COMPLETED, SYNC, connect, todoist_completions, todoist_row

# The stand-in, its settings and a signed-in client: the fixtures of tests/test_todoist.py.
fake, todoist_settings, client = test_todoist.fake, test_todoist.todoist_settings, test_todoist.client

SYNC_API = "/api/v1/sync"
WEBHOOK = "/api/integrations/todoist/webhook"
INTERVAL = timedelta(seconds=300)  # OO_TODOIST_SYNC_INTERVAL_S's default
TASK_AGENTS = sorted(agent.manifest.id for agent in registry().values() if "tasks" in agent.manifest.consents)


def done_now(fake: FakeTodoist, title: str = "Mend the wombat-8812 fence", minutes_ago: int = 1) -> dict:
    return fake.add_completed(title, fake.projects[2], datetime.now(UTC) - timedelta(minutes=minutes_ago))


def next_round(session: Session, user: User) -> datetime:
    """The instant the person's next attempt comes (what a round at that time finds due)."""
    return todoist_row(session, user).next_attempt_at


# --- incremental sync -------------------------------------------------------------------------------------------


def test_an_incremental_sync_reads_only_what_changed_since_its_token(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    backfill_token = fake.requests_to(SYNC_API)[-1]
    assert backfill_token.body["sync_token"] == "*", "the backfill starts with a full sync"
    stored = len(todoist_completions(session, demo_user))
    last_synced = todoist_row(session, demo_user).last_synced_at
    done_now(fake)

    report = client.post(SYNC).json()

    assert (report["kind"], report["added"]) == ("incremental", 1)
    assert len(todoist_completions(session, demo_user)) == stored + 1
    incremental = fake.requests_to(SYNC_API)[-1]
    assert incremental.body["sync_token"] not in ("*", ""), "the stored token is sent back"
    window = fake.requests_to(COMPLETED)[-1].query
    since = datetime.fromisoformat(window["since"])
    assert last_synced - timedelta(minutes=11) <= since <= last_synced, "completions since the last sync, not 90 days"


def test_nothing_changed_means_one_request_and_nothing_written(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    asked = fake.api_requests

    report = client.post(SYNC).json()

    assert (report["added"], report["since"]) == (0, None)
    assert fake.api_requests == asked + 1, "only the Sync API was asked"


def test_a_refused_sync_token_reads_the_window_again(client: TestClient, fake, session, demo_user) -> None:
    connect(client)
    done_now(fake)
    fake.forget_sync_tokens()

    report = client.post(SYNC).json()

    assert (report["kind"], report["added"]) == ("backfill", 1)
    assert fake.requests_to(SYNC_API)[-1].body["sync_token"] == "*"


# --- the schedule: rounds, backoff, refresh, reauth -------------------------------------------------------------


def test_a_round_syncs_a_person_only_when_their_next_attempt_has_come(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    due_at = next_round(session, demo_user)
    done_now(fake)

    assert jobs.sync_due(now=due_at - timedelta(seconds=1)) == 0
    assert len(todoist_completions(session, demo_user)) == 6, "not yet"
    assert jobs.sync_due(now=due_at) == 1
    assert len(todoist_completions(session, demo_user)) == 7
    assert next_round(session, demo_user) == due_at + INTERVAL


def test_a_429_waits_as_long_as_todoist_asked_then_succeeds(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    first = next_round(session, demo_user)
    fake.fail_next(429, retry_after=120)

    assert jobs.sync_due(now=first) == 0
    row = todoist_row(session, demo_user)
    assert (row.status, row.consecutive_failures, row.next_attempt_at) == (
        "connected",
        1,
        first + timedelta(seconds=120),
    )
    assert "slow down" in row.last_error
    asked = fake.api_requests
    assert jobs.sync_due(now=first + timedelta(seconds=119)) == 0
    assert fake.api_requests == asked, "Todoist is not asked before its Retry-After"

    assert jobs.sync_due(now=first + timedelta(seconds=120)) == 1
    row = todoist_row(session, demo_user)
    assert (row.consecutive_failures, row.last_error) == (0, None)
    assert row.last_synced_at == first + timedelta(seconds=120)


def test_5xx_backs_off_exponentially(client: TestClient, fake: FakeTodoist, session: Session, demo_user) -> None:
    connect(client)
    fake.fail_next(503, times=4)
    at, waits = next_round(session, demo_user), []
    for _ in range(4):
        assert jobs.sync_due(now=at) == 0
        following = next_round(session, demo_user)
        waits.append(following - at)
        at = following

    for failures, wait in enumerate(waits, start=1):
        full = timedelta(minutes=2 ** (failures - 1))
        assert full / 2 <= wait <= full, f"failure {failures}: waited {wait}, expected within half of {full}"
    assert todoist_row(session, demo_user).consecutive_failures == 4
    assert "HTTP 503" in todoist_row(session, demo_user).last_error
    assert jobs.sync_due(now=at) == 1, "Todoist answers again: the sync goes through"
    assert todoist_row(session, demo_user).consecutive_failures == 0
    assert timedelta(hours=6) == MAX_BACKOFF


def test_a_401_refreshes_the_token_once_then_succeeds(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    fake.token_lifetime_s = 3600  # a generic provider with refresh tokens: Todoist's own never expire
    connect(client)
    refreshes = len(fake.requests_to("/oauth/access_token"))
    fake.expire_access_tokens()  # Todoist ends the token before the expiry oO stored
    done_now(fake)

    response = client.post(SYNC)

    assert response.status_code == 200, response.text
    assert response.json()["added"] == 1
    refresh = fake.requests_to("/oauth/access_token")[refreshes:]
    assert [seen.body["grant_type"] for seen in refresh] == ["refresh_token"], "exactly one refresh"
    assert todoist_row(session, demo_user).status == "connected"


@pytest.mark.parametrize("revocation", ["403", "401 without a refresh token", "401 and a refused refresh"])
def test_a_revoked_token_marks_reauth_needed_and_stops_syncing_until_reconnected(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User, revocation: str
) -> None:
    if revocation == "401 and a refused refresh":
        fake.token_lifetime_s = 3600
    connect(client)
    if revocation == "403":
        fake.fail_next(403)
    else:
        fake.revoke_all_tokens()

    assert jobs.sync_due(now=next_round(session, demo_user)) == 0

    row = todoist_row(session, demo_user)
    assert (row.status, row.next_attempt_at) == ("reauth_needed", None)
    assert "reconnect" in row.last_error
    asked = fake.api_requests
    assert jobs.sync_due(now=datetime.now(UTC) + timedelta(days=1)) == 0
    assert fake.api_requests == asked, "no round tries a revoked token"

    done_now(fake)
    assert connect(client).status_code == 303, "reconnecting"
    row = todoist_row(session, demo_user)
    assert (row.status, row.last_error) == ("connected", None)
    assert len(todoist_completions(session, demo_user)) == 7, "and the backfill ran again"


# --- the agents that read tasks ---------------------------------------------------------------------------------


def outputs_by_agent(session: Session, user: User) -> dict[str, int]:
    session.expire_all()
    rows = session.exec(
        select(AgentOutput.agent_id, func.count()).where(AgentOutput.user_id == user.id).group_by(AgentOutput.agent_id)
    ).all()
    return dict(rows)


def test_new_completions_compute_the_task_agents_afresh(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    before = outputs_by_agent(session, demo_user)
    done_now(fake)

    report = client.post(SYNC).json()

    assert sorted(report["recomputed"]) == TASK_AGENTS
    after = outputs_by_agent(session, demo_user)
    assert {agent for agent in after if after[agent] > before.get(agent, 0)} == set(TASK_AGENTS), (
        "one new output per agent that reads tasks, none for the others"
    )
    newest = session.exec(
        select(AgentOutput).where(AgentOutput.user_id == demo_user.id).order_by(col(AgentOutput.id).desc())
    ).first()
    assert newest.computed_at == datetime.fromisoformat(report["until"])
    again = client.post(SYNC).json()
    assert again["recomputed"] == [], "no new completion, no recompute"


def test_an_agent_without_its_consent_is_not_recomputed(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    revoke_consent(session, demo_user, "tasks")
    session.commit()
    before = outputs_by_agent(session, demo_user)
    done_now(fake)

    report = client.post(SYNC).json()

    assert (report["added"], report["recomputed"]) == (1, [])
    assert outputs_by_agent(session, demo_user) == before


# --- webhooks ---------------------------------------------------------------------------------------------------


@pytest.fixture
def webhooks(configure: Callable[..., None], todoist_settings: None) -> None:
    configure(OO_TODOIST_WEBHOOKS="true")


def deliveries(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(WebhookDelivery)).one()


def test_a_signed_webhook_stores_the_completion_at_once(
    webhooks: None, client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    task = done_now(fake)
    body, headers = fake.webhook_delivery("item:completed", task)

    response = client.post(WEBHOOK, content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert len(todoist_completions(session, demo_user)) == 7, "the person's sync ran after the answer"
    assert deliveries(session) == 1


def test_a_replayed_webhook_writes_nothing(
    webhooks: None, client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    body, headers = fake.webhook_delivery("item:completed", done_now(fake))
    assert client.post(WEBHOOK, content=body, headers=headers).status_code == 200
    done_now(fake, "Oil the ibex-4410 hinge")
    asked = fake.api_requests

    replay = client.post(WEBHOOK, content=body, headers=headers)

    assert replay.status_code == 200
    assert fake.api_requests == asked, "a replay triggers no sync"
    assert len(todoist_completions(session, demo_user)) == 7
    assert deliveries(session) == 1


@pytest.mark.parametrize(("tamper", "status"), [("bad signature", 401), ("no signature", 401), ("not JSON", 400)])
def test_a_webhook_that_is_not_todoists_is_refused(
    webhooks: None, client: TestClient, fake: FakeTodoist, session: Session, demo_user: User, tamper: str, status: int
) -> None:
    connect(client)
    body, headers = fake.webhook_delivery("item:completed", done_now(fake))
    if tamper == "bad signature":
        body, headers = fake.webhook_delivery("item:completed", fake.completed_tasks[-1], secret="not-the-secret")
    elif tamper == "no signature":
        del headers["X-Todoist-Hmac-SHA256"]
    else:
        body = b"{not json"
        headers["X-Todoist-Hmac-SHA256"] = signature(body, fake.client_secret)  # signed, yet not Todoist's shape

    response = client.post(WEBHOOK, content=body, headers=headers)

    assert response.status_code == status, response.text
    assert len(todoist_completions(session, demo_user)) == 6, "nothing stored"
    assert deliveries(session) == 0


def test_a_webhook_for_someone_unknown_is_answered_and_writes_nothing(
    webhooks: None, client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    connect(client)
    fake.user_id = "9999999"  # a Todoist user no one connected to oO
    body, headers = fake.webhook_delivery("item:completed", done_now(fake))

    response = client.post(WEBHOOK, content=body, headers=headers)

    assert response.status_code == 200
    assert deliveries(session) == 0
    assert len(todoist_completions(session, demo_user)) == 6


def test_webhooks_are_off_unless_configured(client: TestClient, fake: FakeTodoist) -> None:
    body, headers = fake.webhook_delivery("item:completed", {})
    assert client.post(WEBHOOK, content=body, headers=headers).status_code == 404


# --- how the settings page words it -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "not synced yet"),
        (20, "last synced just now"),
        (60, "last synced 1 minute ago"),
        (5 * 60 + 30, "last synced 5 minutes ago"),
        (3 * 3600, "last synced 3 hours ago"),
        (30 * 3600, "last synced yesterday"),
        (3 * 86400, "last synced 3 days ago"),
    ],
)
def test_the_last_sync_is_said_in_plain_words(seconds: int | None, words: str) -> None:
    from oo_app.state.settings import ago

    now = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert ago(None if seconds is None else now - timedelta(seconds=seconds), now) == words


def test_the_settings_row_offers_reconnect_in_words_when_todoist_refuses(
    client: TestClient, fake: FakeTodoist, session: Session, demo_user: User
) -> None:
    from oo_app.profile.overview import integration_states
    from oo_app.state.settings import _integration_row

    connect(client)
    (connected,) = integration_states(session, demo_user)
    row = _integration_row(connected, datetime.now(UTC))
    assert (row.status_text, row.synced, row.problem, row.reauth) == ("connected", "last synced just now", "", False)

    fake.fail_next(403)
    assert client.post(SYNC).status_code == 409
    session.expire_all()
    (refused,) = integration_states(session, demo_user)
    row = _integration_row(refused, datetime.now(UTC))
    assert (row.status_text, row.synced, row.reauth) == ("needs reconnecting", "", True)
    assert row.problem == "oO can no longer read your Todoist. Reconnect it to pick up where it left off."
    assert "HTTP" not in row.problem, "no status code or parameter on the page"


def test_rounds_and_webhooks_hold_on_both_databases(
    todoist_settings: None, configure: Callable[..., None], any_database: Session, fake: FakeTodoist
) -> None:
    from oo_app.api import api
    from oo_app.demo import seed_demo
    from tests.auth_helpers import sign_in
    from tests.conftest import NOW

    configure(OO_TODOIST_WEBHOOKS="true")
    person = seed_demo(any_database, "demo@example.com", now=NOW)
    any_database.commit()
    with TestClient(api, base_url="https://testserver", raise_server_exceptions=False) as client:
        sign_in(client, any_database, person)
        connect(client)
        backfilled = len(todoist_completions(any_database, person))
        body, headers = fake.webhook_delivery("item:completed", done_now(fake))
        assert client.post(WEBHOOK, content=body, headers=headers).status_code == 200
        assert client.post(WEBHOOK, content=body, headers=headers).status_code == 200, "a replay is answered"

    assert len(todoist_completions(any_database, person)) == backfilled + 1
    assert deliveries(any_database) == 1
    done_now(fake, "Tune the kudu-7002 banjo")
    due_at = next_round(any_database, person)
    assert jobs.sync_due(now=due_at) == 1
    assert jobs.sync_due(now=due_at) == 0, "claimed and synced: not due again within the same instant"
    assert len(todoist_completions(any_database, person)) == backfilled + 2
