"""Operations: /health reports each dependency on its own (503 only without a database), /metrics counts what the app
did, summed over processes and closed to strangers, and logs are one JSON object per line with the request id and no
secret. Real SQLite and PostgreSQL, real Redis, real processes; unreachable services are closed loopback ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from agents.registry import registry
from oo_app.api import api
from oo_app.demo import Habits, seed_demo, store_history, synthetic_history
from oo_app.llm import local as local_models
from oo_app.llm.aliases import LOCAL_TIP_MODEL
from oo_app.llm.router import get_router
from oo_app.models import User
from oo_app.ops.logs import REDACTED, log_handler
from oo_app.ops.metrics import MULTIPROC_ENV
from oo_app.settings import ROOT, Settings
from oo_app.tasks import engine as task_engine
from oo_app.tasks.scheduler import PULSE, run_forever
from tests.auth_helpers import sign_in
from tests.conftest import NOW, service_missing
from tests.fakes.ollama import FakeOllama, Reply

REDIS_URL = os.environ.get("OO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TOKEN = "metrics-token-for-tests-0123456789"
SECRET = "hunter2hunter2"
WAIT_S = 60.0
COMPOSER = "oo-rules/composer"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT_S:.0f} s")
        time.sleep(0.05)


@pytest.fixture
def health(configure: Callable[..., None]) -> Callable[..., tuple[int, dict]]:
    """``health(**env)``: configure, warm the LLM router as the app does at start (``warm_llm``), GET /health."""

    def probe(**env: str) -> tuple[int, dict]:
        configure(**env)
        with contextlib.suppress(Exception):  # a misconfigured alias table: /health must say so itself
            get_router()
        response = TestClient(api).get("/health")
        return response.status_code, response.json()

    return probe


# --- /health -------------------------------------------------------------------------------------------------------


def test_health_reports_every_dependency_with_its_latency(any_database: Session, health: Callable) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        service_missing(f"Redis at {REDIS_URL} is unreachable: {error}")
    backend = any_database.get_bind().dialect.name

    status, body = health(OO_REDIS_URL=REDIS_URL)

    assert (status, body["status"], body["database"]) == (200, "ok", "ok"), body
    checks = body["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["database"]["backend"] == backend
    assert checks["redis"]["status"] == "ok"
    assert checks["redis"]["target"] == "127.0.0.1:6379/0"
    assert checks["llm"] == {
        "status": "ok",
        "alias": "tip-generator",
        "models": [COMPOSER],
        "fallback": [COMPOSER],
        "latency_ms": checks["llm"]["latency_ms"],
    }
    assert checks["task_engine"]["status"] == "disabled", "the tests switch the in-process scheduler off"
    assert all(isinstance(check["latency_ms"], float) and check["latency_ms"] >= 0 for check in checks.values())


def test_an_unreachable_redis_degrades_without_showing_its_password(engine, health: Callable) -> None:
    status, body = health(OO_REDIS_URL=f"redis://:{SECRET}@127.0.0.1:{closed_port()}/0")

    assert (status, body["status"], body["database"]) == (200, "degraded", "ok"), body
    assert body["checks"]["redis"]["status"] == "error"
    assert "Connection" in body["checks"]["redis"]["detail"], body["checks"]["redis"]
    assert SECRET not in json.dumps(body)


def test_reflexs_redis_url_is_ours_when_ours_is_unset(engine, health: Callable) -> None:
    port = closed_port()
    _, body = health(OO_REDIS_URL="", REFLEX_REDIS_URL=f"redis://127.0.0.1:{port}/3")

    assert body["checks"]["redis"]["target"] == f"127.0.0.1:{port}/3"
    assert body["checks"]["redis"]["status"] == "error"


def test_an_unreachable_database_is_a_503_without_its_password(health: Callable) -> None:
    status, body = health(OO_DATABASE_URL=f"postgresql+psycopg://oo:{SECRET}@127.0.0.1:{closed_port()}/oo")

    assert (status, body["status"], body["database"]) == (503, "error", "unreachable"), body
    assert body["checks"]["database"]["status"] == "error"
    assert SECRET not in json.dumps(body)


@pytest.mark.parametrize(
    ("aliases", "says"),
    [
        ({"judge": [{"model": "oo-rules/checks"}]}, "no tip-generator"),
        ({"tip-generator": [{"model": "no-such-provider/model"}]}, "does not build"),
    ],
    ids=["alias-missing", "unknown-provider"],
)
def test_a_misconfigured_llm_alias_degrades_since_the_composer_writes_tips(
    engine, health: Callable, aliases: dict, says: str
) -> None:
    status, body = health(OO_LLM_ALIASES=json.dumps(aliases))

    assert (status, body["status"]) == (200, "degraded"), body
    assert body["checks"]["llm"]["status"] == "error"
    assert says in body["checks"]["llm"]["detail"]
    assert "composer" in body["checks"]["llm"]["detail"]


class _IdleLocalModel:
    """Stands in for ``llm.local_llama`` before the model is loaded: loading it (or generating) fails the test."""

    def cache_info(self) -> object:
        return type("CacheInfo", (), {"currsize": 0})()

    def __call__(self) -> None:
        pytest.fail("/health loaded the local model")


def test_the_idle_local_model_is_healthy_and_never_asked_to_generate(
    engine, health: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    import litellm

    asked: list[str] = []
    monkeypatch.setattr(local_models, "local_llama", _IdleLocalModel())
    monkeypatch.setattr(litellm.Router, "completion", lambda _router, model, *a, **k: asked.append(model))
    monkeypatch.setattr(litellm, "completion", lambda model, *a, **k: asked.append(model))

    status, body = health(OO_TIP_WRITER="local", OO_HEALTH_TIMEOUT_S="1.5")

    check = body["checks"]["llm"]
    assert (status, check["status"], check["local_model"]) == (200, "ok", "not loaded yet"), check
    assert check["models"] == [LOCAL_TIP_MODEL]
    assert check["latency_ms"] < 1500
    assert asked == [], "a health check asks no model to generate"


def test_the_llm_check_of_a_fresh_process_waits_for_no_library_to_load(tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "from oo_app.health import check_llm\n"
        "from oo_app.settings import get_settings\n"
        "report = check_llm(get_settings())\n"
        "print(json.dumps({**report, 'litellm': 'litellm' in sys.modules, 'llama': 'llama_cpp' in sys.modules}))\n"
    )
    env = {**os.environ, "OO_TIP_WRITER": "local", "OO_DATABASE_URL": f"sqlite:///{tmp_path / 'oo.db'}"}
    env.pop("OO_LLM_ALIASES", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["status"], report["router"], report["local_model"]) == ("ok", "not built yet", "not loaded yet")
    assert (report["litellm"], report["llama"]) == (False, False), "the check imported LiteLLM or llama.cpp"


@pytest.mark.postgres
def test_the_job_queue_needs_its_schema_and_a_beating_worker(migrated_postgres_url: str, health: Callable) -> None:
    env = {"OO_DATABASE_URL": migrated_postgres_url, "OO_TASK_ENGINE": "procrastinate"}

    _, body = health(**env)
    assert body["checks"]["task_engine"]["status"] == "error", body["checks"]["task_engine"]
    assert "schema is missing" in body["checks"]["task_engine"]["detail"]
    assert body["status"] == "degraded"

    task_engine.apply_schema()
    _, body = health(**env)
    assert body["checks"]["task_engine"]["status"] == "degraded"
    assert body["checks"]["task_engine"]["workers"] == 0

    async def register_worker() -> int:
        async with task_engine.get_app().open_async() as app:
            return await app.job_manager.register_worker()  # what a starting worker does, then it beats

    asyncio.run(register_worker())
    status, body = health(**env)
    assert (status, body["status"]) == (200, "ok"), body
    assert body["checks"]["task_engine"] | {"latency_ms": 0} == {
        "status": "ok",
        "engine": "procrastinate",
        "target": migrated_postgres_url.rsplit("@", 1)[1],
        "schema": True,
        "workers": 1,
        "latency_ms": 0,
    }


def test_the_inprocess_scheduler_is_ok_while_it_runs_and_degraded_once_stopped(engine, health: Callable) -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        started = datetime.now(UTC)
        scheduler = asyncio.run_coroutine_threadsafe(run_forever(3600), loop)
        wait_until(lambda: PULSE.last_round_at is not None and PULSE.last_round_at >= started, "a first round")
        _, body = health(OO_SCHEDULER_ENABLED="true")
        running = body["checks"]["task_engine"]
        assert (running["status"], running["scheduler"]) == ("ok", "running"), running
        assert datetime.fromisoformat(running["last_round_at"]) == PULSE.last_round_at

        scheduler.cancel()
        wait_until(lambda: PULSE.stopped_at is not None and PULSE.stopped_at >= started, "the scheduler's stop")
        _, body = health(OO_SCHEDULER_ENABLED="true")
        stopped = body["checks"]["task_engine"]
        assert (stopped["status"], stopped["scheduler"], body["status"]) == ("degraded", "stopped", "degraded")
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


# --- /metrics ------------------------------------------------------------------------------------------------------

Samples = dict[tuple[str, frozenset], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def person(any_database: Session, configure: Callable[..., None]) -> User:
    configure(OO_METRICS_TOKEN=TOKEN)
    user = seed_demo(any_database, "demo@example.com", now=NOW)
    assert user is not None
    any_database.commit()
    return user


@pytest.fixture
def signed_in(person: User, any_database: Session) -> Iterator[TestClient]:
    with TestClient(api, raise_server_exceptions=False) as client:
        sign_in(client, any_database, person)
        yield client


def test_two_tips_and_one_reaction_through_the_api_move_the_counters_by_exactly_that(signed_in: TestClient) -> None:
    before = scrape(signed_in)

    first = signed_in.post("/api/recommend").json()["tip"]
    reacted = signed_in.post(f"/api/tips/{first['id']}/reaction", json={"reaction": "done"})
    assert reacted.status_code == 200, reacted.text  # the reaction and the next tip: two tips, one reaction
    after = scrape(signed_in)

    served = {"writer": COMPOSER, "policy": "incumbent"}
    assert moved(before, after, "oo_tips_served_total", **served) == 2
    assert moved(before, after, "oo_tip_latency_seconds_count") == 2
    assert moved(before, after, "oo_reactions_total", reaction="done") == 1
    assert moved(before, after, "oo_llm_fallbacks_total", alias="tip-generator") == 0, "the composer is the model"
    fresh = {dict(labels)["agent"] for (name, labels) in after if name == "oo_agent_outputs_fresh_ratio"}
    assert fresh == set(registry()), "freshness is reported for every registered agent"
    assert value(after, "oo_agent_outputs_fresh_ratio", agent="time-of-day") == 1.0, "recommend() computed it"


def test_a_scrape_loads_neither_pandas_nor_the_hub() -> None:
    # agents.freshness is what a scrape imports to report freshness; a fresh interpreter shows what both pull in.
    code = (
        "import sys, oo_app.ops.metrics, agents.freshness; "
        "print(sorted(m for m in sys.modules if m == 'pandas' or m.startswith(('oo_app.hub', 'oo_app.hub_'))))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]", f"/metrics pulls in {loaded.stdout.strip()}"


def test_imported_history_is_not_counted_as_reactions(signed_in: TestClient, any_database: Session) -> None:
    history = synthetic_history(Habits(), days=30, now=NOW, seed=1)
    assert any(event["type"] == "tip_done" for event in history["events"]), "the history should hold reactions"
    before = scrape(signed_in)
    newcomer = User(email="newcomer@example.com", tz=Habits().tz)
    any_database.add(newcomer)
    any_database.flush()
    store_history(any_database, newcomer, history)
    any_database.commit()
    after = scrape(signed_in)

    assert moved(before, after, "oo_reactions_total", reaction="done") == 0


def test_a_failing_model_counts_an_error_and_a_fallback(signed_in: TestClient, configure: Callable[..., None]) -> None:
    aliases = {
        "tip-generator": [{"model": "ollama_chat/qwen2.5:1.5b", "api_base": f"http://127.0.0.1:{closed_port()}"}],
        "tip-generator-fallback": [{"model": COMPOSER}],
    }
    configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0")
    before = scrape(signed_in)

    tip = signed_in.post("/api/recommend").json()["tip"]
    after = scrape(signed_in)

    assert tip["model"] == COMPOSER, "the Router's fallback wrote the tip"
    assert moved(before, after, "oo_llm_errors_total", alias="tip-generator", kind="APIConnectionError") == 1
    assert moved(before, after, "oo_llm_fallbacks_total", alias="tip-generator") == 1
    assert moved(before, after, "oo_tips_served_total", writer=COMPOSER, policy="incumbent") == 1


def test_a_garbage_answer_counts_as_rejected(signed_in: TestClient, configure: Callable[..., None]) -> None:
    with FakeOllama() as ollama:
        ollama.reset(Reply(content="this is not the tip JSON"))
        aliases = {"tip-generator": [{"model": "ollama_chat/qwen2.5:1.5b", "api_base": ollama.base_url}]}
        configure(OO_LLM_ALIASES=json.dumps(aliases), OO_LLM_RETRIES="0")
        before = scrape(signed_in)
        tip = signed_in.post("/api/recommend").json()["tip"]
        after = scrape(signed_in)

    assert tip["model"] == COMPOSER
    assert moved(before, after, "oo_llm_errors_total", alias="tip-generator", kind="rejected") == 1
    assert moved(before, after, "oo_llm_fallbacks_total", alias="tip-generator") == 1


def test_a_scrape_sums_the_counters_of_every_process(
    demo_user: User, configure: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(OO_METRICS_TOKEN=TOKEN)
    shared = tmp_path / "prometheus"
    env = {**os.environ, MULTIPROC_ENV: str(shared)}
    oo = str(Path(sys.executable).with_name("oo"))
    command = [oo, "recommend", "--user", demo_user.email]
    child = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    # Another process that served a tip and counted it as recommend() does (`oo recommend` proved the count above):
    # a second `oo recommend` cost seconds more of imports and proved nothing more about the sum.
    counted = f"from oo_app.ops.metrics import tip_served; tip_served({COMPOSER!r}, 'incumbent', 0.02)"
    other = subprocess.run(
        [sys.executable, "-c", counted], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert other.returncode == 0, other.stderr[-3000:]
    assert len({path.stem.rsplit("_", 1)[1] for path in shared.glob("counter_*.db")}) == 2, "two processes' files"

    monkeypatch.setenv(MULTIPROC_ENV, str(shared))
    samples = scrape(TestClient(api))

    assert value(samples, "oo_tips_served_total", writer=COMPOSER, policy="incumbent") == 2
    assert value(samples, "oo_tip_latency_seconds_count") == 2


def test_metrics_answer_the_bearer_of_the_token_only(engine, configure: Callable[..., None]) -> None:
    configure(OO_METRICS_TOKEN=TOKEN)
    client = TestClient(api)

    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token-at-all"})
    right = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert (missing.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.headers["content-type"].startswith("text/plain")
    assert "# TYPE oo_tips_served_total counter" in right.text


def test_without_a_token_metrics_answer_loopback_and_never_production(engine, configure: Callable[..., None]) -> None:
    loopback = TestClient(api, client=("127.0.0.1", 40000))
    stranger = TestClient(api, client=("203.0.113.9", 40000))
    assert (loopback.get("/metrics").status_code, stranger.get("/metrics").status_code) == (200, 403)

    configure(OO_ENV="production", OO_SECRET_KEY="p" * 40, OO_DEV_LOGIN="false")
    assert loopback.get("/metrics").status_code == 403, "production refuses scrapes without OO_METRICS_TOKEN"


# --- logs ----------------------------------------------------------------------------------------------------------

FAILING_REQUEST = """
from fastapi.testclient import TestClient
from oo_app.api import api
from oo_app.ops.logs import configure_logging

configure_logging()

@api.get("/boom")
def boom():
    raise RuntimeError("boom")

response = TestClient(api, raise_server_exceptions=False).get("/boom", headers={"X-Request-ID": "req-42"})
print(response.status_code, response.headers.get("x-request-id"))
"""


def test_json_logs_are_one_object_per_line_with_the_request_id_and_the_exception(
    engine, configure: Callable[..., None]
) -> None:
    configure(OO_LOG_FORMAT="json")
    done = subprocess.run(
        [sys.executable, "-c", FAILING_REQUEST], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["500", "req-42"], "the 500 carries the request id too"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pytest.fail(f"a log line that is not one JSON object: {line!r}")
    [failure] = [record for record in records if record.get("exception")]
    assert {"time", "level", "logger", "message", "request_id", "exception"} <= set(failure), failure
    assert (failure["level"], failure["logger"], failure["request_id"]) == ("ERROR", "oo_app.api", "req-42")
    assert "RuntimeError: boom" in failure["exception"]
    assert datetime.fromisoformat(failure["time"]).utcoffset() is not None


def test_log_records_never_carry_tokens_cookies_or_emails() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("tests.observability.redaction")
    logger.propagate, logger.level = False, logging.INFO
    handler = log_handler(Settings(log_format="json"), stream)
    logger.addHandler(handler)
    try:
        logger.info(
            "signed in %s with Authorization: Bearer abc.def-ghi",
            "ada@example.com",
            extra={"access_token": "tok", "session_cookie": "c00kie", "email": "ada@example.com", "user_id": 7},
        )
    finally:
        logger.removeHandler(handler)

    record = json.loads(stream.getvalue())
    assert record["message"] == f"signed in {REDACTED} with Authorization: Bearer {REDACTED}"
    assert (record["access_token"], record["session_cookie"], record["email"]) == (REDACTED,) * 3
    assert record["user_id"] == 7, "harmless extra fields stay"
    assert "ada@example.com" not in stream.getvalue()
    assert "c00kie" not in stream.getvalue()


def test_a_request_gets_an_id_unless_it_brings_a_well_formed_one(engine) -> None:
    client = TestClient(api)
    kept = client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"]
    made = client.get("/health").headers["x-request-id"]
    forged = client.get("/health", headers={"X-Request-ID": "x" * 200}).headers["x-request-id"]

    assert kept == "abc-123"
    assert len(made) == 32
    assert int(made, 16) >= 0
    assert forged != "x" * 200
    assert len(forged) == 32


def test_logs_are_json_in_production_and_text_elsewhere_unless_set() -> None:
    production = {"env": "production", "secret_key": "s" * 40}
    assert Settings(**production).log_format == "json"
    assert Settings(env="development").log_format == "text"
    assert Settings(**production, log_format="text").log_format == "text"
