"""docker-compose.yml, the Dockerfiles, .env.example and docs/operations.md agree with the code.

No Docker engine runs here, so the files are parsed and checked against what they name: profiles and their services,
`oo` subcommands and their options (click), OO_ settings (oo_app.settings), the ports commands listen on, the routes
health checks probe, the dependencies between services, the images' stages and users, the MLflow auth config. When a
`docker compose` binary is on PATH, compose itself validates the file too.
"""

from __future__ import annotations

import ast
import configparser
import importlib.util
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import sqlalchemy as sa
import yaml
from click.testing import CliRunner
from sqlmodel import SQLModel
from starlette.routing import Match
from starlette.testclient import TestClient

from oo_app.cli import main
from oo_app.db import pending_migrations
from oo_app.llm.aliases import EMBEDDER, JUDGE, TIP_GENERATOR
from oo_app.settings import Settings, embedded_alias_table, get_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
# What compose interpolates: the file without its comment lines.
COMPOSE_VALUES = "\n".join(line for line in COMPOSE_TEXT.splitlines() if not line.lstrip().startswith("#"))
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SETTING_VARS = {f"OO_{name.upper()}" for name in Settings.model_fields}
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
OPERATIONS = ROOT / "docs" / "operations.md"

# core is the base of every deployment: the other profiles add to it, and may depend on its services.
ALWAYS_ON = "core"
PROFILES = {
    "core": {"migrate", "app", "models", "postgres", "redis"},
    "workers": {"worker"},
    "mlops": {"mlflow-postgres", "mlflow", "mlflow-users"},
    "ai": {"ollama", "ollama-pull", "litellm"},
    "admin": {"hub"},
}
OO_IMAGE = "oo-app:latest"
ONE_SHOTS = {"migrate", "mlflow-users", "ollama-pull"}
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])((?:[^{}]|\{[^}]*\})*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY\b|_KEYS\b|TOKEN")


# --- helpers --------------------------------------------------------------------------------------------------------


def _argv(service: dict[str, Any]) -> list[str]:
    """The words a service runs: its command (a shell script under `sh -c` is split like the shell would)."""
    command = service.get("command", [])
    words = shlex.split(command) if isinstance(command, str) else [str(word) for word in command]
    entrypoint = service.get("entrypoint") or []
    if entrypoint[-1:] == ["-c"] and words:
        words = shlex.split(words[0].replace("$$", "$"))
    return words


def _command(service: dict[str, Any]) -> str:
    return " ".join(_argv(service))


def _profile_of(name: str) -> str:
    profiles = SERVICES[name].get("profiles", [])
    assert len(profiles) == 1, f"{name} belongs to exactly one profile, not {profiles}"
    return profiles[0]


def _services_of(profile: str) -> set[str]:
    return {name for name, service in SERVICES.items() if profile in service.get("profiles", [])}


SEPARATORS = {";", "&&", "||", "|"}


def _oo_runs(words: list[str]) -> list[list[str]]:
    """The arguments of every `oo ...` run among shell words: `oo` as the command (first, after a separator, or after
    the compose service it runs in), up to the next separator or redirection."""
    runs: list[list[str]] = []
    current: list[str] | None = None
    for i, word in enumerate(words):
        if word in SEPARATORS or word.startswith((">", "<")):
            current = None
        elif current is not None:
            current.append(word)
        elif word == "oo" and (i == 0 or words[i - 1] in SEPARATORS or words[i - 1] in SERVICES):
            current = []
            runs.append(current)
    return runs


def _parse_oo(args: list[str]) -> click.Command:
    """Resolves `oo ARGS` through the click groups and parses the leaf's options; raises on anything unknown."""
    command: click.Command = main
    path = ["oo"]
    while isinstance(command, click.Group):
        assert args, f"`{' '.join(path)}` needs a subcommand"
        name, args = args[0], args[1:]
        assert name in command.commands, f"`{' '.join(path)}` has no subcommand {name!r}"
        command = command.commands[name]
        path.append(name)
    with command.make_context(" ".join(path), list(args)):  # raises click.UsageError / BadParameter
        pass
    return command


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?message} and $$, enough for this file."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        value = env.get(name, "")
        if operator == ":-":
            return value or _interpolate(argument, env)
        if operator == ":?" and not value:
            raise LookupError(f"{name}: {argument}")
        return value

    return INTERPOLATION.sub(replace, value).replace("$$", "$")


def _container_env(name: str, dotenv: dict[str, str]) -> dict[str, str]:
    """What a service's container gets: the .env file (env_file), then its environment (which wins), interpolated; a
    key without a value takes its value from .env when set there and is left out otherwise."""
    service = SERVICES[name]
    env: dict[str, str] = {}
    if any(str(entry.get("path", entry)) == ".env" for entry in service.get("env_file", [])):
        env.update(dotenv)
    for key, value in (service.get("environment") or {}).items():
        if value is not None:
            env[key] = _interpolate(str(value), dotenv)
        elif key in dotenv:
            env[key] = dotenv[key]
    return env


def _settings_for(name: str, dotenv: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a service's container would build from its environment alone (no .env file inside the image)."""
    for key in list(os.environ):
        if key.startswith("OO_") or key == "REFLEX_REDIS_URL":
            monkeypatch.delenv(key)
    for key, value in _container_env(name, dotenv).items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


def _published(service: dict[str, Any]) -> list[tuple[str | None, int]]:
    """(host address or None, container port) of each published port."""
    found = []
    for mapping in service.get("ports", []):
        parts = str(mapping).split(":")
        found.append((parts[0] if len(parts) == 3 else None, int(parts[-1])))
    return found


def _listens_on(service: dict[str, Any]) -> set[int]:
    words = _argv(service)
    return {
        int(words[i + 1])
        for i, word in enumerate(words[:-1])
        if word in {"--port", "--frontend-port", "--backend-port"} and words[i + 1].isdigit()
    }


def _healthcheck_url(service: dict[str, Any]) -> tuple[int, str] | None:
    test = " ".join(service.get("healthcheck", {}).get("test", []))
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"\s]*)", test)
    return (int(match.group(1)), match.group(2)) if match else None


def _documented(text: str) -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, flags=re.M))


def _dockerfile(path: Path) -> list[tuple[str, str, str]]:
    """(stage, INSTRUCTION, arguments) of a Dockerfile: continuations joined, comment lines dropped."""
    instructions, stage, pending = [], "", ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending = f"{pending} {stripped}" if pending else stripped
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, arguments = pending.partition(" ")
        keyword, pending = keyword.upper(), ""
        if keyword == "FROM":
            stage = re.split(r"\s+[Aa][Ss]\s+", arguments)[-1]
        instructions.append((stage, keyword, arguments.strip()))
    return instructions


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (importing mlflow takes seconds)."""
    return Path(importlib.util.find_spec(name).submodule_search_locations[0])


def _lock_version(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "requirements.lock").read_text(), flags=re.M)
    assert match, f"{package} is not in requirements.lock"
    return match.group(1)


# --- profiles and services ------------------------------------------------------------------------------------------


def test_the_profiles_and_their_services_are_exactly_the_designed_ones() -> None:
    found: dict[str, set[str]] = {}
    for name in SERVICES:
        found.setdefault(_profile_of(name), set()).add(name)
    assert found == PROFILES


def test_every_service_of_the_oo_image_is_built_from_the_dockerfile() -> None:
    built = {name for name, service in SERVICES.items() if service.get("image") == OO_IMAGE}
    assert built == {"migrate", "app", "worker", "hub", "models"}
    for name in built:
        assert SERVICES[name]["build"] == ".", name
    for name in built - {"hub", "models"}:
        assert {"path": ".env", "required": False} in SERVICES[name]["env_file"], f"{name} gets the .env settings"


def test_dependencies_exist_and_lie_in_the_same_or_the_always_on_profile() -> None:
    for name, service in SERVICES.items():
        for target, rule in (service.get("depends_on") or {}).items():
            assert target in SERVICES, f"{name} depends on the unknown service {target}"
            assert _profile_of(target) in {_profile_of(name), ALWAYS_ON}, f"{name} -> {target} crosses profiles"
            condition = rule["condition"]
            if condition == "service_completed_successfully":
                assert target in ONE_SHOTS, f"{target} is a one-shot"
                assert SERVICES[target]["restart"] == "no", f"{target} is a one-shot"
            elif condition == "service_healthy":
                assert "test" in SERVICES[target].get("healthcheck", {}), f"{target} has a health check to wait for"
            else:
                pytest.fail(f"{name} -> {target}: {condition} starts before the target is ready")


def test_migrations_run_once_before_the_app_the_workers_and_the_hub() -> None:
    assert _argv(SERVICES["migrate"]) == ["oo", "migrate"]
    assert SERVICES["migrate"]["environment"]["OO_TASK_ENGINE"] == "procrastinate", "it also creates the queue tables"
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("app", "worker", "hub"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        runs = _oo_runs(_argv(SERVICES[name]))
        assert not [args for args in runs if args[:1] == ["migrate"]], (
            f"{name} leaves migrations to the migrate service"
        )


def test_oo_migrate_creates_the_job_queue_tables_when_the_engine_is_procrastinate(
    postgres_url: str, configure: Callable[..., None]
) -> None:
    """What compose's ``migrate`` service runs, run for real on a fresh PostgreSQL database: the app's tables at
    Alembic's head, then procrastinate's queue tables; a second run finds both there and changes nothing."""
    configure(OO_DATABASE_URL=postgres_url, OO_TASK_ENGINE="procrastinate")

    first = CliRunner().invoke(main, ["migrate"])
    second = CliRunner().invoke(main, ["migrate"])

    assert first.exit_code == 0, first.output
    assert "job queue tables created" in first.output
    assert second.exit_code == 0, second.output
    assert "job queue tables already there" in second.output
    engine = sa.create_engine(postgres_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {table.name for table in SQLModel.metadata.sorted_tables} <= tables, "the app's tables"
    assert "alembic_version" in tables
    assert {"procrastinate_jobs", "procrastinate_events", "procrastinate_periodic_defers"} <= tables, sorted(tables)
    assert pending_migrations(postgres_url) == []


# --- commands, variables, ports -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(n for n, s in SERVICES.items() if s.get("image") == OO_IMAGE))
def test_every_oo_command_in_compose_exists_with_its_options(name: str) -> None:
    words = _argv(SERVICES[name])
    runs = _oo_runs(words)
    assert runs or words[:2] == ["reflex", "run"], f"{name} runs neither oo nor reflex: {words}"
    for args in runs:
        _parse_oo(args)


def test_the_command_parser_rejects_what_does_not_exist() -> None:
    with pytest.raises(AssertionError):
        _parse_oo(["vacuum"])
    with pytest.raises(AssertionError):
        _parse_oo(["integrations", "rotate"])
    with pytest.raises(click.UsageError):
        _parse_oo(["hub", "--bind", "0.0.0.0"])
    with pytest.raises(click.BadParameter):
        _parse_oo(["hub", "--port", "99999"])


def test_every_oo_variable_named_in_compose_is_a_setting() -> None:
    used = set(re.findall(r"\b(OO_[A-Z0-9_]+)", COMPOSE_TEXT))
    assert {"OO_DATABASE_URL", "OO_SECRET_KEY", "OO_TASK_ENGINE", "OO_REDIS_URL"} <= used
    assert used <= SETTING_VARS, f"not settings: {sorted(used - SETTING_VARS)}"


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    interpolated = {match.group(1) for match in INTERPOLATION.finditer(COMPOSE_VALUES)}
    assert interpolated <= _documented(ENV_EXAMPLE), f"undocumented: {sorted(interpolated - _documented(ENV_EXAMPLE))}"


def test_no_secret_has_a_default_and_only_core_requires_one() -> None:
    core_text = json.dumps([SERVICES[name].get("environment") for name in PROFILES[ALWAYS_ON]])
    required = set()
    for match in INTERPOLATION.finditer(COMPOSE_VALUES):
        name, operator, argument = match.groups()
        if SECRET_NAME.search(name) and operator == ":-":
            assert argument == "", f"the secret {name} has the default {argument!r}"
        if operator == ":?":
            required.add(name)
    assert required == {"POSTGRES_PASSWORD", "OO_SECRET_KEY"}
    assert all(f"${{{name}:?" in core_text for name in required), "compose interpolates every profile: core's only"


def test_the_published_ports_are_the_ports_the_commands_listen_on() -> None:
    published = {name: _published(service) for name, service in SERVICES.items() if service.get("ports")}
    assert set(published) == {"app", "mlflow", "hub"}
    for name, ports in published.items():
        assert {port for _, port in ports} == _listens_on(SERVICES[name]), name
    assert [port for _, port in published["app"]] == [get_settings().frontend_port]
    assert published["mlflow"] == [("127.0.0.1", 5000)], "the host's loopback only"
    assert published["hub"] == [("127.0.0.1", 2718)], "the host's loopback only"


def test_the_postgres_url_matches_the_postgres_service() -> None:
    url = COMPOSE["x-oo-env"]["OO_DATABASE_URL"]
    env = SERVICES["postgres"]["environment"]
    assert url.startswith("postgresql+psycopg://")
    assert url.startswith(f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@")
    assert url.endswith(f"@postgres:5432/{env['POSTGRES_DB']}")


def test_env_example_documents_every_setting() -> None:
    documented = {name for name in _documented(ENV_EXAMPLE) if name.startswith("OO_")}
    assert not SETTING_VARS - documented, f"settings missing from .env.example: {sorted(SETTING_VARS - documented)}"
    assert not documented - SETTING_VARS, f".env.example documents no such setting: {sorted(documented - SETTING_VARS)}"


# --- what each container's settings come to -------------------------------------------------------------------------

MINIMAL_DOTENV = {"POSTGRES_PASSWORD": "0123456789abcdef", "OO_SECRET_KEY": "s" * 40}


def test_core_refuses_to_start_without_its_secrets() -> None:
    for missing in MINIMAL_DOTENV:
        dotenv = {key: value for key, value in MINIMAL_DOTENV.items() if key != missing}
        with pytest.raises(LookupError, match=missing):
            _container_env("app", dotenv)


def test_the_app_runs_in_production_on_postgresql_and_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings_for("app", MINIMAL_DOTENV, monkeypatch)
    env = _container_env("app", MINIMAL_DOTENV)
    assert settings.env == "production"
    assert not settings.dev_login_enabled
    assert settings.database_url == "postgresql+psycopg://oo:0123456789abcdef@postgres:5432/oo"
    assert env["REFLEX_REDIS_URL"] == env["OO_REDIS_URL"] == settings.redis_url == "redis://redis:6379/0"
    assert "redis" in SERVICES["app"]["depends_on"]
    assert settings.task_engine == "inprocess", "without the workers profile the app computes agents itself"


def test_the_app_learns_the_task_engine_from_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = {**MINIMAL_DOTENV, "OO_TASK_ENGINE": "procrastinate"}
    assert _settings_for("app", dotenv, monkeypatch).task_engine == "procrastinate"
    assert not _settings_for("app", dotenv, monkeypatch).runs_inprocess_scheduler
    for name in ("worker", "migrate"):
        assert _settings_for(name, MINIMAL_DOTENV, monkeypatch).task_engine == "procrastinate", name
    assert "OO_TASK_ENGINE=procrastinate" in COMPOSE_TEXT.split("name: oo")[0], "the profile header says so"


def test_the_dotenv_settings_reach_the_oo_containers(monkeypatch: pytest.MonkeyPatch) -> None:
    aliases = _documented_aliases(ENV_EXAMPLE, "litellm_proxy/")
    dotenv = {
        **MINIMAL_DOTENV,
        "OO_LLM_ALIASES": json.dumps(aliases),
        "OO_HUB_PASSWORD": "h" * 20,
        "OO_MLFLOW_TRACKING_URI": "http://mlflow:5000",
    }
    for name in ("app", "worker", "hub"):
        settings = _settings_for(name, dotenv, monkeypatch)
        assert settings.llm_aliases == aliases, name
        assert settings.mlflow_tracking_uri == "http://mlflow:5000", name
    assert _settings_for("hub", dotenv, monkeypatch).hub_password.get_secret_value() == "h" * 20


# What the hub reads beyond the core environment: every secret of .env but these stays with the app.
HUB_SECRETS = {"OO_SECRET_KEY", "OO_HUB_PASSWORD", "MLFLOW_TRACKING_PASSWORD"}


def test_the_hub_container_gets_no_secret_it_does_not_need() -> None:
    assert "env_file" not in SERVICES["hub"], "the hub never gets .env whole"
    dotenv = {name: f"value-of-{name}" for name in _documented(ENV_EXAMPLE)} | MINIMAL_DOTENV
    secrets = {name for name in _container_env("hub", dotenv) if SECRET_NAME.search(name)}
    assert secrets == HUB_SECRETS, f"secrets the hub does not read: {sorted(secrets - HUB_SECRETS)}"
    for name in ("OO_TOKEN_KEYS", "OO_VAPID_PRIVATE_KEY", "OO_TODOIST_CLIENT_SECRET", "OO_OIDC_CLIENT_SECRET"):
        assert name in dotenv, f"{name} is documented in .env.example"


def test_the_hub_gets_its_settings_from_dotenv_and_defaults_for_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    dotenv = {
        **MINIMAL_DOTENV,
        "OO_HUB_PASSWORD": "h" * 20,
        "OO_HUB_ALLOWED_HOSTS": "hub.example.org",
        "OO_HUB_TRUSTED_PROXIES": "172.18.0.1",
        "OO_MLFLOW_UI_URL": "https://mlflow.example.org",
    }
    settings = _settings_for("hub", dotenv, monkeypatch)
    assert settings.env == "production"
    assert (settings.hub_allowed_hosts, settings.hub_trusted_proxies) == (["hub.example.org"], ["172.18.0.1"])
    assert settings.mlflow_ui_url == "https://mlflow.example.org"
    unset = _settings_for("hub", MINIMAL_DOTENV, monkeypatch)
    for name in ("hub_operator", "mlflow_tracking_uri"):
        assert getattr(unset, name) == Settings.model_fields[name].default, f"{name}: unset, not empty"


def test_every_oo_service_that_may_write_tips_or_embed_asks_the_models_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The app writes tips, the workers embed (focus-area), the hub's notebooks may do both: each asks the one models
    service (``oo models serve``), at the port its command listens on, instead of loading the models itself."""
    models_url = "http://models:{}".format(*_listens_on(SERVICES["models"]))
    users = {
        name
        for name, service in SERVICES.items()
        if service.get("image") == OO_IMAGE and name not in ONE_SHOTS and name != "models"
    }
    assert users == {"app", "worker", "hub"}
    for name in sorted(users):
        assert _settings_for(name, MINIMAL_DOTENV, monkeypatch).model_server_url == models_url, name


# --- the app: Reflex in production ----------------------------------------------------------------------------------


def test_reflex_reads_its_redis_url_from_the_variable_compose_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    import reflex as rx

    monkeypatch.setenv("REFLEX_REDIS_URL", SERVICES["app"]["environment"]["REFLEX_REDIS_URL"])
    assert rx.Config(app_name="oo_app").redis_url == "redis://redis:6379/0"


def test_redis_starts_with_the_keyspace_notifications_reflex_locks_wait_on() -> None:
    """Reflex turns them on once per worker; a Redis restarted without them leaves contended page locks to expire."""
    from reflex.istate.manager.redis import NOTIFY_KEYSPACE_EVENTS

    command = SERVICES["redis"]["command"]
    flags = command[command.index("--notify-keyspace-events") + 1].replace("$$", "$")
    assert set(NOTIFY_KEYSPACE_EVENTS) <= set(flags), (
        f"compose's Redis sets {flags!r}, Reflex needs {NOTIFY_KEYSPACE_EVENTS!r}"
    )


def test_a_restarted_redis_keeps_its_keyspace_notifications(tmp_path: Path) -> None:
    import redis

    from tests.conftest import service_missing
    from tests.private_services import PrivateRedis, missing_binaries

    if reason := missing_binaries():
        service_missing(reason)
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        server.restart()
        client = redis.Redis.from_url(server.url)
        notified = client.config_get("notify-keyspace-events")["notify-keyspace-events"]
        client.close()
    finally:
        server.stop()
    from reflex.istate.manager.redis import NOTIFY_KEYSPACE_EVENTS

    assert set(NOTIFY_KEYSPACE_EVENTS) - {"K"} <= set(notified), f"after a restart: {notified!r}"


def test_the_app_runs_at_least_two_granian_backend_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from reflex.utils import exec as reflex_exec

    env = _container_env("app", MINIMAL_DOTENV)
    assert int(env["GRANIAN_WORKERS"]) >= 2
    runtime_env = " ".join(arguments for keyword, arguments in _stage("runtime") if keyword == "ENV")
    assert "REFLEX_USE_GRANIAN=true" in runtime_env
    monkeypatch.setenv("REFLEX_USE_GRANIAN", "true")
    assert reflex_exec.should_use_granian(), "otherwise gunicorn runs one process with threads"
    assert "GRANIAN_WORKERS" in inspect.getsource(reflex_exec.run_granian_backend_prod), "Reflex's knob moved"
    assert _argv(SERVICES["app"])[:4] == ["reflex", "run", "--env", "prod"]


def test_prometheus_multiprocess_files_live_on_a_tmpfs() -> None:
    target = SERVICES["app"]["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    mounts = [volume for volume in SERVICES["app"]["volumes"] if isinstance(volume, dict)]
    assert any(mount["type"] == "tmpfs" and mount["target"] == target for mount in mounts)


# --- health checks --------------------------------------------------------------------------------------------------


def test_every_long_running_service_has_a_health_check_or_says_why_not() -> None:
    for name, service in SERVICES.items():
        check = service.get("healthcheck", {})
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
            continue
        assert service["restart"] == "unless-stopped", name
        if name == "worker":
            assert check == {"disable": True}, "a worker has no port; its heartbeat is watched instead"
        else:
            assert check.get("test"), f"{name} has no health check"


def test_the_app_health_check_probes_the_health_route_of_the_api() -> None:
    from oo_app.api import api

    port, path = _healthcheck_url(SERVICES["app"])
    assert port in _listens_on(SERVICES["app"])
    assert path == "/health"
    scope = {"type": "http", "path": path, "method": "GET", "root_path": "", "headers": [], "query_string": b""}
    assert any(route.matches(scope)[0] == Match.FULL for route in api.router.routes), "no GET /health in oo_app.api"


def test_the_hub_health_check_probes_a_page_the_hub_serves_without_login() -> None:
    from oo_app.hub.server import create_app

    port, path = _healthcheck_url(SERVICES["hub"])
    assert port in _listens_on(SERVICES["hub"])
    client = TestClient(
        create_app(Settings(_env_file=None, hub_password="p" * 20)), base_url=f"http://127.0.0.1:{port}"
    )
    assert client.get(path).status_code == 200, "the health check's Host (127.0.0.1) is one the hub answers to"


def test_the_mlflow_and_proxy_health_checks_probe_their_health_routes() -> None:
    port, path = _healthcheck_url(SERVICES["mlflow"])
    assert port in _listens_on(SERVICES["mlflow"])
    source = (_package_dir("mlflow") / "server" / "security_utils.py").read_text()
    health = ast.literal_eval(re.search(r"^HEALTH_ENDPOINTS = (\[.*?\])$", source, flags=re.M).group(1))
    assert path in health, "MLflow answers it whatever the Host header (exempt from its host check)"
    port, path = _healthcheck_url(SERVICES["litellm"])
    assert port in _listens_on(SERVICES["litellm"])
    assert path == "/health/liveliness"


# --- workers and hub ------------------------------------------------------------------------------------------------


def test_the_workers_are_several_replicas_of_oo_worker_on_procrastinate() -> None:
    worker = SERVICES["worker"]
    assert _argv(worker) == ["oo", "worker"]
    assert worker["environment"]["OO_TASK_ENGINE"] == "procrastinate"
    replicas = re.fullmatch(r"\$\{WORKER_REPLICAS:-(\d+)\}", str(worker["deploy"]["replicas"]))
    assert replicas
    assert int(replicas.group(1)) >= 2
    assert "container_name" not in worker, "replicas need compose's own names"


def test_the_hub_listens_beyond_loopback_only_by_the_flag_oo_hub_requires() -> None:
    from oo_app.loopback import is_loopback

    hub = SERVICES["hub"]
    words = _argv(hub)
    host = words[words.index("--host") + 1]
    assert words[:2] == ["oo", "hub"]
    assert not is_loopback(host), "inside a container it must listen on all interfaces"
    assert hub["environment"]["OO_HUB_PASSWORD"] == "${OO_HUB_PASSWORD:-}", "its password comes from .env"
    assert hub["environment"]["OO_DATABASE_URL"] == COMPOSE["x-oo-env"]["OO_DATABASE_URL"], "the app's database"


# --- mlops: MLflow with basic auth ----------------------------------------------------------------------------------

AUTH_INI = ROOT / "deploy" / "mlflow" / "basic_auth.ini"


def _binds(name: str) -> dict[str, Path]:
    mounts = [str(volume).split(":") for volume in SERVICES[name].get("volumes", []) if isinstance(volume, str)]
    return {target: ROOT / source for source, target, *_ in mounts if source.startswith("./")}


def test_mlflow_runs_basic_auth_with_the_repo_config_and_no_password_in_it() -> None:
    mlflow = SERVICES["mlflow"]
    words = _argv(mlflow)
    assert words[:2] == ["mlflow", "server"]
    assert words[words.index("--app-name") + 1] == "basic-auth"
    config_path = mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"]
    assert _binds("mlflow")[config_path] == AUTH_INI
    assert AUTH_INI.is_file()
    config = configparser.ConfigParser()
    config.read(AUTH_INI)
    assert "admin_password" not in config["mlflow"], "the admin password comes from the environment"
    assert "password" not in AUTH_INI.read_text().lower().replace("admin_password", "").split("[mlflow]")[1]
    assert mlflow["environment"]["MLFLOW_AUTH_ADMIN_PASSWORD"] == "${MLFLOW_ADMIN_PASSWORD:-}"
    assert not re.search(r"://[^/@]*:[^/@]*@", config["mlflow"]["database_uri"]), "no password in the store URL"
    assert SERVICES["mlflow-users"]["environment"]["MLFLOW_TRACKING_USERNAME"] == config["mlflow"]["admin_username"]


def test_mlflow_has_its_own_postgresql_with_both_stores_and_an_artifacts_volume() -> None:
    mlflow, database = SERVICES["mlflow"], SERVICES["mlflow-postgres"]
    words = _argv(mlflow)
    env = database["environment"]
    backend = words[words.index("--backend-store-uri") + 1]
    assert backend == f"postgresql+psycopg://{env['POSTGRES_USER']}@mlflow-postgres:5432/{env['POSTGRES_DB']}"
    config = configparser.ConfigParser()
    config.read(AUTH_INI)
    auth_database = config["mlflow"]["database_uri"].rsplit("/", 1)[1]
    assert config["mlflow"]["database_uri"].startswith(f"postgresql+psycopg://{env['POSTGRES_USER']}@mlflow-postgres:")
    initdb = _binds("mlflow-postgres")["/docker-entrypoint-initdb.d"]
    assert any(f"CREATE DATABASE {auth_database};" in path.read_text() for path in initdb.glob("*.sql"))
    assert mlflow["environment"]["PGPASSWORD"] == env["POSTGRES_PASSWORD"] == "${MLFLOW_POSTGRES_PASSWORD:-}"
    assert "--serve-artifacts" in words
    destination = words[words.index("--artifacts-destination") + 1]
    assert f"mlflow-artifacts:{destination}" in mlflow["volumes"]
    assert "mlflow-artifacts" in COMPOSE["volumes"]
    assert "mlflow-postgres-data" in COMPOSE["volumes"]


def test_the_mlflow_image_is_the_apps_mlflow_with_auth_and_non_root() -> None:
    dockerfile = _dockerfile(ROOT / "deploy" / "mlflow" / "Dockerfile")
    args = {
        arguments.split("=")[0]: arguments.split("=", 1)[1] for _, keyword, arguments in dockerfile if keyword == "ARG"
    }
    assert args["MLFLOW_VERSION"] == _lock_version("mlflow"), "server and client in step"
    installs = " ".join(arguments for _, keyword, arguments in dockerfile if keyword == "RUN")
    assert '"mlflow[auth]==${MLFLOW_VERSION}"' in installs
    assert "psycopg[binary]" in installs
    user = [arguments for _, keyword, arguments in dockerfile if keyword == "USER"][-1]
    assert user.split(":")[0] not in {"root", "0"}
    assert SERVICES["mlflow"]["build"] == SERVICES["mlflow-users"]["build"] == "./deploy/mlflow"


def test_the_app_account_script_gets_what_it_reads() -> None:
    script = _binds("mlflow-users")
    (target, source), *_ = script.items()
    assert _argv(SERVICES["mlflow-users"]) == ["python", target]
    read = set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', source.read_text()))
    ast.parse(source.read_text())
    assert read <= set(SERVICES["mlflow-users"]["environment"]), read
    env = SERVICES["mlflow-users"]["environment"]
    assert env["APP_USERNAME"] == "${MLFLOW_TRACKING_USERNAME:-}", "the account the app's MLflow client logs in with"
    assert env["APP_PASSWORD"] == "${MLFLOW_TRACKING_PASSWORD:-}"


def test_the_apps_mlflow_credentials_are_the_names_mlflow_reads() -> None:
    source = (_package_dir("mlflow") / "environment_variables.py").read_text()
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        assert f'_EnvironmentVariable("{name}"' in source
        assert f"# {name}=" in ENV_EXAMPLE


# --- the app image --------------------------------------------------------------------------------------------------

APP_DOCKERFILE = _dockerfile(ROOT / "Dockerfile")


def _stage(name: str) -> list[tuple[str, str]]:
    return [(keyword, arguments) for stage, keyword, arguments in APP_DOCKERFILE if stage == name]


def test_the_dockerfile_has_its_stages_and_ends_with_the_runtime() -> None:
    stages = [stage for stage, keyword, _ in APP_DOCKERFILE if keyword == "FROM"]
    assert stages == ["bun", "build", "runtime"]
    assert APP_DOCKERFILE[-1][0] == "runtime", "the default target is the runtime image"


def test_bun_comes_from_the_npm_registry_in_the_version_of_the_scripts() -> None:
    bun = dict(_stage("bun"))
    version = re.search(r'BUN_VERSION="([\d.]+)"', (ROOT / "scripts" / "_env.sh").read_text()).group(1)
    assert any(f"BUN_VERSION={version}" == arguments for keyword, arguments in _stage("bun") if keyword == "ARG")
    assert 'npm install --prefix /opt/tools --no-audit --no-fund "bun@${BUN_VERSION}"' in bun["RUN"]


def test_the_frontend_is_built_at_image_build_time() -> None:
    build = " ".join(arguments for keyword, arguments in _stage("build") if keyword == "RUN")
    assert "reflex export --frontend-only --no-zip" in build
    assert "REFLEX_BUN_PATH=/opt/tools/node_modules/bun/bin/bun.exe" in " ".join(a for k, a in _stage("build"))


def test_python_packages_install_from_the_lock_with_the_cpu_torch_and_portable_llama_cpp() -> None:
    build = " ".join(arguments for keyword, arguments in _stage("build"))
    assert "https://download.pytorch.org/whl/cpu" in build
    assert "--no-deps -r /tmp/requirements.txt" in build
    assert _lock_version("torch").endswith("+cpu")
    cmake = re.search(r'CMAKE_ARGS="([^"]+)"', (ROOT / "scripts" / "_env.sh").read_text()).group(1)
    assert f'CMAKE_ARGS="{cmake}"' in build, "the same flags as the developers' build (no AMX)"


def test_the_image_carries_its_modules_compiled_as_the_scripts_install_them() -> None:
    """The runtime user cannot write into /opt/venv: without bytecode built in, each worker compiles what it imports
    at every start (3.8 s of CPU for the web app, 1.9 s compiled)."""
    build = " ".join(arguments for keyword, arguments in _stage("build"))
    assert "UV_COMPILE_BYTECODE=1" in build
    assert "python -m compileall -q -j 0 oo_app agents alembic" in build
    assert "--compile-bytecode" in (ROOT / "scripts" / "_env.sh").read_text(), "the developers' install does too"


def test_the_runtime_is_non_root_lean_and_serves_as_compose_does() -> None:
    runtime = _stage("runtime")
    users = [arguments for keyword, arguments in runtime if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    user_id = users[-1].split(":")[0]
    assert f"--uid {user_id}" in " ".join(a for k, a in runtime if k == "RUN")
    apt = " ".join(arguments for keyword, arguments in runtime if keyword == "RUN")
    assert "libgomp1" in apt, "llama.cpp's OpenMP runtime"
    for absent in ("build-essential", "cmake", "nodejs", "npm"):
        assert absent not in apt.split(), f"{absent} stays in the build stage"
    entrypoint = json.loads(dict(runtime)["ENTRYPOINT"])
    assert entrypoint == ["tini", "--"]
    command = json.loads(dict(runtime)["CMD"])
    assert command == _argv(SERVICES["app"]), "docker run and compose serve alike"
    healthcheck = dict(runtime)["HEALTHCHECK"]
    assert "http://127.0.0.1:3000/health" in healthcheck
    assert "--frontend-port 3000" in " ".join(command)
    for name in ("migrate", "worker"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}, f"{name} replaces the image's HTTP check"


def test_the_build_context_keeps_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".venv", "data", ".web", ".git"} <= ignored
    assert "!tests/personas" in ignored, "oo bench models and oo simulate read them"


# --- docs/operations.md ---------------------------------------------------------------------------------------------


def _code_snippets(text: str) -> list[str]:
    fenced = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.M | re.S)
    rest = re.sub(r"^```[a-z]*\n.*?^```", "", text, flags=re.M | re.S)
    lines = [line for block in fenced for line in block.replace("\\\n", " ").splitlines()]
    return lines + re.findall(r"`([^`\n]+)`", rest)


def test_every_oo_command_in_the_operations_doc_exists() -> None:
    runs = []
    for snippet in _code_snippets(OPERATIONS.read_text()):
        if re.search(r"(^|\s)oo\s", snippet):
            runs.extend(_oo_runs(shlex.split(snippet, comments=True)))
    for args in runs:
        _parse_oo(args)
    named = {" ".join(args[:2]) for args in runs}
    assert {"migrate", "integrations generate-key", "integrations rotate-keys", "push generate-vapid"} <= named
    assert {"purge --dry-run", "purge", "privacy finish-deletions"} <= named, "retention and deletions are documented"
    assert len(runs) >= 8


def test_the_operations_doc_covers_every_profile_and_every_retention_setting() -> None:
    from sqlmodel import SQLModel

    import oo_app.models  # noqa: F401  (registers the tables)

    text = OPERATIONS.read_text()
    for profile in PROFILES:
        assert f"`{profile}`" in text, profile
    statements = re.findall(r"DELETE FROM\s+(\w+)(?:\s+WHERE\s+(\w+))?", text)  # across a wrapped line too
    assert len(statements) >= 2, f"the doc's SQL for a key rotation is found and checked: {statements}"
    for table, column in statements:
        assert table in SQLModel.metadata.tables, table
        assert not column or column in SQLModel.metadata.tables[table].columns, f"{table}.{column}"
    retention = {name for name in SETTING_VARS if name.startswith("OO_RETENTION_")}
    assert retention, "no retention settings?"
    assert [name for name in sorted(retention) if f"`{name}`" not in text] == [], "a retention setting is undocumented"


# --- compose itself, when a binary is here --------------------------------------------------------------------------


def _compose_binary() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return [found] if (found := shutil.which("docker-compose")) else None


@pytest.mark.skipif(_compose_binary() is None, reason="no docker compose binary on PATH")
def test_docker_compose_accepts_the_file_with_every_profile(tmp_path: Path) -> None:
    env_file = tmp_path / "compose.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in MINIMAL_DOTENV.items()))
    base = [*_compose_binary(), "--project-directory", str(ROOT), "-f", str(ROOT / "docker-compose.yml")]
    profiles = [word for profile in PROFILES for word in ("--profile", profile)]
    ok = subprocess.run([*base, "--env-file", str(env_file), *profiles, "config", "-q"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bare = subprocess.run([*base, "--env-file", "/dev/null", *profiles, "config", "-q"], capture_output=True, text=True)
    assert bare.returncode != 0
    assert "POSTGRES_PASSWORD" in bare.stderr + bare.stdout


# --- profile ai: Ollama behind the LiteLLM proxy ----------------------------------------------------------------------

PROXY_CONFIG_PATH = ROOT / "deploy" / "litellm" / "config.yaml"
PROXY_CONFIG = yaml.safe_load(PROXY_CONFIG_PATH.read_text())
PROXY_MODEL_NAMES = {entry["model_name"] for entry in PROXY_CONFIG["model_list"]}


def _env_names(node: object) -> set[str]:
    """Every NAME of an ``os.environ/NAME`` value anywhere in a parsed YAML document."""
    if isinstance(node, str):
        return {node.removeprefix("os.environ/")} if node.startswith("os.environ/") else set()
    if isinstance(node, dict):
        return set().union(*(_env_names(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_env_names(value) for value in node))
    return set()


def _documented_aliases(text: str, model_prefix: str) -> dict:
    """The ``OO_LLM_ALIASES=...`` example of a file whose ``tip-generator`` model starts with ``model_prefix``."""
    for value in re.findall(r"^#\s*OO_LLM_ALIASES=(.+)$", text, flags=re.M):
        aliases = json.loads(value)
        if aliases["tip-generator"][0]["model"].startswith(model_prefix):
            return aliases
    raise AssertionError(f"no OO_LLM_ALIASES example with a {model_prefix} tip-generator")


def test_ai_profile_runs_ollama_behind_the_litellm_proxy() -> None:
    assert _services_of("ai") == {"ollama", "ollama-pull", "litellm"}
    assert SERVICES["ollama"]["image"].startswith("ollama/ollama")
    assert SERVICES["litellm"]["image"].startswith("ghcr.io/berriai/litellm:")
    assert "healthcheck" in SERVICES["ollama"]
    assert "/health/liveliness" in " ".join(SERVICES["litellm"]["healthcheck"]["test"])
    assert SERVICES["ollama-pull"]["depends_on"]["ollama"]["condition"] == "service_healthy"
    assert SERVICES["litellm"]["depends_on"]["ollama-pull"]["condition"] == "service_completed_successfully"
    assert any(volume.endswith(":/root/.ollama") for volume in SERVICES["ollama"]["volumes"]), "models persist"


def test_the_proxy_serves_every_alias_the_app_uses() -> None:
    used = {TIP_GENERATOR, EMBEDDER, JUDGE} | {
        alias for alias in embedded_alias_table("rules") if not alias.endswith("-fallback")
    }
    assert used <= PROXY_MODEL_NAMES, f"aliases the proxy does not serve: {used - PROXY_MODEL_NAMES}"
    assert PROXY_CONFIG["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"


def test_every_environment_name_of_the_proxy_config_is_provided_by_compose() -> None:
    names = _env_names(PROXY_CONFIG)
    assert "LITELLM_MASTER_KEY" in names
    provided = set(SERVICES["litellm"]["environment"])
    assert names <= provided, f"not set on the litellm service: {names - provided}"


def test_the_mounted_proxy_config_is_the_repo_file() -> None:
    binds = _binds("litellm")
    assert binds["/app/config.yaml"] == PROXY_CONFIG_PATH
    assert all(path.is_file() for path in binds.values())
    assert "--config /app/config.yaml" in _command(SERVICES["litellm"])


def test_ollama_pull_pulls_every_model_the_proxy_names() -> None:
    pulled = set(SERVICES["ollama-pull"]["environment"]["MODELS"].split())
    named = set()
    for entry in PROXY_CONFIG["model_list"]:
        provider, _, model = entry["litellm_params"]["model"].partition("/")
        assert provider in {"ollama", "ollama_chat"}, entry
        assert entry["litellm_params"]["api_base"] == "http://ollama:11434"
        named.add(model)
    assert named == pulled
    assert "$${MODELS}" in SERVICES["ollama-pull"]["command"][0]


def test_the_documented_proxy_aliases_reach_the_litellm_service(monkeypatch: pytest.MonkeyPatch) -> None:
    compose_example = _documented_aliases(COMPOSE_TEXT, "litellm_proxy/")
    assert compose_example == _documented_aliases(ENV_EXAMPLE, "litellm_proxy/")
    port = re.search(r"--port (\d+)", _command(SERVICES["litellm"])).group(1)
    for alias, deployments in compose_example.items():
        for deployment in deployments:
            if alias.endswith("-fallback"):
                assert deployment["model"].startswith("oo-rules/"), "fallbacks stay in the app, offline"
                continue
            assert deployment["model"] == f"litellm_proxy/{alias}"
            assert alias in PROXY_MODEL_NAMES
            assert deployment["api_base"] == f"http://litellm:{port}"
            assert deployment["api_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert compose_example["tip-generator-fallback"] == [{"model": "oo-rules/composer"}]
    # The app's Router reads the key from its environment: .env reaches the app whole.
    dotenv = {**MINIMAL_DOTENV, "LITELLM_MASTER_KEY": "sk-test", "OO_LLM_ALIASES": json.dumps(compose_example)}
    assert _container_env("app", dotenv)["LITELLM_MASTER_KEY"] == "sk-test"
    assert "# LITELLM_MASTER_KEY=" in ENV_EXAMPLE
    assert _settings_for("app", dotenv, monkeypatch).alias_table == compose_example


def test_without_aliases_in_dotenv_the_app_keeps_the_embedded_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _settings_for("app", MINIMAL_DOTENV, monkeypatch).llm_aliases is None
