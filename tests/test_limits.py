"""Limits on what costs: a person's requests write at most their bucket's worth of tips, whatever they send.

POST /api/recommend repeated within the window answers the same tip; past the bucket it answers 429 with Retry-After,
having written nothing. The page keeps its tip (or rests) and never loses a reaction; tips written ahead and shadows
are skipped past the limit. The bucket is one per person across processes when Redis is configured.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from redis import Redis, RedisError
from sqlmodel import Session, func, select

from oo_app.api import api
from oo_app.models import Event, Tip, User
from oo_app.recommender import limits, mark_shown, prefetch, recommend, shadow
from oo_app.recommender.limits import TipBuckets
from oo_app.recommender.policies import add_candidate
from oo_app.recommender.prompts import CURRENT_VERSION
from oo_app.settings import get_settings
from oo_app.state.tip import RESTING, _react_and_next, _show_current
from tests.auth_helpers import session_cookies, sign_in
from tests.conftest import service_missing

REDIS_URL = "redis://127.0.0.1:6379/0"
CALLS = 30


def _tips(session: Session, user: User, **where: object) -> list[Tip]:
    session.expire_all()
    query = select(Tip).where(Tip.user_id == user.id, *(getattr(Tip, key) == value for key, value in where.items()))
    return list(session.exec(query.order_by(Tip.id)))


@pytest.fixture
def client(demo_user: User, session: Session) -> Iterator[TestClient]:
    with TestClient(api, raise_server_exceptions=False) as client:
        sign_in(client, session, demo_user)
        yield client


@pytest.fixture
def redis_client() -> Iterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except RedisError as error:
        service_missing(f"Redis at {REDIS_URL} does not answer: {error}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: Redis) -> Iterator[str]:
    """A key prefix of this test's own, its keys deleted afterwards."""
    name = f"oo:test:tip-bucket:{uuid.uuid4().hex}"
    yield name
    for key in redis_client.scan_iter(f"{name}:*"):
        redis_client.delete(key)


# --- POST /api/recommend --------------------------------------------------------------------------------------------


def test_thirty_requests_in_a_row_answer_one_tip(client: TestClient, session: Session, demo_user: User) -> None:
    answers = [client.post("/api/recommend") for _ in range(CALLS)]

    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.json()["tip"]["id"] for answer in answers}) == 1, "a repeated request answers the same tip"
    assert len(_tips(session, demo_user)) == 1, f"{CALLS} requests in a row wrote one tip"


def test_past_the_bucket_the_api_answers_429_with_retry_after_and_writes_nothing(
    client: TestClient, session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_TIP_REPEAT_WINDOW_S="0", OO_TIP_BURST="5", OO_TIP_RATE_PER_MINUTE="1")
    answers = [client.post("/api/recommend") for _ in range(CALLS)]

    written = [answer for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert (len(written), len(refused)) == (5, CALLS - 5), [answer.status_code for answer in answers]
    assert len(_tips(session, demo_user)) == 5, f"{CALLS} requests wrote the bucket's 5 tips"
    assert all(int(answer.headers["Retry-After"]) >= 1 for answer in refused)
    assert all("tips in a row" in answer.json()["error"] for answer in refused)


def test_a_reaction_past_the_bucket_is_a_429_that_records_nothing(
    client: TestClient, session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_TIP_BURST="2", OO_TIP_RATE_PER_MINUTE="1")
    first = client.post("/api/recommend").json()["tip"]
    second = client.post(f"/api/tips/{first['id']}/reaction", json={"reaction": "done"}).json()["next"]

    refused = client.post(f"/api/tips/{second['id']}/reaction", json={"reaction": "done"})

    assert refused.status_code == 429, refused.text
    assert "Retry-After" in refused.headers
    assert session.get(Tip, second["id"]).reaction is None, "send it again later: nothing was recorded"
    answers = [event for event in session.exec(select(Event)) if event.payload.get("tip_id") == second["id"]]
    assert [event.type for event in answers] == ["tip_shown"]


def test_a_person_reading_their_tips_is_not_limited(
    client: TestClient, session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    """The defaults let a person answer a dozen tips in a row, each with its successor written ahead."""
    configure(OO_PREPARE_NEXT_TIP="true")
    tip = client.post("/api/recommend").json()["tip"]
    for _ in range(get_settings().tip_burst // 2):
        assert prefetch.drain(timeout=60)
        answer = client.post(f"/api/tips/{tip['id']}/reaction", json={"reaction": "dismissed"})
        assert answer.status_code == 200, answer.text
        tip = answer.json()["next"]


# --- the shared bucket ---------------------------------------------------------------------------------------------


def test_two_processes_draw_from_one_bucket_in_redis(redis_client: Redis, prefix: str) -> None:
    one = TipBuckets(1, 4, prefix, Redis.from_url(REDIS_URL))
    other = TipBuckets(1, 4, prefix, Redis.from_url(REDIS_URL))

    taken = [bucket.take(7) == 0.0 for bucket in (one, other, one, other, one, other)]

    assert taken == [True, True, True, True, False, False], "four tokens in all, whichever process asks"
    assert 0 < redis_client.pttl(f"{prefix}:7") <= 8 * 60_000, "an idle bucket expires by itself"
    assert one.take(8) == 0.0, "each person has a bucket of their own"


def test_a_refusal_takes_nothing(redis_client: Redis, prefix: str) -> None:
    buckets = TipBuckets(600, 1, prefix, redis_client)  # a token every 100 ms
    assert buckets.take(1) == 0.0
    waits = [buckets.take(1) for _ in range(20)]
    assert all(0 < wait <= 0.1 for wait in waits), waits
    time.sleep(0.12)
    assert buckets.take(1) == 0.0, "the refused requests did not push the next token back"


def test_without_redis_answering_each_process_limits_on_its_own(caplog: pytest.LogCaptureFixture) -> None:
    down = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    buckets = TipBuckets(1, 2, "oo:test:tip-bucket:down", down)
    with caplog.at_level(logging.WARNING, logger=limits.__name__):
        taken = [buckets.take(1) == 0.0 for _ in range(3)]
    assert taken == [True, True, False]
    assert "limits on its own" in caplog.text


def test_the_api_draws_from_the_bucket_other_processes_share(
    client: TestClient, demo_user: User, configure: Callable[..., None], redis_client: Redis
) -> None:
    configure(OO_REDIS_URL=REDIS_URL, OO_TIP_REPEAT_WINDOW_S="0", OO_TIP_BURST="3", OO_TIP_RATE_PER_MINUTE="1")
    another_process = TipBuckets.configured(get_settings())
    try:
        assert [another_process.take(demo_user.id) for _ in range(3)] == [0.0] * 3

        answer = client.post("/api/recommend")

        assert answer.status_code == 429, "the other process spent this person's bucket"
    finally:
        redis_client.delete(f"{another_process.prefix}:{demo_user.id}")


# --- background work ------------------------------------------------------------------------------------------------


def test_no_tip_is_written_ahead_past_the_limit(
    client: TestClient,
    session: Session,
    demo_user: User,
    configure: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(OO_PREPARE_NEXT_TIP="true", OO_TIP_BURST="1", OO_TIP_RATE_PER_MINUTE="1")
    with caplog.at_level(logging.INFO, logger=prefetch.__name__):
        shown = client.post("/api/recommend").json()["tip"]
        assert prefetch.drain(timeout=60)

    assert prefetch.waiting_successor(session, shown["id"]) is None
    assert len(_tips(session, demo_user)) == 1
    assert "past its person's tip limit" in caplog.text


def test_no_shadow_is_written_past_the_limit(
    client: TestClient,
    session: Session,
    demo_user: User,
    configure: Callable[..., None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    add_candidate(session, "twin-v1", CURRENT_VERSION, "tip-generator")
    session.commit()
    configure(OO_TIP_BURST="1", OO_TIP_RATE_PER_MINUTE="1")
    with caplog.at_level(logging.INFO, logger=shadow.__name__):
        assert client.post("/api/recommend").status_code == 200
        assert shadow.drain(timeout=60)

    assert _tips(session, demo_user, shadow=True) == []
    assert "past their tip limit" in caplog.text


# --- the page -------------------------------------------------------------------------------------------------------


def test_the_page_past_the_limit_keeps_the_reaction_and_rests(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_TIP_BURST="2", OO_TIP_RATE_PER_MINUTE="1")
    cookies = session_cookies(session, demo_user)
    shown = _show_current(cookies)
    following = _react_and_next(cookies, shown.id, "done")

    resting = _react_and_next(cookies, following.id, "done")

    assert resting is None, f"the page says {RESTING!r} instead of a tip"
    assert session.get(Tip, following.id).reaction == "done", "the reaction stands"
    assert len(_tips(session, demo_user)) == 2


def test_the_page_past_the_limit_shows_the_unanswered_tip(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_TIP_BURST="1", OO_TIP_RATE_PER_MINUTE="1")
    stale = mark_shown(session, recommend(session, demo_user, datetime.now(UTC) - timedelta(hours=2)))
    session.commit()
    limits.admit(demo_user.id)  # the person's only token, spent elsewhere

    view = _show_current(session_cookies(session, demo_user))

    assert view is not None
    assert view.id == stale.id, "past the limit, the tip on hand rather than a new one"
    assert session.exec(select(func.count()).select_from(Tip)).one() == 1
