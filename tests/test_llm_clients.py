"""A web worker keeps few of LiteLLM's HTTP clients (issue 19, docs/adr/0016-lean-web-workers.md): the Router's sync
calls each run in a new event loop, and LiteLLM caches a client per loop, so without a cap every tip left a client
(an httpx pool, a TLS context, a kept-alive connection) behind, up to 200. The app's real Router and the Ollama
stand-in on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import litellm
import pytest

from oo_app.llm.router import HTTP_CLIENTS_KEPT, get_router
from tests.fakes.ollama import FakeOllama, Reply
from tests.test_breaker import ASK
from tests.test_llm_production import COMPOSE_OLLAMA, GROUNDED, documented_aliases

CALLS = 3 * HTTP_CLIENTS_KEPT


@pytest.fixture
def ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        server.reset(Reply(content=json.dumps(GROUNDED)))
        yield server


def test_many_tips_leave_at_most_a_few_http_clients_behind(configure: Callable[..., None], ollama: FakeOllama) -> None:
    configure(OO_LLM_ALIASES=json.dumps(documented_aliases("ollama_chat/", COMPOSE_OLLAMA, ollama.base_url)))
    router = get_router()

    for _ in range(CALLS):
        router.completion(**ASK)

    assert len(ollama.requests_to("/api/chat")) == CALLS, "every call reached the model server"
    kept = len(litellm.in_memory_llm_clients_cache.cache_dict)
    assert kept <= HTTP_CLIENTS_KEPT, f"{kept} cached clients after {CALLS} calls"
