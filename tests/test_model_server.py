"""The local models once per host: ``oo models serve`` on loopback answers what the same models answer in-process
(same vectors, same samples for the same seed, same token counts), refuses bad requests with a clear 4xx and binds
beyond loopback only when told; a model server that is down is a clear failure, and the tip falls back."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from pydantic import ValidationError
from sqlmodel import Session

from oo_app.cli import main
from oo_app.health import health_report
from oo_app.llm import local
from oo_app.llm.aliases import COMPOSER_MODEL
from oo_app.llm.local import LocalSampler, ModelServerUnavailable
from oo_app.llm.model_server import MAX_BODY_BYTES, NotLoopback, check_bind
from oo_app.llm.router import embed
from oo_app.models import User
from oo_app.recommender import recommend
from oo_app.recommender.local_writer import few_shot_prompt, write_with
from oo_app.settings import ROOT, Settings
from tests.app_server import free_port, serve_command
from tests.conftest import NOW

TEXTS = ["Finish the smallest task now.", "Rest: it is late.", "Your best hours run until 11:00."]
LINES = {"time-of-day": "It is 14:05 on Wednesday; they get most done around 16:00 (peak hours 15:00, 16:00)."}
FACTS = {"lines": LINES, "recent_tips": ["Block 16:00 for one deep task."], "examples": []}


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`oo models serve` as ./scripts/dev starts it, on a free loopback port; its base URL."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name != "OO_MODEL_SERVER_URL"}
    command = [str(Path(sys.executable).with_name("oo")), "models", "serve", "--port", str(port)]
    log = tmp_path_factory.mktemp("models") / "models.log"
    with serve_command(command, port, log, env, _healthy, what="oo models serve") as served:
        yield served.base


def test_the_model_server_listens_only_once_both_models_are_loaded(model_server: str) -> None:
    """The workers that ./scripts/dev and compose start once it answers never send a request into a model's load."""
    state = httpx.get(f"{model_server}/health", timeout=5).json()
    assert state["models"] == {local.TIP_MODEL: "loaded", local.EMBEDDING_MODEL: "loaded"}


def test_a_lazy_model_server_listens_at_once_and_loads_on_first_use(tmp_path: Path) -> None:
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name != "OO_MODEL_SERVER_URL"}
    command = [str(Path(sys.executable).with_name("oo")), "models", "serve", "--port", str(port), "--lazy"]
    with serve_command(command, port, tmp_path / "models.log", env, _healthy, what="oo models serve --lazy") as served:
        state = httpx.get(f"{served.base}/health", timeout=5).json()
    assert set(state["models"].values()) == {"not loaded yet"}


def _healthy(base: str) -> bool:
    return httpx.get(f"{base}/health", timeout=5).status_code == 200


@pytest.fixture
def nothing_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test process computes nothing itself: what it gets comes from the model server."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("computed in the test process, not by the model server")

    monkeypatch.setattr(local, "encode_here", refuse)
    monkeypatch.setattr(local, "complete_here", refuse)


def test_the_embedder_through_the_model_server_gives_the_vectors_of_this_process(
    model_server: str, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch, nothing_local: None
) -> None:
    configure(OO_MODEL_SERVER_URL=model_server)
    served = embed(TEXTS)
    monkeypatch.undo()

    here = local.encode_here(TEXTS)
    assert np.asarray(served).shape == (3, 384)
    assert np.allclose(served, here, atol=1e-6), "the model server's vectors differ from the in-process ones"


def test_the_local_writer_through_the_model_server_draws_the_samples_of_this_process(
    model_server: str, configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch, nothing_local: None
) -> None:
    prompt = few_shot_prompt(list(LINES.values()), [])
    configure(OO_MODEL_SERVER_URL=model_server, OO_LLM_TIMEOUT_S="120")  # a busy machine samples slowly
    served_sampler = LocalSampler()
    served = [served_sampler(prompt, seed) for seed in (7, 8, 9)]
    served_tip = write_with(LocalSampler(), FACTS, embed=local.encode)
    monkeypatch.undo()
    configure(OO_MODEL_SERVER_URL="")
    # This process has written another person's tip since (as the suite's other tests do): a prompt sharing the
    # few-shot text, whose cache must not leak into the next samples.
    local.complete_here(few_shot_prompt(["It is 09:00 on Monday."], []), 1, max_tokens=4)

    here_sampler = LocalSampler()
    here = [here_sampler(prompt, seed) for seed in (7, 8, 9)]
    here_tip = write_with(LocalSampler(), FACTS, embed=local.encode)
    assert served == here, "the same seeds should draw the same lines wherever the model runs"
    assert (served_sampler.prompt_tokens, served_sampler.completion_tokens) == (
        here_sampler.prompt_tokens,
        here_sampler.completion_tokens,
    )
    assert served_sampler.completion_tokens > 0
    assert served_tip == here_tip


def test_the_model_server_says_which_models_it_holds(model_server: str, configure: Callable[..., None]) -> None:
    configure(OO_MODEL_SERVER_URL=model_server)
    state = local.model_server_state()
    assert state is not None
    assert state["status"] == "ok"
    assert set(state["models"]) == {local.TIP_MODEL, local.EMBEDDING_MODEL}
    assert set(state["models"].values()) <= {"loaded", "not loaded yet"}


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "x"}, 404, "text-embedding-3-small"),
        ("/v1/embeddings", {"input": "x"}, 400, "model"),
        ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": []}, 400, "input"),
        ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": [1, 2]}, 400, "input"),
        ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": "x" * 9000}, 400, "input"),
        ("/v1/completions", {"model": "gemma3-270m", "prompt": "Tip:", "stream": True}, 400, "stream"),
        ("/v1/completions", {"model": "gemma3-270m", "prompt": "Tip:", "max_tokens": 100_000}, 400, "max_tokens"),
        ("/v1/completions", {"model": "gemma3-270m", "prompt": "Tip:", "seed": -1}, 400, "seed"),
        ("/v1/completions", {"model": "all-minilm-l6-v2", "prompt": "Tip:"}, 404, "gemma3-270m"),
        ("/v1/completions", "{not json", 400, "invalid request"),
        ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": ["x" * 8000] * 200}, 413, str(MAX_BODY_BYTES)),
    ],
    ids=lambda value: str(value)[:30],
)
def test_a_bad_request_gets_a_clear_4xx(model_server: str, path: str, body: object, status: int, says: str) -> None:
    content = body if isinstance(body, str) else None
    answer = httpx.post(
        f"{model_server}{path}",
        json=None if content else body,
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert says in error["message"], error


def test_the_model_server_binds_beyond_loopback_only_when_told() -> None:
    refused = CliRunner().invoke(main, ["models", "serve", "--host", "0.0.0.0"])
    assert refused.exit_code == 1
    assert "--allow-remote" in refused.output
    assert "Traceback" not in refused.output
    with pytest.raises(NotLoopback):
        check_bind("192.168.1.20", allow_remote=False)
    check_bind("::1", allow_remote=False)
    check_bind("0.0.0.0", allow_remote=True)


def test_a_model_server_that_is_down_is_a_clear_failure(configure: Callable[..., None]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    configure(OO_MODEL_SERVER_URL=down)
    with pytest.raises(ModelServerUnavailable, match=rf"{down} does not answer .*oo models serve"):
        LocalSampler()("Tip:", 1)
    with pytest.raises(Exception, match="does not answer"):
        embed(TEXTS)


def test_health_reports_the_models_of_the_model_process(model_server: str, configure: Callable[..., None]) -> None:
    configure(OO_TIP_WRITER="local", OO_MODEL_SERVER_URL=model_server)
    llm = health_report()["checks"]["llm"]
    assert llm["status"] == "ok", llm
    assert set(llm["model_server"]) == {local.TIP_MODEL, local.EMBEDDING_MODEL}
    assert "local_model" not in llm, "this process holds no model: its own 'not loaded yet' would mislead"


def test_health_is_degraded_while_the_model_process_does_not_answer(configure: Callable[..., None]) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    configure(OO_TIP_WRITER="local", OO_MODEL_SERVER_URL=down)
    report = health_report()
    llm = report["checks"]["llm"]
    assert (llm["status"], llm["model_server"]) == ("degraded", "unreachable")
    assert "oo models serve" in llm["detail"]
    assert "composer writes every tip" in llm["detail"]
    assert report["status"] == "degraded"


def test_with_the_model_server_down_the_composer_writes_the_tip(
    session: Session, demo_user: User, configure: Callable[..., None]
) -> None:
    configure(OO_TIP_WRITER="local", OO_MODEL_SERVER_URL=f"http://127.0.0.1:{free_port()}")
    tip = recommend(session, demo_user, NOW)
    assert tip.text
    assert tip.model == COMPOSER_MODEL


def test_compose_serves_the_models_once_on_its_network_to_the_app_and_the_agent_workers() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    models = compose["models"]
    command = models["command"]
    assert command[:3] == ["oo", "models", "serve"]
    assert "--allow-remote" in command, "inside its container it must listen beyond loopback, by the flag"
    assert "ports" not in models, "no authentication: never published on the host"
    port = command[command.index("--port") + 1]
    for service in ("app", "worker"):
        assert compose[service]["environment"]["OO_MODEL_SERVER_URL"] == f"http://models:{port}", service
    assert models["healthcheck"]["test"][-1].count(f"127.0.0.1:{port}/health") == 1


@pytest.mark.parametrize("value", ["ftp://models:8765", "127.0.0.1:8765", "http://models:8765/v1"])
def test_a_model_server_address_that_is_no_server_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="OO_MODEL_SERVER_URL"):
        Settings(model_server_url=value)


def test_an_empty_model_server_address_means_in_process() -> None:
    assert Settings(model_server_url="").model_server_url is None
    assert Settings(model_server_url="http://127.0.0.1:8765/").model_server_url == "http://127.0.0.1:8765"


def test_a_worker_writing_tips_through_the_model_server_loads_no_model(model_server: str, tmp_path: Path) -> None:
    """The embedded aliases with the host's model process: the worker loads neither torch nor llama.cpp while it
    writes a tip through that process (one tip: each is a few samples of the local model, up to a minute on a busy
    machine; a second wrote the same way)."""
    from tests.test_lean_imports import probe, serve_tips

    env = {"OO_TIP_WRITER": "local", "OO_MODEL_SERVER_URL": model_server, "OO_LLM_TIMEOUT_S": "120"}
    found = probe(serve_tips(1), env, tmp_path)
    assert found["heavy"] == [], f"writing tips through the model server loaded {found['heavy']}"
    assert len(found["writers"]) == 1
