"""Circuit breaking in the alias layer (issue 19): a model server that is down, or slower than ``OO_LLM_TIMEOUT_S``,
or answering 5xx, is left alone for ``OO_LLM_COOLDOWN_S`` (the composer writes meanwhile, without a single request to
the server), then one call probes it and the model writes again; /health reports each breaker. The app's real Router
and recommender on a migrated SQLite database, the Ollama stand-in on loopback (tests/fakes/ollama.py), and the
machine's Redis for the breaker shared by two processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from sqlmodel import Session

from oo_app.health import health_report
from oo_app.llm.aliases import COMPOSER_MODEL, TIP_GENERATOR
from oo_app.llm.breaker import CLOSED, HALF_OPEN, KEY_PREFIX, OPEN, deployment_id
from oo_app.llm.router import get_router
from oo_app.models import User
from oo_app.recommender import recommend
from oo_app.recommender.orchestrator import freshest_outputs
from oo_app.settings import ROOT, get_settings
from tests.conftest import NOW, service_missing
from tests.fakes.ollama import PinnedOllama, Reply
from tests.test_llm_production import COMPOSE_OLLAMA, GROUNDED, TIP_MODEL, documented_aliases

REDIS_URL = os.environ.get("OO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MODEL = f"ollama_chat/{TIP_MODEL}"
TIMEOUT_S = 1.0
COOLDOWN_S = 1.0  # short, so the tests of recovery wait little; they poll for the state, never time it
LONG_COOLDOWN_S = 600.0  # for the tests in which the breaker must stay open throughout
WAIT_S = 30.0
# A call of the alias as the orchestrator makes it, with facts the composer writes from when it falls back.
ASK = {
    "model": TIP_GENERATOR,
    "messages": [{"role": "user", "content": "Facts: none."}],
    "metadata": {"oo_facts": {"signals": [], "recent_tips": []}},
}


def wait_until(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        assert time.monotonic() < deadline, f"{what} did not happen within {WAIT_S:.0f} s"
        time.sleep(0.05)


@pytest.fixture
def ollama() -> Iterator[PinnedOllama]:
    """The stand-in on its own pinned port (a new deployment id, so no breaker of another test), a good tip ready."""
    with PinnedOllama() as server:
        server.reset(Reply(content=json.dumps(GROUNDED)))
        yield server
        if not server.running:
            server.start()  # so that the context manager stops it cleanly


@pytest.fixture
def on_ollama(configure: Callable[..., None], ollama: PinnedOllama) -> Callable[..., dict]:
    """``on_ollama(cooldown_s, **env)``: the app configured as .env.example documents for Ollama, at the stand-in."""

    def apply(cooldown_s: float = LONG_COOLDOWN_S, **env: str) -> dict:
        aliases = documented_aliases("ollama_chat/", COMPOSE_OLLAMA, ollama.base_url)
        configure(
            OO_LLM_ALIASES=json.dumps(aliases),
            OO_LLM_TIMEOUT_S=str(TIMEOUT_S),
            OO_LLM_RETRIES="1",
            OO_LLM_COOLDOWN_S=str(cooldown_s),
            **env,
        )
        return aliases

    return apply


def tip_breaker() -> dict:
    """The tip-generator's breaker as GET /health reports it (the llm check), and the overall status."""
    report = health_report(get_settings())
    check = report["checks"]["llm"]
    return {"status": check["status"], "overall": report["status"], **check["breakers"][TIP_GENERATOR][MODEL]}


def test_a_refused_server_is_left_alone_until_its_cooldown_ends(
    session: Session, demo_user: User, ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama()
    freshest_outputs(session, demo_user, NOW)
    ollama.stop()  # down: connections refused

    first = recommend(session, demo_user, NOW)
    breaker = tip_breaker()
    ollama.start()  # back on the same address: a request from here on would be seen
    second = recommend(session, demo_user, NOW)

    assert (first.model, second.model) == (COMPOSER_MODEL, COMPOSER_MODEL)
    assert ollama.seen == [], "the second tip went to the composer without a request to the model server"
    assert (breaker["state"], breaker["failure"]) == (OPEN, "APIConnectionError (500)"), breaker
    assert 0 < breaker["open_for_s"] <= LONG_COOLDOWN_S
    assert (breaker["status"], breaker["overall"]) == ("degraded", "degraded"), "an open breaker degrades /health"


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (Reply(content=json.dumps(GROUNDED), delay_s=TIMEOUT_S * 30), "Timeout (408)"),
        (Reply(status=500, error="llama runner process has terminated"), "InternalServerError (500)"),
    ],
    ids=["slower-than-the-timeout", "http-500"],
)
def test_a_slow_or_failing_server_opens_the_breaker_at_its_first_failure(
    session: Session,
    demo_user: User,
    ollama: PinnedOllama,
    on_ollama: Callable[..., dict],
    reply: Reply,
    failure: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    on_ollama()
    freshest_outputs(session, demo_user, NOW)
    ollama.reset(reply)
    router = get_router()
    backoffs: list[float] = []

    def back_off(*args: object, **kwargs: object) -> float:  # the Router's own, recorded: called before each retry
        backoffs.append(seconds := type(router)._time_to_sleep_before_retry(router, *args, **kwargs))
        return seconds

    monkeypatch.setattr(router, "_time_to_sleep_before_retry", back_off)

    first = recommend(session, demo_user, NOW)
    asked = len(ollama.requests_to("/api/chat"))
    second = recommend(session, demo_user, NOW)

    assert (first.model, second.model) == (COMPOSER_MODEL, COMPOSER_MODEL)
    assert asked == 1, "one request: the breaker opened at the first failure"
    assert backoffs == [], "the Router saw no healthy deployment left: no retry, no back-off, the fallback at once"
    assert len(ollama.requests_to("/api/chat")) == 1, "the second tip did not ask the model server"
    breaker = tip_breaker()
    assert (breaker["state"], breaker["failure"]) == (OPEN, failure), breaker


def test_a_server_that_answers_an_error_of_its_own_keeps_its_breaker_closed(
    session: Session,
    demo_user: User,
    configure: Callable[..., None],
    ollama: PinnedOllama,
    on_ollama: Callable[..., dict],
) -> None:
    aliases = on_ollama()
    aliases[TIP_GENERATOR][0]["model"] = "ollama_chat/qwen2.5:3b"  # not pulled: Ollama answers 404
    configure(OO_LLM_ALIASES=json.dumps(aliases))

    recommend(session, demo_user, NOW)
    recommend(session, demo_user, NOW)

    assert len(ollama.requests_to("/api/chat")) == 2, "a 404 is the request's fault, not a dead server's"
    breaker = health_report(get_settings())["checks"]["llm"]["breakers"][TIP_GENERATOR]["ollama_chat/qwen2.5:3b"]
    assert breaker == {"state": CLOSED}


def test_after_the_cooldown_one_probe_brings_the_model_back(
    session: Session, demo_user: User, ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama(COOLDOWN_S)
    freshest_outputs(session, demo_user, NOW)
    ollama.stop()
    assert recommend(session, demo_user, NOW).model == COMPOSER_MODEL
    ollama.start()
    wait_until(lambda: tip_breaker()["state"] == HALF_OPEN, "the breaker going half-open after its cooldown")
    assert ollama.seen == [], "nothing probed the server before the cooldown ended"

    probe = recommend(session, demo_user, NOW)
    recommend(session, demo_user, NOW)

    assert probe.model == MODEL, "the probe reached the model, which wrote the tip"
    assert len(ollama.requests_to("/api/chat")) == 2, "closed again: the next tip asked the model too"
    breaker = tip_breaker()
    assert (breaker, breaker["overall"]) == ({"status": "ok", "overall": "ok", "state": CLOSED}, "ok")


def test_a_failed_probe_opens_the_breaker_again(
    session: Session, demo_user: User, ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama(COOLDOWN_S)
    freshest_outputs(session, demo_user, NOW)
    ollama.reset(Reply(status=503, error="server busy"))
    recommend(session, demo_user, NOW)
    wait_until(lambda: tip_breaker()["state"] == HALF_OPEN, "the breaker going half-open after its cooldown")

    probe = recommend(session, demo_user, NOW)

    assert probe.model == COMPOSER_MODEL
    assert len(ollama.requests_to("/api/chat")) == 2, "the first failure, then the probe"
    assert tip_breaker()["state"] == OPEN


def test_while_half_open_only_one_call_probes(ollama: PinnedOllama, on_ollama: Callable[..., dict]) -> None:
    on_ollama(COOLDOWN_S)
    router = get_router()
    ollama.stop()
    assert router.completion(**ASK).model == COMPOSER_MODEL
    ollama.start()
    ollama.reset(Reply(content=json.dumps(GROUNDED), delay_s=0.5))  # the probe is under way while the others come
    wait_until(lambda: tip_breaker()["state"] == HALF_OPEN, "the breaker going half-open after its cooldown")
    callers = 4
    start = threading.Barrier(callers)
    answered: list[str] = []

    def call() -> None:
        start.wait()
        try:
            answered.append(router.completion(**ASK).model)
        except Exception as error:
            answered.append(type(error).__name__)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)

    assert len(ollama.requests_to("/api/chat")) == 1, "one probe; the other calls went to the fallback"
    assert answered.count(MODEL) == 1, answered
    assert tip_breaker()["state"] == CLOSED


def test_the_breaker_off_asks_the_server_for_every_tip(
    session: Session, demo_user: User, ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama(0)
    freshest_outputs(session, demo_user, NOW)
    ollama.reset(Reply(status=500))

    recommend(session, demo_user, NOW)
    recommend(session, demo_user, NOW)

    assert len(ollama.requests_to("/api/chat")) == 2 * 2, "each tip tried the model and retried it"
    assert "breakers" not in health_report(get_settings())["checks"]["llm"]


# --- shared through Redis ---------------------------------------------------------------------------------------------


@pytest.fixture
def shared_redis(ollama: PinnedOllama) -> Iterator[str]:
    """The machine's Redis, the stand-in's breaker keys deleted after the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing(f"Redis at {REDIS_URL} is unreachable: {error}")
    yield REDIS_URL
    aliases = documented_aliases("ollama_chat/", COMPOSE_OLLAMA, ollama.base_url)
    for alias, deployments in aliases.items():
        for params in deployments:
            key = KEY_PREFIX + deployment_id(alias, params)
            client.delete(key, f"{key}:probe")
    client.close()


def other_worker(script: str, argument: object) -> dict:
    """What ``script``, run as another worker (a fresh interpreter of this checkout) with ``argument`` as JSON,
    printed last, as JSON."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    other = subprocess.run(
        [sys.executable, "-c", script, json.dumps(argument)],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert other.returncode == 0, other.stderr[-3000:]
    return json.loads(other.stdout.strip().splitlines()[-1])


OTHER_WORKER = """
import json, sys
from oo_app.bootstrap import bootstrap
from oo_app.health import check_llm
from oo_app.llm.router import get_router
from oo_app.settings import get_settings

bootstrap()
before = check_llm(get_settings())  # a worker that has not built its Router yet reads the breakers in Redis
ask = json.loads(sys.argv[1])
answered = get_router().completion(**ask).model
print(json.dumps({"before": before["breakers"], "answered": answered}))
"""


def test_a_breaker_opened_by_one_worker_is_open_for_another(
    session: Session,
    demo_user: User,
    ollama: PinnedOllama,
    on_ollama: Callable[..., dict],
    shared_redis: str,
) -> None:
    on_ollama(OO_REDIS_URL=shared_redis)
    freshest_outputs(session, demo_user, NOW)
    ollama.reset(Reply(status=502, error="bad gateway"))
    assert recommend(session, demo_user, NOW).model == COMPOSER_MODEL
    ollama.reset(Reply(content=json.dumps(GROUNDED)))  # up again: only a call that ignored the breaker would reach it
    asked = len(ollama.requests_to("/api/chat"))

    seen = other_worker(OTHER_WORKER, ASK)

    assert seen["before"][TIP_GENERATOR][MODEL]["state"] == OPEN, seen
    assert len(ollama.requests_to("/api/chat")) == asked, "the other worker did not ask the model server"
    assert seen["answered"] == COMPOSER_MODEL


def test_a_redis_that_does_not_answer_never_costs_a_tip(
    session: Session, demo_user: User, ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama(OO_REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1

    tip = recommend(session, demo_user, NOW)

    assert tip.model == MODEL, "the breaker's store failing lets the call through to the model"
    assert health_report(get_settings())["checks"]["llm"]["breakers"].startswith("unknown: ")
