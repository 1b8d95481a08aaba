"""Production aliases are configuration only: the app's real Router, built from ``OO_LLM_ALIASES``, talks to Ollama
(a faithful stand-in of its HTTP API, ``tests/fakes/ollama.py``) straight or through the real LiteLLM proxy started
from ``deploy/litellm/config.yaml``, on a migrated SQLite database with the demo person.

The alias tables are the ones ``.env.example`` documents (only the host rewritten to the stand-in's), so the
documentation cannot rot. Whatever the model does (garbage, an invented fact, HTTP 500, an answer slower than
``OO_LLM_TIMEOUT_S``, a model that was never pulled), a tip is stored and the rule-based composer wrote it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.llm.router import embed, get_router
from oo_app.models import AgentOutput, Tip, User
from oo_app.recommender import recommend
from oo_app.recommender.orchestrator import freshest_outputs, recent_tip_texts
from oo_app.recommender.prompts import SignalLine, render
from tests.app_server import free_port, serve_command
from tests.conftest import NOW
from tests.fakes.ollama import FakeOllama, Reply, embedding

ROOT = Path(__file__).resolve().parents[1]
PROXY_CONFIG = ROOT / "deploy" / "litellm" / "config.yaml"
COMPOSE_OLLAMA = "http://ollama:11434"
COMPOSE_PROXY = "http://litellm:4000"
TIP_MODEL = "qwen2.5:1.5b"
MASTER_KEY = "sk-oo-test-master-key"
GROUNDED = {"text": "Close one open task before you open a new one.", "kind": "todo"}
INVENTED = {"text": "Call Zanzibar at 17:45 about the 731 invoices.", "kind": "todo"}
TIMEOUT_S = 2.0
RETRIES = 1
BACKOFF_S = 2.5  # LiteLLM's Router waits 0.5 s, doubling, plus up to 0.75 s of jitter, around each retry
SLOW_S = TIMEOUT_S * 15  # the stand-in's slow answer
# Giving up takes one TIMEOUT_S (the breaker opens: no retry, no back-off); the bound allows a retry with its back-off
# as well, for a loaded 2-core machine, and is still well short of the slow answer: only waiting for the model could
# pass it.
GAVE_UP_WITHIN_S = 2 * (TIMEOUT_S + BACKOFF_S)
PROXY_START_S = 120.0


def documented_aliases(model_prefix: str, host: str, new_host: str) -> dict:
    """The ``OO_LLM_ALIASES`` example of ``.env.example`` whose ``tip-generator`` model starts with ``model_prefix``,
    with ``host`` rewritten to ``new_host``."""
    text = (ROOT / ".env.example").read_text()
    for value in re.findall(r"^#\s*OO_LLM_ALIASES=(.+)$", text, flags=re.M):
        if json.loads(value)["tip-generator"][0]["model"].startswith(model_prefix):
            assert host in value, f"the documented example names {host}"
            return json.loads(value.replace(host, new_host))
    raise AssertionError(f".env.example documents no OO_LLM_ALIASES with a {model_prefix} tip-generator")


@pytest.fixture(scope="module")
def ollama_server() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


@pytest.fixture
def ollama(ollama_server: FakeOllama) -> FakeOllama:
    """The module's Ollama stand-in with nothing recorded, answering the grounded tip until told otherwise."""
    ollama_server.reset(Reply(content=json.dumps(GROUNDED)))
    return ollama_server


@pytest.fixture
def on_ollama(configure: Callable[..., None], ollama: FakeOllama) -> dict:
    """The app configured as ``.env.example`` documents for Ollama, at the stand-in; the alias table applied."""
    aliases = documented_aliases("ollama_chat/", COMPOSE_OLLAMA, ollama.base_url)
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_TIMEOUT_S=str(TIMEOUT_S), OO_LLM_RETRIES=str(RETRIES))
    return aliases


def stored(session: Session, tip: Tip) -> tuple[str, str]:
    """(text, model) of ``tip`` as another connection reads it once the request's transaction is committed."""
    session.commit()
    with Session(session.get_bind()) as other:
        row = other.get(Tip, tip.id)
        assert row is not None, f"tip {tip.id} is not in the database"
        return row.text, row.model


def expected_prompt(session: Session, tip: Tip) -> str:
    """The orchestrator prompt ``tip`` was written from: its agents' snippets, the recent tips before it."""
    outputs = {o.id: o for o in session.exec(select(AgentOutput).where(AgentOutput.user_id == tip.user_id))}
    signals = [
        SignalLine(source["agent_id"], outputs[source["output_id"]].snippet, outputs[source["output_id"]].data)
        for source in tip.sources
    ]
    recent = recent_tip_texts(session, tip.user_id, before=tip.id)
    return render(signals, recent, tip.prompt_version, lead=tip.lead_agent)  # the lead the tip was chosen with


def test_tip_generator_on_ollama_is_configuration_only(
    session: Session, demo_user: User, ollama: FakeOllama, on_ollama: dict
) -> None:
    tip = recommend(session, demo_user, NOW)

    assert (tip.text, tip.kind) == (GROUNDED["text"], GROUNDED["kind"])
    assert tip.model == f"ollama_chat/{TIP_MODEL}"
    assert stored(session, tip) == (GROUNDED["text"], f"ollama_chat/{TIP_MODEL}")
    assert tip.prompt_tokens > 0, "Ollama's token counts reach the tip"
    assert tip.completion_tokens > 0
    [chat] = ollama.requests_to("/api/chat")
    assert chat.body["model"] == TIP_MODEL
    assert chat.body["stream"] is False
    assert chat.body["format"] == "json", "response_format json_object becomes Ollama's JSON mode"
    assert [(m["role"], m["content"]) for m in chat.body["messages"]] == [("user", expected_prompt(session, tip))]


@pytest.mark.parametrize(
    ("reply", "model", "tries"),
    [
        (Reply(content="Sure! Here is a tip: drink water"), TIP_MODEL, 1),
        (Reply(content=json.dumps(INVENTED)), TIP_MODEL, 1),
        # A 5xx or a timeout opens the alias's breaker at once (tests/test_breaker.py): no retry of a dead server.
        (Reply(status=500, error="llama runner process has terminated"), TIP_MODEL, 1),
        (Reply(content=json.dumps(GROUNDED), delay_s=SLOW_S), TIP_MODEL, 1),
        (Reply(content=json.dumps(GROUNDED)), "qwen2.5:3b", 1),
    ],
    ids=["garbage", "ungrounded", "http-500", "too-slow", "model-not-pulled"],
)
def test_whatever_ollama_does_the_composer_writes_a_stored_tip(
    session: Session,
    demo_user: User,
    configure: Callable[..., None],
    ollama: FakeOllama,
    on_ollama: dict,
    reply: Reply,
    model: str,
    tries: int,
) -> None:
    ollama.reset(reply)
    if model != TIP_MODEL:
        on_ollama["tip-generator"][0]["model"] = f"ollama_chat/{model}"
        configure(OO_LLM_ALIASES=json.dumps(on_ollama))
    freshest_outputs(session, demo_user, NOW)  # the agents' outputs first: the clock below times the model path

    started = time.monotonic()
    tip = recommend(session, demo_user, NOW)
    elapsed = time.monotonic() - started

    assert tip.model == COMPOSER_MODEL
    assert tip.text.strip()
    assert tip.text not in (GROUNDED["text"], INVENTED["text"])
    assert stored(session, tip) == (tip.text, COMPOSER_MODEL)
    chats = ollama.requests_to("/api/chat")
    assert [chat.body["model"] for chat in chats] == [model] * tries, "the model was asked first"
    if reply.delay_s:
        # The one try gives up after OO_LLM_TIMEOUT_S and opens the breaker, so the Router neither retries nor backs
        # off; the composer answers at once; the model would have taken 30 s. A generous bound, not a benchmark.
        assert elapsed < GAVE_UP_WITHIN_S < reply.delay_s, f"recommend took {elapsed:.1f}s"


def test_embedder_on_ollama_is_configuration_only(ollama: FakeOllama, on_ollama: dict) -> None:
    texts = ["Close one open task.", "Plan the week on Monday.", "Close one open task."]
    vectors = embed(texts)

    assert vectors == [embedding(text) for text in texts], "Ollama's vectors, in order"
    [call] = ollama.requests_to("/api/embed")
    assert call.body["model"] == "all-minilm"
    assert call.body["input"] == texts


def test_the_stand_in_streams_ndjson_as_litellm_reads_it(ollama: FakeOllama, on_ollama: dict) -> None:
    """The app does not stream today; this keeps the stand-in honest about Ollama's streamed chat."""
    stream = get_router().completion(model="tip-generator", messages=[{"role": "user", "content": "hi"}], stream=True)
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)

    assert text == json.dumps(GROUNDED)
    [chat] = ollama.requests_to("/api/chat")
    assert chat.body["stream"] is True


# --- through the real LiteLLM proxy -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def litellm_proxy(ollama_server: FakeOllama, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``litellm --config`` on a copy of deploy/litellm/config.yaml pointed at the stand-in; its base URL.

    Skipped, with the reason printed, only when the proxy cannot run here (its extras are not installed)."""
    text = PROXY_CONFIG.read_text()
    assert COMPOSE_OLLAMA in text
    workdir = tmp_path_factory.mktemp("litellm-proxy")
    config = workdir / "config.yaml"
    config.write_text(text.replace(COMPOSE_OLLAMA, ollama_server.base_url))
    port = free_port()
    env = {
        **os.environ,
        "LITELLM_MASTER_KEY": MASTER_KEY,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    log_path = workdir / "proxy.log"
    command = [str(Path(sys.executable).with_name("litellm")), "--config", str(config)]
    command += ["--port", str(port), "--host", "127.0.0.1", "--num_workers", "1"]
    try:
        with serve_command(
            command, port, log_path, env, _proxy_live, what="the LiteLLM proxy", timeout_s=PROXY_START_S, cwd=workdir
        ) as served:
            yield served.base
    except pytest.fail.Exception:
        missing = re.findall(r"(?:Missing dependency )?No module named '([^']+)'", log_path.read_text(errors="replace"))
        if missing:
            pytest.fail(f"the LiteLLM proxy needs the module {missing[-1]!r}: add it to the dev extra")
        raise


def _proxy_live(base: str) -> bool:
    return httpx.get(f"{base}/health/liveliness", timeout=2).status_code == 200


@pytest.fixture
def on_proxy(configure: Callable[..., None], ollama: FakeOllama, litellm_proxy: str) -> dict:
    """The app configured as ``.env.example`` documents for the proxy, the master key in its environment."""
    aliases = documented_aliases("litellm_proxy/", COMPOSE_PROXY, litellm_proxy)
    configure(
        OO_LLM_ALIASES=json.dumps(aliases),
        OO_LLM_TIMEOUT_S="10",
        OO_LLM_RETRIES=str(RETRIES),
        LITELLM_MASTER_KEY=MASTER_KEY,
    )
    return aliases


def test_tip_generator_through_the_litellm_proxy(
    session: Session, demo_user: User, ollama: FakeOllama, on_proxy: dict
) -> None:
    tip = recommend(session, demo_user, NOW)

    assert (tip.text, tip.kind) == (GROUNDED["text"], GROUNDED["kind"])
    assert tip.model != COMPOSER_MODEL
    assert tip.model == f"ollama_chat/{TIP_MODEL}", "the tip names the model behind the proxy (from its headers)"
    [chat] = ollama.requests_to("/api/chat")
    assert chat.body["model"] == TIP_MODEL, "deploy/litellm/config.yaml maps tip-generator to qwen2.5:1.5b"
    assert chat.body["format"] == "json"
    assert chat.body["options"]["num_predict"] == 120
    assert [(m["role"], m["content"]) for m in chat.body["messages"]] == [("user", expected_prompt(session, tip))]


def test_the_proxy_names_the_ollama_model_in_its_headers(ollama: FakeOllama, on_proxy: dict) -> None:
    response = get_router().completion(model="tip-generator", messages=[{"role": "user", "content": "hi"}])

    headers = response._hidden_params["additional_headers"]
    assert headers["llm_provider-x-litellm-model-name"] == f"ollama_chat/{TIP_MODEL}"
    assert headers["llm_provider-x-litellm-model-group"] == "tip-generator"


def test_embedder_through_the_litellm_proxy(ollama: FakeOllama, on_proxy: dict) -> None:
    texts = ["Close one open task.", "Plan the week on Monday."]
    vectors = embed(texts)

    for got, want in zip(vectors, [embedding(text) for text in texts], strict=True):
        assert got == pytest.approx(want, abs=1e-6)
    [call] = ollama.requests_to("/api/embed")
    assert call.body["model"] == "all-minilm"


def test_a_wrong_proxy_key_leaves_the_tip_to_the_composer(
    session: Session, demo_user: User, configure: Callable[..., None], ollama: FakeOllama, on_proxy: dict
) -> None:
    configure(LITELLM_MASTER_KEY="sk-not-the-key")
    tip = recommend(session, demo_user, NOW)

    assert stored(session, tip) == (tip.text, COMPOSER_MODEL)
    assert ollama.requests_to("/api/chat") == [], "the proxy refused the call before any model saw it"
