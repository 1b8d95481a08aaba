"""The embedder's circuit breaker (issue 19, ADR 0012): an embedding server that refuses, times out or answers 5xx is
left alone for ``OO_LLM_COOLDOWN_S``, so the embedding callers (the near-duplicate guard, focus-area clustering) get
their failure at once, without a request to the server, and carry on as they already do without embeddings; then one
call probes it and the embedder answers again; /health reports the breaker. The app's real Router, the Ollama
stand-in on loopback (tests/fakes/ollama.py) and the machine's Redis for the breaker shared by two processes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from oo_app.health import health_report
from oo_app.llm.aliases import EMBEDDER
from oo_app.llm.breaker import CLOSED, HALF_OPEN, OPEN
from oo_app.llm.router import embed, get_router
from oo_app.recommender.dedup import repeat_of
from oo_app.settings import get_settings
from tests.fakes.ollama import EMBEDDING_DIMENSIONS, PinnedOllama, Reply
from tests.test_breaker import (  # noqa: F401  (shared_redis: a fixture these tests use)
    COOLDOWN_S,
    LONG_COOLDOWN_S,
    TIMEOUT_S,
    other_worker,
    shared_redis,
    wait_until,
)
from tests.test_llm_production import COMPOSE_OLLAMA, documented_aliases

EMBED_MODEL = "ollama/all-minilm"
TEXTS = ["Close one open task before you open a new one.", "Water the plants."]


@pytest.fixture
def ollama() -> Iterator[PinnedOllama]:
    """The stand-in on its own pinned port (a new deployment id, so no breaker of another test)."""
    with PinnedOllama() as server:
        yield server
        if not server.running:
            server.start()  # so that the context manager stops it cleanly


@pytest.fixture
def on_ollama(configure: Callable[..., None], ollama: PinnedOllama) -> Callable[..., dict]:
    """``on_ollama(cooldown_s, **env)``: the app configured as .env.example documents for Ollama, at the stand-in."""

    def apply(cooldown_s: float = LONG_COOLDOWN_S, **env: str) -> dict:
        aliases = documented_aliases("ollama_chat/", COMPOSE_OLLAMA, ollama.base_url)
        assert aliases[EMBEDDER] == [{"model": EMBED_MODEL, "api_base": ollama.base_url}], aliases[EMBEDDER]
        configure(
            OO_LLM_ALIASES=json.dumps(aliases),
            OO_LLM_TIMEOUT_S=str(TIMEOUT_S),
            OO_LLM_RETRIES="1",
            OO_LLM_COOLDOWN_S=str(cooldown_s),
            **env,
        )
        return aliases

    return apply


def embedder_breaker() -> dict:
    """The embedder's breaker as GET /health reports it (the llm check), and the check's status."""
    check = health_report(get_settings())["checks"]["llm"]
    return {"status": check["status"], **check["breakers"][EMBEDDER][EMBED_MODEL]}


def embed_fails() -> str:
    """Embeds :data:`TEXTS`, which must fail; the error's class."""
    try:
        embed(TEXTS)
    except Exception as error:  # whichever LiteLLM raises: a connection error, a timeout, no deployment available
        return type(error).__name__
    raise AssertionError("the embedding did not fail")


def embeddings_asked(ollama: PinnedOllama) -> int:
    return len(ollama.requests_to("/api/embed"))


def test_a_refused_embedder_fails_its_callers_at_once_until_its_cooldown_ends(
    ollama: PinnedOllama, on_ollama: Callable[..., dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    on_ollama()
    router = get_router()
    backoffs: list[float] = []

    def back_off(*args: object, **kwargs: object) -> float:  # the Router's own, recorded: called before each retry
        backoffs.append(seconds := type(router)._time_to_sleep_before_retry(router, *args, **kwargs))
        return seconds

    monkeypatch.setattr(router, "_time_to_sleep_before_retry", back_off)
    ollama.stop()  # down: connections refused

    embed_fails()
    breaker = embedder_breaker()
    ollama.start()  # back on the same address: a request from here on would be seen
    embed_fails()
    guarded = repeat_of(TEXTS[0], ["Water the plants today."], embed)

    assert embeddings_asked(ollama) == 0, "while open, no embedding went to the server"
    assert backoffs == [], "the Router saw no healthy deployment: no retry, no back-off, the failure at once"
    assert guarded is None, "the near-duplicate guard carried on without embeddings, as when the embedder fails"
    assert (breaker["state"], breaker["failure"]) == (OPEN, "APIConnectionError (500)"), breaker
    assert 0 < breaker["open_for_s"] <= LONG_COOLDOWN_S
    assert breaker["status"] == "degraded", "an open breaker degrades /health"


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        (Reply(delay_s=TIMEOUT_S * 30), "Timeout (408)"),
        (Reply(status=500, error="llama runner process has terminated"), "InternalServerError (500)"),
    ],
    ids=["slower-than-the-timeout", "http-500"],
)
def test_a_slow_or_failing_embedder_opens_the_breaker_at_its_first_failure(
    ollama: PinnedOllama, on_ollama: Callable[..., dict], reply: Reply, failure: str
) -> None:
    on_ollama()
    ollama.reset(embed_reply=reply)

    embed_fails()
    asked = embeddings_asked(ollama)
    embed_fails()

    assert asked == 1, "one request: the breaker opened at the first failure"
    assert embeddings_asked(ollama) == 1, "the second embedding did not ask the server"
    breaker = embedder_breaker()
    assert (breaker["state"], breaker["failure"]) == (OPEN, failure), breaker


def test_an_embedder_that_answers_an_error_of_its_own_keeps_its_breaker_closed(
    configure: Callable[..., None], ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    aliases = on_ollama()
    aliases[EMBEDDER][0]["model"] = "ollama/nomic-embed-text"  # not pulled: Ollama answers 404
    configure(OO_LLM_ALIASES=json.dumps(aliases))

    embed_fails()
    embed_fails()

    assert embeddings_asked(ollama) >= 2, "a 404 is the request's fault, not a dead server's: asked again"
    breaker = health_report(get_settings())["checks"]["llm"]["breakers"][EMBEDDER]["ollama/nomic-embed-text"]
    assert breaker == {"state": CLOSED}


def test_after_the_cooldown_one_probe_brings_the_embedder_back(
    ollama: PinnedOllama, on_ollama: Callable[..., dict]
) -> None:
    on_ollama(COOLDOWN_S)
    ollama.reset(embed_reply=Reply(status=503, error="server busy"))
    embed_fails()
    ollama.reset()  # answering again; nothing recorded
    wait_until(lambda: embedder_breaker()["state"] == HALF_OPEN, "the breaker going half-open after its cooldown")
    assert embeddings_asked(ollama) == 0, "nothing probed the server before the cooldown ended"

    probed = embed(TEXTS)
    again = embed(TEXTS)

    assert [len(vector) for vector in probed] == [EMBEDDING_DIMENSIONS] * 2, "the probe got the embeddings"
    assert again == probed
    assert embeddings_asked(ollama) == 2, "closed again: the next embedding asked the server too"
    assert embedder_breaker() == {"status": "ok", "state": CLOSED}


def test_a_failed_embedder_probe_opens_the_breaker_again(ollama: PinnedOllama, on_ollama: Callable[..., dict]) -> None:
    on_ollama(COOLDOWN_S)
    ollama.reset(embed_reply=Reply(status=502, error="bad gateway"))
    embed_fails()
    wait_until(lambda: embedder_breaker()["state"] == HALF_OPEN, "the breaker going half-open after its cooldown")

    embed_fails()

    assert embeddings_asked(ollama) == 2, "the first failure, then the probe"
    assert embedder_breaker()["state"] == OPEN


# --- shared through Redis ---------------------------------------------------------------------------------------------


OTHER_WORKER = """
import json, sys
from oo_app.bootstrap import bootstrap
from oo_app.health import check_llm
from oo_app.llm.router import embed
from oo_app.settings import get_settings

bootstrap()
before = check_llm(get_settings())  # a worker that has not built its Router yet reads the breakers in Redis
try:
    embed(json.loads(sys.argv[1]))
    failed = None
except Exception as error:
    failed = type(error).__name__
print(json.dumps({"before": before["breakers"], "failed": failed}))
"""


def test_an_embedder_breaker_opened_by_one_worker_is_open_for_another(
    ollama: PinnedOllama,
    on_ollama: Callable[..., dict],
    shared_redis: str,  # noqa: F811
) -> None:
    on_ollama(OO_REDIS_URL=shared_redis)
    ollama.reset(embed_reply=Reply(status=500))
    embed_fails()
    ollama.reset()  # up again: only a call that ignored the breaker would reach it

    seen = other_worker(OTHER_WORKER, TEXTS)

    assert seen["before"][EMBEDDER][EMBED_MODEL]["state"] == OPEN, seen
    assert seen["failed"] is not None, "the other worker's embedding failed at once"
    assert embeddings_asked(ollama) == 0, "the other worker did not ask the embedding server"
